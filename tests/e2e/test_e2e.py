"""End-to-end: real programs in a real terminal (a detached tmux pane).

Each test starts a private tmux server (its own socket, no user config),
runs a program under the built heapscope command (or a script calling
heapscope.install()) in a pane, types keys with send-keys, reads the
screen with capture-pane and kills the server whatever happens.  The pane
runs the program inside a small sh script that records `stty -g` before
and after and prints the exit status, so the terminal state and the
status are checked too.  Standard library only; no stdin needed (tmux
makes the pane's pty).  Run by run-e2e.sh under make check.

The explorer tests expect the explorer's screen and skip while
heapscope._explore is not in the build.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

BUILD = os.environ.get('HEAPSCOPE_BUILDDIR', '')
COMMAND = os.path.join(BUILD, 'heapscope')
PKG = os.path.join(BUILD, 'pkg')
PYTHON = os.environ.get('PYTHON', sys.executable)
# The sanitizer build's module needs the ASan runtime preloaded; only the
# program under test gets it, not tmux or sh.
PRELOAD = os.environ.get('HEAPSCOPE_E2E_PRELOAD', '')
TIMEOUT = 10.0

TMUX_CONF = '''\
set -g remain-on-exit on
set -g status off
set -g default-terminal screen
set -g history-limit 2000
'''

# A program that echoes what is typed at it: it proves it still reads its
# terminal normally after the hotkey ran.  'quit' ends it with status 3.
ECHO_PROG = '''\
import os, sys
print('ready', os.getpid(), flush=True)
for line in sys.stdin:
    line = line.strip()
    if line == 'quit':
        print('bye', flush=True)
        sys.exit(3)
    print('echo', line, flush=True)
'''

# A program that measures its own heap before and after (see
# test_a_session_leaves_the_programs_heap_as_it_was).
NEUTRAL_PROG = '''\
import gc, os, sys
from heapscope import demo
gc.disable()        # (collections only where the census asks for them)
repo = demo.Repository().load(2000)
pin = []
before, after = {None: pin}, {None: pin}   # made before either census


def collect():
    # (a collection stops tracking a tuple of untracked items, so nested
    # constant tuples of code loaded lately, as heapscope's own by the
    # first session, leave the count one level a collection: collect
    # until that is done)
    for _ in range(4):
        gc.collect()


def census(into):
    collect()
    objs = gc.get_objects()
    into.clear()
    for o in objs:
        t = type(o)
        into[t] = into.get(t, 0) + 1


sample, refs = [], []
print('ready', os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'before':
        # (the program's own garbage gone first: with the collector off,
        # cycles left by imports, e.g. operator's pure-Python attrgetter,
        # would be sampled, and their refcounts fall when collected)
        collect()
        objs = gc.get_objects()
        # (not pin: each census's clear() drops a reference to it)
        sample[:] = [o for o in objs[::max(1, len(objs) // 6000)]
                     if not isinstance(o, type) and o is not pin][:6000]
        del objs
        sample.extend(v for p in repo.packages for v in p.data.values()
                      if isinstance(v, str))
        del sample[10000:]
        refs[:] = [sys.getrefcount(o) for o in sample]
        census(before)
        print('BEFORE', len(sample), flush=True)
    elif cmd == 'after':
        # what the session left in cycles, which only a collection (in a
        # big program, rarely a full one) would free
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        cycles = ' '.join(sorted({type(o).__name__ for o in gc.garbage}))
        del gc.garbage[:]
        gc.set_debug(0)
        census(after)
        now = [sys.getrefcount(o) for o in sample]
        types = {t.__name__: (before.get(t, 0), after.get(t, 0))
                 for t in set(before) | set(after)
                 if before.get(t, 0) != after.get(t, 0)}
        changed = sum(1 for a, b in zip(refs, now) if a != b)
        print('NEUTRAL types=%r refcounts_changed=%d cycles=%r' % (
            types, changed, cycles), flush=True)
    elif cmd == 'quit':
        break
'''

# A program with a thread that runs Python code without a pause, one that
# sleeps in a loop and one that dozes longer (it wakes while the explorer is
# open, often while the explorer runs Python code of its own); each keeps
# its longest pause between two turns and counts its turns ('report' prints
# them, 'reset' forgets the pauses).  For
# test_a_busy_thread_neither_blocks_nor_runs_while_open.
BUSY_PROG = '''\
import os, sys, threading, time
gaps = {'spin': 0.0, 'sleep': 0.0, 'doze': 0.0}
turns = {'spin': 0, 'sleep': 0, 'doze': 0}


def spin():
    last = time.monotonic()
    while True:
        now = time.monotonic()
        gaps['spin'] = max(gaps['spin'], now - last)
        turns['spin'] += 1
        last = now
        sum(range(100))


def nap(name, seconds):
    last = time.monotonic()
    while True:
        time.sleep(seconds)
        now = time.monotonic()
        gaps[name] = max(gaps[name], now - last)
        turns[name] += 1
        last = now


threading.Thread(target=spin, daemon=True).start()
for args in (('sleep', 0.002), ('doze', 0.03)):
    threading.Thread(target=nap, args=args, daemon=True).start()
print('ready', os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == 'report':
        print('GAPS spin=%.3f sleep=%.3f doze=%.3f interval=%g turns=%d,%d,%d'
              % (gaps['spin'], gaps['sleep'], gaps['doze'],
                 sys.getswitchinterval(),
                 turns['spin'], turns['sleep'], turns['doze']), flush=True)
    elif cmd == 'reset':
        gaps['spin'] = gaps['sleep'] = gaps['doze'] = 0.0
        print('RESET', flush=True)
    elif cmd == 'quit':
        break
'''

# A program whose main thread only sleeps (it takes none of the
# explorer's keys, as one reading the terminal would while a `:` expression
# lets it run) and a thread that prints NOISE every 0.1 s, over the
# explorer too while a `:` expression lets it run.
NOISY_PROG = '''\
import os, threading, time


def noise():
    while True:
        time.sleep(0.1)
        print('NOISE', flush=True)


threading.Thread(target=noise, daemon=True).start()
print('ready', os.getpid(), flush=True)
while True:
    time.sleep(1)
'''

ACTION_MODULE = '''\
import os
def act():
    print('HOTKEY-ACTION pid=%d' % os.getpid(), flush=True)
'''


class Pane(object):
    """One tmux server with one pane running `script` (sh)."""

    made = 0

    def __init__(self, workdir, script, width=100, height=30):
        self.dir = workdir
        # a socket per pane: a server just killed may still hold its own
        Pane.made += 1
        self.sock = os.path.join(workdir, 'tmux%d.sock' % Pane.made)
        conf = os.path.join(workdir, 'tmux.conf')
        with open(conf, 'w') as f:
            f.write(TMUX_CONF)
        run = os.path.join(workdir, 'run.sh')
        with open(run, 'w') as f:
            f.write(script)
        self.tmux('-f', conf, 'new-session', '-d', '-s', 'e2e',
                  '-x', str(width), '-y', str(height), 'sh ' + run)

    def tmux(self, *args):
        env = dict(os.environ)
        env.pop('TMUX', None)
        r = subprocess.run(['tmux', '-S', self.sock] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           env=env, timeout=TIMEOUT)
        if r.returncode != 0:
            raise RuntimeError('tmux %s: %s' % (' '.join(args),
                                                r.stderr.strip()))
        return r.stdout

    def keys(self, *keys):
        self.tmux('send-keys', '-t', 'e2e', *keys)

    def type_line(self, text):
        self.tmux('send-keys', '-t', 'e2e', '-l', text)
        self.keys('Enter')

    def screen(self, history=False):
        """What the pane shows; with history, the lines scrolled off the
        top too (tmux's 'Pane is dead' line can scroll a full pane)."""
        more = ['-S', '-'] if history else []
        return self.tmux('capture-pane', '-p', *more, '-t', 'e2e')

    def wait_for(self, pattern, timeout=TIMEOUT, count=1):
        """Wait until `pattern` (a regex) matches `count` times on the
        screen; the match.  Fails with the screen shown."""
        end = time.monotonic() + timeout
        while True:
            text = self.screen(history=True)
            found = list(re.finditer(pattern, text, re.M))
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > end:
                raise AssertionError('%r did not appear %d time(s) within '
                                     '%.0f s; the screen:\n%s'
                                     % (pattern, count, timeout, text))
            time.sleep(0.05)

    def wait_gone(self, pattern, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while re.search(pattern, self.screen(), re.M):
            if time.monotonic() > end:
                raise AssertionError('%r still on the screen:\n%s'
                                     % (pattern, self.screen()))
            time.sleep(0.05)

    def close(self):
        try:
            self.tmux('kill-server')
        except (RuntimeError, subprocess.SubprocessError, OSError):
            pass


class E2ECase(unittest.TestCase):

    def setUp(self):
        if not BUILD or not os.access(COMMAND, os.X_OK):
            self.skipTest('HEAPSCOPE_BUILDDIR has no heapscope command')
        # A short path: a unix socket's path is limited to ~100 bytes.
        self.dir = tempfile.mkdtemp(prefix='hs-e2e-', dir='/tmp')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.write('e2eaction.py', ACTION_MODULE)
        self.write('echo.py', ECHO_PROG)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        return path

    def start(self, argv, env=None, unset=(), size=(100, 30)):
        """Run argv in a pane (size: columns, rows), with the package on
        the path; the sh around it ignores Ctrl-\\ itself (a trap, so the
        program still gets the default disposition)."""
        e = {'PYTHONPATH': PKG}
        if PRELOAD:
            e['LD_PRELOAD'] = PRELOAD
            e['ASAN_OPTIONS'] = 'detect_leaks=0'
        e.update(env or {})
        prefix = ['env'] + ['-u%s' % u for u in unset] + \
            ['%s=%s' % kv for kv in sorted(e.items())]
        cmd = ' '.join(shlex.quote(a) for a in prefix + list(argv))
        d = shlex.quote(self.dir)
        script = ('trap : QUIT\n'
                  'ulimit -c 0\n'
                  'cd %s\n'
                  'stty -g > %s/stty.before\n'
                  '%s\n'
                  'echo "EXIT=$?"\n'
                  'stty -g > %s/stty.after\n' % (d, d, cmd, d))
        pane = Pane(self.dir, script, width=size[0], height=size[1])
        self.addCleanup(pane.close)
        return pane

    def finish(self, pane, status):
        """Wait for the exit status line; the terminal is as it was."""
        pane.wait_for(r'^EXIT=%d$' % status)
        end = time.monotonic() + TIMEOUT
        after = os.path.join(self.dir, 'stty.after')
        while not os.path.exists(after) or os.path.getsize(after) == 0:
            self.assertLess(time.monotonic(), end, 'no stty after')
            time.sleep(0.05)
        with open(os.path.join(self.dir, 'stty.before')) as f:
            before = f.read()
        with open(after) as f:
            self.assertEqual(f.read(), before)

    @staticmethod
    def after_key(pattern):
        """pattern at the start of a line, or right after the ^\\ that
        the terminal echoes for Ctrl-\\."""
        return r'^(?:\^\\)?' + pattern

    def pid(self, pane):
        return int(pane.wait_for(r'^ready (\d+)$').group(1))

    def close(self, pane):
        """q until the explorer is gone (a help screen may take one)."""
        for _ in range(3):
            pane.keys('q')
            try:
                pane.wait_gone(TITLE, timeout=3)
                return
            except AssertionError:
                continue
        pane.wait_gone(TITLE, timeout=1)


class TestHotkey(E2ECase):

    def test_ctrl_backslash_under_the_command(self):
        pane = self.start([COMMAND, 'echo.py'],
                          env={'HEAPSCOPE_ACTION': 'e2eaction:act'})
        pid = self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(self.after_key(r'HOTKEY-ACTION pid=%d$' % pid))
        # the program carries on reading its terminal
        pane.type_line('hello')
        pane.wait_for(r'^echo hello$')
        pane.keys('C-\\')
        pane.wait_for(self.after_key(r'HOTKEY-ACTION pid=%d$' % pid),
                      count=2)
        pane.type_line('again')
        pane.wait_for(r'^echo again$')
        pane.type_line('quit')
        pane.wait_for(r'^bye$')
        self.finish(pane, 3)

    def test_kill_usr2_from_another_shell(self):
        pane = self.start([COMMAND, '--signal', 'USR2', 'echo.py'],
                          env={'HEAPSCOPE_ACTION': 'e2eaction:act'})
        pid = self.pid(pane)
        os.kill(pid, signal.SIGUSR2)
        pane.wait_for(r'^HOTKEY-ACTION pid=%d$' % pid)
        pane.type_line('still here')
        pane.wait_for(r'^echo still here$')
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_install_in_the_program_itself(self):
        self.write('own.py', '''
            import heapscope
            heapscope.install(action=lambda: print('OWN-ACTION',
                                                   flush=True))
            exec(open('echo.py').read())
            ''')
        pane = self.start([PYTHON, 'own.py'])
        self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(self.after_key(r'OWN-ACTION$'))
        pane.type_line('x')
        pane.wait_for(r'^echo x$')
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_at_the_python_prompt(self):
        # The interactive prompt reads the terminal through readline.
        pane = self.start([PYTHON, '-q', '-i', '-c', 'import os, '
                           'heapscope; heapscope.install(action=lambda: '
                           'print("REPL-ACTION", flush=True)); '
                           'print("ready", os.getpid())'])
        self.pid(pane)
        pane.wait_for(r'^>>>\s*$')
        pane.keys('C-\\')
        pane.wait_for(r'REPL-ACTION$')
        pane.type_line('print(6 * 7)')
        pane.wait_for(r'^42$')
        # (3.13.0's new prompt exits with 1 for SystemExit(n): end it
        # with Ctrl-D, the same everywhere)
        pane.wait_for(r'^42\n>>>\s*$')
        pane.keys('C-d')
        self.finish(pane, 0)

    def test_no_hotkey_means_python_default(self):
        pane = self.start([COMMAND, '--no-hotkey', 'echo.py'],
                          env={'HEAPSCOPE_ACTION': 'e2eaction:act'})
        self.pid(pane)
        pane.keys('C-\\')
        # SIGQUIT's default: the program dies (128 + 3)
        self.finish(pane, 131)
        self.assertNotIn('HOTKEY-ACTION', pane.screen(history=True))

    def test_forked_child_ignores_the_terminal_key(self):
        # Ctrl-\ reaches every process of the foreground group: only the
        # process that installed the hotkey answers it; a forked child
        # answers a signal sent to it alone.
        self.write('forks.py', '''
            import os, sys, time, warnings
            warnings.simplefilter('ignore', DeprecationWarning)
            import heapscope
            heapscope.install(action=lambda: print('ACTION pid=%d'
                                                   % os.getpid(), flush=True))
            r, w = os.pipe()
            child = os.fork()
            if child == 0:
                print('child', os.getpid(), flush=True)
                os.write(w, b'x')
                time.sleep(60)
                os._exit(0)
            os.read(r, 1)           # one line at a time on the screen
            exec(open('echo.py').read())
            ''')
        pane = self.start([PYTHON, 'forks.py'])
        pid = self.pid(pane)
        child = int(pane.wait_for(r'^child (\d+)$').group(1))
        try:
            pane.keys('C-\\')
            pane.wait_for(self.after_key(r'ACTION pid=%d$' % pid))
            time.sleep(0.3)
            self.assertNotIn('ACTION pid=%d' % child,
                             pane.screen(history=True))
            os.kill(child, signal.SIGQUIT)
            pane.wait_for(r'^ACTION pid=%d$' % child)
            self.assertEqual(pane.screen(history=True).count('ACTION pid='), 2)
        finally:
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
        pane.type_line('quit')
        self.finish(pane, 3)

TITLE = r'^ heapscope\b.*(?<![\w.])h\b'


class TestExplorer(E2ECase):
    """The explorer, opened by each way in, in a real terminal."""

    def setUp(self):
        super(TestExplorer, self).setUp()

    def open(self, argv=None, env=None):
        pane = self.start(argv or [COMMAND, 'echo.py'], env=env,
                          unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        return pane

    def test_open_and_close(self):
        pane = self.open()
        self.close(pane)
        pane.type_line('after')
        pane.wait_for(r'^echo after$')
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_the_table_shows_nothing_of_the_explorers_own(self):
        # The explorer's calls into its model make no bound method and no
        # collector-tracked argument tuple that its walk would take for
        # objects held by C code, and the hotkey's watcher thread gets no
        # threading._DummyThread: a program that has made nothing since
        # the mark shows none of them.
        pane = self.start([COMMAND, '--mark', 'echo.py'],
                          unset=['HEAPSCOPE_ACTION'], size=(100, 70))
        self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        pane.keys('t')
        pane.wait_for(r'Index.*Type')
        screen = pane.screen()
        rows = re.findall(r'^ [ >] +\d+ ', screen, re.M)
        self.assertLess(len(rows), 60, 'every row fits on the screen')
        self.assertNotIn('MethodType', screen)
        self.assertNotIn('_DummyThread', screen)
        # nor its modules, imported with heapscope (before any mark)
        pane.keys('m')
        pane.wait_for(r'Index.*Module')
        self.assertNotIn('heapscope', pane.screen().split('\n', 1)[1])
        self.close(pane)
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_type_key_changes_the_header(self):
        pane = self.open()
        pane.keys('t')
        pane.wait_for(r'Index.*Type')
        self.close(pane)
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_ctrl_l_repaints_what_something_else_wrote_over(self):
        # Another process writes over row 4 and leaves the cursor there
        # (curses, which thinks it elsewhere, would draw what changes next
        # in the wrong places): Ctrl-L puts the whole table back.
        pane = self.open()
        row4 = r'^ {6}4( +\d+){6} '
        pane.wait_for(row4)
        tty = pane.tmux('display-message', '-p', '-t', 'e2e',
                        '#{pane_tty}').strip()
        with open(tty, 'w') as f:
            f.write('\033[8;20HSCRIBBLED-OVER-THE-TABLE')
        pane.wait_for(r'SCRIBBLED-OVER-THE-TABLE')
        pane.keys('C-l')
        pane.wait_gone(r'SCRIBBLED-OVER-THE-TABLE')
        pane.wait_for(row4)
        self.assertNotIn('does nothing', pane.screen())
        self.close(pane)
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_no_allocation_sites_without_tracemalloc(self):
        # p says why in the status line and makes no view; Tab and
        # Shift-Tab go past it
        pane = self.open()
        pane.keys('m')
        pane.wait_for(r'^ heapscope\b.* h\.bymodule\b')
        pane.keys('p')
        pane.wait_for(r'^ allocation site: tracemalloc is not tracing: start')
        self.assertRegex(pane.screen(), r'(?m)^ heapscope\b.* h\.bymodule\b')
        pane.keys('Tab')
        pane.wait_for(r'Index.*Kind')
        pane.wait_for(r'^ allocation site: tracemalloc is not tracing')
        pane.keys('BTab')
        pane.wait_for(r'^ heapscope\b.* h\.bymodule\b')
        self.assertNotIn('byprod', pane.screen(history=True))
        self.close(pane)
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_help(self):
        pane = self.open()
        pane.keys('?')
        pane.wait_gone(r'Index.*Cumulative')
        text = pane.screen().lower()
        self.assertTrue('quit' in text or 'close' in text, text)
        self.close(pane)
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_at_the_python_prompt(self):
        # readline must not take the explorer's keys, nor the explorer
        # the prompt's afterwards.
        pane = self.start([PYTHON, '-q', '-i', '-c', 'import os, '
                           'heapscope; heapscope.install(); '
                           'print("ready", os.getpid())'],
                          unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        pane.wait_for(r'^>>>\s*$')
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        pane.keys('t')
        pane.wait_for(r'Index.*Type')
        self.close(pane)
        pane.type_line('print(6 * 7)')
        pane.wait_for(r'^42$')
        # (3.13.0's new prompt exits with 1 for SystemExit(n): end it
        # with Ctrl-D, the same everywhere)
        pane.wait_for(r'^42\n>>>\s*$')
        pane.keys('C-d')
        self.finish(pane, 0)

    def test_explore_at_exit(self):
        pane = self.start([COMMAND, '--explore-at-exit', 'echo.py'],
                          unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        pane.type_line('quit')
        pane.wait_for(TITLE)
        self.close(pane)
        self.finish(pane, 3)

    def test_tutorial_keys_on_the_demo(self):
        # heapscope demo opens the explorer on its heap; the tutorial's
        # moves by keys: referrers by kind, open a row, its referrers,
        # sample an object, back and back, resize, help, quit
        pane = self.start([COMMAND, 'demo', '2000'],
                          unset=['HEAPSCOPE_ACTION'])
        pane.wait_for(TITLE)
        pane.wait_for(r'heapscope\.demo\.Package')
        pane.keys('r')
        pane.wait_for(r'^ heapscope\b.*h\.byrcs\b')
        pane.wait_for(r'Referrers by Kind')
        pane.keys('Enter')
        pane.wait_for(r'^ heapscope\b.*h\.byrcs\[0\]\.byrcs\b')
        pane.keys('R')
        pane.wait_for(r'h\.byrcs\[0\]\.byrcs\[0\]\.referrers')
        pane.keys('x')
        pane.wait_for(r'^ *address +0x[0-9a-f]+')
        pane.wait_for(r'^ *path +hpy\(\)\.Root\.')
        # all of the object's referrers, and back to its page
        pane.keys('R')
        pane.wait_for(r'^ heapscope\b.*\.referrers\[0\]\.byid\[0\]'
                      r'\.referrers\b')
        pane.keys('Left')
        pane.wait_for(r'^ *address +0x[0-9a-f]+')
        pane.keys('Left')
        pane.wait_for(r'Index.*Kind \(class / dict of class\)')
        pane.keys('Left')
        pane.keys('Left')
        pane.wait_for(r'^ heapscope\b.*h\.byrcs *(mark|$)')
        pane.tmux('resize-window', '-t', 'e2e', '-x', '60', '-y', '15')
        pane.wait_for(r'^ heapscope')
        pane.tmux('resize-window', '-t', 'e2e', '-x', '100', '-y', '30')
        pane.keys('?')
        pane.wait_gone(r'Index.*Cumulative')
        self.close(pane)
        self.finish(pane, 0)

    def test_dominated_fills_in_then_work_ahead_serves_a_row(self):
        # The Dominated column fills in (the worker builds the snapshot's
        # relations and dominator tree), the explorer then works ahead
        # while no key comes, and a row's v after that shows its table.
        pane = self.start([COMMAND, 'demo', '2000'],
                          unset=['HEAPSCOPE_ACTION'])
        pane.wait_for(TITLE)
        pane.wait_for(r'^ >\s+0(\s+\d+){6}\s+[\d.]+ [KMG]?B\s+\S', timeout=60)
        time.sleep(1.5)
        pane.keys('Enter')
        pane.wait_for(r'^ heapscope\b.*h\[0\]')
        pane.keys('v')
        pane.wait_for(r'^ heapscope\b.*h\[0\]\.byvia\b')
        pane.wait_for(r'Referred Via')
        pane.wait_for(r'^ >\s+0\s+\d+')
        self.close(pane)
        self.finish(pane, 0)

    def test_dominos_at_once_while_the_tree_is_being_built(self):
        # D on a row right after opening: the worker is building the
        # snapshot's relations or its dominator tree, and gives way to a
        # key's call -- but this call waits for that very work, so the
        # worker must go on with it (a hang of the program, before).  (On
        # this heap D comes during the tree most times, during the
        # relations some.)
        pane = self.start([COMMAND, 'demo', '100000'],
                          unset=['HEAPSCOPE_ACTION'])
        pane.wait_for(TITLE, timeout=60)
        pane.wait_for(r'Index.*Kind')
        pane.keys('D')
        pane.wait_for(r'^ heapscope\b.*h\[0\]\.dominos\b', timeout=60)
        pane.wait_for(r'Index.*Kind')
        self.close(pane)
        self.finish(pane, 0)

    def test_a_long_snapshot_shows_progress_and_esc_cancels_it(self):
        # u takes a fresh snapshot: on a heap of millions of objects it
        # shows its progress, and Esc stops the walk with the explorer,
        # its view and the program as they were.  (The walk must outlast
        # the 0.2 s before the progress shows and this test's reaction to
        # it: 6 M objects walked in 0.22 s on a quick day, and the Esc
        # came after the walk.)
        self.write('big.py', """
            big = list(range(10 ** 7, 10 ** 7 + 20 * 10 ** 6))
            exec(open('echo.py').read())
            """)
        pane = self.start([COMMAND, 'big.py'], unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(TITLE, timeout=60)
        pane.wait_for(r'Index.*Kind')
        pane.keys('u')
        pane.wait_for(r'^ snapshot +\d+% .*Esc cancels', timeout=30)
        pane.keys('Escape')
        pane.wait_for(r'^ refresh: cancelled', timeout=30)
        pane.wait_for(r'^ >? +0 +\d+ .* int$')    # the old view stays
        pane.keys('t')
        pane.wait_for(r'Index.*Type', timeout=30)
        self.close(pane)
        pane.type_line('still')
        pane.wait_for(r'^echo still$')
        pane.type_line('quit')
        self.finish(pane, 3)

    def open_noisy(self):
        """The explorer on NOISY_PROG; the pane and the program's pid (the
        program is killed at the end, whatever happens)."""
        self.write('noisy.py', NOISY_PROG)
        pane = self.start([COMMAND, 'noisy.py'], unset=['HEAPSCOPE_ACTION'])
        pid = self.pid(pane)
        self.addCleanup(self.kill_quietly, pid)
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        pane.wait_for(r'Index.*Kind')
        return pane, pid

    @staticmethod
    def kill_quietly(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def expression(self, pane, text):
        pane.keys(':')
        pane.tmux('send-keys', '-t', 'e2e', '-l', text)
        pane.keys('Enter')

    def test_an_expression_in_a_loop_shows_progress_and_esc_stops_it(self):
        pane, pid = self.open_noisy()
        self.expression(pane, "exec('while 1: pass')")
        pane.wait_for(r'^ evaluating .*Esc cancels')
        pane.keys('Escape')
        pane.wait_for(r"^ exec\('while 1: pass'\): cancelled")
        pane.keys('t')
        pane.wait_for(r'Index.*Type')
        self.close(pane)
        os.kill(pid, signal.SIGTERM)
        self.finish(pane, 128 + signal.SIGTERM)

    def test_an_expression_asleep_stops_when_it_wakes_and_is_wiped(self):
        # While it sleeps the program's thread prints over the table; Esc
        # says the cancel is under way, the sleep ends, the expression
        # stops there, and the whole screen is drawn again.
        pane, pid = self.open_noisy()
        self.expression(pane, "__import__('time').sleep(3)")
        pane.wait_for(r'^ evaluating .*Esc cancels')
        end = time.monotonic() + TIMEOUT
        while 'NOISE' not in pane.screen():
            self.assertLess(time.monotonic(), end, 'no NOISE')
            time.sleep(0.05)
        pane.keys('Escape')
        pane.wait_for(r'^ cancelling\.\.\.')
        pane.wait_for(r"^ __import__\('time'\)\.sleep\(3\): cancelled")
        self.assertNotIn('NOISE', pane.screen())
        pane.wait_for(r'Index.*Kind')
        self.close(pane)
        os.kill(pid, signal.SIGTERM)
        self.finish(pane, 128 + signal.SIGTERM)

    def test_a_session_leaves_the_programs_heap_as_it_was(self):
        # An explorer session opened by the hotkey, walked through with
        # the keys and closed: the program's collector objects and the
        # refcounts of a sample are what they were before it.  (A first
        # session warms up what any first use creates.)
        self.write('neutral.py', NEUTRAL_PROG)
        pane = self.start([COMMAND, 'neutral.py'],
                          unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        for round_ in ('warm-up', 'measured'):
            if round_ == 'measured':
                pane.type_line('before')
                pane.wait_for(r'^BEFORE \d+$')
            pane.keys('C-\\')
            pane.wait_for(TITLE)
            # a pause: the explorer works ahead (the heap's byvia)
            time.sleep(1.5)
            for key, shows in (('r', r'Referrers by Kind'),
                               ('Enter', r'h\.byrcs\[0\]'),
                               ('R', r'\.referrers'),
                               ('x', r'^ *address +0x'),
                               ('Left', None),
                               ('v', r'Referred Via'),
                               ('t', r'Index.*Type')):
                pane.keys(key)
                if shows is None:           # back from the inspector
                    pane.wait_gone(r'^ *address +0x', timeout=30)
                else:
                    pane.wait_for(shows, timeout=30)
            self.close(pane)
        pane.type_line('after')
        line = pane.wait_for(r'^NEUTRAL (.*)$')
        self.assertEqual(line.group(1),
                         "types={} refcounts_changed=0 cycles=''")
        pane.type_line('quit')
        self.finish(pane, 0)

    def test_a_busy_thread_neither_blocks_nor_runs_while_open(self):
        # A thread that runs Python code without a pause, and one that
        # sleeps in a loop: the explorer opens all the same (a thread
        # holding the GIL is asked for it), and neither of them runs while
        # it is open: each one's longest pause covers the session.
        self.write('busy.py', BUSY_PROG)
        pane = self.start([COMMAND, 'busy.py'], unset=['HEAPSCOPE_ACTION'])
        self.pid(pane)
        pane.type_line('reset')
        pane.wait_for(r'^RESET$')
        t0 = time.monotonic()
        pane.keys('C-\\')
        pane.wait_for(TITLE, timeout=10)
        time.sleep(1)   # the user reads: the explorer works ahead
        for key, shows in (('r', r'Referrers by Kind'),
                           ('Enter', r'h\.byrcs\[0\]'),
                           ('x', r'^ *address +0x'),
                           ('Left', None),
                           ('t', r'h\.byrcs\[0\]\.bytype')):
            pane.keys(key)
            if shows is None:
                pane.wait_gone(r'^ *address +0x')
            else:
                pane.wait_for(shows)
            time.sleep(0.2)
        t1 = time.monotonic()
        self.close(pane)
        # All run again afterwards: report until each has had turns
        # since the first report (on a loaded machine a thread woken from
        # its sleep may wait a while behind the busy one).  By then the
        # pauses include the one each had over the session.
        pat = (r'^GAPS spin=([\d.]+) sleep=([\d.]+) doze=([\d.]+) '
               r'interval=(\S+) turns=(\d+),(\d+),(\d+)$')
        pane.type_line('report')
        first = pane.wait_for(pat)
        end, k = time.monotonic() + 30, 1
        while True:
            time.sleep(0.5)
            k += 1
            pane.type_line('report')
            m = pane.wait_for(pat, count=k)
            if all(int(m.group(k)) > int(first.group(k))
                   for k in (5, 6, 7)):
                break
            self.assertLess(time.monotonic(), end,
                            'a thread does not run again: ' + m.group(0))
        for k in (1, 2, 3):             # spin, sleep, doze
            self.assertGreater(float(m.group(k)), (t1 - t0) - 0.5,
                               m.group(0))
        self.assertEqual(m.group(4), '0.005')   # the program's own again
        pane.type_line('quit')
        self.finish(pane, 0)

    def test_breakpoint(self):
        self.write('bp.py', '''
            print('before', flush=True)
            breakpoint()
            print('after', flush=True)
            ''')
        pane = self.start([PYTHON, 'bp.py'],
                          env={'PYTHONBREAKPOINT': 'heapscope.explore'})
        pane.wait_for(TITLE)
        self.close(pane)
        pane.wait_for(r'^after$')
        self.finish(pane, 0)


class TestTerminal(E2ECase):
    """Whatever ends the explorer, or keeps it from starting, the terminal
    is given back as it was and the program goes on (or ends as the
    signal says, with the terminal restored first)."""

    def open(self, **kw):
        pane = self.start([COMMAND, 'echo.py'], unset=['HEAPSCOPE_ACTION'],
                          **kw)
        pid = self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        return pane, pid

    def carry_on(self, pane):
        pane.wait_gone(TITLE)
        pane.type_line('still here')
        pane.wait_for(r'^echo still here$')
        pane.type_line('quit')
        self.finish(pane, 3)

    def test_ctrl_c_closes_the_explorer_not_the_program(self):
        pane, _pid = self.open()
        pane.keys('C-c')
        self.carry_on(pane)

    def test_the_hotkey_again_while_open_is_ignored(self):
        pane, _pid = self.open()
        pane.keys('C-\\')
        pane.keys('t')
        pane.wait_for(r'Index.*Type')          # still the same explorer
        pane.keys('q')
        self.carry_on(pane)
        self.assertNotIn('Traceback', pane.screen(history=True))

    def test_a_signal_storm_while_open(self):
        # a hundred hotkey signals in a second while the explorer is open:
        # none nests, none is left to open it again by itself, and the
        # next one after q opens it as before
        pane, pid = self.open()
        for _ in range(100):
            os.kill(pid, signal.SIGQUIT)
            time.sleep(0.01)
        pane.keys('t')
        pane.wait_for(r'Index.*Type')
        pane.keys('q')
        pane.wait_gone(TITLE)
        time.sleep(0.5)
        self.assertIsNone(re.search(TITLE, pane.screen(), re.M))
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        pane.keys('q')
        self.carry_on(pane)

    def test_sigterm_while_open(self):
        pane, pid = self.open()
        os.kill(pid, signal.SIGTERM)
        # the explorer gives the terminal back, then SIGTERM does what it
        # would have done: the program ends (128 + 15)
        self.finish(pane, 143)

    def test_sighup_while_open(self):
        # (the window closed)
        pane, pid = self.open()
        os.kill(pid, signal.SIGHUP)
        self.finish(pane, 129)

    def test_a_20x5_window(self):
        pane, _pid = self.open(size=(20, 5))
        for key in ('r', 'Down', 'Enter', 'Left', 't', '?'):
            pane.keys(key)
        self.close(pane)
        self.carry_on(pane)

    def test_dumb_and_unknown_terminals_are_one_line(self):
        for term, said in (('dumb', r"terminal type 'dumb' cannot move"),
                           ('no-such-term', r"terminal type 'no-such-term' "
                                            r"is unknown")):
            pane = self.start([COMMAND, 'echo.py'], env={'TERM': term},
                              unset=['HEAPSCOPE_ACTION'])
            self.pid(pane)
            pane.keys('C-\\')
            line = pane.wait_for(self.after_key(r'heapscope: (.*)$'))
            self.assertRegex(line.group(1), said)
            self.assertNotIn('heapscope: heapscope:',
                             pane.screen(history=True))
            pane.type_line('still here')
            pane.wait_for(r'^echo still here$')
            pane.type_line('quit')
            self.finish(pane, 3)
            pane.close()

    def test_the_demo_on_a_dumb_terminal_prints_the_tables(self):
        pane = self.start([COMMAND, 'demo', '2000'], env={'TERM': 'dumb'},
                          unset=['HEAPSCOPE_ACTION'])
        pane.wait_for(r"heapscope: terminal type 'dumb' cannot move")
        pane.wait_for(r'^>>> h & hp\.Type\(dict\)$', timeout=30)
        self.finish(pane, 0)

    def test_term_unset_still_opens(self):
        pane = self.start([COMMAND, 'echo.py'],
                          unset=['HEAPSCOPE_ACTION', 'TERM'])
        self.pid(pane)
        pane.keys('C-\\')
        pane.wait_for(TITLE)
        pane.keys('q')
        self.carry_on(pane)

    def test_no_controlling_terminal_is_one_line(self):
        # setsid: a new session with no terminal, so no /dev/tty; the
        # output still goes to the pane
        self.write('explore.py', """
            import heapscope
            heapscope.explore()
            print('after the explorer', flush=True)
            """)
        pane = self.start(['setsid', '-w', PYTHON, 'explore.py'])
        pane.wait_for(r'^heapscope: cannot open /dev/tty \(.*\): the '
                      r'explorer needs a terminal$')
        pane.wait_for(r'^after the explorer$')
        self.finish(pane, 0)
        self.assertEqual(pane.screen(history=True).count('heapscope:'), 1)


if __name__ == '__main__':
    unittest.main()
