/* partition.c - group a node set by a key, heapy's "Partition of a set".
 *
 * Keys map to dense group numbers through a small hash table; members are
 * then scattered by group in one stable pass, so each group's members stay
 * sorted and the whole partition is O(n).  One group per object (byid) is
 * a sort instead.  Pure C, no Python.h.
 */
#define _GNU_SOURCE 1   /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "heapscope/graph.h"
#include "sort.h"

uint64_t
hs_classify(const hs_graph *g, hs_id id, enum hs_classifier by)
{
    switch (by) {
    case HS_BY_TYPE:
        return g->type[id];
    case HS_BY_CLODO:
        if (g->flags[id] & HS_F_DICT) {
            hs_id owner = hs_graph_owner(g, id);
            if (owner != HS_NO_ID)
                return (uint64_t)g->type[owner] | HS_KEY_DICTOF;
        }
        return g->type[id];
    case HS_BY_SIZE:
        return hs_graph_size(g, id);
    case HS_BY_ID:
        return id;
    case HS_BY_UNITY:
    default:
        return 0;
    }
}

void
hs_partition_free(hs_partition *p)
{
    free(p->key);
    free(p->count);
    free(p->gsize);
    free(p->start);
    free(p->member);
    memset(p, 0, sizeof *p);
}

static int
alloc_groups(hs_partition *p, size_t ngroups, size_t nmembers)
{
    p->ngroups = ngroups;
    p->key = malloc((ngroups + 1) * sizeof *p->key);
    p->count = malloc((ngroups + 1) * sizeof *p->count);
    p->gsize = malloc((ngroups + 1) * sizeof *p->gsize);
    p->start = malloc((ngroups + 1) * sizeof *p->start);
    p->member = malloc((nmembers + 1) * sizeof *p->member);
    if (!p->key || !p->count || !p->gsize || !p->start || !p->member)
        return -HS_ENOMEM;
    return 0;
}

/* One group per object, ordered by size (largest first), then id. */
static int
partition_by_id(hs_partition *p, const hs_graph *g, const hs_set *s)
{
    size_t n = s->n;
    uint64_t *order = malloc((n + 1) * sizeof *order);
    if (order == NULL || alloc_groups(p, n, n) < 0) {
        free(order);
        return -HS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t sz = hs_graph_size(g, s->ids[i]);
        if (sz > UINT32_MAX - 1)
            sz = UINT32_MAX - 1;
        order[i] = ((uint64_t)(UINT32_MAX - 1 - sz) << 32) | s->ids[i];
    }
    if (hs_sort_u64(order, n) < 0) {
        free(order);
        return -HS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        hs_id id = (hs_id)order[i];
        p->key[i] = id;
        p->count[i] = 1;
        p->gsize[i] = hs_graph_size(g, id);
        p->start[i] = i;
        p->member[i] = id;
        p->total_size += p->gsize[i];
    }
    p->start[n] = n;
    p->total_count = n;
    free(order);
    return 0;
}

typedef struct {
    uint64_t *key;     /* per group */
    uint64_t *count, *size;
    size_t n, cap;
    uint32_t *slot;    /* group index + 1, 0 = empty */
    size_t smask;
} keymap;

static uint64_t
key_hash(uint64_t k)
{
    k *= 0x9E3779B97F4A7C15ull;
    return k ^ (k >> 31);
}

static int
keymap_grow(keymap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    uint64_t *k = realloc(m->key, cap * sizeof *k);
    if (k == NULL)
        return -HS_ENOMEM;
    m->key = k;
    uint64_t *c = realloc(m->count, cap * sizeof *c);
    if (c == NULL)
        return -HS_ENOMEM;
    m->count = c;
    uint64_t *z = realloc(m->size, cap * sizeof *z);
    if (z == NULL)
        return -HS_ENOMEM;
    m->size = z;
    m->cap = cap;
    /* Rehash into a table twice the group capacity. */
    size_t slots = cap * 2;
    uint32_t *t = calloc(slots, sizeof *t);
    if (t == NULL)
        return -HS_ENOMEM;
    free(m->slot);
    m->slot = t;
    m->smask = slots - 1;
    for (size_t gi = 0; gi < m->n; gi++) {
        size_t i = key_hash(m->key[gi]) & m->smask;
        while (m->slot[i])
            i = (i + 1) & m->smask;
        m->slot[i] = (uint32_t)gi + 1;
    }
    return 0;
}

static void
keymap_free(keymap *m)
{
    free(m->key);
    free(m->count);
    free(m->size);
    free(m->slot);
}

/* Group index of `k`, adding a group if new; -1 on ENOMEM. */
static long long
keymap_get(keymap *m, uint64_t k)
{
    size_t i = key_hash(k) & m->smask;
    for (;;) {
        uint32_t s = m->slot[i];
        if (s == 0)
            break;
        if (m->key[s - 1] == k)
            return s - 1;
        i = (i + 1) & m->smask;
    }
    if (m->n == m->cap) {
        if (keymap_grow(m) < 0)
            return -1;
        i = key_hash(k) & m->smask;
        while (m->slot[i])
            i = (i + 1) & m->smask;
    }
    size_t gi = m->n++;
    m->key[gi] = k;
    m->count[gi] = 0;
    m->size[gi] = 0;
    m->slot[i] = (uint32_t)gi + 1;
    return (long long)gi;
}

static int
group_cmp(const void *a, const void *b, void *ctx)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    const keymap *m = ctx;
    if (m->size[x] != m->size[y])
        return m->size[x] > m->size[y] ? -1 : 1;
    if (m->count[x] != m->count[y])
        return m->count[x] > m->count[y] ? -1 : 1;
    return (m->key[x] > m->key[y]) - (m->key[x] < m->key[y]);
}

int
hs_partition_new(hs_partition *p, const hs_graph *g, const hs_set *s,
                 enum hs_classifier by, const uint64_t *keys)
{
    memset(p, 0, sizeof *p);
    if (keys == NULL && by == HS_BY_ID)
        return partition_by_id(p, g, s) < 0
                   ? (hs_partition_free(p), -HS_ENOMEM) : 0;

    int err = -HS_ENOMEM;
    keymap m = {0};
    uint32_t *gid = malloc((s->n + 1) * sizeof *gid);
    uint32_t *order = NULL, *fill = NULL;
    if (gid == NULL || keymap_grow(&m) < 0)
        goto done;
    for (size_t i = 0; i < s->n; i++) {
        hs_id id = s->ids[i];
        uint64_t k = keys ? keys[i] : hs_classify(g, id, by);
        long long gi = keymap_get(&m, k);
        if (gi < 0)
            goto done;
        gid[i] = (uint32_t)gi;
        m.count[gi]++;
        m.size[gi] += hs_graph_size(g, id);
    }
    order = malloc((m.n + 1) * sizeof *order);
    fill = malloc((m.n + 1) * sizeof *fill);
    if (order == NULL || fill == NULL || alloc_groups(p, m.n, s->n) < 0)
        goto done;
    for (size_t gi = 0; gi < m.n; gi++)
        order[gi] = (uint32_t)gi;
    /* Group counts are small next to the set; qsort is fine here. */
    qsort_r(order, m.n, sizeof *order, group_cmp, &m);
    size_t at = 0;
    for (size_t r = 0; r < m.n; r++) {
        uint32_t gi = order[r];
        p->key[r] = m.key[gi];
        p->count[r] = m.count[gi];
        p->gsize[r] = m.size[gi];
        p->start[r] = at;
        fill[gi] = (uint32_t)at;
        at += m.count[gi];
        p->total_size += m.size[gi];
    }
    p->start[m.n] = at;
    p->total_count = s->n;
    for (size_t i = 0; i < s->n; i++)
        p->member[fill[gid[i]]++] = s->ids[i];
    err = 0;
done:
    free(gid);
    free(order);
    free(fill);
    keymap_free(&m);
    if (err < 0)
        hs_partition_free(p);
    return err;
}
