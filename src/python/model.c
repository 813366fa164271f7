/* model.c - the explorer's model (include/heapscope/explorer.h) over the
 * Python model, heapscope._explore.Model.
 *
 * The TUI runs in the thread that opened the explorer, which holds the
 * GIL for the explorer's whole life (so the program's other threads stay
 * paused and the tables stay true): each model call here calls the Python
 * model and converts its answer into C strings kept in the view until the
 * next call on it.  Dominated sizes are the one thing computed in the
 * background: a worker thread runs hs_domisize over the snapshot's C
 * arrays (no Python object, no GIL), row by row as the TUI asks, and
 * poll() hands the results back.  Nothing here runs during a walk.
 */
#include "hs_py.h"
#include "heapscope/explorer.h"
#include "heapscope/tui.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Dominated-size state per row (by heapy index). */
#define DS_NONE    0
#define DS_PENDING 1
#define DS_READY   2
#define DS_FAILED  3

struct hs_view {
    PyObject *py;              /* the Python View */
    int refs;                  /* the TUI's, plus one per queued job */
    char *expr, *summary, *column, *label;
    size_t nrows;
    uint8_t *dstate;           /* per heapy row index */
    uint64_t *dval;
};

typedef struct job {
    struct job *next;
    hs_view *view;
    size_t index;              /* heapy row index */
    PyObject *keep;            /* the row's Partition or IdSet: keeps its
                                  ids and its snapshot */
    void *snap;                /* for hs_py_snapshot_relations */
    hs_set set;                /* the row's ids, borrowed from keep */
    uint64_t bytes;
    int err;
} job;

/* A row whose dominated size a draw asked for: asked of the worker (its
 * row's set found, which may fill a partition's members: 40 ms for the
 * first row of a heap of 14 million) at the next poll, once the table is
 * on the screen. */
typedef struct ask {
    hs_view *view;
    size_t index;              /* heapy row index */
} ask;

/* Progress while an expression typed at `:` runs (see the ticker). */
typedef struct ticker {
    pthread_t thread;
    pthread_mutex_t lock;      /* held through each tick, from either
                                  thread: the TUI's is not reentrant */
    pthread_cond_t wake;
    const hs_progress *tui;    /* the TUI's progress */
    hs_progress prog;          /* what the call ticks: tui, under lock */
    char what[64];             /* the call's last tick, for the ticker's */
    uint64_t done, total;
    unsigned long ident;       /* the thread running the expression */
    int stop;                  /* the call is over */
    int cancelled;             /* a tick said so */
    int raising;               /* the ticker raises into the call */
} ticker;

typedef struct {
    hs_model base;
    PyObject *py;              /* the Python Model */
    PyObject *tick;            /* progress callable handed to Python */
    const hs_progress *prog;   /* the TUI's, during a call */
    char *error, *status;
    /* the inspector's page */
    hs_object obj;
    char **strs;
    size_t nstrs, strs_cap;
    hs_ref *refs;
    void *cell;                /* tick_cell of the progress callable */
    /* the dominated-size worker */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    job *queue, *queue_tail, *done;
    ask *asks;                 /* not yet asked of the worker */
    size_t nasks, asks_cap;
    int foreground;            /* a key's call runs: the worker waits */
    /* (the worker's) what it holds that a key's call may wait for: the
     * snapshot whose relations it builds, the relations whose tree */
    void *w_snap;
    hs_relations *w_rel;
    int preparing;             /* the call is prepare's, not a key's */
    int stop;
    volatile int cancel;       /* stop the job running now */
    int changed;
    long main_tid;             /* the main thread to keep parked, or 0 */
    /* The switch interval: HOLD_INTERVAL for the session, the program's
     * own while an expression the user typed runs (see python_begin) */
    unsigned long interval;    /* the program's, in microseconds */
    int holding;
    int in_python;
    ticker tk;
} pymodel;

/* Microseconds (11.6 days): a thread waiting for the GIL with this
 * interval never asks for it. */
#define HOLD_INTERVAL 1000000000000ul

static const hs_model_ops ops;
static int in_futex(long tid);
static void set_foreground(pymodel *m, int on);

/* ---- small helpers -------------------------------------------------------- */

/* A malloc'd UTF-8 copy of a str, never asking the str for its cached
 * UTF-8 (that would add one to a string of the program's). */
static char *
dup_str(PyObject *o)
{
    if (o == NULL || o == Py_None)
        return strdup("");
    PyObject *b = PyUnicode_Check(o)
                      ? PyUnicode_AsEncodedString(o, "utf-8", "replace")
                      : NULL;
    if (b == NULL) {
        PyErr_Clear();
        return strdup("?");
    }
    char *s = strdup(PyBytes_AS_STRING(b));
    Py_DECREF(b);
    return s;
}

static void
set_error(pymodel *m, const char *msg)
{
    free(m->error);
    m->error = strdup(msg);
}

/* The pending Python exception as the model's error message. */
static void
take_error(pymodel *m)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *cls = type ? ((PyTypeObject *)type)->tp_name : "error";
    PyObject *text = value ? PyObject_Str(value) : NULL;
    char *msg = text ? dup_str(text) : NULL;
    PyErr_Clear();
    char buf[1024];
    if (type != NULL && strcmp(cls, "_Answer") == 0 && msg != NULL) {
        set_error(m, msg);      /* (an answer may have many lines) */
        goto done;
    }
    if (type != NULL &&
        (PyErr_GivenExceptionMatches(type, PyExc_KeyboardInterrupt) ||
         strcmp(cls, "Cancelled") == 0))
        snprintf(buf, sizeof buf, "cancelled");
    else if (msg != NULL && *msg)
        snprintf(buf, sizeof buf, "%s: %s", cls, msg);
    else
        snprintf(buf, sizeof buf, "%s", cls);
    set_error(m, buf);
done:
    free(msg);
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* ---- progress: a Python callable over the TUI's hs_progress ---------------- */

/* The callable's self is a capsule holding a cell that points at the
 * model while the explorer runs; the cell outlives the model (a callable
 * kept by some traceback finds it empty, never a dangling model). */
typedef struct {
    void *model;
} tick_cell;

static void
cell_free(PyObject *cap)
{
    free(PyCapsule_GetPointer(cap, "heapscope.model"));
}

static PyObject *
tick_call(PyObject *self, PyObject *args)
{
    const char *what;
    unsigned long long done, total;
    if (!PyArg_ParseTuple(args, "sKK", &what, &done, &total))
        return NULL;
    tick_cell *cell = PyCapsule_GetPointer(self, "heapscope.model");
    if (cell == NULL)
        return NULL;
    pymodel *m = cell->model;
    if (m == NULL)
        Py_RETURN_NONE;         /* the explorer is closed */
    if (hs_progress_tick(m->prog, what, done, total)) {
        PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef tick_def = {
    "tick", tick_call, METH_VARARGS,
    "tick(what, done, total): report progress; raises when cancelled."
};

const hs_progress *
hs_py_model_progress(PyObject *tick)
{
    if (tick == NULL || !PyCFunction_Check(tick) ||
        ((PyCFunctionObject *)tick)->m_ml != &tick_def)
        return NULL;
    PyObject *cap = PyCFunction_GET_SELF(tick);
    tick_cell *cell = cap ? PyCapsule_GetPointer(cap, "heapscope.model")
                          : NULL;
    if (cell == NULL) {
        PyErr_Clear();
        return NULL;
    }
    pymodel *m = cell->model;
    return m != NULL ? m->prog : NULL;
}

/* ---- the ticker: progress while an expression typed at `:` runs -----------
 *
 * The model's own code ticks as it works; an expression the user typed
 * need not tick at all (a loop of its own, a time.sleep, a read).  While
 * one runs, a thread of ours ticks the TUI's progress every TICKER_MS with
 * what the call last reported: the progress line shows after 0.2 s and
 * Esc is read, as for any other long call.  The ticks never overlap (the
 * TUI's tick draws and reads the keyboard): each is made under tk.lock.
 *
 * A cancel makes the expression stop with a KeyboardInterrupt raised into
 * its thread (PyThreadState_SetAsyncExc, under the GIL), at the next
 * bytecode it runs: Python code stops at once, a C call that holds the GIL
 * or blocks (time.sleep, a read) first returns (only the main thread can
 * be interrupted in one, and only through the program's own signal
 * handlers), and one that never returns is never cancelled.  The ticker
 * raises again every TICKER_MS until the call is over: 3.12's eval loop
 * lets any thread clear the flag that brings it, and an expression may
 * catch the first one. */

#define TICKER_MS 20

static int
ticker_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    ticker *tk = arg;
    pthread_mutex_lock(&tk->lock);
    snprintf(tk->what, sizeof tk->what, "%s", what != NULL ? what : "");
    tk->done = done;
    tk->total = total;
    int r = hs_progress_tick(tk->tui, what, done, total);
    if (r)
        tk->cancelled = 1;      /* the call stops itself: no more ticks */
    pthread_mutex_unlock(&tk->lock);
    return r;
}

/* Wait on tk->wake for up to TICKER_MS (tk->lock held). */
static void
ticker_wait(ticker *tk)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += TICKER_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&tk->wake, &tk->lock, &until);
}

static void *
ticker_main(void *arg)
{
    ticker *tk = arg;
    pthread_mutex_lock(&tk->lock);
    while (!tk->stop && !tk->cancelled) {
        ticker_wait(tk);
        if (!tk->stop && !tk->cancelled &&
            hs_progress_tick(tk->tui, tk->what, tk->done, tk->total))
            tk->cancelled = tk->raising = 1;
    }
    while (tk->raising && !tk->stop) {
        pthread_mutex_unlock(&tk->lock);
        PyGILState_STATE g = PyGILState_Ensure();
        pthread_mutex_lock(&tk->lock);
        /* (stop is set with the GIL held, before the call's thread lets
         * go of it: none is raised once the call is over) */
        if (!tk->stop)
            PyThreadState_SetAsyncExc(tk->ident, PyExc_KeyboardInterrupt);
        pthread_mutex_unlock(&tk->lock);
        PyGILState_Release(g);
        pthread_mutex_lock(&tk->lock);
        if (!tk->stop)
            ticker_wait(tk);
    }
    pthread_mutex_unlock(&tk->lock);
    return NULL;
}

/* Start ticking p for the expression this thread is about to run; 0 if
 * no thread could be had (the call then shows progress only as it
 * ticks). */
static int
ticker_start(pymodel *m, const hs_progress *p)
{
    ticker *tk = &m->tk;
    memset(tk, 0, sizeof *tk);
    tk->tui = p;
    tk->prog.tick = ticker_tick;
    tk->prog.arg = tk;
    tk->ident = PyThread_get_thread_ident();
    snprintf(tk->what, sizeof tk->what, "evaluating");
    pthread_mutex_init(&tk->lock, NULL);
    pthread_cond_init(&tk->wake, NULL);
    if (!hs_thread_start(&tk->thread, ticker_main, tk)) {
        pthread_mutex_destroy(&tk->lock);
        pthread_cond_destroy(&tk->wake);
        return 0;
    }
    m->prog = &tk->prog;
    return 1;
}

/* The call is over (GIL held): stop the ticker, and drop an exception it
 * raised that the call ended before meeting, which would otherwise hit
 * the model's next call. */
static void
ticker_stop(pymodel *m)
{
    ticker *tk = &m->tk;
    pthread_mutex_lock(&tk->lock);
    tk->stop = 1;
    pthread_cond_signal(&tk->wake);
    int raising = tk->raising;
    pthread_mutex_unlock(&tk->lock);
    if (raising) {
        /* it may be waiting for the GIL */
        Py_BEGIN_ALLOW_THREADS
        pthread_join(tk->thread, NULL);
        Py_END_ALLOW_THREADS
        hs_compat_drop_async_exc();
    } else {
        pthread_join(tk->thread, NULL);
    }
    pthread_mutex_destroy(&tk->lock);
    pthread_cond_destroy(&tk->wake);
}

/* Around every run of Python code (the model's, or any method call).
 *
 * The program's threads must not run while the explorer is open.  A thread
 * waiting for the GIL asks the holder to drop it once its timed wait (the
 * switch interval) runs out, and the holder drops it at its next bytecode.
 * So for the session the interval is HOLD_INTERVAL and the waiting threads
 * start their waits over with it (hold_threads): none of them asks again,
 * and a request made before is forgotten here, before our bytecode could
 * honour it.  This holds while our Python code runs too: a thread whose
 * sleep ends then starts its wait with the interval it finds, and with the
 * program's it would ask for the GIL and get it within milliseconds.  The
 * model's own code never lets go of the GIL (it reads no file: what it
 * needs of the system is read in C, memory_to_spare() below), since any
 * release hands it to a waiting thread whatever the interval.  Only an
 * expression the user typed (`user`: the `:` key) may: it runs with the
 * program's interval, so that it waits to have the GIL back no longer
 * than the program's threads would (with HOLD_INTERVAL, a thread that runs
 * Python code without a pause would keep it for good). */
static void
python_begin(pymodel *m, int user)
{
    if (m->in_python++ == 0 && m->holding) {
        hs_compat_clear_gil_drop_request();
        if (user)
            hs_compat_set_switch_interval(m->interval, 0);
    }
}

static void
python_end(pymodel *m)
{
    if (--m->in_python == 0 && m->holding)
        hs_compat_set_switch_interval(HOLD_INTERVAL, 0);
}

/* Call a method of the Python model; NULL with error() set on failure.
 *
 * Nothing the call itself makes may look like the program's: a walk in it
 * would take an object only C code holds for one of the program's (held
 * by an extension), report it, and hold it.  So no bound method is made
 * (the method is called with the model as its first argument, through
 * vectorcall), and the tuple of arguments is no collector object. */
static PyObject *
call(pymodel *m, const char *name, const hs_progress *p, const char *fmt,
     ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    if (args == NULL) {
        take_error(m);
        return NULL;
    }
    if (!PyTuple_Check(args)) {
        PyObject *t = PyTuple_Pack(1, args);
        Py_DECREF(args);
        if ((args = t) == NULL) {
            take_error(m);
            return NULL;
        }
    }
    PyObject_GC_UnTrack(args);
    PyObject *stack[8];
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *meth = PyUnicode_InternFromString(name);
    PyObject *r = NULL;
    if (meth != NULL && n < 8) {
        stack[0] = m->py;
        for (Py_ssize_t i = 0; i < n; i++)
            stack[i + 1] = PyTuple_GET_ITEM(args, i);
        const hs_progress *saved = m->prog;
        /* (a call with progress is a long one: a key's, unless prepare's) */
        int fg = p != NULL && !m->preparing;
        int user = strcmp(name, "eval") == 0;
        m->prog = p;
        if (fg)
            set_foreground(m, 1);
        python_begin(m, user);
        int ticking = user && p != NULL && ticker_start(m, p);
        r = PyObject_VectorcallMethod(meth, stack, (size_t)(n + 1), NULL);
        if (ticking)
            ticker_stop(m);
        python_end(m);
        if (fg)
            set_foreground(m, 0);
        m->prog = saved;
    } else if (meth != NULL) {
        PyErr_SetString(PyExc_SystemError, "too many arguments");
    }
    Py_XDECREF(meth);
    Py_DECREF(args);
    if (r == NULL)
        take_error(m);
    /* Anything in the call that released the GIL (a read of a file) let
     * the main thread back into its read of the terminal: park it again
     * before the TUI reads the next key. */
    if (m->main_tid > 0 && in_futex(m->main_tid) == 0)
        hs_py_hotkey_park_main();
    return r;
}

/* ---- views ----------------------------------------------------------------- */

static hs_view *
new_view(pymodel *m, PyObject *py)
{
    if (py == NULL)
        return NULL;
    hs_view *v = calloc(1, sizeof *v);
    if (v == NULL) {
        Py_DECREF(py);
        set_error(m, "out of memory");
        return NULL;
    }
    v->py = py;
    v->refs = 1;
    PyObject *n = call(m, "info", NULL, "(O)", py);
    if (n != NULL && PyTuple_Check(n) && PyTuple_GET_SIZE(n) == 8)
        v->nrows = PyLong_AsSize_t(PyTuple_GET_ITEM(n, 7));
    Py_XDECREF(n);
    if (PyErr_Occurred())
        PyErr_Clear();
    v->dstate = calloc(v->nrows + 1, 1);
    v->dval = calloc(v->nrows + 1, sizeof *v->dval);
    if (v->dstate == NULL || v->dval == NULL) {
        free(v->dstate);
        free(v->dval);
        Py_DECREF(py);
        free(v);
        set_error(m, "out of memory");
        return NULL;
    }
    return v;
}

static void
view_unref(hs_view *v)
{
    if (--v->refs > 0)
        return;
    Py_XDECREF(v->py);
    free(v->expr);
    free(v->summary);
    free(v->column);
    free(v->label);
    free(v->dstate);
    free(v->dval);
    free(v);
}

static hs_view *
m_root(hs_model *base, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "root", p, "(O)", m->tick));
}

static hs_view *
m_repartition(hs_model *base, hs_view *v, enum hs_rel rel,
              const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "repartition", p, "(OiO)", v->py, (int)rel,
                            m->tick));
}

static hs_view *
m_step(hs_model *base, hs_view *v, size_t row, enum hs_step how,
       const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "step", p, "(OniO)", v->py, (Py_ssize_t)row,
                            (int)how, m->tick));
}

static hs_view *
m_step_object(hs_model *base, hs_view *v, size_t row, size_t nth,
              enum hs_step how, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "step_object", p, "(OnniO)", v->py,
                            (Py_ssize_t)row, (Py_ssize_t)nth, (int)how,
                            m->tick));
}

static hs_view *
m_eval(hs_model *base, hs_view *v, const char *expr, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "eval", p, "(OsO)", v->py, expr, m->tick));
}

static int
m_sort(hs_model *base, hs_view *v, enum hs_sort how, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    PyObject *r = call(m, "sort", p, "(OiO)", v->py, (int)how, m->tick);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static void
m_info(hs_model *base, hs_view *v, hs_view_info *out)
{
    pymodel *m = (pymodel *)base;
    memset(out, 0, sizeof *out);
    PyObject *r = call(m, "info", NULL, "(O)", v->py);
    free(v->expr);
    free(v->summary);
    free(v->column);
    v->expr = v->summary = v->column = NULL;
    if (r != NULL && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 8) {
        v->expr = dup_str(PyTuple_GET_ITEM(r, 0));
        v->summary = dup_str(PyTuple_GET_ITEM(r, 1));
        v->column = dup_str(PyTuple_GET_ITEM(r, 2));
        out->rel = (enum hs_rel)PyLong_AsLong(PyTuple_GET_ITEM(r, 3));
        out->sort = (enum hs_sort)PyLong_AsLong(PyTuple_GET_ITEM(r, 4));
        out->count = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 5));
        out->size = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 6));
        out->nrows = PyLong_AsSize_t(PyTuple_GET_ITEM(r, 7));
        if (PyErr_Occurred())
            take_error(m);
    }
    Py_XDECREF(r);
    out->expr = v->expr ? v->expr : "";
    out->summary = v->summary ? v->summary : "";
    out->column = v->column ? v->column : "";
}

static int
m_row(hs_model *base, hs_view *v, size_t i, hs_row *out)
{
    pymodel *m = (pymodel *)base;
    PyObject *r = call(m, "row", NULL, "(On)", v->py, (Py_ssize_t)i);
    if (r == NULL)
        return -1;
    int ok = PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 4;
    if (ok) {
        free(v->label);
        v->label = dup_str(PyTuple_GET_ITEM(r, 0));
        out->label = v->label ? v->label : "";
        out->count = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 1));
        out->size = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 2));
        out->index = PyLong_AsSize_t(PyTuple_GET_ITEM(r, 3));
        if (PyErr_Occurred()) {
            take_error(m);
            ok = 0;
        }
    } else {
        set_error(m, "the model gave a malformed row");
    }
    Py_DECREF(r);
    return ok ? 0 : -1;
}

/* ---- dominated sizes, in the background ------------------------------------ */

/* Whether the key's call waits for what the worker is making: the
 * relations, or the dominator tree (each is built under a lock). */
static int
worker_awaited(pymodel *m)
{
    return (m->w_rel != NULL && hs_dominators_awaited(m->w_rel)) ||
           (m->w_rel == NULL && m->w_snap != NULL &&
            hs_py_snapshot_relations_awaited(m->w_snap));
}

#define AWAITED_POLL_NS 2000000L   /* how often a waiting worker looks */

/* The worker's progress: while a key's call runs on the TUI's thread the
 * worker waits here, leaving it both cores (the Dominated column can wait
 * a second; a key should not) -- unless the key's call waits for what the
 * worker is making, which the worker then finishes (the call cannot wake
 * it: it looks every 2 ms). */
static int
worker_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    pymodel *m = arg;
    (void)what;
    (void)done;
    (void)total;
    pthread_mutex_lock(&m->lock);
    while (m->foreground && !m->cancel && !m->stop && !worker_awaited(m)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += AWAITED_POLL_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->wake, &m->lock, &until);
    }
    pthread_mutex_unlock(&m->lock);
    return m->cancel;
}

static void
set_foreground(pymodel *m, int on)
{
    pthread_mutex_lock(&m->lock);
    m->foreground = on;
    if (!on)
        pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
}

static void *
worker(void *arg)
{
    pymodel *m = arg;
    hs_progress p = {worker_tick, m, 1};   /* (thread-safe: a lock) */
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        job *j = m->queue;
        if (j == NULL) {
            pthread_cond_wait(&m->wake, &m->lock);
            continue;
        }
        m->queue = j->next;
        if (m->queue == NULL)
            m->queue_tail = NULL;
        m->cancel = 0;
        pthread_mutex_unlock(&m->lock);
        /* Only C arrays from here on: no Python object, no GIL.  The
         * snapshot's relations are built here if nothing has asked for
         * them yet (a third of a second on a heap of 14 million objects,
         * not spent by the explorer's first draw). */
        hs_relations *rel = NULL;
        m->w_snap = j->snap;
        j->err = hs_py_snapshot_relations(j->snap, &p, &rel);
        m->w_rel = rel;
        if (j->err == 0)
            j->err = hs_domisize(rel, &j->set, &j->bytes, NULL, &p);
        m->w_snap = NULL;
        m->w_rel = NULL;
        pthread_mutex_lock(&m->lock);
        j->next = m->done;
        m->done = j;
        m->changed = 1;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void
job_free(job *j)
{
    Py_XDECREF(j->keep);
    view_unref(j->view);
    free(j);
}

/* The heapy index of displayed row i. */
static long long
heapy_index(pymodel *m, hs_view *v, size_t i)
{
    python_begin(m, 0);
    PyObject *r = PyObject_CallMethod(v->py, "index", "n", (Py_ssize_t)i);
    python_end(m);
    if (r == NULL) {
        take_error(m);
        return -1;
    }
    long long k = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (k == -1 && PyErr_Occurred()) {
        take_error(m);
        return -1;
    }
    return k;
}

/* Hand the worker row k (heapy index) of view v.  0, or -1 (error set). */
static int
enqueue(pymodel *m, hs_view *v, size_t k)
{
    PyObject *src = call(m, "row_source", NULL, "(On)", v->py, (Py_ssize_t)k);
    if (src == NULL)
        return -1;
    PyObject *owner;
    Py_ssize_t row;
    hs_set s;
    void *snap;
    if (!PyArg_ParseTuple(src, "On", &owner, &row) ||
        hs_py_row_parts(owner, (size_t)row, &s, &snap) < 0) {
        take_error(m);
        Py_DECREF(src);
        return -1;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        Py_DECREF(src);
        set_error(m, "out of memory");
        return -1;
    }
    j->view = v;
    v->refs++;
    j->index = k;
    Py_INCREF(owner);
    j->keep = owner;
    Py_DECREF(src);
    j->snap = snap;
    j->set = s;
    if (!m->started) {
        if (pthread_create(&m->thread, NULL, worker, m) != 0) {
            job_free(j);
            set_error(m, "cannot start the dominated-size thread");
            return -1;
        }
        m->started = 1;
    }
    pthread_mutex_lock(&m->lock);
    if (m->queue_tail)
        m->queue_tail->next = j;
    else
        m->queue = j;
    m->queue_tail = j;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Ask the worker for the rows the draws asked for (see ask). */
static void
ask_worker(pymodel *m)
{
    for (size_t a = 0; a < m->nasks; a++) {
        ask *q = &m->asks[a];
        if (enqueue(m, q->view, q->index) < 0)
            q->view->dstate[q->index] = DS_NONE;   /* asked again if shown */
        view_unref(q->view);
    }
    m->nasks = 0;
}

static int
m_dominated(hs_model *base, hs_view *v, size_t i, uint64_t *bytes)
{
    pymodel *m = (pymodel *)base;
    long long k = heapy_index(m, v, i);
    if (k < 0 || (size_t)k >= v->nrows)
        return HS_DOM_NONE;
    switch (v->dstate[k]) {
    case DS_READY:
        *bytes = v->dval[k];
        return HS_DOM_READY;
    case DS_PENDING:
        return HS_DOM_PENDING;
    case DS_FAILED:
        return HS_DOM_NONE;
    }
    if (m->nasks == m->asks_cap) {
        size_t cap = m->asks_cap ? 2 * m->asks_cap : 64;
        ask *b = realloc(m->asks, cap * sizeof *b);
        if (b != NULL) {
            m->asks = b;
            m->asks_cap = cap;
        }
    }
    if (m->nasks < m->asks_cap) {
        m->asks[m->nasks++] = (ask){v, (size_t)k};
        v->refs++;
    } else if (enqueue(m, v, (size_t)k) < 0) {   /* no room: ask it now */
        return HS_DOM_NONE;
    }
    v->dstate[k] = DS_PENDING;
    return HS_DOM_PENDING;
}

static int
m_poll(hs_model *base)
{
    pymodel *m = (pymodel *)base;
    /* The TUI is idle: keep a main thread that was reading the terminal
     * waiting for the GIL instead (see hotkey.c). */
    hs_py_hotkey_park_main();
    ask_worker(m);
    pthread_mutex_lock(&m->lock);
    job *done = m->done;
    int changed = m->changed;
    m->done = NULL;
    m->changed = 0;
    pthread_mutex_unlock(&m->lock);
    while (done != NULL) {
        job *j = done;
        done = j->next;
        hs_view *v = j->view;
        if (j->err == 0) {
            v->dstate[j->index] = DS_READY;
            v->dval[j->index] = j->bytes;
            python_begin(m, 0);
            PyObject *r = PyObject_CallMethod(m->py, "set_dominated", "OnK",
                                              v->py, (Py_ssize_t)j->index,
                                              (unsigned long long)j->bytes);
            python_end(m);
            if (r == NULL)
                PyErr_Clear();
            Py_XDECREF(r);
        } else {
            /* cancelled: ask again later; anything else: give up */
            v->dstate[j->index] = j->err == -HS_ECANCELED ? DS_NONE
                                                          : DS_FAILED;
        }
        job_free(j);
    }
    return changed;
}

static void
m_cancel(hs_model *base)
{
    pymodel *m = (pymodel *)base;
    pthread_mutex_lock(&m->lock);
    job *q = m->queue;
    m->queue = m->queue_tail = NULL;
    m->cancel = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    while (q != NULL) {
        job *j = q;
        q = j->next;
        j->view->dstate[j->index] = DS_NONE;
        job_free(j);
    }
    for (size_t a = 0; a < m->nasks; a++) {
        m->asks[a].view->dstate[m->asks[a].index] = DS_NONE;
        view_unref(m->asks[a].view);
    }
    m->nasks = 0;
}

/* ---- the inspector ---------------------------------------------------------- */

static const char *
keep_str(pymodel *m, PyObject *o)
{
    if (m->nstrs == m->strs_cap) {
        size_t cap = m->strs_cap ? m->strs_cap * 2 : 64;
        char **b = realloc(m->strs, cap * sizeof *b);
        if (b == NULL)
            return "";
        m->strs = b;
        m->strs_cap = cap;
    }
    char *s = dup_str(o);
    if (s == NULL)
        return "";
    m->strs[m->nstrs++] = s;
    return s;
}

static void
inspector_clear(pymodel *m)
{
    for (size_t k = 0; k < m->nstrs; k++)
        free(m->strs[k]);
    m->nstrs = 0;
    free(m->refs);
    m->refs = NULL;
    memset(&m->obj, 0, sizeof m->obj);
}

static size_t
fill_refs(pymodel *m, PyObject *list, hs_ref *out)
{
    size_t n = 0;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(list); k++) {
        PyObject *t = PyList_GET_ITEM(list, k);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4)
            continue;
        out[n].kind = keep_str(m, PyTuple_GET_ITEM(t, 0));
        out[n].via = keep_str(m, PyTuple_GET_ITEM(t, 1));
        out[n].repr = keep_str(m, PyTuple_GET_ITEM(t, 2));
        out[n].size = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(t, 3));
        n++;
    }
    PyErr_Clear();
    return n;
}

static int
m_inspect(hs_model *base, hs_view *v, size_t row, size_t nth, hs_object *out,
          const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    PyObject *r = call(m, "inspect", p, "(OnnO)", v->py, (Py_ssize_t)row,
                       (Py_ssize_t)nth, m->tick);
    if (r == NULL)
        return -1;
    if (!PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 12 ||
        !PyList_Check(PyTuple_GET_ITEM(r, 10)) ||
        !PyList_Check(PyTuple_GET_ITEM(r, 11))) {
        Py_DECREF(r);
        set_error(m, "the model gave a malformed object page");
        return -1;
    }
    inspector_clear(m);
    PyObject *in = PyTuple_GET_ITEM(r, 10), *outl = PyTuple_GET_ITEM(r, 11);
    m->refs = calloc((size_t)(PyList_GET_SIZE(in) + PyList_GET_SIZE(outl)) + 1,
                     sizeof *m->refs);
    if (m->refs == NULL) {
        Py_DECREF(r);
        set_error(m, "out of memory");
        return -1;
    }
    hs_object *o = &m->obj;
    o->expr = keep_str(m, PyTuple_GET_ITEM(r, 0));
    o->type = keep_str(m, PyTuple_GET_ITEM(r, 1));
    o->address = (uintptr_t)PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 2));
    o->size = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(r, 3));
    PyObject *dom = PyTuple_GET_ITEM(r, 4);
    if (dom == Py_None) {
        o->dominated_state = HS_DOM_NONE;
    } else if (PyLong_Check(dom) && PyLong_AsLongLong(dom) < 0) {
        /* The dominator tree is not there yet: the worker builds it with
         * the row's dominated size; the page is asked for again when that
         * is done (hs_inspect_poll). */
        uint64_t bytes;
        switch (m_dominated(base, v, row, &bytes)) {
        case HS_DOM_NONE:
            o->dominated_state = HS_DOM_NONE;
            break;
        case HS_DOM_READY:          /* it was, just now: ask again */
            pthread_mutex_lock(&m->lock);
            m->changed = 1;
            pthread_mutex_unlock(&m->lock);
            /* fall through */
        default:
            o->dominated_state = HS_DOM_PENDING;
        }
        PyErr_Clear();
    } else {
        o->dominated_state = HS_DOM_READY;
        o->dominated = PyLong_AsUnsignedLongLong(dom);
    }
    o->repr = keep_str(m, PyTuple_GET_ITEM(r, 5));
    o->path = keep_str(m, PyTuple_GET_ITEM(r, 6));
    o->traceback = PyTuple_GET_ITEM(r, 7) == Py_None
                       ? NULL : keep_str(m, PyTuple_GET_ITEM(r, 7));
    o->nreferrers = PyLong_AsSize_t(PyTuple_GET_ITEM(r, 8));
    o->nreferents = PyLong_AsSize_t(PyTuple_GET_ITEM(r, 9));
    o->shown_referrers = fill_refs(m, in, m->refs);
    o->referrers = m->refs;
    o->shown_referents = fill_refs(m, outl, m->refs + o->shown_referrers);
    o->referents = m->refs + o->shown_referrers;
    PyErr_Clear();
    Py_DECREF(r);
    *out = *o;
    return 0;
}

/* ---- mark, refresh, messages, release ------------------------------------- */

static int
m_mark(hs_model *base)
{
    pymodel *m = (pymodel *)base;
    PyObject *r = call(m, "mark", NULL, "()");
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static hs_view *
m_refresh(hs_model *base, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    return new_view(m, call(m, "refresh", p, "(O)", m->tick));
}

static const char *
m_error(hs_model *base)
{
    pymodel *m = (pymodel *)base;
    return m->error ? m->error : "";
}

static const char *
m_status(hs_model *base, hs_view *v)
{
    pymodel *m = (pymodel *)base;
    PyObject *r = call(m, "status", NULL, "(O)", v != NULL ? v->py : Py_None);
    free(m->status);
    m->status = r ? dup_str(r) : strdup("");
    Py_XDECREF(r);
    return m->status ? m->status : "";
}

static void
m_release(hs_model *base, hs_view *v)
{
    pymodel *m = (pymodel *)base;
    /* Jobs still queued for this view are of no use now. */
    pthread_mutex_lock(&m->lock);
    job **pp = &m->queue, *drop = NULL;
    m->queue_tail = NULL;
    while (*pp != NULL) {
        job *j = *pp;
        if (j->view == v) {
            *pp = j->next;
            j->next = drop;
            drop = j;
        } else {
            m->queue_tail = j;
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    while (drop != NULL) {
        job *j = drop;
        drop = j->next;
        job_free(j);
    }
    view_unref(v);
}

/* Work ahead (Model.prepare): beside the dominated-size worker, which
 * builds the relations and the dominator tree meanwhile on the other core
 * (byvia needs neither, so nothing here waits for the worker; both give
 * way to a key).  Begun at the first pause, the heap's byvia is ready
 * about when the tree is, a second or two after the table shows on a heap
 * of millions of objects.  What fails here is never shown: the model's
 * last error stays the TUI's. */
static int
m_prepare(hs_model *base, const hs_progress *p)
{
    pymodel *m = (pymodel *)base;
    char *saved = m->error;
    m->error = NULL;
    m->preparing = 1;
    PyObject *r = call(m, "prepare", p, "(O)", m->tick);
    m->preparing = 0;
    int ret;
    if (r != NULL) {
        ret = PyObject_IsTrue(r) > 0;
        PyErr_Clear();
        Py_DECREF(r);
    } else {
        /* stopped by a key: again at the next pause; else give up */
        ret = m->error != NULL && strcmp(m->error, "cancelled") == 0 ? -1 : 0;
    }
    free(m->error);
    m->error = saved;
    return ret;
}

static const hs_model_ops ops = {
    m_root, m_repartition, m_step, m_eval, m_sort, m_info, m_row,
    m_dominated, m_poll, m_cancel, m_prepare, m_inspect, m_step_object,
    m_mark, m_refresh,
    m_error, m_status, m_release
};

/* ---- running it ----------------------------------------------------------- */

static void
model_close(pymodel *m)
{
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        m->stop = 1;
        m->cancel = 1;
        pthread_cond_broadcast(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    m_cancel(&m->base);
    m_poll(&m->base);           /* frees finished jobs */
    inspector_clear(m);
    free(m->asks);
    free(m->strs);
    free(m->error);
    free(m->status);
    ((tick_cell *)m->cell)->model = NULL;
    Py_XDECREF(m->tick);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
}

/* The start of a small file (/proc, /sys), NUL-terminated; -1 if it cannot
 * be read. */
static ssize_t
read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/* Whether thread tid is waiting in a futex (as for the GIL), from
 * /proc/self/task/<tid>/syscall; -1 when that cannot be told. */
static int
in_futex(long tid)
{
#ifdef SYS_futex
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    if (buf[0] < '0' || buf[0] > '9')
        return 0;               /* "running" */
    return atol(buf) == SYS_futex;
#else
    (void)tid;
    return -1;
#endif
}

/* Park the main thread (hotkey.c) and make sure it took: a park signal
 * that lands while the main thread is still on its way back into a read
 * cannot interrupt it, and the read would then take the explorer's first
 * keys.  Parks again, for up to 0.1 s, until the main thread waits in a
 * futex (for the GIL this thread holds). */
static void
park_firmly(long main_tid)
{
    for (int k = 0; k < 50; k++) {
        if (!hs_py_hotkey_park_main() || main_tid <= 0)
            return;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        if (in_futex(main_tid) != 0)
            return;
    }
}

/* The switch interval for the session (python_begin): HOLD_INTERVAL from
 * now on, the program's own back at the end, each time with the waiting
 * threads' waits started over (after the session, a wait begun with
 * HOLD_INTERVAL would keep a thread from the GIL as long as another runs
 * Python code without a pause). */
static void
hold_threads(pymodel *m)
{
    m->interval = hs_compat_switch_interval();
    m->holding = 1;
    hs_compat_set_switch_interval(HOLD_INTERVAL, 1);
    hs_compat_clear_gil_drop_request();
}

static void
release_threads(pymodel *m)
{
    m->holding = 0;
    hs_compat_set_switch_interval(m->interval, 1);
}

/* Run the explorer over the Python model.  0 when the user closed it, -1
 * when it could not run (err says why), -2 with a Python exception. */
int
hs_py_run_explorer(PyObject *pymodel_obj, long main_tid, char *err,
                   size_t errlen)
{
    pymodel m;
    memset(&m, 0, sizeof m);
    m.base.ops = &ops;
    m.py = pymodel_obj;
    pthread_mutex_init(&m.lock, NULL);
    pthread_cond_init(&m.wake, NULL);
    tick_cell *cell = malloc(sizeof *cell);
    PyObject *cap = cell ? PyCapsule_New(cell, "heapscope.model", cell_free)
                         : NULL;
    if (cap == NULL) {
        free(cell);
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        pthread_mutex_destroy(&m.lock);
        pthread_cond_destroy(&m.wake);
        return -2;
    }
    cell->model = &m;
    m.cell = cell;
    m.tick = PyCFunction_New(&tick_def, cap);
    Py_DECREF(cap);             /* the callable keeps it (and the cell) */
    if (m.tick == NULL) {
        pthread_mutex_destroy(&m.lock);
        pthread_cond_destroy(&m.wake);
        return -2;
    }
    hs_tui_opts o = {NULL, -1, -1, NULL};
    /* A main thread blocked reading the terminal (input(), the REPL)
     * would take the explorer's keys: interrupt it into waiting for the
     * GIL, which the explorer holds. */
    hold_threads(&m);
    park_firmly(main_tid);
    m.main_tid = main_tid;
    int r = hs_tui_run(&m.base, &o, err, errlen);
    release_threads(&m);
    hs_py_hotkey_unpark_main();
    model_close(&m);
    if (PyErr_Occurred())
        PyErr_Clear();
    return r;
}

/* ---- memory to spare --------------------------------------------------------
 *
 * What Model.prepare asks before working ahead: the bytes this process may
 * still take without swapping or meeting its cgroup's limit.  Read here
 * with plain system calls, the GIL held throughout: a Python open() lets go
 * of it, and a thread of the program waiting for it would run then. */

/* The number a cgroup file starts with: 0, or -1 if unreadable or not a
 * number ("max": no limit). */
static int
read_number(const char *dir, const char *file, unsigned long long *out)
{
    char path[4096], buf[64];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >=
            sizeof path ||
        read_small(path, buf, sizeof buf) <= 0)
        return -1;
    char *end;
    errno = 0;
    *out = strtoull(buf, &end, 10);
    return end == buf || errno != 0 ? -1 : 0;
}

/* MemAvailable, in bytes; -1 when the system does not say. */
static int
mem_available(unsigned long long *out)
{
    char buf[16384];
    if (read_small("/proc/meminfo", buf, sizeof buf) <= 0)
        return -1;
    for (char *line = buf; line != NULL && *line;) {
        if (strncmp(line, "MemAvailable:", 13) == 0) {
            char *end;
            unsigned long long kib = strtoull(line + 13, &end, 10);
            if (end == line + 13)
                return -1;
            *out = kib * 1024;
            return 0;
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}

/* Lower *spare to what the memory cgroup of `line` (a line of
 * /proc/self/cgroup: id, controllers, path) leaves, if it has a limit. */
static void
cgroup_limit(char *line, unsigned long long *spare)
{
    char *c1 = strchr(line, ':');
    char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL)
        return;
    *c1 = *c2 = '\0';
    const char *id = line, *controllers = c1 + 1;
    char *path = c2 + 1;
    const char *mount, *limit_file, *used_file;
    if (strcmp(id, "0") == 0 && controllers[0] == '\0') {        /* v2 */
        mount = "/sys/fs/cgroup";
        limit_file = "memory.max";
        used_file = "memory.current";
    } else {                                                      /* v1 */
        int memory = 0;
        for (const char *p = controllers; *p;) {
            size_t n = strcspn(p, ",");
            if (n == 6 && strncmp(p, "memory", 6) == 0)
                memory = 1;
            p += n + (p[n] == ',');
        }
        if (!memory)
            return;
        mount = "/sys/fs/cgroup/memory";
        limit_file = "memory.limit_in_bytes";
        used_file = "memory.usage_in_bytes";
    }
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        path[--n] = '\0';
    /* (in a container the group is often the mount's root) */
    char dir[4096];
    const char *dirs[2] = {dir, mount};
    if ((size_t)snprintf(dir, sizeof dir, "%s%s", mount, path) >= sizeof dir)
        dirs[0] = mount;
    for (int k = 0; k < 2; k++) {
        unsigned long long limit, used;
        if (read_number(dirs[k], limit_file, &limit) == 0 &&
            read_number(dirs[k], used_file, &used) == 0) {
            if (limit < (1ull << 60)) {
                unsigned long long left = limit > used ? limit - used : 0;
                if (left < *spare)
                    *spare = left;
            }
            return;
        }
    }
}

PyObject *
hs_py_memory_to_spare(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    unsigned long long spare;
    if (mem_available(&spare) < 0)
        Py_RETURN_NONE;
    char buf[16384];
    if (read_small("/proc/self/cgroup", buf, sizeof buf) > 0) {
        for (char *line = buf; line != NULL && *line;) {
            char *next = strchr(line, '\n');
            if (next != NULL)
                *next++ = '\0';
            cgroup_limit(line, &spare);
            line = next;
        }
    }
    return PyLong_FromUnsignedLongLong(spare);
}
