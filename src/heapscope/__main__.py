"""The heapscope command (python -m heapscope, or the heapscope script).

    heapscope [options] script.py [args...]
    heapscope [options] -m module [args...]
    heapscope [options] demo [packages]

runs a Python program as `python` would (sys.argv, sys.path[0], __main__,
__file__, its tracebacks and exit status), with the hotkey installed, so
Ctrl-\\ opens the explorer in it.  This file must not change what the
program sees beyond that: nothing of heapscope's stays in the program's
__main__, and the program's exceptions and exit codes pass through.
"""

import builtins
import importlib.machinery
import os
import runpy
import sys
import types

from . import __version__
from . import _heapscope
from . import _hotkey

USAGE = '''\
usage: heapscope [options] script.py [args...]
       heapscope [options] -m module [args...]
       heapscope [options] demo [packages]'''

HELP = USAGE + '''

Run a Python program as python would, with a hotkey that opens the
heapscope explorer on its heap: press Ctrl-\\ in its terminal (or send the
signal chosen with --signal).  The explorer pauses the program until it is
closed.

options:
  --signal NAME      the hotkey's signal (default QUIT, i.e. Ctrl-\\; e.g.
                     USR2 for kill -USR2 PID from another shell)
  --no-hotkey        install no hotkey
  --mark             mark the heap just before the program starts: the
                     explorer then shows only what the program allocated
  --explore-at-exit  open the explorer when the program's main code ends
                     (return, sys.exit or an uncaught exception)
  -h, --help         show this help and exit
  --version          show the version and exit

commands:
  demo [packages]    run the bundled demo (20000 packages) and open the
                     explorer on its heap (without a terminal it can draw
                     on: print the tables of a heapy session)

See man heapscope (the command) and man 3 heapscope (the Python API).'''


class _Usage(Exception):
    pass


class _Options(object):
    def __init__(self):
        self.signal = 'QUIT'
        self.hotkey = True
        self.mark = False
        self.explore_at_exit = False
        self.info = None          # 'help' or 'version'
        self.kind = None          # 'script', 'module' or 'demo'
        self.target = None
        self.args = []


def _parse(argv):
    """Options up to the program; everything after it is the program's."""
    o = _Options()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '--':
            i += 1
            break
        if a in ('-h', '--help'):
            o.info = 'help'
            return o
        if a == '--version':
            o.info = 'version'
            return o
        if a == '--signal' or a.startswith('--signal='):
            if '=' in a:
                value = a.split('=', 1)[1]
            elif i + 1 < len(argv):
                i += 1
                value = argv[i]
            else:
                raise _Usage('--signal needs a signal name, e.g. USR2')
            try:
                _hotkey.check_signal(value)
            except ValueError as e:
                raise _Usage(str(e))
            o.signal = value
        elif a == '--no-hotkey':
            o.hotkey = False
        elif a == '--mark':
            o.mark = True
        elif a == '--explore-at-exit':
            o.explore_at_exit = True
        elif a.startswith('-m'):
            # -m module or -mmodule, as python takes it
            if len(a) > 2:
                o.target, rest = a[2:], argv[i + 1:]
            elif i + 1 < len(argv):
                o.target, rest = argv[i + 1], argv[i + 2:]
            else:
                raise _Usage('-m needs a module name')
            o.kind, o.args = 'module', list(rest)
            return o
        elif a.startswith('-') and a != '-':
            raise _Usage('unknown option %s' % a)
        else:
            break
        i += 1
    rest = argv[i:]
    if not rest:
        raise _Usage('no program given')
    if rest[0] == '-':
        raise _Usage('cannot read the program from standard input')
    if rest[0] == 'demo':
        o.kind = 'demo'
        if len(rest) > 2:
            raise _Usage('demo takes one argument, the number of packages')
        try:
            o.args = [int(rest[1])] if len(rest) == 2 else [20000]
        except ValueError:
            raise _Usage('demo: the number of packages must be an integer')
        if o.args[0] <= 0:
            raise _Usage('demo: the number of packages must be positive')
        return o
    o.kind, o.target, o.args = 'script', rest[0], list(rest[1:])
    return o


# ---- running the program as python would ------------------------------------

def _fresh_main():
    """A new, empty __main__ for the program (python's own starts so)."""
    me = sys.modules.get('__main__')
    if me is not None and getattr(me, '__spec__', None) is not None:
        sys.modules.setdefault(me.__spec__.name, me)   # keep ours alive
    main = types.ModuleType('__main__')
    main.__dict__['__builtins__'] = builtins
    main.__dict__['__annotations__'] = {}
    sys.modules['__main__'] = main
    return main


def _set_path0(directory):
    # python -m heapscope put the current directory first; python
    # script.py would have put the script's directory there instead
    # (nothing at all under -P, PYTHONSAFEPATH or -I).
    if getattr(sys.flags, 'safe_path', False) or sys.flags.isolated:
        return
    if sys.path:
        sys.path[0] = directory
    else:
        sys.path.insert(0, directory)


def _open_script(path, args):
    """Prepare sys and __main__ for a script; return the function that
    runs it, or print python's message and return None."""
    sys.argv[:] = [path] + args
    if os.path.isdir(path) or (os.path.isfile(path) and _is_zip(path)):
        # A directory or zip file with a __main__.py, as python runs it.
        _set_path0(path)
        _fresh_main()

        def run_main():
            runpy._run_module_as_main('__main__', False)
        return run_main
    try:
        with open(path, 'rb') as f:
            source = f.read()
    except OSError as e:
        sys.stderr.write("heapscope: can't open file %r: [Errno %d] %s\n"
                         % (os.path.abspath(path), e.errno, e.strerror))
        return None
    filename = os.path.abspath(path)
    _set_path0(os.path.dirname(os.path.realpath(path)))
    main = _fresh_main()
    main.__file__ = filename
    main.__cached__ = None
    main.__loader__ = importlib.machinery.SourceFileLoader('__main__',
                                                           filename)

    def run():
        code = compile(source, filename, 'exec', dont_inherit=True)
        exec(code, main.__dict__)
    return run


def _is_zip(path):
    import zipfile
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _open_module(name, args):
    # python -m sets argv[0] to '-m' until the module is found
    sys.argv[:] = ['-m'] + args
    _fresh_main()

    def run():
        try:
            runpy._run_module_as_main(name, True)
        except SystemExit as e:
            if not _runpy_refused(e):
                raise
            # ("heapscope: No module named x", as a usage error says it)
            raise SystemExit('heapscope: '
                             + e.code[len(sys.executable) + 2:]) from None
    return run


def _runpy_refused(e):
    """Is SystemExit e runpy's message that it cannot run the module (no
    such module, a package without __main__)?  It names the interpreter
    ('/usr/bin/python3: No module named x'), as python -m does, where the
    heapscope command should name itself."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return (tb is not None
            and tb.tb_frame.f_code is runpy._run_module_as_main.__code__
            and isinstance(e.code, str)
            and e.code.startswith(sys.executable + ': '))


def _ours(tb):
    return tb is not None and tb.tb_frame.f_globals is globals()


def _report_uncaught(e):
    """Print an exception the program did not catch as python would: with
    sys.excepthook, and without heapscope's own frames."""
    tb = e.__traceback__
    while _ours(tb):
        tb = tb.tb_next
    e.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb
    if sys.version_info >= (3, 12):
        sys.last_exc = e
    try:
        sys.excepthook(type(e), e, tb)
    except BaseException:
        import traceback
        sys.stderr.write('Error in sys.excepthook:\n')
        traceback.print_exc()
        sys.stderr.write('\nOriginal exception was:\n')
        traceback.print_exception(type(e), e, tb)


def _quiet_hook(*exc_info):
    pass


def _at_exit(o):
    # --explore-at-exit: while the program's objects are all still there
    if o.explore_at_exit:
        _hotkey.run_action(what='the action at exit')


def _run(o, body):
    """Run the program's main code; its exit status, or raise SystemExit
    (or KeyboardInterrupt) for python to exit with, as it would have."""
    if o.mark:
        # The mark: everything that exists now (heapscope, the
        # interpreter's own objects) is left out of later heaps.
        import heapscope
        heapscope.session().setrelheap()
    try:
        status = body()
    except SystemExit:
        _at_exit(o)
        raise
    except BaseException as e:
        _report_uncaught(e)
        _at_exit(o)
        if isinstance(e, KeyboardInterrupt):
            # python ends a program killed by Ctrl-C with SIGINT itself
            # (status 130) after finalizing: let it, silently, since the
            # traceback is already out.
            sys.excepthook = _quiet_hook
            raise
        return 1
    _at_exit(o)
    return status or 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        o = _parse(argv)
    except _Usage as e:
        sys.stderr.write('%s\nheapscope: error: %s\n' % (USAGE, e))
        return 2
    if o.info == 'help':
        print(HELP)
        return 0
    if o.info == 'version':
        print('heapscope ' + __version__)
        return 0
    if o.kind == 'demo':
        from . import demo
        n = o.args[0]
        body = lambda: demo.main(n)
    elif o.kind == 'module':
        body = _open_module(o.target, o.args)
    else:
        body = _open_script(o.target, o.args)
        if body is None:
            return 2
    if o.hotkey:
        try:
            _hotkey.install(o.signal)
        except (ValueError, OSError, RuntimeError) as e:
            _hotkey.say('no hotkey: %s' % e)
    return _run(o, body)


_heapscope.hide(globals())    # our frames are no roots of the heap

if __name__ == '__main__':
    sys.exit(main())
