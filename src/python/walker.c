/* walker.c - walk the live heap once into a snapshot graph.
 *
 * Breadth-first from the root: the node array is the queue, so node i's
 * edges are emitted when node i is processed and the CSR arrays come out in
 * order with no second pass.  The walk is bound by memory latency, so it is
 * a two-stage pipeline over that queue: stage A reads an object (header,
 * size, children via tp_traverse) and prefetches the table slots its
 * children will need; stage B, DEPTH nodes behind, interns the children and
 * emits the edges, by then mostly from cache.  A 10-million-long linked list
 * is just a queue that never runs ahead.
 *
 * With two cores, while the queue is long, the stages run on two threads
 * (lanes): this thread reads the objects (stage A: all that touches
 * Python), a helper interns and emits (stage B: the graph's arrays and
 * table only; it reads no object).  They meet in a ring of pending nodes
 * and three published counters; the node order, and so the snapshot, is
 * the same as on one lane (snapshot(recheck=True) compares the two).  A
 * short queue (a chain) stays on one lane: each node would be handed over
 * and back.
 *
 * The walk runs no Python code, allocates no Python objects and creates
 * nothing lazily; it only reads, and (when asked) takes one reference per
 * object so that sets built on the snapshot can hand objects back.
 */
#include "hs_py.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH 16          /* nodes stage A runs ahead of stage B */
#define PREFETCH_AHEAD 8  /* headers prefetched ahead of stage A */
#define PREFETCH_AHEAD_TWO 32  /* the same, with stage B elsewhere */
#define PREFETCH_BODY_TWO 16   /* bodies (dict keys...) prefetched ahead */
#define SLOT_PREFETCH 32  /* children whose slots stage A prefetches */
#define WALK_TICK (1u << 16)  /* objects between progress ticks */
#define PREFAULT_MIN (1u << 20) /* heaps worth a prefault thread */
#define TYPE_CACHE 64     /* types whose traits are remembered */
#define RING 512          /* nodes stage A may run ahead on two lanes */
#define LOOK 8            /* stage B's prefetch distance on two lanes */
#define READ_BATCH 16     /* nodes stage A reads between publishing */
#define SPINS 256         /* pauses before a waiting lane yields its core */
#define SHARE_QUEUE (1u << 14)  /* nodes waiting that make two lanes pay */
#define LIST_CHUNK 4096   /* collector objects the lister lists at a time */
#define LIST_IDLE 64      /* the same for stage B, idle on two lanes */

/* What stage A learnt about one node, waiting for stage B. */
typedef struct pending {
    uintptr_t *kids;
    size_t n, cap;
    PyObject *type;
    PyObject *owned_dict;    /* the __dict__ this node owns, if any */
    int skip;                /* virtual node or hidden leaf: no edges */
} pending;

/* Where stage A reads and writes the node arrays: stage B may move them
 * (when they grow), and only ever while stage A is parked. */
typedef struct nodes_view {
    uintptr_t *addr;
    uint8_t *flags;
    uint32_t *size;
} nodes_view;

/* Two lanes: stage A on the walker's thread, stage B on a helper.  Each
 * counter is written by one side and has a cache line of its own. */
enum { GROW_NONE, GROW_ASKED, GROW_PARKED };
typedef struct lanes {
    pending ring[RING];      /* node i's pending entry is ring[i % RING] */
    _Alignas(64) _Atomic uint32_t nodes;  /* B: g->n */
    _Alignas(64) _Atomic uint32_t closed; /* B: nodes closed */
    _Alignas(64) _Atomic uint32_t read;   /* A: nodes read */
    _Alignas(64) _Atomic int grow;        /* B asks, A parks, B done */
    _Atomic int stop;        /* either side: stop now */
    int err;                 /* B's error, negated */
    hs_id start;
    struct walker *w;
    pthread_t thread;
    _Alignas(64) hs_id ids[64];           /* B's interned kids */
} lanes;

/* The collector's lists, read beside the walk (by the lister's thread on
 * one lane, by stage B when idle on two): a long chain of dependent loads
 * the walk would otherwise wait for at the end.  Safe because nothing
 * changes a list meanwhile: the walk holds the GIL, runs no Python code
 * (its progress is the explorer's, in C) and frees nothing; the lister is
 * joined before anything that could. */
enum { LIST_FREE, LIST_TAKEN, LIST_DONE };
typedef struct gc_lister {
    pthread_t thread;
    int running;             /* started, not yet joined */
    hs_gc_cursor cur;
    _Atomic int state;       /* LIST_*: who may step the cursor */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int lanes_on;            /* (mu) two lanes run: the thread waits */
    uintptr_t *a;            /* what it found, in list order */
    size_t n, cap;
    int err;                 /* -HS_ENOMEM */
} gc_lister;

typedef struct walker {
    hs_graph *g;
    hs_images im;
    const hs_walk_opts *o;
    int err;                 /* first HS_E* error, negated */
    pending ring1[DEPTH];    /* the pending ring on one lane */
    pending *ring;           /* the ring in use: ring1, or two->ring */
    hs_id ring_mask;         /* its size less one */
    int b_here;              /* stage B runs on this thread now */
    int one_only;            /* two lanes failed to start: one from now */
    pending *cur;            /* entry stage A is filling */
    hs_id ids[64];
    int hiding;              /* in the hidden phase: all nodes are ours */
    hs_id *hidden;           /* heapscope's objects met in the root phase */
    size_t nhidden, hidden_cap;
    uintptr_t *hroots;       /* what heapscope's own frames hold */
    size_t nhroots, hroots_cap;
    uintptr_t *stypes;       /* static types met only as an object's type */
    size_t nstypes, stypes_cap;
    uintptr_t *gcl;          /* the collector's objects the walk had not */
    size_t ngcl, gcl_cap;    /* met: the gc pass's candidates */
    PyTypeObject *seen_type[TYPE_CACHE];  /* type_traits()'s answers, */
    uint8_t seen_traits[TYPE_CACHE];      /* direct-mapped by address */
    gc_lister lister;
    nodes_view nv;           /* stage A's view of the node arrays */
    lanes *two;              /* two lanes, or NULL: one */
} walker;

/* Append to a growing address list: 0, or -HS_ENOMEM (list unchanged). */
static inline int
addr_push(uintptr_t **list, size_t *n, size_t *cap, uintptr_t a)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        uintptr_t *b = realloc(*list, c * sizeof *b);
        if (b == NULL)
            return -HS_ENOMEM;
        *list = b;
        *cap = c;
    }
    (*list)[(*n)++] = a;
    return 0;
}

/* The same for the walk's lists: 1 (with w->err set) on ENOMEM. */
static int
push_addr(walker *w, uintptr_t **list, size_t *n, size_t *cap, uintptr_t a)
{
    int r = addr_push(list, n, cap, a);
    if (r < 0)
        w->err = r;
    return r < 0;
}

static int
push_kid(walker *w, PyObject *op)
{
    pending *p = w->cur;
    return push_addr(w, &p->kids, &p->n, &p->cap, (uintptr_t)op);
}

/* tp_traverse's visitproc. */
static int
visit_child(PyObject *op, void *arg)
{
    return op == NULL ? 0 : push_kid((walker *)arg, op);
}

static int
visit_extra(PyObject *op, const char *label, void *arg)
{
    (void)label;
    return visit_child(op, arg);
}

static int
visit_root(PyObject *op, const char *label, void *arg)
{
    walker *w = arg;
    hs_id id;
    int is_new;
    int r = hs_graph_intern(w->g, (uintptr_t)op, &id, &is_new);
    if (r == 0)
        r = hs_graph_add_root_edge(w->g, id, label);
    if (r < 0) {
        w->err = r;
        return 1;
    }
    return 0;
}

/* Something only heapscope's running frames may hold: walked after the
 * heap, so it is hidden unless the heap reaches it too. */
static int
visit_hidden_root(PyObject *op, const char *label, void *arg)
{
    walker *w = arg;
    (void)label;
    return push_addr(w, &w->hroots, &w->nhroots, &w->hroots_cap,
                     (uintptr_t)op);
}

static int
visit_gc_object(PyObject *op, const char *label, void *arg)
{
    walker *w = arg;
    (void)label;
    return push_addr(w, &w->gcl, &w->ngcl, &w->gcl_cap, (uintptr_t)op);
}

/* What the walk asks of every object's type: whether it is one of
 * heapscope's own, whether it is a module type.  A heap has few types, so
 * the answers are cached by the type's address (a module check alone is
 * a walk along the type's MRO). */
#define T_HIDDEN 1
#define T_MODULE 2

static inline unsigned
type_traits(walker *w, PyTypeObject *tp)
{
    size_t slot = ((uintptr_t)tp >> 4) & (TYPE_CACHE - 1);
    if (w->seen_type[slot] == tp)
        return w->seen_traits[slot];
    unsigned t = PyType_IsSubtype(tp, &PyModule_Type) ? T_MODULE : 0;
    for (size_t i = 0; i < w->o->nhidden; i++)
        if (w->o->hidden[i] == tp)
            t |= T_HIDDEN;
    w->seen_type[slot] = tp;
    w->seen_traits[slot] = (uint8_t)t;
    return t;
}

static inline int
is_hidden(walker *w, PyTypeObject *tp)
{
    return (type_traits(w, tp) & T_HIDDEN) != 0;
}

static inline int
is_gc(PyObject *op, PyTypeObject *tp)
{
    return (tp->tp_flags & Py_TPFLAGS_HAVE_GC) &&
           (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

static int
remember_hidden(walker *w, hs_id i)
{
    if (w->nhidden == w->hidden_cap) {
        size_t cap = w->hidden_cap ? w->hidden_cap * 2 : 256;
        hs_id *a = realloc(w->hidden, cap * sizeof *a);
        if (a == NULL)
            return w->err = -HS_ENOMEM;
        w->hidden = a;
        w->hidden_cap = cap;
    }
    w->hidden[w->nhidden++] = i;
    return 0;
}

/* Collect op's children into w->cur. */
static int
follow(walker *w, PyObject *op, PyTypeObject *tp, int gc)
{
    /* Heap types' tp_traverse reports the type; other objects of heap types
     * (non-GC ones) hold it too. */
    if (!gc && (tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        visit_child((PyObject *)tp, w);
    /* A snapshot's traverse reports everything it holds, for the
     * collector: the walk filters that through o->others instead. */
    if (tp == w->o->opaque)
        return 0;
    /* A type described by an NyHeapDef traverses itself (it may report
     * what its tp_traverse leaves out); the rest by tp_traverse. */
    const NyHeapDef *hd = hs_heapdefs_find(w->o->heapdefs, tp);
    if (hd != NULL && hd->traverse != NULL) {
        NyHeapTraverse t = {0, NULL, op, w, visit_child, NULL};
        hd->traverse(&t);
    } else if (tp == &PyDict_Type) {
        /* An exact dict: its entries, (key, value) pairs in order, are
         * all it holds, and byvia names them from these edges. */
        hs_compat_visit_dict_pairs(op, visit_extra, w);
        return w->err;
    } else if (gc && tp->tp_traverse != NULL) {
        tp->tp_traverse(op, visit_child, w);
    }
    if (w->err)
        return w->err;
    hs_compat_visit_extra(op, visit_extra, w);
    return w->err;
}

/* Stage A: read node i's object; leave its children in w->cur. */
static int
stage_a(walker *w, hs_id i)
{
    hs_graph *g = w->g;
    pending *p = w->cur;
    p->n = 0;
    p->type = NULL;
    p->owned_dict = NULL;
    p->skip = 0;
    const nodes_view *v = &w->nv;
    if (v->flags[i] & HS_F_VIRTUAL) {
        p->skip = 1;
        return 0;
    }
    PyObject *op = (PyObject *)v->addr[i];
    PyTypeObject *tp = Py_TYPE(op);
    uint8_t fl = 0;
    int r;

    p->type = (PyObject *)tp;
    if (w->b_here)              /* else stage B prefetches for itself */
        hs_graph_prefetch(g, (uintptr_t)tp);
    if (hs_images_contains(&w->im, op))
        fl |= HS_F_STATIC;
#if PY_VERSION_HEX >= 0x030C0000
    if (_Py_IsImmortal(op))
        fl |= HS_F_IMMORTAL;
#endif
    if (PyType_Check(op))
        fl |= HS_F_TYPE;
    if (PyDict_Check(op))
        fl |= HS_F_DICT;
    int gc = is_gc(op, tp);
    if (gc)
        fl |= HS_F_GC;
    const NyHeapDef *hd = hs_heapdefs_find(w->o->heapdefs, tp);
    size_t size = hd != NULL && hd->size != NULL ? hd->size(op)
                                                 : hs_py_size(op);
    /* hs_graph_set_size's common case, through the view: on two lanes
     * g's own fields share a cache line with the node count B writes */
    if (size < UINT32_MAX)
        v->size[i] = (uint32_t)size;
    else if ((r = hs_graph_set_size(g, i, size)) < 0)
        return w->err = r;
    /* The snapshot holds what it reports, never heapscope's own objects:
     * holding a session that holds the snapshot would make a cycle the
     * collector cannot see (a Snapshot does not traverse), keeping both,
     * and everything the snapshot holds, alive for good. */
    unsigned traits = type_traits(w, tp);
    int hidden = !w->hiding && (traits & T_HIDDEN);
    if (w->o->hold_refs && !w->hiding && !hidden) {
        Py_INCREF(op);
        fl |= HS_F_HELD;
    }
    if (w->hiding) {
        fl |= HS_F_HIDDEN;
    } else if (hidden) {
        /* heapscope's own objects: a leaf now; what only they hold is
         * walked in the hidden phase. */
        v->flags[i] = fl | HS_F_HIDDEN;
        p->skip = 1;
        return remember_hidden(w, i);
    }
    v->flags[i] = fl;
    if (follow(w, op, tp, gc) < 0)
        return w->err;

    /* Which dicts are whose __dict__ (heapy's "dict of X"). */
    if (traits & T_MODULE)
        p->owned_dict = PyModule_GetDict(op);
    else if (fl & HS_F_TYPE)
        p->owned_dict = hs_compat_type_dict((PyTypeObject *)op);
    else
        p->owned_dict = hs_compat_instance_dict(op);

    if (!w->b_here)
        return 0;
    size_t n = p->n < SLOT_PREFETCH ? p->n : SLOT_PREFETCH;
    for (size_t k = 0; k < n; k++)
        hs_graph_prefetch(g, p->kids[k]);
    return 0;
}

/* Stage B: intern what stage A found for node i and close the node.  It
 * touches the graph and w's list of static types, nothing else of w (on
 * two lanes it runs beside stage A): 0 or a negative HS_E* code. */
static int
stage_b(walker *w, hs_graph *g, hs_id *ids, hs_id i, const pending *p)
{
    int r = 0, is_new;
    if (p->type != NULL) {
        hs_id tid;
        if ((r = hs_graph_intern(g, (uintptr_t)p->type, &tid, &is_new)) < 0)
            return r;
        g->type[i] = tid;
        /* No object refers to a static type (tp_traverse does not report
         * it): it gets a root of its own once the walk is done. */
        if (is_new &&
            !(((PyTypeObject *)p->type)->tp_flags & Py_TPFLAGS_HEAPTYPE) &&
            (r = addr_push(&w->stypes, &w->nstypes, &w->stypes_cap,
                           (uintptr_t)p->type)) < 0)
            return r;
    }
    if (!p->skip) {
        for (size_t k = 0; k < p->n && r == 0; k += 64) {
            size_t m = p->n - k < 64 ? p->n - k : 64;
            r = hs_graph_intern_batch(g, p->kids + k, m, ids);
            for (size_t j = 0; j < m && r == 0; j++)
                r = hs_graph_add_edge(g, ids[j]);
        }
        if (r == 0 && p->owned_dict != NULL) {
            hs_id d;
            r = hs_graph_intern(g, (uintptr_t)p->owned_dict, &d, &is_new);
            if (r == 0)
                r = hs_graph_add_owner(g, d, i);
        }
        if (r < 0)
            return r;
    }
    hs_graph_end_node(g, i);
    return 0;
}

static inline void
nodes_view_of(nodes_view *v, const hs_graph *g)
{
    v->addr = g->addr;
    v->flags = g->flags;
    v->size = g->size;
}

/* Fetch node a's header (and the size fields after it, on the next cache
 * line for one object in four) ahead of stage A. */
static inline void
prefetch_header(const nodes_view *v, hs_id a)
{
    if (!(v->flags[a] & HS_F_VIRTUAL)) {
        const char *h = (const char *)v->addr[a];
        hs_prefetch(h);
        hs_prefetch(h + 16 + sizeof(Py_ssize_t));
    }
}

/* Then, its header in the cache by now, what reading it will touch
 * beyond (a dict's keys, an instance's values). */
static inline void
prefetch_body(const nodes_view *v, hs_id a)
{
    if (!(v->flags[a] & HS_F_VIRTUAL))
        hs_compat_prefetch_body((PyObject *)v->addr[a]);
}

/* The queue: nodes [b, g->n) are waiting, [b, a) of them read by stage A
 * and not yet closed by stage B.  On one lane, stage A runs DEPTH nodes
 * ahead.  Runs until the queue is empty (0), or, when two lanes are
 * there, until it is long enough to share (1). */
static int
run_one(walker *w, hs_id *pa, hs_id *pb)
{
    hs_graph *g = w->g;
    hs_id a = *pa, b = *pb;
    int r = 0;
    w->b_here = 1;
    while (b < g->n) {
        /* (looked at every 1024 nodes; not while the arrays are still
         * being faulted in: that helper has the other core) */
        if (w->two != NULL && (b & 1023) == 0 && !w->one_only &&
            g->n - b >= SHARE_QUEUE && !hs_graph_prefaulting(g)) {
            r = 1;
            break;
        }
        /* Stage A runs ahead as far as the queue and the ring allow. */
        nodes_view_of(&w->nv, g);
        while (a < g->n && a < b + DEPTH) {
            if (a + PREFETCH_AHEAD < g->n)
                prefetch_header(&w->nv, a + PREFETCH_AHEAD);
            w->cur = &w->ring[a & w->ring_mask];
            if (stage_a(w, a) < 0)
                return w->err;
            a++;
        }
        if ((r = stage_b(w, g, w->ids, b, &w->ring[b & w->ring_mask])) < 0)
            return w->err = r;
        b++;
        if ((b & (WALK_TICK - 1)) == 0 &&
            hs_progress_tick(w->o->progress, "snapshot", b,
                             w->o->progress_total))
            return w->err = -HS_ECANCELED;
    }
    *pa = a;
    *pb = b;
    return r;
}

/* ---- the collector's lists, read aside -----------------------------------
 *
 * The objects the collector tracks (for those the root does not reach) are
 * listed while the walk runs, by a thread of its own while the walk is on
 * one lane and by stage B in its idle moments while it is on two: a third
 * busy thread would take turns with the two lanes on two cores. */

static int
lister_visit(PyObject *op, const char *label, void *arg)
{
    gc_lister *l = arg;
    (void)label;
    l->err = addr_push(&l->a, &l->n, &l->cap, (uintptr_t)op);
    return l->err < 0;
}

/* One step of reading the collector's lists, by whoever takes the cursor
 * (the lister's thread, or stage B when idle): 1 once all was read, 0 if
 * some is left or another holds the cursor now. */
static int
lister_step(gc_lister *l, size_t budget)
{
    int st = LIST_FREE;
    if (!atomic_compare_exchange_strong_explicit(&l->state, &st, LIST_TAKEN,
                                                 memory_order_acquire,
                                                 memory_order_acquire))
        return st == LIST_DONE;
    int r = hs_compat_gc_step(&l->cur, budget, lister_visit, l);
    atomic_store_explicit(&l->state, r != 0 ? LIST_DONE : LIST_FREE,
                          memory_order_release);
    return r != 0;
}

/* The lister's thread: it reads while the walk is on one lane, and waits
 * while it is on two (both cores are busy then; stage B reads the lists
 * in its idle moments instead). */
static void *
lister_main(void *arg)
{
    gc_lister *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->lanes_on)
            pthread_cond_wait(&l->cv, &l->mu);
        pthread_mutex_unlock(&l->mu);
        if (lister_step(l, LIST_CHUNK))
            return NULL;
    }
}

/* Two lanes start (on = 1) or stop (0): the lister's thread pauses. */
static void
lister_lanes(gc_lister *l, int on)
{
    if (!l->running)
        return;
    pthread_mutex_lock(&l->mu);
    l->lanes_on = on;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Start reading the collector's lists on another thread; nothing is lost
 * when it cannot start (collect_gc_unmet reads them itself). */
static void
lister_start(walker *w)
{
    gc_lister *l = &w->lister;
    hs_compat_gc_cursor(&l->cur);
    atomic_init(&l->state, LIST_FREE);
    l->lanes_on = 0;
    if (pthread_mutex_init(&l->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        return;
    }
    l->running = hs_thread_start(&l->thread, lister_main, l);
    if (!l->running) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
}

/* Wait for the lister (before anything can change the lists); what it
 * found becomes w->gcl.  1 if it ran, 0 if not, < 0 on error. */
static int
lister_join(walker *w)
{
    gc_lister *l = &w->lister;
    if (!l->running)
        return 0;
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    l->running = 0;
    if (l->err < 0) {
        free(l->a);
        l->a = NULL;
        return w->err = l->err;
    }
    free(w->gcl);
    w->gcl = l->a;
    w->ngcl = l->n;
    w->gcl_cap = l->cap;
    l->a = NULL;
    return 1;
}

/* ---- two lanes ------------------------------------------------------------
 *
 * Stage A (this thread) reads node a once a < nodes, and publishes read
 * every READ_BATCH nodes; it runs at most RING nodes ahead of closed.
 * Stage B (the helper) closes node b once b < read, then publishes nodes
 * and closed.  When A has read every node made so far, the queue is done
 * if B has closed them all and made no more (closed == nodes == a);
 * otherwise it is short again, and one lane goes on from where B stopped.
 * Only B interns, so the table and the edges are B's alone; the
 * node arrays are shared (A sets flags and sizes of the nodes B made), and
 * B grows them only after A has parked: B asks (GROW_ASKED), A answers
 * from between two nodes (GROW_PARKED) and waits until B is done
 * (GROW_NONE), then reads the arrays' new addresses.  Either side stops
 * the other with stop. */

static inline void
relax(unsigned *spins)
{
    if (++*spins < SPINS) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    } else {
        sched_yield();
    }
}

/* The cores this process may run on: two lanes need two. */
static int
usable_cpus(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* B: room for `want` nodes, A parked meanwhile.  0, -HS_ENOMEM, or 1
 * when A stopped the lane first (no error: the node is left to one lane,
 * as if B had not come to it). */
static int
lanes_grow(lanes *L, hs_graph *g, size_t want)
{
    unsigned spins = 0;
    atomic_store_explicit(&L->grow, GROW_ASKED, memory_order_release);
    while (atomic_load_explicit(&L->grow, memory_order_acquire) !=
           GROW_PARKED) {
        if (atomic_load_explicit(&L->stop, memory_order_relaxed))
            return 1;
        relax(&spins);
    }
    int r = hs_graph_reserve(g, want);
    atomic_store_explicit(&L->grow, GROW_NONE, memory_order_release);
    return r;
}

/* A: park while B grows the node arrays; -1 if B stopped instead. */
static int
lanes_park(lanes *L, walker *w)
{
    unsigned spins = 0;
    atomic_store_explicit(&L->grow, GROW_PARKED, memory_order_release);
    while (atomic_load_explicit(&L->grow, memory_order_acquire) !=
           GROW_NONE) {
        if (atomic_load_explicit(&L->stop, memory_order_relaxed))
            return -1;
        relax(&spins);
    }
    nodes_view_of(&w->nv, w->g);
    return 0;
}

/* B ahead of itself: node b+3*LOOK's pending entry, then b+2*LOOK's
 * children's addresses, then b+LOOK's table slots, so each read finds
 * what the one before fetched (A wrote them on the other core). */
static inline void
lanes_prefetch(lanes *L, const hs_graph *g, hs_id b, hs_id read)
{
    if (b + 3 * LOOK < read)
        hs_prefetch(&L->ring[(b + 3 * LOOK) % RING]);
    if (b + 2 * LOOK < read) {
        const pending *q = &L->ring[(b + 2 * LOOK) % RING];
        if (!q->skip && q->n > 0) {
            hs_prefetch(q->kids);
            if (q->n > 8)
                hs_prefetch(q->kids + 8);
        }
    }
    if (b + LOOK < read) {
        const pending *q = &L->ring[(b + LOOK) % RING];
        if (q->type != NULL)
            hs_graph_prefetch(g, (uintptr_t)q->type);
        if (!q->skip) {
            size_t n = q->n < SLOT_PREFETCH ? q->n : SLOT_PREFETCH;
            for (size_t k = 0; k < n; k++)
                hs_graph_prefetch(g, q->kids[k]);
        }
    }
}

/* Stage B's thread. */
static void *
lanes_main(void *arg)
{
    lanes *L = arg;
    walker *w = L->w;
    hs_graph *g = w->g;
    hs_id b = L->start, read = b;
    unsigned spins = 0;
    int r = 0;
    gc_lister *lister = &w->lister;
    int lister_idle = lister->running;
    while (!atomic_load_explicit(&L->stop, memory_order_relaxed)) {
        if (b >= read) {
            read = atomic_load_explicit(&L->read, memory_order_acquire);
            if (b >= read) {
                if (b == g->n)
                    break;
                if (lister_idle && !lister_step(lister, LIST_IDLE)) {
                    spins = 0;
                    continue;
                }
                lister_idle = 0;
                relax(&spins);
                continue;
            }
        }
        spins = 0;
        lanes_prefetch(L, g, b, read);
        const pending *p = &L->ring[b % RING];
        /* every node this one can make: its children, type, dict */
        size_t want = (size_t)g->n + (p->skip ? 0 : p->n) + 2;
        if ((want > g->cap && (r = lanes_grow(L, g, want)) != 0) ||
            (r = stage_b(w, g, L->ids, b, p)) < 0)
            break;
        atomic_store_explicit(&L->nodes, g->n, memory_order_release);
        atomic_store_explicit(&L->closed, b + 1, memory_order_release);
        b++;
    }
    if (r < 0) {
        L->err = r;
        atomic_store_explicit(&L->stop, 1, memory_order_release);
    }
    return NULL;
}

/* The same on two lanes, from a queue long enough to share: until it is
 * empty (0), or until stage A finds nothing left to read while stage B
 * has work (1: one lane goes on from there, with no handing over).  1
 * also when the helper cannot start. */
static int
run_two(walker *w, hs_id *pa, hs_id *pb)
{
    lanes *L = w->two;
    hs_graph *g = w->g;
    hs_id a = *pa, n = g->n, closed = *pb;
    L->start = *pb;
    L->err = 0;
    atomic_store(&L->nodes, n);
    atomic_store(&L->closed, closed);
    atomic_store(&L->read, a);
    atomic_store(&L->grow, GROW_NONE);
    atomic_store(&L->stop, 0);
    lister_lanes(&w->lister, 1);
    if (!hs_thread_start(&L->thread, lanes_main, L)) {
        lister_lanes(&w->lister, 0);
        w->one_only = 1;        /* one lane for the rest of this walk */
        return 1;
    }
    w->b_here = 0;
    nodes_view_of(&w->nv, g);
    unsigned spins = 0;
    int ret = 0;
    for (;;) {
        if (atomic_load_explicit(&L->grow, memory_order_acquire) ==
                GROW_ASKED &&
            lanes_park(L, w) < 0)
            break;
        if (a >= n || a >= closed + RING) {
            n = atomic_load_explicit(&L->nodes, memory_order_acquire);
            closed = atomic_load_explicit(&L->closed, memory_order_acquire);
            if (atomic_load_explicit(&L->stop, memory_order_acquire))
                break;
            if (a >= n) {
                /* done, or starved: B alone has work, on one lane now
                 * (B publishes nodes before closed) */
                atomic_store_explicit(&L->read, a, memory_order_release);
                ret = closed != a ||
                      atomic_load_explicit(&L->nodes,
                                           memory_order_acquire) != a;
                break;
            }
            if (a >= closed + RING) {
                atomic_store_explicit(&L->read, a, memory_order_release);
                relax(&spins);
                continue;
            }
        }
        spins = 0;
        if (a + PREFETCH_AHEAD_TWO < n)
            prefetch_header(&w->nv, a + PREFETCH_AHEAD_TWO);
        if (a + PREFETCH_BODY_TWO < n)
            prefetch_body(&w->nv, a + PREFETCH_BODY_TWO);
        w->cur = &L->ring[a % RING];
        if (stage_a(w, a) < 0)
            break;
        a++;
        /* in batches: B polls read, and each store takes the line back */
        if ((a & (READ_BATCH - 1)) == 0)
            atomic_store_explicit(&L->read, a, memory_order_release);
        if ((a & (WALK_TICK - 1)) == 0 &&
            hs_progress_tick(w->o->progress, "snapshot", a,
                             w->o->progress_total)) {
            w->err = -HS_ECANCELED;
            break;
        }
    }
    atomic_store_explicit(&L->stop, 1, memory_order_release);
    pthread_join(L->thread, NULL);
    lister_lanes(&w->lister, 0);
    if (w->err == 0)
        w->err = L->err;
    if (w->err < 0)
        return w->err;
    *pa = a;
    *pb = atomic_load_explicit(&L->closed, memory_order_relaxed);
    return ret;
}

/* Process the queue from *next until it is empty: on one lane while it
 * is short (a linked list's never grows: two lanes would hand every node
 * over and back), on two while it is long. */
static int
drain(walker *w, hs_id *next)
{
    hs_id a = *next, b = *next;
    int r;
    if (w->two != NULL) {
        w->ring = w->two->ring;
        w->ring_mask = RING - 1;
    } else {
        w->ring = w->ring1;
        w->ring_mask = DEPTH - 1;
    }
    while ((r = run_one(w, &a, &b)) == 1)
        if ((r = run_two(w, &a, &b)) < 0)
            return r;
    if (r < 0)
        return r;
    *next = b;
    return 0;
}

/* A virtual node whose edges are produced by fill(). */
static int
virtual_node(walker *w, hs_id *id, int (*fill)(walker *))
{
    int r = hs_graph_add_virtual(w->g, id);
    if (r < 0)
        return w->err = r;
    pending *p = &w->ring1[0];
    w->cur = p;
    p->n = 0;
    if (fill(w) < 0)
        return w->err;
    for (size_t k = 0; k < p->n; k += 64) {
        size_t m = p->n - k < 64 ? p->n - k : 64;
        r = hs_graph_intern_batch(w->g, p->kids + k, m, w->ids);
        for (size_t j = 0; j < m && r == 0; j++)
            r = hs_graph_add_edge(w->g, w->ids[j]);
        if (r < 0)
            return w->err = r;
    }
    hs_graph_end_node(w->g, *id);
    return 0;
}

/* One more phase of the walk: a virtual node whose edges fill() gives,
 * and everything new they lead to; with `hidden`, all of it is
 * heapscope's own.  *id (if given) is the virtual node. */
static int
phase(walker *w, int (*fill)(walker *), int hidden, hs_id *id)
{
    hs_id v, next;
    if (virtual_node(w, &v, fill) < 0)
        return w->err;
    if (hidden)
        w->g->flags[v] |= HS_F_HIDDEN;
    if (id != NULL)
        *id = v;
    w->hiding = hidden;
    next = v + 1;
    int r = drain(w, &next);
    w->hiding = 0;
    return r;
}

static int
fill_hidden(walker *w)
{
    for (size_t k = 0; k < w->nhidden; k++) {
        PyObject *op = (PyObject *)w->g->addr[w->hidden[k]];
        PyTypeObject *tp = Py_TYPE(op);
        if (follow(w, op, tp, is_gc(op, tp)) < 0)
            return w->err;
    }
    /* Only what the heap has not reached: an object the program holds
     * too stays the program's, with no referrer of ours. */
    for (size_t k = 0; k < w->nhroots; k++)
        if (hs_graph_find(w->g, w->hroots[k]) == HS_NO_ID &&
            push_kid(w, (PyObject *)w->hroots[k]))
            return w->err;
    return 0;
}

static int
fill_static_types(walker *w)
{
    for (size_t k = 0; k < w->nstypes; k++)
        if (push_kid(w, (PyObject *)w->stypes[k]))
            return w->err;
    return 0;
}

static int
fill_args(walker *w)
{
    for (size_t k = 0; k < w->o->nargs; k++) {
        PyObject *op = w->o->args[k];
        if (hs_graph_find(w->g, (uintptr_t)op) == HS_NO_ID &&
            push_kid(w, op))
            return w->err;
    }
    return 0;
}

/* How many earlier snapshots still alive hold `addr` (each holds a
 * reference, so the object there is the one they saw). */
static Py_ssize_t
held_by_others(const walker *w, uintptr_t addr)
{
    Py_ssize_t n = 0;
    for (size_t k = 0; k < w->o->nothers; k++) {
        const hs_graph *og = w->o->others[k];
        hs_id i = hs_graph_find(og, addr);
        if (i != HS_NO_ID && (og->flags[i] & HS_F_HELD))
            n++;
    }
    return n;
}

/* The candidates, sorted by address, with the references to each that
 * would be left if the earlier snapshots let go of everything. */
typedef struct {
    uintptr_t *addr;
    Py_ssize_t *refs;
    size_t n;
    size_t *freed;          /* those left with none, to let go of in turn */
    size_t nfreed;
} cand_set;

static int
cmp_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Where addr is in c (c->n if not there). */
static size_t
cand_find(const cand_set *c, uintptr_t addr)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->addr[mid] < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->n && c->addr[lo] == addr ? lo : c->n;
}

/* A freed candidate lets go of what it holds. */
static int
visit_freed(PyObject *op, void *arg)
{
    cand_set *c = arg;
    size_t k = cand_find(c, (uintptr_t)op);
    if (k < c->n && --c->refs[k] == 0)
        c->freed[c->nfreed++] = k;
    return 0;
}

/* Drop from w->gcl the candidates only earlier snapshots keep alive: the
 * program let go of them after those snapshots were taken; they would be
 * freed if the snapshots let go, and are heapscope's.  The rest stay the
 * program's: held by its C code, or in a cycle of uncollected garbage.
 * Reference counting tells them apart: a candidate whose references are
 * all its holders' would be freed, and so would, in turn, one whose
 * references left are all from freed candidates (their tp_traverse).
 * The candidates stay in their order, so that a walk makes the same
 * snapshot whatever holds them. */
static int
drop_held_only(walker *w)
{
    cand_set c = {NULL, NULL, w->ngcl, NULL, 0};
    c.addr = malloc(c.n * sizeof(uintptr_t));
    c.refs = malloc(c.n * sizeof(Py_ssize_t));
    c.freed = malloc(c.n * sizeof(size_t));
    int r = -HS_ENOMEM;
    if (c.addr == NULL || c.refs == NULL || c.freed == NULL)
        goto done;
    memcpy(c.addr, w->gcl, c.n * sizeof(uintptr_t));
    qsort(c.addr, c.n, sizeof(uintptr_t), cmp_addr);
    for (size_t k = 0; k < c.n; k++) {
        c.refs[k] = Py_REFCNT((PyObject *)c.addr[k]) -
                    held_by_others(w, c.addr[k]);
        if (c.refs[k] <= 0)
            c.freed[c.nfreed++] = k;
    }
    while (c.nfreed > 0) {
        PyObject *op = (PyObject *)c.addr[c.freed[--c.nfreed]];
        PyTypeObject *tp = Py_TYPE(op);
        /* (heapscope's own objects are not the program's either way, and
         * a snapshot's traverse reports everything it holds) */
        if (tp->tp_traverse != NULL && tp != w->o->opaque &&
            !is_hidden(w, tp))
            (void)tp->tp_traverse(op, visit_freed, &c);
    }
    size_t kept = 0;
    for (size_t k = 0; k < w->ngcl; k++)
        if (c.refs[cand_find(&c, w->gcl[k])] > 0)
            w->gcl[kept++] = w->gcl[k];
    w->ngcl = kept;
    r = 0;
done:
    free(c.addr);
    free(c.refs);
    free(c.freed);
    return r;
}

/* Every collector object the walk has not met, into w->gcl, looked up in
 * prefetched batches; what only an earlier snapshot keeps alive is
 * heapscope's, not the program's, and is left out. */
static int
collect_gc_unmet(walker *w)
{
    int r = lister_join(w);
    if (r < 0)
        return r;
    if (r == 0)
        hs_compat_visit_gc_objects(visit_gc_object, w);
    if (w->err)
        return w->err;
    size_t kept = 0;
    int held = 0;
    for (size_t k = 0; k < w->ngcl; k += 64) {
        size_t m = w->ngcl - k < 64 ? w->ngcl - k : 64;
        for (size_t j = 0; j < m; j++)
            hs_graph_prefetch(w->g, w->gcl[k + j]);
        for (size_t j = 0; j < m; j++) {
            uintptr_t a = w->gcl[k + j];
            if (hs_graph_find(w->g, a) != HS_NO_ID)
                continue;
            w->gcl[kept++] = a;
            if (!held && held_by_others(w, a))
                held = 1;
        }
    }
    w->ngcl = kept;
    return held ? drop_held_only(w) : 0;
}

/* The candidates that are heapscope's own (a set only the value stack of
 * a running frame holds): what they hold is heapscope's too. */
static int
fill_gc_hidden(walker *w)
{
    for (size_t k = 0; k < w->ngcl; k++) {
        PyObject *op = (PyObject *)w->gcl[k];
        if (is_hidden(w, Py_TYPE(op)) && push_kid(w, op))
            return w->err;
    }
    return 0;
}

/* The candidates nothing has reached so far: held only by C code. */
static int
fill_gc_only(walker *w)
{
    for (size_t k = 0; k < w->ngcl; k++)
        if (hs_graph_find(w->g, w->gcl[k]) == HS_NO_ID &&
            push_kid(w, (PyObject *)w->gcl[k]))
            return w->err;
    return 0;
}

void
hs_py_release(hs_graph *g)
{
    if (g == NULL)
        return;
    for (hs_id i = 0; i < g->n; i++) {
        if (g->flags[i] & HS_F_HELD) {
            g->flags[i] &= (uint8_t)~HS_F_HELD;
            Py_DECREF((PyObject *)g->addr[i]);
        }
    }
}

static void
walker_free(walker *w)
{
    hs_images_free(&w->im);
    free(w->hidden);
    free(w->hroots);
    free(w->stypes);
    (void)lister_join(w);
    free(w->lister.a);
    free(w->gcl);
    for (int k = 0; k < DEPTH; k++)
        free(w->ring1[k].kids);
    if (w->two != NULL) {
        for (int k = 0; k < RING; k++)
            free(w->two->ring[k].kids);
        free(w->two);
        w->two = NULL;
    }
}

/* Two lanes when asked, or by default when two cores are there; NULL on
 * one lane (nothing is lost when there is no memory for the ring). */
static lanes *
lanes_new(walker *w)
{
    int n = w->o->lanes ? w->o->lanes : usable_cpus();
    if (n < 2)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(lanes)) != 0)
        return NULL;
    lanes *L = memset(p, 0, sizeof(lanes));
    L->w = w;
    return L;
}

static int
walk(hs_graph **out, const hs_walk_opts *o)
{
    walker w = {0};
    hs_id root, next = 1;
    size_t hint = o->nodes_hint ? o->nodes_hint : (1u << 18);

    w.o = o;
    w.g = hs_graph_new(hint, o->edges_hint ? o->edges_hint : hint + hint / 2);
    if (w.g == NULL)
        return -HS_ENOMEM;
    if (hint >= PREFAULT_MIN)
        hs_graph_prefault(w.g);
    if (hs_images_load(&w.im) < 0) {
        hs_graph_free(w.g);
        return -HS_ENOMEM;
    }
    w.two = lanes_new(&w);
    /* From here every way out joins it (walker_free). */
    if (o->gc_objects)
        lister_start(&w);
    if ((w.err = hs_graph_add_virtual(w.g, &root)) < 0)
        goto error;
    hs_roots_opts ro = o->roots;
    ro.hidden_visit = visit_hidden_root;
    hs_compat_visit_roots(&ro, visit_root, &w);
    if (w.err)
        goto error;
    hs_graph_end_node(w.g, root);
    if (drain(&w, &next) < 0)
        goto error;

    /* Objects a query was handed that the root does not reach (a temporary
     * passed to hp.iso()): a root of their own, before heapscope's frames
     * can claim them. */
    if (o->nargs > 0 && phase(&w, fill_args, 0, &w.g->arg_root) < 0)
        goto error;

    /* What only heapscope's own objects hold is heapscope's too: walk it
     * from a virtual node, marking everything it finds first as hidden, so
     * neither the heap nor the collector pass below reports it. */
    if ((w.nhidden > 0 || w.nhroots > 0) &&
        phase(&w, fill_hidden, 1, NULL) < 0)
        goto error;

    /* Objects the collector tracks that the root does not reach: held only
     * by C code.  They hang off a virtual root of their own, after what
     * heapscope's own objects among them hold is hidden. */
    if (o->gc_objects &&
        (collect_gc_unmet(&w) < 0 ||
         phase(&w, fill_gc_hidden, 1, NULL) < 0 ||
         phase(&w, fill_gc_only, 0, &w.g->gc_root) < 0))
        goto error;

    /* The static types objects have as their type: every one was walked
     * when it was met, but nothing refers to it. */
    if (w.nstypes > 0 && phase(&w, fill_static_types, 0, &w.g->type_root) < 0)
        goto error;
    if ((w.err = hs_graph_finish(w.g)) < 0)
        goto error;
    walker_free(&w);
    *out = w.g;
    return 0;

error:
    /* The lister first: releasing may free objects off its lists. */
    (void)lister_join(&w);
    /* Nodes interned but not yet read hold no reference. */
    hs_py_release(w.g);
    hs_graph_free(w.g);
    walker_free(&w);
    return w.err ? w.err : -HS_ENOMEM;
}

int
hs_py_walk(hs_graph **out, const hs_walk_opts *o)
{
    *out = NULL;
    /* A broken tp_traverse may set an exception: it must neither leak out
     * of the walk nor replace one the caller had. */
    PyObject *etype, *evalue, *etb;
    PyErr_Fetch(&etype, &evalue, &etb);
    int r = walk(out, o);
    PyErr_Clear();
    PyErr_Restore(etype, evalue, etb);
    return r;
}
