"""Sizes computed in C agree with what the allocator handed out.

For each common type, 10,000 instances are created under tracemalloc after
a mark; the size heapscope reports for the new heap must be within 5% of
what tracemalloc saw allocated.  Sizes never come from __sizeof__.
"""

import gc
import struct
import sys
import threading
import tracemalloc
import unittest

import heapscope
from heapscope import _heapscope as C


class Plain(object):
    def __init__(self, i):
        self.a = i
        self.b = 'x'
        self.c = None


class Slots(object):
    __slots__ = ('a', 'b')

    def __init__(self, i):
        self.a = i
        self.b = None


def method_of(i):
    return Plain(i).__init__


def closure(i):
    def f():
        return i
    return f


CASES = [
    ('str ascii', lambda i: 'abc%07d' % i),
    ('str ucs2', lambda i: '\u0400bc%07d' % i),
    ('str ucs4', lambda i: '\U0001F600%07d' % i),
    ('int', lambda i: i + 1000),
    ('int big', lambda i: int.from_bytes(b'\x7f' * 20 + bytes([i % 256]), 'little')),
    ('float', lambda i: i * 1.5),
    ('complex', lambda i: complex(i, 1)),
    ('bytes', lambda i: b'x' * (i % 50 + 10)),
    ('bytearray', lambda i: bytearray(b'x' * (i % 50 + 10))),
    ('tuple', lambda i: (i, None, None)),
    ('list', lambda i: [i] * 5),
    ('dict small', lambda i: {'a': i}),
    ('dict 20', lambda i: {j: None for j in range(20)}),
    ('set', lambda i: {i, i + 1, i + 2}),
    ('frozenset', lambda i: frozenset((i, i + 1))),
    ('instance', Plain),
    ('instance with __dict__', lambda i: vars(Plain(i)) and None),
    ('slots instance', Slots),
    ('function', closure),
    ('bound method', method_of),
]


class TestSizes(unittest.TestCase):

    def measure(self, make, n=10000):
        hp = heapscope.hpy()
        gc.collect()
        hp.setrelheap()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            objs = [make(i) for i in range(n)]
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        h = hp.heap()
        del objs
        return after - before, h.size

    def test_within_5_percent_of_tracemalloc(self):
        for name, make in CASES:
            if name == 'instance with __dict__':
                make = self._materialised
            with self.subTest(type=name):
                traced, ours = self.measure(make)
                self.assertLess(abs(ours - traced), traced * 0.05,
                                '%s: heapscope %d, tracemalloc %d'
                                % (name, ours, traced))

    @staticmethod
    def _materialised(i):
        o = Plain(i)
        vars(o)
        return o

    def test_sizeof_runs_no_python(self):
        calls = []

        class Evil(object):
            def __sizeof__(self):
                calls.append(1)
                return 1
        e = Evil()
        self.assertGreater(C.sizeof(e), 1)
        self.assertEqual(calls, [])

    def test_no_utf8_copy_created(self):
        s = ''.join(['caf\u00e9', str(id(self))])
        before = sys.getsizeof(s)
        C.sizeof(s)
        self.assertEqual(sys.getsizeof(s), before)

    def test_static_and_odd_objects(self):
        for o in (None, int, type, object, str, True, 0, (), '',
                  10 ** 100, -10 ** 100, sys, len, NotImplemented, ...):
            self.assertGreater(C.sizeof(o), 0, repr(o))

    def test_containers_grow(self):
        small, big = [], list(range(1000))
        self.assertGreater(C.sizeof(big), C.sizeof(small) + 7000)
        d = {i: i for i in range(1000)}
        self.assertGreater(C.sizeof(d), C.sizeof({}) + 20000)

    def test_generators_and_coroutines(self):
        # 3.11+ keeps the frame inside the generator, sized by its code:
        # there is no ob_size to read
        def gen(n):
            a, b = [1], 'x'
            for i in range(n):
                yield i + len(a) + len(b)

        async def coro():
            return 1

        async def agen():
            yield 1

        started = gen(5)
        next(started)
        objs = [gen(5), started, coro(), agen()]
        try:
            for o in objs:
                size = C.sizeof(o)
                self.assertLess(size, 4096, repr(o))
                if sys.version_info >= (3, 11):
                    self.assertEqual(size, sys.getsizeof(o), repr(o))
        finally:
            objs[2].close()

    def test_frames(self):
        # 3.11+ frame objects have no ob_size (Py_SIZE would read f_back):
        # each was allocated with room for its code's locals and stack,
        # whoever owns the frame now, as frame.__sizeof__ counts
        gc_header = 2 * struct.calcsize('P')

        def returned():
            x = [1, 2, 3]
            raise ValueError(x)

        def gen():
            y = [1]
            yield sys._getframe()
            yield y

        try:
            returned()
        except ValueError as e:
            finished = e.__traceback__.tb_next.tb_frame
        g = gen()
        suspended = next(g)
        ready, done = threading.Event(), threading.Event()

        def run():
            ready.set()
            done.wait(10)
        t = threading.Thread(target=run)
        t.start()
        ready.wait(10)
        try:
            frames = [('returned', finished), ('running', sys._getframe()),
                      ('generator', suspended),
                      ("another thread's", sys._current_frames()[t.ident])]
            hp = heapscope.hpy()
            for name, fr in frames:
                with self.subTest(frame=name):
                    size = C.sizeof(fr)
                    if sys.version_info >= (3, 11):
                        self.assertEqual(size, fr.__sizeof__() + gc_header)
                    else:
                        # ob_size: __sizeof__ leaves out a word, and a
                        # frame from the free list may be bigger
                        self.assertGreaterEqual(
                            size, fr.__sizeof__() + gc_header)
                        self.assertLess(size, 4096)
                    self.assertEqual(hp.iso(fr).size, size)
        finally:
            done.set()
            t.join(10)


if __name__ == '__main__':
    unittest.main()
