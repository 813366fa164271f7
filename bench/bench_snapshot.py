#!/usr/bin/env python3
"""Benchmark the snapshot and the core partitions on a pkgcore-like heap.

Usage:  PYTHONPATH=<build>/pkg python bench/bench_snapshot.py N [--pause S]
        [--skip-byid] [--shared-names]

Builds N packages (about 25 objects each: a Package instance, a metadata
dict of eleven fresh strings and a nested dict of ints, a version tuple, a
weak-value cache entry, an __slots__ atom for every fourth package;
--shared-names: the nested dicts' keys shared, see build()), marks
the heap before building, then times, once each in a fresh order:

    heap()  str(h)  h.bytype + str  h.bysize + str  h.byid + str
    a second heap() (later snapshots reuse what the first learned)
    h2 = hp.heap() twice more, --pause seconds apart (heap_later, the
    last: it walks into the arrays of the one before, kept for it)
    h2 - h (later_minus_h: every object of h looked up in h2's snapshot)

and prints one JSON line: seconds, ns per object, the snapshot's own memory
in bytes per object (after the walk) and the peak RSS growth per object
during the first walk.  Run it in a fresh process for first-walk figures.
"""

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
import weakref

FIELDS = ('DESCRIPTION', 'DEPEND', 'RDEPEND', 'PDEPEND', 'SRC_URI',
          'HOMEPAGE', 'KEYWORDS', 'LICENSE', 'SLOT', 'IUSE', 'EAPI')
# The eclass names of --shared-names: made once, shared by every package.
ECLASSES = tuple('eclass%d' % k for k in range(5))
WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do '
         'eiusmod tempor incididunt ut labore et dolore magna aliqua').split()


class Package(object):
    def __init__(self, cpvstr, data, cpv, mtime):
        self.cpvstr = cpvstr
        self.data = data
        self.cpv = cpv
        self.mtime = mtime


class Atom(object):
    __slots__ = ('key', 'slot')

    def __init__(self, key, slot):
        self.key = key
        self.slot = slot


HEAP = {}


def build(n, seed=4242, shared_names=False):
    """N packages.  Each nested dict's keys are fresh strings, unless
    shared_names: then they are the same few names for every package, as
    in the heap the issues' figures were taken on (../shared's
    heapy_session.py: about 12.2 M objects at N = 500,000, which heapy
    counts as 12.6 M, against 14.2 M here)."""
    rnd = random.Random(seed)
    packages, atoms = [], []
    cache = weakref.WeakValueDictionary()
    cats = ['cat%03d' % i for i in range(200)]
    for i in range(n):
        cat = cats[i % len(cats)]
        pn, pv = 'p%07d' % i, '%d.%d' % (i % 17, i % 5)
        cpvstr = '%s/%s-%s' % (cat, pn, pv)
        data = {}
        for f in FIELDS:
            words = ' '.join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 14)))
            data[f] = '%s:%d:%s' % (f, i, words)
        data['_eclasses_'] = {
            (ECLASSES[k] if shared_names else 'e%d' % k): 1600000000 + i + k
            for k in range(3 + i % 3)}
        pkg = Package(cpvstr, data, (cat, pn, pv), 1700000000 + i)
        packages.append(pkg)
        cache[cpvstr] = pkg
        if i % 4 == 0:
            atoms.append(Atom(cpvstr, data['SLOT']))
    HEAP.update(packages=packages, atoms=atoms, cache=cache)


def rss_kib():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // 1024


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('n', type=int)
    ap.add_argument('--skip-byid', action='store_true',
                    help='skip str(h.byid)')
    ap.add_argument('--pause', type=float, default=3.0,
                    help='seconds between dropping the second heap() and '
                         'taking the third (heap_later)')
    ap.add_argument('--shared-names', action='store_true',
                    help="the nested dicts share their keys (the issues' "
                         "heap: 12.2 M objects at N = 500,000)")
    args = ap.parse_args(argv)

    import heapscope
    hp = heapscope.hpy()
    hp.setrelheap()
    t = time.perf_counter()
    build(args.n, shared_names=args.shared_names)
    gc.collect()
    build_s = time.perf_counter() - t
    res = {'schema': 'heapscope-bench/1', 'n': args.n,
           'shared_names': args.shared_names,
           'python': sys.version.split()[0], 'build_s': round(build_s, 3),
           'seconds': {}, 'ns_per_object': {}}

    def timed(name, fn):
        t0 = time.perf_counter()
        v = fn()
        res['seconds'][name] = round(time.perf_counter() - t0, 4)
        print('%-14s %8.3f s' % (name, res['seconds'][name]), file=sys.stderr)
        return v

    rss0, peak0 = rss_kib(), peak_kib()
    h = timed('heap', hp.heap)
    rss1, peak1 = rss_kib(), peak_kib()
    snap = h._s.snapshot
    nobj = snap.count
    res['objects_in_snapshot'] = nobj
    res['objects_in_h'] = h.count
    res['edges'] = snap.nedges
    timed('str_h', lambda: str(h))
    timed('str_bytype', lambda: str(h.bytype))
    timed('str_bysize', lambda: str(h.bysize))
    if not args.skip_byid:
        timed('str_byid', lambda: str(h.byid))
    h2 = timed('heap_again', hp.heap)
    # as at a prompt: h2 = hp.heap() once more drops the last h2 after the
    # walk, and the next one, a pause later, walks into its arrays (kept
    # for it; on these VMs pages freed go back to the host within a second
    # or two, and fresh ones cost more)
    h2 = hp.heap()
    time.sleep(args.pause)
    h2 = timed('heap_later', hp.heap)
    timed('later_minus_h', lambda: h2 - h)
    del h2
    for k, v in res['seconds'].items():
        res['ns_per_object'][k] = round(v * 1e9 / nobj, 1)
    res['snapshot_bytes_per_object'] = round(snap.memory / nobj, 1)
    res['rss_growth_bytes_per_object'] = round((rss1 - rss0) * 1024 / nobj, 1)
    res['peak_growth_bytes_per_object'] = round(
        max(0, peak1 - max(peak0, rss0)) * 1024 / nobj, 1)
    sys.stdout.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
