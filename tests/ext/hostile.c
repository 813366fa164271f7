/* hostile.c - a test extension whose types misbehave towards a heap walker
 * the way real extensions sometimes do: make check builds it,
 * tests/python/test_reliability.py imports it.  Nothing here is for use
 * outside the tests.
 *
 * Mess(mode, *objs) holds objs and its tp_traverse, by mode:
 *   "error"   visits the first object, then returns -1 (an early stop);
 *   "null"    visits NULL before and between the objects;
 *   "repeat"  visits every object 1000 times;
 *   "self"    visits the Mess itself, then the objects;
 *   "static"  visits None, int and the objects;
 *   "raise"   sets a Python exception (while armed, see arm()), visits
 *             the objects, returns 0;
 *   "none"    visits nothing (a type that forgot its objects).
 * Every Mess is untracked from the collector as soon as it is made: some
 * of these traverses would hurt the collector as much as any walker (it
 * would free what "repeat" over-reports), so only a walk that reaches a
 * Mess through its referrers calls them.
 * Opaque(*objs) is a non-GC type that holds objs and has no tp_traverse,
 * like an array type that keeps Python objects out of sight.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

enum { M_ERROR, M_NULL, M_REPEAT, M_SELF, M_STATIC, M_RAISE, M_NONE };

static const char *const mode_names[] = {
    "error", "null", "repeat", "self", "static", "raise", "none", NULL
};

/* Whether "raise" traverses raise: only around a walk.  Tests only. */
static int armed;

typedef struct {
    PyObject_HEAD
    int mode;
    PyObject *objs;     /* a tuple */
} Mess;

static PyObject *
mess_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) < 1 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "Mess(mode, *objs)");
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(args, 0));
    if (name == NULL)
        return NULL;
    int mode = 0;
    while (mode_names[mode] != NULL && strcmp(mode_names[mode], name) != 0)
        mode++;
    if (mode_names[mode] == NULL) {
        PyErr_Format(PyExc_ValueError, "unknown mode %s", name);
        return NULL;
    }
    PyObject *objs = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (objs == NULL)
        return NULL;
    Mess *self = (Mess *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        Py_DECREF(objs);
        return NULL;
    }
    self->mode = mode;
    self->objs = objs;
    PyObject_GC_UnTrack(self);
    return (PyObject *)self;
}

static int
visit_all(Mess *self, visitproc visit, void *arg)
{
    Py_ssize_t n = self->objs ? PyTuple_GET_SIZE(self->objs) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (self->mode == M_NULL) {
            int r = visit(NULL, arg);
            if (r)
                return r;
        }
        Py_VISIT(PyTuple_GET_ITEM(self->objs, i));
    }
    return 0;
}

static int
mess_traverse(Mess *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    switch (self->mode) {
    case M_ERROR:
        if (self->objs && PyTuple_GET_SIZE(self->objs) > 0)
            Py_VISIT(PyTuple_GET_ITEM(self->objs, 0));
        return -1;
    case M_REPEAT:
        for (int k = 0; k < 1000; k++) {
            int r = visit_all(self, visit, arg);
            if (r)
                return r;
        }
        return 0;
    case M_SELF:
        Py_VISIT((PyObject *)self);
        return visit_all(self, visit, arg);
    case M_STATIC: {
        PyObject *statics[] = {Py_None, (PyObject *)&PyLong_Type};
        for (int k = 0; k < 2; k++) {
            int r = visit(statics[k], arg);
            if (r)
                return r;
        }
        return visit_all(self, visit, arg);
    }
    case M_RAISE:
        if (armed && !PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "Mess traverse raised");
        return visit_all(self, visit, arg);
    case M_NONE:
        return 0;
    default:
        return visit_all(self, visit, arg);
    }
}

static int
mess_clear(Mess *self)
{
    Py_CLEAR(self->objs);
    return 0;
}

static void
mess_dealloc(Mess *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    mess_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
mess_objs(Mess *self, void *closure)
{
    PyObject *o = self->objs ? self->objs : Py_None;
    Py_INCREF(o);
    return o;
}

static PyGetSetDef mess_getset[] = {
    {"objs", (getter)mess_objs, NULL, "the objects held", NULL},
    {NULL}
};

static PyType_Slot mess_slots[] = {
    {Py_tp_new, mess_new},
    {Py_tp_traverse, mess_traverse},
    {Py_tp_clear, mess_clear},
    {Py_tp_dealloc, mess_dealloc},
    {Py_tp_getset, mess_getset},
    {0, NULL}
};

static PyType_Spec mess_spec = {
    "_hostile.Mess", sizeof(Mess), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, mess_slots
};

typedef struct {
    PyObject_HEAD
    PyObject *objs;
} Opaque;

static PyObject *
opaque_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    Opaque *self = (Opaque *)tp->tp_alloc(tp, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(args);
    self->objs = args;
    return (PyObject *)self;
}

static void
opaque_dealloc(Opaque *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(self->objs);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot opaque_slots[] = {
    {Py_tp_new, opaque_new},
    {Py_tp_dealloc, opaque_dealloc},
    {0, NULL}
};

static PyType_Spec opaque_spec = {
    "_hostile.Opaque", sizeof(Opaque), 0, Py_TPFLAGS_DEFAULT, opaque_slots
};

static PyObject *
hostile_arm(PyObject *m, PyObject *on)
{
    armed = PyObject_IsTrue(on) > 0;
    Py_RETURN_NONE;
}

static PyMethodDef hostile_methods[] = {
    {"arm", hostile_arm, METH_O,
     "arm(on): whether Mess('raise') traverses set an exception."},
    {NULL}
};

static int
hostile_exec(PyObject *m)
{
    PyObject *tp = PyType_FromSpec(&mess_spec);
    if (tp == NULL || PyModule_AddObject(m, "Mess", tp) < 0) {
        Py_XDECREF(tp);
        return -1;
    }
    tp = PyType_FromSpec(&opaque_spec);
    if (tp == NULL || PyModule_AddObject(m, "Opaque", tp) < 0) {
        Py_XDECREF(tp);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot hostile_slots[] = {
    {Py_mod_exec, hostile_exec},
    {0, NULL}
};

static struct PyModuleDef hostile_def = {
    PyModuleDef_HEAD_INIT, "_hostile",
    "Types that misbehave towards a heap walker (tests only).",
    0, hostile_methods, hostile_slots, NULL, NULL, NULL
};

PyMODINIT_FUNC
PyInit__hostile(void)
{
    return PyModuleDef_Init(&hostile_def);
}
