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
    hs_scratch_free(p->member);
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
    if (nmembers != (size_t)-1)
        p->member = hs_scratch_new((nmembers + 1) * sizeof *p->member);
    if (!p->key || !p->count || !p->gsize || !p->start ||
        (nmembers != (size_t)-1 && !p->member))
        return -HS_ENOMEM;
    return 0;
}

/* One group per object, ordered by size (largest first), then id: only
 * the members are kept (p->unit), in that order. */
static int
partition_by_id(hs_partition *p, const hs_graph *g, const hs_set *s)
{
    size_t n = s->n;
    uint64_t *order = hs_scratch_new((n + 1) * sizeof *order);
    p->member = hs_scratch_new((n + 1) * sizeof *p->member);
    if (order == NULL || p->member == NULL) {
        hs_scratch_free(order);
        return -HS_ENOMEM;
    }
    p->unit = 1;
    p->ngroups = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t sz = hs_graph_size(g, s->ids[i]);
        p->total_size += sz;
        if (sz > UINT32_MAX - 1)
            sz = UINT32_MAX - 1;
        order[i] = ((uint64_t)(UINT32_MAX - 1 - sz) << 32) | s->ids[i];
    }
    if (hs_sort_u64(order, n) < 0) {
        hs_scratch_free(order);
        return -HS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        p->member[i] = (hs_id)order[i];
    p->total_count = n;
    hs_scratch_free(order);
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
    uint32_t *t = hs_table_alloc(slots, sizeof *t);
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

/* The classifier's key for the members of a set, in the set's (id) order.
 * For clodo, a cursor into the sorted owned-dict table walks along with
 * the members instead of a binary search per dict; a small direct-mapped
 * cache spares most members the key map's hashing. */
typedef struct {
    const hs_graph *g;
    enum hs_classifier by;
    const uint64_t *keys;
    size_t owned_at;
    uint64_t ckey[256];
    long long cgroup[256];
} keyer;

static void
keyer_init(keyer *c, const hs_graph *g, enum hs_classifier by,
           const uint64_t *keys)
{
    c->g = g;
    c->by = by;
    c->keys = keys;
    c->owned_at = 0;
    for (int k = 0; k < 256; k++)
        c->cgroup[k] = -1;
}

static inline uint64_t
keyer_key(keyer *c, size_t i, hs_id id)
{
    const hs_graph *g = c->g;
    if (c->keys != NULL)
        return c->keys[i];
    if (c->by != HS_BY_CLODO)
        return hs_classify(g, id, c->by);
    if (g->flags[id] & HS_F_DICT) {
        while (c->owned_at < g->nowned && g->owned_dict[c->owned_at] < id)
            c->owned_at++;
        if (c->owned_at < g->nowned && g->owned_dict[c->owned_at] == id)
            return (uint64_t)g->type[g->dict_owner[c->owned_at]] |
                   HS_KEY_DICTOF;
    }
    return g->type[id];
}

/* Group index of member i (id), adding a group if new; -1 on ENOMEM. */
static inline long long
keyer_group(keyer *c, keymap *m, size_t i, hs_id id)
{
    uint64_t k = keyer_key(c, i, id);
    unsigned slot = (unsigned)(k ^ (k >> 8) ^ (k >> 40)) & 255u;
    if (c->cgroup[slot] >= 0 && c->ckey[slot] == k)
        return c->cgroup[slot];
    long long gi = keymap_get(m, k);
    if (gi >= 0) {
        c->ckey[slot] = k;
        c->cgroup[slot] = gi;
    }
    return gi;
}

/* Scatter the members of s into p->member by group: each key's group
 * (rank) through a key map of the partition's own keys. */
static int
scatter(hs_partition *p, const hs_graph *g, const hs_set *s,
        const uint64_t *keys)
{
    keymap m = {0};
    keyer c;
    int err = -HS_ENOMEM;
    size_t *fill = malloc((p->ngroups + 1) * sizeof *fill);
    hs_id *member = hs_scratch_new((s->n + 1) * sizeof *member);
    if (fill == NULL || member == NULL || keymap_grow(&m) < 0)
        goto done;
    for (size_t r = 0; r < p->ngroups; r++) {
        /* ranks in order: key map index == rank */
        if (keymap_get(&m, p->key[r]) < 0)
            goto done;
        fill[r] = p->start[r];
    }
    keyer_init(&c, g, (enum hs_classifier)p->by, keys);
    for (size_t i = 0; i < s->n; i++) {
        hs_id id = s->ids[i];
        long long r = keyer_group(&c, &m, i, id);
        if (r < 0 || (size_t)r >= p->ngroups) {
            err = -HS_EINVAL;      /* not the set the partition was made of */
            goto done;
        }
        member[fill[r]++] = id;
    }
    p->member = member;
    member = NULL;
    err = 0;
done:
    hs_scratch_free(member);
    free(fill);
    keymap_free(&m);
    return err;
}

int
hs_partition_select(const hs_partition *p, const hs_graph *g,
                    const hs_set *s, size_t i, hs_set *out)
{
    out->ids = NULL;
    out->n = 0;
    if (i >= p->ngroups)
        return -HS_EINVAL;
    if (p->member != NULL)
        return hs_partition_rows(p, (ptrdiff_t)i, (ptrdiff_t)i + 1, 1, out);
    if (s == NULL || s->n != p->total_count)
        return -HS_EINVAL;
    size_t want = hs_partition_count(p, i), n = 0;
    uint64_t key = hs_partition_key(p, i);
    hs_id *ids = hs_set_alloc(want + 1);
    if (ids == NULL)
        return -HS_ENOMEM;
    keyer c;
    keyer_init(&c, g, (enum hs_classifier)p->by, NULL);
    for (size_t k = 0; k < s->n && n < want; k++)
        if (keyer_key(&c, k, s->ids[k]) == key)
            ids[n++] = s->ids[k];
    if (n != want) {
        hs_set_ids_free(ids);
        return -HS_EINVAL;      /* not the set the partition was made of */
    }
    out->ids = ids;
    out->n = n;
    return 0;
}

int
hs_partition_rows(const hs_partition *p, ptrdiff_t start, ptrdiff_t stop,
                  ptrdiff_t step, hs_set *out)
{
    out->ids = NULL;
    out->n = 0;
    ptrdiff_t ng = (ptrdiff_t)p->ngroups;
    if (p->member == NULL || step == 0)
        return -HS_EINVAL;
    size_t n = 0;
    for (ptrdiff_t r = start; step > 0 ? r < stop : r > stop; r += step)
        if (r >= 0 && r < ng)
            n += hs_partition_start(p, (size_t)r + 1) -
                 hs_partition_start(p, (size_t)r);
    hs_id *ids = hs_set_alloc(n + 1);
    if (ids == NULL)
        return -HS_ENOMEM;
    size_t w = 0;
    for (ptrdiff_t r = start; step > 0 ? r < stop : r > stop; r += step) {
        if (r < 0 || r >= ng)
            continue;
        size_t a = hs_partition_start(p, (size_t)r),
               b = hs_partition_start(p, (size_t)r + 1);
        memcpy(ids + w, p->member + a, (b - a) * sizeof *ids);
        w += b - a;
    }
    /* one row is sorted already; rows together are sorted here */
    return hs_set_adopt(out, ids, w, 1);
}

int
hs_partition_members(hs_partition *p, const hs_graph *g, const hs_set *s)
{
    if (p->member != NULL)
        return 0;
    if (s->n != p->total_count)
        return -HS_EINVAL;
    return scatter(p, g, s, NULL);
}

/* Groups by count and size, indexed by a dense key. */
typedef struct {
    const uint64_t *count, *size;
} dense_groups;

static int
dense_cmp(const void *a, const void *b, void *ctx)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    const dense_groups *d = ctx;
    if (d->size[x] != d->size[y])
        return d->size[x] > d->size[y] ? -1 : 1;
    if (d->count[x] != d->count[y])
        return d->count[x] > d->count[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Put the groups of `order` (ascending keys) in dense_cmp's order.  Many
 * groups (byvia's half a million rows of one string each) are radix
 * sorted by size, stably, so that equal sizes keep their keys ascending;
 * a run of equal sizes whose counts differ is then sorted by dense_cmp.
 * 0 or -HS_ENOMEM. */
#define FEW_GROUPS 4096

static int
order_groups(uint32_t *order, size_t ng, const dense_groups *d)
{
    uint64_t most = 0;
    uint32_t kmax = 0;
    for (size_t r = 0; r < ng; r++) {
        if (d->size[order[r]] > most)
            most = d->size[order[r]];
        kmax = order[r];        /* (ascending) */
    }
    unsigned kb = 1, sb = 1;
    while (kb < 32 && (1ull << kb) <= kmax)
        kb++;
    while (sb < 64 && (1ull << sb) <= most)
        sb++;
    if (ng < FEW_GROUPS || kb + sb > 64) {
        qsort_r(order, ng, sizeof *order, dense_cmp, (void *)d);
        return 0;
    }
    uint64_t *t = malloc(ng * sizeof *t);
    if (t == NULL)
        return -HS_ENOMEM;
    for (size_t r = 0; r < ng; r++)
        t[r] = (most - d->size[order[r]]) << kb | order[r];
    if (hs_sort_u64_bits(t, ng, kb, kb + sb) < 0) {
        free(t);
        return -HS_ENOMEM;
    }
    uint64_t kmask = (1ull << kb) - 1;
    for (size_t r = 0; r < ng; r++)
        order[r] = (uint32_t)(t[r] & kmask);
    free(t);
    for (size_t a = 0, b; a < ng; a = b) {
        int mixed = 0;
        for (b = a + 1; b < ng && d->size[order[b]] == d->size[order[a]];
             b++)
            mixed |= d->count[order[b]] != d->count[order[a]];
        if (mixed)
            qsort_r(order + a, b - a, sizeof *order, dense_cmp, (void *)d);
    }
    return 0;
}

/* Groups `order` (ng keys, ascending) put in dense_cmp's order and written
 * to p's arrays (allocated) with their counts, bytes and starts, indexed
 * by key.  0 or -HS_ENOMEM. */
static int
write_groups(hs_partition *p, uint32_t *order, size_t ng,
             const uint64_t *count, const uint64_t *size)
{
    dense_groups d = {count, size};
    if (order_groups(order, ng, &d) < 0)
        return -HS_ENOMEM;
    size_t at = 0;
    for (size_t r = 0; r < ng; r++) {
        uint32_t k = order[r];
        p->key[r] = k;
        p->count[r] = count[k];
        p->gsize[r] = size[k];
        p->start[r] = at;
        at += count[k];
        p->total_size += size[k];
    }
    p->start[ng] = at;
    return 0;
}

/* Members scattered between two calls of the progress callback: a few
 * milliseconds of random writes. */
#define SCATTER_TICK ((size_t)1 << 18)

/* Groups of dense keys 0 .. nkeys-1 whose count and size are known:
 * members scattered by a key -> rank array, no hashing.  Same order as
 * the hashed way (group_cmp: the key breaks ties).  The keys are 64-bit
 * (keys) or 32-bit (keys32).  0, -HS_ENOMEM, or -HS_ECANCELED when prog
 * (may be NULL) asked to stop. */
static int
dense_build(hs_partition *p, const hs_set *s, const uint64_t *keys,
            const uint32_t *keys32, size_t nkeys, const uint64_t *count,
            const uint64_t *size, const hs_progress *prog)
{
    int err = -HS_ENOMEM;
    uint32_t *order = NULL, *rank = NULL;
    size_t *fill = NULL;
    size_t ng = 0;
    for (size_t k = 0; k < nkeys; k++)
        ng += count[k] != 0;
    order = malloc((ng + 1) * sizeof *order);
    rank = malloc((nkeys + 1) * sizeof *rank);
    fill = malloc((ng + 1) * sizeof *fill);
    if (order == NULL || rank == NULL || fill == NULL ||
        alloc_groups(p, ng, s->n) < 0)
        goto done;
    for (size_t k = 0, r = 0; k < nkeys; k++)
        if (count[k] != 0)
            order[r++] = (uint32_t)k;
    if (hs_progress_tick(prog, "partition", 0, s->n)) {
        err = -HS_ECANCELED;
        goto done;
    }
    if (write_groups(p, order, ng, count, size) < 0)
        goto done;
    for (size_t r = 0; r < ng; r++) {
        rank[order[r]] = (uint32_t)r;
        fill[r] = p->start[r];
    }
    p->total_count = s->n;
    for (size_t lo = 0; lo < s->n; lo += SCATTER_TICK) {
        size_t hi = s->n - lo > SCATTER_TICK ? lo + SCATTER_TICK : s->n;
        if (hs_progress_tick(prog, "partition", lo, s->n)) {
            err = -HS_ECANCELED;
            goto done;
        }
        if (keys32 != NULL)
            for (size_t i = lo; i < hi; i++)
                p->member[fill[rank[keys32[i]]]++] = s->ids[i];
        else
            for (size_t i = lo; i < hi; i++)
                p->member[fill[rank[keys[i]]]++] = s->ids[i];
    }
    err = 0;
done:
    free(order);
    free(rank);
    free(fill);
    return err;
}

/* Caller-given keys that are small numbers (the list ids of byrcs and
 * byvia: 0 .. groups-1): counted in arrays indexed by key. */
static int
partition_dense(hs_partition *p, const hs_graph *g, const hs_set *s,
                const uint64_t *keys, size_t nkeys)
{
    int err = -HS_ENOMEM;
    uint64_t *count = calloc(nkeys, sizeof *count);
    uint64_t *size = calloc(nkeys, sizeof *size);
    if (count != NULL && size != NULL) {
        for (size_t i = 0; i < s->n; i++) {
            count[keys[i]]++;
            size[keys[i]] += hs_graph_size(g, s->ids[i]);
        }
        err = dense_build(p, s, keys, NULL, nkeys, count, size, NULL);
    }
    free(count);
    free(size);
    return err;
}

int
hs_partition_counted(hs_partition *p, const hs_set *s, const uint32_t *keys,
                     size_t nkeys, const uint64_t *count,
                     const uint64_t *size, const hs_progress *prog)
{
    memset(p, 0, sizeof *p);
    p->by = HS_BY_UNITY;
    if (nkeys > UINT32_MAX)
        return -HS_ERANGE;
    int err = dense_build(p, s, NULL, keys, nkeys, count, size, prog);
    if (err < 0)
        hs_partition_free(p);
    return err;
}

/* ---- a subset's partition from its superset's ---------------------------
 *
 * Each of p's groups keeps its members that are in s.  A group's key is
 * renumbered by its least member, which is the order hs_partition_counted's
 * callers meet keys going through s: the result is the partition that
 * numbering would give, without a key per member or a scatter.  Two
 * passes over p's members, each testing a bitmap of s: the first counts,
 * the second copies the groups in their new order. */
int
hs_partition_restrict(hs_partition *out, const hs_partition *p,
                      const hs_graph *g, const hs_set *s, uint64_t **from)
{
    memset(out, 0, sizeof *out);
    *from = NULL;
    if (p->member == NULL || p->unit || s->n > p->total_count)
        return -HS_EINVAL;
    int err = -HS_ENOMEM;
    size_t words = s->n > 0 ? (size_t)(s->ids[s->n - 1] >> 6) + 1 : 1;
    size_t png = p->ngroups, ng = 0, found = 0;
    uint64_t *in = calloc(words, sizeof *in);
    /* per group that keeps members, in p's order: its least member and
     * its index among them (sorted, that is the new keys' order); its
     * count, bytes and group in p */
    uint64_t *met = malloc((png + 1) * sizeof *met);
    uint64_t *ecount = malloc((png + 1) * sizeof *ecount);
    uint64_t *esize = malloc((png + 1) * sizeof *esize);
    size_t *egroup = malloc((png + 1) * sizeof *egroup);
    uint64_t *count = NULL, *size = NULL, *pkey = NULL;
    uint32_t *order = NULL;
    if (in == NULL || met == NULL || ecount == NULL || esize == NULL ||
        egroup == NULL)
        goto done;
    for (size_t k = 0; k < s->n; k++)
        in[s->ids[k] >> 6] |= 1ull << (s->ids[k] & 63);
#define IN_S(id) ((size_t)((id) >> 6) < words && \
                  (in[(id) >> 6] & (1ull << ((id) & 63))))
    for (size_t i = 0; i < png; i++) {
        uint64_t c = 0, b = 0;
        hs_id least = 0;
        for (size_t j = p->start[i]; j < p->start[i + 1]; j++) {
            hs_id id = p->member[j];
            if (IN_S(id)) {
                if (c++ == 0)
                    least = id;
                b += hs_graph_size(g, id);
            }
        }
        if (c == 0)
            continue;
        met[ng] = (uint64_t)least << 32 | ng;
        ecount[ng] = c;
        esize[ng] = b;
        egroup[ng++] = i;
        found += c;
    }
    if (found != s->n) {
        err = -HS_EINVAL;       /* s is not within p's set */
        goto done;
    }
    if (hs_sort_u64(met, ng) < 0)
        goto done;
    count = malloc((ng + 1) * sizeof *count);
    size = malloc((ng + 1) * sizeof *size);
    pkey = malloc((ng + 1) * sizeof *pkey);
    order = malloc((ng + 1) * sizeof *order);
    if (count == NULL || size == NULL || pkey == NULL || order == NULL ||
        alloc_groups(out, ng, s->n) < 0)
        goto done;
    for (size_t k = 0; k < ng; k++) {
        size_t e = (uint32_t)met[k];
        count[k] = ecount[e];
        size[k] = esize[e];
        met[k] = egroup[e];     /* now: new key k's group in p */
        pkey[k] = p->key[egroup[e]];
        order[k] = (uint32_t)k;
    }
    if (write_groups(out, order, ng, count, size) < 0)
        goto done;
    for (size_t r = 0; r < ng; r++) {
        size_t i = met[order[r]], at = out->start[r];
        for (size_t j = p->start[i]; j < p->start[i + 1]; j++)
            if (IN_S(p->member[j]))
                out->member[at++] = p->member[j];
    }
#undef IN_S
    out->total_count = s->n;
    out->by = p->by;
    *from = pkey;
    pkey = NULL;
    err = 0;
done:
    if (err < 0)
        hs_partition_free(out);
    free(in);
    free(met);
    free(ecount);
    free(esize);
    free(egroup);
    free(count);
    free(size);
    free(pkey);
    free(order);
    return err;
}

int
hs_partition_new(hs_partition *p, const hs_graph *g, const hs_set *s,
                 enum hs_classifier by, const uint64_t *keys)
{
    memset(p, 0, sizeof *p);
    p->by = by;
    if (keys == NULL && by == HS_BY_ID)
        return partition_by_id(p, g, s) < 0
                   ? (hs_partition_free(p), -HS_ENOMEM) : 0;
    if (keys != NULL && s->n > 0) {
        uint64_t top = 0;
        for (size_t i = 0; i < s->n; i++)
            if (keys[i] > top)
                top = keys[i];
        if (top < (uint64_t)s->n + 4096 && top < UINT32_MAX) {
            int err = partition_dense(p, g, s, keys, (size_t)top + 1);
            if (err < 0)
                hs_partition_free(p);
            return err;
        }
    }
    int err = -HS_ENOMEM;
    keymap m = {0};
    keyer c;
    uint32_t *order = NULL;
    if (keymap_grow(&m) < 0)
        goto done;
    keyer_init(&c, g, by, keys);
    for (size_t i = 0; i < s->n; i++) {
        hs_id id = s->ids[i];
        long long gi = keyer_group(&c, &m, i, id);
        if (gi < 0)
            goto done;
        m.count[gi]++;
        m.size[gi] += hs_graph_size(g, id);
    }
    order = malloc((m.n + 1) * sizeof *order);
    if (order == NULL || alloc_groups(p, m.n, (size_t)-1) < 0)
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
        at += m.count[gi];
        p->total_size += m.size[gi];
    }
    p->start[m.n] = at;
    p->total_count = s->n;
    /* Caller-given keys are gone after this call: their members now.  A
     * classifier's wait until someone asks. */
    err = keys != NULL ? scatter(p, g, s, keys) : 0;
done:
    free(order);
    keymap_free(&m);
    if (err < 0)
        hs_partition_free(p);
    return err;
}
