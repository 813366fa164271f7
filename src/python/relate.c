/* relate.c - how one object refers to others, named as heapy names it.
 *
 * Used after the walk, on demand (byvia, paths, the inspector).  It reads
 * the referrer's structure (dict entries, items, slots, managed values,
 * function, type, code, frame and generator fields) and reports every
 * reference it holds with the way it holds it; it never calls user code
 * (a dict key is shown by a safe repr, never by its own __repr__).  A
 * caller that wants the names for many targets enumerates each referrer
 * once (hs_py_relate_all), so a million-item list costs one pass, not one
 * pass per item.
 */
#include "hs_py.h"

#include <structmember.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>   /* PyFrame_Type */
#endif

#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(int) _PySet_NextEntry(PyObject *set, Py_ssize_t *pos,
                                 PyObject **key, Py_hash_t *hash);
#endif

/* Py_RELATIVE_OFFSET (3.12+): such members are not at a fixed offset. */
#define HS_RELATIVE_OFFSET 0x8

PyObject *
hs_py_safe_repr(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
        tp == &PyBytes_Type || tp == &PyBool_Type || o == Py_None ||
        tp == &PyComplex_Type) {
        /* Builtin scalars: their repr is C code, but a huge int or str
         * would make a huge name. */
        if (tp == &PyLong_Type && _PyLong_NumBits(o) > 256)
            return PyUnicode_FromFormat("<int of %zu bits>",
                                        _PyLong_NumBits(o));
        if ((tp == &PyUnicode_Type && PyUnicode_GET_LENGTH(o) > HS_REPR_MAX) ||
            (tp == &PyBytes_Type && PyBytes_GET_SIZE(o) > HS_REPR_MAX))
            return PyUnicode_FromFormat("<%s of length %zd>", tp->tp_name,
                                        Py_SIZE(o) > 0 ? Py_SIZE(o)
                                        : PyUnicode_GET_LENGTH(o));
        return PyObject_Repr(o);
    }
    return PyUnicode_FromFormat("<%s at %p>", tp->tp_name, (void *)o);
}

/* What a local, cell or stack entry's name starts with: the attribute
 * that shows the frame it is in, when that is a generator's. */
static const char *
frame_prefix(int kind)
{
    switch (HS_RN_WHERE(kind)) {
    case HS_RN_IN_GEN:
        return ".gi_frame";
    case HS_RN_IN_CORO:
        return ".cr_frame";
    case HS_RN_IN_ASYNCGEN:
        return ".ag_frame";
    default:
        return "";
    }
}

PyObject *
hs_py_relname(const hs_relname *n)
{
    PyObject *r, *out;
    switch (HS_RN_BASE(n->kind)) {
    case HS_RN_FIELD:
        return PyUnicode_FromString(n->field);
    case HS_RN_MEMBER:
        return PyUnicode_FromFormat(".%s", n->field);
    case HS_RN_INDEXVAL:
        if ((r = hs_py_safe_repr(n->key)) == NULL)
            return NULL;
        out = PyUnicode_FromFormat("[%U]", r);
        Py_DECREF(r);
        return out;
    case HS_RN_INDEXKEY:
        return PyUnicode_FromFormat(".keys()[%zd]", n->index);
    case HS_RN_ITEM:
        return PyUnicode_FromFormat("[%zd]", n->index);
    case HS_RN_INSET:
        return PyUnicode_FromFormat("list(_)[%zd]", n->index);
    case HS_RN_ATTR:
        if (PyUnicode_Check(n->key))
            return PyUnicode_FromFormat(".%U", n->key);
        return PyUnicode_FromString(".?");
    case HS_RN_HASATTR:
        if ((r = hs_py_safe_repr(n->key)) == NULL)
            return NULL;
        out = PyUnicode_FromFormat(".__dict__.keys()[%U]", r);
        Py_DECREF(r);
        return out;
    case HS_RN_LOCAL:
    case HS_RN_CELL:
        if ((r = hs_py_safe_repr(n->key)) == NULL)
            return NULL;
        out = PyUnicode_FromFormat(HS_RN_BASE(n->kind) == HS_RN_LOCAL
                                       ? "%s.f_locals[%U]"
                                       : "%s.f_locals [%U]",
                                   frame_prefix(n->kind), r);
        Py_DECREF(r);
        return out;
    case HS_RN_STACK:
        return PyUnicode_FromFormat("%s->f_valuestack[%zd]",
                                    frame_prefix(n->kind), n->index);
    case HS_RN_TEXT:
        if (n->key != NULL && PyUnicode_Check(n->key)) {
            Py_INCREF(n->key);
            return n->key;
        }
        return PyUnicode_FromString("<unknown>");
    }
    return PyUnicode_FromString("<unknown>");
}

/* ---- enumerating what an object holds, and how ---------------------------- */

typedef struct {
    hs_relvisit visit;
    void *arg;
} rel_ctx;

static int
emit(rel_ctx *c, PyObject *dst, int kind, const char *field, PyObject *key,
     Py_ssize_t index)
{
    if (dst == NULL)
        return 0;
    hs_relname n = {kind, field, key, index};
    return c->visit(dst, &n, c->arg);
}

#define FIELD(ptr, label)                                                 \
    do {                                                                  \
        int r_ = emit(c, (PyObject *)(ptr), HS_RN_FIELD, (label), NULL, 0); \
        if (r_)                                                           \
            return r_;                                                    \
    } while (0)

static int
relate_dict(PyObject *src, rel_ctx *c)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    int r;
    while (PyDict_Next(src, &pos, &k, &v)) {
        if ((r = emit(c, v, HS_RN_INDEXVAL, NULL, k, 0)) != 0 ||
            (r = emit(c, k, HS_RN_INDEXKEY, NULL, NULL, i)) != 0)
            return r;
        i++;
    }
    return 0;
}

static int
relate_seq(PyObject **items, Py_ssize_t n, rel_ctx *c)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        int r = emit(c, items[i], HS_RN_ITEM, NULL, NULL, i);
        if (r)
            return r;
    }
    return 0;
}

static int
relate_set(PyObject *src, rel_ctx *c)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k;
    Py_hash_t h;
    while (_PySet_NextEntry(src, &pos, &k, &h)) {
        int r = emit(c, k, HS_RN_INSET, NULL, NULL, i++);
        if (r)
            return r;
    }
    return 0;
}

/* Builtin types whose object members relate_all names field by field
 * (their members are the same fields again). */
static int
fields_named(PyTypeObject *tp)
{
    return tp == &PyMethod_Type || tp == &PyFunction_Type ||
           tp == &PyCFunction_Type || tp == &PyCode_Type ||
           tp == &PyType_Type || tp == &PyModule_Type ||
           tp == &PyFrame_Type || tp == &PyTraceBack_Type ||
           tp == &PyGen_Type || tp == &PyCoro_Type ||
           tp == &PyAsyncGen_Type;
}

/* __slots__ and C members of type object, along the MRO. */
static int
relate_members(PyObject *src, rel_ctx *c)
{
    PyObject *mro = Py_TYPE(src)->tp_mro;
    Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t t = 0; t < n; t++) {
        PyTypeObject *tp = (PyTypeObject *)PyTuple_GET_ITEM(mro, t);
        if (fields_named(tp))
            continue;
        PyMemberDef *m = tp->tp_members;
        for (; m != NULL && m->name != NULL; m++) {
            if ((m->type != T_OBJECT && m->type != T_OBJECT_EX) ||
                (m->flags & HS_RELATIVE_OFFSET))
                continue;
            PyObject *v = *(PyObject **)((char *)src + m->offset);
            /* a member is named like an attribute: ".key" */
            int r = emit(c, v, HS_RN_MEMBER, m->name, NULL, 0);
            if (r)
                return r;
        }
    }
    return 0;
}

static int
relate_value(PyObject *name, PyObject *value, void *arg)
{
    return emit(arg, value, HS_RN_ATTR, NULL, name, 0);
}

static int
relate_function(PyFunctionObject *f, rel_ctx *c)
{
    FIELD(f->func_code, ".__code__");
    FIELD(f->func_globals, ".__globals__");
    FIELD(f->func_defaults, ".__defaults__");
    FIELD(f->func_kwdefaults, ".__kwdefaults__");
    FIELD(f->func_closure, ".__closure__");
    FIELD(f->func_doc, ".__doc__");
    FIELD(f->func_name, ".__name__");
    FIELD(f->func_qualname, ".__qualname__");
    FIELD(f->func_module, ".__module__");
    FIELD(f->func_dict, ".__dict__");
    FIELD(f->func_annotations, ".__annotations__");
#if PY_VERSION_HEX >= 0x030A0000
    FIELD(f->func_builtins, ".__builtins__");
#endif
    return 0;
}

static int
relate_type(PyTypeObject *t, rel_ctx *c)
{
    FIELD(hs_compat_type_dict(t), ".__dict__");
    FIELD(t->tp_mro, ".__mro__");
    FIELD(t->tp_bases, ".__bases__");
    FIELD(t->tp_base, ".__base__");
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)t;
        FIELD(ht->ht_name, ".__name__");
        FIELD(ht->ht_qualname, ".__qualname__");
        FIELD(ht->ht_slots, ".__slots__");
        FIELD(ht->ht_module, "->ht_module");
#if PY_VERSION_HEX < 0x030C0000
        FIELD(t->tp_subclasses, "->tp_subclasses");
#endif
    }
    return 0;
}

static int
relate_code(PyCodeObject *co, rel_ctx *c)
{
    FIELD(co->co_consts, ".co_consts");
    FIELD(co->co_names, ".co_names");
    FIELD(co->co_filename, ".co_filename");
    FIELD(co->co_name, ".co_name");
#if PY_VERSION_HEX >= 0x030B0000
    FIELD(co->co_qualname, ".co_qualname");
    FIELD(co->co_linetable, ".co_linetable");
    FIELD(co->co_exceptiontable, ".co_exceptiontable");
    FIELD(co->co_localsplusnames, ".co_localsplusnames");
#else
    FIELD(co->co_varnames, ".co_varnames");
    FIELD(co->co_freevars, ".co_freevars");
    FIELD(co->co_cellvars, ".co_cellvars");
#if PY_VERSION_HEX >= 0x030A0000
    FIELD(co->co_linetable, ".co_linetable");
#else
    FIELD(co->co_lnotab, ".co_lnotab");
#endif
#endif
    return 0;
}

/* An exception's fields are getters, not members: name them as its
 * attributes.  (Its __dict__ is the instance dict, named below.) */
static int
relate_exception(PyBaseExceptionObject *e, rel_ctx *c)
{
    FIELD(e->args, ".args");
    FIELD(e->traceback, ".__traceback__");
    FIELD(e->context, ".__context__");
    FIELD(e->cause, ".__cause__");
#if PY_VERSION_HEX >= 0x030B0000
    FIELD(e->notes, "->notes");
#endif
    return 0;
}

/* ---- NyHeapDef relate functions ------------------------------------------ */

/* heapy's relate functions answer for one (src, tgt) pair: ask for each
 * object the instance holds (found by its traverse), and turn each
 * reported kind into our names. */
typedef struct {
    NyHeapRelate r;           /* first: the callback gets this pointer */
    rel_ctx *c;
    int stop;
} hd_relate;

static int
hd_relate_visit(unsigned int kind, PyObject *relator, NyHeapRelate *arg)
{
    hd_relate *h = (hd_relate *)arg;
    hs_relname n = {HS_RN_TEXT, NULL, NULL, 0};
    PyObject *text = NULL;
    switch (kind) {
    case NYHR_ATTRIBUTE:
        n.kind = HS_RN_ATTR;
        n.key = relator;
        break;
    case NYHR_INDEXVAL:
        if (relator != NULL && PyLong_CheckExact(relator)) {
            n.kind = HS_RN_ITEM;
            n.index = PyLong_AsSsize_t(relator);
        } else {
            n.kind = HS_RN_INDEXVAL;
            n.key = relator;
        }
        break;
    case NYHR_INDEXKEY:
    case NYHR_INSET:
    case NYHR_STACK:
        n.kind = kind == NYHR_INDEXKEY ? HS_RN_INDEXKEY
               : kind == NYHR_INSET ? HS_RN_INSET : HS_RN_STACK;
        n.index = relator != NULL && PyLong_Check(relator)
                      ? PyLong_AsSsize_t(relator) : 0;
        break;
    case NYHR_INTERATTR:
        text = relator != NULL && PyUnicode_Check(relator)
                   ? PyUnicode_FromFormat("->%U", relator)
                   : PyUnicode_FromString("->?");
        n.key = text;
        break;
    case NYHR_HASATTR:
        n.kind = HS_RN_HASATTR;
        n.key = relator;
        break;
    case NYHR_LOCAL_VAR:
    case NYHR_CELL:
        n.kind = kind == NYHR_LOCAL_VAR ? HS_RN_LOCAL : HS_RN_CELL;
        n.key = relator;
        break;
    default:
        text = PyUnicode_FromString("<relation>");
        n.key = text;
        break;
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    if (n.key != NULL || n.kind == HS_RN_ITEM || n.kind == HS_RN_INDEXKEY ||
        n.kind == HS_RN_INSET || n.kind == HS_RN_STACK)
        h->stop = h->c->visit(h->r.tgt, &n, h->c->arg);
    Py_XDECREF(text);
    Py_XDECREF(relator);
    return h->stop;
}

typedef struct {
    PyObject **held;
    size_t n, cap;
    int err;
} held_list;

static int
collect_held(PyObject *o, void *arg)
{
    held_list *l = arg;
    if (o == NULL)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        PyObject **b = PyMem_Realloc(l->held, cap * sizeof *b);
        if (b == NULL) {
            l->err = 1;
            return 1;
        }
        l->held = b;
        l->cap = cap;
    }
    l->held[l->n++] = o;
    return 0;
}

static int
heapdef_relate(PyObject *src, const NyHeapDef *def, rel_ctx *c)
{
    held_list l = {NULL, 0, 0, 0};
    if (def->traverse != NULL) {
        NyHeapTraverse t = {0, NULL, src, &l, collect_held, NULL};
        def->traverse(&t);
    } else if (Py_TYPE(src)->tp_traverse != NULL && PyObject_IS_GC(src)) {
        Py_TYPE(src)->tp_traverse(src, collect_held, &l);
    }
    int stop = 0;
    for (size_t k = 0; k < l.n && !stop; k++) {
        hd_relate h = {{0, NULL, src, l.held[k], hd_relate_visit}, c, 0};
        def->relate(&h.r);
        if (PyErr_Occurred())
            PyErr_Clear();
        stop = h.stop;
    }
    PyMem_Free(l.held);
    return stop;
}

int
hs_py_relate_all(PyObject *src, const hs_heapdefs *hd, hs_relvisit visit,
                 void *arg)
{
    PyTypeObject *tp = Py_TYPE(src);
    rel_ctx ctx = {visit, arg}, *c = &ctx;
    int r;

    /* The commonest holders, exactly of their builtin types: no instance
     * attributes, slots or class reference to look for after the items
     * (only what an NyHeapDef for the type may add). */
    if (tp == &PyDict_Type || tp == &PyTuple_Type || tp == &PyList_Type) {
        r = tp == &PyDict_Type ? relate_dict(src, c)
            : tp == &PyTuple_Type
                ? relate_seq(((PyTupleObject *)src)->ob_item,
                             PyTuple_GET_SIZE(src), c)
                : relate_seq(((PyListObject *)src)->ob_item,
                             PyList_GET_SIZE(src), c);
        if (r != 0)
            return r;
        const NyHeapDef *def = hs_heapdefs_find(hd, tp);
        return def != NULL && def->relate != NULL
                   ? heapdef_relate(src, def, c) : 0;
    }

    if (PyDict_Check(src) && (r = relate_dict(src, c)) != 0)
        return r;
    if (PyList_Check(src) &&
        (r = relate_seq(((PyListObject *)src)->ob_item,
                        PyList_GET_SIZE(src), c)) != 0)
        return r;
    if (PyTuple_Check(src) &&
        (r = relate_seq(((PyTupleObject *)src)->ob_item,
                        PyTuple_GET_SIZE(src), c)) != 0)
        return r;
    if (PyAnySet_Check(src) && (r = relate_set(src, c)) != 0)
        return r;
    if (PyFunction_Check(src) &&
        (r = relate_function((PyFunctionObject *)src, c)) != 0)
        return r;
    if (PyMethod_Check(src)) {
        FIELD(PyMethod_GET_FUNCTION(src), ".__func__");
        FIELD(PyMethod_GET_SELF(src), ".__self__");
    }
    if (PyCFunction_Check(src)) {
        FIELD(((PyCFunctionObject *)src)->m_self, ".__self__");
        FIELD(((PyCFunctionObject *)src)->m_module, ".__module__");
    }
    if (PyCell_Check(src))
        FIELD(PyCell_GET(src), ".cell_contents");
    if (PyModule_Check(src))
        FIELD(PyModule_GetDict(src), ".__dict__");
    if (PyType_Check(src) && (r = relate_type((PyTypeObject *)src, c)) != 0)
        return r;
    if (PyCode_Check(src) && (r = relate_code((PyCodeObject *)src, c)) != 0)
        return r;
    if (PyFrame_Check(src) &&
        (r = hs_compat_relate_frame(src, visit, arg)) != 0)
        return r;
    if ((PyGen_CheckExact(src) || PyCoro_CheckExact(src) ||
         PyAsyncGen_CheckExact(src)) &&
        (r = hs_compat_relate_gen(src, visit, arg)) != 0)
        return r;
    if (PyTraceBack_Check(src)) {
        FIELD(((PyTracebackObject *)src)->tb_next, ".tb_next");
        FIELD(((PyTracebackObject *)src)->tb_frame, ".tb_frame");
    }
    if (PyExceptionInstance_Check(src) &&
        (r = relate_exception((PyBaseExceptionObject *)src, c)) != 0)
        return r;
    /* Extension types that describe themselves to heapy (NyHeapDef). */
    const NyHeapDef *def = hs_heapdefs_find(hd, tp);
    if (def != NULL && def->relate != NULL &&
        (r = heapdef_relate(src, def, c)) != 0)
        return r;
    /* Instance attributes: the dict, managed values, slots, the class. */
    if (!PyType_Check(src) && !PyModule_Check(src)) {
        FIELD(hs_compat_instance_dict(src), ".__dict__");
        if ((r = hs_compat_visit_values(src, relate_value, c)) != 0)
            return r;
    }
    if ((r = relate_members(src, c)) != 0)
        return r;
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
        FIELD(tp, ".__class__");
    return 0;
}

/* ---- one pair ---------------------------------------------------------------- */

typedef struct {
    PyObject *dst, *names;
    int err;
} pair_arg;

static int
pair_visit(PyObject *dst, const hs_relname *n, void *arg)
{
    pair_arg *a = arg;
    if (dst != a->dst)
        return 0;
    PyObject *name = hs_py_relname(n);
    if (name == NULL || PyList_Append(a->names, name) < 0) {
        Py_XDECREF(name);
        a->err = -1;
        return 1;
    }
    Py_DECREF(name);
    return 0;
}

int
hs_py_relate(PyObject *src, PyObject *dst, const hs_heapdefs *hd,
             PyObject *names)
{
    Py_ssize_t before = PyList_GET_SIZE(names);
    pair_arg a = {dst, names, 0};
    hs_py_relate_all(src, hd, pair_visit, &a);
    if (a.err)
        return -1;
    if (PyList_GET_SIZE(names) == before) {
        PyObject *u = PyUnicode_FromString("<unknown>");
        int r = u == NULL ? -1 : PyList_Append(names, u);
        Py_XDECREF(u);
        return r;
    }
    return 0;
}
