#!/usr/bin/env python3
"""Benchmark byvia, the costliest partition, and the fresh memory it needs.

Usage:  PYTHONPATH=<build>/pkg python bench/bench_via.py N [--reps R]

Builds the heap of bench_snapshot.py (N packages, about 25 objects each),
takes hp.heap() and h.byrcs (the reverse edges, as the explorer has them
by then), then, for the whole heap and for its largest row (h[0], the
strings), calls the low-level byvia R times in a row:

    via_heap_first, via_row_first   the first call on that set
    via_heap_again, via_row_again   the fastest of the others

each relating its referrers (derive=False), then the largest row's byvia
cut from the heap's while that lives, as h[0].byvia after h.byvia is:

    via_row_from_heap               the fastest of R calls

and prints one JSON line with those seconds and, per first call, the
growth of the process's peak RSS during it (MB) and its page faults.  On
a virtual machine the first touch of a page the process never had costs
far more than the work done on it, so a first call's time follows its
peak; later calls reuse pages just given back.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_snapshot as base          # noqa: E402  (the same heap)


def status_mb():
    out = {}
    with open('/proc/self/status') as f:
        for line in f:
            key, _, val = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(val.split()[0]) // 1024
    return out


def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def measure(fn):
    """(seconds, peak growth in MB or None, minor faults) of fn()."""
    can_reset = reset_peak()
    before = status_mb()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    result = fn()
    secs = time.perf_counter() - t0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    after = status_mb()
    del result
    peak = after['VmHWM'] - before['VmRSS'] if can_reset else None
    return secs, peak, faults


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('n', type=int)
    ap.add_argument('--reps', type=int, default=3)
    args = ap.parse_args(argv)
    from heapscope import _api
    hp = _api.Use()
    hp.setrelheap()
    base.build(args.n)
    gc.collect()
    gc.disable()                 # as in an explorer session
    h = hp.heap()
    h.byrcs
    res = {'schema': 'heapscope-bench-via/1', 'n': args.n,
           'python': sys.version.split()[0], 'objects': h.count,
           'seconds': {}, 'peak_growth_mb': {}, 'faults': {}}
    for name, s in (('heap', h), ('row', h[0])):
        times = []
        for rep in range(max(1, args.reps)):
            secs, peak, faults = measure(
                lambda: s._s.via_partition(derive=False))
            times.append(secs)
            if rep == 0:
                res['peak_growth_mb']['via_%s_first' % name] = peak
                res['faults']['via_%s_first' % name] = faults
        res['seconds']['via_%s_first' % name] = round(times[0], 4)
        if len(times) > 1:
            res['seconds']['via_%s_again' % name] = round(min(times[1:]), 4)
    heap_via = h._s.via_partition()
    row = h[0]._s
    res['seconds']['via_row_from_heap'] = round(min(
        measure(row.via_partition)[0] for _ in range(max(1, args.reps))), 4)
    del heap_via
    for k, v in res['seconds'].items():
        print('%-18s %8.4f s' % (k, v), file=sys.stderr)
    sys.stdout.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
