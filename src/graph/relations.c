/* relations.c - referrers, referrer kinds, dominators and paths.
 *
 * Reverse edges are built once per snapshot by a counting pass over the
 * forward edges, so each node's referrers come out sorted by id, and, the
 * walk being breadth-first from the root, a node's smallest referrer is its
 * parent on a shortest path.  The dominator tree is semi-NCA (Lengauer-
 * Tarjan's semidominators, then nearest common ancestors), iterative
 * throughout (a 10-million-long chain is fine).
 * Pure C, no Python.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "heapscope/relations.h"
#include "heapscope/prefetch.h"
#include "bigmem.h"
#include "sort.h"

int
hs_rel_is_object(const hs_graph *g, hs_id id)
{
    return !(g->flags[id] & (HS_F_VIRTUAL | HS_F_HIDDEN));
}

/* Edges that keep something alive: not from heapscope's own objects. */
static int
live_source(const hs_graph *g, hs_id id)
{
    return !(g->flags[id] & HS_F_HIDDEN);
}

/* How often the long loops below call the progress callback. */
#define TICK_EVERY (1u << 16)

int
hs_relations_new(hs_relations **out, const hs_graph *g,
                 const hs_progress *prog)
{
    hs_relations *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -HS_ENOMEM;
    r->g = g;
    atomic_init(&r->dom_waiting, 0);
    if (pthread_mutex_init(&r->dom_lock, NULL) != 0) {
        free(r);
        return -HS_ENOMEM;
    }
    if (pthread_mutex_init(&r->scratch_lock, NULL) != 0) {
        pthread_mutex_destroy(&r->dom_lock);
        free(r);
        return -HS_ENOMEM;
    }
    size_t n = g->n;
    /* n + 2 entries: the counting trick below shifts by one (the last
     * one is never read afterwards) */
    r->rev_start = hs_big_alloc_kept((n + 2) * sizeof *r->rev_start);
    r->rev = hs_big_alloc_kept((g->nedges + 1) * sizeof *r->rev);
    if (r->rev_start == NULL || r->rev == NULL) {
        hs_relations_free(r);
        return -HS_ENOMEM;
    }
    /* Both arrays are written at random: the other core faults their
     * fresh pages in (rev_start first) while this one counts, pausing
     * with this thread where prog allows (the explorer's worker). */
    void *ptr[] = {r->rev_start, r->rev};
    size_t bytes[] = {(n + 2) * sizeof *r->rev_start,
                      (g->nedges + 1) * sizeof *r->rev};
    hs_prefault *pf = bytes[0] + bytes[1] >= HS_PREFAULT_MIN
                          ? hs_big_prefault_start(ptr, bytes, 2, 2, prog)
                          : NULL;
    /* Counting sort by target with no second array: count target t at
     * t + 2, prefix-sum, and rev_start[t + 1] is then where t's referrers
     * begin; filling in source order moves it to where they end, which is
     * where t + 1's begin.  Sorted by source. */
    uint32_t *c = r->rev_start;
    uint64_t total = g->nedges + n;
    for (uint64_t e = 0; e < g->nedges; e++) {
        if ((e & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "reverse edges", e, total))
            goto cancelled;
        c[g->edges[e] + 2]++;
    }
    for (size_t i = 2; i < n + 2; i++)
        c[i] += c[i - 1];
    for (hs_id src = 0; src < n; src++) {
        /* (a tick per TICK_EVERY nodes: their edges, on average) */
        if ((src & (TICK_EVERY / 4 - 1)) == 0 &&
            hs_progress_tick(prog, "reverse edges", g->nedges + src, total))
            goto cancelled;
        const hs_id *e = hs_graph_out(g, src);
        for (uint32_t k = 0, m = hs_graph_nout(g, src); k < m; k++)
            r->rev[c[e[k] + 1]++] = src;
    }
    hs_big_prefault_stop(pf);
    *out = r;
    return 0;
cancelled:
    hs_big_prefault_stop(pf);
    hs_relations_free(r);
    return -HS_ECANCELED;
}

void
hs_relations_free(hs_relations *r)
{
    if (r == NULL)
        return;
    size_t n = r->g->n;
    hs_big_free_kept(r->rev_start, (n + 2) * sizeof *r->rev_start);
    hs_big_free_kept(r->rev, (r->g->nedges + 1) * sizeof *r->rev);
    hs_big_free_kept(r->idom, (n + 1) * sizeof *r->idom);
    hs_big_free_kept(r->retained, (n + 1) * sizeof *r->retained);
    hs_big_free_kept(r->scratch, n + 1);
    pthread_mutex_destroy(&r->dom_lock);
    pthread_mutex_destroy(&r->scratch_lock);
    free(r);
}

size_t
hs_relations_memory(const hs_relations *r)
{
    size_t n = r->g->n, m = sizeof *r;
    m += (n + 2) * sizeof *r->rev_start + (r->g->nedges + 1) * sizeof *r->rev;
    if (r->have_dominators)
        m += (n + 1) * (sizeof *r->idom + sizeof *r->retained);
    if (r->scratch != NULL)
        m += n + 1;
    return m;
}

int
hs_referrers(const hs_relations *r, const hs_set *s, hs_set *out)
{
    /* Counted first: the buffer is one block of the right size. */
    const hs_graph *g = r->g;
    size_t cap = 0, n = 0;
    for (size_t k = 0; k < s->n; k++)
        cap += hs_rel_nin(r, s->ids[k]);
    hs_id *buf = hs_set_alloc(cap + 1);
    if (buf == NULL)
        return -HS_ENOMEM;
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        const hs_id *in = hs_rel_in(r, v);
        for (uint32_t j = 0, m = hs_rel_nin(r, v); j < m; j++)
            if (hs_rel_is_object(g, in[j]))
                buf[n++] = in[j];
    }
    return hs_set_adopt(out, buf, n, 1);
}

int
hs_referents(const hs_relations *r, const hs_set *s, hs_set *out)
{
    const hs_graph *g = r->g;
    size_t cap = 0, n = 0;
    for (size_t k = 0; k < s->n; k++)
        cap += hs_graph_nout(g, s->ids[k]);
    hs_id *buf = hs_set_alloc(cap + 1);
    if (buf == NULL)
        return -HS_ENOMEM;
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t j = 0, m = hs_graph_nout(g, v); j < m; j++)
            if (hs_rel_is_object(g, e[j]) &&
                !(g->flags[e[j]] & HS_F_STATIC))
                buf[n++] = e[j];
    }
    return hs_set_adopt(out, buf, n, 1);
}

/* ---- referrer kinds ------------------------------------------------------ */

void
hs_rcs_table_free(hs_rcs_table *t)
{
    free(t->start);
    free(t->key);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static uint64_t
list_hash(const uint64_t *k, size_t n)
{
    uint64_t h = 0x243F6A8885A308D3ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= k[i];
        h *= 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
    }
    return h;
}

/* A slot holds a list's id + 1 (0: empty) in its low half and the high
 * half of the list's hash in its high half: a probe that meets another list
 * reads neither that list's start nor its keys (two misses each, on a
 * table of half a million lists of their own). */
static inline uint64_t
rcs_slot(uint64_t h, size_t id)
{
    return (h & 0xFFFFFFFF00000000ull) | ((uint64_t)id + 1);
}

static int
rcs_grow_to(hs_rcs_table *t, size_t cap)
{
    size_t *st = realloc(t->start, (cap + 1) * sizeof *st);
    if (st == NULL)
        return -HS_ENOMEM;
    t->start = st;
    uint64_t *slot = hs_table_alloc(cap * 2, sizeof *slot);
    if (slot == NULL)
        return -HS_ENOMEM;
    free(t->slot);
    t->slot = slot;
    t->smask = cap * 2 - 1;
    t->cap = cap;
    for (size_t id = 0; id < t->n; id++) {
        size_t n;
        const uint64_t *k = hs_rcs_list(t, id, &n);
        uint64_t h = list_hash(k, n);
        size_t i = h & t->smask;
        while (t->slot[i])
            i = (i + 1) & t->smask;
        t->slot[i] = rcs_slot(h, id);
    }
    return 0;
}

static int
rcs_grow(hs_rcs_table *t)
{
    return rcs_grow_to(t, t->cap ? t->cap * 2 : 64);
}

int
hs_rcs_table_init(hs_rcs_table *t)
{
    return hs_rcs_table_init_for(t, 0, 0);
}

/* (at most this many lists' room at first: a caller's bound may be far
 * above what it interns, and the slots are written through) */
#define RCS_PRESIZE_MAX ((size_t)1 << 20)

int
hs_rcs_table_init_for(hs_rcs_table *t, size_t lists, size_t keys)
{
    memset(t, 0, sizeof *t);
    size_t cap = 64;
    while (cap < lists && cap < RCS_PRESIZE_MAX)
        cap *= 2;
    if (rcs_grow_to(t, cap) < 0)
        goto fail;
    t->start[0] = 0;
    if (keys > 0) {
        /* (only the pages written are the process's) */
        if ((t->key = malloc(keys * sizeof *t->key)) == NULL)
            goto fail;
        t->keycap = keys;
    }
    return 0;
fail:
    hs_rcs_table_free(t);
    return -HS_ENOMEM;
}

int
hs_rcs_table_pick(hs_rcs_table *out, const hs_rcs_table *t,
                  const uint64_t *ids, size_t n)
{
    size_t keys = 0;
    for (size_t k = 0; k < n; k++) {
        if (ids[k] >= t->n)
            return (memset(out, 0, sizeof *out), -HS_EINVAL);
        keys += t->start[ids[k] + 1] - t->start[ids[k]];
    }
    if (hs_rcs_table_init_for(out, n, keys) < 0)
        return -HS_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        const uint64_t *list = hs_rcs_list(t, (size_t)ids[k], &len);
        long long id = hs_rcs_intern(out, list, len);
        if (id < 0 || (size_t)id != k) {
            hs_rcs_table_free(out);
            return id < 0 ? -HS_ENOMEM : -HS_EINVAL;
        }
    }
    return 0;
}

/* Lists a and b of n >= 1 keys alike.  Most are one or two keys long: no
 * call to memcmp for those. */
static inline int
same_keys(const uint64_t *a, const uint64_t *b, size_t n)
{
    if (n <= 2)
        return a[0] == b[0] && (n == 1 || a[1] == b[1]);
    return memcmp(a, b, n * sizeof *a) == 0;
}

long long
hs_rcs_intern(hs_rcs_table *t, const uint64_t *k, size_t n)
{
    uint64_t h = list_hash(k, n);
    size_t i = h & t->smask;
    uint64_t tag = h & 0xFFFFFFFF00000000ull;
    for (;;) {
        uint64_t x = t->slot[i];
        if (x == 0)
            break;
        if ((x & 0xFFFFFFFF00000000ull) == tag) {
            size_t s = (uint32_t)x;
            size_t a = t->start[s - 1], m = t->start[s] - a;
            /* (no referrers: n == 0, and key may still be NULL) */
            if (m == n && (n == 0 || same_keys(t->key + a, k, n)))
                return (long long)s - 1;
        }
        i = (i + 1) & t->smask;
    }
    if (t->n == t->cap) {
        if (rcs_grow(t) < 0)
            return -1;
        i = h & t->smask;
        while (t->slot[i])
            i = (i + 1) & t->smask;
    }
    if (t->nkeys + n > t->keycap) {
        size_t cap = t->keycap ? t->keycap : 256;
        while (cap < t->nkeys + n)
            cap *= 2;
        uint64_t *kk = realloc(t->key, cap * sizeof *kk);
        if (kk == NULL)
            return -1;
        t->key = kk;
        t->keycap = cap;
    }
    if (n > 0)
        memcpy(t->key + t->nkeys, k, n * sizeof *k);
    t->nkeys += n;
    size_t id = t->n++;
    t->start[id + 1] = t->nkeys;
    t->slot[i] = rcs_slot(h, id);
    return (long long)id;
}

void
hs_rcs_prefetch(const hs_rcs_table *t, const uint64_t *k, size_t n)
{
    hs_prefetch(&t->slot[list_hash(k, n) & t->smask]);
}

/* The clodo key of referrer p, through a small direct-mapped cache: the
 * members of a set are in discovery order, so the strings of one dict sit
 * side by side and ask for the same referrer in a row, and a dict's owner
 * is a binary search worth not repeating. */
#define RCS_CACHE 4096

typedef struct {
    hs_id id[RCS_CACHE];
    uint64_t key[RCS_CACHE];
} rcs_cache;

static uint64_t
referrer_key(const hs_graph *g, rcs_cache *c, hs_id p)
{
    if (g->flags[p] & HS_F_VIRTUAL)
        return HS_RCS_ROOT;
    size_t slot = (p * 2654435761u) & (RCS_CACHE - 1);
    if (c->id[slot] == p)
        return c->key[slot];
    uint64_t k = hs_classify(g, p, HS_BY_CLODO);
    c->id[slot] = p;
    c->key[slot] = k;
    return k;
}

/* Members lo .. hi-1 of s into t (initialised here, freed on error), their
 * ids at ids[lo ..]. */
static int
classify_range(const hs_relations *r, const hs_set *s, size_t lo, size_t hi,
               uint64_t *ids, hs_rcs_table *t)
{
    const hs_graph *g = r->g;
    if (hs_rcs_table_init(t) < 0)
        return -HS_ENOMEM;
    size_t cap = 64;
    uint64_t *keys = malloc(cap * sizeof *keys);
    rcs_cache *cache = malloc(sizeof *cache);
    if (keys == NULL || cache == NULL)
        goto nomem;
    memset(cache->id, 0xff, sizeof cache->id);     /* HS_NO_ID: empty */
    for (size_t k = lo; k < hi; k++) {
        hs_id v = s->ids[k];
        const hs_id *in = hs_rel_in(r, v);
        uint32_t m = hs_rel_nin(r, v);
        size_t nk = 0;
        if (m > cap) {
            uint64_t *b = realloc(keys, m * sizeof *b);
            if (b == NULL)
                goto nomem;
            keys = b;
            cap = m;
        }
        for (uint32_t j = 0; j < m; j++) {
            hs_id p = in[j];
            if (g->flags[p] & HS_F_HIDDEN)
                continue;
            keys[nk++] = referrer_key(g, cache, p);
        }
        if (nk > 16) {
            if (hs_sort_u64(keys, nk) < 0)
                goto nomem;
        } else {
            for (size_t i = 1; i < nk; i++) {       /* few: insertion */
                uint64_t x = keys[i];
                size_t j = i;
                for (; j > 0 && keys[j - 1] > x; j--)
                    keys[j] = keys[j - 1];
                keys[j] = x;
            }
        }
        if (nk > 1) {
            size_t w = 1;
            for (size_t i = 1; i < nk; i++)
                if (keys[i] != keys[w - 1])
                    keys[w++] = keys[i];
            nk = w;
        }
        long long id = hs_rcs_intern(t, keys, nk);
        if (id < 0)
            goto nomem;
        ids[k] = (uint64_t)id;
    }
    free(keys);
    free(cache);
    return 0;
nomem:
    free(keys);
    free(cache);
    hs_rcs_table_free(t);
    return -HS_ENOMEM;
}

/* A big set is classified on two threads, each half into a table of its
 * own: the second half's lists are then interned into the first's in the
 * order the second met them, which numbers them as one pass over the
 * whole set would (a list is numbered where it is first met). */
#define RCS_PAR_MIN (1u << 18)      /* fewer members: one thread */

typedef struct {
    const hs_relations *r;
    const hs_set *s;
    size_t lo, hi;
    uint64_t *ids;
    hs_rcs_table t;
    int err;
} rcs_half;

static void *
rcs_half_main(void *arg)
{
    rcs_half *h = arg;
    h->err = classify_range(h->r, h->s, h->lo, h->hi, h->ids, &h->t);
    return NULL;
}

/* Renumber ids[0 .. n-1], ids in `from`, as ids in t, interning there
 * what t lacks.  0, or -HS_ENOMEM (t is freed). */
static int
rcs_merge(hs_rcs_table *t, const hs_rcs_table *from, uint64_t *ids, size_t n)
{
    uint64_t *to = malloc((from->n ? from->n : 1) * sizeof *to);
    if (to == NULL)
        goto nomem;
    for (size_t j = 0; j < from->n; j++) {
        size_t m;
        const uint64_t *k = hs_rcs_list(from, j, &m);
        long long id = hs_rcs_intern(t, k, m);
        if (id < 0)
            goto nomem;
        to[j] = (uint64_t)id;
    }
    for (size_t k = 0; k < n; k++)
        ids[k] = to[ids[k]];
    free(to);
    return 0;
nomem:
    free(to);
    hs_rcs_table_free(t);
    return -HS_ENOMEM;
}

int
hs_rcs_classify(const hs_relations *r, const hs_set *s, uint64_t *ids,
                hs_rcs_table *t, int threads)
{
    rcs_half h = {r, s, s->n / 2, s->n, ids, {0}, 0};
    pthread_t th;
    if (threads < 2 || s->n < RCS_PAR_MIN ||
        !hs_thread_start(&th, rcs_half_main, &h))
        return classify_range(r, s, 0, s->n, ids, t);
    int err = classify_range(r, s, 0, h.lo, ids, t);
    pthread_join(th, NULL);
    if (err == 0 && h.err != 0) {
        hs_rcs_table_free(t);
        err = h.err;
    }
    if (err == 0)
        err = rcs_merge(t, &h.t, ids + h.lo, h.hi - h.lo);
    if (h.err == 0)
        hs_rcs_table_free(&h.t);
    return err;
}

/* ---- dominators ------------------------------------------------------------ */

/* Semi-NCA (Georgiadis): the semidominators as Lengauer-Tarjan computes
 * them, then each immediate dominator as the nearest common ancestor of
 * its DFS parent and its semidominator in the tree built so far.  It
 * needs no buckets, and the arrays double up: the DFS number -> node map
 * holds each semidominator once that vertex is done, and is rebuilt from
 * the node -> number map at the end.  Five words a node while it runs,
 * against nine for the textbook version; the result is idom and retained
 * (12 bytes a node).  Numbers are 1-based DFS numbers over the nodes plus
 * a super-root (node n, number 1) whose children are the real roots;
 * 0 is "not reached". */
typedef struct snca {
    size_t n;            /* entries of each array */
    uint32_t *dfnum;     /* node -> dfs number */
    uint32_t *vertex;    /* dfs number -> node; then -> semidominator */
    uint32_t *anc;       /* dfs number -> parent, path-compressed */
    uint32_t *idom;      /* dfs number -> parent, then -> immediate dominator */
    uint32_t *label;     /* dfs number -> least semidominator on its path */
} snca;

static void
snca_free(snca *a)
{
    size_t b = a->n * sizeof(uint32_t);
    hs_big_free(a->dfnum, b);
    hs_big_free(a->vertex, b);
    hs_big_free(a->anc, b);
    hs_big_free(a->idom, b);
    hs_big_free(a->label, b);
    a->dfnum = a->vertex = a->anc = a->idom = a->label = NULL;
}

/* Successors in the dominator graph: forward edges, none from heapscope's
 * own objects; the super-root's are the real roots. */
#define MAX_ROOTS 4

static uint32_t
roots_of(const hs_graph *g, hs_id out[MAX_ROOTS])
{
    uint32_t n = 0;
    out[n++] = HS_ROOT;
    if (g->arg_root != HS_NO_ID)
        out[n++] = g->arg_root;
    if (g->gc_root != HS_NO_ID)
        out[n++] = g->gc_root;
    if (g->type_root != HS_NO_ID)
        out[n++] = g->type_root;
    return n;
}

static uint32_t
succ_count(const hs_graph *g, hs_id v, hs_id super)
{
    hs_id roots[MAX_ROOTS];
    if (v == super)
        return roots_of(g, roots);
    if (!live_source(g, v) ||
        ((g->flags[v] & HS_F_VIRTUAL) && !hs_graph_is_root(g, v)))
        return 0;
    return hs_graph_nout(g, v);
}

static hs_id
succ(const hs_graph *g, hs_id v, hs_id super, uint32_t k)
{
    hs_id roots[MAX_ROOTS];
    if (v == super) {
        roots_of(g, roots);
        return roots[k];
    }
    return hs_graph_out(g, v)[k];
}

/* Iterative DFS numbering from the super-root: dfnum, vertex, and the
 * parent in both anc and idom.  The count numbered, or 0 (out of memory;
 * *cancelled set when the progress callback said to stop). */
static uint32_t
snca_dfs(snca *a, const hs_graph *g, hs_id super, const hs_progress *prog,
         int *cancelled)
{
    hs_id *stack = malloc(a->n * sizeof *stack);
    uint32_t *pos = malloc(a->n * sizeof *pos);
    if (stack == NULL || pos == NULL) {
        free(stack);
        free(pos);
        return 0;
    }
    uint32_t count = 0;
    size_t top = 0;
    stack[top] = super;
    pos[top++] = 0;
    a->dfnum[super] = ++count;
    a->vertex[count] = super;
    a->anc[count] = a->idom[count] = 0;
    while (top > 0) {
        hs_id v = stack[top - 1];
        uint32_t k = pos[top - 1], m = succ_count(g, v, super);
        if (k == m) {
            top--;
            continue;
        }
        pos[top - 1] = k + 1;
        hs_id w = succ(g, v, super, k);
        if (a->dfnum[w] != 0 || (g->flags[w] & HS_F_HIDDEN))
            continue;
        a->dfnum[w] = ++count;
        a->vertex[count] = w;
        a->anc[count] = a->idom[count] = a->dfnum[v];
        stack[top] = w;
        pos[top++] = 0;
        if ((count & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "dominator tree", count,
                             3 * (uint64_t)g->n)) {
            *cancelled = 1;
            count = 0;
            break;
        }
    }
    free(stack);
    free(pos);
    return count;
}

/* The least semidominator on the forest path from v (a dfs number) up to,
 * not including, its first ancestor not yet done; done means numbered
 * above `cur`.  Compresses the path iteratively. */
static uint32_t
snca_eval(snca *a, uint32_t v, uint32_t cur, uint32_t *path)
{
    if (v <= cur)
        return v;           /* not done: its own number */
    size_t n = 0;
    uint32_t u = v;
    while (a->anc[u] > cur) {
        path[n++] = u;
        u = a->anc[u];
    }
    while (n > 0) {
        uint32_t x = path[--n], up = a->anc[x];
        if (a->label[up] < a->label[x])
            a->label[x] = a->label[up];
        a->anc[x] = a->anc[up];
    }
    return a->label[v];
}

static int
compute_dominators(hs_relations *r, const hs_progress *prog)
{
    const hs_graph *g = r->g;
    snca a = {0};
    a.n = (size_t)g->n + 2;
    hs_id super = (hs_id)g->n;
    size_t b = a.n * sizeof(uint32_t);
    size_t ob = ((size_t)g->n + 1) * sizeof(hs_id);
    int err = -HS_ENOMEM;
    uint32_t *path = NULL;
    hs_id *idom = NULL;
    uint64_t *retained = NULL;
    a.dfnum = hs_big_alloc(b);
    a.vertex = hs_big_alloc(b);
    a.anc = hs_big_alloc(b);
    a.idom = hs_big_alloc(b);
    a.label = hs_big_alloc(b);
    path = malloc(b);
    if (!a.dfnum || !a.vertex || !a.anc || !a.idom || !a.label || !path)
        goto done;
    /* (all five are written at random from the start) */
    uint32_t *fresh[] = {a.dfnum, a.vertex, a.anc, a.idom, a.label};
    for (size_t k = 0; k < sizeof fresh / sizeof *fresh; k++)
        if (hs_big_populate(fresh[k], b, prog, "dominator tree", 0,
                            3 * (uint64_t)g->n) < 0) {
            err = -HS_ECANCELED;
            goto done;
        }
    if (hs_progress_tick(prog, "dominator tree", 0, 3 * (uint64_t)g->n)) {
        err = -HS_ECANCELED;
        goto done;
    }
    int cancelled = 0;
    uint32_t count = snca_dfs(&a, g, super, prog, &cancelled);
    if (count == 0) {
        if (cancelled)
            err = -HS_ECANCELED;
        goto done;
    }
    /* Semidominators, last number first.  The DFS parent is a predecessor,
     * so the least candidate is at most the parent. */
    for (uint32_t i = count; i >= 2; i--) {
        if ((i & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "dominator tree",
                             (uint64_t)g->n + (count - i), 3 * (uint64_t)g->n)) {
            err = -HS_ECANCELED;
            goto done;
        }
        hs_id w = a.vertex[i];
        uint32_t semi = a.idom[i];
        /* Predecessors: referrers, and the super-root for the roots. */
        if (hs_graph_is_root(g, w)) {
            semi = 1;
        } else {
            const hs_id *in = hs_rel_in(r, w);
            for (uint32_t j = 0, m = hs_rel_nin(r, w); j < m; j++) {
                hs_id p = in[j];
                uint32_t pv = a.dfnum[p];
                if (pv == 0 || !live_source(g, p))
                    continue;
                if ((g->flags[p] & HS_F_VIRTUAL) && !hs_graph_is_root(g, p))
                    continue;
                uint32_t s = snca_eval(&a, pv, i, path);
                if (s < semi)
                    semi = s;
            }
        }
        a.label[i] = semi;
        a.vertex[i] = semi;      /* i's node is no longer needed here */
    }
    /* Immediate dominators, first number first: the nearest common
     * ancestor of the parent and the semidominator. */
    uint64_t done2 = 2 * (uint64_t)g->n, all = 3 * (uint64_t)g->n;
    for (uint32_t i = 2; i <= count; i++) {
        if ((i & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "dominator tree", done2, all)) {
            err = -HS_ECANCELED;
            goto done;
        }
        uint32_t d = a.idom[i], semi = a.vertex[i];
        while (d > semi)
            d = a.idom[d];
        a.idom[i] = d;
    }
    /* Back to nodes. */
    free(path);
    path = NULL;
    hs_big_free(a.anc, b);
    hs_big_free(a.label, b);
    a.anc = a.label = NULL;
    for (size_t v = 0; v <= g->n; v++) {
        if ((v & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "dominator tree", done2, all)) {
            err = -HS_ECANCELED;
            goto done;
        }
        if (a.dfnum[v] != 0)
            a.vertex[a.dfnum[v]] = (uint32_t)v;
    }
    hs_big_free(a.dfnum, b);
    a.dfnum = NULL;
    if ((idom = hs_big_alloc_kept(ob)) == NULL)
        goto done;
    if (hs_big_populate(idom, ob, prog, "dominator tree", done2, all) < 0) {
        err = -HS_ECANCELED;
        goto done;
    }
    for (size_t i = 0; i <= g->n; i++)
        idom[i] = HS_NO_ID;
    for (uint32_t i = 2; i <= count; i++) {
        hs_id d = a.vertex[a.idom[i]];
        idom[a.vertex[i]] = d == super ? HS_NO_ID : d;
    }
    hs_big_free(a.idom, b);
    a.idom = NULL;
    /* Retained sizes: children before parents (reverse dfs order).  Static
     * objects are never freed: they retain nothing of their own size. */
    retained = hs_big_alloc_kept(((size_t)g->n + 1) * sizeof *retained);
    if (retained == NULL)
        goto done;
    if (hs_big_populate(retained, ((size_t)g->n + 1) * sizeof *retained,
                        prog, "dominator tree", done2, all) < 0) {
        err = -HS_ECANCELED;
        goto done;
    }
    for (uint32_t i = count; i >= 2; i--) {
        if ((i & (TICK_EVERY - 1)) == 0 &&
            hs_progress_tick(prog, "dominator tree", done2, all)) {
            err = -HS_ECANCELED;
            goto done;
        }
        hs_id v = a.vertex[i];
        if (hs_rel_is_object(g, v) && !(g->flags[v] & HS_F_STATIC))
            retained[v] += hs_graph_size(g, v);
        hs_id d = idom[v];
        if (d != HS_NO_ID)
            retained[d] += retained[v];
    }
    r->idom = idom;
    r->retained = retained;
    idom = NULL;
    retained = NULL;
    err = 0;
done:
    free(path);
    snca_free(&a);
    hs_big_free(idom, ob);
    hs_big_free(retained, ((size_t)g->n + 1) * sizeof *retained);
    return err;
}

int
hs_dominators_ready(hs_relations *r)
{
    /* Busy (another thread computing the tree) means not yet. */
    if (pthread_mutex_trylock(&r->dom_lock) != 0)
        return 0;
    int ready = r->have_dominators;
    pthread_mutex_unlock(&r->dom_lock);
    return ready;
}

int
hs_dominators_awaited(const hs_relations *r)
{
    return atomic_load_explicit(&r->dom_waiting, memory_order_relaxed) > 0;
}

int
hs_dominators(hs_relations *r, const hs_progress *prog)
{
    int err = 0;
    if (pthread_mutex_trylock(&r->dom_lock) != 0) {
        atomic_fetch_add(&r->dom_waiting, 1);
        pthread_mutex_lock(&r->dom_lock);
        atomic_fetch_sub(&r->dom_waiting, 1);
    }
    if (!r->have_dominators) {
        err = compute_dominators(r, prog);
        if (err == 0)
            r->have_dominators = 1;
    }
    pthread_mutex_unlock(&r->dom_lock);
    return err;
}

/* Per-node state of a domisize computation. */
#define ST_S     1u   /* a member of the set */
#define ST_C     2u   /* reachable from the set (not in it) */
#define ST_ALIVE 4u   /* in C, and reachable from a root without the set */

/* Whether v can be freed at all: an object of the heap (every one is
 * reached from a root), not static. */
static int
freeable(const hs_relations *r, hs_id v)
{
    const hs_graph *g = r->g;
    return hs_rel_is_object(g, v) && !(g->flags[v] & HS_F_STATIC);
}

/* Grow-on-demand id list. */
typedef struct idlist {
    hs_id *a;
    size_t n, cap;
} idlist;

static int
idlist_push(idlist *l, hs_id v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        hs_id *b = realloc(l->a, cap * sizeof *b);
        if (b == NULL)
            return -HS_ENOMEM;
        l->a = b;
        l->cap = cap;
    }
    l->a[l->n++] = v;
    return 0;
}

/* The objects freed with s, found from s outward: C is what s reaches; a
 * member of C stays alive if a referrer outside s and C holds it, or an
 * alive member of C does.  Costs O(|C| + its edges), so a set of leaves
 * (strings) costs only its own size.  Returns 1 (and nothing) when C grows
 * beyond `budget` nodes: the caller floods from the roots instead. */
static int
freed_from_set(const hs_relations *r, const hs_set *s, uint8_t *st,
               idlist *c, size_t budget, const hs_progress *prog)
{
    const hs_graph *g = r->g;
    /* C: breadth-first from s along live edges. */
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        const hs_id *e = hs_graph_out(g, v);
        if (!live_source(g, v))
            continue;
        for (uint32_t j = 0, m = hs_graph_nout(g, v); j < m; j++) {
            hs_id w = e[j];
            if (st[w] || !freeable(r, w))
                continue;
            st[w] = ST_C;
            if (idlist_push(c, w) < 0)
                return -HS_ENOMEM;
        }
    }
    for (size_t head = 0; head < c->n; head++) {
        if (c->n > budget)
            return 1;
        if ((head & (TICK_EVERY - 1)) == TICK_EVERY - 1 &&
            hs_progress_tick(prog, "dominated size", head, 0))
            return -HS_ECANCELED;
        hs_id v = c->a[head];
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t j = 0, m = hs_graph_nout(g, v); j < m; j++) {
            hs_id w = e[j];
            if (st[w] || !freeable(r, w))
                continue;
            st[w] = ST_C;
            if (idlist_push(c, w) < 0)
                return -HS_ENOMEM;
        }
    }
    /* Seeds of life: members of C held from outside s and C. */
    idlist alive = {0};
    for (size_t k = 0; k < c->n; k++) {
        hs_id v = c->a[k];
        const hs_id *in = hs_rel_in(r, v);
        for (uint32_t j = 0, m = hs_rel_nin(r, v); j < m; j++) {
            hs_id p = in[j];
            if (st[p] & (ST_S | ST_C))
                continue;
            if (!live_source(g, p) ||
                ((g->flags[p] & HS_F_VIRTUAL) && !hs_graph_is_root(g, p)))
                continue;
            st[v] |= ST_ALIVE;
            if (idlist_push(&alive, v) < 0) {
                free(alive.a);
                return -HS_ENOMEM;
            }
            break;
        }
    }
    /* Life spreads along edges inside C. */
    for (size_t head = 0; head < alive.n; head++) {
        hs_id v = alive.a[head];
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t j = 0, m = hs_graph_nout(g, v); j < m; j++) {
            hs_id w = e[j];
            if (st[w] != ST_C)
                continue;
            st[w] |= ST_ALIVE;
            if (idlist_push(&alive, w) < 0) {
                free(alive.a);
                return -HS_ENOMEM;
            }
        }
    }
    free(alive.a);
    return 0;
}

/* The objects freed with s, found from the roots: everything reachable
 * without passing through s stays.  Marks ST_ALIVE on what stays. */
static int
freed_by_flood(const hs_relations *r, uint8_t *st, const hs_progress *prog)
{
    const hs_graph *g = r->g;
    idlist q = {0};
    hs_id roots[MAX_ROOTS];
    for (uint32_t k = 0, nr = roots_of(g, roots); k < nr; k++) {
        if (!st[roots[k]]) {
            st[roots[k]] = ST_ALIVE;
            if (idlist_push(&q, roots[k]) < 0)
                goto nomem;
        }
    }
    for (size_t head = 0; head < q.n; head++) {
        if ((head & (TICK_EVERY - 1)) == TICK_EVERY - 1 &&
            hs_progress_tick(prog, "dominated size", head, g->n)) {
            free(q.a);
            return -HS_ECANCELED;
        }
        hs_id v = q.a[head];
        if (!live_source(g, v))
            continue;
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t k = 0, m = hs_graph_nout(g, v); k < m; k++) {
            hs_id w = e[k];
            if (!st[w]) {
                st[w] = ST_ALIVE;
                if (idlist_push(&q, w) < 0)
                    goto nomem;
            }
        }
    }
    free(q.a);
    return 0;
nomem:
    free(q.a);
    return -HS_ENOMEM;
}

/* Zeroed marks for one node each: the kept ones if free (*mine = 1),
 * else fresh ones. */
static uint8_t *
marks_take(hs_relations *r, int *mine)
{
    size_t n = r->g->n;
    *mine = 0;
    if (pthread_mutex_trylock(&r->scratch_lock) == 0) {
        if (r->scratch == NULL)
            r->scratch = hs_big_alloc_kept(n + 1);
        if (r->scratch != NULL) {
            *mine = 1;
            return r->scratch;
        }
        pthread_mutex_unlock(&r->scratch_lock);
    }
    return hs_big_alloc(n + 1);
}

/* Give the marks back, zeroed again: the entries of s and c, or all of
 * them after a flood. */
static void
marks_give(hs_relations *r, uint8_t *st, int mine, int all, const hs_set *s,
           const idlist *c)
{
    size_t n = r->g->n;
    if (!mine) {
        hs_big_free(st, n + 1);
        return;
    }
    if (all) {
        memset(st, 0, n + 1);
    } else {
        for (size_t k = 0; k < s->n; k++)
            st[s->ids[k]] = 0;
        for (size_t k = 0; k < c->n; k++)
            st[c->a[k]] = 0;
    }
    pthread_mutex_unlock(&r->scratch_lock);
}

int
hs_domisize(hs_relations *r, const hs_set *s, uint64_t *bytes, hs_set *freed,
            const hs_progress *prog)
{
    const hs_graph *g = r->g;
    int err = hs_dominators(r, prog);
    if (err < 0)
        return err;
    /* One object: what it dominates, from the tree. */
    if (s->n == 1 && freed == NULL) {
        hs_id v = s->ids[0];
        *bytes = freeable(r, v) ? r->retained[v] : 0;
        return 0;
    }
    size_t n = g->n;
    int mine;
    uint8_t *st = marks_take(r, &mine);
    idlist c = {0};
    if (st == NULL)
        return -HS_ENOMEM;
    for (size_t k = 0; k < s->n; k++)
        st[s->ids[k]] = ST_S;
    /* Work from the set outward unless what it reaches is a good part of
     * the heap: then one flood from the roots is cheaper.  A set whose
     * own edges are most of the heap's (h itself) floods at once: the
     * flood then only walks what the set leaves out. */
    uint64_t own_edges = 0;
    for (size_t k = 0; k < s->n; k++)
        own_edges += hs_graph_nout(g, s->ids[k]);
    if (own_edges > 1024 && own_edges <= g->nedges / 2) {
        /* what the set reaches first: room for it at once (no more than
         * the walk outward may hold before it gives up for the flood) */
        size_t want = own_edges < n / 4 + 1024 ? own_edges : n / 4 + 1024;
        c.a = malloc(want * sizeof *c.a);
        c.cap = c.a != NULL ? want : 0;
    }
    if (own_edges > g->nedges / 2 && !r->domisize_budget)
        err = 1;
    else
        err = freed_from_set(r, s, st, &c,
                             r->domisize_budget ? r->domisize_budget
                                                : n / 4 + 1024, prog);
    int flooded = 0;
    if (err == 1) {
        for (size_t k = 0; k < c.n; k++)
            st[c.a[k]] = 0;
        free(c.a);
        c.a = NULL;
        c.n = c.cap = 0;
        err = freed_by_flood(r, st, prog);
        flooded = 1;
    }
    if (err < 0) {
        /* (an early stop leaves marks anywhere: clear them all) */
        marks_give(r, st, mine, 1, s, &c);
        free(c.a);
        return err;
    }
    /* Freed: the members of s, and what s reaches that nothing else keeps. */
    uint64_t total = 0;
    idlist out = {0};
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        if (!freeable(r, v))
            continue;
        total += hs_graph_size(g, v);
        if (freed && idlist_push(&out, v) < 0)
            goto nomem;
    }
    if (flooded) {
        for (hs_id v = 0; v < n; v++) {
            if (st[v] || !freeable(r, v))
                continue;
            total += hs_graph_size(g, v);
            if (freed && idlist_push(&out, v) < 0)
                goto nomem;
        }
    } else {
        for (size_t k = 0; k < c.n; k++) {
            hs_id v = c.a[k];
            if (st[v] & ST_ALIVE)
                continue;
            total += hs_graph_size(g, v);
            if (freed && idlist_push(&out, v) < 0)
                goto nomem;
        }
    }
    marks_give(r, st, mine, flooded, s, &c);
    free(c.a);
    *bytes = total;
    if (freed) {
        err = hs_set_from_ids(freed, out.a, out.n);
        free(out.a);
        return err;
    }
    return 0;
nomem:
    marks_give(r, st, mine, flooded, s, &c);
    free(c.a);
    free(out.a);
    return -HS_ENOMEM;
}

/* ---- paths ----------------------------------------------------------------- */

/* A shortest path by a breadth-first search from the roots: for the few
 * nodes the walk met before any of their referrers (an object's type met
 * through an object heapscope keeps to itself). */
static int
bfs_path(const hs_relations *r, hs_id id, hs_id *path, size_t max,
         size_t *len)
{
    const hs_graph *g = r->g;
    hs_id *parent = hs_big_alloc(((size_t)g->n + 1) * sizeof *parent);
    hs_id *q = malloc(((size_t)g->n + 1) * sizeof *q);
    int err = 0;
    if (parent == NULL || q == NULL) {
        err = -HS_ENOMEM;
        goto done;
    }
    /* parent[v] is v's parent + 1; 0 = not reached */
    size_t head = 0, tail = 0;
    hs_id roots[MAX_ROOTS];
    for (uint32_t k = 0, nr = roots_of(g, roots); k < nr; k++) {
        parent[roots[k]] = roots[k] + 1;
        q[tail++] = roots[k];
    }
    while (head < tail && parent[id] == 0) {
        hs_id v = q[head++];
        if (!live_source(g, v))
            continue;
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t k = 0, m = hs_graph_nout(g, v); k < m; k++) {
            hs_id w = e[k];
            if (parent[w] == 0) {
                parent[w] = v + 1;
                q[tail++] = w;
            }
        }
    }
    if (parent[id] == 0)
        goto done;              /* unreachable: *len stays 0 */
    size_t n = 0;
    for (hs_id v = id;; v = parent[v] - 1) {
        if (n == max) {
            err = -HS_ERANGE;
            goto done;
        }
        path[n++] = v;
        if (parent[v] - 1 == v)
            break;              /* a root */
    }
    for (size_t i = 0; i < n / 2; i++) {
        hs_id t = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = t;
    }
    *len = n;
done:
    hs_big_free(parent, ((size_t)g->n + 1) * sizeof *parent);
    free(q);
    return err;
}

int
hs_shortest_path(const hs_relations *r, hs_id id, hs_id *path, size_t max,
                 size_t *len)
{
    const hs_graph *g = r->g;
    size_t n = 0;
    hs_id v = id;
    *len = 0;
    if (id >= g->n)
        return -HS_EINVAL;
    /* The walk is breadth-first: a node's smallest referrer discovered it,
     * one step closer to a root.  Heapscope's own objects are no path. */
    for (;;) {
        if (n == max)
            return -HS_ERANGE;
        path[n++] = v;
        if (g->flags[v] & HS_F_VIRTUAL)
            break;
        const hs_id *in = hs_rel_in(r, v);
        uint32_t m = hs_rel_nin(r, v), j = 0;
        while (j < m && (g->flags[in[j]] & HS_F_HIDDEN))
            j++;
        if (j == m || in[j] >= v)
            return bfs_path(r, id, path, max, len);
        v = in[j];
    }
    if (!hs_graph_is_root(g, v))
        return bfs_path(r, id, path, max, len);
    /* reverse into root-first order */
    for (size_t i = 0; i < n / 2; i++) {
        hs_id t = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = t;
    }
    *len = n;
    return 0;
}
