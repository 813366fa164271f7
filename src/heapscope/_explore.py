"""heapscope._explore - the explorer's model over heapscope's sets.

The full-screen explorer (tui/, C and curses) asks its model for views,
rows and objects through include/heapscope/explorer.h; src/python/model.c
implements that interface by calling the Model below, which answers from
the heapy-compatible sets of _api.  Everything here runs in the thread
that opened the explorer, holding the GIL, after the walk: it may allocate,
but it never runs the program's own code (no repr, no attribute lookup
that could reach a __getattr__) except for the heapy expressions the user
types at the `:` prompt.
"""

import gc
import re
import threading
import time

from . import _api
from . import _heapscope as _c

__all__ = ['explore', 'Model']


class Cancelled(Exception):
    """Raised by a progress tick when the user pressed Esc."""


# Relations in the order of explorer.h's enum hs_rel, with their heapy
# attribute names.
RELATIONS = ('clodo', 'type', 'rcs', 'via', 'size', 'id', 'module', 'prod')
STEP_OPEN, STEP_REFERRERS, STEP_REFERENTS, STEP_DOMINOS = range(4)
SORT_SIZE, SORT_COUNT, SORT_DOMINATED, SORT_NAME = range(4)

_REPR_LIMIT = 2000          # characters of an inspected object's repr
_REFS_SHOWN = 20            # referrers / referents listed by the inspector
_SORT_NAME_MAX = 200000     # rows a view may have to be sorted by name
_DESCRIBE_ITEMS = 8         # what an object holds, shown in its repr
# Working ahead (Model.prepare) may take, per object of the set: the
# bench heap's byvia (14 M objects) peaks at 16 bytes an object and keeps
# about 11.  It is done only while the system (and the program's cgroup)
# has _AHEAD_HEADROOM times that to spare.
_AHEAD_BYTES = 24
_AHEAD_HEADROOM = 4


def _set_expr(view_expr, rel):
    """The expression of the set a view partitions."""
    return view_expr if rel == 'clodo' else view_expr + '.by' + rel


class Snapshot(object):
    """Where a view's set comes from: the `number`th snapshot of the heap
    in the session (its root set, named h at the prompt), taken relative
    to the mark of mark_time (None: no mark) in `seconds`; or the set given
    to explore(), named `name` (number 0).  Views made from a view share
    its Snapshot; u takes a new one, and the views from before keep
    theirs."""

    def __init__(self, root, name, mark_time, number=0, seconds=None):
        self.root = root
        self.name = name
        self.mark_time = mark_time
        self.number = number
        self.seconds = seconds


def _clock(t):
    return time.strftime('%H:%M:%S', time.localtime(t))


class View(object):
    """One table: a set partitioned by one relation."""

    def __init__(self, iset, rel, set_expr, snap=None):
        self.iset = iset
        self.rel = rel
        self.set_expr = set_expr
        self.snap = snap            # its Snapshot (None: unknown)
        self.part = iset._partition(rel) if iset.count else None
        self.order = None           # row order after sort(), or None
        self.sort = SORT_SIZE
        self.dom = {}               # heapy index -> dominated bytes

    @property
    def expr(self):
        return (self.set_expr if self.rel == 'clodo'
                else '%s.by%s' % (self.set_expr, self.rel))

    def nrows(self):
        return len(self.part) if self.part is not None else 0

    def index(self, i):
        """heapy's index of displayed row i."""
        return self.order[i] if self.order is not None else i

    def rowset(self, i):
        return self.part[self.index(i)]

    def row_expr(self, i):
        return '%s[%d]' % (self.expr, self.index(i))


class Model(object):
    """What the explorer shows: views of the heap relative to the session's
    mark (or of a set given to explore())."""

    def __init__(self, hp, given=None, given_expr='s'):
        self.hp = hp
        self.given = given
        self.given_expr = given_expr
        self._root_set = None       # the set of the last root view
        self._snapshots = 0         # heap snapshots taken

    # -- views ------------------------------------------------------------

    def close(self):
        """Let go of the sets and snapshots (explore() calls this when the
        explorer is closed): anything the session's snapshot holds that
        leads back here would otherwise make a cycle that keeps it, and
        its hundreds of megabytes, until the program's next full
        collection."""
        self.given = self._root_set = None

    def _mark_time(self):
        """When the session's mark was set, or None: no mark."""
        return self.hp._mark_time if self.hp._mark is not None else None

    def root(self, tick):
        if self.given is not None:
            snap = Snapshot(self.given, self.given_expr, self._mark_time())
        else:
            mark, t = self._mark_time(), time.time()
            tick('snapshot', 0, 0)
            h = self.hp._heap(tick)     # positional: see _api.Use._heap
            self._snapshots += 1
            snap = Snapshot(h, 'h', mark, self._snapshots, time.time() - t)
        self._root_set = snap.root
        return View(snap.root, 'clodo', snap.name, snap)

    def repartition(self, view, rel, tick):
        name = RELATIONS[rel]
        # (h.byprod at the prompt is one row saying so, as heapy's; a view
        # of it would only be in Tab's way)
        if name == 'prod' and not _c.tracemalloc_tracing():
            raise _Answer(_api._ByProd.NOT_TRACING)
        tick('by' + name, 0, 0)
        return self._view(view.iset, name, view.set_expr, view.snap, tick)

    def _view(self, iset, rel, set_expr, snap, tick):
        if rel == 'via':
            self._via(iset, tick)
        return View(iset, rel, set_expr, snap)

    @staticmethod
    def _via(iset, tick):
        """iset.byvia, made with the progress callback (it can be long)."""
        if 'via' not in iset._parts and iset.count:
            rows = _api.via_partition(iset._s, progress=tick)
            iset._parts['via'] = _api.Partition(iset, _api.CLASSIFIERS['via'],
                                                rows=rows)

    # -- working ahead ------------------------------------------------------

    def prepare(self, tick):
        """Work ahead while the user reads (the TUI calls this after a pause
        in the keys, and tick raises as soon as a key is typed): the byvia
        of the set the explorer opened on, so that v on it, and on any of
        its rows (cut from it: see _api.via_partition), answers at once.
        True when it did some work, False when there is none (left) to do,
        or not the memory to spare for it."""
        s = self._root_set
        if s is None or not s.count or 'via' in s._parts:
            return False
        spare = memory_to_spare()
        if spare is None or spare < _AHEAD_HEADROOM * _AHEAD_BYTES * s.count:
            return False
        self._via(s, tick)
        return True

    def step(self, view, row, how, tick):
        s = view.rowset(row)
        e = view.row_expr(row)
        if how == STEP_OPEN:
            return self._view(s, view.rel, e, view.snap, tick)
        return self._related(view, s, e, how, tick)

    def step_object(self, view, row, nth, how, tick):
        """The set of what refers to, is referred to by, or is dominated
        by the nth object of row `row` (the one inspect() describes)."""
        one, e = self._sample(view, row, nth)
        if how == STEP_OPEN:
            raise ValueError('an object is opened with x')
        return self._related(view, one, e, how, tick)

    def _related(self, view, s, e, how, tick):
        """What refers to s, what it refers to, or what it dominates."""
        if how == STEP_REFERRERS:
            tick('referrers', 0, 0)
            return View(s.referrers, 'clodo', e + '.referrers', view.snap)
        if how == STEP_REFERENTS:
            tick('referents', 0, 0)
            return View(s.referents, 'clodo', e + '.referents', view.snap)
        if how == STEP_DOMINOS:
            freed = _api.IdentitySet(s._s.dominos(progress=tick))
            return View(freed, 'clodo', e + '.dominos', view.snap)
        raise ValueError('unknown step %r' % how)

    def eval(self, view, text, tick):
        """A heapy expression on the view: '[5].byvia' and '.referrers'
        continue the view's expression, 'byrcs[5]' and '& Via(...)' apply
        to its set, anything else is evaluated as it is, with h, hp, _ (the
        view's set) and hp's kinds (Via, Type, Clodo, Size, Module,
        Nothing, Root) defined."""
        text = text.strip()
        if not text:
            raise ValueError('type a heapy expression, e.g. byrcs[0].byvia')
        base = view.iset if view.rel == 'clodo' else view.part
        hp = self.hp
        ns = {'_': view.iset, 'hp': hp, 'Via': hp.Via, 'Type': hp.Type,
              'Clodo': hp.Clodo, 'Size': hp.Size, 'Module': hp.Module,
              'Nothing': hp.Nothing, 'Root': hp.Root, '__base': base}
        if view.snap is not None:       # h: the view's own snapshot
            ns[view.snap.name] = view.snap.root
        if text[0] in '.[':
            code, expr = '__base' + text, view.expr + text
        elif text[0] in '&|-^':
            code, expr = '_ ' + text, '(%s %s)' % (view.set_expr, text)
        elif _NAME.match(text).group() in _SET_ATTRS:
            code, expr = '_.' + text, view.set_expr + '.' + text
            if _OPERATOR.search(text):      # 'referrers & Type(dict)'
                expr = '(%s)' % expr
        else:
            code, expr = text, text
        # the breadcrumb is pasted at the prompt, where kinds are hp's
        expr = _KIND_NAMES.sub(_hp_kind, expr)
        tick('evaluating', 0, 0)
        result = eval(code, {'__builtins__': __builtins__}, ns)
        table = None
        if isinstance(result, _api.Partition):      # .dominated, .more
            table, cut = result, _TABLE_ATTRS.search(expr)
            if cut:     # (a slice, not re.sub: re would cache a template)
                expr = expr[:cut.start()]
            result = _api.IdentitySet(result._set._s, result._cls.name)
        if isinstance(result, _api.IdentitySet):
            # h.byrcs is h by rcs; h.byrcs[0], typed so, is a set
            rel, by = result._er, '.by' + result._er
            if expr.endswith(by):
                expr = expr[:-len(by)]
            elif table is None:
                rel = 'clodo'
            v = View(result, rel, expr, view.snap)
            if table is not None:
                v.part = table
            return v
        if type(result).__module__ == _api.__name__:
            # heapscope's own (paths, a reference pattern, a kind): its
            # str is ours, and may take lines
            text = str(result)
        else:
            text = _api.safe_repr(result, 200)
        # (paths are long: even one would be cut by the status line)
        if '\n' in text or isinstance(result, _api._Paths):
            raise _Answer('%s\n%s' % (expr, text))
        raise _Answer('%s = %s' % (expr, text))

    def sort(self, view, how, tick):
        n = view.nrows()
        if how == SORT_SIZE:
            view.order = None
        elif how == SORT_COUNT:
            view.order = sorted(range(n), key=lambda i: -_count(view.part, i))
        elif how == SORT_NAME:
            if n > _SORT_NAME_MAX:
                raise ValueError('%d rows are too many to sort by name' % n)
            labels = []
            for i in range(n):
                if i % 4096 == 0:
                    tick('sorting', i, n)
                labels.append(view.part._row(i)[0])
            view.order = sorted(range(n), key=lambda i: labels[i])
        elif how == SORT_DOMINATED:
            missing = [i for i in range(n) if i not in view.dom]
            if missing:
                raise ValueError('dominated sizes of %d rows are not known '
                                 'yet' % len(missing))
            view.order = sorted(range(n), key=lambda i: -view.dom[i])
        else:
            raise ValueError('unknown sort order %r' % how)
        view.sort = how

    # -- what the TUI reads -------------------------------------------------

    def info(self, view):
        s = view.iset
        column = view.part._cls.header if view.part is not None else ''
        if not s.count:
            summary = 'hp.Nothing: the empty set.'     # as str() shows it
        else:       # as str() shows it: "Set of 3 <str> objects. ..."
            summary = view.part._header()[0]
        return (view.expr, summary, column, RELATIONS.index(view.rel),
                view.sort, s.count, s.size, view.nrows())

    def row(self, view, i):
        k = view.index(i)
        label, count, size = view.part._row(k)
        return label.replace('\n', ' '), count, size, k

    def row_source(self, view, k):
        """Where the dominated-size worker reads the objects of row k (its
        heapy index: however the view is sorted), without the GIL and
        without a copy: (the view's C partition, k), or (the row's C set,
        0) for a partition made in Python or a view of one row."""
        part = view.part
        # (a view of one row, as after Enter on a row: its set as it is,
        # no partition members to fill in)
        if part._cpart is None or part._is_whole(k):
            return part._rowset(k), 0
        return part._cpart, k

    def set_dominated(self, view, i, nbytes):
        view.dom[view.index(i)] = nbytes

    # -- the inspector ------------------------------------------------------

    @staticmethod
    def _sample(view, row, nth):
        """The nth object of row `row` (0: the largest) as a set of one,
        with the expression of that set."""
        ids = view.rowset(row).byid
        count = ids.count
        if not 0 <= nth < count:
            raise IndexError('row %d has %d objects' % (view.index(row),
                                                       count))
        if view.rel == 'id':            # the row is that one object
            return ids[nth], view.row_expr(row)
        return ids[nth], '%s.byid[%d]' % (view.row_expr(row), nth)

    def inspect(self, view, row, nth, tick):
        one, expr = self._sample(view, row, nth)
        expr += '.theone'
        snap = one._s.snapshot
        node = one._s.ids()[0]
        obj = one.theone
        addr, _type, size, _flags = snap.node(node)
        kind = one.byclodo._row(0)[0]
        # The dominator tree takes seconds on a big heap: the page shows
        # at once, with the dominated size pending (-1) until the tree is
        # there (the TUI's worker computes it, see model.c).
        try:
            r = snap.retained(node, False)
            dominated = -1 if r is None else r[0]
        except Exception:
            dominated = None
        path = _api._Paths(one)
        text = str(path)
        path_line = text.split(': ', 1)[1] if ': ' in text else text
        refs_in = []
        referrers = one.referrers
        for p in list(referrers._s.ids())[:_REFS_SHOWN]:
            holder = snap.object(p)
            names = snap.relate(p, node)
            refs_in.append((_kind(snap, p), ', '.join(sorted(set(names))),
                            _api.safe_repr(holder, 60), snap.node(p)[2]))
        refs_out = []
        held = snap.holds(node, _REFS_SHOWN)
        for name, value in held:
            vid = snap.find(value)
            vsize = snap.node(vid)[2] if vid >= 0 else 0
            refs_out.append((_type_label(value), name,
                             _api.safe_repr(value, 60), vsize))
        return (expr, kind, addr, size, dominated, describe(obj, snap, node),
                path_line, _traceback(obj), referrers.count,
                len(snap.holds(node, 1 << 30)), refs_in, refs_out)

    # -- mark and refresh --------------------------------------------------

    def mark(self):
        self.hp.setrelheap()

    def refresh(self, tick):
        self.given = None
        return self.root(tick)

    def status(self, view=None):
        """The title line's facts about view's snapshot (explorer.h)."""
        now = self._mark_time()
        snap = view.snap if view is not None else None
        if snap is None:
            return 'mark: %s' % (_clock(now) if now is not None else 'none')
        then = snap.mark_time
        mark = _clock(then) if then is not None else 'none'
        if now is not None and now != then:
            mark += ', new ' + _clock(now)
        if not snap.number:
            return 'mark: %s   set given to explore()' % mark
        return 'mark: %s   snapshot%s: %.2f s' % (
            mark, ' %d' % snap.number if snap.number > 1 else '',
            snap.seconds)


def memory_to_spare():
    """Bytes this process may still take without swapping or meeting its
    cgroup's limit (Linux: MemAvailable, cgroup v2 or v1), or None when
    the system does not say.  Read in C, without letting go of the GIL: a
    Python open() would let the program's threads run (model.c)."""
    return _c.memory_to_spare()


class _Answer(Exception):
    """A message for the status line as it is: the value of an expression
    that is not a set, or why a view cannot be made."""


_KIND_NAMES = re.compile(r'(?<![\w.])(Via|Type|Clodo|Size|Module|Nothing|'
                         r'Root)\b')


def _hp_kind(match):
    # (a function, not the template r'hp.\1': re would compile that and
    # keep it in its cache, objects made after the mark that the next
    # snapshot would show as the program's)
    return 'hp.' + match.group(1)


_NAME = re.compile(r'\w*')
# what gives a set's table, not a set: its set is the expression before
_TABLE_ATTRS = re.compile(r'(\.(dominated|more|partition))+$')
_OPERATOR = re.compile(r'[-+&|^~<>=]')
_SET_ATTRS = frozenset(n for n in dir(_api.IdentitySet) if not
                       n.startswith('_'))


def _count(part, i):
    return part._row(i)[1] if part._cpart is None else part._cpart.row(i)[1]


def _type_label(obj):
    t = type(obj)
    return _api.type_name(t)


def _kind(snap, node):
    """The clodo label of one node ('dict of X', 'X')."""
    s, missing = snap.idset((snap.object(node),))
    if missing or not s.count:
        return _api.type_name(type(snap.object(node)))
    return _api.IdentitySet(s).byclodo._row(0)[0]


def _traceback(obj):
    # Not through the tracemalloc module: importing it in the middle of a
    # session would add modules to the program's heap, and its file reads
    # release the GIL (a main thread reading the terminal then takes keys).
    tb = _c.object_traceback(obj)
    if not tb:
        if _c.tracemalloc_tracing():
            return '(not traced: allocated before tracemalloc started)'
        return None
    return '\n'.join('%s:%d' % (name, line) for name, line in tb)


def describe(obj, snap=None, node=None, limit=_REPR_LIMIT):
    """A bounded repr that runs none of the object's own code: builtin
    scalars by their repr (cut), containers by their first items,
    anything else by its class, address and attributes, each value by a
    safe repr."""
    t = type(obj)
    r = _api.safe_repr(obj, limit)
    if not r.startswith('<') or t is type or isinstance(obj, type):
        return r
    parts = []
    if snap is not None and node is not None:
        try:
            held = snap.holds(node, _DESCRIBE_ITEMS + 2)
        except LookupError:
            held = []
        held = [(n, v) for n, v in held if n != '.__class__']
        for name, value in held[:_DESCRIBE_ITEMS]:
            parts.append('%s = %s' % (name, _api.safe_repr(value, 80)))
        if len(held) > _DESCRIBE_ITEMS:
            parts.append('... (the referents below)')
    try:
        n = len(obj) if t in (list, tuple, dict, set, frozenset) else None
    except Exception:
        n = None
    head = r if n is None else '%s, %d items' % (r[:-1], n) + '>'
    out = head + ('\n  ' + '\n  '.join(parts) if parts else '')
    return out if len(out) <= limit else out[:limit - 3] + '...'


def explore(s=None):
    """Open the full-screen explorer on the set s, or on the heap relative
    to heapscope.session()'s mark; return True when the user quits (q).
    When there is no terminal to draw on, one line on stderr says why, this
    returns False and the program carries on (heapscope.explore() returns
    None either way)."""
    hp = _api.session()
    if s is not None and not isinstance(s, _api.IdentitySet):
        if isinstance(s, _api.Partition):
            s = s._set
        else:
            raise TypeError('explore(s): s is a heapscope set (e.g. '
                            'hp.heap()), not %s' % type(s).__name__)
    # The program stays paused while the explorer is open: a main thread
    # blocked reading the terminal is made to wait for the GIL instead (so
    # it takes none of the explorer's keys), threads waiting for the GIL
    # do not ask for it while the explorer waits for a key (the switch
    # interval, see model.c), and no collection runs the program's
    # finalizers.
    _c.hotkey_park_main()
    collecting = gc.isenabled()
    gc.disable()
    model = Model(hp, s)
    last = hp._last
    try:
        # (not threading.current_thread(): in the hotkey's watcher it
        # would make a _DummyThread, which the walk would then report)
        main = threading.main_thread()
        tid = getattr(main, 'native_id', None) or 0
        err = _c.run_explorer(model, tid if main.ident !=
                              threading.get_ident() else 0)
    finally:
        # The explorer's snapshots go with it: the program's memory is its
        # own again.
        model.close()
        if hp._last is not last:
            hp._last = last
        if collecting:
            gc.enable()
    if err:
        # one line on stderr, prefixed once (the TUI's own messages are)
        from ._hotkey import say
        prefix = 'heapscope: '
        say(err[len(prefix):] if err.startswith(prefix) else err)
    return not err


for _t in (View, Model, Cancelled, _Answer):
    _c.hide(_t)
del _t
_c.hide(globals())
