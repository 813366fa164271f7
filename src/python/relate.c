/* relate.c - how one object refers to another, named as heapy names it.
 *
 * Used after the walk, on demand (byvia, paths, the inspector), for pairs
 * the snapshot already knows are related.  It reads the referrer's
 * structure (dict entries, items, slots, managed values, function and
 * frame fields) and never calls user code: a dict key is shown by a safe
 * repr, never by its own __repr__.
 */
#include "hs_py.h"

#include <structmember.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>   /* frame objects are the running frames */
#endif

#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(int) _PySet_NextEntry(PyObject *set, Py_ssize_t *pos,
                                 PyObject **key, Py_hash_t *hash);
#endif

PyObject *
hs_py_safe_repr(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
        tp == &PyBytes_Type || tp == &PyBool_Type || o == Py_None ||
        tp == &PyComplex_Type)
        return PyObject_Repr(o);
    return PyUnicode_FromFormat("<%s at %p>", tp->tp_name, (void *)o);
}

static int
add(PyObject *names, PyObject *name)
{
    if (name == NULL)
        return -1;
    int r = PyList_Append(names, name);
    Py_DECREF(name);
    return r;
}

static int
add_str(PyObject *names, const char *s)
{
    return add(names, PyUnicode_FromString(s));
}

static int
relate_dict(PyObject *src, PyObject *dst, PyObject *names)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (PyDict_Next(src, &pos, &k, &v)) {
        if (v == dst) {
            PyObject *kr = hs_py_safe_repr(k);
            if (kr == NULL || add(names, PyUnicode_FromFormat("[%U]", kr)) < 0) {
                Py_XDECREF(kr);
                return -1;
            }
            Py_DECREF(kr);
        }
        if (k == dst &&
            add(names, PyUnicode_FromFormat(".keys()[%zd]", i)) < 0)
            return -1;
        i++;
    }
    return 0;
}

static int
relate_seq(PyObject **items, Py_ssize_t n, PyObject *dst, PyObject *names)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] == dst &&
            add(names, PyUnicode_FromFormat("[%zd]", i)) < 0)
            return -1;
    return 0;
}

static int
relate_set(PyObject *src, PyObject *dst, PyObject *names)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k;
    Py_hash_t h;
    while (_PySet_NextEntry(src, &pos, &k, &h)) {
        if (k == dst &&
            add(names, PyUnicode_FromFormat("list(_)[%zd]", i)) < 0)
            return -1;
        i++;
    }
    return 0;
}

/* __slots__ and C members of type object, along the MRO. */
static int
relate_members(PyObject *src, PyObject *dst, PyObject *names)
{
    PyObject *mro = Py_TYPE(src)->tp_mro;
    Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t t = 0; t < n; t++) {
        PyTypeObject *tp = (PyTypeObject *)PyTuple_GET_ITEM(mro, t);
        PyMemberDef *m = tp->tp_members;
        for (; m != NULL && m->name != NULL; m++) {
            if ((m->type != T_OBJECT && m->type != T_OBJECT_EX) ||
                (m->flags & 0x8 /* Py_RELATIVE_OFFSET */))
                continue;
            PyObject *v = *(PyObject **)((char *)src + m->offset);
            if (v == dst &&
                add(names, PyUnicode_FromFormat(".%s", m->name)) < 0)
                return -1;
        }
    }
    return 0;
}

typedef struct {
    PyObject *dst, *names;
    int err;
} attr_arg;

static int
relate_value(PyObject *name, PyObject *value, void *arg)
{
    attr_arg *a = arg;
    if (value == a->dst &&
        add(a->names, PyUnicode_FromFormat(".%U", name)) < 0) {
        a->err = -1;
        return 1;
    }
    return 0;
}

#define FIELD(cond, label)                                      \
    do {                                                        \
        if ((cond) && add_str(names, label) < 0)                \
            return -1;                                          \
    } while (0)

static int
relate_function(PyFunctionObject *f, PyObject *dst, PyObject *names)
{
    FIELD(f->func_code == dst, ".__code__");
    FIELD(f->func_globals == dst, ".__globals__");
    FIELD(f->func_defaults == dst, ".__defaults__");
    FIELD(f->func_kwdefaults == dst, ".__kwdefaults__");
    FIELD(f->func_closure == dst, ".__closure__");
    FIELD(f->func_doc == dst, ".__doc__");
    FIELD(f->func_name == dst, ".__name__");
    FIELD(f->func_qualname == dst, ".__qualname__");
    FIELD(f->func_module == dst, ".__module__");
    FIELD(f->func_dict == dst, ".__dict__");
    FIELD(f->func_annotations == dst, ".__annotations__");
#if PY_VERSION_HEX >= 0x030A0000
    FIELD(f->func_builtins == dst, ".__builtins__");
#endif
    return 0;
}

static int
relate_type(PyTypeObject *t, PyObject *dst, PyObject *names)
{
    FIELD(hs_compat_type_dict(t) == dst, ".__dict__");
    FIELD(t->tp_mro == dst, ".__mro__");
    FIELD(t->tp_bases == dst, ".__bases__");
    FIELD((PyObject *)t->tp_base == dst, ".__base__");
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)t;
        FIELD(ht->ht_name == dst, ".__name__");
        FIELD(ht->ht_qualname == dst, ".__qualname__");
        FIELD(ht->ht_slots == dst, ".__slots__");
        FIELD(ht->ht_module == dst, "->ht_module");
#if PY_VERSION_HEX < 0x030C0000
        FIELD(t->tp_subclasses == dst, "->tp_subclasses");
#endif
    }
    return 0;
}

#if PY_VERSION_HEX < 0x030B0000
/* Frame objects are how running frames exist before 3.11. */
static int
relate_frame(PyFrameObject *f, PyObject *dst, PyObject *names)
{
    FIELD((PyObject *)f->f_back == dst, ".f_back");
    FIELD((PyObject *)f->f_code == dst, ".f_code");
    FIELD(f->f_globals == dst, ".f_globals");
    FIELD(f->f_builtins == dst, ".f_builtins");
    FIELD(f->f_locals == dst, ".f_locals");
    FIELD(f->f_trace == dst, ".f_trace");
    PyCodeObject *co = f->f_code;
    Py_ssize_t nlocals = co->co_nlocals;
    Py_ssize_t ncells = PyTuple_GET_SIZE(co->co_cellvars);
    Py_ssize_t nfree = PyTuple_GET_SIZE(co->co_freevars);
    for (Py_ssize_t i = 0; i < nlocals + ncells + nfree; i++) {
        if (f->f_localsplus[i] != dst)
            continue;
        PyObject *name = i < nlocals ? PyTuple_GET_ITEM(co->co_varnames, i)
                       : i < nlocals + ncells
                           ? PyTuple_GET_ITEM(co->co_cellvars, i - nlocals)
                           : PyTuple_GET_ITEM(co->co_freevars,
                                              i - nlocals - ncells);
        PyObject *r = hs_py_safe_repr(name);
        if (r == NULL)
            return -1;
        int rc = add(names, PyUnicode_FromFormat(
                         i < nlocals ? ".f_locals[%U]" : ".f_locals [%U]", r));
        Py_DECREF(r);
        if (rc < 0)
            return -1;
    }
    return 0;
}
#endif

int
hs_py_relate(PyObject *src, PyObject *dst, PyObject *names)
{
    PyTypeObject *tp = Py_TYPE(src);
    Py_ssize_t before = PyList_GET_SIZE(names);

    if (PyDict_Check(src) && relate_dict(src, dst, names) < 0)
        return -1;
    if (PyList_Check(src) &&
        relate_seq(((PyListObject *)src)->ob_item, PyList_GET_SIZE(src),
                   dst, names) < 0)
        return -1;
    if (PyTuple_Check(src) &&
        relate_seq(((PyTupleObject *)src)->ob_item, PyTuple_GET_SIZE(src),
                   dst, names) < 0)
        return -1;
    if (PyAnySet_Check(src) && relate_set(src, dst, names) < 0)
        return -1;
    if (PyFunction_Check(src) &&
        relate_function((PyFunctionObject *)src, dst, names) < 0)
        return -1;
    if (PyMethod_Check(src)) {
        FIELD(PyMethod_GET_FUNCTION(src) == dst, ".__func__");
        FIELD(PyMethod_GET_SELF(src) == dst, ".__self__");
    }
    if (PyCFunction_Check(src)) {
        FIELD(((PyCFunctionObject *)src)->m_self == dst, ".__self__");
        FIELD(((PyCFunctionObject *)src)->m_module == dst, ".__module__");
    }
    if (PyCell_Check(src))
        FIELD(PyCell_GET(src) == dst, ".cell_contents");
    if (PyModule_Check(src))
        FIELD(PyModule_GetDict(src) == dst, ".__dict__");
    if (PyType_Check(src) &&
        relate_type((PyTypeObject *)src, dst, names) < 0)
        return -1;
    if (PyCode_Check(src)) {
        PyCodeObject *co = (PyCodeObject *)src;
        FIELD(co->co_consts == dst, ".co_consts");
        FIELD(co->co_names == dst, ".co_names");
        FIELD(co->co_filename == dst, ".co_filename");
        FIELD(co->co_name == dst, ".co_name");
    }
#if PY_VERSION_HEX < 0x030B0000
    if (PyFrame_Check(src) &&
        relate_frame((PyFrameObject *)src, dst, names) < 0)
        return -1;
#endif
    /* Instance attributes: the dict, managed values, slots, the class. */
    if (!PyType_Check(src) && !PyModule_Check(src)) {
        PyObject *d = hs_compat_instance_dict(src);
        FIELD(d != NULL && d == dst, ".__dict__");
        attr_arg a = {dst, names, 0};
        hs_compat_visit_values(src, relate_value, &a);
        if (a.err)
            return -1;
    }
    if (relate_members(src, dst, names) < 0)
        return -1;
    FIELD((PyObject *)tp == dst && (tp->tp_flags & Py_TPFLAGS_HEAPTYPE),
          ".__class__");
    if (PyList_GET_SIZE(names) == before)
        return add_str(names, "<unknown>");
    return 0;
}
