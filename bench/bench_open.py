#!/usr/bin/env python3
"""Benchmark the explorer as a user meets it: in a real terminal (tmux),
from the hotkey to the table on the screen, and a row's v after a pause.

Usage:  PYTHONPATH=<build>/pkg python bench/bench_open.py N [--times K]
                              [--pause S] [--gap G] [--shared-names]
                              [--settle S]

Starts a program in a tmux window (160x50) that builds the heap of
bench_snapshot.py (N packages, about 25 objects each), installs the
hotkey (heapscope.install(): Ctrl-\\) and sleeps.  --shared-names builds
the variant whose nested dicts share their key strings, the heap the
issues' figures are given for (12.2 M objects at N = 500,000, against
14.2 M).  --settle S waits S seconds after building before the first
open: on these VMs a heap just built can be slow to read for its first
ten seconds or so (its pages, fresh to the host too), which a program's
heap that has lived a while is not.  Then, K times:

    open        Ctrl-\\ sent to the window, until the table's summary line
                ("Partition of a set ...") is on the screen: the walk, the
                table, and the first draw with its Dominated requests
    row_v       after a pause of S seconds (5 unless told: the Dominated
                column fills in, and the explorer works ahead: the
                heap's byvia), Enter on the first row, then v: from the
                v to the byvia table
    row_v_now   the same in a fresh explorer with no pause: Enter as soon
                as the table shows, v as soon as the row's does, timed
                from the v (the row's byvia computed, not cut)
    row_r_now   the same with r: the row's byrcs, computed at once (it
                needs the snapshot's reverse edges, which the explorer's
                worker is building then)

and q to close, then G seconds (1 unless told) before the next open.
The memory a session gives back is the system's again, and on a virtual
machine whose host takes back what its guest frees (these do, within
seconds) a longer gap makes every session meet fresh pages, as a user's
sessions minutes apart do: --gap 5 for those figures.  What the window
shows is read as it is written (tmux pipe-pane), not polled, so the
times are those of the bytes reaching the terminal, to a few
milliseconds.  Prints one JSON line: the median of
each ("seconds", as the other benches, for bench_ab.py) and every run
("runs").  bench_explorer.py times the same through the model
alone; this one adds the terminal, the TUI and the hotkey's thread.
Needs tmux.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

PROGRAM = r'''
import gc, sys, time
sys.path.insert(0, %(here)r)
import bench_snapshot as base
import heapscope
base.build(%(n)d, shared_names=%(shared)r)
gc.collect()
heapscope.install()
print('READY', flush=True)
while True:
    time.sleep(1)
'''


class Window(object):
    """A tmux session running one command, its output read as written."""

    def __init__(self, command, env):
        self.dir = tempfile.mkdtemp(prefix='hs-bench-open-')
        self.out = os.path.join(self.dir, 'pane')
        open(self.out, 'wb').close()
        self.name = 'hsbench%d' % os.getpid()
        subprocess.check_call(
            ['tmux', 'new-session', '-d', '-s', self.name, '-x', '160',
             '-y', '50', 'env'] + ['%s=%s' % kv for kv in env.items()] +
            command)
        subprocess.check_call(['tmux', 'pipe-pane', '-t', self.name,
                               'cat >> %s' % self.out])
        self.f = open(self.out, 'rb')
        self.seen = b''

    def keys(self, *keys):
        subprocess.check_call(['tmux', 'send-keys', '-t', self.name] +
                              list(keys))

    def mark(self):
        """Forget what was written so far."""
        self.seen = b''
        self.f.read()

    def wait_for(self, text, timeout=300.0):
        """Seconds (time.perf_counter()) when `text` was first written
        since mark()."""
        text = text.encode()
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            chunk = self.f.read()
            if chunk:
                now = time.perf_counter()
                self.seen += chunk
                if text in self.seen:
                    return now
            else:
                time.sleep(0.002)
        raise RuntimeError('%r not shown in %.0f s' % (text, timeout))

    def close(self):
        subprocess.call(['tmux', 'kill-session', '-t', self.name],
                        stderr=subprocess.DEVNULL)
        self.f.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('n', type=int)
    ap.add_argument('--times', type=int, default=3)
    ap.add_argument('--pause', type=float, default=5.0)
    ap.add_argument('--gap', type=float, default=1.0)
    ap.add_argument('--shared-names', action='store_true')
    ap.add_argument('--settle', type=float, default=0.0)
    args = ap.parse_args(argv)
    if shutil.which('tmux') is None:
        sys.exit('bench_open.py needs tmux')
    env = {'PYTHONPATH': os.environ.get('PYTHONPATH', ''),
           'TERM': 'xterm-256color'}
    prog = PROGRAM % {'here': HERE, 'n': args.n,
                     'shared': args.shared_names}
    w = Window([sys.executable, '-c', prog], env)
    res = {'schema': 'heapscope-bench-open/1', 'n': args.n,
           'shared_names': args.shared_names, 'settle': args.settle,
           'python': sys.version.split()[0], 'seconds': {}}
    # (name, pause before Enter, key, what its table's header shows)
    sessions = (('row_v', args.pause, 'v', 'Via:'),
                ('row_v_now', 0.0, 'v', 'Via:'),
                ('row_r_now', 0.0, 'r', 'Referrers by Kind'))
    runs = dict([('open', [])] + [(s[0], []) for s in sessions])
    try:
        w.wait_for('READY', timeout=1800)
        time.sleep(args.settle)
        for _ in range(args.times):
            for name, pause, key, header in sessions:
                w.mark()
                t0 = time.perf_counter()
                w.keys('C-\\')
                t1 = w.wait_for('Partition of a set')
                if pause:
                    runs['open'].append(t1 - t0)
                    time.sleep(pause)
                # (curses writes what changed: the title's new "[0]",
                # the new column header)
                w.mark()
                w.keys('Enter')
                w.wait_for('[0]')
                w.mark()
                t0 = time.perf_counter()
                w.keys(key)
                t1 = w.wait_for(header)
                runs[name].append(t1 - t0)
                time.sleep(0.5)
                w.keys('q')
                time.sleep(args.gap)
    finally:
        w.close()
    res['runs'] = {}
    for k, v in runs.items():
        res['runs'][k] = [round(x, 4) for x in v]
        res['seconds'][k] = round(statistics.median(v), 4)
        print('%-10s median %.3f  runs %s' % (
            k, statistics.median(v), ' '.join('%.3f' % x for x in v)),
            file=sys.stderr)
    sys.stdout.write(json.dumps(res) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
