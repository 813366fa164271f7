"""The heapscope command: a program runs under it as under python.

Each program is run both ways, `python -m heapscope ...` and `python ...`,
and what it sees (sys.argv, sys.path[0], __main__, __file__), what it
prints (tracebacks included) and its exit status must be the same.  Then
the command's own options: --signal, --no-hotkey, --mark,
--explore-at-exit, --help, --version, demo.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

SHOW = '''
import sys, __main__
print('argv', sys.argv)
print('path0', sys.path[0])
print('name', __name__, __main__.__name__)
print('file', __file__)
print('spec', __spec__ and (__spec__.name, __spec__.origin))
print('loader', type(__loader__).__name__)
print('main is me', sys.modules['__main__'] is __main__,
      __main__.__dict__ is globals())
print('globals', sorted(k for k in globals() if k.startswith('__')))
print('cwd in path', %r in sys.path)
'''


class CommandCase(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='hs-cmd-')
        self.addCleanup(shutil.rmtree, self.dir)
        # the action --explore-at-exit and the hotkey call in these tests
        self.write('hsaction.py', '''
            import sys
            def act():
                main = sys.modules['__main__']
                print('ACTION', getattr(main, 'STATE', None), flush=True)
            ''')

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        return path

    def run_cmd(self, args, env=None, heapscope=True, cwd=None, timeout=60):
        e = dict(os.environ)
        e.pop('HEAPSCOPE_ACTION', None)
        e.update(env or {})
        argv = [sys.executable] + (['-m', 'heapscope'] if heapscope else [])
        return subprocess.run(argv + args, cwd=cwd or self.dir, env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)

    def same_as_python(self, args, **kw):
        """Run args under heapscope and under python: same output."""
        ours = self.run_cmd(['--no-hotkey'] + args, **kw)
        theirs = self.run_cmd(args, heapscope=False, **kw)
        self.assertEqual(ours.stdout, theirs.stdout)
        self.assertEqual(ours.stderr, theirs.stderr)
        self.assertEqual(ours.returncode, theirs.returncode)
        return ours


class TestLikePython(CommandCase):

    def test_script_sees_what_python_gives_it(self):
        self.write('sub/show.py', SHOW % self.dir)
        r = self.same_as_python(['sub/show.py', 'a', '-m', '--x'])
        self.assertIn("argv ['sub/show.py', 'a', '-m', '--x']", r.stdout)
        self.assertIn('path0 ' + os.path.join(os.path.realpath(self.dir),
                                              'sub'), r.stdout)
        self.assertIn('name __main__ __main__', r.stdout)
        self.assertIn('spec None', r.stdout)
        self.assertIn('main is me True True', r.stdout)
        self.assertIn('cwd in path False', r.stdout)

    def test_script_with_hotkey_installed_sees_the_same(self):
        self.write('show.py', SHOW % self.dir)
        plain = self.run_cmd(['show.py', 'x'], heapscope=False)
        ours = self.run_cmd(['show.py', 'x'])
        self.assertEqual((ours.stdout, ours.stderr, ours.returncode),
                         (plain.stdout, plain.stderr, plain.returncode))

    def test_symlinked_script(self):
        self.write('real/show.py', SHOW % self.dir)
        os.symlink(os.path.join(self.dir, 'real', 'show.py'),
                   os.path.join(self.dir, 'link.py'))
        r = self.same_as_python(['link.py'])
        self.assertIn('path0 ' + os.path.join(os.path.realpath(self.dir),
                                              'real'), r.stdout)

    def test_module(self):
        self.write('pkg/__init__.py', '')
        self.write('pkg/mod.py', SHOW % self.dir)
        self.write('pkg/__main__.py', 'print("pkg main", __name__)\n')
        r = self.same_as_python(['-m', 'pkg.mod', '1', '2'])
        self.assertIn("argv ['%s', '1', '2']"
                      % os.path.join(self.dir, 'pkg', 'mod.py'), r.stdout)
        self.assertIn('cwd in path True', r.stdout)
        r = self.same_as_python(['-m', 'pkg'])
        self.assertEqual(r.stdout, 'pkg main __main__\n')

    def test_missing_module(self):
        # python's message names the interpreter, the command's itself;
        # the status is python's
        theirs = self.run_cmd(['-m', 'no_such_module_here'], heapscope=False)
        self.assertEqual(theirs.stderr, '%s: No module named '
                         'no_such_module_here\n' % sys.executable)
        self.write('nomain/__init__.py', '')
        for name, why in (('no_such_module_here',
                           'No module named no_such_module_here'),
                          ('nomain', "No module named nomain.__main__; "
                           "'nomain' is a package and cannot be directly "
                           "executed")):
            with self.subTest(name=name):
                r = self.run_cmd(['-m', name])
                self.assertEqual((r.returncode, r.stdout, r.stderr),
                                 (1, '', 'heapscope: %s\n' % why))
        # a program's own exit message is its own, whatever it says
        self.write('exits.py', 'import sys\n'
                   'sys.exit(sys.executable + ": No module named x")\n')
        self.same_as_python(['-m', 'exits'])

    def test_directory_with_main(self):
        self.write('app/__main__.py', 'import sys\nprint(sys.argv, '
                   '__name__)\n')
        r = self.same_as_python(['app', 'z'])
        self.assertEqual(r.stdout, "['app', 'z'] __main__\n")

    def test_exit_statuses(self):
        cases = {
            'sys.exit(3)': 3,
            'sys.exit("bye")': 1,
            'sys.exit()': 0,
            'raise SystemExit(0)': 0,
            'def f():\n    raise ValueError("boom")\nf()': 1,
            'raise KeyboardInterrupt': -signal.SIGINT,
            'os._exit(5)': 5,
            'print("ok")': 0,
        }
        for body, status in cases.items():
            with self.subTest(body=body):
                self.write('prog.py', 'import os, sys\n' + body + '\n')
                r = self.same_as_python(['prog.py'])
                self.assertEqual(r.returncode, status)

    def test_traceback_has_no_heapscope_frames(self):
        self.write('bad.py', '''
            def inner():
                return {}['missing']
            inner()
            ''')
        r = self.same_as_python(['bad.py'])
        self.assertIn('Traceback (most recent call last)', r.stderr)
        self.assertIn('bad.py", line 4, in <module>', r.stderr)
        self.assertNotIn('heapscope', r.stderr)

    def test_syntax_error(self):
        self.write('syn.py', 'x = 1\nx = = 2\nprint(x)\n')
        r = self.same_as_python(['syn.py'])
        self.assertEqual(r.returncode, 1)
        self.assertIn('SyntaxError', r.stderr)
        self.assertNotIn('heapscope', r.stderr)

    def test_syntax_error_at_eof(self):
        # 3.9 places an error at the end of the file one line apart when
        # compiling from memory rather than from the file: same message.
        self.write('eof.py', 'x = (\n')
        ours = self.run_cmd(['--no-hotkey', 'eof.py'])
        theirs = self.run_cmd(['eof.py'], heapscope=False)
        self.assertEqual(ours.returncode, theirs.returncode)
        self.assertEqual(ours.stderr.splitlines()[-1],
                         theirs.stderr.splitlines()[-1])

    def test_excepthook_of_the_program_is_used(self):
        self.write('hook.py', '''
            import sys
            sys.excepthook = lambda t, v, tb: print('hooked', t.__name__)
            raise RuntimeError('x')
            ''')
        r = self.same_as_python(['hook.py'])
        self.assertEqual(r.stdout, 'hooked RuntimeError\n')

    def test_atexit_and_threads_of_the_program(self):
        self.write('ae.py', '''
            import atexit, threading, time
            atexit.register(print, 'atexit')
            threading.Thread(target=lambda: (time.sleep(0.2),
                                             print('thread'))).start()
            print('main')
            ''')
        r = self.same_as_python(['ae.py'])
        self.assertEqual(r.stdout, 'main\nthread\natexit\n')

    def test_missing_script(self):
        r = self.run_cmd(['nope.py'])
        self.assertEqual(r.returncode, 2)
        self.assertIn("can't open file", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_wrapper_script(self):
        build = os.environ.get('HEAPSCOPE_BUILDDIR')
        cmd = build and os.path.join(build, 'heapscope')
        if not cmd or not os.access(cmd, os.X_OK):
            self.skipTest('no built heapscope command')
        self.write('w.py', 'import sys\nprint(sys.argv[1:])\nsys.exit(4)\n')
        r = subprocess.run([cmd, 'w.py', 'a b'], cwd=self.dir,
                           stdout=subprocess.PIPE, universal_newlines=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout), (4, "['a b']\n"))


class TestOptions(CommandCase):

    def test_help_and_version(self):
        r = self.run_cmd(['--help'])
        self.assertEqual(r.returncode, 0)
        for word in ('--signal', '--mark', '--explore-at-exit',
                     '--no-hotkey', '-m module', 'demo'):
            self.assertIn(word, r.stdout)
        r = self.run_cmd(['--version'])
        import heapscope
        self.assertEqual((r.returncode, r.stdout),
                         (0, 'heapscope %s\n' % heapscope.__version__))

    def test_usage_errors(self):
        for args in ([], ['--bogus', 'x.py'], ['--signal'],
                     ['--signal', 'NOPE', 'x.py'], ['-m'], ['demo', 'many'],
                     ['demo', '0'], ['demo', '-5'], ['-']):
            with self.subTest(args=args):
                r = self.run_cmd(args)
                self.assertEqual(r.returncode, 2)
                self.assertIn('usage: heapscope', r.stderr)
                self.assertEqual(r.stdout, '')

    def test_signals_the_hotkey_cannot_use(self):
        # a usage error, in one line after the usage, and the program is
        # not run: not a warning before running it without its hotkey
        self.write('runs.py', 'print("RAN")\n')
        for value, why in (('KILL', 'SIGKILL and SIGSTOP cannot be caught'),
                           ('SIGSTOP', 'SIGKILL and SIGSTOP cannot be '
                            'caught'),
                           ('SEGV', 'signal %d reports faults'
                            % signal.SIGSEGV),
                           ('bus', 'signal %d reports faults'
                            % signal.SIGBUS),
                           ('0', 'signal number 0 out of range'),
                           ('99', 'signal number 99 out of range'),
                           ('99999999999999999999', 'signal number '
                            '99999999999999999999 out of range'),
                           ('32', 'cannot catch signal 32'),
                           ('FOO', "unknown signal 'FOO'")):
            with self.subTest(value=value):
                r = self.run_cmd(['--signal', value, 'runs.py'])
                self.assertEqual(r.returncode, 2)
                self.assertEqual(r.stdout, '')
                lines = r.stderr.splitlines()
                self.assertTrue(lines[0].startswith('usage: heapscope'))
                self.assertTrue(lines[-1].startswith('heapscope: error: '
                                                     + why), lines[-1])
                self.assertNotIn('no hotkey', r.stderr)

    def test_options_stop_at_the_program(self):
        self.write('o.py', 'import sys\nprint(sys.argv[1:])\n')
        r = self.run_cmd(['o.py', '--mark', '--help'])
        self.assertEqual(r.stdout, "['--mark', '--help']\n")
        r = self.run_cmd(['--', 'o.py', '--version'])
        self.assertEqual(r.stdout, "['--version']\n")

    def test_hotkey_is_installed_by_default(self):
        prog = self.write('q.py', '''
            import os, signal, time
            STATE = 'running'
            os.kill(os.getpid(), signal.SIGQUIT)
            time.sleep(0.5)
            print('survived')
            ''')
        env = {'HEAPSCOPE_ACTION': 'hsaction:act'}
        r = self.run_cmd([prog], env=env)
        self.assertEqual((r.returncode, r.stdout),
                         (0, 'ACTION running\nsurvived\n'), r.stderr)
        r = self.run_cmd(['--no-hotkey', prog], env=env)
        self.assertEqual(r.returncode, -signal.SIGQUIT)
        self.assertNotIn('ACTION', r.stdout)

    def test_signal_option(self):
        prog = self.write('u.py', '''
            import os, signal, time
            STATE = 'usr2'
            os.kill(os.getpid(), signal.SIGUSR2)
            time.sleep(0.5)
            print('survived')
            ''')
        env = {'HEAPSCOPE_ACTION': 'hsaction:act'}
        for name in ('USR2', 'SIGUSR2', 'usr2', str(int(signal.SIGUSR2))):
            with self.subTest(name=name):
                r = self.run_cmd(['--signal', name, prog], env=env)
                self.assertEqual((r.returncode, r.stdout),
                                 (0, 'ACTION usr2\nsurvived\n'), r.stderr)
        r = self.run_cmd(['--signal=USR2', prog], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        # with the default signal, USR2 keeps its default: it kills
        r = self.run_cmd([prog], env=env)
        self.assertEqual(r.returncode, -signal.SIGUSR2)

    def test_explore_at_exit(self):
        env = {'HEAPSCOPE_ACTION': 'hsaction:act'}
        cases = [
            ('STATE = "done"\nprint("out")', 0, 'out\nACTION done\n'),
            ('import sys\nSTATE = "exit"\nsys.exit(4)', 4, 'ACTION exit\n'),
            ('STATE = "raised"\nraise ValueError("v")', 1,
             'ACTION raised\n'),
            ('STATE = "ki"\nraise KeyboardInterrupt', -signal.SIGINT,
             'ACTION ki\n'),
        ]
        for body, status, out in cases:
            with self.subTest(body=body):
                prog = self.write('x.py', body + '\n')
                r = self.run_cmd(['--explore-at-exit', prog], env=env)
                self.assertEqual((r.returncode, r.stdout), (status, out),
                                 r.stderr)
                if status in (1, -signal.SIGINT):
                    # the traceback comes first, then the action
                    self.assertIn('Traceback', r.stderr)
        # without the option, no action
        prog = self.write('x.py', 'STATE = 1\n')
        r = self.run_cmd([prog], env=env)
        self.assertEqual(r.stdout, '')

    def test_explore_at_exit_action_error(self):
        prog = self.write('x.py', 'print("out")\n')
        r = self.run_cmd(['--explore-at-exit', prog],
                         env={'HEAPSCOPE_ACTION': 'hsaction:missing'})
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "heapscope: the action at exit failed: "
                         "AttributeError: module 'hsaction' has no "
                         "attribute 'missing'\n")

    def test_mark(self):
        # The mark is taken just before the program's first line: what
        # existed then (the interpreter's and heapscope's objects) is not
        # in the heap; what the program made, imports included, is.
        prog = self.write('m.py', '''
            import sys
            import heapscope
            import json.decoder
            class Mine(object):
                pass
            keep = [Mine() for i in range(100)]
            h = heapscope.session().heap()
            ids = set(map(id, h))
            print('mine', sum(id(o) in ids for o in keep))
            print('class', id(Mine) in ids)
            print('import', id(json.decoder) in ids)
            print('modules', id(sys.modules) in ids)
            print('heapscope', id(heapscope) in ids)
            print('builtins', id(__builtins__) in ids)
            ''')
        r = self.run_cmd(['--mark', prog])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split('\n'), [
            'mine 100', 'class True', 'import True', 'modules False',
            'heapscope False', 'builtins False', ''])
        # without --mark the session has no mark: everything is there
        r = self.run_cmd([prog])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('modules True', r.stdout)
        self.assertIn('heapscope True', r.stdout)

    def test_demo(self):
        r = self.run_cmd(['demo', '300'])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('Loaded 300 packages', r.stdout)
        self.assertIn('Partition of a set of', r.stdout)

    def test_demo_with_options(self):
        r = self.run_cmd(['--explore-at-exit', 'demo', '50'],
                         env={'HEAPSCOPE_ACTION': 'hsaction:act'})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith('ACTION None\n'))


if __name__ == '__main__':
    unittest.main()
