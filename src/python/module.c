/* module.c - the _heapscope extension: snapshots, id sets and partitions
 * as Python objects.
 *
 * Thin: every question is answered by src/graph over the snapshot arrays;
 * this file converts arguments and results.  Objects are handed back only
 * from nodes the snapshot holds a reference to, so a set kept at the prompt
 * stays safe after the program has freed what it once saw.  The heapy-style
 * API (hpy(), printing) is Python on top: src/heapscope/_api.py.
 */
#include "hs_py.h"
#include "heapscope/relations.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef struct {
    PyTypeObject *snapshot_type;
    PyTypeObject *idset_type;
    PyTypeObject *partition_type;
    PyTypeObject *iter_type;
    PyTypeObject *buffer_type;
    PyObject *hidden;          /* list of types whose instances are ours */
    PyObject *hidden_globals;  /* list of dicts: globals of our frames */
    /* The last walk's nodes and edges, and the blocks allocated before
     * it (sys.getallocatedblocks()): the next walk's estimate. */
    size_t last_n, last_edges, last_blocks;
    /* The graphs of the live snapshots that hold references: what only
     * they hold is heapscope's, never the program's (see hs_walk_opts). */
    const hs_graph **live;
    PyObject **live_obj;       /* the snapshots themselves, in step */
    size_t nlive, live_cap;
} modstate;

typedef struct PartitionObject PartitionObject;

typedef struct {
    PyObject_HEAD
    hs_graph *g;
    /* reverse edges etc., built on first use by whichever thread asks
     * first (the explorer's dominated-size worker asks without the GIL):
     * read and written under rel_lock (relations_once); rel_waiting
     * counts the threads waiting for a builder, which must then not pause
     * (hs_py_snapshot_relations_awaited) */
    hs_relations *rel;
    pthread_mutex_t rel_lock;
    pthread_cond_t rel_done;
    int rel_building;
    atomic_int rel_waiting;
    hs_heapdefs hd;            /* NyHeapDefs of the modules loaded then */
    PyObject *module;          /* keeps the state (and types) alive */
    int held;
    int young_off;             /* untracked for a young collection */
    hs_pagefilter pages;       /* as a mark: its objects' pages (heap());
                                  built on first use, bits NULL until then */
    PartitionObject *cuttable; /* its live byvia and byrcs partitions
                                  (borrowed: each leaves as it goes) */
} SnapshotObject;

typedef struct {
    PyObject_HEAD
    SnapshotObject *snap;
    hs_set s;
    int64_t size;              /* cached total size, -1 until computed */
} IdSetObject;

struct PartitionObject {
    PyObject_HEAD
    SnapshotObject *snap;
    hs_partition p;
    hs_rcs_table rcs;          /* referrer-kind lists of a byrcs partition */
    PyObject *set;             /* the IdSet partitioned, while the members
                                  are still to be computed (or NULL) */
    int selected;              /* a group was already cut by one pass */
    /* A byvia or byrcs partition: its rows stand for what its members are
     * whatever set they are in, so a subset's may be cut from it. */
    int cut_kind;              /* CUT_VIA, CUT_RCS, or CUT_NONE */
    int cut;                   /* it was cut from another */
    PyObject *via_labels;      /* a byvia partition's labels */
    PartitionObject *cut_prev, *cut_next;   /* in snapshot's `cuttable` */
};

enum { CUT_NONE, CUT_VIA, CUT_RCS };

typedef struct {
    PyObject_HEAD
    IdSetObject *set;
    size_t pos;
} IterObject;

static modstate *
state_of(PyObject *module)
{
    return (modstate *)PyModule_GetState(module);
}

static PyObject *
raise_hs(int err)
{
    if (PyErr_Occurred())
        return NULL;            /* a progress callback raised: keep it */
    if (err == -HS_ECANCELED) {
        PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
        return NULL;
    }
    if (err == -HS_ENOMEM)
        return PyErr_NoMemory();
    if (err == -HS_ERANGE)
        PyErr_SetString(PyExc_OverflowError,
                        "heap too large for 32-bit node ids");
    else
        PyErr_SetString(PyExc_ValueError, "invalid argument");
    return NULL;
}

/* Long computations take an optional `progress` callable: called as
 * progress(what, done, total) at most every 20 ms; if it raises, the
 * computation stops and the exception propagates. */
typedef struct {
    PyObject *cb;
    double last;
} pyprog;

static double
mono_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int
pyprog_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    pyprog *p = arg;
    double t = mono_now();
    if (t - p->last < 0.02)
        return 0;
    p->last = t;
    PyObject *r = PyObject_CallFunction(p->cb, "sKK", what,
                                        (unsigned long long)done,
                                        (unsigned long long)total);
    if (r == NULL)
        return 1;
    Py_DECREF(r);
    return 0;
}

/* An hs_progress calling `cb` (or none when cb is NULL or None).  The
 * explorer's own tick is its hs_progress, called directly: no Python call
 * each time, and no 20 ms between calls (the explorer reads the keyboard
 * at its own pace). */
static const hs_progress *
progress_of(PyObject *cb, pyprog *pp, hs_progress *hp)
{
    if (cb == NULL || cb == Py_None)
        return NULL;
    const hs_progress *direct = hs_py_model_progress(cb);
    if (direct != NULL)
        return direct;
    pp->cb = cb;
    pp->last = 0;
    hp->tick = pyprog_tick;
    hp->arg = pp;
    hp->any_thread = 0;
    return hp;
}

static int
parse_progress(PyObject *args, PyObject *kw, const char *fname,
               PyObject **cb)
{
    static char *kwlist[] = {"progress", NULL};
    char fmt[64];
    snprintf(fmt, sizeof fmt, "|O:%s", fname);
    *cb = NULL;
    return PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, cb);
}

/* ---- Snapshot ----------------------------------------------------------- */

/* Take the snapshot's rel_lock once no thread is building its relations
 * (a builder works with the lock released). */
static void
rel_lock_settled(SnapshotObject *self)
{
    pthread_mutex_lock(&self->rel_lock);
    if (!self->rel_building)
        return;
    atomic_fetch_add(&self->rel_waiting, 1);
    while (self->rel_building)
        pthread_cond_wait(&self->rel_done, &self->rel_lock);
    atomic_fetch_sub(&self->rel_waiting, 1);
}

/* The snapshot's relations, built now if they are not yet, by this
 * thread (ticking prog, which may be NULL), or by another that began first
 * (then waited for): no Python here, and the GIL may or may not be held.
 * 0, -HS_EINVAL (a mark: no edges), -HS_ENOMEM or -HS_ECANCELED (then
 * none built: the next caller builds them); *built: whether this call
 * built them. */
static int
relations_once(SnapshotObject *self, hs_relations **out, int *built,
               const hs_progress *prog)
{
    int err = 0;
    *built = 0;
    rel_lock_settled(self);
    if (self->rel == NULL && self->g->edges == NULL) {
        err = -HS_EINVAL;
    } else if (self->rel == NULL) {
        self->rel_building = 1;
        pthread_mutex_unlock(&self->rel_lock);
        hs_relations *r = NULL;
        err = hs_relations_new(&r, self->g, prog);
        pthread_mutex_lock(&self->rel_lock);
        self->rel = r;
        self->rel_building = 0;
        *built = r != NULL;
        pthread_cond_broadcast(&self->rel_done);
    }
    *out = self->rel;
    pthread_mutex_unlock(&self->rel_lock);
    return err;
}

/* The relations if built, else NULL (never waits for them). */
static hs_relations *
relations_built(SnapshotObject *self)
{
    pthread_mutex_lock(&self->rel_lock);
    hs_relations *r = self->rel_building ? NULL : self->rel;
    pthread_mutex_unlock(&self->rel_lock);
    return r;
}

/* While snapshots that hold the program's objects live, the arrays of a
 * snapshot dropped (h = hp.heap() again frees the last h after the walk)
 * are kept for the next big blocks, up to the size of the live ones (their
 * graphs and relations, built or to be built):
 * faulting fresh pages in is much of what a walk costs here, and the next
 * walk may come minutes later.  When the last one goes, so does what was
 * kept. */
static void
keep_freed_memory(const modstate *st)
{
    size_t bytes = 0;
    for (size_t k = 0; k < st->nlive; k++) {
        SnapshotObject *snap = (SnapshotObject *)st->live_obj[k];
        const hs_graph *g = st->live[k];
        hs_relations *rel = relations_built(snap);
        bytes += hs_graph_memory(g);
        /* its relations, or what they will take (reverse edges) */
        bytes += rel != NULL
                     ? hs_relations_memory(rel)
                     : ((size_t)g->n + (size_t)g->nedges + 3) * sizeof(hs_id);
    }
    hs_memory_keep(bytes);
}

static void
raise_no_edges(void)
{
    PyErr_SetString(PyExc_ValueError, "a mark has no edges: take a snapshot");
}

static hs_relations *
relations(SnapshotObject *self)
{
    hs_relations *rel;
    int built;
    int r = relations_once(self, &rel, &built, NULL);
    if (r == -HS_EINVAL) {
        raise_no_edges();
        return NULL;
    }
    if (r < 0) {
        raise_hs(r);
        return NULL;
    }
    if (built && self->held && self->module != NULL)
        keep_freed_memory(state_of(self->module));
    return rel;
}

/* The live-snapshot list of the module state (0, or -1 with MemoryError). */
static int
live_add(modstate *st, PyObject *snap, const hs_graph *g)
{
    if (st->nlive == st->live_cap) {
        size_t cap = st->live_cap ? 2 * st->live_cap : 8;
        const hs_graph **a = PyMem_Realloc(st->live, cap * sizeof *a);
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->live = a;
        PyObject **o = PyMem_Realloc(st->live_obj, cap * sizeof *o);
        if (o == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        st->live_obj = o;
        st->live_cap = cap;
    }
    st->live_obj[st->nlive] = snap;
    st->live[st->nlive++] = g;
    keep_freed_memory(st);
    return 0;
}

static void
live_remove(modstate *st, const hs_graph *g)
{
    for (size_t k = 0; k < st->nlive; k++)
        if (st->live[k] == g) {
            --st->nlive;
            st->live[k] = st->live[st->nlive];
            st->live_obj[k] = st->live_obj[st->nlive];
            keep_freed_memory(st);
            return;
        }
}

/* ---- the collector --------------------------------------------------------
 *
 * A snapshot holds a reference to every object it reports, and the program
 * may keep heapscope's sets inside objects the snapshot holds (self.h =
 * hp.heap() on an object older than the walk, a list of snapshots): a
 * cycle through C that only the collector can see.  So snapshots, sets,
 * partitions and iterators are collector objects.  A snapshot reports only
 * the held objects of collector types (the others, str or int, can hold
 * nothing), so a collection reads no more objects than it would anyway;
 * clearing one drops its references (its sets then hand nothing back).
 * The walk never follows a snapshot's traverse (hs_walk_opts.opaque). */
static int
snapshot_traverse(SnapshotObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->module);
    hs_graph *g = self->g;
    if (g == NULL || !self->held)
        return 0;
    for (hs_id i = 0; i < g->n; i++)
        if ((g->flags[i] & (HS_F_HELD | HS_F_GC)) == (HS_F_HELD | HS_F_GC))
            Py_VISIT((PyObject *)g->addr[i]);
    return 0;
}

static int
snapshot_clear(SnapshotObject *self)
{
    if (self->g != NULL && self->held)
        hs_py_release(self->g);
    return 0;
}

/* gc.callbacks: a snapshot reports every object of collector types it
 * holds, and those are old by the time anyone collects: a young
 * collection (generation 0 or 1) would read them all for nothing (0.17 s
 * at 14M objects, on the first collections after every heap()).  So live
 * snapshots are out of the collector during young collections and back in
 * for the others; a cycle through a snapshot is freed by a full one. */
static PyObject *
mod_gc_phase(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "gc_phase(phase, info)");
        return NULL;
    }
    modstate *st = state_of(module);
    if (st->nlive == 0)
        Py_RETURN_NONE;
    int start = PyUnicode_CompareWithASCIIString(args[0], "start") == 0;
    if (start) {
        PyObject *gen = PyDict_GetItemString(args[1], "generation");
        long g = gen != NULL ? PyLong_AsLong(gen) : -1;
        if (g == -1 && PyErr_Occurred())
            return NULL;
        if (g < 0 || g >= 2)
            Py_RETURN_NONE;
    }
    for (size_t k = 0; k < st->nlive; k++) {
        SnapshotObject *snap = (SnapshotObject *)st->live_obj[k];
        if (start && !snap->young_off && PyObject_GC_IsTracked(
                                             (PyObject *)snap)) {
            PyObject_GC_UnTrack(snap);
            snap->young_off = 1;
        } else if (!start && snap->young_off) {
            snap->young_off = 0;
            PyObject_GC_Track(snap);
        }
    }
    Py_RETURN_NONE;
}

static void
snapshot_dealloc(SnapshotObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    hs_graph *g = self->g;
    self->g = NULL;
    if (g != NULL && self->held && self->module != NULL)
        live_remove(state_of(self->module), g);
    /* (no thread is building them: a job that would keeps the snapshot) */
    hs_relations_free(self->rel);
    self->rel = NULL;
    pthread_mutex_destroy(&self->rel_lock);
    pthread_cond_destroy(&self->rel_done);
    hs_pagefilter_free(&self->pages);
    hs_heapdefs_free(&self->hd);
    /* Dropping our references can run finalizers: the graph is detached
     * first so nothing can reach it half-freed. */
    if (self->held)
        hs_py_release(g);
    hs_graph_free(g);
    Py_XDECREF(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int
is_snapshot(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == (destructor)snapshot_dealloc;
}

static int
reportable(const hs_graph *g, hs_id i)
{
    return !(g->flags[i] & (HS_F_VIRTUAL | HS_F_STATIC | HS_F_HIDDEN));
}

static PyObject *
new_idset(SnapshotObject *snap, hs_set *s)
{
    modstate *st = state_of(snap->module);
    IdSetObject *o = PyObject_GC_New(IdSetObject, st->idset_type);
    if (o == NULL) {
        hs_set_free(s);
        return NULL;
    }
    Py_INCREF(snap);
    o->snap = snap;
    o->s = *s;
    o->size = -1;
    s->ids = NULL;
    s->n = 0;
    PyObject_GC_Track(o);
    return (PyObject *)o;
}

/* An id set from ids already sorted and distinct (takes ownership). */
static PyObject *
idset_from_sorted(SnapshotObject *snap, hs_id *ids, size_t n)
{
    hs_set s;
    (void)hs_set_adopt(&s, ids, n, 0);  /* without sorting it cannot fail */
    return new_idset(snap, &s);
}

static int
check_id(SnapshotObject *self, long long id)
{
    if (id < 0 || id >= (long long)self->g->n) {
        PyErr_Format(PyExc_IndexError, "node id %lld out of range", id);
        return -1;
    }
    return 0;
}

static PyObject *
snapshot_object(SnapshotObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    if (!(self->g->flags[id] & HS_F_HELD)) {
        PyErr_SetString(PyExc_LookupError,
                        "this snapshot holds no reference to that object");
        return NULL;
    }
    PyObject *o = (PyObject *)self->g->addr[id];
    Py_INCREF(o);
    return o;
}

static PyObject *
snapshot_node(SnapshotObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    hs_graph *g = self->g;
    hs_id t = g->type[id];
    return Py_BuildValue("(KLKi)", (unsigned long long)g->addr[id],
                         t == HS_NO_ID ? -1LL : (long long)t,
                         (unsigned long long)hs_graph_size(g, (hs_id)id),
                         (int)g->flags[id]);
}

/* Node of a live object, or -1: the address must be in the snapshot and
 * still carry the type recorded then. */
static long long
find_object(SnapshotObject *self, PyObject *o)
{
    hs_graph *g = self->g;
    hs_id id = hs_graph_find(g, (uintptr_t)o);
    if (id == HS_NO_ID || g->type[id] == HS_NO_ID ||
        g->addr[g->type[id]] != (uintptr_t)Py_TYPE(o))
        return -1;
    return id;
}

static PyObject *
snapshot_find(SnapshotObject *self, PyObject *o)
{
    return PyLong_FromLongLong(find_object(self, o));
}

#define MARK_AHEAD 48   /* nodes ahead whose mark slot is prefetched */

static PyObject *
snapshot_heap(SnapshotObject *self, PyObject *args)
{
    PyObject *mark = Py_None;
    int unreached_only = 0;
    if (!PyArg_ParseTuple(args, "|Op", &mark, &unreached_only))
        return NULL;
    if (mark != Py_None && !is_snapshot(mark)) {
        PyErr_SetString(PyExc_TypeError, "mark must be a snapshot or None");
        return NULL;
    }
    hs_graph *g = self->g;
    const hs_graph *m = NULL;
    const hs_pagefilter *pages = NULL;
    if (mark != Py_None) {
        SnapshotObject *ms = (SnapshotObject *)mark;
        m = ms->g;
        /* Most of a new heap lies on pages the mark has no object on: a
         * bit of the mark's page filter (kept in the caches) answers for
         * them, where its table would miss on every lookup. */
        if (ms->pages.bits == NULL &&
            hs_pagefilter_build(&ms->pages, m) < 0)
            return PyErr_NoMemory();
        pages = &ms->pages;
    }
    hs_id *ids = hs_set_alloc((size_t)g->n + 1);
    if (ids == NULL)
        return PyErr_NoMemory();
    size_t n = 0;
    hs_id first = unreached_only ? (g->gc_root == HS_NO_ID ? g->n : g->gc_root)
                                 : 0;
    for (hs_id i = first; i < g->n; i++) {
        if (m != NULL && g->n - i > MARK_AHEAD) {
            uint64_t b = hs_pagefilter_bit(pages, g->addr[i + MARK_AHEAD]);
            hs_prefetch(&pages->bits[b >> 6]);
        }
        if (!reportable(g, i))
            continue;
        if (m != NULL && hs_pagefilter_maybe(pages, g->addr[i])) {
            /* Present at the mark: same address and same type then. */
            hs_id j = hs_graph_find(m, g->addr[i]);
            if (j != HS_NO_ID && m->type[j] != HS_NO_ID &&
                m->addr[m->type[j]] == g->addr[g->type[i]])
                continue;
        }
        ids[n++] = i;
    }
    return idset_from_sorted(self, ids, n);
}

static PyObject *
snapshot_idset(SnapshotObject *self, PyObject *args)
{
    PyObject *iterable;
    int held_only = 0;
    if (!PyArg_ParseTuple(args, "O|p", &iterable, &held_only))
        return NULL;
    PyObject *it = PyObject_GetIter(iterable);
    if (it == NULL)
        return NULL;
    size_t cap = 64, n = 0, missing = 0;
    hs_id *ids = malloc(cap * sizeof *ids);
    if (ids == NULL) {
        Py_DECREF(it);
        return PyErr_NoMemory();
    }
    PyObject *o;
    while ((o = PyIter_Next(it)) != NULL) {
        long long id = find_object(self, o);
        Py_DECREF(o);
        if (id < 0 || (held_only && !(self->g->flags[id] & HS_F_HELD))) {
            missing++;
            continue;
        }
        if (n == cap) {
            hs_id *b = realloc(ids, cap * 2 * sizeof *ids);
            if (b == NULL) {
                free(ids);
                Py_DECREF(it);
                return PyErr_NoMemory();
            }
            ids = b;
            cap *= 2;
        }
        ids[n++] = (hs_id)id;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        free(ids);
        return NULL;
    }
    hs_set s;
    int r = hs_set_from_ids(&s, ids, n);
    free(ids);
    if (r < 0)
        return raise_hs(r);
    PyObject *set = new_idset(self, &s);
    if (set == NULL)
        return NULL;
    return Py_BuildValue("(Nn)", set, (Py_ssize_t)missing);
}

static PyObject *
snapshot_root_edges(SnapshotObject *self, PyObject *unused)
{
    hs_graph *g = self->g;
    PyObject *list = PyList_New(0);
    if (list == NULL)
        return NULL;
    uint32_t n = g->edge_start ? hs_graph_nout(g, HS_ROOT) : 0;
    for (uint32_t k = 0; k < n && k < g->nroot_label; k++) {
        PyObject *t = Py_BuildValue("(sI)", g->root_label[k],
                                    (unsigned)g->edges[k]);
        if (t == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(t);
    }
    return list;
}

static PyObject *
snapshot_shortest_path(SnapshotObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    hs_relations *rel = relations(self);
    if (rel == NULL)
        return NULL;
    size_t max = 1024, len;
    hs_id *path = NULL;
    int r;
    do {
        max *= 4;
        free(path);
        path = malloc(max * sizeof *path);
        if (path == NULL)
            return PyErr_NoMemory();
        r = hs_shortest_path(rel, (hs_id)id, path, max, &len);
    } while (r == -HS_ERANGE && max < ((size_t)1 << 32));
    if (r < 0) {
        free(path);
        return raise_hs(r);
    }
    PyObject *list = PyList_New((Py_ssize_t)len);
    for (size_t k = 0; list != NULL && k < len; k++) {
        PyObject *v = PyLong_FromUnsignedLong(path[k]);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)k, v);
    }
    free(path);
    return list;
}

static PyObject *
snapshot_retained(SnapshotObject *self, PyObject *args)
{
    long long id;
    int wait = 1;
    if (!PyArg_ParseTuple(args, "L|p:retained", &id, &wait))
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    hs_relations *rel = relations(self);
    if (rel == NULL)
        return NULL;
    if (!wait && !hs_dominators_ready(rel))
        Py_RETURN_NONE;
    int r = hs_dominators(rel, NULL);
    if (r < 0)
        return raise_hs(r);
    hs_id d = rel->idom[id];
    return Py_BuildValue("(KL)", (unsigned long long)rel->retained[id],
                         d == HS_NO_ID ? -1LL : (long long)d);
}

static PyObject *
snapshot_referrer_ids(SnapshotObject *self, PyObject *arg)
{
    long long id = PyLong_AsLongLong(arg);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    hs_relations *rel = relations(self);
    if (rel == NULL)
        return NULL;
    uint32_t m = hs_rel_nin(rel, (hs_id)id);
    const hs_id *in = hs_rel_in(rel, (hs_id)id);
    PyObject *list = PyList_New(m);
    for (uint32_t k = 0; list != NULL && k < m; k++) {
        PyObject *v = PyLong_FromUnsignedLong(in[k]);
        if (v == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, k, v);
    }
    return list;
}

static PyObject *
snapshot_relate(SnapshotObject *self, PyObject *args)
{
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL", &a, &b))
        return NULL;
    if (check_id(self, a) < 0 || check_id(self, b) < 0)
        return NULL;
    hs_graph *g = self->g;
    if (!(g->flags[a] & HS_F_HELD) || !(g->flags[b] & HS_F_HELD)) {
        PyErr_SetString(PyExc_LookupError,
                        "this snapshot holds no reference to those objects");
        return NULL;
    }
    PyObject *names = PyList_New(0);
    if (names != NULL &&
        hs_py_relate((PyObject *)g->addr[a], (PyObject *)g->addr[b],
                     &self->hd, names) < 0)
        Py_CLEAR(names);
    return names;
}

typedef struct {
    PyObject *list;
    Py_ssize_t limit;
    int err;
} holds_arg;

static int
holds_visit(PyObject *dst, const hs_relname *n, void *arg)
{
    holds_arg *h = arg;
    if (PyList_GET_SIZE(h->list) >= h->limit)
        return 1;
    PyObject *name = hs_py_relname(n);
    PyObject *t = name ? PyTuple_Pack(2, name, dst) : NULL;
    Py_XDECREF(name);
    if (t == NULL || PyList_Append(h->list, t) < 0) {
        Py_XDECREF(t);
        h->err = 1;
        return 1;
    }
    Py_DECREF(t);
    return 0;
}

static PyObject *
snapshot_holds(SnapshotObject *self, PyObject *args)
{
    long long id;
    Py_ssize_t limit = 100;
    if (!PyArg_ParseTuple(args, "L|n", &id, &limit))
        return NULL;
    if (check_id(self, id) < 0)
        return NULL;
    if (!(self->g->flags[id] & HS_F_HELD)) {
        PyErr_SetString(PyExc_LookupError,
                        "this snapshot holds no reference to that object");
        return NULL;
    }
    holds_arg h = {PyList_New(0), limit, 0};
    if (h.list == NULL)
        return NULL;
    hs_py_relate_all((PyObject *)self->g->addr[id], &self->hd, holds_visit,
                     &h);
    if (h.err)
        Py_CLEAR(h.list);
    return h.list;
}

static PyObject *
snapshot_drop_edges(SnapshotObject *self, PyObject *unused)
{
    rel_lock_settled(self);
    hs_relations_free(self->rel);
    self->rel = NULL;
    hs_graph_drop_edges(self->g);
    pthread_mutex_unlock(&self->rel_lock);
    Py_RETURN_NONE;
}

static PyObject *
snapshot_get_count(SnapshotObject *self, void *c)
{
    return PyLong_FromUnsignedLong(self->g->n);
}

static PyObject *
snapshot_get_nedges(SnapshotObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->g->nedges);
}

static PyObject *
snapshot_get_memory(SnapshotObject *self, void *c)
{
    hs_relations *rel = relations_built(self);
    return PyLong_FromSize_t(hs_graph_memory(self->g) +
                             (rel ? hs_relations_memory(rel) : 0));
}

static PyObject *
snapshot_get_has_relations(SnapshotObject *self, void *c)
{
    return PyBool_FromLong(relations_built(self) != NULL);
}

static PyObject *
snapshot_get_gc_root(SnapshotObject *self, void *c)
{
    return PyLong_FromLongLong(self->g->gc_root == HS_NO_ID
                                   ? -1 : (long long)self->g->gc_root);
}

static PyObject *
snapshot_get_arg_root(SnapshotObject *self, void *c)
{
    return PyLong_FromLongLong(self->g->arg_root == HS_NO_ID
                                   ? -1 : (long long)self->g->arg_root);
}

static PyObject *
snapshot_get_type_root(SnapshotObject *self, void *c)
{
    return PyLong_FromLongLong(self->g->type_root == HS_NO_ID
                                   ? -1 : (long long)self->g->type_root);
}

static PyMethodDef snapshot_methods[] = {
    {"object", (PyCFunction)snapshot_object, METH_O,
     "object(id) -> the object of node id (the snapshot holds it)."},
    {"node", (PyCFunction)snapshot_node, METH_O,
     "node(id) -> (address, type id, size, flags)."},
    {"find", (PyCFunction)snapshot_find, METH_O,
     "find(obj) -> node id of obj, or -1 if it is not in the snapshot."},
    {"heap", (PyCFunction)snapshot_heap, METH_VARARGS,
     "heap(mark=None, unreached_only=False) -> IdSet of the objects not "
     "present in mark (heapscope's own and static objects excluded)."},
    {"idset", (PyCFunction)snapshot_idset, METH_VARARGS,
     "idset(iterable, held_only=False) -> (IdSet, number of objects not in "
     "the snapshot, or with held_only not held by it)."},
    {"root_edges", (PyCFunction)snapshot_root_edges, METH_NOARGS,
     "root_edges() -> [(label, id)] for the root's edges."},
    {"holds", (PyCFunction)snapshot_holds, METH_VARARGS,
     "holds(id, limit=100) -> [(name, object)]: what node id's object "
     "refers to and how ('.attr', \"['key']\", '[3]'), the first limit."},
    {"drop_edges", (PyCFunction)snapshot_drop_edges, METH_NOARGS,
     "drop_edges(): keep only what a mark needs."},
    {"relate", (PyCFunction)snapshot_relate, METH_VARARGS,
     "relate(src, dst) -> the names of the ways node src refers to dst."},
    {"shortest_path", (PyCFunction)snapshot_shortest_path, METH_O,
     "shortest_path(id) -> [ids] from a root down to id ([] if none)."},
    {"retained", (PyCFunction)snapshot_retained, METH_VARARGS,
     "retained(id, wait=True) -> (bytes id dominates, immediate dominator "
     "or -1), computing the dominator tree first if need be; with "
     "wait=False, None unless the tree is there already."},
    {"referrer_ids", (PyCFunction)snapshot_referrer_ids, METH_O,
     "referrer_ids(id) -> ids of the nodes referring to id (with roots)."},
    {NULL}
};

static PyGetSetDef snapshot_getset[] = {
    {"count", (getter)snapshot_get_count, NULL, "nodes, virtual ones included"},
    {"nedges", (getter)snapshot_get_nedges, NULL, "edges"},
    {"memory", (getter)snapshot_get_memory, NULL, "bytes the snapshot uses"},
    {"has_relations", (getter)snapshot_get_has_relations, NULL,
     "whether its reverse edges are built"},
    {"gc_root", (getter)snapshot_get_gc_root, NULL,
     "node of the collector-only root, or -1"},
    {"arg_root", (getter)snapshot_get_arg_root, NULL,
     "node of the root of unreached query arguments, or -1"},
    {"type_root", (getter)snapshot_get_type_root, NULL,
     "node of the root of static types, or -1"},
    {NULL}
};

static PyType_Slot snapshot_slots[] = {
    {Py_tp_dealloc, snapshot_dealloc},
    {Py_tp_traverse, snapshot_traverse},
    {Py_tp_clear, snapshot_clear},
    {Py_tp_methods, snapshot_methods},
    {Py_tp_getset, snapshot_getset},
    {Py_tp_doc, "A snapshot of the heap: flat arrays, no Python objects."},
    {0, NULL}
};

static PyType_Spec snapshot_spec = {
    "heapscope._heapscope.Snapshot", sizeof(SnapshotObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, snapshot_slots
};

/* ---- IdSet -------------------------------------------------------------- */

static int
idset_traverse(IdSetObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->snap);
    return 0;
}

static void
idset_dealloc(IdSetObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    hs_set_free(&self->s);
    Py_XDECREF(self->snap);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static int
is_idset(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == (destructor)idset_dealloc;
}

static Py_ssize_t
idset_len(IdSetObject *self)
{
    return (Py_ssize_t)self->s.n;
}

static int
idset_contains(IdSetObject *self, PyObject *o)
{
    long long id = find_object(self->snap, o);
    return id >= 0 && hs_set_contains(&self->s, (hs_id)id);
}

/* `other` expressed in self's snapshot: the same object where the snapshots
 * differ (by address and type).  An object of other's that self's snapshot
 * never saw is an error naming the problem, or, when `missing` is given,
 * left out and counted there. */
static int
same_snapshot(IdSetObject *self, IdSetObject *other, hs_set *out, int *owned,
              size_t *missing)
{
    *owned = 0;
    if (missing != NULL)
        *missing = 0;
    if (other->snap == self->snap) {
        *out = other->s;
        return 0;
    }
    hs_graph *g = self->snap->g, *h = other->snap->g;
    hs_id *ids = malloc((other->s.n + 1) * sizeof *ids);
    if (ids == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* Two passes, each fetching MARK_AHEAD members ahead: the lookups in
     * self's table, then the nodes they found (both scattered over arrays
     * bigger than the caches). */
    const hs_id *from = other->s.ids;
    size_t n = 0, count = other->s.n;
    for (size_t k = 0; k < count; k++) {
        if (k + MARK_AHEAD < count)
            hs_graph_prefetch(g, h->addr[from[k + MARK_AHEAD]]);
        ids[k] = hs_graph_find(g, h->addr[from[k]]);
    }
    for (size_t k = 0; k < count; k++) {
        if (k + MARK_AHEAD < count && ids[k + MARK_AHEAD] != HS_NO_ID) {
            hs_prefetch(&g->type[ids[k + MARK_AHEAD]]);
            hs_prefetch(&g->flags[ids[k + MARK_AHEAD]]);
        }
        hs_id j = from[k], i = ids[k];
        /* (a node self's snapshot does not hold is heapscope's own
         * there, e.g. what only other's snapshot kept alive) */
        if (i == HS_NO_ID || g->type[i] == HS_NO_ID ||
            g->addr[g->type[i]] != h->addr[h->type[j]] ||
            (self->snap->held && !(g->flags[i] & HS_F_HELD))) {
            if (missing != NULL) {
                ++*missing;
                continue;
            }
            free(ids);
            PyErr_SetString(PyExc_ValueError,
                            "the sets come from different snapshots and one "
                            "holds objects the other never saw; take both "
                            "from the same hp.heap()");
            return -1;
        }
        ids[n++] = i;
    }
    int r = hs_set_from_ids(out, ids, n);
    free(ids);
    if (r < 0) {
        raise_hs(r);
        return -1;
    }
    *owned = 1;
    return 0;
}

static PyObject *
idset_binop(PyObject *a, PyObject *b, enum hs_setop op)
{
    if (!is_idset(a) || !is_idset(b))
        Py_RETURN_NOTIMPLEMENTED;
    IdSetObject *x = (IdSetObject *)a, *y = (IdSetObject *)b;
    hs_set other, out;
    int owned;
    size_t missing;
    if (op == HS_AND || op == HS_SUB) {
        /* What x's snapshot never saw is not in x: it changes neither
         * x & y nor x - y. */
        if (same_snapshot(x, y, &other, &owned, &missing) < 0)
            return NULL;
    } else if (same_snapshot(x, y, &other, &owned, NULL) < 0) {
        /* The union needs one snapshot that saw both: maybe y's did. */
        PyErr_Clear();
        IdSetObject *t = x;
        x = y;
        y = t;
        if (same_snapshot(x, y, &other, &owned, NULL) < 0)
            return NULL;
    }
    int r = hs_set_op(&out, &x->s, &other, op);
    if (owned)
        hs_set_free(&other);
    if (r < 0)
        return raise_hs(r);
    return new_idset(x->snap, &out);
}

static PyObject *idset_or(PyObject *a, PyObject *b) { return idset_binop(a, b, HS_OR); }
static PyObject *idset_and(PyObject *a, PyObject *b) { return idset_binop(a, b, HS_AND); }
static PyObject *idset_sub(PyObject *a, PyObject *b) { return idset_binop(a, b, HS_SUB); }
static PyObject *idset_xor(PyObject *a, PyObject *b) { return idset_binop(a, b, HS_XOR); }

static PyObject *
idset_richcompare(PyObject *a, PyObject *b, int op)
{
    if (!is_idset(a) || !is_idset(b))
        Py_RETURN_NOTIMPLEMENTED;
    IdSetObject *x = (IdSetObject *)a, *y = (IdSetObject *)b;
    hs_set other;
    int owned;
    size_t missing;
    if (same_snapshot(x, y, &other, &owned, &missing) < 0)
        return NULL;
    /* y's objects that x's snapshot never saw are not in x: x <= y still
     * asks only about x's own, and x >= y is then false. */
    int le = hs_set_le(&x->s, &other);
    int ge = missing == 0 && hs_set_le(&other, &x->s);
    size_t xn = x->s.n, yn = y->s.n;
    if (owned)
        hs_set_free(&other);
    int res;
    switch (op) {
    case Py_EQ: res = le && xn == yn; break;
    case Py_NE: res = !(le && xn == yn); break;
    case Py_LE: res = le; break;
    case Py_LT: res = le && xn < yn; break;
    case Py_GE: res = ge; break;
    case Py_GT: res = ge && xn > yn; break;
    default: Py_RETURN_NOTIMPLEMENTED;
    }
    return PyBool_FromLong(res);
}

static PyObject *
idset_get_size(IdSetObject *self, void *c)
{
    if (self->size < 0)
        self->size = (int64_t)hs_set_size(self->snap->g, &self->s);
    return PyLong_FromLongLong(self->size);
}

static PyObject *
idset_get_count(IdSetObject *self, void *c)
{
    return PyLong_FromSize_t(self->s.n);
}

static PyObject *
idset_get_snapshot(IdSetObject *self, void *c)
{
    Py_INCREF(self->snap);
    return (PyObject *)self->snap;
}

/* An empty partition of `snap`'s (tracked: its fields are all set). */
static PartitionObject *
new_partition(SnapshotObject *snap)
{
    modstate *st = state_of(snap->module);
    PartitionObject *p = PyObject_GC_New(PartitionObject, st->partition_type);
    if (p == NULL)
        return NULL;
    Py_INCREF(snap);
    p->snap = snap;
    memset(&p->p, 0, sizeof p->p);
    memset(&p->rcs, 0, sizeof p->rcs);
    p->set = NULL;
    p->selected = 0;
    p->cut_kind = CUT_NONE;
    p->cut = 0;
    p->via_labels = NULL;
    p->cut_prev = p->cut_next = NULL;
    PyObject_GC_Track(p);
    return p;
}

static PyObject *
idset_partition(IdSetObject *self, PyObject *arg)
{
    long by = PyLong_AsLong(arg);
    if (by == -1 && PyErr_Occurred())
        return NULL;
    if (by < HS_BY_TYPE || by > HS_BY_UNITY) {
        PyErr_SetString(PyExc_ValueError, "unknown classifier");
        return NULL;
    }
    PartitionObject *p = new_partition(self->snap);
    if (p == NULL)
        return NULL;
    int r = hs_partition_new(&p->p, self->snap->g, &self->s,
                             (enum hs_classifier)by, NULL);
    if (r < 0) {
        memset(&p->p, 0, sizeof p->p);
        Py_DECREF(p);
        return raise_hs(r);
    }
    if (p->p.member == NULL) {
        Py_INCREF(self);        /* its members, when a row is asked for */
        p->set = (PyObject *)self;
    }
    return (PyObject *)p;
}

static PyObject *
idset_select(IdSetObject *self, PyObject *args)
{
    int by;
    unsigned long long key;
    int negate = 0;
    if (!PyArg_ParseTuple(args, "iK|p", &by, &key, &negate))
        return NULL;
    if (by < HS_BY_TYPE || by > HS_BY_UNITY) {
        PyErr_SetString(PyExc_ValueError, "unknown classifier");
        return NULL;
    }
    hs_id *ids = hs_set_alloc(self->s.n + 1);
    if (ids == NULL)
        return PyErr_NoMemory();
    size_t n = 0;
    for (size_t k = 0; k < self->s.n; k++) {
        hs_id i = self->s.ids[k];
        int match = hs_classify(self->snap->g, i, (enum hs_classifier)by) == key;
        if (match != negate)
            ids[n++] = i;
    }
    return idset_from_sorted(self->snap, ids, n);
}

static PyObject *
idset_ids(IdSetObject *self, PyObject *unused)
{
    PyObject *list = PyList_New((Py_ssize_t)self->s.n);
    if (list == NULL)
        return NULL;
    for (size_t k = 0; k < self->s.n; k++) {
        PyObject *v = PyLong_FromUnsignedLong(self->s.ids[k]);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, v);
    }
    return list;
}

static PyObject *
idset_complement(IdSetObject *self, PyObject *unused)
{
    /* Everything reportable in the snapshot that is not in self. */
    hs_graph *g = self->snap->g;
    hs_id *ids = hs_set_alloc((size_t)g->n + 1);
    if (ids == NULL)
        return PyErr_NoMemory();
    size_t n = 0, k = 0;
    for (hs_id i = 0; i < g->n; i++) {
        while (k < self->s.n && self->s.ids[k] < i)
            k++;
        if (k < self->s.n && self->s.ids[k] == i)
            continue;
        if (reportable(g, i))
            ids[n++] = i;
    }
    return idset_from_sorted(self->snap, ids, n);
}

static PyObject *
idset_related(IdSetObject *self, int referrers)
{
    hs_relations *rel = relations(self->snap);
    if (rel == NULL)
        return NULL;
    hs_set out;
    int r = referrers ? hs_referrers(rel, &self->s, &out)
                      : hs_referents(rel, &self->s, &out);
    if (r < 0)
        return raise_hs(r);
    return new_idset(self->snap, &out);
}

static PyObject *
idset_referrers(IdSetObject *self, PyObject *unused)
{
    return idset_related(self, 1);
}

static PyObject *
idset_referents(IdSetObject *self, PyObject *unused)
{
    return idset_related(self, 0);
}

static PyObject *
idset_domisize(IdSetObject *self, PyObject *args, PyObject *kw)
{
    PyObject *cb;
    pyprog pp;
    hs_progress hp;
    if (!parse_progress(args, kw, "domisize", &cb))
        return NULL;
    hs_relations *rel = relations(self->snap);
    if (rel == NULL)
        return NULL;
    uint64_t bytes;
    int r = hs_domisize(rel, &self->s, &bytes, NULL,
                        progress_of(cb, &pp, &hp));
    if (r < 0)
        return raise_hs(r);
    return PyLong_FromUnsignedLongLong(bytes);
}

static PyObject *
idset_dominos(IdSetObject *self, PyObject *args, PyObject *kw)
{
    PyObject *cb;
    pyprog pp;
    hs_progress hp;
    if (!parse_progress(args, kw, "dominos", &cb))
        return NULL;
    hs_relations *rel = relations(self->snap);
    if (rel == NULL)
        return NULL;
    uint64_t bytes;
    hs_set out;
    int r = hs_domisize(rel, &self->s, &bytes, &out,
                        progress_of(cb, &pp, &hp));
    if (r < 0)
        return raise_hs(r);
    return new_idset(self->snap, &out);
}

/* ---- partitions cut from a live one of a set that holds the set ----------
 *
 * An object's row in a byvia (how its referrers refer to it) or a byrcs
 * (what kinds its referrers are) is the same whatever set it is in: all of
 * the snapshot's referrers count.  So while such a partition of a set lives
 * (h.byvia, which h keeps), the same partition of a subset is cut from it
 * (hs_partition_restrict: two passes over its members) instead of being
 * computed again: the same rows in the same order. */

/* p joins its snapshot's live partitions that may be cut from. */
static void
cut_register(PartitionObject *p, int kind)
{
    p->cut_kind = kind;
    p->cut_next = p->snap->cuttable;
    if (p->cut_next != NULL)
        p->cut_next->cut_prev = p;
    p->snap->cuttable = p;
}

/* Cut from `from` into p (its rows' labels too); 0, 1 when self's set is
 * not within from's, -1 with an exception set. */
static int
cut_one(IdSetObject *self, const PartitionObject *from, PartitionObject *p,
        PyObject **labels)
{
    if (from->cut_kind == CUT_VIA)
        return hs_py_via_restrict(self->snap->module, self->snap->g, &from->p,
                                  from->via_labels, &self->s, &p->p, labels);
    uint64_t *ids;
    int r = hs_partition_restrict(&p->p, &from->p, self->snap->g, &self->s,
                                  &ids);
    if (r == -HS_EINVAL)
        return 1;
    if (r == 0) {
        r = hs_rcs_table_pick(&p->rcs, &from->rcs, ids, p->p.ngroups);
        free(ids);
        if (r < 0)
            hs_partition_free(&p->p);
    }
    if (r < 0) {
        raise_hs(r);
        return -1;
    }
    return 0;
}

/* Cut p from the smallest live partition of `kind` of a set that holds
 * self's, if one is worth it (it costs passes over that partition's
 * members: a set a sixteenth its size or less is computed as it is), trying
 * a few.  0 when cut; 1 when not; -1 with an exception set. */
#define CUT_SHARE 16
#define CUT_TRIES 4

static int
cut_from_live(IdSetObject *self, int kind, PartitionObject *p,
              PyObject **labels)
{
    const PartitionObject *tried[CUT_TRIES];
    size_t ntried = 0;
    while (ntried < CUT_TRIES) {
        const PartitionObject *best = NULL;
        for (const PartitionObject *q = self->snap->cuttable; q != NULL;
             q = q->cut_next) {
            uint64_t n = q->p.total_count;
            int seen = 0;
            for (size_t t = 0; t < ntried; t++)
                seen |= tried[t] == q;
            if (!seen && q->cut_kind == kind && q->p.member != NULL &&
                n >= self->s.n && self->s.n * CUT_SHARE >= n &&
                (best == NULL || n < best->p.total_count))
                best = q;
        }
        if (best == NULL)
            return 1;
        tried[ntried++] = best;
        int r = cut_one(self, best, p, labels);
        if (r <= 0) {
            p->cut = r == 0;
            return r;
        }
    }
    return 1;
}

static PyObject *
idset_rcs_partition(IdSetObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"derive", NULL};
    int derive = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|p:rcs_partition", kwlist,
                                     &derive))
        return NULL;
    PartitionObject *p = new_partition(self->snap);
    if (p == NULL)
        return NULL;
    int r = derive ? cut_from_live(self, CUT_RCS, p, NULL) : 1;
    if (r < 0) {
        Py_DECREF(p);
        return NULL;
    }
    if (r > 0) {
        hs_relations *rel = relations(self->snap);
        uint64_t *keys = rel != NULL
                             ? hs_scratch_new((self->s.n + 1) * sizeof *keys)
                             : NULL;
        if (keys == NULL) {
            if (rel != NULL)
                PyErr_NoMemory();
            Py_DECREF(p);
            return NULL;
        }
        r = hs_rcs_classify(rel, &self->s, keys, &p->rcs, 2);
        if (r == 0)
            r = hs_partition_new(&p->p, self->snap->g, &self->s, HS_BY_UNITY,
                                 keys);
        hs_scratch_free(keys);
        if (r < 0) {
            Py_DECREF(p);
            return raise_hs(r);
        }
    }
    /* (a dense partition has its members: a subset's may be cut from it) */
    if (p->p.member != NULL)
        cut_register(p, CUT_RCS);
    return (PyObject *)p;
}

static PyObject *
idset_via_partition(IdSetObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"progress", "threads", "derive", NULL};
    PyObject *cb = NULL;
    int threads = 2, derive = 1;
    pyprog pp;
    hs_progress hp;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Oip:via_partition", kwlist,
                                     &cb, &threads, &derive))
        return NULL;
    PyObject *labels = NULL;
    PartitionObject *p = new_partition(self->snap);
    if (p == NULL)
        return NULL;
    int r = derive ? cut_from_live(self, CUT_VIA, p, &labels) : 1;
    if (r < 0)
        goto error;
    if (r > 0) {
        /* (never waits for the relations: without them, byvia scans the
         * forward edges, which costs less than building them) */
        hs_relations *rel = relations_built(self->snap);
        if (rel == NULL && self->snap->g->edges == NULL) {
            raise_no_edges();
            goto error;
        }
        uint32_t *keys = hs_scratch_new((self->s.n + 1) * sizeof *keys);
        if (keys == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        r = hs_py_via_classify(self->snap->module, self->snap->g, rel,
                               &self->snap->hd, &self->s, keys, &p->p,
                               &labels, progress_of(cb, &pp, &hp), threads);
        hs_scratch_free(keys);
        if (r < 0)
            goto error;
    }
    Py_INCREF(labels);
    p->via_labels = labels;
    cut_register(p, CUT_VIA);
    return Py_BuildValue("(NN)", (PyObject *)p, labels);
error:
    Py_XDECREF(labels);
    Py_XDECREF(p);
    return NULL;
}

/* By allocation site (heapy's byprod), from tracemalloc: each member's
 * most recent traced frame, "file:line"; "<not traced>" for objects
 * allocated while tracemalloc was off. */
static PyObject *
idset_prod_partition(IdSetObject *self, PyObject *unused)
{
    hs_graph *g = self->snap->g;
    PyObject *index = PyDict_New(), *labels = PyList_New(0);
    PartitionObject *p = NULL;
    uint64_t *keys = hs_scratch_new((self->s.n + 1) * sizeof *keys);
    if (index == NULL || labels == NULL || keys == NULL) {
        if (keys == NULL)
            PyErr_NoMemory();
        goto error;
    }
    for (size_t k = 0; k < self->s.n; k++) {
        hs_id i = self->s.ids[k];
        PyObject *label = NULL;
        if (g->flags[i] & HS_F_HELD) {
            PyObject *tb = hs_compat_object_traceback((PyObject *)g->addr[i]);
            if (tb == NULL)
                goto error;
            if (PyTuple_Check(tb) && PyTuple_GET_SIZE(tb) > 0) {
                PyObject *fr = PyTuple_GET_ITEM(tb, 0);
                if (PyTuple_Check(fr) && PyTuple_GET_SIZE(fr) >= 2)
                    label = PyUnicode_FromFormat(
                        "%S:%S", PyTuple_GET_ITEM(fr, 0),
                        PyTuple_GET_ITEM(fr, 1));
            }
            Py_DECREF(tb);
            if (label == NULL && PyErr_Occurred())
                goto error;
        }
        if (label == NULL && (label = PyUnicode_FromString("<not traced>")) == NULL)
            goto error;
        PyObject *gi = PyDict_GetItemWithError(index, label);
        if (gi == NULL) {
            if (PyErr_Occurred() ||
                (gi = PyLong_FromSsize_t(PyList_GET_SIZE(labels))) == NULL) {
                Py_DECREF(label);
                goto error;
            }
            if (PyDict_SetItem(index, label, gi) < 0 ||
                PyList_Append(labels, label) < 0) {
                Py_DECREF(gi);
                Py_DECREF(label);
                goto error;
            }
            Py_DECREF(gi);
        }
        keys[k] = PyLong_AsUnsignedLongLong(gi);
        Py_DECREF(label);
    }
    p = new_partition(self->snap);
    if (p == NULL)
        goto error;
    int r = hs_partition_new(&p->p, g, &self->s, HS_BY_UNITY, keys);
    if (r < 0) {
        raise_hs(r);
        goto error;
    }
    hs_scratch_free(keys);
    Py_DECREF(index);
    return Py_BuildValue("(NN)", (PyObject *)p, labels);
error:
    hs_scratch_free(keys);
    Py_XDECREF(index);
    Py_XDECREF(labels);
    Py_XDECREF(p);
    return NULL;
}

static PyObject *
idset_iter(IdSetObject *self)
{
    modstate *st = state_of(self->snap->module);
    IterObject *it = PyObject_GC_New(IterObject, st->iter_type);
    if (it == NULL)
        return NULL;
    Py_INCREF(self);
    it->set = self;
    it->pos = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static PyObject *
idset_repr(IdSetObject *self)
{
    return PyUnicode_FromFormat("<IdSet of %zu objects>", self->s.n);
}

static PyMethodDef idset_methods[] = {
    {"partition", (PyCFunction)idset_partition, METH_O,
     "partition(classifier) -> Partition (BY_TYPE, BY_CLODO, ...)."},
    {"select", (PyCFunction)idset_select, METH_VARARGS,
     "select(classifier, key, negate=False) -> the members whose key "
     "under classifier is (or, negated, is not) key."},
    {"ids", (PyCFunction)idset_ids, METH_NOARGS, "ids() -> list of node ids."},
    {"complement", (PyCFunction)idset_complement, METH_NOARGS,
     "complement() -> every reported object of the snapshot not in the set."},
    {"referrers", (PyCFunction)idset_referrers, METH_NOARGS,
     "referrers() -> the objects of the snapshot referring to a member."},
    {"referents", (PyCFunction)idset_referents, METH_NOARGS,
     "referents() -> the objects a member refers to."},
    {"domisize", (PyCFunction)(void (*)(void))idset_domisize,
     METH_VARARGS | METH_KEYWORDS,
     "domisize(progress=None) -> bytes freed if every member went away."},
    {"dominos", (PyCFunction)(void (*)(void))idset_dominos,
     METH_VARARGS | METH_KEYWORDS,
     "dominos(progress=None) -> the objects freed if every member went "
     "away."},
    {"via_partition", (PyCFunction)(void (*)(void))idset_via_partition,
     METH_VARARGS | METH_KEYWORDS,
     "via_partition(progress=None, threads=2, derive=True) -> (Partition, "
     "(rows, starts, keys, names, codes)): "
     "members grouped by how their referrers refer to them; row key's "
     "names are rows[key]: one name's index i, 1 << 63 for none, or "
     "1 << 62 | a list id l whose names are names[keys[j]] for j in "
     "starts[l]..starts[l+1]-1; names[i] is made by via_name(codes[i], "
     "names[i]) where codes[i] is not 0 (names[i] None or a dict key; "
     "uint64 buffers; heapscope._api.via_partition wraps this).  With "
     "derive, cut from a live one of a set that holds this one."},
    {"prod_partition", (PyCFunction)idset_prod_partition, METH_NOARGS,
     "prod_partition() -> (Partition, labels): members grouped by where "
     "tracemalloc saw them allocated ('file:line'); labels[key] names a "
     "row."},
    {"rcs_partition", (PyCFunction)(void (*)(void))idset_rcs_partition,
     METH_VARARGS | METH_KEYWORDS,
     "rcs_partition(derive=True) -> Partition by the kinds of each "
     "member's referrers; Partition.rcs_keys(key) gives the kinds of a "
     "row.  With derive, cut from a live one of a set that holds this one."},
    {NULL}
};

static PyGetSetDef idset_getset[] = {
    {"count", (getter)idset_get_count, NULL, "number of objects"},
    {"size", (getter)idset_get_size, NULL, "total bytes"},
    {"snapshot", (getter)idset_get_snapshot, NULL, "the snapshot"},
    {NULL}
};

static PyType_Slot idset_slots[] = {
    {Py_tp_dealloc, idset_dealloc},
    {Py_tp_traverse, idset_traverse},
    {Py_tp_methods, idset_methods},
    {Py_tp_getset, idset_getset},
    {Py_tp_iter, idset_iter},
    {Py_tp_repr, idset_repr},
    {Py_tp_richcompare, idset_richcompare},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_sq_length, idset_len},
    {Py_sq_contains, idset_contains},
    {Py_nb_or, idset_or},
    {Py_nb_and, idset_and},
    {Py_nb_subtract, idset_sub},
    {Py_nb_xor, idset_xor},
    {Py_tp_doc, "A set of objects of one snapshot (sorted node ids)."},
    {0, NULL}
};

static PyType_Spec idset_spec = {
    "heapscope._heapscope.IdSet", sizeof(IdSetObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, idset_slots
};

/* ---- iteration over a set's objects -------------------------------------- */

static int
iter_traverse(IterObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->set);
    return 0;
}

static void
iter_dealloc(IterObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_XDECREF(self->set);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *
iter_next(IterObject *self)
{
    IdSetObject *s = self->set;
    hs_graph *g = s->snap->g;
    while (self->pos < s->s.n) {
        hs_id i = s->s.ids[self->pos++];
        if (g->flags[i] & HS_F_HELD) {
            PyObject *o = (PyObject *)g->addr[i];
            Py_INCREF(o);
            return o;
        }
    }
    return NULL;
}

static PyType_Slot iter_slots[] = {
    {Py_tp_dealloc, iter_dealloc},
    {Py_tp_traverse, iter_traverse},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, iter_next},
    {0, NULL}
};

static PyType_Spec iter_spec = {
    "heapscope._heapscope.IdSetIterator", sizeof(IterObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, iter_slots
};

/* ---- Buffer: an array handed to Python as it is ------------------------- */

typedef struct {
    PyObject_HEAD
    void *ptr;
    Py_ssize_t len;
} BufferObject;

PyObject *
hs_py_buffer(PyObject *module, void *p, size_t bytes)
{
    BufferObject *b = bytes <= PY_SSIZE_T_MAX
                          ? PyObject_New(BufferObject,
                                         state_of(module)->buffer_type)
                          : NULL;
    if (b == NULL) {
        free(p);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    b->ptr = p;
    b->len = (Py_ssize_t)bytes;
    return (PyObject *)b;
}

static int
buffer_getbuffer(BufferObject *self, Py_buffer *view, int flags)
{
    return PyBuffer_FillInfo(view, (PyObject *)self, self->ptr, self->len, 1,
                             flags);
}

static void
buffer_dealloc(BufferObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    free(self->ptr);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyType_Slot buffer_slots[] = {
    {Py_tp_dealloc, buffer_dealloc},
    {Py_bf_getbuffer, buffer_getbuffer},
    {Py_tp_doc, "Read-only bytes made in C, shared without a copy."},
    {0, NULL}
};

static PyType_Spec buffer_spec = {
    "heapscope._heapscope.Buffer", sizeof(BufferObject), 0,
    Py_TPFLAGS_DEFAULT, buffer_slots
};

/* ---- Partition ----------------------------------------------------------- */

static int
partition_traverse(PartitionObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->snap);
    Py_VISIT(self->set);
    Py_VISIT(self->via_labels);
    return 0;
}

static void
partition_dealloc(PartitionObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->cut_kind != CUT_NONE) {   /* leave the snapshot's cuttable */
        if (self->cut_prev != NULL)
            self->cut_prev->cut_next = self->cut_next;
        else
            self->snap->cuttable = self->cut_next;
        if (self->cut_next != NULL)
            self->cut_next->cut_prev = self->cut_prev;
    }
    Py_CLEAR(self->via_labels);
    hs_partition_free(&self->p);
    hs_rcs_table_free(&self->rcs);
    Py_XDECREF(self->set);
    Py_XDECREF(self->snap);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static Py_ssize_t
partition_len(PartitionObject *self)
{
    return (Py_ssize_t)self->p.ngroups;
}

static int
group_index(PartitionObject *self, PyObject *arg, size_t *out)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i += (Py_ssize_t)self->p.ngroups;
    if (i < 0 || (size_t)i >= self->p.ngroups) {
        PyErr_SetString(PyExc_IndexError, "partition index out of range");
        return -1;
    }
    *out = (size_t)i;
    return 0;
}

static PyObject *
partition_row(PartitionObject *self, PyObject *arg)
{
    size_t i;
    if (group_index(self, arg, &i) < 0)
        return NULL;
    const hs_partition *p = &self->p;
    return Py_BuildValue("(KKK)",
                         (unsigned long long)hs_partition_key(p, i),
                         (unsigned long long)hs_partition_count(p, i),
                         (unsigned long long)hs_partition_gsize(
                             p, self->snap->g, i));
}

/* The partition's members, computed on first use. */
static int
partition_members(PartitionObject *self)
{
    if (self->p.member != NULL)
        return 0;
    IdSetObject *set = (IdSetObject *)self->set;
    int r = set != NULL ? hs_partition_members(&self->p, self->snap->g,
                                               &set->s)
                        : -HS_EINVAL;
    if (r < 0) {
        raise_hs(r);
        return -1;
    }
    Py_CLEAR(self->set);
    return 0;
}

static PyObject *
partition_group(PartitionObject *self, PyObject *arg)
{
    size_t i;
    if (group_index(self, arg, &i) < 0)
        return NULL;
    /* The first row asked for (often the only one: h[0]) is one pass over
     * the set; a second means more will come: all the members then. */
    if (self->selected && partition_members(self) < 0)
        return NULL;
    IdSetObject *set = (IdSetObject *)self->set;
    hs_set out;
    int r = hs_partition_select(&self->p, self->snap->g,
                                set != NULL ? &set->s : NULL, i, &out);
    if (r < 0)
        return raise_hs(r);
    self->selected = 1;
    return new_idset(self->snap, &out);
}

/* ---- what model.c needs of a row ------------------------------------------ */

int
hs_py_row_parts(PyObject *o, size_t k, hs_set *s, void **snap)
{
    if (is_idset(o)) {
        *s = ((IdSetObject *)o)->s;
        *snap = ((IdSetObject *)o)->snap;
        return 0;
    }
    if (Py_TYPE(o)->tp_dealloc != (destructor)partition_dealloc) {
        PyErr_SetString(PyExc_TypeError, "not an IdSet or a Partition");
        return -1;
    }
    PartitionObject *p = (PartitionObject *)o;
    if (k >= p->p.ngroups) {
        PyErr_SetString(PyExc_IndexError, "partition index out of range");
        return -1;
    }
    if (partition_members(p) < 0)
        return -1;
    if (p->p.member == NULL) {
        PyErr_SetString(PyExc_ValueError, "a partition without members");
        return -1;
    }
    /* (a group's members are in the set's order: a set of their own) */
    size_t a = hs_partition_start(&p->p, k), b = hs_partition_start(&p->p,
                                                                      k + 1);
    s->ids = p->p.member + a;
    s->n = b - a;
    *snap = p->snap;
    return 0;
}

int
hs_py_snapshot_relations(void *snap, const hs_progress *prog,
                         hs_relations **out)
{
    int built;
    return relations_once(snap, out, &built, prog);
}

int
hs_py_snapshot_relations_awaited(void *snap)
{
    SnapshotObject *self = snap;
    return atomic_load_explicit(&self->rel_waiting, memory_order_relaxed) > 0;
}

/* The union of rows start, start+step, ... before stop (a slice already
 * clipped by slice.indices): one sort of their members, not a union per
 * row (h.byid[0:100000] would be quadratic). */
static PyObject *
partition_rows(PartitionObject *self, PyObject *args)
{
    Py_ssize_t start, stop, step = 1;
    if (!PyArg_ParseTuple(args, "nn|n", &start, &stop, &step))
        return NULL;
    Py_ssize_t ng = (Py_ssize_t)self->p.ngroups;
    if (step == 0 || start < -1 || stop < -1 || start > ng || stop > ng) {
        PyErr_SetString(PyExc_ValueError, "rows: a slice's indices() of "
                        "the partition");
        return NULL;
    }
    if (partition_members(self) < 0)
        return NULL;
    hs_set out;
    int r = hs_partition_rows(&self->p, start, stop, step, &out);
    if (r < 0)
        return raise_hs(r);
    return new_idset(self->snap, &out);
}

static PyObject *
partition_rcs_keys(PartitionObject *self, PyObject *arg)
{
    unsigned long long k = PyLong_AsUnsignedLongLong(arg);
    if (k == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (k >= self->rcs.n) {
        PyErr_SetString(PyExc_IndexError, "not a referrer-kind key");
        return NULL;
    }
    size_t n;
    const uint64_t *keys = hs_rcs_list(&self->rcs, (size_t)k, &n);
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t != NULL && i < n; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(keys[i]);
        if (v == NULL)
            Py_CLEAR(t);
        else
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
    }
    return t;
}

static PyObject *
partition_get_total_count(PartitionObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->p.total_count);
}

static PyObject *
partition_get_total_size(PartitionObject *self, void *c)
{
    return PyLong_FromUnsignedLongLong(self->p.total_size);
}

static PyMethodDef partition_methods[] = {
    {"row", (PyCFunction)partition_row, METH_O,
     "row(i) -> (key, count, size) of group i (largest first)."},
    {"group", (PyCFunction)partition_group, METH_O,
     "group(i) -> IdSet of group i."},
    {"rows", (PyCFunction)partition_rows, METH_VARARGS,
     "rows(start, stop, step=1) -> IdSet of those groups together (the "
     "numbers slice.indices() gives)."},
    {"rcs_keys", (PyCFunction)partition_rcs_keys, METH_O,
     "rcs_keys(key) -> the clodo keys of a byrcs row's referrers."},
    {NULL}
};

static PyObject *
partition_get_cut(PartitionObject *self, void *c)
{
    return PyBool_FromLong(self->cut);
}

static PyGetSetDef partition_getset[] = {
    {"total_count", (getter)partition_get_total_count, NULL, "objects"},
    {"cut", (getter)partition_get_cut, NULL,
     "whether it was cut from a partition of a set that holds this one's"},
    {"total_size", (getter)partition_get_total_size, NULL, "bytes"},
    {NULL}
};

static PyType_Slot partition_slots[] = {
    {Py_tp_dealloc, partition_dealloc},
    {Py_tp_traverse, partition_traverse},
    {Py_tp_methods, partition_methods},
    {Py_tp_getset, partition_getset},
    {Py_sq_length, partition_len},
    {Py_tp_doc, "Groups of a set by a classifier, largest first."},
    {0, NULL}
};

static PyType_Spec partition_spec = {
    "heapscope._heapscope.Partition", sizeof(PartitionObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, partition_slots
};

/* ---- module functions ---------------------------------------------------- */

/* The interpreter's count of small-object blocks (0 when unknown). */
static size_t
allocated_blocks(void)
{
    size_t n = 0;
    PyObject *f = PySys_GetObject("getallocatedblocks");   /* borrowed */
    PyObject *r = f != NULL ? PyObject_CallNoArgs(f) : NULL;
    if (r != NULL) {
        Py_ssize_t blocks = PyLong_AsSsize_t(r);
        if (blocks > 0)
            n = (size_t)blocks;
        Py_DECREF(r);
    }
    PyErr_Clear();
    return n;
}

/* How many objects and edges the walk should expect, `blocks` small-object
 * blocks being allocated now: the arrays and the address table are sized
 * from it and faulted in before the walk fills them, and on these machines
 * a page touched for nothing costs as much as the walk's work on it, so
 * the guess should be close.  While the heap is
 * about the size of the last walk's (the interpreter's count of
 * small-object blocks within a factor of 2), that walk's counts scaled by
 * how the blocks have grown since, plus 3%; else (a first walk, or one
 * after a small mark) the blocks themselves, about 1.1 per object on a
 * pkgcore-like heap, so such a walk rehashes nothing. */
static void
expected_size(const modstate *st, size_t blocks, size_t *nodes,
              size_t *edges)
{
    *edges = 0;
    if (st->last_n > 0 && st->last_blocks > 0 && blocks > 0 &&
        blocks / 2 <= st->last_blocks && st->last_blocks / 2 <= blocks) {
        double grow = (double)blocks / (double)st->last_blocks * 1.03;
        *nodes = (size_t)((double)st->last_n * grow) + 1024;
        *edges = (size_t)((double)st->last_edges * grow) + 1024;
    } else {
        *nodes = st->last_n + st->last_n / 8;
        if (blocks > *nodes)
            *nodes = blocks;
    }
}

static PyObject *
mod_snapshot(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    /* Vectorcall, parsed by hand: a call that built an argument tuple or a
     * keyword dict would leave a temporary only C holds, which the
     * collector pass of this very walk would then report. */
    static const char *const names[] = {"hold", "gc_objects", "args",
                                        "progress", "lanes", "hint",
                                        "recheck"};
    enum { NNAMES = 7 };
    PyObject *val[NNAMES] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > NNAMES) {
        PyErr_SetString(PyExc_TypeError,
                        "snapshot() takes at most 7 arguments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        val[i] = args[i];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kn = PyTuple_GET_ITEM(kwnames, i);
        int k = 0;
        while (k < NNAMES &&
               PyUnicode_CompareWithASCIIString(kn, names[k]) != 0)
            k++;
        if (k == NNAMES || val[k] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "snapshot() got an unexpected or repeated keyword "
                         "argument %R", kn);
            return NULL;
        }
        val[k] = args[nargs + i];
    }
    int hold = val[0] ? PyObject_IsTrue(val[0]) : 1;
    int gc_objects = val[1] ? PyObject_IsTrue(val[1]) : 1;
    PyObject *given = val[2] == Py_None ? NULL : val[2];
    /* The walk runs no Python code: only the explorer's own progress (C)
     * can follow it; any other callable is not called. */
    const hs_progress *progress = val[3] ? hs_py_model_progress(val[3])
                                         : NULL;
    if (hold < 0 || gc_objects < 0)
        return NULL;
    int recheck = val[6] ? PyObject_IsTrue(val[6]) : 0;
    if (recheck < 0)
        return NULL;
    long lanes = val[4] ? PyLong_AsLong(val[4]) : 0;
    long hint = val[5] ? PyLong_AsLong(val[5]) : 0;
    if ((lanes == -1 || hint == -1) && PyErr_Occurred())
        return NULL;
    if (lanes < 0 || lanes > 2 || hint < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "snapshot(): lanes is 0, 1 or 2 and hint >= 0");
        return NULL;
    }
    if (given != NULL && !PyTuple_Check(given)) {
        PyErr_SetString(PyExc_TypeError, "snapshot(args=) takes a tuple");
        return NULL;
    }
    modstate *st = state_of(module);
    /* Allocate the Python object first: the walk itself must create no
     * Python object. */
    SnapshotObject *snap = PyObject_GC_New(SnapshotObject,
                                           st->snapshot_type);
    if (snap == NULL)
        return NULL;
    snap->g = NULL;
    snap->rel = NULL;
    snap->rel_building = 0;
    atomic_init(&snap->rel_waiting, 0);
    snap->rel_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    snap->rel_done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    snap->hd.defs = NULL;
    snap->hd.n = 0;
    snap->hd.capsules = NULL;
    snap->hd.ncapsules = 0;
    snap->held = hold;
    snap->young_off = 0;
    snap->pages.bits = NULL;
    snap->pages.shift = 0;
    snap->cuttable = NULL;
    Py_INCREF(module);
    snap->module = module;

    /* Extensions that describe their types to heapy (read before the
     * walk: the walk itself reads no module). */
    if (hs_heapdefs_load(&snap->hd) < 0) {
        Py_DECREF(snap);
        return NULL;
    }
    Py_ssize_t nh = PyList_GET_SIZE(st->hidden);
    PyTypeObject **hidden = malloc((size_t)(nh + 5) * sizeof *hidden);
    if (hidden == NULL) {
        Py_DECREF(snap);
        return PyErr_NoMemory();
    }
    size_t k = 0;
    hidden[k++] = st->snapshot_type;
    hidden[k++] = st->idset_type;
    hidden[k++] = st->partition_type;
    hidden[k++] = st->iter_type;
    for (Py_ssize_t i = 0; i < nh; i++)
        hidden[k++] = (PyTypeObject *)PyList_GET_ITEM(st->hidden, i);
    Py_ssize_t ng = PyList_GET_SIZE(st->hidden_globals);
    size_t blocks = allocated_blocks(), expected, expected_edges;
    expected_size(st, blocks, &expected, &expected_edges);
    if (hint > 0) {
        expected = (size_t)hint;
        expected_edges = 0;
    }
    hs_walk_opts o = {
        .hold_refs = hold,
        .gc_objects = gc_objects,
        .hidden = hidden,
        .nhidden = k,
        .roots = {((PyListObject *)st->hidden_globals)->ob_item, (size_t)ng,
                  NULL},
        .args = given ? ((PyTupleObject *)given)->ob_item : NULL,
        .nargs = given ? (size_t)PyTuple_GET_SIZE(given) : 0,
        .nodes_hint = expected,
        .edges_hint = expected_edges,
        .heapdefs = &snap->hd,
        .progress = progress,
        .progress_total = expected,
        .others = st->live,
        .nothers = st->nlive,
        .opaque = st->snapshot_type,
        .lanes = (int)lanes,
    };
    int r = hs_py_walk(&snap->g, &o);
    int64_t differ = -1;
    if (r == 0 && recheck) {
        /* The same heap (the walk made no object) on the other number
         * of lanes; what it holds is let go at once.  The first walk's
         * snapshot holds what it found, as the live ones do: the second
         * must count its references among theirs (walker.c
         * drop_held_only). */
        hs_graph *again = NULL;
        const hs_graph **others =
            PyMem_Malloc((st->nlive + 1) * sizeof *others);
        if (others == NULL) {
            free(hidden);
            Py_DECREF(snap);
            return PyErr_NoMemory();
        }
        for (size_t k = 0; k < st->nlive; k++)
            others[k] = st->live[k];
        others[st->nlive] = snap->g;
        o.others = others;
        o.nothers = st->nlive + 1;
        o.progress = NULL;
        o.lanes = lanes == 1 ? 2 : 1;
        r = hs_py_walk(&again, &o);
        PyMem_Free(others);
        if (r == 0) {
            differ = hs_graph_diff(snap->g, again);
            hs_py_release(again);
        }
        hs_graph_free(again);
    }
    free(hidden);
    if (r < 0) {
        Py_DECREF(snap);
        return raise_hs(r);
    }
    if (differ >= 0) {
        PyErr_Format(PyExc_RuntimeError,
                     "snapshot(recheck=True): the walks on one and two "
                     "lanes differ from node %lld", (long long)differ);
        Py_DECREF(snap);
        return NULL;
    }
    if (hold && live_add(st, (PyObject *)snap, snap->g) < 0) {
        Py_DECREF(snap);
        return NULL;
    }
    PyObject_GC_Track(snap);
    st->last_n = snap->g->n;
    st->last_edges = (size_t)snap->g->nedges;
    st->last_blocks = blocks;
    return (PyObject *)snap;
}

static PyObject *
mod_memory_kept(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromSize_t(hs_memory_kept());
}

static PyObject *
mod_via_name(PyObject *module, PyObject *args)
{
    unsigned long long code;
    PyObject *key = NULL;
    if (!PyArg_ParseTuple(args, "K|O:via_name", &code, &key))
        return NULL;
    return hs_py_via_code_name(code, key);
}

static PyObject *
mod_sizeof(PyObject *module, PyObject *o)
{
    return PyLong_FromSize_t(hs_py_size(o));
}

static PyObject *
mod_instance_dict(PyObject *module, PyObject *o)
{
    PyObject *d = hs_compat_instance_dict(o);
    if (d == NULL)
        Py_RETURN_NONE;
    Py_INCREF(d);
    return d;
}

/* Which threads of this interpreter have a thread-state dict, read from
 * the field (PyThreadState_GetDict would create it): for the test that a
 * walk creates none. */
static PyObject *
mod_thread_dicts(PyObject *module, PyObject *unused)
{
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    PyInterpreterState *interp = PyThreadState_GetInterpreter(
        PyThreadState_Get());
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp);
         t != NULL; t = PyThreadState_Next(t)) {
        PyObject *k = PyLong_FromUnsignedLong(t->thread_id);
        if (k == NULL || PyDict_SetItem(out, k, t->dict ? Py_True
                                                        : Py_False) < 0) {
            Py_XDECREF(k);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(k);
    }
    return out;
}

/* (fast call: a tuple of the arguments would be an object of the heap
 * that holds the model, found by the walk in the collector's lists, and
 * the session's snapshot would hold it: a cycle) */
static PyObject *
mod_run_explorer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError,
                        "run_explorer(model, main_tid=0): 1 or 2 arguments");
        return NULL;
    }
    PyObject *model = args[0];
    long main_tid = 0;
    if (nargs == 2) {
        main_tid = PyLong_AsLong(args[1]);
        if (main_tid == -1 && PyErr_Occurred())
            return NULL;
    }
    char err[512] = "";
    int r = hs_py_run_explorer(model, main_tid, err, sizeof err);
    if (r == -2)
        return NULL;
    if (r < 0)
        return PyUnicode_FromString(err[0] ? err : "the explorer cannot run");
    Py_RETURN_NONE;
}

static PyObject *
mod_hide(PyObject *module, PyObject *obj)
{
    modstate *st = state_of(module);
    PyObject *list;
    if (PyType_Check(obj))
        list = st->hidden;
    else if (PyDict_CheckExact(obj))
        list = st->hidden_globals;
    else {
        PyErr_SetString(PyExc_TypeError,
                        "hide() takes a type or a module's globals dict");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++)
        if (PyList_GET_ITEM(list, i) == obj)
            Py_RETURN_NONE;
    if (PyList_Append(list, obj) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
mod_tracemalloc_tracing(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(hs_compat_tracemalloc_tracing());
}

static PyObject *
mod_object_traceback(PyObject *module, PyObject *obj)
{
    if (!hs_compat_tracemalloc_tracing())
        Py_RETURN_NONE;
    return hs_compat_object_traceback(obj);
}

static PyMethodDef mod_methods[] = {
    {"snapshot", (PyCFunction)(void (*)(void))mod_snapshot,
     METH_FASTCALL | METH_KEYWORDS,
     "snapshot(hold=True, gc_objects=True, args=(), progress=None, "
     "lanes=0, hint=0, recheck=False) -> "
     "Snapshot of the reachable heap.  hold: keep a reference to every "
     "object (sets can return them); args: a tuple of objects to include "
     "even if no root reaches them; progress: the explorer's progress "
     "callable, which shows the walk and can cancel it (KeyboardInterrupt); "
     "any other callable is not called, since the walk runs no Python "
     "code.  For tests and benchmarks: lanes=1 walks on one thread, 2 "
     "reads objects on this one and interns on another (0: two when the "
     "process has two cores; the snapshot is the same); hint: the objects "
     "to presize for, instead of an estimate; recheck: walk again on the "
     "other number of lanes and raise RuntimeError if the two differ."},
    {"memory_kept", (PyCFunction)mod_memory_kept, METH_NOARGS,
     "memory_kept() -> bytes of dropped snapshots' arrays kept for reuse "
     "(up to the size of the live snapshots; none once they are gone)."},
    {"via_name", (PyCFunction)mod_via_name, METH_VARARGS,
     "via_name(code, key=None) -> the name a code of via_partition()'s "
     "labels stands for ('.keys()[3]', '[3]'; \"['key']\" with the key "
     "the names hold in its place)."},
    {"sizeof", (PyCFunction)mod_sizeof, METH_O,
     "sizeof(obj) -> bytes heapscope attributes to obj (no __sizeof__)."},
    {"instance_dict", (PyCFunction)mod_instance_dict, METH_O,
     "instance_dict(obj) -> obj's __dict__ if it exists, else None; never "
     "creates it (for tests of the 3.11+ managed dicts)."},
    {"gc_phase", (PyCFunction)(void (*)(void))mod_gc_phase, METH_FASTCALL,
     "gc_phase(phase, info): for gc.callbacks (heapscope registers it): "
     "snapshots sit out young collections."},
    {"thread_dicts", (PyCFunction)mod_thread_dicts, METH_NOARGS,
     "thread_dicts() -> {thread ident: whether its thread state has a "
     "dict}; creates none (for the tests)."},
    {"tracemalloc_tracing", mod_tracemalloc_tracing, METH_NOARGS,
     "tracemalloc_tracing() -> tracemalloc.is_tracing(), without importing "
     "tracemalloc (an import changes the program's heap)."},
    {"object_traceback", mod_object_traceback, METH_O,
     "object_traceback(obj) -> where tracemalloc saw obj allocated: a "
     "tuple of (filename, lineno), most recent first; None when "
     "tracemalloc is off or did not trace obj."},
    {"run_explorer", (PyCFunction)(void (*)(void))mod_run_explorer,
     METH_FASTCALL,
     "run_explorer(model, main_tid=0) -> None when the user closed the "
     "explorer, or a message saying why it could not run.  model: "
     "heapscope._explore.Model; main_tid: the main thread's native id."},
    {"hide", (PyCFunction)mod_hide, METH_O,
     "hide(type): instances of type are heapscope's own, never reported; "
     "hide(globals): frames running that module's code are no roots."},
    {"hotkey_check_signal", hs_py_hotkey_check_signal, METH_O,
     "hotkey_check_signal(signum): ValueError saying why when "
     "hotkey_install() would refuse signum (out of range, uncatchable, a "
     "fault signal, one the C library keeps)."},
    {"hotkey_install", hs_py_hotkey_install, METH_VARARGS,
     "hotkey_install(signum, callback, main_ident=0): on signal signum, a "
     "watcher thread takes the GIL and calls callback(); main_ident is "
     "threading.get_ident() of the main thread, for hotkey_park_main().  "
     "Replaces any previous install.  Use heapscope.install()."},
    {"memory_to_spare", hs_py_memory_to_spare, METH_NOARGS,
     "memory_to_spare() -> bytes this process may still take without "
     "swapping or meeting its cgroup's limit (MemAvailable, cgroup v2 or "
     "v1), or None when the system does not say.  Reads without letting "
     "go of the GIL, so the program's threads stay paused."},
    {"hotkey_park_main", hs_py_hotkey_park_main_py, METH_NOARGS,
     "hotkey_park_main() -> bool: make a main thread blocked in a system "
     "call (a read of the terminal) wait for the GIL instead, until "
     "hotkey_unpark_main().  Only lasts while the GIL stays held."},
    {"hotkey_unpark_main", hs_py_hotkey_unpark_main_py, METH_NOARGS,
     "hotkey_unpark_main(): end hotkey_park_main()."},
    {"hotkey_uninstall", hs_py_hotkey_uninstall, METH_NOARGS,
     "hotkey_uninstall() -> True if a hotkey was installed: the signal's "
     "previous disposition is back and the watcher thread has ended."},
    {"hotkey_after_fork", hs_py_hotkey_after_fork, METH_NOARGS,
     "hotkey_after_fork(): in a forked child, give the hotkey a watcher "
     "and a pipe of its own."},
    {"hotkey_info", hs_py_hotkey_info, METH_NOARGS,
     "hotkey_info() -> None, or (signum, pid of the installing process, "
     "pid of the listening process)."},
    {NULL}
};

/* PyModule_AddObjectRef is 3.10+. */
static int
add_ref(PyObject *m, const char *name, PyObject *v)
{
    Py_INCREF(v);
    if (PyModule_AddObject(m, name, v) < 0) {
        Py_DECREF(v);
        return -1;
    }
    return 0;
}

static int
mod_exec(PyObject *m)
{
    modstate *st = state_of(m);
    hs_py_via_init();
    st->snapshot_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &snapshot_spec, NULL);
    st->idset_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &idset_spec, NULL);
    st->partition_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &partition_spec, NULL);
    st->iter_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &iter_spec, NULL);
    st->buffer_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &buffer_spec, NULL);
    st->hidden = PyList_New(0);
    st->hidden_globals = PyList_New(0);
    if (!st->hidden_globals || !st->snapshot_type || !st->idset_type || !st->partition_type ||
        !st->iter_type || !st->buffer_type || !st->hidden)
        return -1;
    if (add_ref(m, "Snapshot", (PyObject *)st->snapshot_type) < 0 ||
        add_ref(m, "IdSet", (PyObject *)st->idset_type) < 0 ||
        add_ref(m, "Partition", (PyObject *)st->partition_type) < 0)
        return -1;
    if (PyModule_AddIntConstant(m, "BY_TYPE", HS_BY_TYPE) < 0 ||
        PyModule_AddIntConstant(m, "BY_CLODO", HS_BY_CLODO) < 0 ||
        PyModule_AddIntConstant(m, "BY_SIZE", HS_BY_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "BY_ID", HS_BY_ID) < 0 ||
        PyModule_AddIntConstant(m, "BY_UNITY", HS_BY_UNITY) < 0 ||
        PyModule_AddObject(m, "KEY_DICTOF",
                           PyLong_FromUnsignedLongLong(HS_KEY_DICTOF)) < 0 ||
        PyModule_AddIntConstant(m, "F_STATIC", HS_F_STATIC) < 0 ||
        PyModule_AddIntConstant(m, "F_IMMORTAL", HS_F_IMMORTAL) < 0 ||
        PyModule_AddIntConstant(m, "F_GC", HS_F_GC) < 0 ||
        PyModule_AddIntConstant(m, "F_VIRTUAL", HS_F_VIRTUAL) < 0 ||
        PyModule_AddIntConstant(m, "F_HELD", HS_F_HELD) < 0 ||
        PyModule_AddIntConstant(m, "F_TYPE", HS_F_TYPE) < 0 ||
        PyModule_AddIntConstant(m, "F_DICT", HS_F_DICT) < 0 ||
        PyModule_AddIntConstant(m, "F_HIDDEN", HS_F_HIDDEN) < 0 ||
        PyModule_AddObject(m, "KEY_ROOT",
                           PyLong_FromUnsignedLongLong(HS_RCS_ROOT)) < 0)
        return -1;
    return 0;
}

static int
mod_traverse(PyObject *m, visitproc visit, void *arg)
{
    modstate *st = state_of(m);
    Py_VISIT(st->snapshot_type);
    Py_VISIT(st->idset_type);
    Py_VISIT(st->partition_type);
    Py_VISIT(st->iter_type);
    Py_VISIT(st->buffer_type);
    Py_VISIT(st->hidden);
    Py_VISIT(st->hidden_globals);
    return 0;
}

static int
mod_clear(PyObject *m)
{
    modstate *st = state_of(m);
    Py_CLEAR(st->snapshot_type);
    Py_CLEAR(st->idset_type);
    Py_CLEAR(st->partition_type);
    Py_CLEAR(st->iter_type);
    Py_CLEAR(st->buffer_type);
    Py_CLEAR(st->hidden);
    Py_CLEAR(st->hidden_globals);
    return 0;
}

static void
mod_free(void *m)
{
    mod_clear((PyObject *)m);
    /* (every snapshot holds the module: none is alive by now) */
    PyMem_Free(state_of((PyObject *)m)->live);
    PyMem_Free(state_of((PyObject *)m)->live_obj);
}

static PyModuleDef_Slot mod_slots[] = {
    {Py_mod_exec, mod_exec},
    {0, NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_heapscope",
    "heapscope's core: walk the heap into a snapshot, answer from it.",
    sizeof(modstate), mod_methods, mod_slots, mod_traverse, mod_clear, mod_free
};

PyMODINIT_FUNC
PyInit__heapscope(void)
{
    return PyModuleDef_Init(&moddef);
}
