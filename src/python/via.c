/* via.c - group a set's objects by how their referrers refer to them
 * (heapy's byvia): "['key']", ".attr", "[3]", ".keys()[3]"...
 *
 * Each distinct referrer of the set is enumerated once
 * (hs_py_relate_all), and every reference it holds to a member names that
 * member; a million-item list holding a million members costs one pass.
 * Names are made once per distinct way (a cache keyed by kind and key),
 * so a set of a million dict values under one key makes one string, and
 * the names that are a kind and a number, and every row's label, only
 * when a row is shown.  No user code runs: keys are named by a safe repr.
 */
#include "hs_py.h"
#include "heapscope/relations.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a cache of names: (kind, key) -> index into a list of str ------------
 *
 * Every distinct way of referring is looked up once per reference, so the
 * cache is C, and a way finds its name where its kind says:
 *  - a kind and a number (".keys()[3]", "[3]"): in an array by the number,
 *    one per kind (`numbered`), as long as it stays within a few words per
 *    name made; a bigger number goes to `slot` instead;
 *  - an exact str key ("['key']", ".key"): by the key's text (`keyed`): a
 *    million dicts with keys of their own have a million key objects and
 *    a handful of texts.  In front of it, `front` remembers the key objects
 *    last seen at each of FRONT_SLOTS places, so that a key shared by many
 *    holders (an attribute name, a literal dict key) is found without
 *    reading its text;
 *  - anything else (a field, a key of another type): by kind and identity,
 *    in `slot`.
 * A name made as a string is interned by its text (`texts`), so members
 * named alike share a row however they came by the name. */

typedef struct {
    uint64_t kind, key;
    uint32_t index;
    int used;
} name_slot;

#define FRONT_SLOTS 4096

typedef struct {
    uint64_t key;            /* the key's address; 0: empty */
    uint32_t kind, index;
} front_slot;

/* A name by an exact str key's text.  The key is borrowed: the snapshot or
 * a referrer it holds keeps it alive while the cache lives (no Python code
 * runs meanwhile). */
typedef struct {
    PyObject *key;           /* NULL: empty */
    uint64_t hash;           /* text_hash of its text and kind */
    uint32_t kind, index;
} keyed_slot;

#define NUMBERED_KINDS 4
#define NUMBERED_MIN (1u << 16)  /* numbers always kept in an array */

typedef struct {
    name_slot *slot;
    size_t mask, used;
    keyed_slot *keyed;
    size_t kmask, kused;
    uint32_t *numbered[NUMBERED_KINDS];  /* number -> index + 1 (0: none) */
    size_t ncap[NUMBERED_KINDS];
    int spilled[NUMBERED_KINDS];         /* some of the kind are in slot */
    front_slot *front;
    PyObject *names;         /* index -> str, or None or a key until made */
    PyObject *texts;         /* every name made, by value: text -> index */
    uint64_t *code;          /* index -> its code when made lazily, else 0 */
    size_t code_cap;         /* (as many in use as names has items) */
} name_cache;

/* Names that are a kind and a number (".keys()[3]", "[3]") are made only
 * when a label shows them: a row of half a million dict keys would
 * otherwise format half a million strings for a table of ten.  Their code
 * is kind << 56 | number, never 0 (those kinds are not 0).  So are the
 * names of dict values under an exact str key ("['key']"): their code is
 * HS_RN_INDEXVAL << 56 | KEY_NAME, and the list of names holds the key
 * until then (half a million keys of their own, in the weak cache of the
 * bench heap, are as many names). */
#define CODE_SHIFT 56
#define KEY_NAME (1ull << 55)

/* These kinds: which of the cache's numbered arrays holds their names;
 * -1 for a kind that is not a number. */
static int
numbered_of(int kind)
{
    switch (kind) {
    case HS_RN_INDEXKEY:
        return 0;
    case HS_RN_ITEM:
        return 1;
    case HS_RN_INSET:
        return 2;
    case HS_RN_STACK:
        return 3;
    default:
        return -1;
    }
}

PyObject *
hs_py_via_code_name(uint64_t code, PyObject *key)
{
    hs_relname n = {(int)(code >> CODE_SHIFT), NULL, NULL,
                    (Py_ssize_t)(code & (KEY_NAME - 1))};
    if (code == (((uint64_t)HS_RN_INDEXVAL << CODE_SHIFT) | KEY_NAME) &&
        key != NULL && PyUnicode_CheckExact(key)) {
        n.key = key;
        n.index = 0;
        return hs_py_relname(&n);
    }
    if (code == 0 || (code & KEY_NAME) || numbered_of(n.kind) < 0) {
        PyErr_SetString(PyExc_ValueError, "not a via name code");
        return NULL;
    }
    return hs_py_relname(&n);
}

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
    memset(c, 0, sizeof *c);
    c->mask = 255;
    c->kmask = 255;
    c->slot = calloc(c->mask + 1, sizeof *c->slot);
    c->keyed = calloc(c->kmask + 1, sizeof *c->keyed);
    c->front = calloc(FRONT_SLOTS, sizeof *c->front);
    c->names = PyList_New(0);
    c->texts = PyDict_New();
    return c->slot == NULL || c->keyed == NULL || c->front == NULL ||
                   c->names == NULL || c->texts == NULL
               ? -1
               : 0;
}

static void
cache_free(name_cache *c)
{
    free(c->slot);
    c->slot = NULL;
    free(c->keyed);
    c->keyed = NULL;
    for (int k = 0; k < NUMBERED_KINDS; k++) {
        free(c->numbered[k]);
        c->numbered[k] = NULL;
    }
    free(c->front);
    c->front = NULL;
    free(c->code);
    c->code = NULL;
    Py_CLEAR(c->names);
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
        if (!o->used)
            continue;
        size_t j = mix(o->kind, o->key) & nmask;
        while (ns[j].used)
            j = (j + 1) & nmask;
        ns[j] = *o;
    }
    free(c->slot);
    c->slot = ns;
    c->mask = nmask;
    return 0;
}

static int
keyed_grow(name_cache *c)
{
    size_t nmask = c->kmask * 2 + 1;
    keyed_slot *ks = calloc(nmask + 1, sizeof *ks);
    if (ks == NULL)
        return -1;
    for (size_t i = 0; i <= c->kmask; i++) {
        keyed_slot *o = &c->keyed[i];
        if (o->key == NULL)
            continue;
        size_t j = o->hash & nmask;
        while (ks[j].key != NULL)
            j = (j + 1) & nmask;
        ks[j] = *o;
    }
    free(c->keyed);
    c->keyed = ks;
    c->kmask = nmask;
    return 0;
}

/* The array a of *cap items of `elem` bytes, with room for item n: a
 * itself, or a copy twice as big (`first` items at first); NULL with
 * MemoryError set, a as it was.  The main thread's only (it sets an
 * exception). */
static void *
room_for(void *a, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return a;
    size_t c = *cap ? *cap * 2 : first;
    void *b = realloc(a, c * elem);
    if (b == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    *cap = c;
    return b;
}

/* Append a new name (None and its code when made lazily); its index, or
 * -1 with an exception set. */
static long
add_name_code(name_cache *c, PyObject *name, uint64_t code)
{
    Py_ssize_t i = PyList_GET_SIZE(c->names);
    if (i >= (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many distinct names");
        return -1;
    }
    uint64_t *codes = room_for(c->code, &c->code_cap, (size_t)i,
                               sizeof *codes, 256);
    if (codes == NULL)
        return -1;
    c->code = codes;
    if (PyList_Append(c->names, name) < 0)
        return -1;
    c->code[i] = code;
    return (long)i;
}

static long
add_name(name_cache *c, PyObject *name)
{
    return add_name_code(c, name, 0);
}

/* The index of name (a str) among the names, added if its text is new:
 * names are one per text, so that members named alike share a row however
 * they came by the name (a key "e0" of each of a million dicts, a member
 * ".key" of two classes).  -1 with an exception set. */
static long
intern_text(name_cache *c, PyObject *name)
{
    PyObject *have = PyDict_GetItemWithError(c->texts, name);
    if (have != NULL)
        return PyLong_AsLong(have);
    if (PyErr_Occurred())
        return -1;
    long i = add_name(c, name);
    PyObject *iv = i < 0 ? NULL : PyLong_FromLong(i);
    if (iv == NULL || PyDict_SetItem(c->texts, name, iv) < 0) {
        Py_XDECREF(iv);
        return -1;
    }
    Py_DECREF(iv);
    return i;
}

/* The index of n's name, made now and interned by its text.  -1 with an
 * exception set. */
static long
made_name(name_cache *c, const hs_relname *n)
{
    PyObject *name = hs_py_relname(n);
    if (name == NULL)
        return -1;
    long i = intern_text(c, name);
    Py_DECREF(name);
    return i;
}

/* A str's text for comparing by value: 1 and its data, or 0 for a str
 * whose text is not ready (a legacy string before 3.12: none the
 * interpreter makes).  Equal texts have equal kinds (a ready str has the
 * narrowest kind that holds it). */
static int
str_text(PyObject *s, const void **data, size_t *bytes, int *kind)
{
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(s))
        return 0;
#endif
    *kind = (int)PyUnicode_KIND(s);
    *data = PyUnicode_DATA(s);
    *bytes = (size_t)PyUnicode_GET_LENGTH(s) * (size_t)*kind;
    return 1;
}

/* A hash of a text of our own: a str's cached hash is not always there,
 * and computing it would write it into the str. */
static uint64_t
text_hash(const void *data, size_t bytes, int kind, int how)
{
    const unsigned char *p = data;
    uint64_t h = mix((uint64_t)bytes << 8 | (uint64_t)kind << 4 | (uint64_t)how,
                     0x51ED2701F3A5C84Bull);
    for (; bytes >= 8; p += 8, bytes -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h, w);
    }
    uint64_t w = 0;
    memcpy(&w, p, bytes);
    return mix(h, w);
}

/* The index of the name of n, "['key']" or ".key" with an exact str key,
 * found by the key's text, else added (an "['key']" to be made when shown:
 * the list of names holds the key till then).  -1 with an exception
 * set. */
static long
name_by_str_key(name_cache *c, const hs_relname *n)
{
    const void *data;
    size_t bytes;
    int ukind;
    if (!str_text(n->key, &data, &bytes, &ukind))
        return made_name(c, n);
    uint64_t h = text_hash(data, bytes, ukind, n->kind);
    size_t i = h & c->kmask;
    for (; c->keyed[i].key != NULL; i = (i + 1) & c->kmask) {
        const keyed_slot *e = &c->keyed[i];
        if (e->hash != h || e->kind != (uint32_t)n->kind)
            continue;
        if (e->key == n->key ||
            ((int)PyUnicode_KIND(e->key) == ukind &&
             (size_t)PyUnicode_GET_LENGTH(e->key) * (size_t)ukind == bytes &&
             memcmp(PyUnicode_DATA(e->key), data, bytes) == 0))
            return e->index;
    }
    long idx;
    if (n->kind == HS_RN_INDEXVAL &&
        PyUnicode_GET_LENGTH(n->key) <= HS_REPR_MAX) {
        /* "['key']" is made when shown; its text is one per key value,
         * and no name of another kind reads "['...']" (a longer key is
         * shown by its length alone: that text is interned now) */
        idx = add_name_code(c, n->key,
                            ((uint64_t)HS_RN_INDEXVAL << CODE_SHIFT) | KEY_NAME);
    } else {
        idx = made_name(c, n);
    }
    if (idx < 0)
        return -1;
    c->keyed[i] = (keyed_slot){n->key, h, (uint32_t)n->kind, (uint32_t)idx};
    if (++c->kused * 2 > c->kmask && keyed_grow(c) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return idx;
}

/* Where the numbered name `number` of array k goes: its entry, the array
 * grown to hold it if that keeps the array within a few words per name
 * made (a list of ten million holding one member at its end makes one
 * name, not an array of ten million); NULL if it does not go there. */
static uint32_t *
numbered_entry(name_cache *c, int k, Py_ssize_t number)
{
    if (number < 0 || (uint64_t)number >= KEY_NAME)
        return NULL;
    size_t i = (size_t)number;
    if (i < c->ncap[k])
        return &c->numbered[k][i];
    size_t made = (size_t)PyList_GET_SIZE(c->names);
    if (i >= NUMBERED_MIN && i / 4 >= made)
        return NULL;
    size_t cap = c->ncap[k] ? c->ncap[k] : 1024;
    while (cap <= i)
        cap *= 2;
    uint32_t *a = realloc(c->numbered[k], cap * sizeof *a);
    if (a == NULL)
        return NULL;            /* (then in the slot table) */
    memset(a + c->ncap[k], 0, (cap - c->ncap[k]) * sizeof *a);
    c->numbered[k] = a;
    c->ncap[k] = cap;
    return &a[i];
}

/* The index of the one name for this way of referring, made on first use;
 * -1 with an exception set on failure. */
static long
cache_name(name_cache *c, const hs_relname *n)
{
    uint64_t key;
    uint32_t *e = NULL;
    int k = numbered_of(n->kind);
    if (k >= 0 && (e = numbered_entry(c, k, n->index)) != NULL) {
        if (*e != 0)
            return (long)*e - 1;
        if (!c->spilled[k]) {
            long idx = add_name_code(c, Py_None,
                                     (uint64_t)n->kind << CODE_SHIFT |
                                         (uint64_t)n->index);
            if (idx >= 0)
                *e = (uint32_t)idx + 1;
            return idx;
        }
        /* numbers of this kind were put in the slot table before the
         * array reached them: this one may be there */
    }
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
    case HS_RN_TEXT:
        /* made by whoever reported it and gone after: kept by value */
        if (n->key == NULL || !PyUnicode_Check(n->key)) {
            PyErr_SetString(PyExc_TypeError, "a relation name is no str");
            return -1;
        }
        return intern_text(c, n->key);
    default:
        key = (uintptr_t)n->key;         /* alive while its holder is */
        break;
    }
    if ((n->kind == HS_RN_INDEXVAL || n->kind == HS_RN_ATTR) && key != 0) {
        front_slot *f = &c->front[mix((uint64_t)n->kind, key) &
                                  (FRONT_SLOTS - 1)];
        if (f->key == key && f->kind == (uint32_t)n->kind)
            return f->index;
        if (PyUnicode_CheckExact(n->key)) {
            long idx = name_by_str_key(c, n);
            if (idx >= 0) {
                f->key = key;
                f->kind = (uint32_t)n->kind;
                f->index = (uint32_t)idx;
            }
            return idx;
        }
    }
    size_t i = mix((uint64_t)n->kind, key) & c->mask;
    for (; c->slot[i].used; i = (i + 1) & c->mask)
        if (c->slot[i].kind == (uint64_t)n->kind && c->slot[i].key == key) {
            if (e != NULL)
                *e = c->slot[i].index + 1;
            return c->slot[i].index;
        }
    long idx;
    Py_ssize_t item;
    if (e != NULL) {            /* an array's, not yet named */
        idx = add_name_code(c, Py_None,
                            (uint64_t)n->kind << CODE_SHIFT | (uint64_t)n->index);
        if (idx >= 0)
            *e = (uint32_t)idx + 1;
        return idx;
    }
    if (k >= 0 && n->index >= 0 && (uint64_t)n->index < KEY_NAME) {
        c->spilled[k] = 1;
        idx = add_name_code(c, Py_None,
                            (uint64_t)n->kind << CODE_SHIFT | (uint64_t)n->index);
    } else if (n->kind == HS_RN_INDEXVAL && n->key != NULL &&
               PyLong_CheckExact(n->key) &&
               (item = PyLong_AsSsize_t(n->key)) >= 0) {
        /* d[3] reads "[3]", as the item of a list does: the same name */
        hs_relname as_item = {HS_RN_ITEM, NULL, NULL, item};
        if ((idx = cache_name(c, &as_item)) < 0)
            return -1;
        /* (which may have grown the table) */
        for (i = mix((uint64_t)n->kind, key) & c->mask; c->slot[i].used;
             i = (i + 1) & c->mask)
            ;
    } else {
        if (PyErr_Occurred())
            PyErr_Clear();      /* (an int too big for an index) */
        idx = made_name(c, n);
    }
    if (idx < 0)
        return -1;
    c->slot[i].kind = (uint64_t)n->kind;
    c->slot[i].key = key;
    c->slot[i].index = (uint32_t)idx;
    c->slot[i].used = 1;
    if (++c->used * 2 > c->mask && cache_grow(c) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return idx;
}

/* ---- collecting each member's names ------------------------------------- */

/* The members one referrer holds, by address: from the referrer's edges
 * in the snapshot (its targets that are members), so matching what
 * hs_py_relate_all reports is a lookup in a small table, not in the
 * snapshot's big address table (a cache miss per reference). */
typedef struct {
    uintptr_t addr;
    hs_id id;
} target;

typedef struct {
    target *tab;            /* the current referrer's member targets */
    size_t tmask, tcap;
} target_table;

typedef struct {
    const hs_graph *g;
    const hs_heapdefs *hd;
    uint64_t *inset;        /* bitmap of the set's node ids */
    uint32_t *rank;         /* members in the words before each word */
    name_cache cache;
    uint64_t *first;        /* per member: its first name + 1 (0: none), */
                            /* | MORE when it has others, in `more` */
    uint64_t *more;         /* member index << 32 | name index */
    size_t nmore, cap;
    target_table t;         /* the main thread's */
    hs_id dict_type;        /* the node of dict, when its edges are entries */
    int err;
} via_ctx;

#define IN_SET(v, id) ((v)->inset[(id) >> 6] & (1ull << ((id) & 63)))

/* Bits set in x: the popcnt instruction where the build may use it, else
 * shifts and adds (on baseline x86-64 __builtin_popcountll is a call into
 * libgcc: 3% of a byvia, once per name). */
static inline unsigned
popcount64(uint64_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcountll(x);
#else
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* The index in the set of member id: members before it. */
static inline uint32_t
member_of(const via_ctx *v, hs_id id)
{
    uint64_t below = v->inset[id >> 6] & ((1ull << (id & 63)) - 1);
    return v->rank[id >> 6] + popcount64(below);
}

#define MORE (1ull << 63)
#define ROW_NONE (1ull << 63)      /* a row of members with no name */
#define ROW_LIST (1ull << 62)      /* a row named by a list of names */

/* Member `member` is named `name`: most members have one name, written in
 * place; the rare others are kept aside, in pairs. */
static int
add_name_of(via_ctx *v, uint32_t member, long name)
{
    uint64_t *f = &v->first[member], nm = (uint64_t)name + 1;
    if (*f == 0) {
        *f = nm;
        return 0;
    }
    if ((*f & ~MORE) == nm)
        return 0;               /* the first name again */
    uint64_t *more = room_for(v->more, &v->cap, v->nmore, sizeof *more, 4096);
    if (more == NULL)
        return -1;
    v->more = more;
    v->more[v->nmore++] = ((uint64_t)member << 32) | (uint32_t)name;
    *f |= MORE;
    return 0;
}

/* A way of referring as two numbers, kind and val (an index, a field's
 * name or a key's address, by kind), for what names members off the main
 * thread (the worker's records) or before a name is made; and back. */
static uint64_t
rel_val(const hs_relname *n)
{
    switch (n->kind) {
    case HS_RN_FIELD:
    case HS_RN_MEMBER:
        return (uint64_t)(uintptr_t)n->field;
    case HS_RN_INDEXKEY:
    case HS_RN_ITEM:
    case HS_RN_INSET:
    case HS_RN_STACK:
        return (uint64_t)n->index;
    default:
        return (uint64_t)(uintptr_t)n->key;
    }
}

static hs_relname
rel_name(int kind, uint64_t val)
{
    hs_relname n = {kind, NULL, NULL, 0};
    switch (kind) {
    case HS_RN_FIELD:
    case HS_RN_MEMBER:
        n.field = (const char *)(uintptr_t)val;
        break;
    case HS_RN_INDEXKEY:
    case HS_RN_ITEM:
    case HS_RN_INSET:
    case HS_RN_STACK:
        n.index = (Py_ssize_t)val;
        break;
    default:
        n.key = (PyObject *)(uintptr_t)val;
        break;
    }
    return n;
}

/* ---- exact dicts, named from their edges ---------------------------------
 *
 * The walk gives an exact dict's node its entries as edges, (key, value)
 * pairs in order (hs_compat_visit_dict_pairs), so a dict's members are
 * named from the snapshot as relate_dict names them, without reading the
 * dict (its header, keys and entries: a cache miss or more each, for a
 * million dicts): value 2j+1 is "['key']" by key 2j, key 2j is
 * ".keys()[j]".  The names are the dict's entries when the snapshot was
 * taken, like its edges.  A key names a value by its text, read when the
 * name is first made: a key the snapshot does not keep alive sends the
 * dict to hs_py_relate_all instead. */
typedef int (*name_out)(void *arg, uint32_t member, int kind, uint64_t val);

#define KEPT (HS_F_HELD | HS_F_STATIC | HS_F_IMMORTAL)

/* 1 if p is an exact dict and out(arg, member, kind, val) was called for
 * each entry of it that is a member (val: the key's address, or the
 * entry's index); 0 if p must be related otherwise; -1 if out failed. */
static int
dict_by_edges(const via_ctx *v, hs_id p, name_out out, void *arg)
{
    const hs_graph *g = v->g;
    if (v->dict_type == HS_NO_ID || g->type[p] != v->dict_type)
        return 0;
    const hs_id *e = hs_graph_out(g, p);
    uint32_t m = hs_graph_nout(g, p);
    if (m & 1)
        return 0;
    for (uint32_t j = 0; j < m; j += 2)
        if (IN_SET(v, e[j + 1]) && !(g->flags[e[j]] & KEPT))
            return 0;
    for (uint32_t j = 0; j < m; j += 2) {
        if (IN_SET(v, e[j + 1]) &&
            out(arg, member_of(v, e[j + 1]), HS_RN_INDEXVAL,
                (uint64_t)g->addr[e[j]]) != 0)
            return -1;
        if (IN_SET(v, e[j]) &&
            out(arg, member_of(v, e[j]), HS_RN_INDEXKEY, j / 2) != 0)
            return -1;
    }
    return 1;
}

/* name_out on the main thread: the name made now (with an exception set
 * when that fails). */
static int
name_now(void *arg, uint32_t member, int kind, uint64_t val)
{
    via_ctx *v = arg;
    hs_relname n = rel_name(kind, val);
    long name = cache_name(&v->cache, &n);
    return name < 0 || add_name_of(v, member, name) < 0 ? -1 : 0;
}

static size_t
addr_slot(uintptr_t a, size_t mask)
{
    return (size_t)(((uint64_t)a >> 4) * 0x9E3779B97F4A7C15ull >> 20) & mask;
}

/* Fill table t with referrer p's targets that are members; their number
 * (0: nothing of p's is a member).  -1 when out of memory (no exception
 * set: the other core's worker calls this too). */
static int
load_targets(const via_ctx *v, target_table *t, hs_id p, size_t *count)
{
    const hs_graph *g = v->g;
    const hs_id *e = hs_graph_out(g, p);
    uint32_t m = hs_graph_nout(g, p), want = 0;
    for (uint32_t k = 0; k < m; k++)
        want += IN_SET(v, e[k]) != 0;
    *count = want;
    if (want == 0)
        return 0;
    size_t size = 16;
    while (size < 2 * (size_t)want)
        size *= 2;
    if (size > t->tcap) {
        target *b = realloc(t->tab, size * sizeof *b);
        if (b == NULL)
            return -1;
        t->tab = b;
        t->tcap = size;
    }
    t->tmask = size - 1;
    memset(t->tab, 0, size * sizeof *t->tab);
    for (uint32_t k = 0; k < m; k++) {
        hs_id w = e[k];
        if (!IN_SET(v, w))
            continue;
        uintptr_t a = g->addr[w];
        size_t i = addr_slot(a, t->tmask);
        while (t->tab[i].addr != 0 && t->tab[i].addr != a)
            i = (i + 1) & t->tmask;
        t->tab[i].addr = a;
        t->tab[i].id = w;
    }
    return 0;
}

/* The member at address a among the loaded targets, or HS_NO_ID. */
static inline hs_id
find_target(const target_table *t, uintptr_t a)
{
    size_t i = addr_slot(a, t->tmask);
    while (t->tab[i].addr != 0 && t->tab[i].addr != a)
        i = (i + 1) & t->tmask;
    return t->tab[i].addr == 0 ? HS_NO_ID : t->tab[i].id;
}

static int
visit_held(PyObject *dst, const hs_relname *n, void *arg)
{
    via_ctx *v = arg;
    hs_id id = find_target(&v->t, (uintptr_t)dst);
    if (id == HS_NO_ID)
        return 0;               /* not a member */
    long name = cache_name(&v->cache, n);
    if (name < 0 || add_name_of(v, member_of(v, id), name) < 0) {
        v->err = -1;
        return 1;
    }
    return 0;
}

/* Every reference referrer p holds to a member names that member (on the
 * main thread: names are Python strings).  0, or -1 with an exception. */
static int
relate_one(via_ctx *v, hs_id p)
{
    int d = dict_by_edges(v, p, name_now, v);
    if (d != 0)
        return d < 0 ? -1 : 0;
    size_t nt;
    if (load_targets(v, &v->t, p, &nt) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (nt == 0)
        return 0;
    hs_py_relate_all((PyObject *)v->g->addr[p], v->hd, visit_held, v);
    return v->err;
}

/* How the root holds members: the tail of each root edge's label, so a
 * local of a running frame reads ".f_locals['x']" as it would through a
 * frame object. */
static int
root_names(via_ctx *v)
{
    const hs_graph *g = v->g;
    for (size_t k = 0; k < g->nroot_label; k++) {
        hs_id id = g->edges[k];
        if (!IN_SET(v, id))
            continue;
        const char *label = g->root_label[k];
        const char *dot = strchr(label, '.');
        PyObject *text = dot ? PyUnicode_FromString(dot)
                             : PyUnicode_FromFormat(".%s", label);
        if (text == NULL)
            return -1;
        hs_relname n = {HS_RN_TEXT, NULL, text, 0};
        long name = cache_name(&v->cache, &n);
        Py_DECREF(text);
        if (name < 0 || add_name_of(v, member_of(v, id), name) < 0)
            return -1;
    }
    return 0;
}

static double
now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* ---- relating on two cores ---------------------------------------------
 *
 * Reading a million referrers is a cache miss or more each, so a worker
 * thread reads some of them while the main thread reads others.  The
 * worker runs no Python and makes no object: it relates referrers whose
 * references relate names from what the referrer's fields point to (all
 * but types and the instances of types with an NyHeapDef), and for each
 * reference to a member records the member and the way (kind and key) in
 * a chunk; the main thread turns them into names between blocks of its
 * own.  The others the worker hands back, and the main thread relates them
 * once the worker has stopped.  Nothing changes the objects meanwhile: the
 * main thread holds the interpreter's lock throughout and runs no Python
 * code (making names allocates strings, which never starts a collection),
 * so no other thread runs any either. */
#define BLOCK_REFS 2048             /* referrers taken at a time */
#define CHUNK_RECS 32768            /* records in a chunk */
#define NCHUNKS 8                   /* chunks the worker may fill ahead */
#define PAR_MIN_REFS 32768          /* fewer referrers: one thread */
#define REC_DEFER 0xFFu             /* kind: refs[member] is the main's */

typedef struct {
    uint32_t member;        /* index in the set; refs index when DEFER */
    uint32_t kind;
    uint64_t val;           /* index, field or key, by kind */
} rec;

typedef struct chunk {
    struct chunk *next;
    size_t n;
    rec r[CHUNK_RECS];
} chunk;

typedef struct {
    via_ctx *v;             /* read only on the worker: g, hd, inset, rank */
    const hs_id *refs;
    size_t nrefs;
    atomic_size_t next;     /* the next block's first referrer */
    atomic_int stop;        /* the main thread gives up (error, cancel) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    chunk *free, *ready, *ready_tail;
    int done;               /* the worker has filled its last chunk */
    target_table t;         /* the worker's */
    chunk *cur;
    pthread_t thread;
    int thread_ok;          /* thread, lock and cond to be cleaned up */
} relpar;

/* May the worker relate o?  Relate reads nothing but o's own fields and
 * what they point to, except for an NyHeapDef's relate (an extension's
 * code) and a static type's dict on 3.12+ (kept by the interpreter, found
 * through the calling thread's state, which the worker has not). */
static int
plain_holder(const via_ctx *v, PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    return hs_heapdefs_find(v->hd, tp) == NULL && !PyType_Check(o);
}

/* The worker's current chunk to the end of the ready list (lock held). */
static void
hand_over(relpar *rp)
{
    if (rp->cur == NULL)
        return;
    rp->cur->next = NULL;
    if (rp->ready_tail != NULL)
        rp->ready_tail->next = rp->cur;
    else
        rp->ready = rp->cur;
    rp->ready_tail = rp->cur;
    rp->cur = NULL;
}

/* The worker's chunk with room for one more record; NULL when the main
 * thread gave up.  Full chunks go to the ready list. */
static chunk *
room(relpar *rp)
{
    if (rp->cur != NULL && rp->cur->n < CHUNK_RECS)
        return rp->cur;
    pthread_mutex_lock(&rp->lock);
    if (rp->cur != NULL) {
        hand_over(rp);
        pthread_cond_broadcast(&rp->cond);
    }
    while (rp->free == NULL && !atomic_load(&rp->stop))
        pthread_cond_wait(&rp->cond, &rp->lock);
    if (rp->free != NULL && !atomic_load(&rp->stop)) {
        rp->cur = rp->free;
        rp->free = rp->cur->next;
        rp->cur->n = 0;
    }
    pthread_mutex_unlock(&rp->lock);
    return rp->cur;
}

static int
record(relpar *rp, uint32_t member, uint32_t kind, uint64_t val)
{
    chunk *c = room(rp);
    if (c == NULL)
        return 1;
    c->r[c->n++] = (rec){member, kind, val};
    return 0;
}

static int
visit_record(PyObject *dst, const hs_relname *n, void *arg)
{
    relpar *rp = arg;
    hs_id id = find_target(&rp->t, (uintptr_t)dst);
    if (id == HS_NO_ID)
        return 0;
    return record(rp, member_of(rp->v, id), (uint32_t)n->kind, rel_val(n));
}

/* name_out on the worker: a record for the main thread; 1 once it gave
 * up. */
static int
record_out(void *arg, uint32_t member, int kind, uint64_t val)
{
    return record(arg, member, (uint32_t)kind, val);
}

static void *
worker_main(void *arg)
{
    relpar *rp = arg;
    via_ctx *v = rp->v;
    while (!atomic_load(&rp->stop)) {
        size_t k = atomic_fetch_add(&rp->next, BLOCK_REFS);
        if (k >= rp->nrefs)
            break;
        size_t end = k + BLOCK_REFS < rp->nrefs ? k + BLOCK_REFS : rp->nrefs;
        for (; k < end; k++) {
            hs_id p = rp->refs[k];
            PyObject *o = (PyObject *)v->g->addr[p];
            size_t nt;
            int r = dict_by_edges(v, p, record_out, rp);
            if (r < 0)
                break;          /* stopped */
            if (r > 0)
                continue;
            if (!plain_holder(v, o)) {
                r = record(rp, (uint32_t)k, REC_DEFER, 0);
            } else if (load_targets(v, &rp->t, p, &nt) < 0) {
                /* no memory here: the main thread relates it */
                r = record(rp, (uint32_t)k, REC_DEFER, 0);
            } else {
                r = nt == 0 ? 0 : hs_py_relate_all(o, v->hd, visit_record, rp);
            }
            if (r != 0)
                break;          /* stopped */
        }
    }
    pthread_mutex_lock(&rp->lock);
    hand_over(rp);              /* the last chunk, however full */
    rp->done = 1;
    pthread_cond_broadcast(&rp->cond);
    pthread_mutex_unlock(&rp->lock);
    return NULL;
}

/* Append referrer p to the ones the main thread relates after the
 * worker; -1 with an exception set when out of memory. */
static int
defer_push(hs_id **defer, size_t *n, size_t *cap, hs_id p)
{
    hs_id *d = room_for(*defer, cap, *n, sizeof *d, 1024);
    if (d == NULL)
        return -1;
    *defer = d;
    d[(*n)++] = p;
    return 0;
}

/* Name what the worker's full chunks hold (all of them, once it is done,
 * when `all`); the referrers it handed back go to *defer.  0, or -1 with an
 * exception set. */
static int
drain_chunks(relpar *rp, int all, hs_id **defer, size_t *ndefer,
             size_t *defer_cap)
{
    via_ctx *v = rp->v;
    for (;;) {
        pthread_mutex_lock(&rp->lock);
        while (all && rp->ready == NULL && !rp->done)
            pthread_cond_wait(&rp->cond, &rp->lock);
        chunk *c = rp->ready;
        if (c != NULL) {
            rp->ready = c->next;
            if (rp->ready == NULL)
                rp->ready_tail = NULL;
        }
        pthread_mutex_unlock(&rp->lock);
        if (c == NULL)
            return 0;
        int err = 0;
        for (size_t i = 0; i < c->n && !err; i++) {
            const rec *r = &c->r[i];
            if (r->kind == REC_DEFER) {
                err = defer_push(defer, ndefer, defer_cap,
                                 rp->refs[r->member]);
                continue;
            }
            err = name_now(v, r->member, (int)r->kind, r->val);
        }
        pthread_mutex_lock(&rp->lock);
        c->next = rp->free;
        rp->free = c;
        pthread_cond_broadcast(&rp->cond);
        pthread_mutex_unlock(&rp->lock);
        if (err)
            return -1;
    }
}

static int
tick(const hs_progress *prog, double *last, size_t done, size_t total)
{
    if (now() - *last <= 0.05)
        return 0;
    *last = now();
    if (hs_progress_tick(prog, "byvia", done, total)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
        return -1;
    }
    return 0;
}

/* Relate referrers ids[0..n) on this thread.  0, or -1 with an exception
 * set. */
static int
relate_each(via_ctx *v, const hs_id *ids, size_t n, const hs_progress *prog,
            double *last)
{
    for (size_t k = 0; k < n; k++) {
        if ((k & 1023) == 1023 && tick(prog, last, k, n) < 0)
            return -1;
        if (relate_one(v, ids[k]) < 0)
            return -1;
    }
    return 0;
}

/* Relate every referrer, on one core or two.  0, or -1 with an exception
 * set. */
static int
relate_referrers(via_ctx *v, const hs_id *refs, size_t nrefs,
                 const hs_progress *prog, int threads)
{
    double last = now();
    relpar rp;
    memset(&rp, 0, sizeof rp);
    int started = 0, ret = -1;
    hs_id *defer = NULL;
    size_t ndefer = 0, defer_cap = 0;
    chunk *chunks = NULL;
    if (threads > 1 && nrefs >= PAR_MIN_REFS && nrefs < UINT32_MAX &&
        (chunks = malloc(NCHUNKS * sizeof *chunks)) != NULL &&
        pthread_mutex_init(&rp.lock, NULL) == 0) {
        if (pthread_cond_init(&rp.cond, NULL) != 0) {
            pthread_mutex_destroy(&rp.lock);
        } else {
            rp.v = v;
            rp.refs = refs;
            rp.nrefs = nrefs;
            atomic_init(&rp.next, 0);
            atomic_init(&rp.stop, 0);
            for (size_t i = 0; i < NCHUNKS; i++) {
                chunks[i].next = rp.free;
                rp.free = &chunks[i];
            }
            /* no signal of the program's may land on the worker */
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            pthread_t th;
            started = pthread_create(&th, NULL, worker_main, &rp) == 0;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            if (started) {
                rp.thread_ok = 1;
                rp.thread = th;
            } else {
                pthread_cond_destroy(&rp.cond);
                pthread_mutex_destroy(&rp.lock);
            }
        }
    }
    if (!started) {
        ret = relate_each(v, refs, nrefs, prog, &last);
        goto done;
    }

    for (;;) {
        size_t k = atomic_fetch_add(&rp.next, BLOCK_REFS);
        if (k >= nrefs)
            break;
        size_t end = k + BLOCK_REFS < nrefs ? k + BLOCK_REFS : nrefs;
        for (; k < end; k++) {
            hs_id p = refs[k];
            int d = dict_by_edges(v, p, name_now, v);
            if (d < 0)
                goto done;
            if (d > 0)
                continue;
            if (!plain_holder(v, (PyObject *)v->g->addr[p])) {
                if (defer_push(&defer, &ndefer, &defer_cap, p) < 0)
                    goto done;
            } else if (relate_one(v, p) < 0) {
                goto done;
            }
        }
        if (drain_chunks(&rp, 0, &defer, &ndefer, &defer_cap) < 0 ||
            tick(prog, &last, end, nrefs) < 0)
            goto done;
    }
    if (drain_chunks(&rp, 1, &defer, &ndefer, &defer_cap) < 0)
        goto done;
    /* the worker is done: now the referrers that need the main thread */
    pthread_join(rp.thread, NULL);
    started = 0;
    ret = relate_each(v, defer, ndefer, prog, &last);
done:
    if (started) {              /* gave up: stop the worker, wait for it */
        atomic_store(&rp.stop, 1);
        pthread_mutex_lock(&rp.lock);
        pthread_cond_broadcast(&rp.cond);
        pthread_mutex_unlock(&rp.lock);
        pthread_join(rp.thread, NULL);
    }
    if (rp.thread_ok) {
        pthread_cond_destroy(&rp.cond);
        pthread_mutex_destroy(&rp.lock);
    }
    free(rp.t.tab);
    free(chunks);
    free(defer);
    return ret;
}

int
hs_py_via_classify(const hs_graph *g, const hs_relations *r,
                   const hs_heapdefs *hd, const hs_set *s, uint64_t *keys,
                   PyObject **labels_out, const hs_progress *prog,
                   int threads)
{
    via_ctx v;
    memset(&v, 0, sizeof v);
    v.g = g;
    v.hd = hd;
    v.first = keys;             /* zeroed by the caller, reused below */
    /* (an NyHeapDef for dict would have walked dicts its own way) */
    v.dict_type = hs_heapdefs_find(hd, &PyDict_Type) != NULL
                      ? HS_NO_ID
                      : hs_graph_find(g, (uintptr_t)&PyDict_Type);
    hs_id *refs = NULL;
    uint64_t *isref = NULL;
    uint32_t *renum = NULL, *lrow = NULL;
    uint64_t *rows = NULL;
    hs_rcs_table t = {0};
    PyObject *labels = NULL, *rowinfo = NULL, *starts = NULL, *lkeys = NULL,
             *ncodes = NULL;
    int ret = -1;
    *labels_out = NULL;
    size_t words = ((size_t)g->n + 64) / 64;
    v.inset = calloc(words, sizeof *v.inset);
    v.rank = malloc(words * sizeof *v.rank);
    isref = calloc(words, sizeof *isref);
    if (v.inset == NULL || v.rank == NULL || isref == NULL ||
        cache_init(&v.cache) < 0 || hs_rcs_table_init(&t) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (size_t k = 0; k < s->n; k++)
        v.inset[s->ids[k] >> 6] |= 1ull << (s->ids[k] & 63);
    for (size_t w = 0, total = 0; w < words; w++) {
        v.rank[w] = (uint32_t)total;
        total += popcount64(v.inset[w]);
    }

    /* The distinct referrers of the members, in id order: marked in a
     * bitmap (no sort of every reference), then read out of it. */
    size_t nrefs = 0;
    int by_root = 0;
    for (size_t k = 0; k < s->n; k++) {
        const hs_id *in = hs_rel_in(r, s->ids[k]);
        for (uint32_t j = 0, m = hs_rel_nin(r, s->ids[k]); j < m; j++) {
            hs_id p = in[j];
            if (p == HS_ROOT) {
                by_root = 1;
                continue;
            }
            uint64_t bit = 1ull << (p & 63);
            if ((isref[p >> 6] & bit) || !hs_rel_is_object(g, p) ||
                !(g->flags[p] & HS_F_HELD))
                continue;
            isref[p >> 6] |= bit;
            nrefs++;
        }
    }
    refs = malloc((nrefs + 1) * sizeof *refs);
    if (refs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t w = 0, n = 0; w < words; w++)
        for (uint64_t b = isref[w]; b != 0; b &= b - 1)
            refs[n++] = (hs_id)(w * 64 + (size_t)__builtin_ctzll(b));
    free(isref);
    isref = NULL;

    /* Each referrer once: every reference it holds to a member. */
    if (relate_referrers(&v, refs, nrefs, prog, threads) < 0)
        goto done;
    if (by_root && root_names(&v) < 0)
        goto done;

    /* Per member: its distinct names, and the row of members named so.
     * A row is one name (most: a member of one name, found by that name
     * through `renum`), no name, or a list of names interned in t (the
     * others' names are `more`, sorted by member and name).  Rows are
     * numbered as met in member order, whichever core named what. */
    size_t nnames = (size_t)PyList_GET_SIZE(v.cache.names);
    size_t maxrows = nnames + 1 + v.nmore, nrows = 0, nlists = 0;
    renum = malloc((nnames + 1) * sizeof *renum);
    rows = malloc((maxrows + 1) * sizeof *rows);
    lrow = malloc((v.nmore + 1) * sizeof *lrow);
    uint64_t *buf = malloc((v.nmore + 2) * sizeof *buf);
    if (renum == NULL || rows == NULL || lrow == NULL || buf == NULL ||
        hs_sort_u64(v.more, v.nmore) < 0) {
        free(buf);
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < nnames; i++)
        renum[i] = UINT32_MAX;
    uint32_t none = UINT32_MAX;
    for (size_t k = 0, e = 0; k < s->n; k++) {
        uint64_t f = keys[k];
        uint32_t row;
        if (f == 0) {
            if (none == UINT32_MAX) {
                none = (uint32_t)nrows;
                rows[nrows++] = ROW_NONE;
            }
            row = none;
        } else if (!(f & MORE)) {
            uint64_t name = f - 1;
            if (renum[name] == UINT32_MAX) {
                renum[name] = (uint32_t)nrows;
                rows[nrows++] = name;
            }
            row = renum[name];
        } else {
            size_t nl = 0;
            buf[nl++] = (f & ~MORE) - 1;
            for (; e < v.nmore && (v.more[e] >> 32) == k; e++)
                buf[nl++] = (uint32_t)v.more[e];
            for (size_t i = 1; i < nl; i++) {           /* insertion */
                uint64_t x = buf[i];
                size_t j = i;
                for (; j > 0 && buf[j - 1] > x; j--)
                    buf[j] = buf[j - 1];
                buf[j] = x;
            }
            size_t w = 0;
            for (size_t i = 0; i < nl; i++)
                if (w == 0 || buf[w - 1] != buf[i])
                    buf[w++] = buf[i];
            if (w == 1) {       /* one name after all, met more than once */
                uint64_t name = buf[0];
                if (renum[name] == UINT32_MAX) {
                    renum[name] = (uint32_t)nrows;
                    rows[nrows++] = name;
                }
                row = renum[name];
            } else {
                long long lid = hs_rcs_intern(&t, buf, w);
                if (lid < 0) {
                    free(buf);
                    PyErr_NoMemory();
                    goto done;
                }
                if ((size_t)lid == nlists) {            /* a new list */
                    lrow[nlists++] = (uint32_t)nrows;
                    rows[nrows++] = ROW_LIST | (uint64_t)lid;
                }
                row = lrow[lid];
            }
        }
        keys[k] = row;
    }
    free(buf);

    /* Labels are made when a row is shown (heapscope._api._ViaNames):
     * row r is rows[r]: a name's index, ROW_NONE, or ROW_LIST | a list id,
     * list id's names being names[keys[starts[id]] .. keys[starts[id+1]-1]];
     * a None among the names is made from its code.  A row of half a
     * million members named ".keys()[n]" would otherwise make half a
     * million strings and tuples for a table of ten. */
    rowinfo = PyBytes_FromStringAndSize((const char *)rows,
                                        (Py_ssize_t)(nrows * 8));
    starts = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((t.n + 1) * 8));
    lkeys = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((t.nkeys + 1) * 8));
    ncodes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((nnames + 1) * 8));
    if (rowinfo == NULL || starts == NULL || lkeys == NULL || ncodes == NULL)
        goto done;
    uint64_t *st = (uint64_t *)PyBytes_AS_STRING(starts);
    for (size_t id = 0; id <= t.n; id++)
        st[id] = t.start[id];
    uint64_t *ks = (uint64_t *)PyBytes_AS_STRING(lkeys);
    if (t.nkeys > 0)
        memcpy(ks, t.key, t.nkeys * sizeof *ks);
    ks[t.nkeys] = 0;
    uint64_t *nc = (uint64_t *)PyBytes_AS_STRING(ncodes);
    if (nnames > 0)
        memcpy(nc, v.cache.code, nnames * sizeof *nc);
    nc[nnames] = 0;
    if ((labels = PyTuple_Pack(5, rowinfo, starts, lkeys, v.cache.names,
                               ncodes)) == NULL)
        goto done;
    *labels_out = labels;
    labels = NULL;
    ret = 0;
done:
    Py_XDECREF(labels);
    Py_XDECREF(rowinfo);
    Py_XDECREF(starts);
    Py_XDECREF(lkeys);
    Py_XDECREF(ncodes);
    free(renum);
    free(rows);
    free(lrow);
    free(refs);
    free(isref);
    free(v.more);
    free(v.t.tab);
    free(v.inset);
    free(v.rank);
    cache_free(&v.cache);
    hs_rcs_table_free(&t);
    return ret;
}
