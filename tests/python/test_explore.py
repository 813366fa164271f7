"""The explorer's model (heapscope._explore.Model), as the TUI drives it
through model.c: views, their heapy expressions, steps, expressions typed
at ':', sorting, the inspector, mark and refresh.  No terminal needed."""

import os
import subprocess
import sys
import textwrap
import time
import unittest

import heapscope
from heapscope import _api, _explore
from heapscope import demo

PY311 = sys.version_info >= (3, 11)
REL = {name: i for i, name in enumerate(_explore.RELATIONS)}


def tick(what, done, total):
    pass


class Hostile(object):
    """Every hook raises: the model must call none of them."""
    calls = []

    def __repr__(self):
        Hostile.calls.append('repr')
        raise RuntimeError('repr')

    def __getattribute__(self, name):
        if name not in ('__class__', '__dict__'):
            Hostile.calls.append('getattr ' + name)
        return object.__getattribute__(self, name)

    def __eq__(self, other):
        Hostile.calls.append('eq')
        raise RuntimeError('eq')

    __hash__ = object.__hash__


class TestModel(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.hp = _api.Use()
        cls.hp.setrelheap()
        cls.repo = demo.Repository().load(500)
        cls.hostile = [Hostile() for _ in range(3)]
        cls.model = _explore.Model(cls.hp)
        cls.root = cls.model.root(tick)

    @classmethod
    def tearDownClass(cls):
        del cls.root, cls.model, cls.repo, cls.hostile, cls.hp

    def info(self, view):
        expr, summary, column, rel, sort, count, size, nrows = \
            self.model.info(view)
        return dict(expr=expr, summary=summary, column=column, rel=rel,
                    sort=sort, count=count, size=size, nrows=nrows)

    def test_root_view(self):
        i = self.info(self.root)
        self.assertEqual(i['expr'], 'h')
        self.assertEqual(i['column'], 'Kind (class / dict of class)')
        self.assertEqual(i['rel'], REL['clodo'])
        self.assertRegex(i['summary'], r'^Partition of a set of \d+ objects')
        self.assertEqual(i['count'], self.root.iset.count)
        label, count, size, index = self.model.row(self.root, 0)
        self.assertEqual((label, index), ('str', 0))
        self.assertRegex(self.model.status(self.root),
                         r'^mark: \S+   snapshot: \d+\.\d\d s$')

    def test_every_relation(self):
        for name, rel in REL.items():
            if name == 'prod':      # (tracemalloc is off: see below)
                continue
            v = self.model.repartition(self.root, rel, tick)
            i = self.info(v)
            self.assertEqual(i['rel'], rel)
            self.assertEqual(i['expr'], 'h' if name == 'clodo'
                             else 'h.by' + name)
            self.assertGreater(i['nrows'], 0, name)
            self.assertEqual(i['count'], self.root.iset.count)
            for k in range(min(5, i['nrows'])):
                label = self.model.row(v, k)[0]
                self.assertIsInstance(label, str)
                self.assertNotIn('\n', label)

    def test_row_source_is_the_rows_objects(self):
        # What the dominated-size worker reads for a row (model.c): a C
        # partition and the row's index in it, or a C set; a view with
        # one row gives its set itself (nothing to fill in).
        m, root = self.model, self.root
        one = m.step(root, 0, _explore.STEP_OPEN, tick)
        self.assertEqual(one.nrows(), 1)
        views = [root, one] + [m.repartition(root, rel, tick)
                               for name, rel in REL.items()
                               if name != 'prod']   # (no tracemalloc)
        for v in views:
            for i in range(min(4, v.nrows())):
                owner, k = m.row_source(v, v.index(i))
                if isinstance(owner, type(root.iset._s)):
                    self.assertEqual(k, 0)
                    ids = owner.ids()
                else:
                    ids = owner.group(k).ids()
                self.assertEqual(list(ids), list(v.rowset(i)._s.ids()),
                                 (self.info(v)['expr'], i))
        owner, k = m.row_source(one, 0)
        self.assertIs(owner, one.iset._s)

    def test_steps_and_their_expressions(self):
        m, root = self.model, self.root
        rcs = m.repartition(root, REL['rcs'], tick)
        opened = m.step(rcs, 0, _explore.STEP_OPEN, tick)
        self.assertEqual(self.info(opened)['expr'], 'h.byrcs[0].byrcs')
        refs = m.step(rcs, 0, _explore.STEP_REFERRERS, tick)
        self.assertEqual(self.info(refs)['expr'], 'h.byrcs[0].referrers')
        self.assertEqual(refs.iset, rcs.part[0].referrers)
        held = m.step(root, 0, _explore.STEP_REFERENTS, tick)
        self.assertEqual(self.info(held)['expr'], 'h[0].referents')
        dom = m.step(rcs, 0, _explore.STEP_DOMINOS, tick)
        self.assertEqual(self.info(dom)['expr'], 'h.byrcs[0].dominos')
        self.assertEqual(dom.iset.size, rcs.part[0].domisize)

    def test_expressions(self):
        m, root = self.model, self.root
        rcs = m.repartition(root, REL['rcs'], tick)
        v = m.eval(rcs, '[0].byvia', tick)
        self.assertEqual(self.info(v)['expr'], 'h.byrcs[0].byvia')
        self.assertEqual(self.info(v)['rel'], REL['via'])
        v = m.eval(root, 'byrcs[0]', tick)
        self.assertEqual(self.info(v)['expr'], 'h.byrcs[0]')
        v = m.eval(root, "& Type(str)", tick)
        self.assertEqual(self.info(v)['expr'], '(h & hp.Type(str))')
        self.assertEqual(v.iset, root.iset & self.hp.Type(str))
        v = m.eval(root, 'referrers & Type(dict)', tick)
        self.assertEqual(self.info(v)['expr'],
                         '(h.referrers & hp.Type(dict))')
        self.assertEqual(v.iset, root.iset.referrers & self.hp.Type(dict))
        v = m.eval(root, 'h[0] ^ h[0]', tick)
        self.assertEqual(v.iset.count, 0)
        self.assertEqual(self.info(v)['summary'], 'hp.Nothing: the empty set.')
        # not a set: the value is the answer, as a message
        with self.assertRaises(_explore._Answer) as cm:
            m.eval(root, '[0].count', tick)
        self.assertIn('h[0].count = ', str(cm.exception))
        # heapscope's own answers as they print: paths, one a line after
        # the expression (the TUI shows them on a page), not their repr
        with self.assertRaises(_explore._Answer) as cm:
            m.eval(root, 'byid[0].sp', tick)
        head, body = str(cm.exception).split('\n', 1)
        self.assertEqual(head, 'h.byid[0].sp')
        self.assertEqual(body, str(root.iset.byid[0].sp))
        self.assertTrue(body.startswith(' 0: hpy().Root'), body)
        with self.assertRaises(_explore._Answer) as cm:
            m.eval(root, "Via('.key')", tick)
        self.assertEqual(str(cm.exception),
                         "hp.Via('.key') = %s" % self.hp.Via('.key'))
        # mistakes are exceptions the TUI shows in one line
        for bad in ('[', 'no_such_name', '[10 ** 6]', '', '1 / 0'):
            with self.assertRaises(Exception):
                m.eval(root, bad, tick)

    def test_expressions_of_views_are_their_sets(self):
        # h.byrcs is h by rcs (a set, as heapy's): the view is by rcs, and
        # every breadcrumb, pasted at the prompt, gives the view's set
        m, root = self.model, self.root
        rcs = m.repartition(root, REL['rcs'], tick)
        ns = {'h': root.iset, 'hp': self.hp}
        for v, text, rel, expr in (
                (root, 'byrcs', 'rcs', 'h.byrcs'),
                (root, 'bytype', 'type', 'h.bytype'),
                (root, 'byclodo', 'clodo', 'h'),
                (root, 'byrcs[0]', 'clodo', 'h.byrcs[0]'),
                (root, 'byrcs.dominated', 'rcs', 'h.byrcs'),
                (rcs, '[0].byvia', 'via', 'h.byrcs[0].byvia'),
                (rcs, '[0].dominated', 'rcs', 'h.byrcs[0].byrcs'),
                (rcs, '[0:2]', 'clodo', 'h.byrcs[0:2]')):
            got = m.eval(v, text, tick)
            info = self.info(got)
            self.assertEqual((info['expr'], info['rel']),
                             (expr, REL[rel]), text)
            self.assertEqual(eval(info['expr'], ns), got.iset, text)

    def test_sort_orders(self):
        m = self.model
        v = m.repartition(self.root, REL['clodo'], tick)
        n = v.nrows()
        m.sort(v, _explore.SORT_COUNT, tick)
        counts = [m.row(v, i)[1] for i in range(n)]
        self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertEqual(sorted(m.row(v, i)[3] for i in range(n)),
                         list(range(n)))
        m.sort(v, _explore.SORT_NAME, tick)
        names = [m.row(v, i)[0] for i in range(n)]
        self.assertEqual(names, sorted(names))
        with self.assertRaises(ValueError):
            m.sort(v, _explore.SORT_DOMINATED, tick)   # not computed yet
        for i in range(n):
            m.set_dominated(v, m.row(v, i)[3], 100 * i)
        m.sort(v, _explore.SORT_DOMINATED, tick)
        m.sort(v, _explore.SORT_SIZE, tick)
        self.assertEqual([m.row(v, i)[3] for i in range(n)], list(range(n)))

    def test_inspect_runs_no_code_of_the_object(self):
        m = self.model
        s = self.hp.iso(*self.hostile)
        v = _explore.View(s, 'clodo', 's')
        Hostile.calls[:] = []
        page = m.inspect(v, 0, 0, tick)
        self.assertEqual(Hostile.calls, [])
        (expr, kind, addr, size, dominated, text, path, traceback, nin,
         nout, refs_in, refs_out) = page
        self.assertEqual(expr, 's[0].byid[0].theone')
        self.assertTrue(kind.endswith('Hostile'))
        self.assertIn('Hostile at 0x', text)
        self.assertTrue(path.startswith('hpy().Root.'), path)
        self.assertGreaterEqual(nin, 1)
        self.assertTrue(any('[' in via for _k, via, _r, _s in refs_in))

    def test_inspect_a_package(self):
        m = self.model
        pk = self.hp.iso(self.repo.packages[7])
        v = _explore.View(pk, 'clodo', 'p')
        page = m.inspect(v, 0, 0, tick)
        text, path, refs_out = page[5], page[6], page[11]
        if PY311:
            self.assertIn('.cpvstr = ', text)
        self.assertTrue(path.endswith(".packages[7]" if PY311 else
                                      ".__dict__['packages'][7]"), path)
        vias = [via for _k, via, _r, _s in refs_out]
        self.assertIn('.data' if PY311 else '.__dict__', vias)
        self.assertIsNone(page[7])      # tracemalloc was off
        with self.assertRaises(IndexError):
            m.inspect(v, 0, 5, tick)
        self.assertEqual(page[0], 'p[0].byid[0].theone')
        # a row of a byid view is its object: no second byid
        ids = _explore.View(pk, 'id', 'p')
        self.assertEqual(m.inspect(ids, 0, 0, tick)[0], 'p.byid[0].theone')

    def test_inspect_does_not_wait_for_the_dominator_tree(self):
        m = self.model
        pk = self.hp.iso(self.repo.packages[3])     # a fresh snapshot
        v = _explore.View(pk, 'clodo', 'p')
        self.assertEqual(m.inspect(v, 0, 0, tick)[4], -1)   # pending
        want = pk.domisize                          # builds the tree
        self.assertGreater(want, 0)
        self.assertEqual(m.inspect(v, 0, 0, tick)[4], want)

    def test_allocation_site_from_tracemalloc(self):
        import tracemalloc
        from heapscope import _heapscope as _c
        self.assertFalse(_c.tracemalloc_tracing())
        # no view by allocation site, but why (the TUI's status line)
        with self.assertRaisesRegex(_explore._Answer,
                                    r'^tracemalloc is not tracing: start '
                                    r'it with PYTHONTRACEMALLOC=1'):
            self.model.repartition(self.root, REL['prod'], tick)
        tracemalloc.start()
        try:
            self.assertTrue(_c.tracemalloc_tracing())
            v = self.model.repartition(self.root, REL['prod'], tick)
            self.assertEqual(self.info(v)['expr'], 'h.byprod')
            self.assertEqual(self.model.row(v, 0)[0],
                             '<allocated while tracemalloc was not tracing>')
            obj = demo.Atom('cat/pkg', '0')
            line = sys._getframe().f_lineno - 1
            here = sys._getframe().f_code.co_filename
            self.assertEqual(_c.object_traceback(obj)[0], (here, line))
            page = self.model.inspect(
                _explore.View(self.hp.iso(obj), 'clodo', 'a'), 0, 0, tick)
            self.assertEqual(page[7].splitlines()[0],
                             '%s:%d' % (here, line))
            old = self.model.inspect(
                _explore.View(self.hp.iso(self.repo), 'clodo', 'r'), 0, 0,
                tick)
            self.assertIn('not traced', old[7])
        finally:
            tracemalloc.stop()
        self.assertFalse(_c.tracemalloc_tracing())
        self.assertIsNone(_c.object_traceback(obj))

    def test_describe_is_bounded(self):
        big = list(range(100000))
        snap_set = self.hp.iso(big)
        snap = snap_set._s.snapshot
        node = snap_set._s.ids()[0]
        text = _explore.describe(big, snap, node)
        self.assertLessEqual(len(text), _explore._REPR_LIMIT)
        self.assertIn('100000 items', text)
        self.assertIn('[0] = 0', text)
        long_str = 'x' * 10 ** 6
        self.assertLessEqual(len(_explore.describe(long_str)),
                             _explore._REPR_LIMIT)

    def test_cancel_through_the_progress_callback(self):
        def cancel(what, done, total):
            raise KeyboardInterrupt('cancelled')
        with self.assertRaises(KeyboardInterrupt):
            self.model.root(cancel)

    def test_prepare_works_ahead_on_the_root(self):
        hp = _api.Use()
        hp.setrelheap()
        repo = demo.Repository().load(200)
        m = _explore.Model(hp)
        root = m.root(tick)
        h = root.iset
        self.assertNotIn('via', h._parts)
        self.assertTrue(m.prepare(tick))
        self.assertIn('via', h._parts)
        self.assertFalse(m.prepare(tick))       # nothing left to do
        # v on the heap is what was prepared; on a row, cut from it
        self.assertIs(m.repartition(root, REL['via'], tick).part,
                      h._parts['via'])
        row = m.step(root, 0, _explore.STEP_OPEN, tick)
        v = m.repartition(row, REL['via'], tick)
        self.assertTrue(v.part._cpart.cut)
        direct = _api.Partition(row.iset, _api.CLASSIFIERS['via'],
                                rows=_api.via_partition(row.iset._s,
                                                        derive=False))
        self.assertFalse(direct._cpart.cut)
        self.assertEqual([v.part._row(k) for k in range(len(v.part))],
                         [direct._row(k) for k in range(len(direct))])
        del repo

    def test_prepare_stops_when_told_and_starts_again(self):
        hp = _api.Use()
        hp.setrelheap()
        repo = demo.Repository().load(200)
        m = _explore.Model(hp)
        h = m.root(tick).iset
        calls = []

        def key_typed(what, done, total):
            calls.append(what)
            raise KeyboardInterrupt('cancelled')
        with self.assertRaises(KeyboardInterrupt):
            m.prepare(key_typed)
        self.assertTrue(calls)
        self.assertNotIn('via', h._parts)       # nothing half-made kept
        self.assertTrue(m.prepare(tick))
        self.assertIn('via', h._parts)
        del repo

    def test_prepare_only_with_memory_to_spare(self):
        spare = _explore.memory_to_spare()
        if sys.platform.startswith('linux'):
            self.assertIsInstance(spare, int)
            self.assertGreater(spare, 0)
        hp = _api.Use()
        m = _explore.Model(hp)
        h = m.root(tick).iset
        saved = _explore.memory_to_spare
        try:
            _explore.memory_to_spare = lambda: 0
            self.assertFalse(m.prepare(tick))
            _explore.memory_to_spare = lambda: None     # not known
            self.assertFalse(m.prepare(tick))
        finally:
            _explore.memory_to_spare = saved
        self.assertNotIn('via', h._parts)

    def test_mark_and_refresh(self):
        hp = _api.Use()
        m = _explore.Model(hp)
        self.assertEqual(m.status(), 'mark: none')
        old = m.root(tick)
        self.assertTrue(m.status(old).startswith('mark: none   snapshot: '))
        m.mark()
        mark = time.strftime('%H:%M:%S', time.localtime(hp._mark_time))
        self.assertEqual(m.status(), 'mark: ' + mark)
        # the old view is still of the snapshot taken without a mark
        self.assertTrue(m.status(old).startswith('mark: none, new %s   '
                                                 'snapshot: ' % mark))
        keep = [object() for _ in range(100)]
        v = m.refresh(tick)
        self.assertLess(v.iset.count, 1000)
        self.assertGreaterEqual((v.iset & hp.Type(object)).count, 100)
        self.assertTrue(m.status(v).startswith('mark: %s   snapshot 2: '
                                               % mark))
        # views made from a view are of its snapshot, and h at the prompt
        # is the view's own snapshot's
        for view, h in ((old, old.iset), (v, v.iset)):
            t = m.repartition(view, REL['type'], tick)
            self.assertEqual(m.status(t), m.status(view))
            e = m.eval(t, 'h', tick)
            self.assertIs(e.iset, h)
            self.assertEqual(m.status(e), m.status(view))
            s = m.step(view, 0, _explore.STEP_REFERRERS, tick)
            self.assertEqual(m.status(s), m.status(view))
        del keep

    def test_an_expression_leaves_nothing_behind(self):
        # The model's own handling of what is typed at : must make no
        # object that outlives it (re's cache kept a compiled template,
        # shown by the next snapshot as the program's); a fresh process,
        # where no cache is warm yet.
        code = textwrap.dedent("""
            from heapscope import _api, _explore
            m = _explore.Model(_api.Use())
            tick = lambda *a: None
            v = m.root(tick)
            def ask(text):
                # (in a function: an exception caught in the module's
                # code would give its running frame a frame object)
                try:
                    m.eval(v, text, tick)
                except Exception:
                    pass
            m.mark()
            for text in ("& Via('.key').alt('<')", "byrcs", "[0]",
                         "referrers & Type(dict)", "Nothing",
                         "[0].dominated", "sp", "count", "rp"):
                ask(text)
            print(m.refresh(tick).iset.count)
            """)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        r = subprocess.run([sys.executable, '-c', code], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=120)
        self.assertEqual((r.returncode, r.stderr), (0, ''))
        self.assertEqual(r.stdout.strip(), '0')

    def test_steps_from_one_object(self):
        # R, F, D in the inspector: all of one object's referrers,
        # referents, what it dominates; the breadcrumb names the object
        m, root = self.model, self.root
        one = root.iset[0].byid[1]
        for how, attr in ((_explore.STEP_REFERRERS, 'referrers'),
                          (_explore.STEP_REFERENTS, 'referents'),
                          (_explore.STEP_DOMINOS, 'dominos')):
            v = m.step_object(root, 0, 1, how, tick)
            self.assertEqual(self.info(v)['expr'], 'h[0].byid[1].' + attr)
            self.assertEqual(v.iset, getattr(one, attr))
            self.assertEqual(m.status(v), m.status(root))
        ids = m.repartition(root, REL['id'], tick)
        v = m.step_object(ids, 3, 0, _explore.STEP_REFERRERS, tick)
        self.assertEqual(self.info(v)['expr'], 'h.byid[3].referrers')
        self.assertEqual(v.iset, root.iset.byid[3].referrers)
        with self.assertRaises(IndexError):
            m.step_object(root, 0, root.iset[0].count, 1, tick)

    def test_summaries_as_heapy_prints_them(self):
        hp = _api.Use()
        one = hp.iso('a string of our own')
        m = _explore.Model(hp, one, 's')
        v = m.root(tick)
        size = one.size
        self.assertEqual(m.info(v)[1], 'Partition of a set of 1 object. '
                         'Total size = %d bytes.' % size)
        v = m.repartition(v, REL['id'], tick)
        self.assertEqual(m.info(v)[1], 'Set of 1 <str> object. '
                         'Total size = %d bytes.' % size)
        self.assertEqual(m.info(v)[1], str(one.byid).split('\n')[0])

    def test_status_of_a_given_set(self):
        hp = _api.Use()
        m = _explore.Model(hp, hp.iso(self), 'me')
        v = m.root(tick)
        self.assertEqual(m.status(v), 'mark: none   set given to explore()')
        self.assertIs(m.eval(v, 'me', tick).iset, v.iset)


if __name__ == '__main__':
    unittest.main()
