"""heapscope - what is using the memory of this Python program, and why.

    >>> import heapscope
    >>> hp = heapscope.hpy()
    >>> hp.setrelheap()          # everything allocated so far is ignored
    >>> ...                      # the memory-hungry work
    >>> h = hp.heap()            # a snapshot of what is reachable now
    >>> h                        # partition by class / dict owner
    >>> h[0].bysize, h.bytype, h.byid[0].theone, h & hp.Type(str)

    >>> heapscope.install()      # Ctrl-\\ now opens the explorer
    >>> heapscope.explore()      # so does this (and breakpoint() with
    ...                          # PYTHONBREAKPOINT=heapscope.explore)

The API follows guppy/heapy's hpy(); see man 3 heapscope.  The walk is
done in C, runs no Python code and changes nothing it looks at.
"""

from . import _heapscope
from ._api import (hpy, session, Use, IdentitySet, Partition, Kind,
                   type_name, safe_repr)
from ._hotkey import install, uninstall
# The explorer's module is imported with heapscope, not when it first
# opens: what an import makes (the module, its functions, their code and
# names) would then be new since any mark, and shown as the program's.
try:
    from . import _explore
except ModuleNotFoundError as e:          # a build without it: explore()
    if e.name != __name__ + '._explore':  # says so
        raise
    _explore = None

__version__ = '0.1.0'
__all__ = ['hpy', 'session', 'Use', 'IdentitySet', 'Partition', 'Kind',
           'install', 'uninstall', 'explore', '__version__']


def explore(*args, **kwargs):
    """explore(s=None): open the full-screen explorer on the set s (the
    heap, relative to session()'s mark, when None); the program carries on
    when it is closed.  PYTHONBREAKPOINT=heapscope.explore makes
    breakpoint() call this.  Where the explorer cannot run, one line on
    stderr says why and this returns None."""
    if _explore is None:
        from ._hotkey import say
        say('the explorer is not available in this build of heapscope '
            '(no heapscope._explore)')
        return None
    _explore.explore(*args, **kwargs)
    return None


_heapscope.hide(globals())      # explore()'s frame is no root of the heap
