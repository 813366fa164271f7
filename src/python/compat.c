/* compat.c - the per-version CPython internals the walker needs.
 *
 * Roots (interpreter and thread state, running frames), the collector's
 * object lists, managed dicts and the references tp_traverse leaves out.
 * Together with sizes.c this is the only place that reads private layouts
 * or tests PY_VERSION_HEX; each function here must not run Python code,
 * allocate Python objects, create frame objects, or materialise dicts.
 * See ../shared/docs/cpython-notes.md (sections 1, 2 and 5) for the facts.
 */
#include "hs_py.h"

#include <stdio.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#endif

/* Private headers: Py_BUILD_CORE only here and in sizes.c. */
#define Py_BUILD_CORE 1
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
#undef _PyObject_LookupSpecial
#endif
/* Python.h defined the public spelling of this macro; the private header
 * defines its own. */
#undef _PyGC_FINALIZED
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_object.h"
#include "internal/pycore_dict.h"
#endif
#if PY_VERSION_HEX >= 0x030C0000
#include "internal/pycore_long.h"
#endif
#if PY_VERSION_HEX < 0x030C0000
#include "internal/pycore_pymem.h"
#endif
#include "internal/pycore_runtime.h"
#include "internal/pycore_gil.h"
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_ceval.h"
#endif
#pragma GCC diagnostic pop

#include <pthread.h>

#define VISIT(o, label)                                         \
    do {                                                        \
        PyObject *o_ = (PyObject *)(o);                         \
        if (o_ != NULL) {                                       \
            int r_ = visit(o_, (label), arg);                   \
            if (r_)                                             \
                return r_;                                      \
        }                                                       \
    } while (0)

/* ---- roots -------------------------------------------------------------- */

static int
visit_exc_chain(_PyErr_StackItem *item, const char *prefix,
                hs_compat_visit visit, void *arg)
{
    char label[96];
    for (int n = 0; item != NULL && n < 10000; item = item->previous_item, n++) {
#if PY_VERSION_HEX < 0x030B0000
        snprintf(label, sizeof label, "%s_exc_type", prefix);
        VISIT(item->exc_type, label);
        snprintf(label, sizeof label, "%s_exc_traceback", prefix);
        VISIT(item->exc_traceback, label);
#endif
        snprintf(label, sizeof label, "%s_exc_value", prefix);
        VISIT(item->exc_value, label);
    }
    return 0;
}

#if PY_VERSION_HEX >= 0x030B0000
/* The top interpreter frame of a thread. */
static _PyInterpreterFrame *
top_frame(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ts->current_frame;
#else
    return ts->cframe ? ts->cframe->current_frame : NULL;
#endif
}

static PyCodeObject *
frame_code(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *ex = f->f_executable;
    return (ex != NULL && PyCode_Check(ex)) ? (PyCodeObject *)ex : NULL;
#else
    return f->f_code;
#endif
}

/* An interpreter frame is not an object: report what it holds, naming
 * each local the way heapy names a frame's locals. */
static int
visit_frame(_PyInterpreterFrame *f, const char *prefix,
            hs_compat_visit visit, void *arg)
{
    char label[160];
    PyCodeObject *co = frame_code(f);
    snprintf(label, sizeof label, "%s.f_code", prefix);
#if PY_VERSION_HEX >= 0x030D0000
    VISIT(f->f_executable, label);
    snprintf(label, sizeof label, "%s.f_funcobj", prefix);
    VISIT(f->f_funcobj, label);
#elif PY_VERSION_HEX >= 0x030C0000
    VISIT(f->f_code, label);
    snprintf(label, sizeof label, "%s.f_funcobj", prefix);
    VISIT(f->f_funcobj, label);
#else
    VISIT(f->f_code, label);
    snprintf(label, sizeof label, "%s.f_func", prefix);
    VISIT(f->f_func, label);
#endif
    snprintf(label, sizeof label, "%s.f_globals", prefix);
    VISIT(f->f_globals, label);
    snprintf(label, sizeof label, "%s.f_builtins", prefix);
    VISIT(f->f_builtins, label);
    snprintf(label, sizeof label, "%s.f_locals", prefix);
    VISIT(f->f_locals, label);
    snprintf(label, sizeof label, "%s.frame_obj", prefix);
    VISIT(f->frame_obj, label);
    if (co == NULL)
        return 0;
    PyObject *names = co->co_localsplusnames;
    Py_ssize_t n = co->co_nlocalsplus;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = f->localsplus[i];
        if (v == NULL)
            continue;
        PyObject *name = (names && PyTuple_Check(names) &&
                          i < PyTuple_GET_SIZE(names))
                             ? PyTuple_GET_ITEM(names, i) : NULL;
        /* Only ASCII names are read directly: asking for UTF-8 would
         * cache a copy inside a non-ASCII str. */
        if (name && PyUnicode_Check(name) && PyUnicode_IS_ASCII(name))
            snprintf(label, sizeof label, "%s.f_locals['%.60s']", prefix,
                     (const char *)PyUnicode_DATA(name));
        else
            snprintf(label, sizeof label, "%s.f_localsplus[%zd]", prefix, i);
        VISIT(v, label);
    }
    return 0;
}
#endif

/* heapscope's own running frames (their globals are one of its modules'
 * dicts) are no roots: the walk must not find what the query itself holds. */
static int
hidden_frame(PyObject *globals, const hs_roots_opts *o)
{
    for (size_t k = 0; o != NULL && k < o->nhidden_globals; k++)
        if (o->hidden_globals[k] == globals)
            return 1;
    return 0;
}

static int
visit_thread(PyThreadState *ts, int ti, const hs_roots_opts *o,
             hs_compat_visit visit, void *arg)
{
    char p[64], label[96];
    snprintf(p, sizeof p, "i0_t%lu", (unsigned long)ts->thread_id);
    (void)ti;
#define TS(field)                                                        \
    do {                                                                 \
        snprintf(label, sizeof label, "%s_%s", p, #field);               \
        VISIT(ts->field, label);                                         \
    } while (0)
    TS(c_profileobj);
    TS(c_traceobj);
#if PY_VERSION_HEX >= 0x030C0000
    TS(current_exception);
#else
    TS(curexc_type);
    TS(curexc_value);
    TS(curexc_traceback);
#endif
    TS(dict);
    TS(async_exc);
    TS(async_gen_firstiter);
    TS(async_gen_finalizer);
    TS(context);
#if PY_VERSION_HEX >= 0x030D0000
    TS(previous_executor);
    TS(threading_local_key);
    TS(threading_local_sentinel);
#endif
#undef TS
    int r = visit_exc_chain(ts->exc_info, p, visit, arg);
    if (r)
        return r;
#if PY_VERSION_HEX < 0x030B0000
    /* Frames are objects: the top one leads to the rest via f_back.  Start
     * below heapscope's own frames. */
    PyFrameObject *top = ts->frame;
    while (top != NULL && hidden_frame(top->f_globals, o)) {
        if (o->hidden_visit != NULL && (r = o->hidden_visit(
                (PyObject *)top, NULL, arg)) != 0)
            return r;
        top = top->f_back;
    }
    snprintf(label, sizeof label, "%s_f0", p);
    VISIT(top, label);
#else
    /* Count frames from the oldest, as heapy does. */
    int depth = 0;
    for (_PyInterpreterFrame *f = top_frame(ts); f != NULL && depth < 1000000;
         f = f->previous)
        depth++;
    int k = depth;
    for (_PyInterpreterFrame *f = top_frame(ts); f != NULL && k > 0;
         f = f->previous) {
        k--;
#if PY_VERSION_HEX >= 0x030C0000
        if (f->owner == FRAME_OWNED_BY_CSTACK)
            continue;
#endif
        if (_PyFrame_IsIncomplete(f))
            continue;
        char fp[80];
        snprintf(fp, sizeof fp, "%s_f%d", p, k);
        if (hidden_frame(f->f_globals, o)) {
            if (o->hidden_visit == NULL)
                continue;
            r = visit_frame(f, fp, o->hidden_visit, arg);
        } else {
            r = visit_frame(f, fp, visit, arg);
        }
        if (r)
            return r;
    }
#endif
    return 0;
}

int
hs_compat_visit_roots(const hs_roots_opts *o, hs_compat_visit visit,
                      void *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    char label[64];
#define IS(expr, name) VISIT(interp->expr, "i0_" name)
#if PY_VERSION_HEX >= 0x030C0000
    IS(imports.modules, "modules");
    IS(imports.importlib, "importlib");
    IS(imports.import_func, "import_func");
    IS(sysdict_copy, "sysdict_copy");
#else
    IS(modules, "modules");
    IS(importlib, "importlib");
    IS(import_func, "import_func");
#endif
    IS(sysdict, "sysdict");
    IS(builtins, "builtins");
#if PY_VERSION_HEX >= 0x030D0000
    IS(codecs.search_path, "codec_search_path");
    IS(codecs.search_cache, "codec_search_cache");
    IS(codecs.error_registry, "codec_error_registry");
#else
    IS(codec_search_path, "codec_search_path");
    IS(codec_search_cache, "codec_search_cache");
    IS(codec_error_registry, "codec_error_registry");
#endif
    IS(dict, "dict");
    IS(builtins_copy, "builtins_copy");
    IS(before_forkers, "before_forkers");
    IS(after_forkers_parent, "after_forkers_parent");
    IS(after_forkers_child, "after_forkers_child");
    IS(audit_hooks, "audit_hooks");
#undef IS
#if PY_VERSION_HEX >= 0x030A0000
    /* atexit callbacks live in a C array since 3.10. */
    for (int i = 0; i < interp->atexit.ncallbacks; i++) {
        if (interp->atexit.callbacks == NULL ||
            interp->atexit.callbacks[i] == NULL)
            continue;
        snprintf(label, sizeof label, "i0_atexit[%d].func", i);
        VISIT(interp->atexit.callbacks[i]->func, label);
        snprintf(label, sizeof label, "i0_atexit[%d].args", i);
        VISIT(interp->atexit.callbacks[i]->args, label);
        snprintf(label, sizeof label, "i0_atexit[%d].kwargs", i);
        VISIT(interp->atexit.callbacks[i]->kwargs, label);
    }
#endif
    (void)label;
    int ti = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp);
         ts != NULL; ts = PyThreadState_Next(ts), ti++) {
        int r = visit_thread(ts, ti, o, visit, arg);
        if (r)
            return r;
    }
    return 0;
}

/* ---- the collector's lists ---------------------------------------------- */

void
hs_compat_gc_cursor(hs_gc_cursor *c)
{
    struct _gc_runtime_state *gcs = &PyInterpreterState_Get()->gc;
    int n = 0;
    for (int i = 0; i < NUM_GENERATIONS && n < HS_GC_LISTS; i++)
        c->heads[n++] = &gcs->generations[i].head;
    if (n < HS_GC_LISTS)
        c->heads[n++] = &gcs->permanent_generation.head;
    c->n = n;
    c->i = 0;
    c->at = NULL;
}

int
hs_compat_gc_step(hs_gc_cursor *c, size_t budget, hs_compat_visit visit,
                  void *arg)
{
    while (c->i < c->n) {
        PyGC_Head *head = c->heads[c->i];
        PyGC_Head *gc = c->at != NULL ? (PyGC_Head *)c->at
                                      : (PyGC_Head *)head->_gc_next;
        for (; gc != head; gc = (PyGC_Head *)gc->_gc_next) {
            if (budget == 0) {
                c->at = gc;
                return 0;
            }
            budget--;
            if (visit((PyObject *)(gc + 1), NULL, arg) != 0) {
                c->i = c->n;            /* spent */
                return -1;
            }
        }
        c->i++;
        c->at = NULL;
    }
    return 1;
}

int
hs_compat_visit_gc_objects(hs_compat_visit visit, void *arg)
{
    hs_gc_cursor c;
    hs_compat_gc_cursor(&c);
    return hs_compat_gc_step(&c, SIZE_MAX, visit, arg) < 0 ? -1 : 0;
}

/* ---- instance dicts ----------------------------------------------------- */

PyObject *
hs_compat_instance_dict(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
#if PY_VERSION_HEX >= 0x030D0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        return (PyObject *)_PyObject_ManagedDictPointer(op)->dict;
#elif PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
        PyDictOrValues dv = *_PyObject_DictOrValuesPointer(op);
        return _PyDictOrValues_IsValues(dv) ? NULL
                                            : _PyDictOrValues_GetDict(dv);
    }
#elif PY_VERSION_HEX >= 0x030B0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        return *_PyObject_ManagedDictPointer(op);
#endif
    Py_ssize_t off = tp->tp_dictoffset;
    if (off == 0)
        return NULL;
#if PY_VERSION_HEX < 0x030B0000
    /* Non-mutating before 3.11 (cpython-notes.md section 2). */
    PyObject **p = _PyObject_GetDictPtr(op);
    return p ? *p : NULL;
#else
    if (off < 0) {
        Py_ssize_t n;
        if (PyLong_Check(op)) {
#if PY_VERSION_HEX >= 0x030C0000
            n = (Py_ssize_t)_PyLong_DigitCount((PyLongObject *)op);
#else
            n = Py_SIZE(op) < 0 ? -Py_SIZE(op) : Py_SIZE(op);
#endif
        } else {
            n = Py_SIZE(op) < 0 ? -Py_SIZE(op) : Py_SIZE(op);
        }
        off += (Py_ssize_t)_PyObject_VAR_SIZE(tp, n);
        if (off <= 0)
            return NULL;
    }
    return *(PyObject **)((char *)op + off);
#endif
}

void
hs_compat_prefetch_values(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
    if (!(Py_TYPE(op)->tp_flags & Py_TPFLAGS_MANAGED_DICT))
        return;
#if PY_VERSION_HEX >= 0x030C0000
    PyDictOrValues dv = *_PyObject_DictOrValuesPointer(op);
    if (_PyDictOrValues_IsValues(dv))
        hs_prefetch(_PyDictOrValues_GetValues(dv));
#else
    PyDictValues *values = *_PyObject_ValuesPointer(op);
    if (values != NULL)
        hs_prefetch(values);
#endif
#else
    (void)op;               /* (3.13: the values are inline, in its lines) */
#endif
}

void
hs_compat_prefetch_body(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (tp->tp_flags & Py_TPFLAGS_DICT_SUBCLASS) {
        PyDictObject *d = (PyDictObject *)op;
        const char *k = (const char *)d->ma_keys;
        /* its header and the first entries after the indices */
        hs_prefetch(k);
        hs_prefetch(k + 64);
        hs_prefetch(k + 128);
        if (d->ma_values != NULL)
            hs_prefetch(d->ma_values);
    } else if (tp->tp_flags & Py_TPFLAGS_LIST_SUBCLASS) {
        hs_prefetch(((PyListObject *)op)->ob_item);
    } else {
        hs_compat_prefetch_values(op);
    }
}

int
hs_compat_visit_values(PyObject *op, hs_compat_attr visit, void *arg)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(op);
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT))
        return 0;
    PyDictValues *values;
    size_t cap = (size_t)-1;
#if PY_VERSION_HEX >= 0x030D0000
    if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES))
        return 0;
    values = _PyObject_InlineValues(op);
    if (!values->valid)
        return 0;
    cap = values->capacity;
#elif PY_VERSION_HEX >= 0x030C0000
    PyDictOrValues dv = *_PyObject_DictOrValuesPointer(op);
    if (!_PyDictOrValues_IsValues(dv))
        return 0;
    values = _PyDictOrValues_GetValues(dv);
#else
    values = *_PyObject_ValuesPointer(op);
#endif
    PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (values == NULL || keys == NULL)
        return 0;
    size_t n = (size_t)keys->dk_nentries;
    if (n > cap)
        n = cap;
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    for (size_t i = 0; i < n; i++) {
        PyObject *v = values->values[i];
        if (v != NULL && entries[i].me_key != NULL) {
            int r = visit(entries[i].me_key, v, arg);
            if (r)
                return r;
        }
    }
#else
    (void)op;
    (void)visit;
    (void)arg;
#endif
    return 0;
}

#if PY_VERSION_HEX >= 0x030D0000
/* Exported, but declared only in an internal header that needs more of
 * the core's headers than we include. */
PyAPI_FUNC(PyObject *) _PyTraceMalloc_GetTraceback(unsigned int domain,
                                                   uintptr_t ptr);
#endif

/* ---- the GIL ----------------------------------------------------------- */

static struct _gil_runtime_state *
gil_state(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyInterpreterState_Get()->ceval.gil;
#else
    return &_PyRuntime.ceval.gil;
#endif
}

unsigned long
hs_compat_switch_interval(void)
{
    return gil_state()->interval;
}

void
hs_compat_set_switch_interval(unsigned long us, int wake)
{
    /* what sys.setswitchinterval() writes; a thread waiting for the GIL
     * reads it each time its timed wait starts over */
    struct _gil_runtime_state *gil = gil_state();
    if (!wake) {
        gil->interval = us;
        return;
    }
    /* Wake the waiting threads (the GIL stays with us): each starts its
     * wait over with the new interval, without asking for the GIL. */
    pthread_mutex_lock(&gil->mutex);
    gil->interval = us;
    pthread_cond_broadcast(&gil->cond);
    pthread_mutex_unlock(&gil->mutex);
}

void
hs_compat_clear_gil_drop_request(void)
{
    /* A waiting thread's request that the holder (this thread) drop the
     * GIL at its next bytecode.  Before 3.13 the eval breaker stays set:
     * the loop looks once more, finds nothing to do, and goes on. */
#if PY_VERSION_HEX >= 0x030D0000
    _Py_unset_eval_breaker_bit(PyThreadState_Get(), _PY_GIL_DROP_REQUEST_BIT);
#else
    _Py_atomic_store_relaxed(&PyInterpreterState_Get()->ceval.gil_drop_request,
                             0);
#endif
}

void
hs_compat_drop_async_exc(void)
{
    PyThreadState *ts = PyThreadState_Get();
    if (ts->async_exc == NULL)
        return;
#if PY_VERSION_HEX >= 0x030C0000
    /* The eval breaker's flag it raises again goes down at the next look
     * (3.12: by any thread; 3.13: this thread's own). */
    PyThreadState_SetAsyncExc(PyThread_get_thread_ident(), NULL);
#else
    /* PyThreadState_SetAsyncExc(id, NULL) would raise the interpreter's
     * flag, which only a thread finding an exception of its own lowers:
     * every thread would take the eval loop's slow path for good.  Lowered
     * here, the eval breaker follows at its next recomputation. */
    Py_CLEAR(ts->async_exc);
    PyInterpreterState_Get()->ceval.pending.async_exc = 0;
#endif
}

int
hs_compat_tracemalloc_tracing(void)
{
    /* The flag tracemalloc.is_tracing() reads, without importing the
     * tracemalloc module (an import reads files, releasing the GIL, and
     * adds modules to the program's heap). */
#if PY_VERSION_HEX < 0x030C0000
    return _Py_tracemalloc_config.tracing != 0;
#elif PY_VERSION_HEX < 0x030D0000
    return _PyTraceMalloc_IsTracing() != 0;
#else
    return _PyRuntime.tracemalloc.config.tracing != 0;
#endif
}

PyObject *
hs_compat_object_traceback(PyObject *op)
{
    /* Objects are traced in the default domain (0) by the address the
     * allocator returned, in front of any pre-header. */
    uintptr_t ptr = (uintptr_t)op - hs_py_pre_header(op);
    return _PyTraceMalloc_GetTraceback(0, ptr);
}

PyObject *
hs_compat_type_dict(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_dict != NULL)
        return tp->tp_dict;
    /* Static builtin types keep their dict in the interpreter; the getter
     * returns a new reference to an object the interpreter holds. */
    PyObject *d = PyType_GetDict(tp);
    Py_XDECREF(d);
    return d;
#else
    return tp->tp_dict;
#endif
}

/* ---- what tp_traverse leaves out ---------------------------------------- */

static int
visit_code(PyCodeObject *co, hs_compat_visit visit, void *arg)
{
    VISIT(co->co_consts, NULL);
    VISIT(co->co_names, NULL);
    VISIT(co->co_filename, NULL);
    VISIT(co->co_name, NULL);
#if PY_VERSION_HEX >= 0x030B0000
    VISIT(co->co_qualname, NULL);
    VISIT(co->co_localsplusnames, NULL);
    VISIT(co->co_localspluskinds, NULL);
    VISIT(co->co_linetable, NULL);
    VISIT(co->co_exceptiontable, NULL);
#if PY_VERSION_HEX >= 0x030C0000
    if (co->_co_cached != NULL) {
        VISIT(co->_co_cached->_co_code, NULL);
        VISIT(co->_co_cached->_co_varnames, NULL);
        VISIT(co->_co_cached->_co_cellvars, NULL);
        VISIT(co->_co_cached->_co_freevars, NULL);
    }
#else
    VISIT(co->_co_code, NULL);
#endif
#else
    VISIT(co->co_code, NULL);
    VISIT(co->co_varnames, NULL);
    VISIT(co->co_freevars, NULL);
    VISIT(co->co_cellvars, NULL);
#if PY_VERSION_HEX >= 0x030A0000
    VISIT(co->co_linetable, NULL);
#else
    VISIT(co->co_lnotab, NULL);
#endif
#endif
    return 0;
}

/* range and slice keep ints that no tp_traverse reports. */
typedef struct {
    PyObject_HEAD
    PyObject *start, *stop, *step, *length;
} hs_rangeobject;

int
hs_compat_visit_dict_pairs(PyObject *op, hs_compat_visit visit, void *arg)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    /* (3.13: a materialised instance dict whose values are still the
     * instance's inline values yields them too, as it should: the dict
     * holds them as much as the instance does.) */
    while (PyDict_Next(op, &pos, &k, &v)) {
        VISIT(k, NULL);
        VISIT(v, NULL);
    }
    return 0;
}

int
hs_compat_visit_extra(PyObject *op, hs_compat_visit visit, void *arg)
{
    PyTypeObject *tp = Py_TYPE(op);
    if (PyDict_Check(op)) {
        /* dict_traverse skips the keys of str-keyed dicts: report every
         * key.  PyDict_Next neither hashes nor compares. */
        Py_ssize_t pos = 0;
        PyObject *k, *v;
#if PY_VERSION_HEX >= 0x030D0000
        /* A materialised 3.13 instance dict whose values are still the
         * instance's inline values: dict_traverse visits none of them,
         * but the dict holds them as much as the instance does. */
        PyDictObject *mp = (PyDictObject *)op;
        int embedded = mp->ma_values != NULL && mp->ma_values->embedded;
#else
        const int embedded = 0;
#endif
        while (PyDict_Next(op, &pos, &k, &v)) {
            if (PyUnicode_Check(k))
                VISIT(k, NULL);
            if (embedded)
                VISIT(v, NULL);
        }
        return 0;
    }
    if (PyCode_Check(op))
        return visit_code((PyCodeObject *)op, visit, arg);
    if (tp == &PyRange_Type) {
        hs_rangeobject *r = (hs_rangeobject *)op;
        VISIT(r->start, NULL);
        VISIT(r->stop, NULL);
        VISIT(r->step, NULL);
        VISIT(r->length, NULL);
        return 0;
    }
    if (tp == &PySlice_Type && !PyObject_IS_GC(op)) {
        PySliceObject *s = (PySliceObject *)op;
        VISIT(s->start, NULL);
        VISIT(s->stop, NULL);
        VISIT(s->step, NULL);
        return 0;
    }
    if (PyType_Check(op)) {
        PyTypeObject *t = (PyTypeObject *)op;
        if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
            PyHeapTypeObject *ht = (PyHeapTypeObject *)t;
            VISIT(ht->ht_name, NULL);
            VISIT(ht->ht_qualname, NULL);
            VISIT(ht->ht_slots, NULL);
#if PY_VERSION_HEX < 0x030C0000
            VISIT(t->tp_subclasses, NULL);
#endif
        } else {
            /* Static types are not GC objects: type_traverse must never
             * be called on them (it aborts), so report their parts here. */
            VISIT(hs_compat_type_dict(t), NULL);
            VISIT(t->tp_mro, NULL);
            VISIT(t->tp_bases, NULL);
            VISIT(t->tp_base, NULL);
        }
        return 0;
    }
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13 never reports a materialised managed dict (pitfall 9). */
    if ((tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) && PyObject_IS_GC(op))
        VISIT(_PyObject_ManagedDictPointer(op)->dict, NULL);
#endif
    return 0;
}

/* ---- frames and generators ---------------------------------------------- */

static int
frame_ref(PyObject *dst, int kind, const char *field, PyObject *key,
          Py_ssize_t index, hs_relvisit visit, void *arg)
{
    if (dst == NULL)
        return 0;
    hs_relname n = {kind, field, key, index};
    return visit(dst, &n, arg);
}

#define FRAME_REF(dst, kind, field, key, index)                           \
    do {                                                                  \
        int r_ = frame_ref((PyObject *)(dst), (kind), (field), (key),     \
                           (index), visit, arg);                          \
        if (r_)                                                           \
            return r_;                                                    \
    } while (0)
#define FRAME_FIELD(dst, field) FRAME_REF(dst, HS_RN_FIELD, field, NULL, 0)

/* The name of local slot i, from a tuple of names that starts at it. */
static PyObject *
slot_name(PyObject *names, Py_ssize_t i)
{
    return names != NULL && PyTuple_Check(names) &&
                   i < PyTuple_GET_SIZE(names)
               ? PyTuple_GET_ITEM(names, i) : NULL;
}

#if PY_VERSION_HEX >= 0x030B0000
/* How what an interpreter frame holds is named: as its frame object names
 * it, or, for the frame inside a generator, coroutine or async generator,
 * as the generator does, through the attribute that shows the frame
 * (".gi_frame.f_code"; `where` goes into the kind of its locals' and
 * stack entries' names). */
typedef struct {
    int where;              /* HS_RN_IN_*: for its locals and stack */
    const char *code, *executable, *func, *globals, *builtins, *locals;
} frame_names;

#if PY_VERSION_HEX >= 0x030C0000
#define FUNC_NAME "->f_funcobj"
#else
#define FUNC_NAME "->f_func"
#endif
#define FRAME_NAMES(where, p)                                             \
    {(where), p ".f_code", p "->f_executable", p FUNC_NAME,               \
     p ".f_globals", p ".f_builtins", p ".f_locals"}

static const frame_names frame_object_names = FRAME_NAMES(HS_RN_IN_FRAME, "");

/* What interpreter frame fr holds, named by nm: its fields, its locals and
 * cells by name, its value stack by depth.  Locals and stack are one array
 * (the stack after the code's locals), read below slot `top` only: the
 * caller knows how far it is set. */
static int
relate_iframe(_PyInterpreterFrame *fr, Py_ssize_t top, const frame_names *nm,
              hs_relvisit visit, void *arg)
{
    PyCodeObject *co = frame_code(fr);
#if PY_VERSION_HEX >= 0x030D0000
    FRAME_FIELD(fr->f_executable, co != NULL ? nm->code : nm->executable);
    FRAME_FIELD(fr->f_funcobj, nm->func);
#elif PY_VERSION_HEX >= 0x030C0000
    FRAME_FIELD(fr->f_code, nm->code);
    FRAME_FIELD(fr->f_funcobj, nm->func);
#else
    FRAME_FIELD(fr->f_code, nm->code);
    FRAME_FIELD(fr->f_func, nm->func);
#endif
    FRAME_FIELD(fr->f_globals, nm->globals);
    FRAME_FIELD(fr->f_builtins, nm->builtins);
    FRAME_FIELD(fr->f_locals, nm->locals);
    if (co == NULL)
        return 0;
    Py_ssize_t nlocals = co->co_nlocalsplus;
    if (top > nlocals + co->co_stacksize)
        top = nlocals + co->co_stacksize;
    PyObject *kinds = co->co_localspluskinds;
    for (Py_ssize_t i = 0; i < nlocals && i < top; i++) {
        PyObject *name = slot_name(co->co_localsplusnames, i);
        if (name == NULL)
            continue;
        int kind = PyBytes_Check(kinds) && i < PyBytes_GET_SIZE(kinds)
                       ? (unsigned char)PyBytes_AS_STRING(kinds)[i] : 0;
        FRAME_REF(fr->localsplus[i],
                  (kind & (CO_FAST_CELL | CO_FAST_FREE) ? HS_RN_CELL
                                                        : HS_RN_LOCAL) |
                      nm->where,
                  NULL, name, 0);
    }
    for (Py_ssize_t i = nlocals; i < top; i++)
        FRAME_REF(fr->localsplus[i], HS_RN_STACK | nm->where, NULL, NULL,
                  i - nlocals);
    return 0;
}
#endif

int
hs_compat_relate_frame(PyObject *op, hs_relvisit visit, void *arg)
{
    PyFrameObject *f = (PyFrameObject *)op;
    FRAME_FIELD(f->f_back, ".f_back");
    FRAME_FIELD(f->f_trace, ".f_trace");
#if PY_VERSION_HEX >= 0x030B0000
#if PY_VERSION_HEX >= 0x030D0000
    FRAME_FIELD(f->f_extra_locals, "->f_extra_locals");
    FRAME_FIELD(f->f_locals_cache, "->f_locals_cache");
#endif
    /* The frame's data is where f_frame points: inside this object once
     * the function returned, else on its thread's stack or in its
     * generator, which keep it valid while the frame object lives. */
    _PyInterpreterFrame *fr = f->f_frame;
    if (fr == NULL)
        return 0;
    PyCodeObject *co = frame_code(fr);
    /* A running frame's stack top is unknowable (cpython-notes.md section
     * 1), but its locals all are set when the frame is pushed.  A returned
     * frame was copied in up to its stack top, and frame.clear() sets that
     * to 0: the slots above are not set. */
    Py_ssize_t top = co != NULL ? co->co_nlocalsplus : 0;
    if (fr->owner == FRAME_OWNED_BY_FRAME_OBJECT)
        top = fr->stacktop < 0 ? 0 : fr->stacktop;
    return relate_iframe(fr, top, &frame_object_names, visit, arg);
#else
    FRAME_FIELD(f->f_code, ".f_code");
    FRAME_FIELD(f->f_globals, ".f_globals");
    FRAME_FIELD(f->f_builtins, ".f_builtins");
    FRAME_FIELD(f->f_locals, ".f_locals");
    PyCodeObject *co = f->f_code;
    Py_ssize_t nlocals = co->co_nlocals;
    Py_ssize_t ncells = PyTuple_GET_SIZE(co->co_cellvars);
    Py_ssize_t nfree = PyTuple_GET_SIZE(co->co_freevars);
    for (Py_ssize_t i = 0; i < nlocals + ncells + nfree; i++) {
        PyObject *name = i < nlocals ? slot_name(co->co_varnames, i)
                       : i < nlocals + ncells
                           ? slot_name(co->co_cellvars, i - nlocals)
                           : slot_name(co->co_freevars, i - nlocals - ncells);
        if (name == NULL)
            continue;
        FRAME_REF(f->f_localsplus[i], i < nlocals ? HS_RN_LOCAL : HS_RN_CELL,
                  NULL, name, 0);
    }
    /* The value stack, as frame_traverse sees it: none while the frame
     * runs. */
#if PY_VERSION_HEX >= 0x030A0000
    Py_ssize_t depth = f->f_stackdepth;
#else
    Py_ssize_t depth = f->f_stacktop != NULL
                           ? f->f_stacktop - f->f_valuestack : 0;
#endif
    for (Py_ssize_t i = 0; i < depth; i++)
        FRAME_REF(f->f_valuestack[i], HS_RN_STACK, NULL, NULL, i);
    return 0;
#endif
}

/* A generator's, coroutine's or async generator's fields, named by the
 * attribute that shows each, else ("->") by the field; the three types
 * share their layout up to the end of _PyGenObject_HEAD, and differ in
 * the prefix of the names.  Before 3.11 the frame is an object (frame,
 * here), which names what it holds itself. */
typedef struct {
    const char *frame, *code, *origin;
    const char *exc_type, *exc_value, *exc_traceback;
#if PY_VERSION_HEX >= 0x030B0000
    frame_names in_frame;
#endif
} gen_names;

#if PY_VERSION_HEX >= 0x030B0000
#define IN_FRAME(where, p) , FRAME_NAMES(where, "." p "_frame")
#else
#define IN_FRAME(where, p)
#endif
#define GEN_NAMES(p, origin, where)                                       \
    {"." p "_frame", "." p "_code", (origin),                             \
     "->" p "_exc_state.exc_type", "->" p "_exc_state.exc_value",         \
     "->" p "_exc_state.exc_traceback" IN_FRAME(where, p)}

/* (3.11+: a generator's gi_origin_or_finalizer is never set, not even to
 * NULL: no name, never read.) */
static const gen_names gen_names_gi = GEN_NAMES("gi", NULL, HS_RN_IN_GEN);
static const gen_names gen_names_cr =
    GEN_NAMES("cr", ".cr_origin", HS_RN_IN_CORO);
#if PY_VERSION_HEX >= 0x030B0000
static const gen_names gen_names_ag =
    GEN_NAMES("ag", "->ag_origin_or_finalizer", HS_RN_IN_ASYNCGEN);
#else
static const gen_names gen_names_ag =
    GEN_NAMES("ag", "->ag_finalizer", HS_RN_IN_ASYNCGEN);
#endif

int
hs_compat_relate_gen(PyObject *op, hs_relvisit visit, void *arg)
{
    PyGenObject *gen = (PyGenObject *)op;
    const gen_names *nm = PyCoro_CheckExact(op)       ? &gen_names_cr
                          : PyAsyncGen_CheckExact(op) ? &gen_names_ag
                                                      : &gen_names_gi;
    FRAME_FIELD(gen->gi_name, ".__name__");
    FRAME_FIELD(gen->gi_qualname, ".__qualname__");
#if PY_VERSION_HEX < 0x030C0000
    FRAME_FIELD(gen->gi_code, nm->code);
#endif
#if PY_VERSION_HEX < 0x030B0000
    FRAME_FIELD(gen->gi_frame, nm->frame);
    FRAME_FIELD(gen->gi_exc_state.exc_type, nm->exc_type);
    FRAME_FIELD(gen->gi_exc_state.exc_value, nm->exc_value);
    FRAME_FIELD(gen->gi_exc_state.exc_traceback, nm->exc_traceback);
    if (PyCoro_CheckExact(op))
        FRAME_FIELD(((PyCoroObject *)op)->cr_origin, nm->origin);
    else if (PyAsyncGen_CheckExact(op))
        FRAME_FIELD(((PyAsyncGenObject *)op)->ag_finalizer, nm->origin);
    return 0;
#else
    FRAME_FIELD(gen->gi_exc_state.exc_value, nm->exc_value);
    if (nm->origin != NULL)
        FRAME_FIELD(gen->gi_origin_or_finalizer, nm->origin);
    /* The frame inside, read only as gen_traverse reads it: not once
     * cleared (3.11 and 3.12 test gi_frame_state < FRAME_CLEARED, 3.13
     * != FRAME_CLEARED; a cleared frame's slots keep stale pointers),
     * though it may have completed (3.12+ closing a generator that never
     * started, or 3.13 one suspended outside any try, keep the frame; the
     * latter clears its locals, stacktop 0).  Its locals and stack as
     * _PyFrame_Traverse reads them: below stacktop, which is where the
     * stack was last saved, -1 while the frame runs (unless it called
     * Python code: then up to the call). */
#if PY_VERSION_HEX >= 0x030D0000
    if (gen->gi_frame_state == FRAME_CLEARED)
        return 0;
#else
    if (gen->gi_frame_state >= FRAME_CLEARED)
        return 0;
#endif
    _PyInterpreterFrame *fr = (_PyInterpreterFrame *)gen->gi_iframe;
    FRAME_FIELD(fr->frame_obj, nm->frame);
    return relate_iframe(fr, fr->stacktop < 0 ? 0 : fr->stacktop,
                         &nm->in_frame, visit, arg);
#endif
}

#undef FRAME_FIELD
#undef FRAME_REF

/* ---- interpreter lifecycle ---------------------------------------------- */

int
hs_compat_is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}
