"""The heapy-compatible API: hpy(), the mark, sets, partitions, kinds, and
tables printed column for column as heapy prints them."""

import gc
import re
import sys
import unittest

import heapscope
from heapscope import _heapscope as C


class Pkg(object):
    def __init__(self, i):
        self.name = 'pkg-%06d' % i
        self.data = {'DESCRIPTION': 'description of %d' % i,
                     'SLOT': str(i % 3)}


class Slotted(object):
    __slots__ = ('key',)

    def __init__(self, key):
        self.key = key


ROW = re.compile(r'^ {0,5}\d+ [ \d]{6} [ \d]{3} [ \d]{8} [ \d]{3} [ \d]{9} '
                 r'[ \d]{3} \S')


class TestSession(unittest.TestCase):

    def setUp(self):
        self.hp = heapscope.hpy()
        self.hp.setrelheap()
        self.pkgs = [Pkg(i) for i in range(500)]
        self.atoms = [Slotted('atom-%d' % i) for i in range(100)]

    def tearDown(self):
        del self.pkgs, self.atoms, self.hp
        gc.collect()

    def test_heap_is_relative_to_mark(self):
        h = self.hp.heap()
        objs = set(map(id, h))
        for p in self.pkgs:
            self.assertIn(id(p), objs)
            self.assertIn(id(p.data), objs)
            self.assertIn(id(p.name), objs)
        # nothing that existed at the mark
        self.assertNotIn(id(sys.modules), objs)
        self.assertNotIn(id(Pkg), objs)
        self.assertIn(self.pkgs[0], h)
        self.assertNotIn(sys, h)

    def test_reused_address_of_another_type_is_new(self):
        class P(object):
            __slots__ = ('a',)

        class Q(object):
            __slots__ = ('a',)
        hp = heapscope.hpy()
        p = P()
        addr = id(p)
        hp.setrelheap()
        del p
        q = Q()      # nothing allocated in between: the block is reused
        if id(q) != addr:
            self.skipTest('allocator did not reuse the address')
        h = hp.heap()
        self.assertIn(q, h)
        p2 = P()
        self.assertIn(p2, hp.heap())

    def test_counts_and_sizes(self):
        h = self.hp.heap()
        self.assertEqual(len(h), h.count)
        pk = h & self.hp.Type(Pkg)
        self.assertEqual(pk.count, 500)
        self.assertEqual(pk.size, sum(C.sizeof(p) for p in self.pkgs))
        self.assertEqual(h.size, sum(C.sizeof(o) for o in h))

    def test_default_partition_is_clodo(self):
        h = self.hp.heap()
        text = str(h)
        lines = text.splitlines()
        self.assertRegex(lines[0], r'^Partition of a set of \d+ objects\. '
                                   r'Total size = \d+ bytes\.$')
        self.assertEqual(lines[1], ' Index  Count   %     Size   % '
                                   'Cumulative  % Kind (class / dict of class)')
        rows = [l for l in lines[2:] if not l.startswith('<')]
        self.assertTrue(all(ROW.match(r) or r.startswith(' ' * 45)
                            for r in rows), rows)
        labels = [r[45:] for r in rows]
        self.assertIn('test_api.Pkg', labels)
        self.assertIn('test_api.Slotted', labels)
        self.assertIn('dict (no owner)', labels)
        if sys.version_info < (3, 11):
            self.assertIn('dict of test_api.Pkg', labels)
        rows = len(h.partition)
        if rows > 11:
            self.assertEqual(lines[-1], "<%d more rows. Type e.g. '_.more' "
                                        "to view.>" % (rows - 10))
        self.assertEqual(repr(h), text)

    def test_row_sets_and_totals(self):
        h = self.hp.heap()
        p = h.byclodo
        self.assertEqual(sum(s.count for s in p.sets), h.count)
        self.assertEqual(sum(s.size for s in p.sets), h.size)
        sizes = [s.size for s in p.sets]
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        self.assertEqual(h[0], p.sets[0])
        self.assertEqual(h[0:2], p.sets[0] | p.sets[1])
        with self.assertRaises(IndexError):
            h[len(p.partition)]
        self.assertEqual(h[-1], p.sets[-1])
        # a partition of one row: that row is the set (shared, not copied)
        one = h[0]
        self.assertEqual(len(one.byclodo.partition), 1)
        self.assertEqual(one[0], one)
        self.assertEqual(one[-1], one)
        self.assertEqual(one[0].byclodo[0].count, one.count)
        with self.assertRaises(IndexError):
            one[1]

    def test_slices_of_partitions(self):
        h = self.hp.heap()
        for p in (h.byclodo, h.bysize, h.byid):
            n = len(p.partition)
            for sl in (slice(0, 3), slice(1, n, 2), slice(None, None, -3),
                       slice(n - 2, 0, -1), slice(5, 5), slice(-4, None)):
                want = self.hp.Nothing
                for k in range(*sl.indices(n)):
                    want = want | p[k]
                got = p[sl]
                self.assertEqual(got, want, (p, sl))
                self.assertEqual(got.count, want.count)
        # byid: a row per object, largest first; a slice of it is quick
        b = h.byid
        self.assertEqual(len(b.partition), h.count)
        self.assertEqual(b[0].count, 1)
        self.assertEqual(b[0].size, max(b[k].size for k in range(50)))
        self.assertEqual(b[0:len(b)], h)
        self.assertEqual(b[0:1000].count, min(1000, h.count))

    def test_bytype_bysize_byunity(self):
        h = self.hp.heap()
        t = str(h.bytype).splitlines()
        self.assertTrue(t[1].endswith('% Type'))
        self.assertTrue(any(l.endswith(' dict') for l in t))
        s = h.bysize
        self.assertTrue(str(s).splitlines()[1].endswith('% Individual Size'))
        for i in range(len(s.partition)):
            row = s[i]
            sizes = {C.sizeof(o) for o in row}
            self.assertEqual(len(sizes), 1)
        u = h.byunity
        self.assertEqual(len(u.partition), 1)
        self.assertEqual(u[0], h)

    def test_bymodule(self):
        h = self.hp.heap()
        m = h.bymodule
        text = str(m)
        self.assertIn('test_api', text)
        self.assertEqual(sum(s.count for s in m.sets), h.count)
        mods = h & self.hp.Module('test_api')
        self.assertEqual(mods.count, 600)

    def test_byid_and_theone(self):
        strs = self.hp.heap() & self.hp.Type(str)
        b = strs.byid
        lines = str(b).splitlines()
        self.assertRegex(lines[0], r'^Set of \d+ <str> objects\. Total size = '
                                   r'\d+ bytes\.$')
        self.assertEqual(lines[1], ' Index     Size   %   Cumulative  %   '
                                   'Representation (limited)')
        self.assertRegex(lines[2], r"^     0 [ \d]{8} [ \d.]{5} [ \d]{9} "
                                   r"[ \d.]{5} '")
        one = b[0].theone
        self.assertIsInstance(one, str)
        self.assertEqual(C.sizeof(one), b[0].size)
        self.assertEqual(b[0].size, max(C.sizeof(o) for o in strs))
        with self.assertRaises(AttributeError) as cm:
            strs.theone
        self.assertIn('exactly one', str(cm.exception))

    def test_repr_limited(self):
        long = 'media-plugins/vdr-streamdev-server-0.3.3_pre20051219-r1'
        self.assertEqual(heapscope.safe_repr(long, 30),
                         "'media-plugin...re20051219-r1'")
        # a long string's two ends, and nothing after its closing quote
        self.assertEqual(heapscope.safe_repr('a' * 3000 + 'b' * 3000, 30),
                         "'aaaaaaaaaaaa...bbbbbbbbbbbbb'")
        self.assertEqual(heapscope.safe_repr(b'a' * 3000 + b'b' * 3000, 30),
                         "b'aaaaaaaaaaa...bbbbbbbbbbbbb'")

    def test_repr_names_functions(self):
        def local_function():
            pass
        r = heapscope.safe_repr(local_function)
        self.assertTrue(r.startswith('<function TestSession.'
                                     'test_repr_names_functions.<locals>.'
                                     'local_function at 0x'), r)
        self.assertEqual(heapscope.safe_repr(len), '<built-in function len>')

    def test_set_algebra(self):
        hp = self.hp
        h = hp.heap()
        a, b = h[0], h[1]
        self.assertEqual((a | b) - b, a)
        self.assertEqual(str(a ^ a), 'hp.Nothing')
        self.assertEqual((a & b).count, 0)
        self.assertTrue(a <= h and a < h and not h < h and h <= h)
        self.assertTrue(h >= a and h > a)
        self.assertEqual(a ^ b, a | b)
        self.assertEqual(((~a) & h), h - a)
        self.assertEqual(str(hp.Nothing), 'hp.Nothing')
        self.assertEqual(hp.Nothing.count, 0)
        with self.assertRaises(TypeError):
            hash(h)

    def test_kinds(self):
        hp = self.hp
        h = hp.heap()
        strs = h & hp.Type(str)
        self.assertTrue(all(type(o) is str for o in strs))
        rest = h - hp.Type(str)
        self.assertEqual(rest | strs, h)
        self.assertEqual(h & ~hp.Type(str), rest)
        self.assertEqual((h & hp.Clodo(Slotted)).count, 100)
        s48 = h & hp.Size(C.sizeof(self.atoms[0]))
        self.assertIn(self.atoms[0], s48)
        if sys.version_info < (3, 11):
            self.assertEqual((h & hp.Clodo(dictof=Pkg)).count, 500)
        with self.assertRaises(TypeError):
            hp.Type('str')

    def test_iso_idset_nodes(self):
        hp = self.hp
        x = hp.iso(self.pkgs[0], self.pkgs[1])
        self.assertEqual(x.count, 2)
        self.assertEqual(set(map(id, x.nodes)), {id(self.pkgs[0]),
                                                 id(self.pkgs[1])})
        y = hp.idset(self.pkgs)
        self.assertEqual(y.count, 500)
        self.assertTrue(x <= y)
        self.assertEqual(hp.iso(self.pkgs[3]).theone, self.pkgs[3])

    def test_idset_joins_last_heap(self):
        hp = self.hp
        h = hp.heap()
        snap = h._s.snapshot
        # Objects the last heap() holds: the set joins its snapshot (no
        # walk), and combines with h's sets as one of them.
        x = hp.idset(self.pkgs[:10])
        self.assertIs(x._s.snapshot, snap)
        self.assertEqual(x.count, 10)
        self.assertTrue(x <= h)
        self.assertEqual((h & x).count, 10)
        self.assertIs(hp.iso(self.pkgs[3])._s.snapshot, snap)
        # Its relations are that snapshot's: a referrer made since is not
        # one of them ...
        holder = [self.pkgs[3]]
        old = hp.iso(self.pkgs[3]).referrers
        self.assertNotIn(holder, old)
        # ... one object made since means a snapshot of its own, taken
        # now, where it is.
        fresh = hp.iso(self.pkgs[3], holder)
        self.assertIsNot(fresh._s.snapshot, snap)
        self.assertIn(holder, (fresh - hp.iso(holder)).referrers)
        # The session still holds its heap() snapshot: sets join it.
        self.assertIs(hp.iso(self.pkgs[4])._s.snapshot, snap)
        # A new heap() is the new one to join.
        h2 = hp.heap()
        self.assertIs(hp.iso(self.pkgs[3])._s.snapshot, h2._s.snapshot)
        self.assertIn(holder, hp.iso(self.pkgs[3]).referrers)

    def test_more_and_all(self):
        self.blobs = [b'x' * i * 9 for i in range(1, 40)]
        h = self.hp.heap()
        p = h.bysize
        n = len(p.partition)
        self.assertGreater(n, 11)
        more = str(p.more).splitlines()
        self.assertTrue(more[1].startswith('    10 '))
        self.assertEqual(len(str(p.all).splitlines()), 2 + n)

    def test_dir_and_help(self):
        hp = self.hp
        for name in ('heap', 'setrelheap', 'heapu', 'iso', 'idset',
                     'Nothing', 'Root', 'Type'):
            self.assertIn(name, dir(hp))
        self.assertIn('setrelheap', heapscope.Use.__doc__)
        self.assertTrue(heapscope.IdentitySet.theone.__doc__)
        self.assertEqual(repr(hp.Root), 'hp.Root')

    def test_man_page_documents_the_api(self):
        # heapscope.3 names every public attribute of the session, of sets
        # and of partitions, and uses each in its EXAMPLES (the tests run
        # from the source tree).
        import os
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, '..', '..', 'man', 'heapscope.3')
        with open(path) as f:
            text = re.sub(r'\\f[BIRP]|\\', '', f.read())
        from heapscope import _api
        names = {n for n in dir(self.hp) if not n.startswith('_')}
        for cls in (_api.IdentitySet, _api.Partition):
            names |= {n for n in dir(cls) if not n.startswith('_')}
        self.assertGreater(len(names), 30)
        examples = text[text.index('.SH EXAMPLES'):text.index('.SH SEE ALSO')]
        for where in (text, examples):
            missing = sorted(n for n in names
                             if not re.search(r'\b%s\b' % re.escape(n), where))
            self.assertEqual(missing, [], where[:12])

    def test_set_survives_program_freeing_objects(self):
        h = self.hp.heap()
        pk = h & self.hp.Type(Pkg)
        del self.pkgs[:]
        gc.collect()
        self.assertEqual(pk.count, 500)
        self.assertTrue(all(type(o) is Pkg for o in pk))
        self.pkgs = []



class TestViews(unittest.TestCase):
    """h.bytype, h.byrcs... are h printed and indexed another way, as in
    heapy: the same set for everything else; their rows and slices keep
    the classifier."""

    RELS = ('clodo', 'type', 'size', 'id', 'module', 'unity', 'rcs', 'via')

    def setUp(self):
        self.hp = heapscope.hpy()
        self.hp.setrelheap()
        self.pkgs = [Pkg(i) for i in range(300)]
        self.atoms = [Slotted('atom-%d' % i) for i in range(50)]
        self.h = self.hp.heap()

    def tearDown(self):
        del self.h, self.pkgs, self.atoms, self.hp
        gc.collect()

    def header(self, s):
        return str(s).splitlines()[1]

    def test_a_view_is_the_same_set(self):
        hp, h = self.hp, self.h
        strs = h & hp.Type(str)
        for rel in self.RELS:
            v = getattr(h, 'by' + rel)
            self.assertIsInstance(v, heapscope.IdentitySet, rel)
            self.assertEqual(len(v), h.count, rel)
            self.assertEqual((v.count, v.size), (h.count, h.size), rel)
            self.assertTrue(v == h and h == v and v <= h and v >= h, rel)
            self.assertEqual(v & hp.Type(str), strs, rel)
            self.assertEqual(hp.Type(str) & v, strs, rel)
            self.assertEqual(v - hp.Type(str), h - strs, rel)
            self.assertEqual(v & strs, strs, rel)
            self.assertEqual(strs | v, h, rel)
            self.assertEqual(str(v ^ h), 'hp.Nothing', rel)
            self.assertIn(self.pkgs[0], v)
        v = h.byrcs
        self.assertEqual(v.referrers, h.referrers)
        self.assertEqual(v.referents, h.referents)
        self.assertEqual(v.bysize.count, h.count)
        self.assertIn('Individual Size', self.header(v.bysize))
        self.assertIn('Referred Via:', self.header(v.byvia))
        self.assertEqual(v.nodes.__len__(), h.count)
        one = hp.iso(self.pkgs[0]).byrcs
        self.assertIs(one.theone, self.pkgs[0])
        self.assertEqual(one.domisize, hp.iso(self.pkgs[0]).domisize)
        self.assertTrue(str(one.sp).startswith(' 0: '))
        # the table, and how many rows it has
        self.assertEqual(len(h.byclodo.partition), len(h.partition))
        self.assertEqual(len(h.byid.partition), h.count)
        self.assertEqual(len(h.byunity.partition), 1)

    def test_rows_and_slices_keep_the_classifier(self):
        h = self.h
        heads = {rel: self.header(getattr(h, 'by' + rel))
                 for rel in self.RELS}
        for rel in self.RELS:
            v = getattr(h, 'by' + rel)
            for row in (v[0], v[0:2], v.sets[0], v[-1]):
                self.assertEqual(self.header(row), heads[rel], rel)
                # and a row of a row, as heapy's
                self.assertEqual(self.header(row[0]), heads[rel], rel)
        self.assertEqual(h.byrcs[0], h.byrcs.sets[0])
        self.assertEqual(h.byrcs[0:2], h.byrcs[0] | h.byrcs[1])
        # byid's rows are single objects, printed as byid prints
        self.assertTrue(str(h.byid[0]).startswith('Set of 1 <'))
        # set algebra makes a set printed by clodo
        self.assertEqual(self.header(h.byrcs[0] & h),
                         heads['clodo'])
        self.assertEqual(self.header(h.byrcs[0].byclodo), heads['clodo'])

    def test_one_object(self):
        hp = self.hp
        one = hp.iso(self.pkgs[0])
        self.assertRegex(str(one).splitlines()[0],
                         r'^Partition of a set of 1 object\. Total size = '
                         r'\d+ bytes\.$')
        self.assertRegex(str(self.h.byid[0]).splitlines()[0],
                         r'^Set of 1 <[^>]+> object\. Total size = '
                         r'\d+ bytes\.$')
        two = hp.iso(self.pkgs[0], self.pkgs[1])
        self.assertIn(' of 2 objects.', str(two))
        self.assertIn(' 2 <test_api.Pkg> objects.', str(two.byid))

    def test_more_shows_the_header_and_the_next_rows(self):
        h = self.h
        p = h.byid
        n = len(p.partition)
        self.assertGreater(n, 31)
        more = str(p.more).splitlines()
        self.assertEqual(more[0], ' Index     Size   %   Cumulative  %   '
                                  'Representation (limited)')
        self.assertTrue(more[1].startswith('    10 '), more)
        self.assertEqual(len(more), 12)
        self.assertEqual(more[-1], "<%d more rows. Type e.g. '_.more' to "
                                   "view.>" % (n - 20))
        self.assertTrue(str(h.byid.more.more).splitlines()[1].startswith(
            '    20 '))
        self.assertTrue(str(h.byvia.more).startswith(' Index  Count   % '))
        # .all is every row, from the summary on
        alls = str(h.bysize.all).splitlines()
        self.assertTrue(alls[0].startswith('Partition of a set of '))
        self.assertEqual(len(alls), 2 + len(h.bysize.partition))
        self.assertEqual(str(h.bysize.more.all), str(h.bysize.all))

    def test_eleven_rows_print_whole(self):
        # heapy says how many more rows there are only when more than
        # one is left: the eleventh and last is printed
        objs = [bytearray(i * 64) for i in range(1, 12)]
        s = self.hp.idset(objs)
        self.assertEqual(len(s.bysize.partition), 11)
        lines = str(s.bysize).splitlines()
        self.assertEqual(len(lines), 13)
        self.assertTrue(lines[-1].startswith('    10 '))
        self.assertEqual(str(s.bysize.more), '')
        objs.append(bytearray(12 * 64))
        s = self.hp.idset(objs)
        lines = str(s.bysize).splitlines()
        self.assertEqual(lines[-1], "<2 more rows. Type e.g. '_.more' to "
                                    "view.>")

    def test_kinds_combine(self):
        hp, h = self.hp, self.h
        strs, dicts = h & hp.Type(str), h & hp.Type(dict)
        self.assertEqual(h & (hp.Type(str) | hp.Type(dict)), strs | dicts)
        self.assertEqual(h & ~(hp.Type(str) | hp.Type(dict)),
                         h - strs - dicts)
        self.assertEqual(str(h & (hp.Type(str) & hp.Type(dict))),
                         'hp.Nothing')
        self.assertEqual(h & (hp.Type(str) - hp.Size(C.sizeof('atom-1'))),
                         strs - (h & hp.Size(C.sizeof('atom-1'))))
        self.assertEqual(h & (hp.Type(str) ^ hp.Size(C.sizeof('atom-1'))),
                         strs ^ (h & hp.Size(C.sizeof('atom-1'))))
        # the tester's: strings held only as .key
        keys = h & (hp.Via('.key') & hp.Type(str))
        self.assertEqual(keys.count, 50)
        self.assertEqual(keys, h & hp.Type(str) & hp.Via('.key'))
        self.assertIn('&', repr(hp.Via('.key') & hp.Type(str)))
        # with a set on the kind's side
        first = hp.iso(self.pkgs[0])
        self.assertEqual(h & (hp.Type(str) | first), strs | first)
        self.assertEqual(h & (hp.Type(Pkg) - first),
                         (h & hp.Type(Pkg)) - first)
        self.assertEqual(hp.Type(Pkg) & h, h & hp.Type(Pkg))


class TestLabels(unittest.TestCase):

    def test_type_names(self):
        import types
        import weakref
        tn = heapscope.type_name
        self.assertEqual(tn(str), 'str')
        self.assertEqual(tn(types.CodeType), 'types.CodeType')
        self.assertEqual(tn(types.MethodType), 'types.MethodType')
        self.assertEqual(tn(weakref.KeyedRef), 'weakref.KeyedRef')
        self.assertEqual(tn(Pkg), 'test_api.Pkg')

    def test_safe_repr_runs_no_user_code(self):
        class Evil(object):
            def __repr__(self):
                raise RuntimeError('no')
        r = heapscope.safe_repr(Evil())
        self.assertTrue(r.startswith('<test_api.'))


if __name__ == '__main__':
    unittest.main()
