"""heapscope - what is using the memory of this Python program, and why.

    >>> import heapscope
    >>> hp = heapscope.hpy()
    >>> hp.setrelheap()          # everything allocated so far is ignored
    >>> ...                      # the memory-hungry work
    >>> h = hp.heap()            # a snapshot of what is reachable now
    >>> h                        # partition by class / dict owner
    >>> h[0].bysize, h.bytype, h.byid[0].theone, h & hp.Type(str)

The API follows guppy/heapy's hpy(); see man 3 heapscope.  The walk is
done in C, runs no Python code and changes nothing it looks at.
"""

from ._api import hpy, Use, IdentitySet, Partition, Kind, type_name, safe_repr

__version__ = '0.1.0'
__all__ = ['hpy', 'Use', 'IdentitySet', 'Partition', 'Kind', '__version__']
