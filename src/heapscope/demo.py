"""The bundled demo: a small package-manager-like program that holds more
memory than it seems to, to be explored with heapscope.

It loads a repository of packages: each Package keeps a metadata dict of
strings (and a nested dict of eclass timestamps), packages are reachable
through a weak-value cache keyed by their name, and every fourth package
gets an Atom, a __slots__ class with a .key attribute.  The tables printed
are the ones the guppy/heapy tutorial walks through.
"""

import random
import sys
import time
import weakref

import heapscope
from heapscope import _explore

FIELDS = ('DESCRIPTION', 'DEPEND', 'RDEPEND', 'SRC_URI', 'HOMEPAGE',
          'KEYWORDS', 'LICENSE', 'SLOT', 'IUSE')
ECLASSES = ('toolchain', 'multilib', 'autotools', 'flag-o-matic', 'python')
WORDS = ('alpha beta gamma delta epsilon zeta eta theta iota kappa lambda '
         'mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega').split()


class Package(object):
    """A package: plain class, so its attributes live in a per-instance
    dict (or 3.11+ inline values)."""

    def __init__(self, cpv, data, mtime):
        self.cpvstr = cpv
        self.category, self.name = cpv.split('/', 1)
        self.data = data
        self.mtime = mtime


class Atom(object):
    """A dependency atom: __slots__, so no instance dict at all."""
    __slots__ = ('key', 'slot')

    def __init__(self, key, slot):
        self.key = key
        self.slot = slot


class Repository(object):
    def __init__(self):
        self.packages = []
        self.by_name = weakref.WeakValueDictionary()
        self.atoms = []

    def load(self, n, seed=7):
        rnd = random.Random(seed)
        cats = ['%s-%s' % (rnd.choice(WORDS), rnd.choice(WORDS))
                for _ in range(max(1, n // 100))]
        for i in range(n):
            cpv = '%s/%s%d-%d.%d' % (cats[i % len(cats)], rnd.choice(WORDS),
                                     i, i % 9, i % 4)
            data = {}
            for f in FIELDS:
                words = [rnd.choice(WORDS) for _ in range(rnd.randint(2, 12))]
                data[f] = '%s=%s' % (f.lower(), ' '.join(words))
            data['_eclasses_'] = {e: 1700000000 + i + k for k, e in
                                  enumerate(ECLASSES[:2 + i % 4])}
            pkg = Package(cpv, data, 1600000000 + i)
            self.packages.append(pkg)
            self.by_name[cpv] = pkg
            if i % 4 == 0:
                self.atoms.append(Atom(cpv, data['SLOT']))
        return self


def show(title, obj):
    print('>>> ' + title)
    print(obj)
    print()


def main(n=20000, interactive=None):
    """Load n packages, then open the explorer on what they use (in a
    terminal), or print the tables of a heapy session (otherwise, or with
    interactive=False)."""
    hp = heapscope.session()
    hp.setrelheap()
    t = time.perf_counter()
    repo = Repository().load(n)
    print('Loaded %d packages in %.2f s.\n' % (len(repo.packages),
                                               time.perf_counter() - t))
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:
        print('Opening the explorer on them (? for help, q to quit).')
        sys.stdout.flush()
        if _explore.explore():
            del repo
            return 0
        print('The tables of a heapy session instead:\n')
    t = time.perf_counter()
    h = hp.heap()
    took = time.perf_counter() - t
    show('h = hp.heap(); h', h)
    show('h.bytype', h.bytype)
    show('h[0].bysize', h[0].bysize)
    show('h[0].byid', h[0].byid)
    show('h[0].byid[0].theone', repr(h[0].byid[0].theone))
    show('h & hp.Type(dict)', h & hp.Type(dict))
    print('heap() took %.3f s for %d objects.' % (took, h.count))
    del repo
    return 0
