/* graph.c - the snapshot's arrays: nodes, CSR edges, the address table.
 *
 * Pure C (no Python.h): the walker in src/python fills a graph through the
 * builder functions here, everything else reads the arrays.  Memory is
 * presized from hints and grown by doubling; freeing is one call.
 */
#include <stdlib.h>
#include <string.h>

#include "heapscope/graph.h"
#include "heapscope/prefetch.h"
#include "bigmem.h"

/* The address table.
 *
 * The walk looks up every edge's target here, so this table decides how
 * much of the walk waits on memory.  Objects allocated together sit
 * together in memory and are walked together (a dict, its keys, its
 * values), so the table keeps neighbouring addresses in neighbouring slots:
 * an 8 MiB window of memory (2^20 granules of 8 bytes) maps granule for
 * granule onto a run of slots that starts at a pseudo-random base for the
 * window, wrapping around the table.  Windows overlap at random, so the
 * table is kept at most half full; a run of 2^20 slots at most per window
 * needs at least 2^20 slots.
 *
 * A slot is 64 bits: the window number (FP_BITS: a 47-bit address has 24
 * bits above its window), how far the entry sits from its home slot
 * (DISP_BITS) and the node id (32).  Window and home give back the address
 * (the granule is home - base, modulo the table), so a lookup never reads
 * addr[] to confirm a match: on a multi-million-object heap that would be
 * one more cache miss per edge.  An entry that finds no free slot within
 * DISP_MAX of its home (a dense spot where windows overlap) goes to the
 * spill table, a plain hash of (address, id) pairs that a lookup reads
 * only after a full run of DISP_MAX + 1 slots. */
#define LOAD_NUM 1
#define LOAD_DEN 2
#define GRAIN_BITS 3
#define WIN_BITS 20
#define WIN_MASK ((1ull << WIN_BITS) - 1)
#define DISP_BITS 8
#define DISP_MAX ((1u << DISP_BITS) - 1)
#define FP_BITS 24
#define MIN_SLOTS (1ull << WIN_BITS)
#define ODD_ADDR(a) (((a) & 7u) != 0 || ((uint64_t)(a) >> 47) != 0)

static inline uint64_t
window_of(uintptr_t a)
{
    return (uint64_t)a >> (GRAIN_BITS + WIN_BITS);     /* < 2^FP_BITS */
}

/* Where window w's run starts: in [0, slots), by a multiply-shift of a
 * mix of w (no division on the lookup path). */
static inline uint64_t
window_base(uint64_t slots, uint64_t w)
{
    uint64_t x = (w + 1) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return (uint64_t)(((unsigned __int128)(x >> 32) * slots) >> 32);
}

static inline uint64_t
home_of(const hs_graph *g, uintptr_t a)
{
    uint64_t h = (((uint64_t)a >> GRAIN_BITS) & WIN_MASK) +
                 window_base(g->tslots, window_of(a));
    return h >= g->tslots ? h - g->tslots : h;
}

/* The address of the entry at slot i (for rehashing). */
static uintptr_t
addr_at(uint64_t slots, uint64_t i, uint64_t s)
{
    uint64_t disp = (s >> 32) & DISP_MAX, w = s >> (32 + DISP_BITS);
    uint64_t home = i >= disp ? i - disp : i + slots - disp;
    uint64_t base = window_base(slots, w);
    uint64_t grain = home >= base ? home - base : home + slots - base;
    return (uintptr_t)(((w << WIN_BITS) | grain) << GRAIN_BITS);
}

static int
table_alloc(hs_graph *g, uint64_t slots)
{
    if (slots < MIN_SLOTS)
        slots = MIN_SLOTS;
    if (slots > UINT32_MAX)
        return -HS_ERANGE;
    uint64_t *t = hs_big_alloc_kept(slots * sizeof(uint64_t));
    if (t == NULL)
        return -HS_ENOMEM;
    g->table = t;
    g->tslots = slots;
    return 0;
}

/* Slots for n entries at most LOAD_NUM/LOAD_DEN full. */
static uint64_t
slots_for(uint64_t n)
{
    return n * LOAD_DEN / LOAD_NUM + 1;
}

/* Slot for address a: where it is (*found = 1) or the empty slot it would
 * go to (*found = 0); -1 after DISP_MAX + 1 full slots (then it is in the
 * spill table, or nowhere). */
static inline int64_t
table_probe(const hs_graph *g, uintptr_t a, int *found)
{
    uint64_t n = g->tslots, i = home_of(g, a);
    uint64_t tag = window_of(a) << DISP_BITS;
    for (unsigned d = 0; d <= DISP_MAX; d++) {
        uint64_t s = g->table[i];
        if (s == 0) {
            *found = 0;
            return (int64_t)i;
        }
        if ((s >> 32) == (tag | d)) {
            *found = 1;
            return (int64_t)i;
        }
        if (++i == n)
            i = 0;
    }
    *found = 0;
    return -1;
}

/* Put the entry for a into slot i, found empty by table_probe. */
static void
table_put(hs_graph *g, uintptr_t a, int64_t i, hs_id id)
{
    uint64_t home = home_of(g, a), at = (uint64_t)i;
    uint64_t d = at >= home ? at - home : at + g->tslots - home;
    g->table[i] = (((window_of(a) << DISP_BITS) | d) << 32) | id;
}

/* ---- the spill table: (address, id) pairs, at most half full -------- */

static inline size_t
spill_home(const hs_graph *g, uintptr_t a)
{
    return (size_t)(((uint64_t)a * 0x9E3779B97F4A7C15ull) >> 17) &
           (g->spill_slots - 1);
}

static hs_id
spill_find(const hs_graph *g, uintptr_t a)
{
    if (g->nspill == 0)
        return HS_NO_ID;
    for (size_t i = spill_home(g, a);; i = (i + 1) & (g->spill_slots - 1)) {
        if (g->spill[2 * i] == 0)
            return HS_NO_ID;
        if (g->spill[2 * i] == a)
            return (hs_id)g->spill[2 * i + 1];
    }
}

static void
spill_place(hs_graph *g, uintptr_t a, hs_id id)
{
    size_t i = spill_home(g, a);
    while (g->spill[2 * i] != 0)
        i = (i + 1) & (g->spill_slots - 1);
    g->spill[2 * i] = a;
    g->spill[2 * i + 1] = id;
}

static int
spill_add(hs_graph *g, uintptr_t a, hs_id id)
{
    if ((g->nspill + 1) * 2 > g->spill_slots) {
        uint64_t *old = g->spill;
        size_t oldn = g->spill_slots, n = oldn ? oldn * 2 : 1024;
        uint64_t *t = calloc(n * 2, sizeof *t);
        if (t == NULL)
            return -HS_ENOMEM;
        g->spill = t;
        g->spill_slots = n;
        for (size_t i = 0; i < oldn; i++)
            if (old[2 * i] != 0)
                spill_place(g, (uintptr_t)old[2 * i], (hs_id)old[2 * i + 1]);
        free(old);
    }
    spill_place(g, a, id);
    g->nspill++;
    return 0;
}

/* Enter absent address a at slot i, the empty slot table_probe found,
 * or, when it found none (-1), in the spill. */
static int
table_place(hs_graph *g, uintptr_t a, int64_t i, hs_id id)
{
    if (i < 0)
        return spill_add(g, a, id);
    table_put(g, a, i, id);
    return 0;
}

static int
table_enter(hs_graph *g, uintptr_t a, hs_id id)
{
    int found;
    return table_place(g, a, table_probe(g, a, &found), id);
}

static void
prefault_stop(hs_graph *g)
{
    hs_big_prefault_stop(g->prefault);
    g->prefault = NULL;
}

static int
table_grow(hs_graph *g)
{
    prefault_stop(g);
    uint64_t *old = g->table, oldn = g->tslots;
    uint64_t *old_spill = g->spill;
    size_t old_spill_slots = g->spill_slots, old_nspill = g->nspill;
    if (table_alloc(g, oldn * 2) < 0) {
        g->table = old;
        g->tslots = oldn;
        return -HS_ENOMEM;
    }
    g->spill = NULL;
    g->spill_slots = g->nspill = 0;
    int r = 0;
    for (uint64_t i = 0; i < oldn && r == 0; i++)
        if (old[i] != 0)
            r = table_enter(g, addr_at(oldn, i, old[i]), (hs_id)old[i]);
    for (size_t i = 0; i < old_spill_slots && r == 0; i++)
        if (old_spill[2 * i] != 0)
            r = table_enter(g, (uintptr_t)old_spill[2 * i],
                            (hs_id)old_spill[2 * i + 1]);
    if (r < 0) {                /* no memory for the spill: as it was */
        hs_big_free(g->table, g->tslots * sizeof(uint64_t));
        free(g->spill);
        g->table = old;
        g->tslots = oldn;
        g->spill = old_spill;
        g->spill_slots = old_spill_slots;
        g->nspill = old_nspill;
        return r;
    }
    hs_big_free(old, oldn * sizeof(uint64_t));
    free(old_spill);
    return 0;
}

static int
grow_array(void **p, size_t elem, size_t newcap)
{
    void *q = realloc(*p, elem * newcap);
    if (q == NULL)
        return -HS_ENOMEM;
    *p = q;
    return 0;
}

/* Resize one of the big arrays (node arrays, edges). */
static int
grow_big(void **p, size_t elem, size_t oldcap, size_t newcap)
{
    void *q = hs_big_resize(*p, elem * oldcap, elem * newcap);
    if (q == NULL)
        return -HS_ENOMEM;
    *p = q;
    return 0;
}

static int
nodes_reserve(hs_graph *g, size_t want)
{
    if (want <= g->cap)
        return 0;
    if (want > (size_t)HS_NO_ID - 1)
        return -HS_ERANGE;
    prefault_stop(g);
    /* Presized to the estimate itself: a walk leaves the tail it did not
     * use to the system (trim), and the next walk, into the same arrays,
     * would fault all of it in again.  Grown by doubling. */
    size_t cap = want;
    if (g->cap != 0) {
        cap = g->cap;
        while (cap < want)
            cap *= 2;
    }
    if (cap > (size_t)HS_NO_ID - 1)
        cap = (size_t)HS_NO_ID - 1;
    size_t old = g->cap;
    if (grow_big((void **)&g->addr, sizeof *g->addr, old, cap) < 0 ||
        grow_big((void **)&g->type, sizeof *g->type, old, cap) < 0 ||
        grow_big((void **)&g->size, sizeof *g->size, old, cap) < 0 ||
        grow_big((void **)&g->flags, sizeof *g->flags, old, cap) < 0 ||
        grow_big((void **)&g->edge_start, sizeof *g->edge_start,
                 old ? old + 1 : 0, cap + 1) < 0)
        return -HS_ENOMEM;
    g->cap = (uint32_t)cap;
    return 0;
}

hs_graph *
hs_graph_new(size_t nodes_hint, size_t edges_hint)
{
    hs_graph *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    g->gc_root = HS_NO_ID;
    g->arg_root = HS_NO_ID;
    g->type_root = HS_NO_ID;
    if (nodes_hint < 1024)
        nodes_hint = 1024;
    if (edges_hint < 1024)
        edges_hint = 1024;
    if (nodes_reserve(g, nodes_hint) < 0 ||
        table_alloc(g, slots_for(nodes_hint)) < 0)
        goto error;
    g->edges = hs_big_alloc_kept(edges_hint * sizeof *g->edges);
    if (g->edges == NULL)
        goto error;
    g->edge_cap = edges_hint;
    g->edge_start[0] = 0;
    return g;
error:
    hs_graph_free(g);
    return NULL;
}

void
hs_graph_free(hs_graph *g)
{
    if (g == NULL)
        return;
    prefault_stop(g);
    hs_big_free_kept(g->addr, g->cap * sizeof *g->addr);
    hs_big_free_kept(g->type, g->cap * sizeof *g->type);
    hs_big_free_kept(g->size, g->cap * sizeof *g->size);
    hs_big_free_kept(g->flags, g->cap * sizeof *g->flags);
    hs_big_free_kept(g->edge_start, (g->cap + 1) * sizeof *g->edge_start);
    hs_big_free_kept(g->edges, g->edge_cap * sizeof *g->edges);
    if (g->table != NULL)
        hs_big_free_kept(g->table, g->tslots * sizeof(uint64_t));
    free(g->spill);
    free(g->odd);
    free(g->owned_dict);
    free(g->dict_owner);
    free(g->big_id);
    free(g->big_size);
    for (size_t i = 0; i < g->nroot_label; i++)
        free(g->root_label[i]);
    free(g->root_label);
    free(g);
}

static int
new_node(hs_graph *g, uintptr_t addr, uint8_t flags, hs_id *id)
{
    int r = nodes_reserve(g, (size_t)g->n + 1);
    if (r < 0)
        return r;
    hs_id i = g->n++;
    g->addr[i] = addr;
    g->type[i] = HS_NO_ID;
    g->size[i] = 0;
    g->flags[i] = flags;
    *id = i;
    return 0;
}

/* Objects at addresses the table cannot key (not 8-aligned, above 47
 * bits: never seen on x86-64 Linux) are found by a linear search. */
static hs_id
odd_find(const hs_graph *g, uintptr_t addr)
{
    for (size_t k = 0; k < g->nodd; k++)
        if (g->addr[g->odd[k]] == addr)
            return g->odd[k];
    return HS_NO_ID;
}

hs_id
hs_graph_find(const hs_graph *g, uintptr_t addr)
{
    if (ODD_ADDR(addr))
        return odd_find(g, addr);
    int found;
    int64_t i = table_probe(g, addr, &found);
    if (i < 0)
        return spill_find(g, addr);
    return found ? (hs_id)g->table[i] : HS_NO_ID;
}

int
hs_graph_intern(hs_graph *g, uintptr_t addr, hs_id *id, int *is_new)
{
    int found, r;
    hs_id nid;
    if (ODD_ADDR(addr)) {
        if ((*id = odd_find(g, addr)) != HS_NO_ID) {
            *is_new = 0;
            return 0;
        }
        hs_id *o = realloc(g->odd, (g->nodd + 1) * sizeof *o);
        if (o == NULL)
            return -HS_ENOMEM;
        g->odd = o;
        if ((r = new_node(g, addr, 0, &nid)) < 0)
            return r;
        g->odd[g->nodd++] = nid;
        *id = nid;
        *is_new = 1;
        return 0;
    }
    int64_t i = table_probe(g, addr, &found);
    if (found) {
        *id = (hs_id)g->table[i];
        *is_new = 0;
        return 0;
    }
    if (i < 0 && (*id = spill_find(g, addr)) != HS_NO_ID) {
        *is_new = 0;
        return 0;
    }
    if ((g->tused + 1) * LOAD_DEN > g->tslots * LOAD_NUM) {
        if ((r = table_grow(g)) < 0)
            return r;
        i = table_probe(g, addr, &found);
    }
    if ((r = new_node(g, addr, 0, &nid)) < 0)
        return r;
    if ((r = table_place(g, addr, i, nid)) < 0) {
        g->n--;                 /* the node goes with its entry */
        return r;
    }
    g->tused++;
    *id = nid;
    *is_new = 1;
    return 0;
}

int
hs_graph_reserve(hs_graph *g, size_t nodes)
{
    return nodes_reserve(g, nodes);
}

int64_t
hs_graph_diff(const hs_graph *a, const hs_graph *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        if (a->addr[i] != b->addr[i] || a->type[i] != b->type[i] ||
            a->size[i] != b->size[i] || a->flags[i] != b->flags[i] ||
            a->edge_start[i + 1] != b->edge_start[i + 1])
            return i;
        for (uint32_t e = a->edge_start[i]; e < a->edge_start[i + 1]; e++)
            if (a->edges[e] != b->edges[e])
                return i;
    }
    if (a->n != b->n || a->nedges != b->nedges)
        return n;
    if (a->nowned != b->nowned || a->nbig != b->nbig ||
        a->arg_root != b->arg_root || a->gc_root != b->gc_root ||
        a->type_root != b->type_root)
        return 0;
    for (size_t k = 0; k < a->nowned; k++)
        if (a->owned_dict[k] != b->owned_dict[k] ||
            a->dict_owner[k] != b->dict_owner[k])
            return a->owned_dict[k];
    for (size_t k = 0; k < a->nbig; k++)
        if (a->big_id[k] != b->big_id[k] || a->big_size[k] != b->big_size[k])
            return a->big_id[k];
    return -1;
}

void
hs_graph_prefetch(const hs_graph *g, uintptr_t addr)
{
    hs_prefetch(&g->table[home_of(g, addr)]);
}

int
hs_graph_intern_batch(hs_graph *g, const uintptr_t *addrs, size_t n,
                      hs_id *ids)
{
    for (size_t i = 0; i < n; i++)
        hs_graph_prefetch(g, addrs[i]);
    for (size_t i = 0; i < n; i++) {
        int is_new;
        int r = hs_graph_intern(g, addrs[i], &ids[i], &is_new);
        if (r < 0)
            return r;
    }
    return 0;
}

int
hs_pagefilter_build(hs_pagefilter *f, const hs_graph *g)
{
    /* 8 to 16 bits per node, and a page holds tens of objects: few
     * false hits; at least 2^16 bits, at most 2^30 */
    unsigned log2 = 16;
    while (log2 < 30 && ((uint64_t)1 << log2) < (uint64_t)g->n * 8)
        log2++;
    f->shift = 64 - log2;
    f->bits = hs_table_alloc(((size_t)1 << log2) / 64, sizeof *f->bits);
    if (f->bits == NULL)
        return -HS_ENOMEM;
    for (hs_id i = 0; i < g->n; i++) {
        if (g->addr[i] == 0)
            continue;           /* a virtual node */
        uint64_t b = hs_pagefilter_bit(f, g->addr[i]);
        f->bits[b >> 6] |= (uint64_t)1 << (b & 63);
    }
    return 0;
}

void
hs_pagefilter_free(hs_pagefilter *f)
{
    free(f->bits);
    f->bits = NULL;
}

int
hs_graph_add_virtual(hs_graph *g, hs_id *id)
{
    /* Virtual nodes get a fake, never-aligned address so no lookup finds
     * them. */
    return new_node(g, (uintptr_t)1 + g->n * 2, HS_F_VIRTUAL, id);
}

int
hs_graph_add_edge(hs_graph *g, hs_id to)
{
    if (g->nedges == g->edge_cap) {
        uint64_t cap = g->edge_cap * 2;
        if (cap > UINT32_MAX)
            cap = UINT32_MAX;
        if (cap <= g->nedges)
            return -HS_ERANGE;
        prefault_stop(g);
        if (grow_big((void **)&g->edges, sizeof *g->edges, g->edge_cap,
                     cap) < 0)
            return -HS_ENOMEM;
        g->edge_cap = cap;
    }
    g->edges[g->nedges++] = to;
    return 0;
}

void
hs_graph_end_node(hs_graph *g, hs_id from)
{
    g->edge_start[from + 1] = (uint32_t)g->nedges;
}

int
hs_graph_add_root_edge(hs_graph *g, hs_id to, const char *label)
{
    /* Labels stay parallel to the root's edges: the root is node 0 and is
     * built first, so its k-th edge is edges[k]. */
    if (g->nroot_label != g->nedges)
        return -HS_EINVAL;
    if (g->nroot_label == g->root_label_cap) {
        size_t cap = g->root_label_cap ? g->root_label_cap * 2 : 64;
        if (grow_array((void **)&g->root_label, sizeof(char *), cap) < 0)
            return -HS_ENOMEM;
        g->root_label_cap = cap;
    }
    char *copy = strdup(label ? label : "");
    if (copy == NULL)
        return -HS_ENOMEM;
    int r = hs_graph_add_edge(g, to);
    if (r < 0) {
        free(copy);
        return r;
    }
    g->root_label[g->nroot_label++] = copy;
    return 0;
}

int
hs_graph_set_size(hs_graph *g, hs_id id, uint64_t size)
{
    if (size < UINT32_MAX) {
        g->size[id] = (uint32_t)size;
        return 0;
    }
    if (g->nbig == g->big_cap) {
        size_t cap = g->big_cap ? g->big_cap * 2 : 16;
        if (grow_array((void **)&g->big_id, sizeof *g->big_id, cap) < 0 ||
            grow_array((void **)&g->big_size, sizeof *g->big_size, cap) < 0)
            return -HS_ENOMEM;
        g->big_cap = cap;
    }
    /* Kept sorted by id: the walker sets sizes in node order, so this
     * shifts nothing in practice. */
    size_t k = g->nbig++;
    while (k > 0 && g->big_id[k - 1] > id) {
        g->big_id[k] = g->big_id[k - 1];
        g->big_size[k] = g->big_size[k - 1];
        k--;
    }
    g->big_id[k] = id;
    g->big_size[k] = size;
    g->size[id] = UINT32_MAX;
    return 0;
}

int
hs_graph_add_owner(hs_graph *g, hs_id dict, hs_id owner)
{
    if (g->nowned == g->owned_cap) {
        size_t cap = g->owned_cap ? g->owned_cap * 2 : 1024;
        if (grow_array((void **)&g->owned_dict, sizeof(hs_id), cap) < 0 ||
            grow_array((void **)&g->dict_owner, sizeof(hs_id), cap) < 0)
            return -HS_ENOMEM;
        g->owned_cap = cap;
    }
    g->owned_dict[g->nowned] = dict;
    g->dict_owner[g->nowned++] = owner;
    return 0;
}

/* Sort two parallel id arrays by the first (small side tables only). */
static int
pair_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

static int
sort_pairs(hs_id *k, hs_id *v, size_t n)
{
    if (n < 2)
        return 0;
    uint64_t *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return -HS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        tmp[i] = ((uint64_t)k[i] << 32) | v[i];
    qsort(tmp, n, sizeof *tmp, pair_cmp);
    for (size_t i = 0; i < n; i++) {
        k[i] = (hs_id)(tmp[i] >> 32);
        v[i] = (hs_id)tmp[i];
    }
    free(tmp);
    return 0;
}

void
hs_graph_prefault(hs_graph *g)
{
    if (g->prefault != NULL)
        return;
    /* the table first: it is touched at random from the first object */
    void *ptr[] = {g->table, g->addr, g->type, g->size, g->flags,
                   g->edge_start, g->edges};
    size_t bytes[] = {g->tslots * sizeof *g->table,
                      g->cap * sizeof *g->addr, g->cap * sizeof *g->type,
                      g->cap * sizeof *g->size, g->cap * sizeof *g->flags,
                      (g->cap + 1) * sizeof *g->edge_start,
                      g->edge_cap * sizeof *g->edges};
    g->prefault = hs_big_prefault_start(ptr, bytes, 7, 1, NULL);
}

int
hs_graph_prefaulting(const hs_graph *g)
{
    return hs_big_prefault_running(g->prefault);
}

/* The arrays were presized from an estimate (and prefaulted): what the
 * walk did not use goes back to the system. */
static void
trim(hs_graph *g)
{
    size_t n = g->n, c = g->cap;
    hs_big_trim(g->addr, n * sizeof *g->addr, c * sizeof *g->addr);
    hs_big_trim(g->type, n * sizeof *g->type, c * sizeof *g->type);
    hs_big_trim(g->size, n * sizeof *g->size, c * sizeof *g->size);
    hs_big_trim(g->flags, n * sizeof *g->flags, c * sizeof *g->flags);
    hs_big_trim(g->edge_start, (n + 1) * sizeof *g->edge_start,
                (c + 1) * sizeof *g->edge_start);
    hs_big_trim(g->edges, g->nedges * sizeof *g->edges,
                g->edge_cap * sizeof *g->edges);
}

int
hs_graph_finish(hs_graph *g)
{
    prefault_stop(g);
    trim(g);
    int r = sort_pairs(g->owned_dict, g->dict_owner, g->nowned);
    if (r < 0)
        return r;
    return 0;
}

void
hs_graph_drop_edges(hs_graph *g)
{
    prefault_stop(g);
    hs_big_free_kept(g->edges, g->edge_cap * sizeof *g->edges);
    hs_big_free_kept(g->edge_start, (g->cap + 1) * sizeof *g->edge_start);
    free(g->owned_dict);
    free(g->dict_owner);
    g->edges = NULL;
    g->edge_start = NULL;
    g->owned_dict = g->dict_owner = NULL;
    g->nedges = g->edge_cap = 0;
    g->nowned = g->owned_cap = 0;
    for (size_t i = 0; i < g->nroot_label; i++)
        free(g->root_label[i]);
    free(g->root_label);
    g->root_label = NULL;
    g->nroot_label = g->root_label_cap = 0;
}

static size_t
find_sorted(const hs_id *a, size_t n, hs_id key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && a[lo] == key) ? lo : (size_t)-1;
}

uint64_t
hs_graph_big_size(const hs_graph *g, hs_id id)
{
    size_t k = find_sorted(g->big_id, g->nbig, id);
    return k == (size_t)-1 ? UINT32_MAX : g->big_size[k];
}

hs_id
hs_graph_owner(const hs_graph *g, hs_id dict)
{
    size_t k = find_sorted(g->owned_dict, g->nowned, dict);
    return k == (size_t)-1 ? HS_NO_ID : g->dict_owner[k];
}

size_t
hs_graph_memory(const hs_graph *g)
{
    /* what is in use: the arrays' unused tails are trimmed at finish */
    size_t per_node = sizeof(uintptr_t) + sizeof(hs_id) + sizeof(uint32_t) +
                      sizeof(uint8_t) +
                      (g->edge_start != NULL ? sizeof(uint32_t) : 0);
    return sizeof *g + (size_t)g->n * per_node +
           (size_t)g->nedges * sizeof(hs_id) +
           (size_t)g->tslots * sizeof(uint64_t) +
           g->spill_slots * 2 * sizeof(uint64_t) +
           g->owned_cap * 2 * sizeof(hs_id) +
           g->big_cap * (sizeof(hs_id) + sizeof(uint64_t));
}
