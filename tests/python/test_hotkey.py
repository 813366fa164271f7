"""The hotkey: heapscope.install() / uninstall() in a real interpreter.

Latency while the main thread sleeps, selects, waits or runs Python;
deferral (not loss) through a C loop holding the GIL; no nesting; signal
storms; the previous disposition restored exactly; fork; shutdown; no
leaked objects, threads or descriptors.  Most tests use SIGUSR2 so the
test process keeps its own SIGQUIT.
"""

import faulthandler
import gc
import io
import os
import platform
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import warnings

import heapscope
from heapscope import _heapscope as C
from heapscope import _hotkey

SIG = signal.SIGUSR2
LATENCY = 0.5           # the promise: the action starts within this


def proc_status(field):
    """A line of /proc/self/status (SigCgt, SigIgn, Threads...)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return line.split(':', 1)[1].strip()
    raise KeyError(field)


def caught(signum):
    return bool(int(proc_status('SigCgt'), 16) & (1 << (signum - 1)))


def ignored(signum):
    return bool(int(proc_status('SigIgn'), 16) & (1 << (signum - 1)))


def nthreads():
    return int(proc_status('Threads'))


def nfds():
    return len(os.listdir('/proc/self/fd'))


def wait_for(pred, timeout=2.0):
    # (a joined thread may still be counted in /proc for a moment: the
    # kernel wakes the joiner before it has quite removed the thread)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


class Recorder(object):
    """An action that records when and in which thread it ran."""

    def __init__(self, work=0.0, then=None):
        self.times = []
        self.threads = []
        self.depth = 0
        self.max_depth = 0
        self.work = work
        self.then = then
        self.ran = threading.Event()

    def __call__(self):
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        self.times.append(time.monotonic())
        self.threads.append(threading.get_ident())
        try:
            if self.then is not None:
                self.then(self)
            if self.work:
                time.sleep(self.work)
        finally:
            self.depth -= 1
            self.ran.set()


def send_later(delay, signum=SIG, pid=None):
    """Send signum from another thread after delay; returns (thread,
    [time sent])."""
    sent = []

    def run():
        time.sleep(delay)
        sent.append(time.monotonic())
        os.kill(pid or os.getpid(), signum)
    t = threading.Thread(target=run)
    t.start()
    return t, sent


def run_python(code, timeout=20, env=None, **kw):
    """Run code in a fresh interpreter with the build's package."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, env=e,
                          **kw)


class HotkeyCase(unittest.TestCase):

    def setUp(self):
        self.old_usr2 = signal.getsignal(SIG)
        signal.signal(SIG, signal.SIG_DFL)
        self.addCleanup(signal.signal, SIG, self.old_usr2)
        self.addCleanup(heapscope.uninstall)

    def install(self, action, signum=SIG):
        heapscope.install(signum, action=action)


class TestLatency(HotkeyCase):
    """The action starts within LATENCY of the signal whatever the main
    thread is blocked in, and before that blocking call ends."""

    def check(self, block):
        rec = Recorder()
        self.install(rec)
        t, sent = send_later(0.1)
        start = time.monotonic()
        block(1.0)
        ended = time.monotonic()
        t.join()
        self.assertTrue(rec.times, 'the action never ran')
        latency = rec.times[0] - sent[0]
        self.assertLess(latency, LATENCY)
        self.assertLess(rec.times[0], ended)
        self.assertGreaterEqual(ended - start, 0.95)   # really blocked
        self.assertNotEqual(rec.threads[0], threading.get_ident())
        return latency

    def test_time_sleep(self):
        self.check(time.sleep)

    def test_select(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        self.check(lambda t: select.select([r], [], [], t))

    def test_event_wait(self):
        self.check(threading.Event().wait)

    def test_lock_acquire(self):
        lock = threading.Lock()
        lock.acquire()
        self.addCleanup(lock.release)
        self.check(lambda t: lock.acquire(timeout=t))

    def test_python_loop(self):
        def spin(t):
            end = time.monotonic() + t
            n = 0
            while time.monotonic() < end:
                n += 1
        self.check(spin)


class TestDeferral(HotkeyCase):

    def test_c_loop_holding_the_gil_defers_not_loses(self):
        # sum() over a range is one C call that never releases the GIL.
        n = 3 * 10 ** 6
        t = time.perf_counter()
        sum(range(n))
        per = (time.perf_counter() - t) / n
        n = int(min(1.5 / max(per, 1e-9), 3 * 10 ** 9))
        rec = Recorder()
        self.install(rec)
        # Another process sends the signal: no thread of ours can run
        # while the loop holds the GIL.
        sender = subprocess.Popen(
            [sys.executable, '-c',
             'import os, signal, sys, time; time.sleep(0.2); '
             'os.kill(%d, %d); print(time.time())' % (os.getpid(), SIG)],
            stdout=subprocess.PIPE, universal_newlines=True)
        begin = time.time()
        sum(range(n))
        end = time.time()
        fired = rec.ran.wait(2.0)
        sent = float(sender.communicate()[0])
        self.assertTrue(fired, 'the signal was lost')
        self.assertGreater(end - begin, 0.5)
        self.assertLess(sent, end, 'the signal came after the loop: the '
                        'test proves nothing; make the loop longer')
        # The action ran once the loop let the GIL go, not before.
        self.assertEqual(len(rec.times), 1)
        self.assertGreaterEqual(time.time() - (time.monotonic() -
                                               rec.times[0]), end - 0.05)


class TestNoNesting(HotkeyCase):

    def test_signal_during_the_action_is_dropped(self):
        def again(rec):
            if len(rec.times) == 1:
                os.kill(os.getpid(), SIG)
                time.sleep(0.05)
                os.kill(os.getpid(), SIG)
        rec = Recorder(work=0.3, then=again)
        self.install(rec)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        time.sleep(0.8)
        self.assertEqual(len(rec.times), 1)
        self.assertEqual(rec.max_depth, 1)
        # and the hotkey still works afterwards
        rec.ran.clear()
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        self.assertEqual(len(rec.times), 2)

    def test_run_action_while_running_is_dropped(self):
        inner = []
        rec = Recorder(then=lambda r: inner.append(
            _hotkey.run_action(lambda: inner.append('nested'))))
        self.assertTrue(_hotkey.run_action(rec))
        self.assertEqual(inner, [False])
        self.assertTrue(_hotkey.run_action(lambda: inner.append('after')))
        self.assertEqual(inner, [False, 'after'])


class TestStorm(HotkeyCase):

    def storm(self, rec, count, spread):
        def run():
            for _ in range(count):
                os.kill(os.getpid(), SIG)
                if spread:
                    time.sleep(spread / count)
        t = threading.Thread(target=run)
        t.start()
        t.join()
        time.sleep(0.4)
        return len(rec.times)

    def test_storm_with_a_slow_action_is_bounded(self):
        rec = Recorder(work=0.05)
        self.install(rec)
        runs = self.storm(rec, 100, 1.0)
        self.assertGreaterEqual(runs, 1)
        # at most one run per 50 ms of storm, plus the edges
        self.assertLessEqual(runs, 1.0 / 0.05 + 4)
        self.assertEqual(rec.max_depth, 1)
        rec.ran.clear()
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0), 'dead after the storm')

    def test_burst_with_a_quick_action(self):
        rec = Recorder()
        self.install(rec)
        runs = self.storm(rec, 100, 0)
        self.assertGreaterEqual(runs, 1)
        self.assertLessEqual(runs, 100)
        rec.ran.clear()
        before = len(rec.times)
        os.kill(os.getpid(), SIG)
        self.assertTrue(wait_for(lambda: len(rec.times) > before))

    def test_storm_while_main_is_in_a_c_loop(self):
        rec = Recorder()
        self.install(rec)
        sender = subprocess.Popen(
            [sys.executable, '-c',
             'import os, time\nfor i in range(100):\n'
             '    os.kill(%d, %d); time.sleep(0.002)' % (os.getpid(), SIG)])
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            sum(range(200000))
        sender.wait(10)
        time.sleep(0.3)
        self.assertGreaterEqual(len(rec.times), 1)
        self.assertLessEqual(len(rec.times), 100)


class TestPrevious(HotkeyCase):
    """uninstall() gives the signal back exactly what it had."""

    def test_python_handler(self):
        seen = []
        signal.signal(SIG, lambda s, f: seen.append(s))
        rec = Recorder()
        self.install(rec)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        time.sleep(0.05)
        self.assertEqual(seen, [])            # ours, not theirs
        self.assertTrue(heapscope.uninstall())
        os.kill(os.getpid(), SIG)
        self.assertTrue(wait_for(lambda: seen == [SIG]))
        self.assertEqual(len(rec.times), 1)

    def test_sig_ign(self):
        signal.signal(SIG, signal.SIG_IGN)
        self.assertTrue(ignored(SIG))
        self.install(Recorder())
        self.assertTrue(caught(SIG))
        self.assertFalse(ignored(SIG))
        heapscope.uninstall()
        self.assertTrue(ignored(SIG))
        self.assertFalse(caught(SIG))
        os.kill(os.getpid(), SIG)       # ignored again: we survive
        time.sleep(0.05)

    def test_sig_dfl_in_process(self):
        self.assertFalse(caught(SIG) or ignored(SIG))
        self.install(Recorder())
        self.assertTrue(caught(SIG))
        heapscope.uninstall()
        self.assertFalse(caught(SIG) or ignored(SIG))

    def test_sig_dfl_kills_again(self):
        r = run_python('''
            import os, signal, heapscope
            heapscope.install(signal.SIGUSR2, action=lambda: None)
            heapscope.uninstall()
            os.kill(os.getpid(), signal.SIGUSR2)
            import time; time.sleep(2)
            print('survived')
            ''')
        self.assertEqual(r.returncode, -SIG, r.stderr)
        self.assertNotIn('survived', r.stdout)

    def test_default_sigquit(self):
        old = signal.getsignal(signal.SIGQUIT)
        self.addCleanup(signal.signal, signal.SIGQUIT, old)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        heapscope.install(action=Recorder())
        self.assertEqual(C.hotkey_info()[0], signal.SIGQUIT)
        self.assertTrue(caught(signal.SIGQUIT))
        heapscope.uninstall()
        self.assertFalse(caught(signal.SIGQUIT))

    def test_c_handler_of_another_module(self):
        with tempfile.TemporaryFile() as f:
            faulthandler.register(SIG, file=f, all_threads=False)
            try:
                rec = Recorder()
                self.install(rec)
                os.kill(os.getpid(), SIG)
                self.assertTrue(rec.ran.wait(2.0))
                f.seek(0)
                self.assertEqual(f.read(), b'')
                heapscope.uninstall()
                os.kill(os.getpid(), SIG)
                time.sleep(0.05)
                f.seek(0)
                self.assertIn(b'most recent call first', f.read())
            finally:
                faulthandler.unregister(SIG)

    def test_replaced_by_someone_else_stays(self):
        self.install(Recorder())
        seen = []
        signal.signal(SIG, lambda s, f: seen.append(s))
        self.assertTrue(heapscope.uninstall())
        os.kill(os.getpid(), SIG)
        self.assertTrue(wait_for(lambda: seen == [SIG]))

    def test_uninstall_without_install(self):
        self.assertFalse(heapscope.uninstall())
        self.assertIsNone(C.hotkey_info())


class TestInstall(HotkeyCase):

    def test_install_twice_replaces(self):
        seen = []
        signal.signal(SIG, lambda s, f: seen.append(s))
        a, b = Recorder(), Recorder()
        self.install(a)
        self.install(b)
        os.kill(os.getpid(), SIG)
        self.assertTrue(b.ran.wait(2.0))
        time.sleep(0.1)
        self.assertEqual(a.times, [])
        heapscope.uninstall()
        # the previous disposition is the Python handler, not our own
        os.kill(os.getpid(), SIG)
        self.assertTrue(wait_for(lambda: seen == [SIG]))

    def test_install_on_another_signal_restores_the_first(self):
        old1 = signal.getsignal(signal.SIGUSR1)
        self.addCleanup(signal.signal, signal.SIGUSR1, old1)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        a, b = Recorder(), Recorder()
        self.install(a, signal.SIGUSR1)
        self.assertTrue(caught(signal.SIGUSR1))
        self.install(b, SIG)
        self.assertTrue(ignored(signal.SIGUSR1))
        self.assertTrue(caught(SIG))
        os.kill(os.getpid(), SIG)
        self.assertTrue(b.ran.wait(2.0))
        self.assertEqual(a.times, [])

    def test_signal_names(self):
        n = _hotkey.signal_number
        self.assertEqual(n('USR2'), signal.SIGUSR2)
        self.assertEqual(n('sigquit'), signal.SIGQUIT)
        self.assertEqual(n('12'), 12)
        self.assertEqual(n(signal.SIGHUP), signal.SIGHUP)
        self.assertRaises(ValueError, n, 'NOSUCH')
        self.assertRaises(TypeError, n, 1.5)
        self.install(Recorder(), 'usr2')
        self.assertEqual(C.hotkey_info()[0], SIG)

    def test_bad_arguments(self):
        self.assertRaises(ValueError, heapscope.install, signal.SIGKILL)
        self.assertRaises(ValueError, heapscope.install, signal.SIGSTOP)
        self.assertRaises(ValueError, heapscope.install, signal.SIGSEGV)
        self.assertRaises(ValueError, heapscope.install, 0)
        self.assertRaises(ValueError, heapscope.install, 100000)
        self.assertRaises(TypeError, heapscope.install, SIG, 'not callable')
        self.assertIsNone(C.hotkey_info())
        # a failed install leaves a working one as it was
        rec = Recorder()
        self.install(rec)
        self.assertRaises(ValueError, heapscope.install, signal.SIGKILL,
                          action=Recorder())
        # 32 is the C library's own: sigaction() itself refuses it
        self.assertRaises(ValueError, heapscope.install, 32,
                          action=Recorder())
        self.assertEqual(C.hotkey_info(), (SIG, os.getpid(), os.getpid()))
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))

    def test_invisible_thread(self):
        before = threading.enumerate()
        threads = nthreads()
        self.install(Recorder())
        self.assertEqual(nthreads(), threads + 1)   # the watcher exists
        self.assertEqual(threading.enumerate(), before)
        heapscope.uninstall()
        self.assertTrue(wait_for(lambda: nthreads() == threads))

    def test_action_calling_current_thread_leaves_no_trace(self):
        before = threading.enumerate()
        names = []
        rec = Recorder(then=lambda r: names.append(
            threading.current_thread().name))
        self.install(rec)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        time.sleep(0.05)
        self.assertEqual(len(names), 1)
        self.assertEqual(threading.enumerate(), before)

    def test_action_exception_is_one_line(self):
        err = io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            def boom():
                raise ValueError('boom at the hotkey')
            self.install(boom)
            os.kill(os.getpid(), SIG)
            self.assertTrue(wait_for(lambda: err.getvalue()))
            time.sleep(0.05)
            self.install(lambda: sys.exit(3))
            os.kill(os.getpid(), SIG)
            self.assertTrue(wait_for(lambda: err.getvalue().count('\n') > 1))
            time.sleep(0.05)
        finally:
            sys.stderr = old
        lines = err.getvalue().splitlines()
        self.assertEqual(lines, [
            'heapscope: the hotkey action failed: ValueError: boom at the '
            'hotkey',
            'heapscope: the hotkey action failed: SystemExit: 3'])
        # and the program carries on with a working hotkey
        rec = Recorder()
        self.install(rec)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))

    def test_uninstall_from_inside_the_action(self):
        threads, fds = nthreads(), nfds()
        rec = Recorder(then=lambda r: heapscope.uninstall())
        self.install(rec)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        self.assertTrue(wait_for(lambda: nthreads() == threads))
        self.assertEqual(nfds(), fds)
        self.assertIsNone(C.hotkey_info())
        self.assertFalse(caught(SIG))

    def test_replace_from_inside_the_action(self):
        threads = nthreads()
        b = Recorder()
        a = Recorder(then=lambda r: heapscope.install(SIG, action=b))
        self.install(a)
        os.kill(os.getpid(), SIG)
        self.assertTrue(a.ran.wait(2.0))
        self.assertTrue(wait_for(lambda: nthreads() == threads + 1))
        os.kill(os.getpid(), SIG)
        self.assertTrue(b.ran.wait(2.0))
        self.assertEqual(len(a.times), 1)

    def test_environment_action(self):
        mod = type(sys)('hs_test_env_action')
        hits = []
        mod.act = lambda: hits.append(1)
        sys.modules['hs_test_env_action'] = mod
        self.addCleanup(sys.modules.pop, 'hs_test_env_action')
        os.environ['HEAPSCOPE_ACTION'] = 'hs_test_env_action:act'
        self.addCleanup(os.environ.pop, 'HEAPSCOPE_ACTION')
        self.install(None)
        os.kill(os.getpid(), SIG)
        self.assertTrue(wait_for(lambda: hits == [1]))

SEND_WHEN_READING = """
import os, sys, time
pid, tid, sig, nr = map(int, sys.argv[1:])
path = '/proc/%d/task/%d/syscall' % (pid, tid)
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        with open(path) as f:
            if f.read().split()[0] == str(nr):
                break
    except (OSError, IndexError):     # no such file here: just wait
        time.sleep(0.1)
        break
    time.sleep(0.01)
time.sleep(0.05)
os.kill(pid, sig)
"""


# read(2)'s number, as /proc/PID/task/TID/syscall shows it
READ_NR = {'aarch64': 63}.get(platform.machine(), 0)


class TestParkMain(HotkeyCase):
    """hotkey_park_main(): a main thread blocked in read() gives it up and
    waits for the GIL, so the explorer gets the terminal's input."""

    def check(self, park):
        import ctypes
        libc = ctypes.PyDLL(None)        # calls that keep the GIL
        fionread = 0x541B                # Linux
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        seen = {}

        def act():
            # Like the explorer, keep the GIL: a long switch interval
            # stands for its C loop that never reaches the eval breaker.
            # (and no collection: a finalizer closing a file would let
            # the GIL go too).
            interval = sys.getswitchinterval()
            sys.setswitchinterval(30)
            gc.disable()
            try:
                seen['parked'] = C.hotkey_park_main() if park else None
                # Again, as the explorer does on each idle tick: a park
                # signal that lands while the main thread is still
                # returning from the hotkey's own signal (SA_RESTART)
                # cannot interrupt the read it restarts, and on a busy
                # machine that return may take a while.
                for _ in range(5):
                    libc.usleep(20000)
                    if park:
                        C.hotkey_park_main()
                libc.write(w, b'x', 1)       # (os.write lets the GIL go)
                libc.usleep(200000)
                n = ctypes.c_int(-1)
                libc.ioctl(r, fionread, ctypes.byref(n))
                seen['left'] = n.value
                C.hotkey_unpark_main()
            finally:
                gc.enable()
                sys.setswitchinterval(interval)
        self.install(act)
        # From another process: a thread of ours could take the GIL
        # between the park and the read (any thread may, not only main).
        # It waits until the main thread is blocked in read(2)
        # (/proc/PID/task/TID/syscall): a signal that came
        # before could find the main thread still on its way there,
        # holding or waiting for the GIL, which is not what this tests.
        sender = subprocess.Popen(
            [sys.executable, '-c', SEND_WHEN_READING, str(os.getpid()),
             str(threading.get_native_id()), str(int(SIG)), str(READ_NR)])
        data = os.read(r, 1)             # the main thread blocks here
        sender.wait(10)
        self.assertTrue(wait_for(lambda: 'left' in seen))
        self.assertEqual(data, b'x')
        return seen

    def test_parked_main_thread_leaves_the_input(self):
        seen = self.check(park=True)
        self.assertIs(seen['parked'], True)
        self.assertEqual(seen['left'], 1)
        # SA_RESTART is back
        self.assertTrue(caught(SIG))

    def test_unparked_main_thread_takes_the_input(self):
        # what parking prevents
        self.assertEqual(self.check(park=False)['left'], 0)

    def test_park_signal_does_not_fire_the_hotkey(self):
        # explore() from a worker thread parks the main thread too
        rec = Recorder()
        self.install(rec)
        out = []

        def worker():
            out.append(C.hotkey_park_main())
            time.sleep(0.1)
            C.hotkey_unpark_main()
        t = threading.Thread(target=worker)
        t.start()
        time.sleep(0.5)          # interrupted, and resumed, by the park
        t.join()
        self.assertEqual(out, [True])
        time.sleep(0.2)
        self.assertEqual(rec.times, [])
        self.assertTrue(caught(SIG))
        os.kill(os.getpid(), SIG)        # and a real one still fires
        self.assertTrue(rec.ran.wait(2.0))

    def test_park_from_the_main_thread_does_nothing(self):
        self.install(Recorder())
        self.assertFalse(C.hotkey_park_main())
        C.hotkey_unpark_main()
        heapscope.uninstall()
        self.assertFalse(C.hotkey_park_main())


class TestLeaks(HotkeyCase):

    def test_cycles_leak_nothing(self):
        rec = Recorder()
        for _ in range(20):                     # warm up caches
            self.install(rec)
            heapscope.uninstall()
        gc.collect()
        objs, fds, threads = len(gc.get_objects()), nfds(), nthreads()
        refs = sys.getrefcount(rec)
        for i in range(300):
            self.install(rec)
            if i % 50 == 0:
                os.kill(os.getpid(), SIG)
                self.assertTrue(wait_for(lambda: len(rec.times) > i // 50))
            heapscope.uninstall()
        gc.collect()
        self.assertEqual(nfds(), fds)
        self.assertTrue(wait_for(lambda: nthreads() == threads),
                        (nthreads(), threads))
        self.assertEqual(sys.getrefcount(rec), refs)
        self.assertLess(len(gc.get_objects()) - objs, 30)

    def test_replacing_leaks_nothing(self):
        self.install(Recorder())
        fds, threads = nfds(), nthreads()
        for _ in range(100):
            self.install(Recorder())
        self.assertEqual(nfds(), fds)
        self.assertTrue(wait_for(lambda: nthreads() == threads),
                        (nthreads(), threads))


class TestFork(HotkeyCase):
    """A forked child gets a watcher and a pipe of its own."""

    def exited_ok(self, status):
        # a child killed by a signal has an exit status of 0 too
        self.assertTrue(os.WIFEXITED(status), status)
        self.assertEqual(os.WEXITSTATUS(status), 0)

    def fork(self):
        with warnings.catch_warnings():
            # 3.12+ warns that this process has threads (the watcher).
            warnings.simplefilter('ignore', DeprecationWarning)
            return os.fork()

    def test_child_has_its_own_hotkey(self):
        rec = Recorder()
        self.install(rec)
        r, w = os.pipe()
        pid = self.fork()
        if pid == 0:
            signal.alarm(30)    # a child that hangs dies: a failure
            code = 1
            try:
                os.close(r)
                info = C.hotkey_info()
                ok = info is not None and info[2] == os.getpid() \
                    and info[1] == os.getppid()
                os.kill(os.getpid(), SIG)
                if ok and rec.ran.wait(2.0):
                    code = 0
                os.write(w, b'%d' % code)
            finally:
                os._exit(code)
        os.close(w)
        with os.fdopen(r) as f:
            out = f.read()
        _, status = os.waitpid(pid, 0)
        self.assertEqual(out, '0')
        self.exited_ok(status)
        # the child's signal never reached the parent's watcher
        time.sleep(0.1)
        self.assertEqual(rec.times, [])
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))

    def test_signal_to_parent_does_not_wake_child(self):
        rec = Recorder()
        self.install(rec)
        r, w = os.pipe()
        pid = self.fork()
        if pid == 0:
            signal.alarm(30)    # a child that hangs dies: a failure
            code = 1
            try:
                os.close(r)
                os.write(w, b'r')
                # the parent signals itself now; we must stay quiet
                code = 0 if not rec.ran.wait(1.0) else 3
            finally:
                os._exit(code)
        os.close(w)
        os.read(r, 1)
        os.close(r)
        os.kill(os.getpid(), SIG)
        self.assertTrue(rec.ran.wait(2.0))
        _, status = os.waitpid(pid, 0)
        self.exited_ok(status)

    def test_fork_then_uninstall_in_child(self):
        self.install(Recorder())
        pid = self.fork()
        if pid == 0:
            signal.alarm(30)    # a child that hangs dies: a failure
            code = 1
            try:
                threads = nthreads()
                ok = heapscope.uninstall() and not caught(SIG)
                ok = ok and wait_for(lambda: nthreads() == threads - 1)
                code = 0 if ok else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.exited_ok(status)
        self.assertIsNotNone(C.hotkey_info())


class TestShutdown(unittest.TestCase):
    """Exiting with the hotkey installed: no crash, no hang."""

    def test_exit_with_hotkey_installed(self):
        r = run_python('''
            import heapscope
            heapscope.install()
            print('bye')
            ''')
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, 'bye\n', ''))

    def test_exit_while_the_action_runs(self):
        r = run_python('''
            import os, signal, time, heapscope
            def act():
                time.sleep(0.5)
                print('action done', flush=True)
            heapscope.install(signal.SIGUSR2, action=act)
            os.kill(os.getpid(), signal.SIGUSR2)
            time.sleep(0.1)
            print('main done', flush=True)
            ''')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'main done\naction done\n')

    def test_storm_during_exit(self):
        code = '''
            import os, signal, threading, heapscope
            signal.signal(signal.SIGUSR2, signal.SIG_IGN)
            heapscope.install(signal.SIGUSR2, action=lambda: None)
            def storm():
                while True:
                    os.kill(os.getpid(), signal.SIGUSR2)
            threading.Thread(target=storm, daemon=True).start()
            '''
        for _ in range(5):
            r = run_python(code)
            self.assertEqual((r.returncode, r.stderr), (0, ''))

    def test_storm_during_finalization_without_atexit(self):
        # atexit hooks cleared: the watcher is still there when the
        # interpreter finalizes, and must not take the GIL then.
        code = '''
            import atexit, os, signal, threading, heapscope
            signal.signal(signal.SIGUSR2, signal.SIG_IGN)
            heapscope.install(signal.SIGUSR2, action=lambda: None)
            atexit._clear()
            def storm():
                while True:
                    os.kill(os.getpid(), signal.SIGUSR2)
            threading.Thread(target=storm, daemon=True).start()
            '''
        for _ in range(5):
            r = run_python(code)
            self.assertEqual((r.returncode, r.stderr), (0, ''))

    def test_breakpoint_hook(self):
        # PYTHONBREAKPOINT names heapscope.explore, which calls
        # heapscope._explore's, imported with heapscope (a stand-in here).
        r = run_python('''
            import sys, types
            fake = types.ModuleType('heapscope._explore')
            fake.explore = lambda s=None: print('explore', s)
            sys.modules['heapscope._explore'] = fake
            breakpoint()
            print('after')
            ''', env={'PYTHONBREAKPOINT': 'heapscope.explore'})
        self.assertEqual((r.returncode, r.stdout),
                         (0, 'explore None\nafter\n'), r.stderr)

if __name__ == '__main__':
    unittest.main()
