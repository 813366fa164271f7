/* hdtest.c - a test extension that describes its type to heapscope the
 * way extensions describe themselves to heapy (include/heapscope/heapdef.h):
 * make check builds it, tests/python/test_heapdef.py imports it.
 *
 * A Blob owns a private malloc'd buffer (only its size getter knows) and a
 * "secret" object its tp_traverse does not report (only its heapdef
 * traverse does), named by its relate function as the attribute .secret;
 * it also holds a "shown" object that tp_traverse reports, named as the
 * C field ->shown.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "heapscope/heapdef.h"

typedef struct {
    PyObject_HEAD
    char *buf;
    size_t len;
    PyObject *secret;
    PyObject *shown;
} Blob;

static int
blob_init(Blob *self, PyObject *args, PyObject *kw)
{
    Py_ssize_t len;
    PyObject *secret, *shown;
    if (!PyArg_ParseTuple(args, "nOO", &len, &secret, &shown))
        return -1;
    if (len < 0) {
        PyErr_SetString(PyExc_ValueError, "negative length");
        return -1;
    }
    free(self->buf);
    self->buf = calloc((size_t)len + 1, 1);
    if (self->buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->len = (size_t)len;
    Py_INCREF(secret);
    Py_XSETREF(self->secret, secret);
    Py_INCREF(shown);
    Py_XSETREF(self->shown, shown);
    return 0;
}

static int
blob_traverse(Blob *self, visitproc visit, void *arg)
{
    Py_VISIT(self->shown);      /* the secret is left out on purpose */
    return 0;
}

static int
blob_clear(Blob *self)
{
    Py_CLEAR(self->secret);
    Py_CLEAR(self->shown);
    return 0;
}

static void
blob_dealloc(Blob *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    blob_clear(self);
    free(self->buf);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot blob_slots[] = {
    {Py_tp_init, blob_init},
    {Py_tp_traverse, blob_traverse},
    {Py_tp_clear, blob_clear},
    {Py_tp_dealloc, blob_dealloc},
    {Py_tp_new, PyType_GenericNew},
    {0, NULL}
};

static PyType_Spec blob_spec = {
    "_hdtest.Blob", sizeof(Blob), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, blob_slots
};

/* ---- what heapscope is told --------------------------------------------- */

static size_t
blob_size(PyObject *o)
{
    Blob *b = (Blob *)o;
    /* the object and its GC header, plus the private buffer */
    return sizeof(Blob) + 2 * sizeof(void *) + b->len + 1;
}

static int
blob_hd_traverse(NyHeapTraverse *t)
{
    Blob *b = (Blob *)t->obj;
    if (b->secret != NULL && t->visit(b->secret, t->arg))
        return 1;
    if (b->shown != NULL && t->visit(b->shown, t->arg))
        return 1;
    return 0;
}

static int
blob_relate(NyHeapRelate *r)
{
    Blob *b = (Blob *)r->src;
    if (b->secret == r->tgt &&
        r->visit(NYHR_ATTRIBUTE, PyUnicode_FromString("secret"), r))
        return 1;
    if (b->shown == r->tgt &&
        r->visit(NYHR_INTERATTR, PyUnicode_FromString("shown"), r))
        return 1;
    return 0;
}

static NyHeapDef hd_defs[] = {
    {0, NULL, blob_size, blob_hd_traverse, blob_relate, NULL, NULL, NULL},
    {0, NULL, NULL, NULL, NULL, NULL, NULL, NULL}
};

static int
hdtest_exec(PyObject *m)
{
    PyObject *tp = PyType_FromSpec(&blob_spec);
    if (tp == NULL)
        return -1;
    hd_defs[0].type = (PyTypeObject *)tp;
    if (PyModule_AddObject(m, "Blob", tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    Py_INCREF(tp);              /* hd_defs keeps it too */
    PyObject *cap = PyCapsule_New(hd_defs, "_hdtest._NyHeapDefs_", NULL);
    if (cap == NULL || PyModule_AddObject(m, "_NyHeapDefs_", cap) < 0) {
        Py_XDECREF(cap);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot hdtest_slots[] = {
    {Py_mod_exec, hdtest_exec},
    {0, NULL}
};

static struct PyModuleDef hdtest_def = {
    PyModuleDef_HEAD_INIT, "_hdtest",
    "A type described to heapscope through NyHeapDef (tests only).",
    0, NULL, hdtest_slots, NULL, NULL, NULL
};

PyMODINIT_FUNC
PyInit__hdtest(void)
{
    return PyModuleDef_Init(&hdtest_def);
}
