"""Relations on real heaps: referrers and referents, byrcs, byvia with
heapy's names (golden strings), Via kinds, dominated sizes and paths.

Each heap is built so that its answer is known by construction."""

import gc
import sys
import threading
import unittest

import heapscope
from heapscope import _api, _explore

PY311 = sys.version_info >= (3, 11)


class Pkg(object):
    def __init__(self, key, data):
        self.key = key
        self.data = data


class Atom(object):
    __slots__ = ('key', 'slot')

    def __init__(self, key, slot):
        self.key = key
        self.slot = slot


def own_size(obj):
    """Bytes of obj with its __dict__ when it has a separate one."""
    c = heapscope._heapscope
    d = c.instance_dict(obj)
    return c.sizeof(obj) + (c.sizeof(d) if d is not None else 0)


def vias(hp, obj):
    """The via names of one object, as a sorted list."""
    p = hp.iso(obj).byvia
    label = p._row(0)[0]
    return label


class TestVia(unittest.TestCase):

    def setUp(self):
        self.hp = heapscope.hpy()

    def names(self, obj):
        s = self.hp.iso(obj)
        part, names = _api.via_partition(s._s)
        return set(names[part.row(0)[0]])

    def test_an_object_held_in_several_ways(self):
        # Several names for one member, from one holder and from several,
        # repeats counted once; members named alike share a row.
        x, y, z, w = ['x'], ['y'], ['z'], ['w']
        lst = [x, x, z]
        d = {'a': x, 'b': y, 'c': y, 'd': w}
        del x, y, z, w          # only lst and d hold them
        s = self.hp.iso(lst[0], d['b'], lst[2], d['d'])
        part, names = _api.via_partition(s._s)
        rows = {}
        for i in range(len(part)):
            key, count = part.row(i)[:2]
            rows[tuple(sorted(names[key]))] = count
        self.assertEqual(rows, {
            ("['a']", '[0]', '[1]'): 1,
            ("['b']", "['c']"): 1,
            ('[2]',): 1,
            ("['d']",): 1,
        })
        del lst, d

    def test_dict_value_and_key(self):
        k = ''.join(['a-key-', str(id(self))])
        v = ['value']
        d = {k: v, 'other': 1}
        self.assertIn("[%r]" % k, self.names(v))
        self.assertIn('.keys()[0]', self.names(k))
        del d

    def test_dicts_are_named_as_the_snapshot_saw_them(self):
        # A dict's members are named from the snapshot's record of its
        # entries (keys of every kind, positions counted over the entries
        # left after a deletion), so a change made after the snapshot
        # changes no name.  (The locals name them too: ignored.)
        hp = heapscope.hpy()
        v1 = ''.join(['value-', 'one'])
        v2 = ''.join(['value-', 'two'])
        k1 = ''.join(['key-', 'one'])
        d = {'gone': 0, k1: v1, 7: v2, 2.5: v1, 'same': v1, v2: k1}
        del d['gone']
        h = hp.heap()
        d[k1] = None
        del d['same']
        d['late'] = v2

        def names(obj):
            part, names = _api.via_partition(hp.iso(obj)._s)
            self.assertEqual(len(part), 1)
            return set(n for n in names[part.row(0)[0]]
                       if not n.startswith('.f_locals'))

        self.assertTrue(hp.iso(v1, v2, k1) <= h)
        self.assertEqual(names(v1), {"['key-one']", '[2.5]', "['same']"})
        self.assertEqual(names(v2), {'[7]', '.keys()[4]'})
        self.assertEqual(names(k1), {'.keys()[0]', "['value-two']"})
        del d, h

    def test_members_named_alike_share_a_row(self):
        # A name is its text, however the holder came by it: keys of
        # their own in each of many dicts, a __slots__ member and an
        # instance attribute of one name, an int key and a list index.
        class Slotted(object):
            __slots__ = ('key',)

        class Plain(object):
            pass

        def val(i):
            return 'v%d' % i

        dicts = [{''.join(['e', '0']): val(i)} for i in range(20)]
        attrs = []
        for i in range(30):
            o = Slotted() if i < 20 else Plain()
            o.key = val(100 + i)
            attrs.append(o)
        by_int = [{3: val(200 + i)} for i in range(5)]
        by_index = [[None, None, None, val(300 + i)] for i in range(5)]
        # (keys too long to show: named by their length alone)
        long_keys = [{c * 300: val(400 + i)} for i, c in enumerate('ab')]
        self.assertIsNot(next(iter(dicts[0])), next(iter(dicts[1])))
        # (a generator: no container of the test's names them too)
        s = self.hp.idset(x for x in [next(iter(d.values())) for d in dicts]
                          + [o.key for o in attrs]
                          + [d[3] for d in by_int] + [l[3] for l in by_index]
                          + [next(iter(d.values())) for d in long_keys])
        part, names = _api.via_partition(s._s)
        rows = dict((tuple(sorted(names[part.row(i)[0]])), part.row(i)[1])
                    for i in range(len(part)))
        want = {("['e0']",): 20, ('.key',): 30, ('[3]',): 10,
                ('[<str of length 300>]',): 2}
        if not PY311:
            # (an attribute is its __dict__'s before 3.11)
            want.update({('.key',): 20, ("['key']",): 10})
        self.assertEqual(rows, want)
        del dicts, attrs, by_int, by_index, long_keys

    def test_far_items_share_a_row(self):
        # "[70000]" of a long list, met before many names are made and
        # after: one name either way (a number that far out is kept aside
        # while names are few, in an array by number once they are many).
        def val(i):
            return 'w%d' % i

        far = [None] * 70000 + [val(0)]
        near = [val(1 + i) for i in range(20000)]
        far2 = [None] * 70000 + [val(99999)]
        s = self.hp.idset(x for x in [far[-1], far2[-1]] + near)
        part, names = _api.via_partition(s._s)
        labels = [names[part.row(i)[0]] for i in range(len(part))]
        self.assertEqual(len(labels), len(set(labels)))
        rows = dict((names[part.row(i)[0]], part.row(i)[1])
                    for i in range(len(part)))
        self.assertEqual(rows[('[70000]',)], 2)
        self.assertEqual(rows[('[19999]',)], 1)
        del far, near, far2

    def test_list_tuple_items_with_their_index(self):
        x = object.__new__(Pkg)
        lst = [1, 2, x]
        tup = (None, x)
        names = self.names(x)
        self.assertIn('[2]', names)
        self.assertIn('[1]', names)
        del lst, tup

    def test_tuple_items_named_from_the_snapshot(self):
        # An exact tuple is named from its edges, which tp_traverse gives
        # last item first: each index must still be its own, repeats and
        # all, in a tuple longer than what is fetched ahead.  (The list
        # `items`, and iso's arguments, name item i "[i]" too.)
        items = [['t%d' % i] for i in range(40)]
        tup = (None, None) + tuple(items) + (items[3], 7, items[39])
        s = self.hp.iso(*items)
        part, names = _api.via_partition(s._s)
        got = {}
        for i in range(len(part)):
            key, count = part.row(i)[:2]
            got[tuple(sorted(names[key]))] = count
        want = {}
        for i in range(40):
            idx = ['[%d]' % i, '[%d]' % (i + 2)]
            idx += ['[42]'] if i == 3 else []
            idx += ['[44]'] if i == 39 else []
            want[tuple(sorted(set(idx)))] = 1
        self.assertEqual(got, want)
        del tup, items

    def test_set_member_index(self):
        x = 'member-%d' % id(self)
        s = set()
        for i in range(6):
            s.add('other-%d' % i)
        s.add(x)
        expected = list(s).index(x)
        self.assertIn('list(_)[%d]' % expected, self.names(x))

    def test_instance_attribute(self):
        data = {'a': 1}
        p = Pkg('k', data)
        names = self.names(data)
        if PY311:
            # managed values: no dict in between
            self.assertIn('.data', names)
            self.assertNotIn("['data']", names)
        else:
            # the value is held by the instance's __dict__
            self.assertIn("['data']", names)
            self.assertIn('.__dict__', self.names(vars(p)))

    def test_materialised_dict(self):
        data = {'b': 2}
        p = Pkg('k', data)
        d = vars(p)
        self.assertIn("['data']", self.names(data))
        self.assertIn('.__dict__', self.names(d))

    def test_slots(self):
        key = 'slot-key-%d' % id(self)
        a = Atom(key, None)
        self.assertIn('.key', self.names(key))
        del a

    def test_class_cell_self_func(self):
        class Local(object):
            def m(self):
                return 1
        o = Local()
        self.assertIn('.__class__', self.names(Local))
        bound = o.m
        self.assertIn('.__self__', self.names(o))
        v = ['cell-held']

        def f():
            return v
        cell = f.__closure__[0]
        self.assertIn('.cell_contents', self.names(v))
        del bound, cell

    def test_frame_local(self):
        ready, done = threading.Event(), threading.Event()
        box = {}

        def run():
            marker = ['only a local']
            box['id'] = id(marker)
            ready.set()
            done.wait(10)
            del marker
        t = threading.Thread(target=run)
        t.start()
        ready.wait(10)
        try:
            hp = self.hp
            h = hp.heap()
            found = [o for o in h & hp.Type(list) if id(o) == box['id']]
            self.assertEqual(len(found), 1)
            part, names = _api.via_partition(hp.iso(found[0])._s)
            self.assertIn(".f_locals['marker']", names[part.row(0)[0]])
        finally:
            done.set()
            t.join(10)

    def test_returned_frame(self):
        # A frame kept by a traceback after its function returned: its
        # locals, cells and fields are named as heapy names them (on 3.11+
        # they are in the interpreter frame inside the frame object), and
        # so are the exception's and the traceback's references.
        global RAISED
        box = {}

        def fails():
            kept = ['only a local of a returned frame']
            shared = ['a cell']
            box['id'] = id(kept)

            def inner():
                return shared
            raise ValueError('kept') from KeyError('cause')
        try:
            fails()
        except ValueError as e:
            RAISED = e
        try:
            hp = self.hp
            h = hp.heap()
            found = [o for o in h & hp.Type(list) if id(o) == box['id']]
            self.assertEqual(len(found), 1)
            kept = hp.iso(found.pop())
            part, names = _api.via_partition(kept._s)
            self.assertEqual(names[part.row(0)[0]], (".f_locals['kept']",))
            text = str(kept.sp)
            self.assertTrue(text.endswith(
                "['RAISED'].__traceback__.tb_next.tb_frame"
                ".f_locals['kept']"), text)

            snap = h._s.snapshot
            frame = RAISED.__traceback__.tb_next.tb_frame
            held = snap.holds(snap.find(frame))
            by_name = dict((n, id(o)) for n, o in held)
            self.assertEqual(by_name.get(".f_locals['kept']"), box['id'])
            self.assertEqual(by_name.get(".f_code"), id(fails.__code__))
            self.assertEqual(by_name.get(".f_globals"), id(globals()))
            self.assertIn(".f_locals ['shared']", by_name)
            self.assertIn(".f_back", by_name)
            held = dict(snap.holds(snap.find(RAISED)))
            self.assertIs(held['.__traceback__'], RAISED.__traceback__)
            self.assertIs(held['.__cause__'], RAISED.__cause__)
            self.assertIs(held['.args'], RAISED.args)
        finally:
            del RAISED


class Awaitable(object):
    """What a coroutine awaits to stay suspended."""

    def __await__(self):
        yield 'suspended'


def tick(what, done, total):
    pass


class TestGeneratorFrames(unittest.TestCase):
    """What a generator's, coroutine's or async generator's frame holds,
    in each state the frame can be in.  Before 3.11 the frame is an
    object, which names its locals (".f_locals['x']"); since, it is inside
    the generator, which holds them, and names them through the attribute
    that shows the frame (".gi_frame.f_locals['x']"), so that a path reads
    the same on every version: ['G'].gi_frame.f_locals['x']."""

    def setUp(self):
        self.hp = heapscope.hpy()
        self.box = {}

    def tearDown(self):
        global GEN_HELD, CORO_HELD, AGEN_HELD
        GEN_HELD = CORO_HELD = AGEN_HELD = None
        self.hp._last = None

    def via(self, frame_attr, name):
        """How a generator's local is named: by the generator on 3.11+."""
        return (frame_attr if PY311 else '') + name

    def only(self, key):
        """A set of the one list whose id the box keeps under key, found in
        a new heap and held by nothing of the test's."""
        h = self.hp.heap()
        found = [o for o in h & self.hp.Type(list) if id(o) == self.box[key]]
        self.assertEqual(len(found), 1)
        return self.hp.iso(found.pop())

    def names(self, s):
        part, names = _api.via_partition(s._s)
        self.assertEqual(len(part), 1)
        return set(names[part.row(0)[0]])

    def holds(self, obj):
        """{name: id} of what obj holds, as the last heap names it."""
        snap = self.hp.heap()._s.snapshot
        return dict((n, id(o)) for n, o in snap.holds(snap.find(obj)))

    def assertPath(self, s, tail):
        text = str(s.sp)
        self.assertTrue(text.endswith(tail), text)

    def test_suspended_generator_local(self):
        global GEN_HELD
        box = self.box

        def gen():
            x = ['a local of a suspended generator']
            box['x'] = id(x)
            yield 1
        GEN_HELD = gen()
        next(GEN_HELD)
        x = self.only('x')
        self.assertEqual(self.names(x),
                         {self.via('.gi_frame', ".f_locals['x']")})
        self.assertIn(self.via('.gi_frame', ".f_locals['x']"), str(x.byvia))
        self.assertPath(x, "['GEN_HELD'].gi_frame.f_locals['x']")
        # the explorer's inspector: the path, and the way the generator
        # (3.11+) or its frame holds it
        page = _explore.Model(self.hp).inspect(
            _explore.View(x, 'clodo', 'x'), 0, 0, tick)
        self.assertTrue(page[6].endswith(
            "['GEN_HELD'].gi_frame.f_locals['x']"), page[6])
        self.assertEqual([via for _k, via, _r, _s in page[10]],
                         [self.via('.gi_frame', ".f_locals['x']")])
        held = self.holds(GEN_HELD)
        self.assertEqual(held['.__name__'], id(GEN_HELD.__name__))
        self.assertEqual(held['.__qualname__'], id(GEN_HELD.__qualname__))
        if PY311:
            self.assertEqual(held[".gi_frame.f_locals['x']"], box['x'])
            self.assertEqual(held['.gi_frame.f_code'], id(gen.__code__))
            self.assertEqual(held['.gi_frame.f_globals'], id(globals()))
            self.assertNotIn('.gi_frame', held)     # no frame object

    def test_cell_variable(self):
        global GEN_HELD
        box = self.box

        def gen():
            c = ['a cell variable of a suspended generator']
            box['c'] = id(c)

            def inner():
                return c
            yield 1
        GEN_HELD = gen()
        next(GEN_HELD)
        c = self.only('c')
        self.assertEqual(self.names(c), {'.cell_contents'})
        self.assertPath(c, "['GEN_HELD'].gi_frame.f_locals ['c']"
                           ".cell_contents")
        held = self.holds(GEN_HELD if PY311 else GEN_HELD.gi_frame)
        cell = self.via('.gi_frame', ".f_locals ['c']")
        self.assertIn(cell, held)
        self.assertIn(self.via('.gi_frame', ".f_locals['inner']"), held)

    def test_coroutine(self):
        global CORO_HELD
        box = self.box

        async def coro():
            y = ['a local of a suspended coroutine']
            box['y'] = id(y)
            await Awaitable()
        CORO_HELD = coro()
        try:
            CORO_HELD.send(None)
            y = self.only('y')
            self.assertEqual(self.names(y),
                             {self.via('.cr_frame', ".f_locals['y']")})
            self.assertPath(y, "['CORO_HELD'].cr_frame.f_locals['y']")
            # what it awaits, on its value stack
            self.assertPath(self.hp.iso(CORO_HELD.cr_await),
                            "['CORO_HELD'].cr_frame->f_valuestack[0]")
        finally:
            CORO_HELD.close()

    def test_value_stacks_named_by_whose_frame(self):
        # Entry 0 of two stacks, a generator's and a coroutine's: two
        # names on 3.11+, each its own row (byvia names stack entries by
        # number); before, both frames are objects, and name it alike.
        global GEN_HELD, CORO_HELD

        def loop(items):
            for item in items:
                yield item

        async def coro():
            await Awaitable()
        GEN_HELD, CORO_HELD = loop([1, 2]), coro()
        try:
            next(GEN_HELD)
            CORO_HELD.send(None)
            # (gc.get_referents makes no frame object)
            its = [r for r in gc.get_referents(
                       GEN_HELD if PY311 else GEN_HELD.gi_frame)
                   if type(r) is type(iter([]))]
            self.assertEqual(len(its), 1)
            s = self.hp.iso(its.pop(), CORO_HELD.cr_await)
            part, names = _api.via_partition(s._s)
            rows = set(tuple(sorted(names[part.row(i)[0]]))
                       for i in range(len(part)))
            self.assertEqual(rows, {
                (self.via('.gi_frame', '->f_valuestack[0]'),),
                (self.via('.cr_frame', '->f_valuestack[0]'),)})
        finally:
            CORO_HELD.close()

    def test_async_generator(self):
        global AGEN_HELD
        box = self.box

        def finalizer(agen):
            pass

        async def agen():
            z = ['a local of a suspended async generator']
            box['z'] = id(z)
            yield 1
        old = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=None, finalizer=finalizer)
        try:
            AGEN_HELD = agen()
            with self.assertRaises(StopIteration):
                AGEN_HELD.asend(None).send(None)
        finally:
            sys.set_asyncgen_hooks(*old)
        try:
            z = self.only('z')
            self.assertEqual(self.names(z),
                             {self.via('.ag_frame', ".f_locals['z']")})
            self.assertPath(z, "['AGEN_HELD'].ag_frame.f_locals['z']")
            held = self.holds(AGEN_HELD)
            self.assertEqual(held['->ag_origin_or_finalizer' if PY311
                                  else '->ag_finalizer'], id(finalizer))
        finally:
            with self.assertRaises(StopIteration):
                AGEN_HELD.aclose().send(None)

    def test_finished_generators(self):
        # Returned or raised: the frame is cleared (3.11 leaves stale
        # pointers in its slots), so no name goes through it.  Closed
        # while suspended at a yield outside any try, 3.13 only clears its
        # locals: its code and function are still held.
        def gen():
            d = ['a local of a finished generator']
            yield d

        def fails():
            e = ['a local of a generator that raised']
            yield e
            raise KeyError(e)
        returned, raised, closed = gen(), fails(), gen()
        self.assertEqual(len(list(returned)), 1)
        next(raised)
        with self.assertRaises(KeyError):
            next(raised)
        next(closed)
        closed.close()
        for g in (returned, raised):
            held = self.holds(g)
            self.assertEqual(
                set(held) - {'.__name__', '.__qualname__', '.gi_code'},
                set(), held)
        held = self.holds(closed)
        self.assertEqual([n for n in held if 'f_locals' in n or
                          'f_valuestack' in n or n == '.gi_frame'], [], held)
        self.assertEqual(held.get('.gi_frame.f_code', id(gen.__code__)),
                         id(gen.__code__))

    def test_just_created_generator(self):
        # Not started: its arguments are its locals already.
        global GEN_HELD
        box = self.box

        def gen(a, b):
            yield a
        a = ['the argument of a generator not started']
        box['a'] = id(a)
        GEN_HELD = gen(a, None)
        del a
        a = self.only('a')
        self.assertEqual(self.names(a),
                         {self.via('.gi_frame', ".f_locals['a']")})
        self.assertPath(a, "['GEN_HELD'].gi_frame.f_locals['a']")
        if sys.version_info >= (3, 12):
            # closed before it started: the frame is not cleared, and
            # still holds its arguments (gen_traverse reads it)
            GEN_HELD.close()
            a = self.only('a')
            self.assertEqual(self.names(a), {".gi_frame.f_locals['a']"})

    def test_frame_object_asked_for(self):
        # gi_frame made a frame object (3.11+): the generator still holds
        # the locals, and the frame object too.
        global GEN_HELD
        box = self.box

        def gen():
            x = ['a local of a generator whose frame was asked for']
            box['x'] = id(x)
            yield 1
        GEN_HELD = gen()
        next(GEN_HELD)
        frame_id = id(GEN_HELD.gi_frame)    # the generator keeps it
        x = self.only('x')
        self.assertEqual(self.names(x),
                         {self.via('.gi_frame', ".f_locals['x']")})
        self.assertPath(x, "['GEN_HELD'].gi_frame.f_locals['x']")
        self.assertEqual(self.holds(GEN_HELD)['.gi_frame'], frame_id)
        self.assertEqual(id(GEN_HELD.gi_frame), frame_id)

    def test_running_generator(self):
        # Walked from inside: the frame runs, its locals are the thread's
        # roots, and the generator holds them as gen_traverse reads them.
        global GEN_HELD
        box = self.box
        hp = self.hp

        def gen():
            m = ['a local of the running generator']
            box['m'] = id(m)
            h = hp.heap()
            found = [o for o in h & hp.Type(list) if id(o) == box['m']]
            part, names = _api.via_partition(hp.iso(found.pop())._s)
            yield set(names[part.row(0)[0]])
        GEN_HELD = gen()
        names = next(GEN_HELD)
        self.assertIn(".f_locals['m']", names)
        if PY311:
            self.assertIn(".gi_frame.f_locals['m']", names)

    def test_relating_generators_leaves_no_trace(self):
        # Walks, byvia, paths, holds and the inspector over generators of
        # every state: no frame object made, no reference kept.
        hp = self.hp

        def gen(a):
            x = [a]
            yield x

        async def coro(a):
            y = [a]
            await Awaitable()

        async def agen(a):
            z = [a]
            yield z

        def frames_in_gc():
            return sum(1 for o in gc.get_objects()
                       if type(o).__name__ == 'frame')

        def frames_held(gens):
            return [r for g in gens for r in gc.get_referents(g)
                    if type(r).__name__ == 'frame']

        args = [['argument %d' % i] for i in range(5)]
        created, suspended, finished = gen(args[0]), gen(args[1]), gen(
            args[2])
        next(suspended)
        list(finished)
        co, ag = coro(args[3]), agen(args[4])
        co.send(None)
        old = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=None, finalizer=None)
        try:
            with self.assertRaises(StopIteration):
                ag.asend(None).send(None)
        finally:
            sys.set_asyncgen_hooks(*old)
        gens = [created, suspended, finished, co, ag]

        def session():
            h = hp.heap()
            snap = h._s.snapshot
            s = hp.iso(*args)
            str(s.byvia), str(s.sp), str(s.rp)
            str(hp.iso(*gens).referents.byvia)
            for g in gens:
                snap.holds(snap.find(g))
            model = _explore.Model(hp)
            for k in range(len(args)):
                model.inspect(_explore.View(hp.iso(args[k]), 'clodo', 's'),
                              0, 0, tick)
            hp._last = None

        session()           # (caches filled once)
        gc.collect()
        objs = gens + args
        refcounts = [sys.getrefcount(o) for o in objs]
        nframes = frames_in_gc()
        if PY311:
            self.assertEqual(frames_held(gens), [])
        session()
        gc.collect()
        self.assertEqual([sys.getrefcount(o) for o in objs], refcounts)
        self.assertEqual(frames_in_gc(), nframes)
        if PY311:
            self.assertEqual(frames_held(gens), [])
        co.close()
        with self.assertRaises(StopIteration):
            ag.aclose().send(None)


class TestRelations(unittest.TestCase):

    def setUp(self):
        self.hp = heapscope.hpy()
        self.hp.setrelheap()
        self.cache = {}
        self.pkgs = []
        for i in range(200):
            key = 'cat/pkg-%04d' % i
            data = {'DESCRIPTION': 'description %d' % i, 'SLOT': 'slot-%d' % i}
            p = Pkg(key, data)
            self.pkgs.append(p)
            self.cache[key] = p
        self.atoms = [Atom(p.key, p.data['SLOT']) for p in self.pkgs[:50]]

    def tearDown(self):
        del self.pkgs, self.cache, self.atoms
        gc.collect()

    def test_referrers_and_referents(self):
        hp = self.hp
        h = hp.heap()
        datas = h & hp.Type(dict)
        datas = datas - hp.iso(self.cache)
        if not PY311:
            datas = datas - hp.Clodo(dictof=Pkg)
        # the test runner may have made a dict or two since the mark
        mine = h & hp.iso(*[p.data for p in self.pkgs])
        self.assertEqual(mine.count, 200)
        self.assertTrue(mine <= datas)
        self.assertLessEqual(datas.count, 205)
        datas = mine
        refs = datas.referrers
        if PY311:
            self.assertEqual(refs, h & hp.Type(Pkg))
        else:
            self.assertEqual(refs, h & hp.Clodo(dictof=Pkg))
        inside = datas.referents
        # each data dict holds two fresh strings (keys are shared constants
        # from before the mark)
        self.assertEqual(((inside & hp.Type(str)) & h).count, 400)

    def test_byrcs_labels(self):
        hp = self.hp
        h = hp.heap()
        text = str((h & hp.Type(str)).byrcs)
        self.assertTrue(text.splitlines()[1].endswith(
            'Referrers by Kind (class / dict of class)'))
        # keys: held by the cache dict, the instance (or its dict) and
        # for the first 50 by an Atom
        self.assertIn('test_relations.Atom', text)

    def test_byrcs_symmetric_difference_is_nothing(self):
        hp = self.hp
        h = hp.heap()
        strs = h & hp.Type(str)
        a = strs.byrcs
        b = h.byrcs
        for i in range(len(a.partition)):
            row = a[i]
            self.assertEqual(str(row ^ (row & strs)), 'hp.Nothing')

    def test_via_kind_filters(self):
        hp = self.hp
        sub = hp.idset(a.key for a in self.atoms)
        self.assertEqual(str(sub & hp.Via('.key')), 'hp.Nothing')
        self.assertEqual(str(sub & hp.Via('.key').alt('<')), 'hp.Nothing')
        self.assertEqual((sub & ~hp.Via('.key')).count, sub.count)
        self.assertEqual((sub & hp.Via('.key').alt('<')).count, 0)
        self.assertEqual((sub & hp.Via('.key').alt('>')).count, sub.count)
        slots = hp.idset(a.slot for a in self.atoms)
        byvia = str(slots.byvia)
        self.assertIn("'.slot'", byvia)
        self.assertIn("\"['SLOT']\"", byvia)

    def test_domisize_known_by_construction(self):
        hp = self.hp
        p = self.pkgs[70]       # no Atom shares its SLOT string
        data = p.data
        expected = heapscope._heapscope.sizeof(data) + sum(
            heapscope._heapscope.sizeof(v) for v in data.values())
        # the value strings are held only by this dict: freed with it (the
        # keys are shared constants)
        self.assertEqual(hp.iso(data).domisize, expected)
        # two packages held by both the cache and the list: neither alone
        # frees anything beyond itself...
        self.assertEqual(hp.iso(p).domisize, own_size(p))
        # ...but the list and the cache together free every package
        # (p and data are locals of this frame: they stay alive)
        both = hp.iso(self.pkgs, self.cache)
        self.assertGreaterEqual(both.domisize, sum(
            own_size(x) for x in self.pkgs if x is not p))
        freed = both.dominos
        self.assertIn(self.pkgs[71], freed)
        self.assertNotIn(p, freed)

    def test_iso_of_a_temporary(self):
        # held only by the call: still in the set, and what it alone holds
        # is what it dominates
        sizeof = heapscope._heapscope.sizeof
        s = self.hp.iso([object(), object()])
        self.assertEqual(s.count, 1)
        self.assertEqual(s.domisize, s.size + 2 * sizeof(object()))
        self.assertEqual(s.referents.count, 2)

    def test_query_temporaries_are_not_held_by_c(self):
        # the argument tuple of iso() lives only in heapscope's frames: it
        # must not make the program's objects look held by C code
        sizeof = heapscope._heapscope.sizeof
        p = self.pkgs[60]       # its data dict and values are its alone
        self.assertEqual(self.hp.iso(p).domisize, own_size(p) + sizeof(
            p.data) + sum(sizeof(v) for v in p.data.values()))
        both = self.hp.iso(self.pkgs, self.cache)
        self.assertIn(self.pkgs[6], both.dominos)

    def test_weakref_keeps_nothing(self):
        import weakref
        hp = self.hp
        holder = [Pkg('weak-%d' % id(self), {'x': 1})]
        w = weakref.ref(holder[0])
        freed = hp.iso(holder).dominos
        self.assertIn(holder[0], freed)
        self.assertIn(holder[0].data, freed)
        self.assertNotIn(w, freed)
        self.assertEqual(hp.iso(holder).domisize, freed.size)

    def test_shortest_path(self):
        hp = self.hp
        global PATH_TARGET
        PATH_TARGET = {'leaf': ['x']}
        text = str(hp.iso(PATH_TARGET['leaf']).sp)
        self.assertTrue(text.startswith(' 0: hpy().Root.'), text)
        self.assertTrue(text.endswith("['PATH_TARGET']['leaf']"), text)


class TestMorePartitions(unittest.TestCase):

    def setUp(self):
        self.hp = heapscope.hpy()
        self.hp.setrelheap()

    def test_byvia_of_a_big_list_names_every_index(self):
        # one pass over the list, not one per item
        items = [object() for _ in range(20000)]
        holder = [items]
        s = self.hp.idset(items)
        p = s.byvia
        self.assertEqual(len(p), 20000)
        text = str(p.all)
        self.assertIn("'[12345]'", text)
        self.assertIn("'[0]'", text)
        # one-name rows like these are codes until shown
        part, names = _api.via_partition(s._s)
        self.assertEqual(len(names), 20000)
        shown = sorted(names[part.row(i)[0]][0] for i in range(len(part)))
        self.assertEqual(shown, sorted('[%d]' % i for i in range(20000)))
        with self.assertRaises(IndexError):
            names[20000]
        with self.assertRaises(ValueError):
            heapscope._heapscope.via_name(0)
        del holder

    def test_byvia_on_two_cores_as_on_one(self):
        # Enough referrers for a worker thread to relate some of them:
        # holders of every kind, and types (left to the main thread) among
        # them; the rows must be those of one core, names and all.
        import weakref

        class Plain(object):
            pass

        class Sub(dict):
            pass

        class Ref(weakref.ref):
            __slots__ = ('key',)

        def closure(x):
            return lambda: x

        anchor = Plain()
        n = 5000
        strs = ['v%06d' % i for i in range(n * 9)]
        holders = []
        for i in range(n):
            a, b, c, d, e, f, g, k, m = strs[9 * i:9 * i + 9]
            p = Plain()
            p.attr = a
            sub = Sub()
            sub[b] = c
            r = Ref(anchor)
            r.key = d
            holders += [{'k': e, f: i}, (g, g), [k], p, sub, r, {m},
                        closure(a), Atom(b, m)]
            if i % 25 == 0:
                holders.append(type(e, (object,), {}))
        del a, b, c, d, e, f, g, k, m, p, sub, r     # no frame holds them
        filler = [[] for _ in range(1 << 18)]   # a scan split in two
        s = self.hp.idset(strs)
        snap = s._s.snapshot
        self.assertGreater(snap.count, len(filler))
        rows = {}
        # (the referrers from a scan of the edges, then from the relations)
        for how in ('scan', 'relations'):
            if how == 'relations':
                snap.referrer_ids(0)
            for threads in (1, 2):
                self.assertEqual(snap.has_relations, how == 'relations')
                part, names = s._s.via_partition(threads=threads,
                                                 derive=False)
                names = _api._ViaNames(names)
                rows[how, threads] = sorted(
                    (part.row(i)[1], part.row(i)[2],
                     tuple(sorted(names[part.row(i)[0]])))
                    for i in range(len(part)))
        for key in rows:
            self.assertTrue(rows[key] == rows['scan', 1],
                            'byvia differs: %s, %d threads' % key)
        rows = {threads: rows['scan', threads] for threads in (1, 2)}
        # (every member is also strs[i], named "[i]")
        labels = set(tuple(n for n in r[2] if not n[1:-1].isdigit()
                           or int(n[1:-1]) < 2) for r in rows[2])
        # (an instance's attributes are its __dict__'s before 3.11)
        attr = ('.attr', '.cell_contents') if PY311 else ('.cell_contents',
                                                           "['attr']")
        for want in (attr, ('.key', '.keys()[0]'), ('.key',), ("['k']",),
                     ('.__name__', '.__qualname__', "['k']"),
                     ('.keys()[1]',), ('[0]', '[1]'), ('[0]',),
                     ('.slot', 'list(_)[0]')):
            self.assertTrue(want in labels, want)
        self.assertTrue(any(len(r[2]) == 2 and r[2][0].startswith("['v")
                            for r in rows[2]))
        del holders, filler

    def test_byvia_ways_merged_into_either_thread(self):
        # The thread that relates a big dict of keys of their own makes
        # far more ways than the other, whose ways are then merged into
        # its table (not the other way round): whichever thread took the
        # dict, the rows are those of one core.  Which one takes it is
        # the threads' race (the dict is reached late in the walk, so its
        # referrer falls in a later block: either thread's about as
        # often), so two cores are asked ten times.
        import itertools
        n = 40000
        small = [{'k': 'u%06d' % i} for i in range(n)]           # "['k']"
        late = [{'key%06d' % i: 'v%06d' % i for i in range(n)}]
        # (no list of them all at the walk: each would be "[i]" too)
        s = self.hp.idset(itertools.chain((d['k'] for d in small),
                                          late[0].values()))

        def rows(threads):
            part, names = s._s.via_partition(threads=threads, derive=False)
            names = _api._ViaNames(names)
            return sorted((part.row(i)[1], part.row(i)[2],
                           tuple(sorted(names[part.row(i)[0]])))
                          for i in range(len(part)))

        one = rows(1)
        self.assertEqual(len(one), n + 1)
        counts = dict((r[2], r[0]) for r in one)
        self.assertEqual(counts[("['k']",)], n)
        self.assertEqual(counts[("['key000007']",)], 1)
        for _ in range(10):
            self.assertTrue(rows(2) == one, 'byvia differs on two cores')
        del small, late

    def test_byvia_rows_numbered_in_two_parts_as_in_one(self):
        # A set this big is numbered on two cores, each part with rows of
        # its own made one at the end: the rows, and their order (ties go
        # to the row met first), must be those of one pass, with names of
        # one (in both parts), lists of their own (in both) and a list
        # shared by members of both parts.
        class Obj(object):
            pass

        n = 90000
        strs = ['w%06d' % i for i in range(3 * n)]
        seq, objs, dicts = [], [], []
        for i, x in enumerate(strs):
            if i % 3 != 2:
                seq.append(x)                   # "[j]"
            if i % 3 != 0:
                o = Obj()
                o.a = x                         # ".a"
                objs.append(o)
            if i % 3 == 2:
                dicts.append({'k': x})          # "['k']"
        del strs, x, o
        s = self.hp.heap() & self.hp.Type(str)
        self.assertGreater(s.count, 3 * n - 1)
        rows = {}
        for threads in (1, 2):
            part, names = s._s.via_partition(threads=threads, derive=False)
            names = _api._ViaNames(names)
            rows[threads] = [(part.row(i)[1], part.row(i)[2],
                              tuple(sorted(names[part.row(i)[0]])))
                             for i in range(len(part))]
        self.assertEqual(len(rows[1]), len(rows[2]))
        self.assertTrue(rows[1] == rows[2], 'byvia differs in two parts')
        # (an instance's attributes are its __dict__'s before 3.11)
        attr = '.a' if PY311 else "['a']"
        shared = [r for r in rows[2] if r[2] == tuple(sorted((attr, "['k']")))]
        self.assertEqual(len(shared), 1)
        self.assertEqual(shared[0][0], n)
        self.assertTrue(any(len(r[2]) == 2 and attr in r[2] and
                            any(x[1:-1].isdigit() for x in r[2])
                            for r in rows[2]))
        del seq, objs, dicts

    def test_byvia_of_a_subset_cut_from_a_live_superset(self):
        # While a byvia partition of the heap lives, a byvia of a set
        # within it is cut from it (its name lists shared, not made
        # again): the same rows, in the same order, with the same members
        # as relating the set's referrers gives; a set not within it, or
        # one too small to be worth two passes over it, or any set once
        # the heap's partition is gone, is related.
        class Obj(object):
            pass

        n = 3000
        strs = ['z%05d' % i for i in range(n)]
        seq, objs, dicts = [], [], []
        for i, x in enumerate(strs):
            if i % 3 != 2:
                seq.append(x)
            if i % 4 != 0:
                o = Obj()
                o.a = x
                objs.append(o)
            if i % 5 == 1:
                dicts.append({'k': x, x: (x, i)})
        del x, o
        h = self.hp.heap()
        whole, wraw = h._s.via_partition()

        def rows(part, raw):
            names = _api._ViaNames(raw)
            return [(part.row(i)[1], part.row(i)[2],
                     tuple(sorted(names[part.row(i)[0]])),
                     tuple(part.group(i)))
                    for i in range(len(part))]

        def cut(s):
            part, raw = s.via_partition()
            self.assertEqual(part.cut, raw[3] is wraw[3])
            return rows(part, raw), part.cut

        subsets = [h._s, h[0]._s, h[1]._s, (h[0] | h[2])._s,
                   (h & self.hp.Type(str))._s, (h & self.hp.Type(tuple))._s]
        for s in subsets:
            got, derived = cut(s)
            self.assertTrue(derived)
            self.assertTrue(got == rows(*s.via_partition(derive=False)),
                            'byvia cut from the heap\'s differs')
        # a set cut from a cut one: from the smaller, the same again
        strs_s = (h & self.hp.Type(str))._s
        mid, mraw = strs_s.via_partition()
        got = strs_s.via_partition()
        self.assertTrue(got[0].cut and got[1][3] is mraw[3])
        self.assertTrue(rows(*got) == rows(mid, mraw))
        del mid, mraw, got
        # not within the heap: one of the snapshot's objects from before
        # the mark as well
        snap = h._s.snapshot
        before, missing = snap.idset((_api,))
        self.assertEqual((len(before), missing), (1, 0))
        more = h[0]._s | before
        self.assertEqual(len(more), len(h[0]._s) + 1)
        part, raw = more.via_partition()
        self.assertFalse(part.cut or raw[3] is wraw[3])
        self.assertTrue(rows(part, raw) ==
                        rows(*more.via_partition(derive=False)))
        # too small next to the heap's partition
        part, raw = self.hp.iso(strs[5])._s.via_partition()
        self.assertFalse(part.cut)
        # the heap's partition gone: related again
        del whole, wraw, part, raw
        one, oraw = h[0]._s.via_partition()
        self.assertFalse(one.cut)
        self.assertTrue(rows(one, oraw) ==
                        rows(*h[0]._s.via_partition(derive=False)))
        del seq, objs, dicts, strs

    def test_byrcs_of_a_subset_cut_from_a_live_superset(self):
        # As byvia: while the heap's byrcs lives, a subset's is cut from
        # it, with the same rows, kinds, order and members as computing
        # it; not for a set not within the heap, nor once it is gone.
        class Obj(object):
            pass

        n = 3000
        strs = ['r%05d' % i for i in range(n)]
        held = []
        for i, x in enumerate(strs):
            if i % 3 == 0:
                o = Obj()
                o.a = x
                held.append(o)
            if i % 4 == 1:
                held.append({'k': x})
            if i % 5 == 2:
                held.append((x, i))
        del x, o
        h = self.hp.heap()
        whole = h._s.rcs_partition()
        self.assertFalse(whole.cut)

        def rows(part):
            return [(part.row(i)[1], part.row(i)[2],
                     part.rcs_keys(part.row(i)[0]), tuple(part.group(i)))
                    for i in range(len(part))]

        for s in (h._s, h[0]._s, h[1]._s, (h[0] | h[2])._s,
                  (h & self.hp.Type(str))._s):
            got = s.rcs_partition()
            self.assertTrue(got.cut)
            self.assertTrue(rows(got) == rows(s.rcs_partition(derive=False)),
                            'byrcs cut from the heap\'s differs')
        # and as printed: the same table as computing it
        text = str((h & self.hp.Type(str)).byrcs)
        self.assertTrue(any(len(r[3]) > 1 for r in rows(whole)))
        before, missing = h._s.snapshot.idset((_api,))
        more = h[0]._s | before
        got = more.rcs_partition()
        self.assertFalse(got.cut)
        self.assertTrue(rows(got) == rows(more.rcs_partition(derive=False)))
        del whole, got
        self.assertFalse(h[0]._s.rcs_partition().cut)
        self.assertEqual(text, str((h & self.hp.Type(str)).byrcs))
        del held, strs

    def test_each_reference_is_named_once(self):
        # The fields of a method, a function, its code, a module, a class
        # and a builtin function are named once each, not once more as the
        # members of their type.
        import json

        def f(a, b=('default',)):
            return a

        m = Pkg('k', {}).__init__
        h = self.hp.heap()
        snap = h._s.snapshot
        for obj in (m, f, f.__code__, json, Pkg, len):
            node = snap.find(obj)
            self.assertGreaterEqual(node, 0, obj)
            held = snap.holds(node, 1000)
            pairs = [(name, id(value)) for name, value in held]
            self.assertEqual(len(pairs), len(set(pairs)), (obj, held))
            self.assertTrue(held, obj)
        names = [name for name, value in snap.holds(snap.find(m), 10)]
        self.assertEqual(sorted(names), ['.__func__', '.__self__'])

    def test_byprod_when_not_tracing(self):
        import tracemalloc
        if tracemalloc.is_tracing():
            self.skipTest('tracemalloc is on')
        x = [Pkg('a', {}) for _ in range(10)]
        text = str(self.hp.heap().byprod)
        self.assertIn('tracemalloc is not tracing', text)
        self.assertTrue(text.splitlines()[1].endswith(
            'Producer (line of allocation)'))
        del x

    def test_byprod_names_the_allocating_line(self):
        import tracemalloc
        was = tracemalloc.is_tracing()
        if not was:
            tracemalloc.start()
        try:
            hp = heapscope.hpy()
            hp.setrelheap()
            made = [Pkg('k%d' % i, {'n': i}) for i in range(300)]  # HERE
            with open(__file__) as f:
                line = [n for n, text in enumerate(f, 1)
                        if text.rstrip().endswith('# HERE')][0]
            p = (hp.heap() & hp.Type(Pkg)).byprod
            self.assertEqual(len(p.partition), 1)
            self.assertTrue(p._row(0)[0].endswith(
                'test_relations.py:%d' % line), p._row(0)[0])
            self.assertEqual(p._row(0)[1], 300)
            del made
        finally:
            if not was:
                tracemalloc.stop()

    def test_dominated_column(self):
        keep = [[object() for _ in range(3)] for _ in range(50)]
        h = self.hp.heap()
        p = (h & hp_type(self.hp, list)).bytype.dominated
        text = str(p)
        self.assertIn(' Dominated ', text.splitlines()[1])
        row = text.splitlines()[2].split()
        self.assertEqual(int(row[7]), p[0].domisize)
        del keep

    def test_rp(self):
        leaf = {'leaf': 1}
        mid = [leaf]
        top = Pkg('top', mid)
        hp = self.hp
        rp = hp.iso(leaf).rp
        text = str(rp)
        lines = text.splitlines()
        self.assertEqual(lines[0], 'Reference Pattern by <[dict of] class>.')
        self.assertTrue(lines[1].startswith(' 0: _ '), lines[1])
        self.assertIn('1 dict (no owner)', lines[1])
        import re
        # the list is one kind of referrer, a line one level down (before
        # 3.11 the running frame is another)
        found = [m.groups() for m in
                 (re.match(r' *(\d+): (\S+) .*\] 1 list:', ln)
                  for ln in lines[2:]) if m]
        self.assertEqual(len(found), 1, text)
        index, name = int(found[0][0]), found[0][1]
        self.assertEqual(len(name), 1)
        self.assertIs(rp._.theone, leaf)
        self.assertIs(getattr(rp, name).theone, mid)
        self.assertIs(rp[index].theone, mid)
        holder = heapscope._heapscope.instance_dict(top)
        self.assertIn(top if holder is None else holder,
                      getattr(rp, name + 'a'))
        # a local of this frame: the root holds it
        self.assertIn('[R]', text)
        short = str(hp.iso(leaf).get_rp(1))
        self.assertIn('[+]', short)
        depth1 = [ln for ln in lines[2:]
                  if len(re.match(r' *\d+: (\S+)', ln).group(1)) == 1]
        self.assertEqual(len(short.splitlines()), 2 + len(depth1), short)
        del top


def hp_type(hp, t):
    return hp.Type(t)


class TestReachability(unittest.TestCase):

    def test_every_object_has_a_path_and_a_dominator(self):
        # every object of a snapshot is reached from one of its roots: by a
        # shortest path, and in the dominator tree (nothing is left out of
        # dominated sizes because nothing seemed to refer to it)
        hp = heapscope.hpy()
        h = hp.heap()
        snap = h._s.snapshot
        ids = h._s.ids()
        self.assertGreater(len(ids), 1000)
        for i in ids[::7]:
            self.assertTrue(snap.shortest_path(i), snap.node(i))
        dominated = sum(snap.retained(i)[0] > 0 for i in ids[::7])
        self.assertEqual(dominated, len(ids[::7]) - sum(
            snap.node(i)[2] == 0 for i in ids[::7]))


PATH_TARGET = None
GEN_HELD = CORO_HELD = AGEN_HELD = None


if __name__ == '__main__':
    unittest.main()
