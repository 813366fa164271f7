#!/usr/bin/env python3
"""Benchmark the relational questions on a pkgcore-like heap.

Usage:  PYTHONPATH=<build>/pkg python bench/bench_relations.py N

Builds the heap of bench_snapshot.py (N packages, about 25 objects each),
takes hp.heap(), then times, in this order:

    byrcs        h.byrcs and str() of it (builds the reverse edges)
    h0_byrcs     h[0].byrcs and str() of it (cut from h.byrcs, which h
                 keeps)
    h0_byrcs_direct  the low-level byrcs of h[0] computed as it is
    referrers    .referrers of a 100,000-object set (the first rows of h[0])
    dominators   the dominator tree (the first domisize of one object)
    domisize_*   domisize of sets once the tree exists: one object, the
                 data dicts, all strings (h[0]), the whole heap h
    byvia_10k    byvia of 10,000 objects chosen by construction (data
                 values and names), in h's snapshot
    sp           the shortest path of one object
    rp           the reference pattern of the data dicts

and prints one JSON line: seconds per step, the bytes per object the
reverse edges and the dominator tree add to the snapshot, and what the
whole session added to the process (RSS at the end and at its peak, over
the heap's own size h.size; the issue's bound is 1).
"""

import gc
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_snapshot as base          # noqa: E402  (the same heap)


def main(argv):
    n = int(argv[0]) if argv else 100000
    import heapscope
    hp = heapscope.hpy()
    hp.setrelheap()
    base.build(n)
    gc.collect()
    res = {'schema': 'heapscope-bench-relations/1', 'n': n,
           'python': sys.version.split()[0], 'seconds': {}}

    def timed(name, fn):
        t0 = time.perf_counter()
        v = fn()
        res['seconds'][name] = round(time.perf_counter() - t0, 4)
        print('%-22s %8.3f s' % (name, res['seconds'][name]),
              file=sys.stderr)
        return v

    rss0, peak0 = base.rss_kib(), base.peak_kib()
    h = timed('heap', hp.heap)
    snap = h._s.snapshot
    nobj = snap.count
    mem0 = snap.memory
    res['objects_in_snapshot'] = nobj
    byrcs = timed('byrcs', lambda: h.byrcs)
    timed('str_byrcs', lambda: str(byrcs))
    mem1 = snap.memory
    h0 = h[0]
    h0r = timed('h0_byrcs', lambda: h0.byrcs)
    timed('str_h0_byrcs', lambda: str(h0r))
    timed('h0_byrcs_direct', lambda: h0._s.rcs_partition(derive=False))
    big = h0.byid[0:100000]
    timed('referrers_100k', lambda: big.referrers)
    pkgs = base.HEAP['packages']
    one = (h & hp.Type(base.Package)).byid[0]
    timed('dominators', lambda: one.domisize)
    mem2 = snap.memory
    datas = h0r[0].referrers
    timed('domisize_one', lambda: one.domisize)
    timed('domisize_datas', lambda: datas.domisize)
    timed('domisize_h0', lambda: h0.domisize)
    timed('domisize_h', lambda: h.domisize)
    # 10,000 objects by construction, found in h's own snapshot
    objs = []
    for p in pkgs:
        objs.extend(p.data[f] for f in base.FIELDS)
        objs.append(p.cpvstr)
        if len(objs) >= 10000:
            break
    objs = objs[:10000]
    sub = h & hp.iso(*objs)
    del objs
    res['subset'] = sub.count
    timed('byvia_10k', lambda: str(sub.byvia))
    timed('sp', lambda: str(sub.byid[0].sp))
    timed('rp', lambda: str(datas.rp))
    res['reverse_edges_bytes_per_object'] = round((mem1 - mem0) / nobj, 1)
    res['dominator_tree_bytes_per_object'] = round((mem2 - mem1) / nobj, 1)
    # (the sets and partitions made above are still alive: a session)
    res['session_rss_over_heap'] = round(
        (base.rss_kib() - rss0) * 1024 / h.size, 2)
    res['session_peak_over_heap'] = round(
        max(0, base.peak_kib() - max(peak0, rss0)) * 1024 / h.size, 2)
    sys.stdout.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
