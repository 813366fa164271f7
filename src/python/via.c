/* via.c - group a set's objects by how their referrers refer to them
 * (heapy's byvia): "['key']", ".attr", "[3]", ".keys()[3]"...
 *
 * Each distinct referrer of the set is enumerated once
 * (hs_py_relate_all), and every reference it holds to a member names that
 * member; a million-item list holding a million members costs one pass.
 * Names are made once per distinct way (a cache keyed by kind and key),
 * so a set of a million dict values under one key makes one string.  No
 * user code runs: keys are named by a safe repr.
 */
#include "hs_py.h"
#include "heapscope/relations.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a cache of names: (kind, key) -> str --------------------------------- */

typedef struct {
    uint64_t kind, key;
    PyObject *name;          /* NULL: empty slot */
} name_slot;

typedef struct {
    name_slot *slot;
    size_t mask, used;
    PyObject *texts;         /* HS_RN_TEXT names, by value: text -> text */
} name_cache;

static uint64_t
mix(uint64_t a, uint64_t b)
{
    uint64_t h = (a + 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 29);
}

static int
cache_init(name_cache *c)
{
    c->mask = 255;
    c->used = 0;
    c->slot = calloc(c->mask + 1, sizeof *c->slot);
    c->texts = PyDict_New();
    return c->slot == NULL || c->texts == NULL ? -1 : 0;
}

static void
cache_free(name_cache *c)
{
    for (size_t i = 0; c->slot != NULL && i <= c->mask; i++)
        Py_XDECREF(c->slot[i].name);
    free(c->slot);
    c->slot = NULL;
    Py_CLEAR(c->texts);
}

static int
cache_grow(name_cache *c)
{
    size_t nmask = c->mask * 2 + 1;
    name_slot *ns = calloc(nmask + 1, sizeof *ns);
    if (ns == NULL)
        return -1;
    for (size_t i = 0; i <= c->mask; i++) {
        name_slot *o = &c->slot[i];
        if (o->name == NULL)
            continue;
        size_t j = mix(o->kind, o->key) & nmask;
        while (ns[j].name != NULL)
            j = (j + 1) & nmask;
        ns[j] = *o;
    }
    free(c->slot);
    c->slot = ns;
    c->mask = nmask;
    return 0;
}

/* The one name object for this way of referring (borrowed), made on first
 * use; NULL with an exception set on failure. */
static PyObject *
cache_name(name_cache *c, const hs_relname *n)
{
    uint64_t key;
    switch (n->kind) {
    case HS_RN_FIELD:
    case HS_RN_MEMBER:
        key = (uintptr_t)n->field;      /* literals and member tables */
        break;
    case HS_RN_INDEXKEY:
    case HS_RN_ITEM:
    case HS_RN_INSET:
    case HS_RN_STACK:
        key = (uint64_t)n->index;
        break;
    case HS_RN_TEXT: {
        /* made by whoever reported it and gone after: keep one copy */
        if (n->key == NULL || !PyUnicode_Check(n->key)) {
            PyErr_SetString(PyExc_TypeError, "a relation name is no str");
            return NULL;
        }
        PyObject *have = PyDict_SetDefault(c->texts, n->key, n->key);
        return have;                     /* borrowed from the dict */
    }
    default:
        key = (uintptr_t)n->key;         /* alive while its holder is */
        break;
    }
    size_t i = mix((uint64_t)n->kind, key) & c->mask;
    for (; c->slot[i].name != NULL; i = (i + 1) & c->mask)
        if (c->slot[i].kind == (uint64_t)n->kind && c->slot[i].key == key)
            return c->slot[i].name;
    PyObject *name = hs_py_relname(n);
    if (name == NULL)
        return NULL;
    c->slot[i].kind = (uint64_t)n->kind;
    c->slot[i].key = key;
    c->slot[i].name = name;
    if (++c->used * 2 > c->mask && cache_grow(c) < 0) {
        PyErr_NoMemory();
        return NULL;
    }
    return name;
}

/* ---- collecting (member, name) pairs ----------------------------------- */

typedef struct {
    uint64_t member;        /* index into the set */
    PyObject *name;         /* borrowed from the cache or a root name */
} pair;

typedef struct {
    const hs_graph *g;
    const hs_set *s;
    name_cache cache;
    pair *pairs;
    size_t npairs, cap;
    int err;
} via_ctx;

static size_t
member_index(const hs_set *s, hs_id id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->ids[lo] == id ? lo : (size_t)-1;
}

static int
add_pair(via_ctx *v, size_t member, PyObject *name)
{
    if (v->npairs == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        pair *b = realloc(v->pairs, cap * sizeof *b);
        if (b == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        v->pairs = b;
        v->cap = cap;
    }
    v->pairs[v->npairs].member = member;
    v->pairs[v->npairs++].name = name;
    return 0;
}

static int
visit_held(PyObject *dst, const hs_relname *n, void *arg)
{
    via_ctx *v = arg;
    hs_id id = hs_graph_find(v->g, (uintptr_t)dst);
    if (id == HS_NO_ID)
        return 0;
    size_t m = member_index(v->s, id);
    if (m == (size_t)-1)
        return 0;
    PyObject *name = cache_name(&v->cache, n);
    if (name == NULL || add_pair(v, m, name) < 0) {
        v->err = -1;
        return 1;
    }
    return 0;
}

/* How the root holds members: the tail of each root edge's label, so a
 * local of a running frame reads ".f_locals['x']" as it would through a
 * frame object. */
static int
root_names(via_ctx *v, PyObject *texts)
{
    const hs_graph *g = v->g;
    for (size_t k = 0; k < g->nroot_label; k++) {
        size_t m = member_index(v->s, g->edges[k]);
        if (m == (size_t)-1)
            continue;
        const char *label = g->root_label[k];
        const char *dot = strchr(label, '.');
        PyObject *name = dot ? PyUnicode_FromString(dot)
                             : PyUnicode_FromFormat(".%s", label);
        if (name == NULL || PyList_Append(texts, name) < 0) {
            Py_XDECREF(name);
            return -1;
        }
        Py_DECREF(name);
        if (add_pair(v, m, name) < 0)
            return -1;
    }
    return 0;
}

static int
pair_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->member != y->member)
        return x->member < y->member ? -1 : 1;
    uintptr_t p = (uintptr_t)x->name, q = (uintptr_t)y->name;
    return (p > q) - (p < q);
}

static int
text_cmp(const void *a, const void *b)
{
    PyObject *x = *(PyObject *const *)a, *y = *(PyObject *const *)b;
    return PyUnicode_Compare(x, y);
}

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int
hs_py_via_classify(const hs_graph *g, const hs_relations *r,
                   const hs_heapdefs *hd, const hs_set *s, uint64_t *keys,
                   PyObject **labels_out, const hs_progress *prog)
{
    via_ctx v = {g, s, {NULL, 0, 0}, NULL, 0, 0, 0};
    hs_id *refs = NULL;
    hs_rcs_table t = {0};
    uint64_t *list = NULL;
    PyObject *texts = PyList_New(0), *labels = NULL;
    int ret = -1;
    *labels_out = NULL;
    if (texts == NULL || cache_init(&v.cache) < 0 ||
        hs_rcs_table_init(&t) < 0) {
        PyErr_NoMemory();
        goto done;
    }

    /* The distinct referrers of the members, in id order. */
    size_t nrefs = 0, cap = 1024;
    int by_root = 0;
    refs = malloc(cap * sizeof *refs);
    if (refs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t k = 0; k < s->n; k++) {
        const hs_id *in = hs_rel_in(r, s->ids[k]);
        for (uint32_t j = 0, m = hs_rel_nin(r, s->ids[k]); j < m; j++) {
            hs_id p = in[j];
            if (p == HS_ROOT) {
                by_root = 1;
                continue;
            }
            if (!hs_rel_is_object(g, p) || !(g->flags[p] & HS_F_HELD))
                continue;
            if (nrefs == cap) {
                hs_id *b = realloc(refs, cap * 2 * sizeof *b);
                if (b == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                refs = b;
                cap *= 2;
            }
            refs[nrefs++] = p;
        }
    }
    hs_set distinct;
    if (hs_set_from_ids(&distinct, refs, nrefs) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    free(refs);
    refs = distinct.ids;
    nrefs = distinct.n;

    /* Each referrer once: every reference it holds to a member. */
    double last = now();
    for (size_t k = 0; k < nrefs; k++) {
        if ((k & 1023) == 1023 && now() - last > 0.05) {
            last = now();
            if (hs_progress_tick(prog, "byvia", k, nrefs)) {
                PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
                goto done;
            }
        }
        hs_py_relate_all((PyObject *)g->addr[refs[k]], hd, visit_held, &v);
        if (v.err)
            goto done;
    }
    if (by_root && root_names(&v, texts) < 0)
        goto done;

    /* Per member: its distinct names, as a list interned in t. */
    qsort(v.pairs, v.npairs, sizeof *v.pairs, pair_cmp);
    list = malloc((v.npairs + 1) * sizeof *list);
    if (list == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t p = 0;
    for (size_t k = 0; k < s->n; k++) {
        size_t nl = 0;
        for (; p < v.npairs && v.pairs[p].member == k; p++)
            if (nl == 0 || list[nl - 1] != (uintptr_t)v.pairs[p].name)
                list[nl++] = (uintptr_t)v.pairs[p].name;
        long long id = hs_rcs_intern(&t, list, nl);
        if (id < 0) {
            PyErr_NoMemory();
            goto done;
        }
        keys[k] = (uint64_t)id;
    }

    /* Labels: each list's names sorted by text, and distinct by text too
     * (a root label and a frame's may read alike). */
    labels = PyList_New((Py_ssize_t)t.n);
    if (labels == NULL)
        goto done;
    for (size_t id = 0; id < t.n; id++) {
        size_t a = t.start[id], n = t.start[id + 1] - a;
        PyObject **names = (PyObject **)list;
        for (size_t i = 0; i < n; i++)
            names[i] = (PyObject *)(uintptr_t)t.key[a + i];
        qsort(names, n, sizeof *names, text_cmp);
        if (PyErr_Occurred())
            goto done;
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
            if (w == 0 || PyUnicode_Compare(names[w - 1], names[i]) != 0)
                names[w++] = names[i];
        PyObject *tup = PyTuple_New((Py_ssize_t)w);
        if (tup == NULL)
            goto done;
        for (size_t i = 0; i < w; i++) {
            Py_INCREF(names[i]);
            PyTuple_SET_ITEM(tup, (Py_ssize_t)i, names[i]);
        }
        PyList_SET_ITEM(labels, (Py_ssize_t)id, tup);
    }
    *labels_out = labels;
    labels = NULL;
    ret = 0;
done:
    Py_XDECREF(labels);
    Py_XDECREF(texts);
    free(list);
    free(refs);
    free(v.pairs);
    cache_free(&v.cache);
    hs_rcs_table_free(&t);
    return ret;
}
