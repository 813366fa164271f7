/* sizes.c - the memory an object owns, computed in C from its type's layout.
 *
 * Never calls __sizeof__ (which may be Python code) and never asks CPython
 * for anything it would create lazily (a str's UTF-8 copy, a __dict__).
 * The figure is what the allocator handed out for the object: its GC
 * header and pre-header, its body, and the blocks it owns privately (a
 * list's item array, a dict's keys and values, a set's table, a 3.11+
 * instance's managed or inline values).  Shared blocks (a class's shared
 * dict keys) belong to nobody.  With compat.c, the only file that reads
 * per-version private layouts.
 */
#include "hs_py.h"

#define Py_BUILD_CORE 1
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
#undef _PyObject_LookupSpecial
#endif
#undef _PyGC_FINALIZED
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include "internal/pycore_gc.h"
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_object.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#endif
#if PY_VERSION_HEX >= 0x030C0000
#include "internal/pycore_long.h"
#endif
#pragma GCC diagnostic pop

#define GC_HEADER ((size_t)2 * sizeof(void *))

static size_t
var_items(PyObject *op)
{
    Py_ssize_t n = Py_SIZE(op);
    return (size_t)(n < 0 ? -n : n);
}

/* Header bytes in front of the object: the GC header and, on 3.11+, the
 * managed dict and weakref pointers. */
static size_t
pre_header(PyObject *op, PyTypeObject *tp)
{
    int gc = (tp->tp_flags & Py_TPFLAGS_HAVE_GC) &&
             (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
#if PY_VERSION_HEX >= 0x030C0000
    size_t extra = (tp->tp_flags & (Py_TPFLAGS_MANAGED_DICT |
                                    Py_TPFLAGS_MANAGED_WEAKREF))
                       ? 2 * sizeof(PyObject *) : 0;
#elif PY_VERSION_HEX >= 0x030B0000
    size_t extra = (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
                       ? 2 * sizeof(PyObject *) : 0;
#else
    size_t extra = 0;
#endif
    return (gc ? GC_HEADER : 0) + extra;
}

size_t
hs_py_pre_header(PyObject *op)
{
    return pre_header(op, Py_TYPE(op));
}

#if PY_VERSION_HEX >= 0x030B0000
/* Words of locals and value stack a 3.11+ frame of code co has room for
 * (co_nlocalsplus + co_stacksize). */
static size_t
code_frame_words(PyCodeObject *co)
{
    if (co == NULL)
        return 0;
    return (size_t)co->co_nlocalsplus + (size_t)co->co_stacksize;
}

static PyCodeObject *
iframe_code(_PyInterpreterFrame *f)
{
    if (f == NULL)
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *ex = f->f_executable;
    return ex != NULL && PyCode_Check(ex) ? (PyCodeObject *)ex : NULL;
#else
    return f->f_code;
#endif
}

/* The words a generator's embedded frame was allocated with. */
static size_t
gen_frame_words(PyObject *op)
{
    PyGenObject *gen = (PyGenObject *)op;
#if PY_VERSION_HEX >= 0x030C0000
    _PyInterpreterFrame *f = (_PyInterpreterFrame *)gen->gi_iframe;
    return code_frame_words(iframe_code(f));
#else
    return code_frame_words(gen->gi_code);
#endif
}
#endif

static size_t
str_size(PyObject *op, PyTypeObject *tp)
{
    PyASCIIObject *a = (PyASCIIObject *)op;
    size_t len = (size_t)a->length, kind = a->state.kind, size;
    if (kind == 0)          /* 3.9-3.11 legacy string not ready: wchar */
        kind = sizeof(wchar_t);
    if (a->state.compact && a->state.ascii) {
        size = sizeof(PyASCIIObject) + len + 1;
    } else if (a->state.compact) {
        size = sizeof(PyCompactUnicodeObject) + (len + 1) * kind;
    } else {
        /* subclasses and legacy strings: the body, then separate data */
        size = (size_t)tp->tp_basicsize;
        if (((PyUnicodeObject *)op)->data.any != NULL)
            size += (len + 1) * kind;
    }
    if (!(a->state.compact && a->state.ascii)) {
        PyCompactUnicodeObject *c = (PyCompactUnicodeObject *)op;
        const void *data = a->state.compact
                               ? (const void *)(c + 1)
                               : ((PyUnicodeObject *)op)->data.any;
        if (c->utf8 != NULL && c->utf8 != data)
            size += (size_t)c->utf8_length + 1;
#if PY_VERSION_HEX < 0x030C0000
        if (a->wstr != NULL && a->wstr != data)
            size += ((size_t)c->wstr_length + 1) * sizeof(wchar_t);
#endif
    }
#if PY_VERSION_HEX < 0x030C0000
    else if (a->wstr != NULL) {
        size += ((size_t)len + 1) * sizeof(wchar_t);
    }
#endif
    return size;
}

static size_t
long_size(PyObject *op, PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    size_t n = (size_t)_PyLong_DigitCount((PyLongObject *)op);
#else
    size_t n = var_items(op);
#endif
    /* CPython always allocates at least one digit. */
    if (n == 0)
        n = 1;
#if PY_VERSION_HEX >= 0x030B0000
    /* 3.11+ allocates one-digit ints as a whole PyLongObject. */
    if (n == 1 && tp == &PyLong_Type)
        return sizeof(PyLongObject);
#endif
    return (size_t)tp->tp_basicsize + n * (size_t)tp->tp_itemsize;
}

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
/* 3.11/3.12: attribute values of an instance whose dict was never made. */
static size_t
managed_values_size(PyObject *op, PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyDictOrValues dv = *_PyObject_DictOrValuesPointer(op);
    if (!_PyDictOrValues_IsValues(dv))
        return 0;
    PyDictValues *values = _PyDictOrValues_GetValues(dv);
#else
    PyDictValues *values = *_PyObject_ValuesPointer(op);
#endif
    if (values == NULL)
        return 0;
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    size_t prefix = ((uint8_t *)values)[-1];
    size_t capacity = keys ? (size_t)(keys->dk_nentries + keys->dk_usable) : 0;
    return prefix + capacity * sizeof(PyObject *);
}
#endif

size_t
hs_py_tuple_size(size_t n)
{
    /* (hs_py_size's general case: a GC object with no pre-header but the
     * GC header, its items after its basic size) */
    return GC_HEADER + (size_t)PyTuple_Type.tp_basicsize +
           n * (size_t)PyTuple_Type.tp_itemsize;
}

size_t
hs_py_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    size_t size;

    if (PyUnicode_Check(op)) {
        size = str_size(op, tp);
    } else if (PyLong_Check(op)) {
        size = long_size(op, tp);
    } else if (PyList_Check(op)) {
        size = (size_t)tp->tp_basicsize +
               (size_t)((PyListObject *)op)->allocated * sizeof(PyObject *);
    } else if (PyDict_Check(op)) {
        /* _PyDict_SizeOf is plain C: the type's basic size, the keys
         * table when not shared, the split values. */
        size = (size_t)_PyDict_SizeOf((PyDictObject *)op);
#if PY_VERSION_HEX >= 0x030D0000
        /* A 3.13 dict materialised from inline values shares the keys and
         * points at values inside its owner, which counts them. */
        PyDictObject *mp = (PyDictObject *)op;
        if (mp->ma_values != NULL && mp->ma_values->embedded)
            size = (size_t)tp->tp_basicsize;
#endif
    } else if (PyAnySet_Check(op)) {
        PySetObject *s = (PySetObject *)op;
        size = (size_t)tp->tp_basicsize;
        if (s->table != s->smalltable)
            size += ((size_t)s->mask + 1) * sizeof(setentry);
    } else if (PyByteArray_Check(op)) {
        size = (size_t)tp->tp_basicsize +
               (size_t)((PyByteArrayObject *)op)->ob_alloc;
#if PY_VERSION_HEX >= 0x030B0000
    } else if (tp == &PyGen_Type || tp == &PyCoro_Type ||
               tp == &PyAsyncGen_Type) {
        /* 3.11+: the frame is inside the generator, sized by its code;
         * there is no ob_size (Py_SIZE would read the next field). */
        size = (size_t)tp->tp_basicsize + gen_frame_words(op) *
                                              sizeof(PyObject *);
    } else if (tp == &PyFrame_Type) {
        /* 3.11+: no ob_size either.  A frame object is allocated with
         * room for its code's locals and stack, used once the function
         * returns; frame.__sizeof__ counts it while f_frame still points
         * at the frame on its thread's stack or in its generator, too. */
        size = (size_t)tp->tp_basicsize +
               code_frame_words(iframe_code(((PyFrameObject *)op)->f_frame)) *
                   sizeof(PyObject *);
#endif
    } else if (PyType_Check(op) && !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
               !(((PyTypeObject *)op)->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        /* a static type: its struct, nothing allocated */
        size = (size_t)tp->tp_basicsize;
    } else {
        size = (size_t)tp->tp_basicsize;
        if (tp->tp_itemsize != 0)
            size += var_items(op) * (size_t)tp->tp_itemsize;
    }
    size += pre_header(op, tp);

#if PY_VERSION_HEX >= 0x030D0000
    if (tp->tp_flags & Py_TPFLAGS_INLINE_VALUES) {
        /* 3.13 keeps the values inside the object's own allocation. */
        size_t cap = _PyObject_InlineValues(op)->capacity;
        size += _Py_SIZE_ROUND_UP(cap, sizeof(PyObject *)) +
                (cap + 1) * sizeof(PyObject *);
    }
#elif PY_VERSION_HEX >= 0x030B0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        size += managed_values_size(op, tp);
#endif
    return size;
}
