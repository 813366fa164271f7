/* heapscope/relations.h - questions about who holds what, over a snapshot.
 *
 * Reverse edges (referrers), the kinds of an object's referrers (heapy's
 * "rcs"), the dominator tree and what a set of objects dominates, shortest
 * paths from the root.  Pure C over the arrays of graph.h: no Python.
 * Everything derived here is computed once per snapshot, on first use, and
 * kept in an hs_relations that lives beside the graph.
 */
#ifndef HEAPSCOPE_RELATIONS_H
#define HEAPSCOPE_RELATIONS_H

#include <pthread.h>
#include <stdatomic.h>

#include "heapscope/graph.h"
#include "heapscope/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hs_relations {
    const hs_graph *g;
    /* Incoming edges in CSR form: node i's referrers are
     * rev[rev_start[i] .. rev_start[i+1]), each once per edge, in
     * increasing id order. */
    uint32_t *rev_start;
    hs_id *rev;
    /* Dominator tree from a super-root above the virtual roots:
     * idom[i] is i's immediate dominator (HS_NO_ID for the virtual roots
     * and unreachable nodes); retained[i] the bytes freed with i. */
    hs_id *idom;
    uint64_t *retained;
    int have_dominators;
    /* The tree may be computed by a worker thread while another thread
     * asks for it: computing it holds this lock, and the threads waiting
     * for it are counted (hs_dominators_awaited). */
    pthread_mutex_t dom_lock;
    atomic_int dom_waiting;
    /* hs_domisize works outward from the set until what it reaches passes
     * this many nodes, then floods from the roots (0: a quarter of the
     * graph).  Tests set it to check that both ways agree. */
    size_t domisize_budget;
    /* hs_domisize's per-node marks, kept zeroed between calls (a fresh
     * array per call would be a page fault per 4 KiB of the heap); a call
     * that finds it in use (a worker thread) makes its own. */
    uint8_t *scratch;
    pthread_mutex_t scratch_lock;
} hs_relations;

/* The reverse edges.  0, -HS_ENOMEM, or -HS_ECANCELED (prog may be
 * NULL). */
int hs_relations_new(hs_relations **out, const hs_graph *g,
                     const hs_progress *prog);
void hs_relations_free(hs_relations *r);
size_t hs_relations_memory(const hs_relations *r);

static inline uint32_t hs_rel_nin(const hs_relations *r, hs_id id)
{
    return r->rev_start[id + 1] - r->rev_start[id];
}
static inline const hs_id *hs_rel_in(const hs_relations *r, hs_id id)
{
    return r->rev + r->rev_start[id];
}

/* Whether a node counts as an object of the heap (not a virtual root, not
 * heapscope's own).  Static objects are objects, but own no memory. */
int hs_rel_is_object(const hs_graph *g, hs_id id);

/* The objects referring to any member of s / referred to by one; virtual
 * and hidden nodes are never included. */
int hs_referrers(const hs_relations *r, const hs_set *s, hs_set *out);
int hs_referents(const hs_relations *r, const hs_set *s, hs_set *out);

/* ---- referrer kinds (byrcs) ---------------------------------------------- */

/* Each member of s gets an rcs id: the distinct, sorted list of the clodo
 * keys of its referrers.  The lists are kept in `t`; ids are indexes. */
typedef struct hs_rcs_table {
    size_t n;              /* distinct lists */
    size_t *start;         /* n+1 offsets into key */
    uint64_t *key;
    size_t nkeys, keycap, cap;
    uint64_t *slot;        /* hash of lists -> id + 1, hash tag */
    size_t smask;
} hs_rcs_table;

#define HS_RCS_ROOT (1ull << 41)   /* key of the root as a referrer */

/* `threads` 2: a set of 2^18 members or more is classified on two threads
 * (the same ids as on one). */
int hs_rcs_classify(const hs_relations *r, const hs_set *s, uint64_t *ids,
                    hs_rcs_table *t, int threads);
void hs_rcs_table_free(hs_rcs_table *t);
/* The table is a general interning table of u64 lists (byvia uses it for
 * lists of names): init, then intern a list to get its id (-1: ENOMEM). */
int hs_rcs_table_init(hs_rcs_table *t);
/* The same with room for `lists` lists of `keys` keys in all at first (no
 * growing on the way: the tables are rehashed and copied at each). */
int hs_rcs_table_init_for(hs_rcs_table *t, size_t lists, size_t keys);
long long hs_rcs_intern(hs_rcs_table *t, const uint64_t *k, size_t n);
/* The keys of list id, *n of them. */
static inline const uint64_t *hs_rcs_list(const hs_rcs_table *t, size_t id,
                                          size_t *n)
{
    *n = t->start[id + 1] - t->start[id];
    return t->key + t->start[id];
}
/* A table of t's lists ids[0], ids[1], ... (distinct ids), numbered 0,
 * 1, ... in that order: the labels of a partition cut from t's
 * (hs_partition_restrict's `from`).  0, -HS_ENOMEM, or -HS_EINVAL (an id
 * out of range, or one twice); out is empty after an error. */
int hs_rcs_table_pick(hs_rcs_table *out, const hs_rcs_table *t,
                      const uint64_t *ids, size_t n);
/* Fetch into the cache the slot where a list will be looked up (a miss
 * each, in a big table of lists of their own). */
void hs_rcs_prefetch(const hs_rcs_table *t, const uint64_t *k, size_t n);

/* ---- dominators ------------------------------------------------------------ */

/* Compute the dominator tree (idom, retained) once; later calls return at
 * once.  Thread-safe: a second caller waits for the first.  0, -HS_ENOMEM,
 * or -HS_ECANCELED (nothing kept; a later call starts again). */
int hs_dominators(hs_relations *r, const hs_progress *p);
/* Whether the tree is there already (never waits: 0 while another thread
 * computes it). */
int hs_dominators_ready(hs_relations *r);
/* Whether a thread waits for the tree another computes.  A computing
 * thread whose progress callback pauses it (a worker giving way to the
 * user's key) must not pause then: the key may be what waits. */
int hs_dominators_awaited(const hs_relations *r);
/* Bytes freed if every member of s went away (s itself included), and, if
 * `freed` is not NULL, those objects.  Weak references are no edges, so
 * they keep nothing alive; static objects are never freed and count no
 * bytes.  Reads only the graph and the tree once built: several threads
 * may run it at once. */
int hs_domisize(hs_relations *r, const hs_set *s, uint64_t *bytes,
                hs_set *freed, const hs_progress *p);

/* ---- paths ----------------------------------------------------------------- */

/* A shortest path from the root to `id`: ids from a virtual root down to
 * `id` into path[0..*len), at most max entries (*len = 0 if unreachable). */
int hs_shortest_path(const hs_relations *r, hs_id id, hs_id *path,
                     size_t max, size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_RELATIONS_H */
