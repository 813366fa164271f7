"""Extensions that describe their types to heapy (NyHeapDef) are described
to heapscope too: size, traverse and relate, end to end, with the test
extension tests/ext/hdtest.c that make check builds."""

import sys
import unittest

import heapscope

try:
    import _hdtest
except ImportError:             # run outside make check
    _hdtest = None


@unittest.skipIf(_hdtest is None, 'the _hdtest extension is not built')
class TestHeapDef(unittest.TestCase):

    def setUp(self):
        self.hp = heapscope.hpy()
        self.hp.setrelheap()
        # a str only the blob holds, and only its heapdef traverse tells
        self.blob = _hdtest.Blob(100000, ''.join(['sec', 'ret-%d' % id(self)]),
                                 ['shown'])

    def tearDown(self):
        del self.blob

    def test_size_from_the_size_getter(self):
        blob = self.blob
        h = self.hp.heap()
        s = h & self.hp.Type(_hdtest.Blob)
        self.assertEqual(s.count, 1)
        # the object with its GC header, plus the private buffer
        self.assertEqual(s.size, sys.getsizeof(blob) + 100000 + 1)

    def test_traverse_finds_what_tp_traverse_hides(self):
        h = self.hp.heap()
        secrets = [o for o in (h & self.hp.Type(str))
                   if o.startswith('secret-%d' % id(self))]
        self.assertEqual(len(secrets), 1)
        s = self.hp.iso(secrets[0])
        holders = s.referrers & self.hp.Type(_hdtest.Blob)
        self.assertIs(holders.theone, self.blob)
        self.assertIn('_hdtest.Blob', str(s.byrcs))

    def test_relate_names(self):
        h = self.hp.heap()
        held = (h & self.hp.Type(str)).byvia
        labels = [held._row(i)[0] for i in range(len(held))]
        self.assertIn("'.secret'", labels)
        shown = (h & self.hp.Type(list)).byvia
        labels = [shown._row(i)[0] for i in range(len(shown))]
        self.assertIn("'->shown'", labels)

    def test_dominated_includes_the_secret(self):
        blob = self.blob
        d = self.hp.iso(blob).domisize
        # the blob, its buffer, the secret str and the shown list
        self.assertGreater(d, sys.getsizeof(blob) + 100000 + 1 + 40)


if __name__ == '__main__':
    unittest.main()
