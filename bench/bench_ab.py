#!/usr/bin/env python3
"""Compare two builds on one benchmark, runs alternating, medians and mins.

Usage:  python bench/bench_ab.py A_PKG B_PKG [--pairs P] [--python PY]
                                  BENCH [ARGS...]

A_PKG and B_PKG are two builds' package directories (<build>/pkg, each
with the heapscope package and its _heapscope extension); BENCH is one of
this directory's benchmarks that prints one JSON line with a "seconds"
object (bench_snapshot.py, bench_relations.py, bench_explorer.py,
bench_via.py).  It runs BENCH P times with each build, in pairs A B, B A,
A B..., each run a fresh process, and prints per key the median and the
minimum of each build, and B's median over A's (with --runs, every run's
too, in run order).

Why alternate, and why the median: on the virtual machines this project
is measured on, the host has slow spells of several seconds to minutes in
which everything takes about twice as long; runs of one build, then of the
other, compare spells, not builds.  And the order within a pair is
swapped from pair to pair, so that neither build always runs first, just
after the other's process gave back gigabytes (an even number of pairs
balances that).  A change smaller than the spread of its own build's runs
is not shown by any number of pairs here: two runs of one build differ by
up to 2x, and at N = 20,000 even A against A shows medians 40% apart.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


def run(pkg, python, bench, args):
    env = dict(os.environ, PYTHONPATH=pkg)
    p = subprocess.run([python, bench] + args, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 0:
        raise SystemExit('%s with %s failed (status %d):\n%s'
                         % (bench, pkg, p.returncode, p.stderr[-2000:]))
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith('{')]
    if not lines:
        raise SystemExit('%s printed no JSON line' % bench)
    return json.loads(lines[-1])['seconds']


def main(argv):
    ap = argparse.ArgumentParser(
        description='Run a benchmark with two builds, alternating.')
    ap.add_argument('a_pkg')
    ap.add_argument('b_pkg')
    ap.add_argument('--pairs', type=int, default=4)
    ap.add_argument('--python', default=sys.executable)
    ap.add_argument('--runs', action='store_true',
                    help="also print every run's seconds, in run order")
    ap.add_argument('bench')
    ap.add_argument('args', nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    if a.pairs < 1:
        ap.error('--pairs must be at least 1')
    here = os.path.dirname(os.path.abspath(__file__))
    bench = a.bench if os.path.exists(a.bench) else os.path.join(here,
                                                                 a.bench)
    res = {'A': [], 'B': []}
    for i in range(a.pairs):
        order = (('A', a.a_pkg), ('B', a.b_pkg))
        for side, pkg in order if i % 2 == 0 else order[::-1]:
            secs = run(os.path.abspath(pkg), a.python, bench, a.args)
            res[side].append(secs)
            print('pair %d %s done' % (i + 1, side), file=sys.stderr)
    keys = [k for k in res['A'][0] if all(k in r for r in res['A'] +
                                          res['B'])]
    print('%-16s %9s %9s %9s %9s %7s' % ('seconds', 'A median', 'A min',
                                         'B median', 'B min', 'B/A'))
    runs = {k: {side: [r[k] for r in res[side]] for side in res}
            for k in keys}
    for k in keys:
        va, vb = runs[k]['A'], runs[k]['B']
        ma, mb = statistics.median(va), statistics.median(vb)
        ratio = '%7.2f' % (mb / ma) if ma > 0 else '%7s' % '-'
        print('%-16s %9.4f %9.4f %9.4f %9.4f %s' % (k, ma, min(va), mb,
                                                    min(vb), ratio))
    if a.runs:
        for k in keys:
            for side in ('A', 'B'):
                print('%-16s %s %s' % (k, side, ' '.join(
                    '%.3f' % v for v in runs[k][side])))


if __name__ == '__main__':
    main(sys.argv[1:])
