"""bench_hotkey.py - how long the hotkey takes to start its action.

    PYTHONPATH=build/demo/pkg python3 bench/bench_hotkey.py [rounds]

For each thing the main thread can be doing (sleeping, in select, waiting
on an Event, running Python code, and in a C call holding the GIL), sends
the hotkey's signal `rounds` times from another thread or process and
prints one JSON line: the median and worst delay, in milliseconds, from
the signal to the action's first line.  The C-call case reports the delay
from the end of the call, which is the promise there (deferred, not lost);
it is slightly negative when the action ran at the first release of the
GIL after the call, before the program's next line read the clock.
Measures only; changes nothing.
"""

import json
import os
import select
import signal
import statistics
import subprocess
import sys
import threading
import time

import heapscope

SIG = signal.SIGUSR2


def measure(block, rounds, from_process=False):
    ran = []
    fired = threading.Event()

    def act():
        ran.append(time.monotonic())
        fired.set()
    heapscope.install(SIG, action=act)
    delays = []
    try:
        for _ in range(rounds):
            ran.clear()
            fired.clear()
            if from_process:
                # the main thread holds the GIL: only a process can send
                sender = subprocess.Popen(
                    [sys.executable, '-c', 'import os, time; '
                     'time.sleep(0.05); os.kill(%d, %d)'
                     % (os.getpid(), SIG)])
                ended = block()
                sender.wait()
                fired.wait(2)
                delays.append(ran[0] - ended if ran else float('inf'))
            else:
                sent = []

                def send():
                    time.sleep(0.05)
                    sent.append(time.monotonic())
                    os.kill(os.getpid(), SIG)
                t = threading.Thread(target=send)
                t.start()
                block()
                t.join()
                fired.wait(2)
                delays.append(ran[0] - sent[0] if ran else float('inf'))
    finally:
        heapscope.uninstall()
    ms = [d * 1000 for d in delays]
    return {'median_ms': round(statistics.median(ms), 3),
            'max_ms': round(max(ms), 3)}


def c_loop():
    sum(range(20 * 10 ** 6))
    return time.monotonic()


def python_loop():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass


def main(rounds=20):
    r, w = os.pipe()
    result = {
        'python': '%d.%d.%d' % sys.version_info[:3],
        'rounds': rounds,
        'sleep': measure(lambda: time.sleep(0.3), rounds),
        'select': measure(lambda: select.select([r], [], [], 0.3), rounds),
        'event_wait': measure(lambda: threading.Event().wait(0.3), rounds),
        'python_code': measure(python_loop, rounds),
        'c_call_after_return': measure(c_loop, max(3, rounds // 4), True),
    }
    os.close(r)
    os.close(w)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(*[int(a) for a in sys.argv[1:]]))
