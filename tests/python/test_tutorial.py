"""The guppy/heapy tutorial (the user's story), step by step, on the bundled
demo's package repository: every step works with heapy's spelling and
gives what the heap holds by construction."""

import sys
import unittest

import heapscope
from heapscope import demo

PY311 = sys.version_info >= (3, 11)
PKG = 'heapscope.demo.Package'
# how a Package refers to its attributes' values: its dict before 3.11,
# managed or inline values after
OWNER = PKG if PY311 else 'dict of ' + PKG


def attr(name):
    return "'.%s'" % name if PY311 else '"[%r]"' % name


class TestTutorial(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.hp = heapscope.hpy()
        cls.hp.setrelheap()
        cls.repo = demo.Repository().load(2000)
        cls.h = cls.hp.heap()

    @classmethod
    def tearDownClass(cls):
        del cls.h, cls.repo, cls.hp

    def rows(self, s):
        p = s.partition
        return [p._row(i)[0] for i in range(len(p))]

    def test_heap_and_its_rows(self):
        h = self.h
        lines = str(h).splitlines()
        self.assertRegex(lines[0], r'^Partition of a set of \d+ objects\. '
                                   r'Total size = \d+ bytes\.$')
        self.assertEqual(lines[1], ' Index  Count   %     Size   % '
                                   'Cumulative  % Kind (class / dict of '
                                   'class)')
        self.assertEqual(self.rows(h.byclodo)[0], 'str')
        self.assertEqual(str(h[0]).splitlines()[2].split()[-1], 'str')
        self.assertIn('dict (no owner)', self.rows(h.byclodo))
        self.assertIn(PKG, self.rows(h.byclodo))
        self.assertEqual((h & self.hp.Type(demo.Package)).count, 2000)
        self.assertIn('dict', self.rows(h.bytype))

    def test_byrcs_and_the_cpv_strings(self):
        hp, h = self.hp, self.h
        byrcs = h.byrcs
        self.assertTrue(str(byrcs).splitlines()[1].endswith(
            'Referrers by Kind (class / dict of class)'))
        # a package's name is held by its owner, by the weak cache's
        # dict as a key and by the cache's KeyedRef (.key); every fourth
        # also by an Atom
        labels = self.rows(byrcs)
        want = ', '.join(sorted(['dict (no owner)', OWNER,
                                 'weakref.KeyedRef']))
        self.assertIn(want, labels)
        cpvs = byrcs[labels.index(want)]
        self.assertEqual(cpvs.count, 1500)
        self.assertEqual(self.rows(cpvs.byclodo), ['str'])
        self.assertIn('Individual Size', str(cpvs.bysize))
        one = cpvs.byid[0].theone
        self.assertIn(one, [p.cpvstr for p in self.repo.packages])
        # each is held as .cpvstr, .key and a key of the cache's dict
        via = cpvs.byvia
        self.assertEqual(len(via.partition), 1500)
        row = via._row(0)[0]
        self.assertIn(attr('cpvstr'), row)
        self.assertIn("'.key'", row)
        self.assertIn('.keys()[', row)
        # nothing is held only as .key, everything is held other ways too
        self.assertEqual(str(cpvs & hp.Via('.key').alt('<')), 'hp.Nothing')
        self.assertEqual((cpvs & ~hp.Via('.key')).count, cpvs.count)
        # a row still groups its items by the kind of their referrers
        self.assertTrue(str(cpvs).splitlines()[1].endswith(
            'Referrers by Kind (class / dict of class)'))
        self.assertEqual(self.rows(cpvs), [want])
        self.assertEqual(cpvs, cpvs.byclodo)
        # and the view is the set: algebra, relations, the other views
        self.assertEqual(len(byrcs), h.count)
        self.assertTrue(byrcs == h)
        self.assertEqual(byrcs & hp.Type(str), h[0])
        self.assertEqual(cpvs.bysize.count, 1500)
        # the same row of the strings alone is the same set
        h0r = h[0].byrcs
        same = h0r[self.rows(h0r).index(want)]
        self.assertEqual(str(same ^ cpvs), 'hp.Nothing')

    def test_referrers_domisize_byvia_referents(self):
        h = self.h
        h0r = h[0].byrcs
        top = self.rows(h0r)[0]
        # the most strings are held by dicts and nothing else: the data
        # dicts' values
        self.assertEqual(top, 'dict (no owner)')
        t = h0r[0].referrers.byrcs
        self.assertEqual(self.rows(t)[0], OWNER)
        datas = t[0]
        self.assertEqual(datas.count, 2000)
        # freeing the data dicts frees them and all they alone hold
        self.assertGreater(datas.domisize, datas.size)
        self.assertEqual(self.rows(datas.byvia), [attr('data')])
        refs = datas.referents
        kinds = self.rows(refs.byclodo)
        self.assertEqual(kinds[0], 'str')
        self.assertIn('dict (no owner)', kinds)     # the _eclasses_ dicts
        vias = self.rows(refs.byvia)
        self.assertIn("\"['_eclasses_']\"", vias)
        self.assertIn("\"['DESCRIPTION']\"", vias)
        # the keys: shared strings, one per field, held at one position
        keyrows = [i for i, v in enumerate(vias) if v.startswith("'.keys()[")]
        self.assertTrue(keyrows)
        k = refs.byvia[keyrows[0]]
        names = set(k.nodes)
        self.assertEqual(len(names), 1)
        self.assertIn(names.pop(), demo.FIELDS + ('_eclasses_',))

    def test_paths_and_reference_pattern(self):
        hp = self.hp
        sp = str(hp.iso(self.repo.packages[123].data).sp)
        self.assertTrue(sp.startswith(' 0: hpy().Root.'), sp)
        # an attribute is a step through the instance's dict before 3.11
        self.assertIn(".packages[123]" if PY311
                      else ".__dict__['packages'][123]", sp)
        self.assertTrue(sp.endswith(".data" if PY311
                                    else ".__dict__['data']"), sp)
        rp = str(hp.iso(self.repo.packages[123].data).rp)
        self.assertTrue(rp.startswith('Reference Pattern by <[dict of] '
                                      'class>.'))
        self.assertIn(' 1: a ', rp)


if __name__ == '__main__':
    unittest.main()
