"""Reliability: the program survives heapscope, whatever it holds and
whenever it is asked.

- neutral: a whole session (the heap, every partition, dominators, paths,
  the explorer's model) leaves the heap as it found it;
- hostile objects: hooks that raise, hang or record, a lying __class__,
  resurrection, C types with broken or missing tp_traverse;
- shape extremes: ten-million-long chains and lists, a five-million-key
  dict, a 1000-deep class hierarchy, cycles, 200 blocked threads,
  suspended generators and coroutines, gc.freeze() and gc.disable();
- concurrency: threads allocating while the hotkey's action snapshots;
- bad input at the API: clear exceptions, nothing lost;
- memory errors: the address space limited (RLIMIT_AS) so the walk's
  allocations fail at many points: MemoryError, no reference kept, and
  the process goes on.
"""

import collections
import ctypes
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import weakref

import heapscope
from heapscope import _api, _explore
from heapscope import _heapscope as C
from heapscope import demo

PY311 = sys.version_info >= (3, 11)
SANITIZED = os.environ.get('HEAPSCOPE_SANITIZERS') == 'yes'

try:
    import _hostile
except ImportError:         # run by hand without the test extensions
    _hostile = None


def tick(what, done, total):
    pass


def interned_bits(s):
    """The `interned` field of a str (the low two bits of its state word,
    right after ob_refcnt, ob_type, length and hash on every 3.9-3.13)."""
    return ctypes.c_uint8.from_address(id(s) + 32).value & 3


def census(into):
    """Count the collector's objects by type into the dict `into` (filled
    in place, so that the census itself adds no object to the next)."""
    gc.collect()
    objs = gc.get_objects()
    into.clear()
    for o in objs:
        t = type(o)
        into[t] = into.get(t, 0) + 1


def diff(before, after):
    """{type name: (before, after)} where the counts differ."""
    return {t.__name__: (before.get(t, 0), after.get(t, 0))
            for t in set(before) | set(after)
            if before.get(t, 0) != after.get(t, 0)}


def frames_in_gc():
    return sum(1 for o in gc.get_objects() if type(o).__name__ == 'frame')


class Blocked(object):
    """A thread blocked in a function whose locals alone hold `value`."""

    def __init__(self, value):
        self.go = threading.Event()
        self.ready = threading.Event()
        self.box = [value]
        self.thread = threading.Thread(target=self.run)
        self.thread.daemon = True
        self.thread.start()
        self.ready.wait(10)

    def run(self):
        local_marker = self.box.pop()  # noqa: F841 (held by the frame)
        self.ready.set()
        self.go.wait(60)

    def stop(self):
        self.go.set()
        self.thread.join(10)


def whole_session(hp, keep):
    """Everything a user can ask of one heap, the explorer's model too;
    returns nothing (all of it is dropped)."""
    h = hp.heap()
    for p in (h, h.bytype, h.bysize, h.bymodule, h.byunity, h.byrcs,
              h.byprod, h[0].byrcs, h.byrcs[0].referrers.byrcs):
        str(p)
    str(h.byid[0:20])
    str(h[0].byvia)
    t = h.byrcs[0].referrers
    t.domisize, t.dominos.count, t.referents.byvia, str(t.byvia)
    one = hp.iso(keep[0])
    str(one.sp), str(one.rp), one.referrers.count, one.referents.count
    str(h.byrcs.dominated)
    model = _explore.Model(hp)
    root = model.root(tick)
    for rel in range(len(_explore.RELATIONS)):
        try:
            v = model.repartition(root, rel, tick)
        except _explore._Answer:        # (p without tracemalloc: why not)
            continue
        for k in range(min(3, v.nrows())):
            model.row(v, k)
    rcs = model.repartition(root, _explore.RELATIONS.index('rcs'), tick)
    for how in (_explore.STEP_OPEN, _explore.STEP_REFERRERS,
                _explore.STEP_REFERENTS, _explore.STEP_DOMINOS):
        model.step(rcs, 0, how, tick)
    model.inspect(root, 0, 0, tick)
    model.inspect(_explore.View(one, 'clodo', 's'), 0, 0, tick)


class TestNeutral(unittest.TestCase):
    """After a whole session the heap is as it was: the same objects of
    the same types, the same refcounts, no dict, frame, interned or
    UTF-8-cached string, or thread-state dict that was not there."""

    def test_a_whole_session_leaves_the_heap_as_it_was(self):
        hp = _api.Use()
        hp.setrelheap()
        repo = demo.Repository().load(3000)
        keep = repo.packages
        names = ['\u00e9t\u00e9-%d' % i for i in range(200)]   # non-ASCII
        blocked = Blocked(names)
        self.addCleanup(blocked.stop)
        whole_session(hp, keep)      # warm up caches (type names, etc.)
        hp._last = None
        gc.collect()

        objs = gc.get_objects()
        sample = objs[::max(1, len(objs) // 9000)][:9000] + \
            [s for p in keep[:300] for s in p.data.values()] + names
        del objs
        # (types gain a reference per instance made, and from the census)
        sample = [o for o in sample if not isinstance(o, type)][:10000]
        self.assertEqual(len(sample), 10000)
        strs = [o for o in sample if type(o) is str]
        interned = [interned_bits(s) for s in strs]
        sizes = [sys.getsizeof(s) for s in strs]
        refcounts = [sys.getrefcount(o) for o in sample]
        if PY311:
            dicts = [C.instance_dict(p) for p in keep]
            self.assertTrue(all(d is None for d in dicts))
        nframes = frames_in_gc()
        tdicts = C.thread_dicts()
        ninterned = getattr(sys, 'getunicodeinternedsize', lambda: 0)()
        # made (and tracked by the collector, as a dict holding a list
        # is) before either census
        pin = []
        before, after = {None: pin}, {None: pin}
        census(before)

        whole_session(hp, keep)
        hp._last = None
        census(after)

        self.assertEqual(diff(before, after), {})
        now = [sys.getrefcount(o) for o in sample]     # as measured before
        changed = collections.Counter(
            (type(o).__name__, b - a)
            for o, a, b in zip(sample, refcounts, now) if a != b)
        self.assertEqual(changed, {})
        self.assertEqual([interned_bits(s) for s in strs], interned)
        self.assertEqual([sys.getsizeof(s) for s in strs], sizes)
        if PY311:
            self.assertTrue(all(C.instance_dict(p) is None for p in keep))
        self.assertEqual(frames_in_gc(), nframes)
        self.assertEqual(C.thread_dicts(), tdicts)
        self.assertFalse(tdicts[blocked.thread.ident])
        self.assertEqual(getattr(sys, 'getunicodeinternedsize',
                                 lambda: 0)(), ninterned)


class Evil(object):
    """Every hook a walker could be tempted to call: each records the call
    and raises, except __repr__ and __eq__, which hang when `hang` is
    set."""
    calls = []
    hang = False

    def __init__(self, i):
        object.__setattr__(self, 'i', i)

    def _hit(self, what):
        Evil.calls.append(what)
        if Evil.hang:
            while True:
                time.sleep(1)
        raise RuntimeError(what)

    def __repr__(self):
        return self._hit('repr')

    def __eq__(self, other):
        return self._hit('eq')

    def __hash__(self):
        return self._hit('hash')

    def __sizeof__(self):
        return self._hit('sizeof')

    def __getattr__(self, name):
        return self._hit('getattr ' + name)

    def __getattribute__(self, name):
        if name in ('_hit', '__class__', '__dict__', 'i'):
            return object.__getattribute__(self, name)
        Evil.calls.append('getattribute ' + name)
        raise AttributeError(name)

    def __del__(self):
        Evil.calls.append('del')

    def __iter__(self):
        return self._hit('iter')

    def __len__(self):
        return self._hit('len')

    def __dir__(self):
        return self._hit('dir')


class Liar(object):
    """Claims to be an int."""

    @property
    def __class__(self):
        return int


graveyard = []


class Phoenix(object):
    """Puts itself back into the heap when it dies."""

    def __del__(self):
        graveyard.append(self)


class TestHostile(unittest.TestCase):

    def setUp(self):
        Evil.calls[:] = []
        Evil.hang = False

    def test_the_walk_and_the_tables_call_no_hook(self):
        hp = _api.Use()
        hp.setrelheap()
        evil = [Evil(i) for i in range(100)]
        holder = {'evil': evil, 'first': evil[0]}
        Evil.hang = True               # a call would hang the test
        h = hp.heap()
        e = h & hp.Type(Evil)
        self.assertEqual(e.count, 100)
        for p in (h, e.byrcs, e.byvia, e.bysize, e.referrers.byrcs,
                  e.byid):
            str(p)
        e.domisize, str(hp.iso(evil[3]).sp)
        model = _explore.Model(hp, e)
        page = model.inspect(model.root(tick), 0, 0, tick)
        self.assertIn('Evil at 0x', page[5])
        self.assertEqual(Evil.calls, [])
        del h, e, model, page
        Evil.hang = False
        self.assertEqual(len(holder), 2)

    def test_a_lying_class_is_classified_by_its_real_type(self):
        hp = _api.Use()
        hp.setrelheap()
        liars = [Liar() for _ in range(10)]
        h = hp.heap()
        self.assertIsInstance(liars[0], int)     # it lies to Python code
        self.assertEqual((h & hp.Type(Liar)).count, 10)   # not to us
        self.assertIn('.Liar', str(h))
        self.assertEqual((h & hp.Type(int)).count, 0)

    def test_resurrection(self):
        hp = _api.Use()
        hp.setrelheap()
        birds = [Phoenix() for _ in range(50)]
        h = hp.heap()
        s = h & hp.Type(Phoenix)
        self.assertEqual(s.count, 50)
        del birds                  # only the set holds them now
        self.assertEqual(graveyard, [])
        self.assertEqual(s.count, 50)
        del h, s
        hp._last = None
        gc.collect()
        self.assertEqual(len(graveyard), 50)   # their __del__ ran, once
        h = hp.heap()
        self.assertEqual((h & hp.Type(Phoenix)).count, 50)
        del h
        hp._last = None
        graveyard[:] = []

    @unittest.skipIf(_hostile is None, 'the test extensions are not built')
    def test_broken_tp_traverse(self):
        hp = _api.Use()
        hp.setrelheap()
        targets = {}
        for mode in ('error', 'null', 'repeat', 'self', 'static', 'raise',
                     'none'):
            objs = tuple(['%s-%d' % (mode, i)] for i in range(5))
            targets[mode] = (_hostile.Mess(mode, *objs), objs)
        holder = [m for m, _objs in targets.values()]
        only = {mode: [id(o) for o in objs]
                for mode, (_m, objs) in targets.items()}
        del targets
        _hostile.arm(True)
        try:
            h = hp.heap()
        finally:
            _hostile.arm(False)
        # Python code after the walk sees no stray exception
        self.assertEqual(sum(1 for _ in range(3)), 3)
        messes = h & hp.Type(_hostile.Mess)
        self.assertEqual(messes.count, 7)
        seen = {id(o) for o in (h & hp.Type(list)).nodes}
        for mode in ('null', 'repeat', 'self', 'static', 'raise'):
            self.assertTrue(set(only[mode]) <= seen, mode)
        # an early stop still reports what came before it
        self.assertIn(only['error'][0], seen)
        str(messes.byvia), str(messes.referents.byrcs), messes.domisize
        repeat = [m for m in holder if m.objs[0][0].startswith('repeat')]
        one = hp.iso(repeat[0])
        self.assertEqual(one.referents.count, 6)      # 5 lists and its type
        del h, messes, one

    @unittest.skipIf(_hostile is None, 'the test extensions are not built')
    def test_a_type_without_traverse(self):
        hp = _api.Use()
        hp.setrelheap()
        hidden = tuple('opaque-%d' % i for i in range(10))
        box = _hostile.Opaque(*hidden)
        h = hp.heap()
        self.assertEqual((h & hp.Type(_hostile.Opaque)).count, 1)
        str(h.byrcs), h.domisize
        del h
        self.assertEqual(len(box.__class__.__name__), 6)


class TestShapes(unittest.TestCase):
    """Shapes that break recursive or quadratic walkers."""

    def tearDown(self):
        gc.collect()

    def test_ten_million_long_linked_list(self):
        hp = _api.Use()
        hp.setrelheap()
        head = None
        for _ in range(10 ** 7):
            head = (head,)
        h = hp.heap()
        t = h & hp.Type(tuple)
        self.assertEqual(t.count, 10 ** 7)
        # the dominator tree is ten million deep
        self.assertEqual(hp.iso(head).domisize, t.size)
        node = head
        for _ in range(1000):
            node = node[0]
        self.assertEqual(hp.iso(node).domisize,
                         t.size - 1000 * C.sizeof(node))
        path = str((h & hp.iso(node)).sp)    # in h, where only head is
        self.assertEqual(path.count('[0]'), 1000, path[:200])
        del h, t, path, node
        hp._last = None
        # tear the chain down without recursion in the deallocator
        while head is not None:
            head = head[0]

    def test_ten_million_item_list(self):
        hp = _api.Use()
        hp.setrelheap()
        big = [float(i) for i in range(10 ** 7)]
        h = hp.heap()
        self.assertEqual((h & hp.Type(float)).count, 10 ** 7)
        self.assertEqual(h.byrcs[0].count, 10 ** 7)
        vias = hp.iso(big[9999999]).byvia
        self.assertIn('[9999999]', str(vias))
        del h, vias
        hp._last = None
        del big

    def test_five_million_key_dict(self):
        hp = _api.Use()
        hp.setrelheap()
        d = {'k%d' % i: None for i in range(5 * 10 ** 6)}
        h = hp.heap()
        self.assertEqual((h & hp.Type(str)).count, 5 * 10 ** 6)
        self.assertEqual((h & hp.Type(dict)).count, 1)
        one = hp.iso(d)
        dom = one.dominos                  # the dict and its keys
        self.assertEqual(dom.count, 5 * 10 ** 6 + 1)
        self.assertEqual((dom & hp.Type(str)).count, 5 * 10 ** 6)
        self.assertEqual(one.domisize, dom.size)
        del one, dom
        del h
        hp._last = None
        del d

    def test_thousand_deep_class_hierarchy(self):
        hp = _api.Use()
        hp.setrelheap()
        classes = [type('Deep0', (object,), {})]
        for i in range(1, 1000):
            classes.append(type('Deep%d' % i, (classes[-1],), {}))
        inst = classes[-1]()
        h = hp.heap()
        self.assertEqual((h & hp.Type(type)).count, 1000)
        str(h.byrcs), str(h.bytype)
        self.assertIn('Deep999', str(hp.iso(inst)))
        self.assertTrue(str(hp.iso(classes[0]).sp))
        del h
        hp._last = None

    def test_self_referencing_containers(self):
        hp = _api.Use()
        hp.setrelheap()
        a = []
        a.append(a)
        d = {}
        d['me'] = d
        o = type('Loop', (object,), {})()
        o.me = o
        h = hp.heap()
        for x in (a, d, o):
            one = hp.iso(x)
            # itself, or (before 3.11) through its __dict__
            near = one.referents | one.referents.referents
            self.assertIn(x, list(near.nodes))
            self.assertTrue(one.domisize > 0)
            str(one.byvia), str(one.sp), str(one.rp)
        del h, one
        hp._last = None

    def test_two_hundred_blocked_threads(self):
        hp = _api.Use()
        hp.setrelheap()
        markers = [['thread-marker-%d' % i] for i in range(200)]
        threads = [Blocked(m) for m in markers]
        try:
            ids = {id(m) for m in markers}
            del markers
            h = hp.heap()
            found = {id(o) for o in (h & hp.Type(list)).nodes} & ids
            self.assertEqual(len(found), 200)
            vias = str(h.byrcs)
            self.assertTrue(vias)
            nframes = frames_in_gc()
            del h
            hp._last = None
            self.assertEqual(frames_in_gc(), nframes)
        finally:
            for t in threads:
                t.stop()

    def test_suspended_generators_and_coroutines(self):
        hp = _api.Use()
        hp.setrelheap()

        def gen(marker):
            held = marker               # noqa: F841
            yield 1
            yield 2

        async def coro(marker):
            held = marker               # noqa: F841
            await Awaitable()

        class Awaitable(object):
            def __await__(self):
                yield 'suspended'

        gm, cm = ['gen-marker'], ['coro-marker']
        g = gen(gm)
        next(g)
        c = coro(cm)
        c.send(None)
        ids = {id(gm), id(cm)}
        del gm, cm
        h = hp.heap()
        self.assertEqual({id(o) for o in (h & hp.Type(list)).nodes} & ids,
                         ids)
        del h
        hp._last = None
        c.close()
        self.assertEqual(next(g), 2)

    def test_gc_disabled_and_frozen(self):
        hp = _api.Use()
        hp.setrelheap()
        keep = [[i] for i in range(1000)]
        old = gc.isenabled()
        gc.disable()
        try:
            n1 = (hp.heap() & hp.Type(list)).count
            gc.freeze()
            try:
                n2 = (hp.heap() & hp.Type(list)).count
            finally:
                gc.unfreeze()
        finally:
            if old:
                gc.enable()
        hp._last = None
        self.assertGreaterEqual(n1, 1000)
        self.assertEqual(n1, n2)
        del keep


class TestConcurrency(unittest.TestCase):

    def test_threads_allocating_while_the_hotkey_snapshots(self):
        hp = _api.Use()
        hp.setrelheap()
        stop = threading.Event()
        made = collections.Counter()
        results = []

        def churn(k):
            local = []
            while not stop.is_set():
                local.append({'n': [k] * 10})
                if len(local) > 2000:
                    del local[:1000]
                made[k] += 1

        def action():
            h = hp.heap()
            results.append((h.count, str(h.byrcs)[:40]))
            del h
            hp._last = None

        workers = [threading.Thread(target=churn, args=(k,))
                   for k in range(4)]
        for w in workers:
            w.start()
        heapscope.install(signal.SIGUSR2, action=action)
        try:
            for _ in range(10):
                os.kill(os.getpid(), signal.SIGUSR2)
                end = time.monotonic() + 10
                n = len(results)
                while len(results) == n and time.monotonic() < end:
                    time.sleep(0.01)
        finally:
            heapscope.uninstall()
            stop.set()
            for w in workers:
                w.join(10)
        self.assertGreaterEqual(len(results), 5)
        self.assertTrue(all(c > 0 for c, _s in results))
        self.assertEqual(len(made), 4)      # every worker ran on


class TestBadInput(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.hp = _api.Use()
        cls.hp.setrelheap()
        cls.keep = [Evil(i) for i in range(20)] + [[i] for i in range(20)]
        cls.h = cls.hp.heap()

    @classmethod
    def tearDownClass(cls):
        del cls.h, cls.keep, cls.hp

    def test_clear_errors(self):
        hp, h = self.hp, self.h
        cases = [
            (TypeError, lambda: h['x']),
            (IndexError, lambda: h.bytype[10 ** 9]),
            (AttributeError, lambda: h.theone),
            (AttributeError, lambda: hp.Nothing.theone),
            (TypeError, lambda: h & 3),
            (TypeError, lambda: h | 'a'),
            (TypeError, lambda: h < 3),
            (TypeError, lambda: hp.Type(3)),
            (TypeError, lambda: hp.Via(3)),
            (TypeError, lambda: hp.idset(3)),
            (TypeError, lambda: hp.setrelheap(3)),
            (TypeError, lambda: heapscope.explore(3)),
            (TypeError, lambda: C.snapshot(args=[1])),
            (TypeError, lambda: C.snapshot(1, 2, 3, 4, 5, 6, 7, 8)),
            (TypeError, lambda: C.snapshot(nonsense=1)),
        ]
        for exc, call in cases:
            with self.assertRaises(exc) as cm:
                call()
            self.assertTrue(str(cm.exception), call)
        # nothing was lost: the set still answers
        self.assertEqual(self.h.count, (self.h & self.h).count)

    def test_sets_from_other_snapshots(self):
        hp = self.hp
        other = hp.heap()
        # both saw the same objects: algebra works across snapshots
        both = self.h & other
        self.assertGreaterEqual(both.count, len(self.keep))
        self.assertTrue(both <= self.h)
        kept = hp.iso(*self.keep)
        fresh = [object() for _ in range(5)]
        newer = hp.heap()
        # a union goes to the snapshot that saw both
        self.assertTrue(kept <= newer)
        self.assertEqual((kept ^ newer).count, newer.count - kept.count)
        self.assertEqual(kept | newer, newer)
        self.assertTrue(kept < newer and not kept >= newer)
        # ...and says clearly when neither did
        gone = [['gone']]
        a = hp.iso(gone[0])
        del gone[:]                  # now only a's snapshot holds it
        late = ['late']              # which a's snapshot never saw
        b = hp.iso(late)
        with self.assertRaises(ValueError) as cm:
            a | b
        self.assertIn('different snapshots', str(cm.exception))
        self.assertEqual((a & b).count, 0)
        self.assertEqual(a - b, a)
        self.assertFalse(a == b or a <= b or a >= b)
        del other, newer, fresh, a, b, kept

    def test_explorer_mistakes_are_messages(self):
        model = _explore.Model(self.hp, self.h)
        root = model.root(tick)
        for bad in ('[', 'no_such_name', '[10 ** 6]', '', '1 / 0',
                    '.theone', 'byid[0].theone.__class__.mro()'):
            with self.assertRaises(Exception) as cm:
                model.eval(root, bad, tick)
            self.assertNotIsInstance(cm.exception, SystemExit)
        with self.assertRaises(IndexError):
            model.step(root, 10 ** 6, _explore.STEP_OPEN, tick)
        with self.assertRaises(IndexError):
            model.inspect(root, 0, 10 ** 6, tick)
        # the model still answers afterwards
        self.assertEqual(model.info(root)[0], 's')


LIMITED = r'''
import gc, os, resource, sys
import heapscope
from heapscope import _api

def vm_bytes():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[0]) * os.sysconf('SC_PAGE_SIZE')

hp = _api.Use()
hp.setrelheap()
keep = [[str(i)] for i in range(300000)]
sample = keep[::997]
refs = [sys.getrefcount(o) for o in sample]
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
failed = ok = 0
for margin_mb in (0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64,
                  96, 128, 192, 256):
    gc.collect()
    resource.setrlimit(resource.RLIMIT_AS,
                       (vm_bytes() + int(margin_mb * 2 ** 20), hard))
    try:
        h = hp.heap()
        t = h.byrcs[0].referrers
        t.domisize
        str(h.byrcs)
        ok += 1
    except MemoryError:
        failed += 1
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    h = t = None
    hp._last = None
gc.collect()
assert [sys.getrefcount(o) for o in sample] == refs, 'refcounts changed'
h = hp.heap()                    # and heapscope works again
n = (h & hp.Type(list)).count
assert n >= len(keep), n
print('failed=%d ok=%d' % (failed, ok))
'''


class TestMemoryErrors(unittest.TestCase):

    @unittest.skipIf(SANITIZED, 'ASan reserves the address space itself')
    def test_allocation_failures_raise_memory_error_and_lose_nothing(self):
        r = subprocess.run([sys.executable, '-c', LIMITED],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        failed, ok = [int(x.split('=')[1]) for x in r.stdout.split()]
        self.assertGreater(failed, 0, r.stdout)     # it did fail...
        self.assertGreater(ok, 0, r.stdout)         # ...and did not always


if __name__ == '__main__':
    unittest.main()
