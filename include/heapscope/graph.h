/* heapscope/graph.h - the snapshot graph and the algorithms over it.
 *
 * A snapshot is flat C arrays: one entry per object (address, type, size,
 * flags), its outgoing edges in CSR form, and an address -> node table.
 * Nothing here knows about Python: src/graph implements this header in pure
 * C, src/python fills a graph by walking the live heap, tui/ and the tests
 * read it.  Functions return 0 or a negative HS_E* code; they never abort,
 * exit or print.
 */
#ifndef HEAPSCOPE_GRAPH_H
#define HEAPSCOPE_GRAPH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "heapscope/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (negated when returned). */
#define HS_ENOMEM 1   /* an allocation failed */
#define HS_ERANGE 2   /* more nodes or edges than 32-bit ids can name */
#define HS_EINVAL 3   /* an argument is out of range */
#define HS_ECANCELED 4 /* the caller's progress callback asked to stop */

typedef uint32_t hs_id;            /* node id: index into the arrays */
#define HS_NO_ID UINT32_MAX

/* Node flags. */
#define HS_F_STATIC   0x01u  /* lives in a loaded image, not on the heap */
#define HS_F_IMMORTAL 0x02u  /* immortal refcount (3.12+) */
#define HS_F_GC       0x04u  /* tracked-kind object (has a GC header) */
#define HS_F_VIRTUAL  0x08u  /* a root pseudo-node, not an object */
#define HS_F_HELD     0x10u  /* the snapshot holds a reference to it */
#define HS_F_TYPE     0x20u  /* the object is a type */
#define HS_F_DICT     0x40u  /* the object is a dict (or a subclass) */
#define HS_F_HIDDEN   0x80u  /* heapscope's own object: never reported */

/* Node 0 is the root (what heapy's hp.Root reaches).  More virtual nodes
 * may follow it: g->arg_root holds objects a query was handed that no
 * root reaches (a temporary passed to hp.iso()), g->gc_root objects
 * tracked by the collector that nothing else reaches (held only by C
 * code), g->type_root the static types that objects have as their type
 * (no object refers to a static type: C code holds it).  All of them are
 * roots for dominators and paths. */
#define HS_ROOT 0u

typedef struct hs_graph {
    uint32_t n;            /* nodes */
    uint32_t cap;          /* allocated nodes */
    uintptr_t *addr;       /* node -> object address (0 for virtual nodes) */
    hs_id *type;           /* node -> node of its type (HS_NO_ID if none) */
    uint32_t *size;        /* bytes; UINT32_MAX means "see big sizes" */
    uint8_t *flags;
    /* Outgoing edges: node i's targets are edges[edge_start[i] ..
     * edge_start[i+1]).  Built in node order: the walk processes node i
     * before node i+1, so edge_start has n+1 valid entries once done. */
    uint32_t *edge_start;
    hs_id *edges;
    uint64_t nedges, edge_cap;
    /* Address -> node: open addressing with linear probing, laid out so
     * that objects near in memory are near in the table (graph.c).  A
     * slot holds (fingerprint, displacement, id), 0 when empty (no object
     * has id 0, the root); fingerprint and home slot identify the address
     * exactly.  The few entries that find no slot near their home are in
     * a small spill table of (address, id) pairs. */
    uint64_t *table;
    uint64_t tslots, tused;
    uint64_t *spill;
    size_t spill_slots, nspill;
    hs_id *odd;            /* nodes at addresses the table cannot key */
    size_t nodd;
    /* Dicts that are the __dict__ of something: sorted by dict after
     * hs_graph_finish(). */
    hs_id *owned_dict, *dict_owner;
    size_t nowned, owned_cap;
    /* Sizes that do not fit in 32 bits: sorted (node, size) pairs. */
    hs_id *big_id;
    uint64_t *big_size;
    size_t nbig, big_cap;
    /* Labels of the root's edges, parallel to node 0's edge range. */
    char **root_label;
    size_t nroot_label, root_label_cap;
    hs_id arg_root;        /* virtual root of unreached arguments, or HS_NO_ID */
    hs_id gc_root;         /* virtual root of collector-only objects, or HS_NO_ID */
    hs_id type_root;       /* virtual root of static types, or HS_NO_ID */
    struct hs_prefault *prefault;  /* hs_graph_prefault's helper, or NULL */
} hs_graph;

/* ---- building (used by the walker and by tests) ------------------------- */

hs_graph *hs_graph_new(size_t nodes_hint, size_t edges_hint);
void hs_graph_free(hs_graph *g);

/* Find the node of `addr`, adding it if new (*is_new set to 1).  The new
 * node has type HS_NO_ID, size 0, flags 0 until set. */
int hs_graph_intern(hs_graph *g, uintptr_t addr, hs_id *id, int *is_new);
/* Intern n addresses at once, prefetching their table slots first so the
 * cache misses overlap (the walk is bound by memory latency). */
int hs_graph_intern_batch(hs_graph *g, const uintptr_t *addrs, size_t n,
                          hs_id *ids);
/* Room for `nodes` nodes in all, so that interning up to that many never
 * moves the node arrays (a walker reading them on another thread grows
 * them only when that thread is parked).  0 or -HS_ENOMEM/-HS_ERANGE. */
int hs_graph_reserve(hs_graph *g, size_t nodes);
/* -1 if a and b are the same snapshot (nodes, edges, owners, big sizes,
 * virtual roots, all in the same order), else the first node where they
 * differ (for the tests). */
int64_t hs_graph_diff(const hs_graph *a, const hs_graph *b);
/* Whether hs_graph_prefault's helper is still at work (it has a core
 * busy). */
int hs_graph_prefaulting(const hs_graph *g);
/* Hint that `addr` will be interned soon (prefetches its table slot). */
void hs_graph_prefetch(const hs_graph *g, uintptr_t addr);
/* Lookup only: HS_NO_ID if absent. */
hs_id hs_graph_find(const hs_graph *g, uintptr_t addr);

/* The 4 KiB pages a graph's objects start on, as bits of a hashed
 * bitmap: for a graph looked up with many addresses that are mostly not
 * in it (the mark, for every node of a new snapshot), a clear bit says
 * "absent" from a bitmap that stays in the caches, where the table would
 * miss on every lookup.  A set bit says nothing (hs_graph_find then). */
typedef struct hs_pagefilter {
    uint64_t *bits;
    unsigned shift;        /* 64 - log2(number of bits) */
} hs_pagefilter;
/* 0, or -HS_ENOMEM (f then lets every address through). */
int hs_pagefilter_build(hs_pagefilter *f, const hs_graph *g);
void hs_pagefilter_free(hs_pagefilter *f);

static inline uint64_t
hs_pagefilter_bit(const hs_pagefilter *f, uintptr_t addr)
{
    return ((uint64_t)(addr >> 12) * 0x9E3779B97F4A7C15ull) >> f->shift;
}

/* 0: no object of the graph starts at addr; 1: one may. */
static inline int
hs_pagefilter_maybe(const hs_pagefilter *f, uintptr_t addr)
{
    if (f->bits == NULL)
        return 1;
    uint64_t b = hs_pagefilter_bit(f, addr);
    return (int)((f->bits[b >> 6] >> (b & 63)) & 1);
}
/* A virtual node (the root pseudo-nodes). */
int hs_graph_add_virtual(hs_graph *g, hs_id *id);

/* Edges of node `from`, which must be the node currently being built:
 * edges are appended in node order.  hs_graph_end_node(g, from) closes
 * node `from` (all nodes before it must be closed). */
int hs_graph_add_edge(hs_graph *g, hs_id to);
void hs_graph_end_node(hs_graph *g, hs_id from);
/* An edge of the root with a label describing it (copied). */
int hs_graph_add_root_edge(hs_graph *g, hs_id to, const char *label);

int hs_graph_set_size(hs_graph *g, hs_id id, uint64_t size);
int hs_graph_add_owner(hs_graph *g, hs_id dict, hs_id owner);
/* Fault in the presized arrays from a helper thread while they are being
 * filled (the first touch of fresh memory costs more than the walk's own
 * work on it here); it stops by itself at any resize, at finish and at
 * free.  Nothing is lost where it cannot run. */
void hs_graph_prefault(hs_graph *g);
/* Sort side tables; call once after the last node is closed. */
int hs_graph_finish(hs_graph *g);
/* Free the edges and side tables, keeping nodes and the address table
 * (what a setrelheap() mark needs). */
void hs_graph_drop_edges(hs_graph *g);

/* ---- reading ------------------------------------------------------------ */

/* Bytes of node id (inline: the sums of partitions read it per member). */
uint64_t hs_graph_big_size(const hs_graph *g, hs_id id);
static inline uint64_t hs_graph_size(const hs_graph *g, hs_id id)
{
    uint32_t s = g->size[id];
    return s != UINT32_MAX ? s : hs_graph_big_size(g, id);
}
/* The node whose __dict__ `dict` is, or HS_NO_ID. */
hs_id hs_graph_owner(const hs_graph *g, hs_id dict);
static inline uint32_t hs_graph_nout(const hs_graph *g, hs_id id)
{
    return g->edge_start[id + 1] - g->edge_start[id];
}
static inline const hs_id *hs_graph_out(const hs_graph *g, hs_id id)
{
    return g->edges + g->edge_start[id];
}
/* Whether id is one of the virtual roots (HS_ROOT, arg_root, gc_root,
 * type_root). */
static inline int hs_graph_is_root(const hs_graph *g, hs_id id)
{
    return id == HS_ROOT ||
           (id != HS_NO_ID && (id == g->arg_root || id == g->gc_root ||
                               id == g->type_root));
}
/* Bytes the snapshot itself occupies. */
size_t hs_graph_memory(const hs_graph *g);

/* Sort n integers ascending (a radix sort for many); 0 or -HS_ENOMEM. */
int hs_sort_u64(uint64_t *a, size_t n);
/* Sort n integers stably by their bits lo .. hi-1 alone (the rest keep
 * their order): a radix sort of as few passes as that range needs.  0 or
 * -HS_ENOMEM. */
int hs_sort_u64_bits(uint64_t *a, size_t n, unsigned lo, unsigned hi);

/* ---- node sets: sorted arrays of distinct ids --------------------------- */

typedef struct hs_set {
    hs_id *ids;
    size_t n;
} hs_set;

int hs_set_from_ids(hs_set *out, const hs_id *ids, size_t n);  /* sorts, dedups */
/* Room for n ids of a set, the only allocator of hs_set.ids: a big set is
 * faulted in on another core while it is filled (hs_scratch_new).  Freed
 * by hs_set_free (or hs_set_ids_free when it never became a set). */
hs_id *hs_set_alloc(size_t n);
/* Only the first n of them are used (the room was for the worst case). */
void hs_set_ids_trim(hs_id *ids, size_t n);
/* The first n of ids (from hs_set_alloc; taken over) as the set out:
 * sorted and deduplicated first when `sort`, the room past them given
 * back, and ids freed when nothing is left.  0, or -HS_ENOMEM (ids freed,
 * out empty). */
int hs_set_adopt(hs_set *out, hs_id *ids, size_t n, int sort);
void hs_set_ids_free(hs_id *ids);
void hs_set_free(hs_set *s);
int hs_set_contains(const hs_set *s, hs_id id);
enum hs_setop { HS_OR, HS_AND, HS_SUB, HS_XOR };
int hs_set_op(hs_set *out, const hs_set *a, const hs_set *b, enum hs_setop op);
int hs_set_le(const hs_set *a, const hs_set *b);   /* a is a subset of b */
uint64_t hs_set_size(const hs_graph *g, const hs_set *s);

/* ---- partitions ---------------------------------------------------------- */

/* A partition groups a set's nodes by a 64-bit key.  Groups are ordered by
 * total size (largest first), then by count, then by key; each group's
 * members are sorted ids.  A partition by a classifier computes its members
 * only when asked (hs_partition_members): printing a table needs the
 * groups' counts and sizes alone, not a copy of the whole set.  Read a
 * group through the hs_partition_key/count/gsize/start functions below:
 * a partition of one member per group (byid) keeps only the members (4
 * bytes a row, not 36), and its other arrays are NULL. */
typedef struct hs_partition {
    size_t ngroups;
    uint64_t *key;         /* per group */
    uint64_t *count;       /* per group */
    uint64_t *gsize;       /* per group: total bytes */
    size_t *start;         /* ngroups+1 offsets into member */
    hs_id *member;         /* NULL until hs_partition_members */
    uint64_t total_count, total_size;
    int by;                /* the classifier, for the members later */
    int unit;              /* one member per group: key = the member */
} hs_partition;

/* Classifiers computed from the graph alone. */
enum hs_classifier {
    HS_BY_TYPE,     /* key: the type's node id */
    HS_BY_CLODO,    /* type, or owner's type | HS_KEY_DICTOF for __dict__s */
    HS_BY_SIZE,     /* key: the object's size */
    HS_BY_ID,       /* key: the node id (one group per object) */
    HS_BY_UNITY     /* key: 0 (one group) */
};
#define HS_KEY_DICTOF (1ull << 40)   /* clodo: "dict of <owner's type>" */

/* Partition `s` with a classifier, or with caller-given keys (one per
 * member of s, in s's order) when keys != NULL. */
int hs_partition_new(hs_partition *p, const hs_graph *g, const hs_set *s,
                     enum hs_classifier by, const uint64_t *keys);
/* The same from caller-given 32-bit keys 0 .. nkeys-1 whose members'
 * count and total size per key the caller has already (byvia counts them
 * as it numbers its rows): one pass over the set fewer, and half the
 * memory for the keys.  The members of a key of count 0 are none.
 * prog (may be NULL) is ticked while members are placed; -HS_ECANCELED
 * when it asks to stop (p is then empty). */
int hs_partition_counted(hs_partition *p, const hs_set *s,
                         const uint32_t *keys, size_t nkeys,
                         const uint64_t *count, const uint64_t *size,
                         const hs_progress *prog);
/* The partition of s, a subset of the set p partitions (p with its
 * members), into p's groups: each keeps its members in s, the groups left
 * empty go, and the others are keyed 0, 1, ... by their least member (the
 * order of keys met going through s, as hs_partition_counted's callers
 * number theirs).  *from (malloc'd, the caller frees it): p's key of each
 * new key.  0; -HS_EINVAL when s is not within p's set (or p has no
 * members, or one per group); -HS_ENOMEM. */
int hs_partition_restrict(hs_partition *out, const hs_partition *p,
                          const hs_graph *g, const hs_set *s,
                          uint64_t **from);
/* Fill p->member (a no-op when it is there); s and g must be the ones the
 * partition was made from. */
int hs_partition_members(hs_partition *p, const hs_graph *g,
                         const hs_set *s);
/* Group i's members as a set: a copy when the partition has its members,
 * else one pass over s (which must be the set partitioned; it may be NULL
 * when the members are there), without making them. */
int hs_partition_select(const hs_partition *p, const hs_graph *g,
                        const hs_set *s, size_t i, hs_set *out);
/* Groups start, start + step, ... before stop (step may be negative, as
 * a Python slice's indices(); numbers out of range are skipped) as one
 * set.  The partition must have its members. */
int hs_partition_rows(const hs_partition *p, ptrdiff_t start, ptrdiff_t stop,
                      ptrdiff_t step, hs_set *out);
void hs_partition_free(hs_partition *p);
/* Group i's key, member count, bytes and first member's index (i <=
 * ngroups for the start); g is the partition's graph. */
static inline uint64_t hs_partition_key(const hs_partition *p, size_t i)
{
    return p->unit ? p->member[i] : p->key[i];
}
static inline uint64_t hs_partition_count(const hs_partition *p, size_t i)
{
    return p->unit ? 1 : p->count[i];
}
static inline uint64_t hs_partition_gsize(const hs_partition *p,
                                          const hs_graph *g, size_t i)
{
    return p->unit ? hs_graph_size(g, p->member[i]) : p->gsize[i];
}
static inline size_t hs_partition_start(const hs_partition *p, size_t i)
{
    return p->unit ? i : p->start[i];
}
/* The key a classifier gives one node. */
uint64_t hs_classify(const hs_graph *g, hs_id id, enum hs_classifier by);

/* ---- scratch memory ------------------------------------------------------ */

/* Scratch memory for a big temporary (a partition's per-member keys, a
 * counting sort's arrays, a set's ids): zeroed; when it is big, taken from
 * the memory kept (hs_memory_keep) or else mapped fresh and its pages
 * faulted in by another core while the caller fills it (on these machines
 * the first touch of a fresh page costs more than what the caller then
 * writes there), and kept again when freed.  NULL on ENOMEM.  Free with
 * hs_scratch_free. */
void *hs_scratch_new(size_t bytes);
/* Only the first `used` bytes are needed from now on: the pages past them
 * go back to the system (a block sized for the worst case). */
void hs_scratch_trim(void *p, size_t used);
void hs_scratch_free(void *p);

/* Zeroed memory for n items of `size` bytes that are read before they are
 * written (a hash table's slots, a bitmap tested before it is set), free
 * with free(): every page is written at once.  A fresh page that is read
 * first maps the shared zero page, and its first write then faults again
 * and flushes the TLB of each core the process runs on, an interrupt to
 * the other core (a large part of a first byvia's cost on two cores here).
 * NULL on ENOMEM. */
void *hs_table_alloc(size_t n, size_t size);

/* The big arrays of graphs, relations and scratch freed are kept for the
 * next ones (a new snapshot's, a set's), up to `bytes`
 * in all (0, the default: none, and what is kept goes back to the system
 * now).  Here a
 * page the system must find afresh costs 10 to 20 times what reusing a
 * kept one costs: a virtual machine's host takes back within a second or
 * two what its guest frees.  Thread-safe; hs_memory_kept() is how many
 * bytes are kept now. */
void hs_memory_keep(size_t bytes);
size_t hs_memory_kept(void);

/* A helper thread running fn(arg), on which none of the program's signals
 * can land (they stay with its own threads): 1 if it started, 0 if not. */
int hs_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_GRAPH_H */
