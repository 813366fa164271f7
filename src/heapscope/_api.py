"""heapscope._api - the heapy-compatible session object, sets and partitions.

Everything here is presentation over heapscope._heapscope: the C core walks
the heap, holds the snapshot and computes sets and partitions; this module
names kinds, prints tables the way heapy prints them, and keeps the user's
mark.  Nothing here walks objects one by one: per-object work is in C.
"""

import gc as _gc
import time as _time
import types as _types

from . import _heapscope as _c

__all__ = ['hpy', 'session', 'Use', 'IdentitySet', 'Partition', 'Kind']

_WIDTH = 100            # heapy wraps a row's label to keep lines this wide
_ROWS = 10              # rows printed before '<N more rows...>'

# Builtin types whose bare name would be ambiguous print as heapy prints
# them, by their name in the types module.
_TYPE_ALIASES = {
    _types.CodeType: 'types.CodeType',
    _types.MethodType: 'types.MethodType',
    _types.FrameType: 'types.FrameType',
    _types.BuiltinFunctionType: 'types.BuiltinFunctionType',
    _types.ModuleType: 'module',
}

_type_getattr = type.__dict__['__module__'].__get__
_type_qualname = type.__dict__['__qualname__'].__get__


def type_name(t):
    """heapy's label for a type: 'str', '__main__.Package', 'types.CodeType'.

    Reads the name through type's own descriptors, so a metaclass that
    overrides attribute access is never called.
    """
    alias = _TYPE_ALIASES.get(t)
    if alias is not None:
        return alias
    try:
        mod = _type_getattr(t)
        name = _type_qualname(t)
    except Exception:
        name = getattr(t, '__name__', '?')
        mod = None
    if not isinstance(name, str):
        name = '?'
    if not isinstance(mod, str) or mod == 'builtins':
        return name
    return '%s.%s' % (mod, name)


def safe_repr(obj, limit=None):
    """A repr that runs no user code: values of builtin scalar types are
    shown, anything else as <type at 0xaddr>."""
    t = type(obj)
    if t in (str, bytes, int, float, bool, complex) or obj is None:
        if t is int and obj.bit_length() > 4000:
            r = '<int of %d bits>' % obj.bit_length()
        elif t in (str, bytes) and len(obj) > 2000:
            # the two ends, the middle left out as the limit below does
            head, tail = repr(obj[:1000]), repr(obj[-1000:])
            if head[-1] == tail[-1]:
                r = head[:-1] + '...' + tail[2 if t is bytes else 1:]
            else:
                r = head + '...'
        else:
            r = repr(obj)
    elif t is type or isinstance(obj, type):
        r = "<class '%s'>" % type_name(obj)
    elif t is _types.FunctionType:
        # (the attribute of a function object itself: no code of the
        # program's runs to read it)
        r = '<function %s at %#x>' % (obj.__qualname__, id(obj))
    elif t is _types.BuiltinFunctionType:
        r = '<built-in function %s>' % obj.__name__
    else:
        r = '<%s at %#x>' % (type_name(t), id(obj))
    if limit is not None and len(r) > limit:
        head = (limit - 3) * 13 // 27   # heapy keeps 13 of 30 in front
        r = r[:head] + '...' + r[len(r) - (limit - 3 - head):]
    return r


def _pct(x, total):
    return int(round(100.0 * x / total)) if total else 0


def _wrap(prefix, label):
    """prefix + label, the label wrapped (on commas and spaces) so lines
    stay within _WIDTH, continuations aligned under the label."""
    room = max(20, _WIDTH - len(prefix))
    if len(label) <= room:
        return prefix + label
    words = label.split(' ')
    lines, cur = [], ''
    for w in words:
        if cur and len(cur) + 1 + len(w) > room:
            lines.append(cur)
            cur = w
        else:
            cur = w if not cur else cur + ' ' + w
    lines.append(cur)
    pad = ' ' * len(prefix)
    return prefix + ('\n' + pad).join(lines)


class _Snap(object):
    """Labels of one snapshot's classifier keys (types are held by it)."""

    def __init__(self, snap):
        self.snap = snap
        self._names = {}

    def obj(self, node):
        return self.snap.object(node)

    def type_label(self, node):
        name = self._names.get(node)
        if name is None:
            try:
                name = type_name(self.snap.object(node))
            except LookupError:
                name = '<unknown type>'
            self._names[node] = name
        return name


def _labels(snap):
    return _Snap(snap)


# ---- classifiers ---------------------------------------------------------

class _Classifier(object):
    """How a partition names its rows and heads its table."""
    name = None
    header = None
    by = None                  # the C classifier, None if computed here

    def label(self, labels, key, extra=None):
        raise NotImplementedError

    def rows(self, iset):
        """(C partition, extra) where extra is whatever label() needs
        beside the key; or (None, [(label, IdSet)]) for rows made here."""
        return iset._s.partition(self.by), None


class _ByClodo(_Classifier):
    name, header, by = 'clodo', 'Kind (class / dict of class)', _c.BY_CLODO

    def label(self, labels, key, extra=None):
        if key & _c.KEY_DICTOF:
            return 'dict of ' + labels.type_label(key & ~_c.KEY_DICTOF)
        name = labels.type_label(key)
        return 'dict (no owner)' if name == 'dict' else name


class _ByType(_Classifier):
    name, header, by = 'type', 'Type', _c.BY_TYPE

    def label(self, labels, key, extra=None):
        return labels.type_label(key)


class _BySize(_Classifier):
    name, header, by = 'size', 'Individual Size', _c.BY_SIZE

    def label(self, labels, key, extra=None):
        return '%9d' % key


class _ByUnity(_Classifier):
    name, header, by = 'unity', 'Kind', _c.BY_UNITY

    def label(self, labels, key, extra=None):
        return '<Anything>'


class _ByModule(_Classifier):
    """Modules by their name; other objects by the module of their class."""
    name, header, by = 'module', 'Module', None

    def rows(self, iset):
        snap = iset._s.snapshot
        labels = _labels(snap)
        bytype = iset._s.partition(_c.BY_TYPE)
        groups = {}
        for i in range(len(bytype)):
            key = bytype.row(i)[0]
            members = bytype.group(i)
            t = labels.obj(key)
            if t is _types.ModuleType:
                for m in members:
                    d = _types.ModuleType.__dict__['__dict__'].__get__(m)
                    name = d.get('__name__') if isinstance(d, dict) else None
                    name = name if isinstance(name, str) else '?'
                    one = snap.idset((m,))[0]
                    groups[name] = groups[name] | one if name in groups else one
                continue
            try:
                mod = _type_getattr(t)
            except Exception:
                mod = None
            mod = mod if isinstance(mod, str) else '?'
            groups[mod] = groups[mod] | members if mod in groups else members
        rows = [(name, s) for name, s in groups.items()]
        rows.sort(key=lambda r: (-r[1].size, -r[1].count, r[0]))
        return None, rows


class _ById(_Classifier):
    name, header, by = 'id', 'Representation (limited)', _c.BY_ID

    def label(self, labels, key, extra=None):
        try:
            return safe_repr(labels.obj(key), 30)
        except LookupError:
            return '<not held>'


class _ByRcs(_Classifier):
    """By the kinds (clodo) of an object's referrers, as heapy's byrcs."""
    name, header, by = 'rcs', 'Referrers by Kind (class / dict of class)', None

    def rows(self, iset):
        part = iset._s.rcs_partition()
        return part, part

    def label(self, labels, key, part=None):
        kinds = part.rcs_keys(key)
        if not kinds:
            return '<Nothing>'
        names = sorted('hp.Root' if k == _c.KEY_ROOT
                       else _ByClodo.label(None, labels, k) for k in kinds)
        return ', '.join(names)


class _ViaNames(object):
    """A byvia partition's row names, by key: a tuple of str, sorted and
    distinct.  Made when asked for: a row of a big set can have half a
    million distinct names ('.keys()[3]'), and a table shows ten."""

    _NONE, _LIST = 1 << 63, 1 << 62

    def __init__(self, raw):
        rows, starts, keys, self._names, codes = raw
        # row key -> a name's index, _NONE, or _LIST | a list's index
        self._rows = memoryview(rows).cast('Q')
        self._starts = memoryview(starts).cast('Q')
        self._keys = memoryview(keys).cast('Q')
        self._codes = memoryview(codes).cast('Q')
        self._made = {}
        self._text = {}

    def __len__(self):
        return len(self._rows)

    def _name(self, k):
        # a name with a code is made now: from the code alone (names[k]
        # is None) or with the dict key names[k] holds in its place
        code = self._codes[k]
        if not code:
            return self._names[k]
        n = self._text.get(k)
        if n is None:
            held = self._names[k]
            n = self._text[k] = (_c.via_name(code) if held is None
                                 else _c.via_name(code, held))
        return n

    def __getitem__(self, key):
        t = self._made.get(key)
        if t is None:
            if not 0 <= key < len(self):
                raise IndexError('no via row %r' % (key,))
            r = self._rows[key]
            if r == self._NONE:
                t = ()
            elif r & self._LIST:
                r &= ~self._LIST
                ks = self._keys[self._starts[r]:self._starts[r + 1]]
                t = tuple(sorted(set(map(self._name, ks))))
            else:
                t = (self._name(r),)
            self._made[key] = t
        return t


def via_partition(iset_s, progress=None, derive=True):
    """(Partition, names) of a low-level set by via; names[key] is a row's
    tuple of names.  While a byvia partition of a set that holds this one
    lives (h.byvia, cached by h), this one is cut from it, not related
    again; derive=False relates it all the same."""
    part, raw = iset_s.via_partition(progress=progress, derive=derive)
    return part, _ViaNames(raw)


class _ByVia(_Classifier):
    """By how the referrers refer to an object: ['key'], .attr, [3]..."""
    name, header, by = 'via', 'Referred Via:', None

    def rows(self, iset):
        return via_partition(iset._s)

    def label(self, labels, key, names=None):
        return ', '.join(repr(n) for n in names[key]) or '<Nothing>'


class _ByProd(_Classifier):
    """By allocation site, from tracemalloc (heapy's "producer")."""
    name, header, by = 'prod', 'Producer (line of allocation)', None
    NOT_TRACING = ('tracemalloc is not tracing: start it with '
                   'PYTHONTRACEMALLOC=1 or tracemalloc.start()')
    OFF = '<%s>' % NOT_TRACING

    def rows(self, iset):
        if not _c.tracemalloc_tracing():
            return iset._s.partition(_c.BY_UNITY), None
        return iset._s.prod_partition()

    def label(self, labels, key, names=None):
        if names is None:
            return self.OFF
        name = names[key]
        if name == '<not traced>':
            return '<allocated while tracemalloc was not tracing>'
        return name


CLASSIFIERS = {c.name: c() for c in
               (_ByClodo, _ByType, _BySize, _ByUnity, _ByModule, _ById,
                _ByRcs, _ByVia, _ByProd)}


# ---- kinds: symbolic sets used as filters --------------------------------

def _kind_op(op, reflected=False):
    """The method of operator op between a kind and a kind (or a set on
    the kind's side): the combined kind."""
    def method(self, other):
        k = _as_kind(other)
        if k is None:
            return NotImplemented
        return _BinKind(op, k, self) if reflected else _BinKind(op, self, k)
    return method


class _KindBase(object):
    """What every kind does: a symbolic set ("all str", "size 48") that
    holds no objects but says which objects of a set are in it.
    set & kind, kind & set and set - kind are sets; kinds combine with
    & | - ^ ~ into kinds, and with a set on the kind's side (kind | set,
    kind - set) into kinds too, as heapy's do.  _filter(iset) is the
    C set of iset's objects in the kind."""

    def _filter(self, iset):
        raise NotImplementedError

    def __invert__(self):
        return _NotKind(self)

    def __and__(self, other):
        if isinstance(other, IdentitySet):
            return IdentitySet(self._filter(other))
        return self._and_kind(other)

    def __rand__(self, other):
        return self.__and__(other)

    def __rsub__(self, other):
        if isinstance(other, IdentitySet):
            return IdentitySet(other._s - self._filter(other))
        return self._rsub_kind(other)

    _and_kind = _kind_op('&')
    _rsub_kind = _kind_op('-', reflected=True)
    __or__ = _kind_op('|')
    __ror__ = _kind_op('|', reflected=True)
    __xor__ = _kind_op('^')
    __rxor__ = _kind_op('^', reflected=True)
    __sub__ = _kind_op('-')


class _SetKind(_KindBase):
    """A set on one side of a kind operator: its objects."""

    def __init__(self, iset):
        self._set = iset

    def __repr__(self):
        return '<set of %d objects>' % self._set.count

    def _filter(self, iset):
        return iset._s & self._set._s


def _as_kind(x):
    if isinstance(x, _KindBase):
        return x
    if isinstance(x, IdentitySet):
        return _SetKind(x)
    return None


class _NotKind(_KindBase):
    def __init__(self, kind):
        self._kind = kind

    def __repr__(self):
        return '~(%r)' % (self._kind,)

    def __invert__(self):
        return self._kind

    def _filter(self, iset):
        return iset._s - self._kind._filter(iset)


class _BinKind(_KindBase):
    """Two kinds combined: the objects of a set each one keeps, put
    together by the operator."""

    def __init__(self, op, a, b):
        self._op, self._a, self._b = op, a, b

    def __repr__(self):
        return '(%r %s %r)' % (self._a, self._op, self._b)

    def _filter(self, iset):
        a = self._a._filter(iset)
        if self._op == '&':     # the second only sorts what the first kept
            return self._b._filter(IdentitySet(a))
        b = self._b._filter(iset)
        if self._op == '|':
            return a | b
        if self._op == '-':
            return a - b
        return a ^ b


class Kind(_KindBase):
    """A symbolic set ("all str", "dict of Package", "size 48") that
    filters an IdentitySet with &, - and ~ as heapy's kinds do."""

    def __init__(self, by, value, text, negate=False):
        self._by, self._value, self._text, self._neg = by, value, text, negate

    def __repr__(self):
        return ('~' if self._neg else '') + self._text

    def __invert__(self):
        return Kind(self._by, self._value, self._text, not self._neg)

    def _key(self, snap):
        """The C key of this kind in snap, or None if nothing can match."""
        by, v = self._by, self._value
        if by == _c.BY_SIZE:
            return v
        if by in (_c.BY_TYPE, _c.BY_CLODO):
            t, dictof = v
            node = snap.find(t)
            if node < 0:
                return None
            return node | _c.KEY_DICTOF if dictof else node
        raise TypeError('unsupported kind')

    def _filter(self, iset):
        snap = iset._s.snapshot
        if self._by == 'module':
            rows = CLASSIFIERS['module'].rows(iset)[1]
            hit = [s for name, s in rows if name == self._value]
            chosen = hit[0] if hit else iset._s.select(_c.BY_UNITY, 1)
            return iset._s - chosen if self._neg else chosen
        key = self._key(snap)
        if key is None:
            return iset._s if self._neg else iset._s.select(_c.BY_UNITY, 1)
        return iset._s.select(self._by, key, self._neg)


class ViaKind(_KindBase):
    """hp.Via(name, ...): objects referred to in exactly these ways;
    .alt(op) compares an object's ways with these by op (<, <=, >=, >,
    ==, !=) as sets."""

    _OPS = {'<': lambda a, b: a < b, '<=': lambda a, b: a <= b,
            '>=': lambda a, b: a >= b, '>': lambda a, b: a > b,
            '==': lambda a, b: a == b, '!=': lambda a, b: a != b}

    def __init__(self, names, op='==', negate=False):
        for n in names:
            if not isinstance(n, str):
                raise TypeError("hp.Via() takes how objects are referred "
                                "to, as byvia prints it (e.g. '.key', "
                                "\"['data']\"), not %s" % type(n).__name__)
        self._names, self._op, self._neg = frozenset(names), op, negate

    def __repr__(self):
        r = 'hp.Via(%s)' % ', '.join(repr(n) for n in sorted(self._names))
        if self._op != '==':
            r += '.alt(%r)' % self._op
        return ('~' if self._neg else '') + r

    def alt(self, op):
        if op not in self._OPS:
            raise ValueError('alt() takes one of %s' % ' '.join(self._OPS))
        return ViaKind(self._names, op, self._neg)

    def __invert__(self):
        return ViaKind(self._names, self._op, not self._neg)

    def _filter(self, iset):
        part, names = via_partition(iset._s)
        test = self._OPS[self._op]
        keep = None
        for i in range(len(part)):
            key = part.row(i)[0]
            if test(frozenset(names[key]), self._names) != self._neg:
                g = part.group(i)
                keep = g if keep is None else keep | g
        return keep if keep is not None else iset._s.select(_c.BY_UNITY, 1)


class _KindFactory(object):
    def __init__(self, name, doc, make):
        self._name, self.__doc__, self._make = name, doc, make

    def __call__(self, *args, **kw):
        return self._make(*args, **kw)

    def __repr__(self):
        return 'hp.' + self._name


def _type_kind(t):
    if not isinstance(t, type):
        raise TypeError('hp.Type() takes a type, not %s' % type_name(type(t)))
    return Kind(_c.BY_TYPE, (t, False), 'hp.Type(%s)' % type_name(t))


def _clodo_kind(t=None, dictof=None):
    if dictof is not None:
        if not isinstance(dictof, type):
            raise TypeError('hp.Clodo(dictof=) takes a type')
        return Kind(_c.BY_CLODO, (dictof, True),
                    'hp.Clodo(dictof=%s)' % type_name(dictof))
    if not isinstance(t, type):
        raise TypeError('hp.Clodo() takes a type, or dictof=a type')
    return Kind(_c.BY_CLODO, (t, False), 'hp.Clodo(%s)' % type_name(t))


def _size_kind(n):
    if not isinstance(n, int) or n < 0:
        raise TypeError('hp.Size() takes a size in bytes')
    return Kind(_c.BY_SIZE, n, 'hp.Size(%d)' % n)


def _module_kind(name):
    if not isinstance(name, str):
        raise TypeError('hp.Module() takes a module name')
    return Kind('module', name, 'hp.Module(%r)' % name)


# ---- sets ----------------------------------------------------------------

class IdentitySet(object):
    """A set of objects from one heap snapshot, compared by identity.

    A set is printed and indexed by its classifier (heapy's equivalence
    relation): by class or dict owner (heapy's "clodo") unless it came
    from h.bytype, h.byrcs... which are the same set with another one.
    h[i] is the i-th row of the printed table as a set, which keeps the
    classifier, as h.byrcs[3] prints by rcs.  Sets combine with & | - ^
    and with kinds (hp.Type(str)...), whatever their classifiers."""

    __slots__ = ('_s', '_parts', '_er')

    def __init__(self, cset, er='clodo', parts=None):
        self._s = cset
        self._er = er               # the name of its classifier
        # the partitions of _s, shared by the views of it (h, h.byrcs)
        self._parts = {} if parts is None else parts

    # size and membership
    count = property(lambda self: self._s.count,
                     doc='Number of objects in the set.')
    size = property(lambda self: self._s.size,
                    doc='Total size in bytes of the objects in the set.')

    def __len__(self):
        return self._s.count

    def __iter__(self):
        return iter(self._s)

    def __contains__(self, obj):
        return obj in self._s

    @property
    def nodes(self):
        """The objects themselves (iterable, compared by identity)."""
        return _Nodes(self._s)

    @property
    def theone(self):
        """The one object of a set that holds exactly one."""
        n = self._s.count
        if n != 1:
            raise AttributeError(
                'theone: the set holds %d objects, not exactly one '
                '(narrow it first, e.g. .byid[0].theone)' % n)
        for o in self._s:
            return o
        raise AttributeError('theone: the object is no longer held')

    # algebra
    def _other(self, other):
        if isinstance(other, IdentitySet):
            return other._s
        return None

    def __and__(self, other):
        if isinstance(other, _KindBase):
            return IdentitySet(other._filter(self))
        o = self._other(other)
        return NotImplemented if o is None else IdentitySet(self._s & o)

    def __or__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else IdentitySet(self._s | o)

    def __sub__(self, other):
        if isinstance(other, _KindBase):
            return IdentitySet(self._s - other._filter(self))
        o = self._other(other)
        return NotImplemented if o is None else IdentitySet(self._s - o)

    def __xor__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else IdentitySet(self._s ^ o)

    def __invert__(self):
        return IdentitySet(self._s.complement())

    def __eq__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s == o

    def __ne__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s != o

    def __le__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s <= o

    def __lt__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s < o

    def __ge__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s >= o

    def __gt__(self, other):
        o = self._other(other)
        return NotImplemented if o is None else self._s > o

    __hash__ = None

    # partitions
    def _partition(self, name):
        """The table of the set by classifier `name`, made once per set
        (the views of a set share them)."""
        p = self._parts.get(name)
        if p is None:
            p = Partition(self, CLASSIFIERS[name])
            self._parts[name] = p
        return p

    def _by(self, name):
        """The same set, printed and indexed by classifier `name`."""
        if name == self._er:
            return self
        return IdentitySet(self._s, name, self._parts)

    byclodo = property(lambda self: self._by('clodo'),
                       doc='The set by class, or dict owner for __dict__s.')
    bytype = property(lambda self: self._by('type'),
                      doc='The set by type (all dicts together).')
    bysize = property(lambda self: self._by('size'),
                      doc='The set by individual object size.')
    byid = property(lambda self: self._by('id'),
                    doc='The set one row per object, largest first, with '
                        'its repr.')
    bymodule = property(lambda self: self._by('module'),
                        doc='The set by module: a module by its name, '
                            'other objects by the module of their class.')
    byunity = property(lambda self: self._by('unity'),
                       doc='The set in one row.')

    byrcs = property(lambda self: self._by('rcs'),
                     doc='The set by the kinds of each object\'s '
                         'referrers.')
    byprod = property(lambda self: self._by('prod'),
                      doc='The set by allocation site (file:line), from '
                          'tracemalloc; one row saying so when it is not '
                          'tracing.')
    byvia = property(lambda self: self._by('via'),
                     doc='The set by how the referrers refer to each '
                         "object: ['key'], .attr, [i], .keys()[i]...")

    @property
    def partition(self):
        """The table the set prints, by its classifier: len() is its
        number of rows (heapy's len() of a set)."""
        return self._partition(self._er)

    def _row(self, i):
        """(label, count, size) of row i of the printed table."""
        return self._partition(self._er)._row(i)

    # relations
    @property
    def referrers(self):
        """The objects (of the same snapshot) that refer to a member."""
        return IdentitySet(self._s.referrers())

    @property
    def referents(self):
        """The objects a member refers to."""
        return IdentitySet(self._s.referents())

    @property
    def domisize(self):
        """Bytes that would be freed if every object of the set went away
        (weak references keep nothing alive)."""
        return self._s.domisize()

    @property
    def dominos(self):
        """The objects that would be freed if every member went away."""
        return IdentitySet(self._s.dominos())

    @property
    def rp(self):
        """The reference pattern: the set, its referrers by kind, their
        referrers, ... as a tree, ten levels deep (get_rp(depth) for
        another depth)."""
        return _RefPat(self, 10)

    def get_rp(self, depth=10):
        """The reference pattern to the given depth."""
        if not isinstance(depth, int) or depth < 1:
            raise ValueError('get_rp(depth): depth is a positive int')
        return _RefPat(self, depth)

    @property
    def sp(self):
        """Shortest paths from the root to (up to ten of) the objects."""
        return _Paths(self)

    shpaths = sp

    def __getitem__(self, i):
        return self._partition(self._er)[i]

    more = property(lambda self: self.partition.more,
                    doc='The next rows of the printed table.')
    all = property(lambda self: self.partition.all,
                   doc='The whole table, every row.')
    sets = property(lambda self: self.partition.sets,
                    doc='The rows of the printed table, as sets.')
    dominated = property(lambda self: self.partition.dominated,
                         doc='The printed table with a Dominated column.')

    def __str__(self):
        if self._s.count == 0:
            return 'hp.Nothing'
        return str(self._partition(self._er))

    __repr__ = __str__


def _path_kind(snap, ids):
    if not ids:
        return '?'
    try:
        return safe_repr(snap.object(ids[0]), 40)
    except LookupError:
        return '?'


def _path_string(snap, ids, root_labels):
    """hpy().Root.i0_modules['__main__'].__dict__['x'] for a node path."""
    if not ids:
        return '<no path from the root>'
    first = ids[0]
    start = 2
    if first == 0:
        out = ['hpy().Root']
        if len(ids) > 1:
            out.append('.' + root_labels.get(ids[1], '?'))
    elif first == snap.gc_root:
        # found through the collector: some C code holds ids[1]
        out = ['<held by C code: %s>' % _path_kind(snap, ids[1:2])]
    elif first == snap.type_root:
        out = ['<static type: %s>' % _path_kind(snap, ids[1:2])]
    else:
        out = ['<argument: %s>' % _path_kind(snap, ids[1:2])]
    for k in range(start, len(ids)):
        try:
            names = sorted(snap.relate(ids[k - 1], ids[k]))
        except LookupError:
            names = []
        out.append(names[0] if names else '->?')
    return ''.join(out)


class _Paths(object):
    def __init__(self, iset):
        self._set = iset

    def __str__(self):
        snap = self._set._s.snapshot
        ids = self._set._s.ids()[:_ROWS]
        labels = {}
        for label, target in snap.root_edges():
            labels.setdefault(target, label)
        lines = [' %d: %s' % (i, _path_string(snap, snap.shortest_path(n),
                                               labels))
                 for i, n in enumerate(ids)]
        more = self._set.count - len(ids)
        if more > 0:
            lines.append('<%d more paths>' % more)
        return '\n'.join(lines) if lines else 'hp.Nothing'

    __repr__ = __str__


def _tree_name(path):
    """'_' for the top, else letters, runs of three or more written as
    letter and count: 'a', 'aa', 'a3', 'ab', 'a3b'."""
    if not path:
        return '_'
    out, i = [], 0
    while i < len(path):
        j = i
        while j < len(path) and path[j] == path[i]:
            j += 1
        n = j - i
        out.append(path[i] * n if n < 3 else '%s%d' % (path[i], n))
        i = j
    return ''.join(out)


def _letters(k):
    """0 -> 'a', 25 -> 'z', 26 -> 'ba'..."""
    s = ''
    while True:
        s = chr(ord('a') + k % 26) + s
        k //= 26
        if k == 0:
            return s


class _RefPat(object):
    """heapy's reference pattern: line 0 is the set; each line below a
    line is one kind (clodo) of the objects referring to it that no line
    above shows; [R] marks a kind some member of which the root holds,
    [+] one cut off by the depth, [-] the others.  rp.<name> (rp._, rp.a,
    rp.aa, rp.a3) and rp[i] are the lines' sets."""

    def __init__(self, iset, depth):
        self._depth = depth
        self._start = 0
        self._lines = []        # (path, depth, marker, IdentitySet)
        snap = iset._s.snapshot
        root = set(t for _label, t in snap.root_edges())
        seen = iset
        todo = [('', 0, iset)]
        while todo:
            path, d, s = todo.pop(0)
            refs = (s.referrers - seen) if d < depth else None
            held_by_root = any(i in root for i in s._s.ids())
            if d >= depth:
                marker = '+' if (s.referrers - seen).count else '-'
            else:
                marker = 'R' if held_by_root else '-'
            self._lines.append((path, d, marker, s))
            if not refs or refs.count == 0:
                continue
            seen = seen | refs
            kids = refs._partition('clodo').sets
            # depth first, in the order heapy prints: insert kids next
            todo[0:0] = [(path + _letters(k), d + 1, kid)
                         for k, kid in enumerate(kids)]

    def __len__(self):
        return len(self._lines)

    def __iter__(self):
        return iter(line[3] for line in self._lines)

    def __getitem__(self, i):
        return self._lines[i][3]

    def __getattr__(self, name):
        for path, _d, _m, s in self.__dict__.get('_lines', ()):
            if _tree_name(path) == name:
                return s
        raise AttributeError('no line %r in this reference pattern' % name)

    @property
    def more(self):
        p = _RefPat.__new__(_RefPat)
        p.__dict__.update(self.__dict__)
        p._start = min(self._start + _ROWS, len(self._lines))
        return p

    def _line(self, k):
        path, d, marker, s = self._lines[k]
        name = _tree_name(path)
        fill = ('-' if d % 2 == 0 else ' ') * (3 + d)
        kind = _kind_label(s)
        snap = s._s.snapshot
        line = '%2d: %s %s [%s] %d %s: ' % (k, name, fill, marker, s.count,
                                           kind)
        # addresses, each with how many objects refer to it, while they fit
        ids = s._s.ids()
        for j, i in enumerate(ids[:16]):
            nref = sum(1 for r in snap.referrer_ids(i)
                       if not snap.node(r)[3] & _c.F_HIDDEN)
            item = '%#x*%d' % (snap.node(i)[0], nref)
            if j and len(line) + len(item) + 5 > _WIDTH:
                return line + '...'
            line += (', ' if j else '') + item
        return line + ('...' if len(ids) > 16 else '')

    def __str__(self):
        end = min(len(self._lines), self._start + _ROWS)
        out = []
        if self._start == 0:
            out.append('Reference Pattern by <[dict of] class>.')
        out.extend(self._line(k) for k in range(self._start, end))
        if end < len(self._lines):
            out.append("<%d more lines. Type e.g. '_.more' for more.>"
                       % (len(self._lines) - end))
        return '\n'.join(out)

    __repr__ = __str__


class _Nodes(object):
    __slots__ = ('_s',)

    def __init__(self, s):
        self._s = s

    def __iter__(self):
        return iter(self._s)

    def __len__(self):
        return self._s.count

    def __contains__(self, obj):
        return obj in self._s

    def __repr__(self):
        return '<%d nodes>' % self._s.count


def _kind_label(iset):
    """The clodo kind of a set's objects, as heapy names it in 'Set of 3
    <str> objects' and a reference pattern's lines: 'mixed' when more
    than one."""
    kinds = iset._partition('clodo')
    return kinds._row(0)[0] if len(kinds) == 1 else 'mixed'


class Partition(object):
    """The table of a set by a classifier, largest rows first: what a set
    prints (s.partition).  len(p) is its number of rows, p[i] is row i as
    a set, p[a:b] the union of those rows, both keeping the classifier
    (heapy's rows do); p.sets every row; printing shows ten rows, p.more
    the next ten, p.all every row."""

    def __init__(self, iset, classifier, start=0, rows=None):
        # Its own handle on the set: iset caches this partition, and a
        # reference back would make a cycle that only a full collection
        # frees, keeping the whole snapshot alive after h = hp.heap().
        self._set = IdentitySet(iset._s)
        self._cls = classifier
        if rows is None:
            rows = classifier.rows(iset)
        self._cpart, extra = rows
        if self._cpart is None:
            self._rows, self._extra = extra, None
        else:
            self._rows, self._extra = None, extra
        self._start = start
        self._dominated = False
        self._dom_cache = {}
        self._names = _labels(iset._s.snapshot)

    def __len__(self):
        return len(self._cpart) if self._cpart is not None else len(self._rows)

    def _row(self, i):
        """(label, count, size) of row i."""
        if self._cpart is not None:
            key, count, size = self._cpart.row(i)
            return (self._cls.label(self._names, key, self._extra),
                    count, size)
        label, s = self._rows[i]
        return label, s.count, s.size

    def _is_whole(self, i):
        """Whether row i of the C partition is the whole set (its only
        row): then that row is the set itself, shared, not copied."""
        c = self._cpart
        return (c is not None and i == 0 and len(c) == 1 and
                c.total_count == self._set._s.count)

    def _rowset(self, i):
        if self._is_whole(i):
            return self._set._s
        if self._cpart is not None:
            return self._cpart.group(i)
        return self._rows[i][1]

    def _rowsize(self, i):
        if self._cpart is not None:
            return self._cpart.row(i)[2]
        return self._rows[i][1].size

    def _rowdom(self, i):
        """Bytes freed if row i's objects went away (cached)."""
        d = self._dom_cache.get(i)
        if d is None:
            d = self._dom_cache[i] = self._rowset(i).domisize()
        return d

    def _of(self, cset):
        # a row or a slice keeps the classifier, as heapy's do
        return IdentitySet(cset, self._cls.name)

    def __getitem__(self, i):
        if isinstance(i, slice):
            if self._cpart is not None:
                return self._of(self._cpart.rows(*i.indices(len(self))))
            out = None
            for k in range(*i.indices(len(self))):
                s = self._rowset(k)
                out = s if out is None else out | s
            if out is None:
                return self._of(self._set._s.select(_c.BY_UNITY, 1))
            return self._of(out)
        if not isinstance(i, int):
            raise TypeError('partition indices are integers or slices')
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError('partition index out of range (%d rows)' % n)
        return self._of(self._rowset(i))

    @property
    def sets(self):
        """Every row, as a list of sets."""
        return [self._of(self._rowset(i)) for i in range(len(self))]

    def _end(self):
        """Where the rows printed from _start end: ten rows, or eleven
        when the eleventh is the last (heapy prints it rather than say
        one more row is left)."""
        n = len(self)
        end = min(n, self._start + _ROWS)
        return n if n - end == 1 else end

    @property
    def more(self):
        """The next ten rows."""
        p = Partition.__new__(Partition)
        p.__dict__.update(self.__dict__)
        p._start = self._end()
        return p

    @property
    def all(self):
        """Every row."""
        return _AllRows(self)

    @property
    def dominated(self):
        """The same table with a Dominated column: the bytes that would be
        freed if a row's objects went away (what they alone keep alive
        included).  h.byrcs.dominated, h[0].bytype.dominated..."""
        p = Partition.__new__(Partition)
        p.__dict__.update(self.__dict__)
        p._dominated = True
        return p

    count = property(lambda self: self._set.count)
    size = property(lambda self: self._set.size)

    def _header(self):
        """The summary line (heapy's label) and the columns' header."""
        s = self._set
        objects = 'object' if s.count == 1 else 'objects'
        if self._cls.by == _c.BY_ID:
            return ['Set of %d <%s> %s. Total size = %d bytes.'
                    % (s.count, _kind_label(s), objects, s.size),
                    ' Index     Size   %   Cumulative  %   '
                    'Representation (limited)']
        return ['Partition of a set of %d %s. Total size = %d bytes.'
                % (s.count, objects, s.size),
                ' Index  Count   %     Size   % Cumulative  % '
                + (' Dominated ' if self._dominated else '')
                + self._cls.header]

    def _lines(self, start, stop):
        total_n, total_size = self._set.count, self._set.size
        cum = 0
        for i in range(start):
            cum += self._rowsize(i)
        out = []
        byid = self._cls.by == _c.BY_ID
        for i in range(start, stop):
            label, count, size = self._row(i)
            cum += size
            if byid:
                out.append('%6d %8d %5.1f %9d %5.1f %s' % (
                    i, size, 100.0 * size / total_size if total_size else 0,
                    cum, 100.0 * cum / total_size if total_size else 0,
                    label))
            else:
                prefix = '%6d %6d %3d %8d %3d %9d %3d ' % (
                    i, count, _pct(count, total_n), size,
                    _pct(size, total_size), cum, _pct(cum, total_size))
                if self._dominated:
                    prefix += '%10d ' % self._rowdom(i)
                out.append(_wrap(prefix, label))
        return out

    def _render(self, stop=None):
        n = len(self)
        if self._set.count == 0:
            return 'hp.Nothing'
        if stop == 'all':
            start, end = 0, n
            lines = self._header()
        else:
            # .more shows the columns' header and its rows, no summary,
            # and nothing once every row was shown, as heapy's
            start, end = self._start, self._end()
            if start >= n and start:
                return ''
            lines = self._header()[1 if start else 0:]
        lines += self._lines(start, end)
        if end < n:
            lines.append("<%d more rows. Type e.g. '_.more' to view.>"
                         % (n - end))
        return '\n'.join(lines)

    def __str__(self):
        return self._render()

    __repr__ = __str__


class _AllRows(object):
    def __init__(self, p):
        self._p = p

    def __str__(self):
        return self._p._render('all')

    __repr__ = __str__


# ---- the session object --------------------------------------------------

class _RootType(object):
    """The root of the heap: interpreter state, sys.modules, builtins and
    every thread's frames and exception state."""

    def __repr__(self):
        return 'hp.Root'


class Use(object):
    """heapscope's session object, as heapy's hpy() returns.

    hp.setrelheap()   mark the heap as it is now
    hp.heap()         the objects reachable now that were not there at the
                      mark (all reachable objects without a mark)
    hp.heapu()        objects only C code holds (reachable from no root)
    hp.iso(*objs)     a set of exactly these objects
    hp.idset(iterable)  a set of the objects in iterable
    hp.Nothing        the empty set
    hp.Root           the root the heap is walked from
    hp.Type(t), hp.Clodo(t), hp.Clodo(dictof=t), hp.Size(n), hp.Module(name)
                      kinds: filter a set with h & kind, h - kind, ~kind
    """

    def __init__(self):
        self._mark = None
        self._mark_time = None
        self._last = None
        self.Root = _RootType()
        self.Type = _KindFactory(
            'Type', 'hp.Type(t): the kind of objects of type t.', _type_kind)
        self.Clodo = _KindFactory(
            'Clodo', 'hp.Clodo(t) or hp.Clodo(dictof=t): objects of class t, '
            'or the __dict__s of instances of t.', _clodo_kind)
        self.Size = _KindFactory(
            'Size', 'hp.Size(n): objects of n bytes.', _size_kind)
        self.Module = _KindFactory(
            'Module', "hp.Module('name'): objects of that module (see "
            'bymodule).', _module_kind)
        self.Via = _KindFactory(
            'Via', "hp.Via('.key', ...): objects referred to in exactly "
            "these ways; hp.Via('.key').alt('<') in fewer.",
            lambda *names: ViaKind(names))

    def __repr__(self):
        return '<heapscope session: hp.heap(), hp.setrelheap(), help(hp)>'

    def __dir__(self):
        return ['Clodo', 'Module', 'Nothing', 'Root', 'Size', 'Type', 'Via',
                'heap', 'heapu', 'idset', 'iso', 'setrelheap']

    def setrelheap(self, reference=None):
        """Mark the heap: later heap() calls leave out every object that
        exists now (an object later found at the same address but of
        another type is a new object).  The mark records addresses and
        types, no references: an object freed after the mark and replaced
        by a new one of the same type at the same address is taken for the
        old one.  heapy's `reference` argument is not supported."""
        if reference is not None:
            raise TypeError('setrelheap() marks the heap as it is now; a '
                            'reference set is not supported')
        self._mark = None
        mark = _c.snapshot(hold=False)
        mark.drop_edges()
        self._mark = mark
        self._mark_time = _time.time()

    def _snapshot(self, progress=None):
        # The session keeps its last heap() (or heapu()) snapshot: sets
        # made from objects it holds join it.
        snap = _c.snapshot(progress=progress)
        self._last = snap
        return snap

    def heap(self):
        """The objects reachable now that were not present at the mark."""
        return self._heap()

    def _heap(self, progress=None):
        # progress: the explorer's tick, which shows the walk and cancels
        # it with KeyboardInterrupt (no other callable is called).
        self._last = None        # drop the previous snapshot's references
        # (Positional: before 3.11 a call with keywords makes a bound
        # method that only this running frame's value stack holds, where
        # the walk cannot see it; the collector pass would then take it
        # for an object only C code holds.  No call on the way to a walk
        # may pass keywords to a method.)
        snap = self._snapshot(progress)
        return IdentitySet(snap.heap(self._mark))

    def heapu(self):
        """Objects the collector tracks that no root reaches (held only by
        C code), and what they alone hold; relative to the mark."""
        self._last = None
        snap = self._snapshot()
        return IdentitySet(snap.heap(self._mark, True))

    def idset(self, iterable):
        """A set of the objects in iterable (compared by identity).

        When the session's last heap() snapshot holds every one of them
        (they were there when it was taken), the set joins that snapshot,
        like the sets cut from h: it costs no walk and no memory, combines
        with them directly, and its relations are those of that snapshot.
        Otherwise (an object made since, or none taken yet) a snapshot is
        taken now for it, so its relations are the current ones.  Take a
        new hp.heap() to see what the program changed since the last."""
        objs = tuple(iterable)
        last = self._last
        if last is not None:
            s, missing = last.idset(objs, True)
            if not missing:
                return IdentitySet(s)
        snap = _c.snapshot(args=objs or None)
        s, missing = snap.idset(objs)
        if missing:
            # Only heapscope's own objects are left out of a snapshot.
            raise ValueError('%d of the objects are heapscope\'s own or '
                             'static and cannot be in a set' % missing)
        return IdentitySet(s)

    def iso(self, *objs):
        """A set of exactly the given objects (see idset: it joins the last
        heap() snapshot when that holds them all)."""
        return self.idset(objs)

    @property
    def Nothing(self):
        """The empty set."""
        snap = self._last or _c.snapshot()
        return IdentitySet(snap.idset(())[0])


def hpy():
    """A new heapscope session object (heapy's hpy())."""
    return Use()


_session = []


def session():
    """The program's own session object: the one whose mark the heapscope
    command's --mark sets and the explorer starts from.  hpy() makes new,
    independent sessions.  Like any session it keeps its last heap()
    snapshot, and the objects in it, until its next heap()."""
    if not _session:
        _session.append(Use())
    return _session[0]


for _t in (Use, IdentitySet, Partition, _Nodes, _AllRows, _RootType, Kind,
           _KindBase, _SetKind, _NotKind, _BinKind,
           _KindFactory, _Snap, ViaKind, _Paths, _RefPat):
    _c.hide(_t)
del _t
_c.hide(globals())      # our frames are no roots

# Snapshots sit out the collector's young collections (see gc_phase).
if _c.gc_phase not in _gc.callbacks:
    _gc.callbacks.append(_c.gc_phase)
