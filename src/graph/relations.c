/* relations.c - referrers, referrer kinds, dominators and paths.
 *
 * Reverse edges are built once per snapshot by a counting pass over the
 * forward edges, so each node's referrers come out sorted by id, and, the
 * walk being breadth-first from the root, a node's smallest referrer is its
 * parent on a shortest path.  The dominator tree is Lengauer-Tarjan with
 * path compression, iterative throughout (a 10-million-long chain is fine).
 * Pure C, no Python.h.
 */
#include <stdlib.h>
#include <string.h>

#include "heapscope/relations.h"
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

int
hs_relations_new(hs_relations **out, const hs_graph *g)
{
    hs_relations *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -HS_ENOMEM;
    r->g = g;
    size_t n = g->n;
    r->rev_start = hs_big_alloc((n + 1) * sizeof *r->rev_start);
    r->rev = hs_big_alloc((g->nedges + 1) * sizeof *r->rev);
    if (r->rev_start == NULL || r->rev == NULL) {
        hs_relations_free(r);
        return -HS_ENOMEM;
    }
    /* Count, prefix-sum, then fill in source order: sorted by source. */
    for (uint64_t e = 0; e < g->nedges; e++)
        r->rev_start[g->edges[e] + 1]++;
    for (size_t i = 0; i < n; i++)
        r->rev_start[i + 1] += r->rev_start[i];
    uint32_t *fill = malloc((n + 1) * sizeof *fill);
    if (fill == NULL) {
        hs_relations_free(r);
        return -HS_ENOMEM;
    }
    memcpy(fill, r->rev_start, (n + 1) * sizeof *fill);
    for (hs_id src = 0; src < n; src++) {
        const hs_id *e = hs_graph_out(g, src);
        for (uint32_t k = 0, m = hs_graph_nout(g, src); k < m; k++)
            r->rev[fill[e[k]]++] = src;
    }
    free(fill);
    *out = r;
    return 0;
}

void
hs_relations_free(hs_relations *r)
{
    if (r == NULL)
        return;
    size_t n = r->g->n;
    hs_big_free(r->rev_start, (n + 1) * sizeof *r->rev_start);
    hs_big_free(r->rev, (r->g->nedges + 1) * sizeof *r->rev);
    hs_big_free(r->idom, (n + 1) * sizeof *r->idom);
    hs_big_free(r->retained, (n + 1) * sizeof *r->retained);
    free(r);
}

size_t
hs_relations_memory(const hs_relations *r)
{
    size_t n = r->g->n, m = sizeof *r;
    m += (n + 1) * sizeof *r->rev_start + (r->g->nedges + 1) * sizeof *r->rev;
    if (r->have_dominators)
        m += (n + 1) * (sizeof *r->idom + sizeof *r->retained);
    return m;
}

/* Collect ids into a set (sorting and deduplicating). */
static int
gather(hs_set *out, hs_id *buf, size_t n)
{
    int rc = hs_set_from_ids(out, buf, n);
    free(buf);
    return rc;
}

int
hs_referrers(const hs_relations *r, const hs_set *s, hs_set *out)
{
    const hs_graph *g = r->g;
    size_t cap = 1024, n = 0;
    hs_id *buf = malloc(cap * sizeof *buf);
    if (buf == NULL)
        return -HS_ENOMEM;
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        const hs_id *in = hs_rel_in(r, v);
        for (uint32_t j = 0, m = hs_rel_nin(r, v); j < m; j++) {
            if (!hs_rel_is_object(g, in[j]))
                continue;
            if (n == cap) {
                hs_id *b = realloc(buf, cap * 2 * sizeof *b);
                if (b == NULL) {
                    free(buf);
                    return -HS_ENOMEM;
                }
                buf = b;
                cap *= 2;
            }
            buf[n++] = in[j];
        }
    }
    return gather(out, buf, n);
}

int
hs_referents(const hs_relations *r, const hs_set *s, hs_set *out)
{
    const hs_graph *g = r->g;
    size_t cap = 1024, n = 0;
    hs_id *buf = malloc(cap * sizeof *buf);
    if (buf == NULL)
        return -HS_ENOMEM;
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t j = 0, m = hs_graph_nout(g, v); j < m; j++) {
            if (!hs_rel_is_object(g, e[j]) || (g->flags[e[j]] & HS_F_STATIC))
                continue;
            if (n == cap) {
                hs_id *b = realloc(buf, cap * 2 * sizeof *b);
                if (b == NULL) {
                    free(buf);
                    return -HS_ENOMEM;
                }
                buf = b;
                cap *= 2;
            }
            buf[n++] = e[j];
        }
    }
    return gather(out, buf, n);
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

static int
rcs_grow(hs_rcs_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    size_t *st = realloc(t->start, (cap + 1) * sizeof *st);
    if (st == NULL)
        return -HS_ENOMEM;
    t->start = st;
    uint32_t *slot = calloc(cap * 2, sizeof *slot);
    if (slot == NULL)
        return -HS_ENOMEM;
    free(t->slot);
    t->slot = slot;
    t->smask = cap * 2 - 1;
    t->cap = cap;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = list_hash(t->key + t->start[id],
                             t->start[id + 1] - t->start[id]) & t->smask;
        while (t->slot[i])
            i = (i + 1) & t->smask;
        t->slot[i] = (uint32_t)id + 1;
    }
    return 0;
}

/* The id of the list k[0..n), adding it if new; -1 on ENOMEM. */
static long long
rcs_intern(hs_rcs_table *t, const uint64_t *k, size_t n)
{
    uint64_t h = list_hash(k, n);
    size_t i = h & t->smask;
    for (;;) {
        uint32_t s = t->slot[i];
        if (s == 0)
            break;
        size_t a = t->start[s - 1], m = t->start[s] - a;
        if (m == n && memcmp(t->key + a, k, n * sizeof *k) == 0)
            return s - 1;
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
    memcpy(t->key + t->nkeys, k, n * sizeof *k);
    t->nkeys += n;
    size_t id = t->n++;
    t->start[id + 1] = t->nkeys;
    t->slot[i] = (uint32_t)id + 1;
    return (long long)id;
}

int
hs_rcs_classify(const hs_relations *r, const hs_set *s, uint64_t *ids,
                hs_rcs_table *t)
{
    const hs_graph *g = r->g;
    memset(t, 0, sizeof *t);
    if (rcs_grow(t) < 0)
        return -HS_ENOMEM;
    t->start[0] = 0;
    size_t cap = 64;
    uint64_t *keys = malloc(cap * sizeof *keys);
    if (keys == NULL)
        goto nomem;
    for (size_t k = 0; k < s->n; k++) {
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
            keys[nk++] = (g->flags[p] & HS_F_VIRTUAL)
                             ? HS_RCS_ROOT : hs_classify(g, p, HS_BY_CLODO);
        }
        if (nk > 1) {
            if (hs_sort_u64(keys, nk) < 0)
                goto nomem;
            size_t w = 1;
            for (size_t i = 1; i < nk; i++)
                if (keys[i] != keys[w - 1])
                    keys[w++] = keys[i];
            nk = w;
        }
        long long id = rcs_intern(t, keys, nk);
        if (id < 0)
            goto nomem;
        ids[k] = (uint64_t)id;
    }
    free(keys);
    return 0;
nomem:
    free(keys);
    hs_rcs_table_free(t);
    return -HS_ENOMEM;
}

/* ---- dominators ------------------------------------------------------------ */

/* Lengauer-Tarjan over the nodes plus a super-root (index n) whose children
 * are the root and the collector-only root.  Arrays are indexed by DFS
 * number (1-based; 0 = not reached). */
typedef struct lt {
    size_t n;
    uint32_t *dfnum;     /* node -> dfs number */
    hs_id *vertex;       /* dfs number -> node */
    uint32_t *parent;    /* dfs numbers from here on */
    uint32_t *semi, *ancestor, *label, *dom, *bucket, *next;
} lt;

static void
lt_free(lt *a)
{
    size_t b = (a->n + 2) * sizeof(uint32_t);
    hs_big_free(a->dfnum, b);
    hs_big_free(a->vertex, b);
    hs_big_free(a->parent, b);
    hs_big_free(a->semi, b);
    hs_big_free(a->ancestor, b);
    hs_big_free(a->label, b);
    hs_big_free(a->dom, b);
    hs_big_free(a->bucket, b);
    hs_big_free(a->next, b);
}

/* Successors in the dominator graph: forward edges, none from heapscope's
 * own objects; the super-root's are the real roots. */
static uint32_t
roots_of(const hs_graph *g, hs_id out[3])
{
    uint32_t n = 0;
    out[n++] = HS_ROOT;
    if (g->arg_root != HS_NO_ID)
        out[n++] = g->arg_root;
    if (g->gc_root != HS_NO_ID)
        out[n++] = g->gc_root;
    return n;
}

static uint32_t
succ_count(const hs_graph *g, hs_id v, hs_id super)
{
    hs_id roots[3];
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
    hs_id roots[3];
    if (v == super) {
        roots_of(g, roots);
        return roots[k];
    }
    return hs_graph_out(g, v)[k];
}

/* Iterative DFS numbering from the super-root. */
static uint32_t
lt_dfs(lt *a, const hs_graph *g, hs_id super)
{
    hs_id *stack = malloc((a->n + 2) * sizeof *stack);
    uint32_t *pos = malloc((a->n + 2) * sizeof *pos);
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
    a->parent[count] = 0;
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
        a->parent[count] = a->dfnum[v];
        stack[top] = w;
        pos[top++] = 0;
    }
    free(stack);
    free(pos);
    return count;
}

/* eval() with iterative path compression (all in dfs numbers). */
static uint32_t
lt_eval(lt *a, uint32_t v, uint32_t *path)
{
    if (a->ancestor[v] == 0)
        return v;
    size_t n = 0;
    uint32_t u = v;
    while (a->ancestor[a->ancestor[u]] != 0) {
        path[n++] = u;
        u = a->ancestor[u];
    }
    while (n > 0) {
        uint32_t x = path[--n], anc = a->ancestor[x];
        if (a->semi[a->label[anc]] < a->semi[a->label[x]])
            a->label[x] = a->label[anc];
        a->ancestor[x] = a->ancestor[anc];
    }
    return a->label[v];
}

int
hs_dominators(hs_relations *r)
{
    if (r->have_dominators)
        return 0;
    const hs_graph *g = r->g;
    lt a = {0};
    a.n = g->n + 1;
    hs_id super = (hs_id)g->n;
    size_t b = (a.n + 2) * sizeof(uint32_t);
    int err = -HS_ENOMEM;
    uint32_t *path = NULL;
    a.dfnum = hs_big_alloc(b);
    a.vertex = hs_big_alloc(b);
    a.parent = hs_big_alloc(b);
    a.semi = hs_big_alloc(b);
    a.ancestor = hs_big_alloc(b);
    a.label = hs_big_alloc(b);
    a.dom = hs_big_alloc(b);
    a.bucket = hs_big_alloc(b);
    a.next = hs_big_alloc(b);
    path = malloc(b);
    r->idom = hs_big_alloc((g->n + 1) * sizeof *r->idom);
    r->retained = hs_big_alloc((g->n + 1) * sizeof *r->retained);
    if (!a.dfnum || !a.vertex || !a.parent || !a.semi || !a.ancestor ||
        !a.label || !a.dom || !a.bucket || !a.next || !path || !r->idom ||
        !r->retained)
        goto done;
    uint32_t count = lt_dfs(&a, g, super);
    if (count == 0)
        goto done;
    for (uint32_t i = 1; i <= count; i++) {
        a.semi[i] = i;
        a.label[i] = i;
    }
    for (uint32_t i = count; i >= 2; i--) {
        hs_id w = a.vertex[i];
        /* Predecessors: referrers, and the super-root for the roots. */
        if (hs_graph_is_root(g, w)) {
            if (a.semi[1] < a.semi[i])
                a.semi[i] = 1;
        } else {
            const hs_id *in = hs_rel_in(r, w);
            for (uint32_t j = 0, m = hs_rel_nin(r, w); j < m; j++) {
                hs_id p = in[j];
                uint32_t pv = a.dfnum[p];
                if (pv == 0 || !live_source(g, p))
                    continue;
                if ((g->flags[p] & HS_F_VIRTUAL) && !hs_graph_is_root(g, p))
                    continue;
                uint32_t u = lt_eval(&a, pv, path);
                if (a.semi[u] < a.semi[i])
                    a.semi[i] = a.semi[u];
            }
        }
        /* add i to the bucket of its semidominator; link to parent */
        a.next[i] = a.bucket[a.semi[i]];
        a.bucket[a.semi[i]] = i;
        uint32_t par = a.parent[i];
        a.ancestor[i] = par;
        for (uint32_t v = a.bucket[par]; v != 0; v = a.next[v]) {
            uint32_t u = lt_eval(&a, v, path);
            a.dom[v] = a.semi[u] < a.semi[v] ? u : par;
        }
        a.bucket[par] = 0;
    }
    for (uint32_t i = 2; i <= count; i++)
        if (a.dom[i] != a.semi[i])
            a.dom[i] = a.dom[a.dom[i]];
    for (size_t i = 0; i <= g->n; i++)
        r->idom[i] = HS_NO_ID;
    for (uint32_t i = 2; i <= count; i++) {
        hs_id d = a.vertex[a.dom[i]];
        r->idom[a.vertex[i]] = d == super ? HS_NO_ID : d;
    }
    /* Retained sizes: children before parents (reverse dfs order). */
    for (uint32_t i = count; i >= 2; i--) {
        hs_id v = a.vertex[i];
        if (hs_rel_is_object(g, v) && !(g->flags[v] & HS_F_STATIC))
            r->retained[v] += hs_graph_size(g, v);
        hs_id d = r->idom[v];
        if (d != HS_NO_ID)
            r->retained[d] += r->retained[v];
    }
    r->have_dominators = 1;
    err = 0;
done:
    free(path);
    lt_free(&a);
    if (err < 0) {
        hs_big_free(r->idom, (g->n + 1) * sizeof *r->idom);
        hs_big_free(r->retained, (g->n + 1) * sizeof *r->retained);
        r->idom = NULL;
        r->retained = NULL;
    }
    return err;
}

int
hs_domisize(hs_relations *r, const hs_set *s, uint64_t *bytes, hs_set *freed)
{
    const hs_graph *g = r->g;
    int err = hs_dominators(r);
    if (err < 0)
        return err;
    /* One object: what it dominates, from the tree. */
    if (s->n == 1 && freed == NULL) {
        *bytes = r->retained[s->ids[0]];
        return 0;
    }
    /* A set: flood from the roots without passing through it; what was
     * reachable before and is not now would be freed. */
    size_t n = g->n, words = (n + 64) / 64;
    uint64_t *seen = calloc(words, sizeof *seen);
    hs_id *queue = malloc((n + 1) * sizeof *queue);
    if (seen == NULL || queue == NULL) {
        free(seen);
        free(queue);
        return -HS_ENOMEM;
    }
#define SEEN(v) (seen[(v) >> 6] & (1ull << ((v) & 63)))
#define MARK(v) (seen[(v) >> 6] |= 1ull << ((v) & 63))
    for (size_t k = 0; k < s->n; k++)
        MARK(s->ids[k]);
    size_t head = 0, tail = 0;
    hs_id roots[3];
    for (uint32_t k = 0, nr = roots_of(g, roots); k < nr; k++) {
        if (!SEEN(roots[k])) {
            queue[tail++] = roots[k];
            MARK(roots[k]);
        }
    }
    while (head < tail) {
        hs_id v = queue[head++];
        if (!live_source(g, v))
            continue;
        const hs_id *e = hs_graph_out(g, v);
        for (uint32_t k = 0, m = hs_graph_nout(g, v); k < m; k++) {
            hs_id w = e[k];
            if (!SEEN(w)) {
                MARK(w);
                queue[tail++] = w;
            }
        }
    }
    /* Freed: reached in the full graph (has a dominator entry or is in s)
     * but not now.  Members of s were marked: count them separately. */
    uint64_t total = 0;
    size_t nf = 0;
    for (size_t k = 0; k < s->n; k++) {
        hs_id v = s->ids[k];
        if (hs_rel_is_object(g, v) && !(g->flags[v] & HS_F_STATIC))
            total += hs_graph_size(g, v);
        if (freed)
            queue[nf++] = v;
    }
    for (hs_id v = 0; v < n; v++) {
        if (SEEN(v) || !hs_rel_is_object(g, v) || r->idom[v] == HS_NO_ID)
            continue;
        if (!(g->flags[v] & HS_F_STATIC))
            total += hs_graph_size(g, v);
        if (freed)
            queue[nf++] = v;
    }
#undef SEEN
#undef MARK
    free(seen);
    *bytes = total;
    if (freed) {
        err = hs_set_from_ids(freed, queue, nf);
        free(queue);
        return err;
    }
    free(queue);
    return 0;
}

/* ---- paths ----------------------------------------------------------------- */

int
hs_shortest_path(const hs_relations *r, hs_id id, hs_id *path, size_t max,
                 size_t *len)
{
    const hs_graph *g = r->g;
    size_t n = 0;
    hs_id v = id;
    *len = 0;
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
            return 0;           /* no path from a root */
        v = in[j];
    }
    /* reverse into root-first order */
    for (size_t i = 0; i < n / 2; i++) {
        hs_id t = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = t;
    }
    *len = n;
    return 0;
}
