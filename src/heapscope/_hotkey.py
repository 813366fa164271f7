"""heapscope._hotkey - install() and uninstall(): a signal (Ctrl-\\ by
default) that opens the explorer, or runs another action, in the running
program.

The signal side is C (src/python/hotkey.c): a handler that only writes a
byte to a pipe, and a watcher thread that takes the GIL and calls _fire().
This module picks the action, never lets two runs nest, reports an action's
exception in one line, stops the watcher before the interpreter finalizes
(atexit) and gives a forked child a watcher of its own.  Nothing here runs
inside a signal handler, and nothing here may raise into the watcher.
"""

import atexit
import importlib
import os
import signal as _signal
import sys
import threading
import traceback

from . import _heapscope as _c

__all__ = ['install', 'uninstall', 'signal_number', 'check_signal',
           'run_action', 'default_action']

# Held while an action runs (hotkey or --explore-at-exit): a second
# request meanwhile is dropped, never nested.
_busy = threading.Lock()
_state = {'action': None, 'hooks': False}


def say(message):
    """One line on stderr, 'heapscope: message'; never raises."""
    line = 'heapscope: %s\n' % message
    try:
        sys.stderr.write(line)
        sys.stderr.flush()
        return
    except Exception:
        pass
    try:
        os.write(2, line.encode('utf-8', 'replace'))
    except OSError:
        pass


def signal_number(sig):
    """The number of a signal given as a number, a signal.Signals, or a
    name with or without SIG ('USR2', 'SIGQUIT', 'quit')."""
    if isinstance(sig, str):
        text = sig.strip()
        if text.isdigit():
            return int(text)
        name = text.upper()
        if not name.startswith('SIG'):
            name = 'SIG' + name
        try:
            return int(_signal.Signals[name])
        except KeyError:
            raise ValueError('unknown signal %r' % sig) from None
    if isinstance(sig, bool) or not isinstance(sig, int):
        raise TypeError('a signal is a number or a name, not %s'
                        % type(sig).__name__)
    return int(sig)


def check_signal(sig):
    """signal_number(sig), if the hotkey can use that signal; else
    ValueError saying why (out of range, SIGKILL and SIGSTOP, the fault
    signals, one the C library keeps), as install() would refuse it, but
    before anything is installed."""
    signum = signal_number(sig)
    _c.hotkey_check_signal(signum)
    return signum


def _resolve(spec):
    """'module:function' (or 'module:obj.method') to the callable."""
    mod, sep, attr = spec.partition(':')
    if not sep or not mod or not attr:
        raise ValueError("HEAPSCOPE_ACTION=%r is not 'module:function'"
                         % spec)
    obj = importlib.import_module(mod)
    for part in attr.split('.'):
        obj = getattr(obj, part)
    return obj


def default_action():
    """What the hotkey does unless install() was given an action: call the
    function named by $HEAPSCOPE_ACTION ('module:function') if set, else
    open the explorer, heapscope._explore.explore(), imported now."""
    spec = os.environ.get('HEAPSCOPE_ACTION')
    if spec:
        _resolve(spec)()
        return
    try:
        from ._explore import explore
    except ModuleNotFoundError as e:
        if e.name != __package__ + '._explore':
            raise
        say('the explorer is not available in this build of heapscope '
            '(no heapscope._explore); the program carries on')
        return
    explore()


def _forget_dummy_thread(ident):
    """threading.current_thread() called in the watcher registers a
    _DummyThread that would stay in threading.enumerate(); the watcher is
    not the program's thread, so drop it (3.12+ does this itself when the
    thread state goes)."""
    try:
        t = threading._active.get(ident)
        if isinstance(t, threading._DummyThread):
            with threading._active_limbo_lock:
                threading._active.pop(ident, None)
    except Exception:
        pass


def run_action(action=None, what='the hotkey action'):
    """Run action() (default_action() when None) unless an action is
    already running; report an exception in one line on stderr instead of
    raising ('heapscope: <what> failed: ...').  True if it ran, False if
    it was dropped."""
    busy = _busy         # a forked child replaces _busy: release this one
    if not busy.acquire(False):
        return False
    ident = threading.get_ident()
    known = ident in getattr(threading, '_active', {})
    try:
        (action or default_action)()
    except BaseException as e:
        try:
            text = traceback.format_exception_only(type(e), e)[-1].strip()
        except Exception:
            text = type(e).__name__
        say('%s failed: %s' % (what, text))
    finally:
        if not known:
            _forget_dummy_thread(ident)
        busy.release()
    return True


def _fire():
    """Called by the watcher thread, with the GIL, when the signal came."""
    run_action(_state['action'])


def _at_exit():
    # Before finalization: the watcher must not outlive the interpreter.
    _c.hotkey_uninstall()


def _after_fork_in_child():
    global _busy
    # Only this thread survived the fork: an action running in the parent
    # does not run here, whatever its lock says.
    _busy = threading.Lock()
    try:
        _c.hotkey_after_fork()
    except Exception as e:
        say('the hotkey is off in process %d: %s' % (os.getpid(), e))


def install(signal=_signal.SIGQUIT, action=None):
    """Make `signal` (Ctrl-\\, SIGQUIT, by default; any catchable signal,
    e.g. SIGUSR2 sent with kill) run action() in this program, or open the
    explorer when action is None.  The action runs in a watcher thread
    holding the GIL, so the program's threads are paused until it returns;
    a signal arriving meanwhile is dropped.  Installing again replaces the
    previous install; uninstall() restores the signal's disposition."""
    signum = signal_number(signal)
    if action is not None and not callable(action):
        raise TypeError('action must be callable or None')
    if not _state['hooks']:
        atexit.register(_at_exit)
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _state['hooks'] = True
    previous, _state['action'] = _state['action'], action
    try:
        _c.hotkey_install(signum, _fire, threading.main_thread().ident)
    except BaseException:
        _state['action'] = previous
        raise


def uninstall():
    """Stop the hotkey: the signal gets back the disposition it had before
    install() (a Python handler, SIG_DFL or SIG_IGN; unless something else
    replaced the hotkey's handler since, which then stays), and the
    watcher thread ends.  True if a hotkey was installed."""
    done = _c.hotkey_uninstall()
    _state['action'] = None
    return done


_c.hide(globals())      # frames running this module's code are no roots
