#!/usr/bin/env python3
"""Benchmark the explorer through its model, as the TUI drives it.

Usage:  PYTHONPATH=<build>/pkg python bench/bench_explorer.py N [--rows R]
                                                 [--shared-names]

Builds the heap of bench_snapshot.py (N packages, about 25 objects each;
--shared-names: its variant with the issues' 12.2 M objects at N = 500,000)
and times what each key costs the model (the TUI's own drawing is timed by
tests/unit/tui_demo --bench):

    open          the first view: the snapshot and its table (what the
                  hotkey or explore() waits for before the table shows)
    row_by_via_scan  v on the largest row (h[0]) at once, before the
                  snapshot's reverse edges exist: its referrers found by
                  reading the forward edges
    relations     the snapshot's reverse edges, which the dominated-size
                  worker builds in a session
    prepare       the work the explorer does ahead once the user pauses
                  (Model.prepare until it has none left: the heap's
                  byvia), and prepare_gap, the longest stretch of it
                  between two calls of the progress callback: how long a
                  key typed meanwhile may wait (0.02 s at the least
                  here, where the callback is a Python function, called
                  at most that often; the explorer's own is called at
                  each step)
    redraw        info() and R rows of a view: what moving the cursor,
                  going back or resizing asks of the model
    by_<rel>      a new partition of the whole heap (keys c t r v s m;
                  by_via computed again, as v on a heap not prepared)
    row_by_<rel>  a partition of the largest row (h[0]) by that relation
                  (row_by_via and row_by_rcs are cut from the heap's
                  byvia (prepared) and byrcs (by_rcs), which the heap
                  keeps)
    row_by_via_direct, row_by_rcs_direct  the same, computed from the
                  row's referrers as a first v or r on the row would
    open_row      Enter on the largest row
    referrers     R on the largest row of h[0].byrcs
    inspect       x: one object's page (repr, path, referrers, referents)

and prints one JSON line with the seconds of each and the worst redraw.
On a machine without the memory to spare for it (Model.prepare checks),
prepare does nothing and row_by_via is computed as row_by_via_direct.
As in an explorer session (heapscope.explore()), the collector is off
while the model works: a full collection of a heap this size would
otherwise land in whichever step allocates past its threshold.
"""

import argparse
import gc
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_snapshot as base          # noqa: E402  (the same heap)


def tick(what, done, total):
    pass


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('n', type=int)
    ap.add_argument('--rows', type=int, default=50)
    ap.add_argument('--shared-names', action='store_true')
    args = ap.parse_args(argv)
    import heapscope
    from heapscope import _api, _explore
    hp = _api.Use()
    hp.setrelheap()
    base.build(args.n, shared_names=args.shared_names)
    gc.collect()
    res = {'schema': 'heapscope-bench-explorer/1', 'n': args.n,
           'shared_names': args.shared_names,
           'python': sys.version.split()[0], 'seconds': {}}
    model = _explore.Model(hp)
    gc.disable()

    def timed(name, fn):
        t0 = time.perf_counter()
        v = fn()
        res['seconds'][name] = round(time.perf_counter() - t0, 4)
        print('%-22s %8.4f s' % (name, res['seconds'][name]),
              file=sys.stderr)
        return v

    def redraw(view):
        model.info(view)
        for i in range(min(args.rows, view.nrows())):
            model.row(view, i)

    def open_view():
        v = model.root(tick)
        redraw(v)
        return v

    root = timed('open', open_view)
    snap = root.iset._s.snapshot
    first = model.step(root, 0, _explore.STEP_OPEN, tick)
    if not snap.has_relations:
        timed('row_by_via_scan', lambda: _api.via_partition(
            first.iset._s, progress=tick, derive=False))
    del first
    timed('relations', lambda: snap.referrer_ids(0))
    stamps = []

    def prepare():
        stamps.append(time.perf_counter())
        while model.prepare(lambda what, done, total:
                            stamps.append(time.perf_counter())):
            pass
        stamps.append(time.perf_counter())
    timed('prepare', prepare)
    res['seconds']['prepare_gap'] = round(max(
        b - a for a, b in zip(stamps, stamps[1:])), 4)
    worst = 0.0
    for rel, name in ((1, 'type'), (2, 'rcs'), (3, 'via'), (4, 'size'),
                      (6, 'module'), (0, 'clodo')):
        if name == 'via':
            timed('by_via', lambda: _api.via_partition(
                root.iset._s, progress=tick, derive=False))
            v = model.repartition(root, rel, tick)      # (prepared)
        else:
            v = timed('by_' + name,
                      lambda: model.repartition(root, rel, tick))
        t0 = time.perf_counter()
        redraw(v)
        worst = max(worst, time.perf_counter() - t0)
    h0 = timed('open_row', lambda: model.step(root, 0, _explore.STEP_OPEN,
                                              tick))
    for rel, name in ((1, 'type'), (2, 'rcs'), (3, 'via'), (4, 'size')):
        v = timed('row_by_' + name,
                  lambda: model.repartition(h0, rel, tick))
        t0 = time.perf_counter()
        redraw(v)
        worst = max(worst, time.perf_counter() - t0)
    timed('row_by_via_direct', lambda: _api.via_partition(
        h0.iset._s, progress=tick, derive=False))
    timed('row_by_rcs_direct', lambda: h0.iset._s.rcs_partition(
        derive=False))
    rcs = model.repartition(h0, 2, tick)
    refs = timed('referrers', lambda: model.step(
        rcs, 0, _explore.STEP_REFERRERS, tick))
    t0 = time.perf_counter()
    redraw(refs)
    worst = max(worst, time.perf_counter() - t0)
    timed('inspect', lambda: model.inspect(refs, 0, 0, tick))
    res['seconds']['redraw_worst'] = round(worst, 4)
    res['objects'] = root.iset.count
    sys.stdout.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
