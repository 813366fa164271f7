/* via.c - group a set's objects by how their referrers refer to them
 * (heapy's byvia): "['key']", ".attr", "[3]", ".keys()[3]"...
 *
 * Each distinct referrer of the set is enumerated once
 * (hs_py_relate_all), and every reference it holds to a member names that
 * member; a million-item list holding a million members costs one pass.
 * It runs in three steps:
 *  - relating: every reference to a member finds its way of referring
 *    (kind and key) in a table of ways, C only, so that it can run on two
 *    cores; the member keeps the way's number;
 *  - naming: each distinct way becomes a name once, on the main thread, so
 *    a set of a million dict values under one key makes one string; the
 *    names that are a kind and a number or a dict's str key, and every
 *    row's label, are made only when a row is shown;
 *  - numbering: each member's row (its name, or its list of names), the
 *    rows numbered as met in member order, a big set's on two cores.
 * No user code runs: keys are named by a safe repr.
 */
#include "hs_py.h"
#include "heapscope/relations.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- ways of referring: (kind, key) -> a way's number --------------------
 *
 * One table per thread, in C, looked up once per reference; a way is found
 * where its kind says:
 *  - a kind and a number (".keys()[3]", "[3]"): in an array by the number,
 *    one per kind (`numbered`), as long as it stays within a few words per
 *    way; a bigger number goes to `slot` instead;
 *  - an exact str key ("['key']", ".key"): by the key's text (`keyed`): a
 *    million dicts with keys of their own have a million key objects and a
 *    handful of texts.  In front of it, `front` remembers the key objects
 *    last seen at each of FRONT_SLOTS places, so that a key shared by many
 *    holders (an attribute name, a literal dict key) is found without
 *    reading its text;
 *  - anything else (a field, a key of another type): by kind and identity,
 *    in `slot`.
 * Keys are borrowed: the snapshot, or a referrer it holds, keeps them alive
 * while the table lives, and no Python code runs meanwhile.  Nothing here
 * calls the C API beyond reading objects, so a worker thread may look up. */

typedef struct {
    uint64_t kind, key;
    uint32_t way;
    int used;
} name_slot;

#define FRONT_SLOTS 4096

typedef struct {
    uint64_t key;            /* the key's address; 0: empty */
    uint32_t kind, way;
} front_slot;

typedef struct {
    PyObject *key;           /* NULL: empty */
    uint64_t hash;           /* text_hash of its text and kind */
    uint32_t kind, way;
} keyed_slot;

/* What a way is: a kind and a value (an index, a field's name or a key's
 * address, by kind: rel_val). */
typedef struct {
    uint64_t val;
    uint32_t kind;
} way_def;

#define NUMBERED_KINDS 7   /* the stack's: one per frame it is in */
#define NUMBERED_MIN (1u << 16)  /* numbers always kept in an array */
#define WAYS_MAX ((1u << 30) - 1) /* a table's ways (see the tags below) */

typedef struct {
    name_slot *slot;
    size_t mask, used;
    keyed_slot *keyed;
    size_t kmask, kused;
    uint32_t *numbered[NUMBERED_KINDS];  /* number -> way + 1 (0: none) */
    size_t ncap[NUMBERED_KINDS];
    int spilled[NUMBERED_KINDS];         /* some of the kind are in slot */
    front_slot *front;
    way_def *def;            /* way -> what it is */
    size_t n, cap;
} way_table;

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

/* These kinds: which of a way table's numbered arrays holds them; -1 for a
 * kind that is not a number.  A stack entry's kind says whose frame it is
 * in (HS_RN_WHERE): ".gi_frame->f_valuestack[0]" is another way than
 * "->f_valuestack[0]". */
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
    default:
        if (HS_RN_BASE(kind) == HS_RN_STACK)
            return 3 + (HS_RN_WHERE(kind) >> 4);
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

/* A way of referring as two numbers, kind and val (an index, a field's
 * name or a key's address, by kind); and back. */
static uint64_t
rel_val(const hs_relname *n)
{
    switch (HS_RN_BASE(n->kind)) {
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
    switch (HS_RN_BASE(kind)) {
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

static int
ways_init(way_table *t)
{
    memset(t, 0, sizeof *t);
    t->mask = 255;
    t->kmask = 255;
    t->slot = calloc(t->mask + 1, sizeof *t->slot);
    t->keyed = calloc(t->kmask + 1, sizeof *t->keyed);
    t->front = calloc(FRONT_SLOTS, sizeof *t->front);
    return t->slot == NULL || t->keyed == NULL || t->front == NULL ? -1 : 0;
}

static void
ways_free(way_table *t)
{
    free(t->slot);
    free(t->keyed);
    for (int k = 0; k < NUMBERED_KINDS; k++)
        free(t->numbered[k]);
    free(t->front);
    free(t->def);
    memset(t, 0, sizeof *t);
}

/* The slot table rebuilt with nmask + 1 slots (a power of two that holds
 * what it has at most half full).  0, or -1 when out of room. */
static int
slot_resize(way_table *t, size_t nmask)
{
    name_slot *ns = hs_table_alloc(nmask + 1, sizeof *ns);
    if (ns == NULL)
        return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        name_slot *o = &t->slot[i];
        if (!o->used)
            continue;
        size_t j = mix(o->kind, o->key) & nmask;
        while (ns[j].used)
            j = (j + 1) & nmask;
        ns[j] = *o;
    }
    free(t->slot);
    t->slot = ns;
    t->mask = nmask;
    return 0;
}

/* The keyed table rebuilt with nmask + 1 slots, as slot_resize. */
static int
keyed_resize(way_table *t, size_t nmask)
{
    keyed_slot *ks = hs_table_alloc(nmask + 1, sizeof *ks);
    if (ks == NULL)
        return -1;
    for (size_t i = 0; i <= t->kmask; i++) {
        keyed_slot *o = &t->keyed[i];
        if (o->key == NULL)
            continue;
        size_t j = o->hash & nmask;
        while (ks[j].key != NULL)
            j = (j + 1) & nmask;
        ks[j] = *o;
    }
    free(t->keyed);
    t->keyed = ks;
    t->kmask = nmask;
    return 0;
}

/* A table's mask for n entries at most half full, at least `mask`. */
static size_t
mask_for(size_t mask, size_t n)
{
    while (n * 2 > mask)
        mask = mask * 2 + 1;
    return mask;
}

/* Room in t for `ways` more ways, `slots` more entries of the slot table
 * and `keyed` more of the keyed one, each table rebuilt once: merging half
 * a million keyed ways into a table of few would otherwise rebuild its
 * keyed table at every doubling (each a fresh, zeroed table of tens of
 * megabytes).  0, or -1. */
static int
ways_reserve(way_table *t, size_t ways, size_t slots, size_t keyed)
{
    size_t m = mask_for(t->mask, t->used + slots + 1);
    size_t k = mask_for(t->kmask, t->kused + keyed + 1);
    if ((m != t->mask && slot_resize(t, m) < 0) ||
        (k != t->kmask && keyed_resize(t, k) < 0))
        return -1;
    if (t->n + ways > t->cap) {
        way_def *d = realloc(t->def, (t->n + ways) * sizeof *d);
        if (d == NULL)
            return -1;
        t->def = d;
        t->cap = t->n + ways;
    }
    return 0;
}

/* The array a of *cap items of `elem` bytes, with room for item n: a
 * itself, or a copy twice as big (`first` items at first); NULL, a as it
 * was, when out of memory.  Sets no exception: the worker grows its arrays
 * with it too. */
static void *
room_for(void *a, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return a;
    size_t c = *cap ? *cap * 2 : first;
    void *b = realloc(a, c * elem);
    if (b == NULL)
        return NULL;
    *cap = c;
    return b;
}

/* Where t's front remembers key `key` of kind `kind` (a key's address). */
static inline front_slot *
front_of(const way_table *t, uint32_t kind, uint64_t key)
{
    return &t->front[mix(kind, key) & (FRONT_SLOTS - 1)];
}

/* A new way: its number, or -1 when out of room. */
static long
add_way(way_table *t, const hs_relname *n)
{
    if (t->n >= WAYS_MAX)
        return -1;
    way_def *d = room_for(t->def, &t->cap, t->n, sizeof *d, 1024);
    if (d == NULL)
        return -1;
    t->def = d;
    t->def[t->n] = (way_def){rel_val(n), (uint32_t)n->kind};
    return (long)t->n++;
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

/* The way of n, "['key']" or ".key" with an exact str key whose text is
 * ready, found by the key's text, else added; -1 when out of room. */
static long
way_by_text(way_table *t, const hs_relname *n, const void *data,
            size_t bytes, int ukind)
{
    uint64_t h = text_hash(data, bytes, ukind, n->kind);
    size_t i = h & t->kmask;
    for (; t->keyed[i].key != NULL; i = (i + 1) & t->kmask) {
        const keyed_slot *e = &t->keyed[i];
        if (e->hash != h || e->kind != (uint32_t)n->kind)
            continue;
        if (e->key == n->key ||
            ((int)PyUnicode_KIND(e->key) == ukind &&
             (size_t)PyUnicode_GET_LENGTH(e->key) * (size_t)ukind == bytes &&
             memcmp(PyUnicode_DATA(e->key), data, bytes) == 0))
            return e->way;
    }
    long w = add_way(t, n);
    if (w < 0)
        return -1;
    t->keyed[i] = (keyed_slot){n->key, h, (uint32_t)n->kind, (uint32_t)w};
    if (++t->kused * 2 > t->kmask && keyed_resize(t, t->kmask * 2 + 1) < 0)
        return -1;
    return w;
}

/* Where the numbered way `number` of array k goes: its entry, the array
 * grown to hold it if that keeps the array within a few words per way (a
 * list of ten million holding one member at its end makes one way, not an
 * array of ten million); NULL if it does not go there. */
static uint32_t *
numbered_entry(way_table *t, int k, Py_ssize_t number)
{
    if (number < 0 || (uint64_t)number >= KEY_NAME)
        return NULL;
    size_t i = (size_t)number;
    if (i < t->ncap[k])
        return &t->numbered[k][i];
    if (i >= NUMBERED_MIN && i / 4 >= t->n)
        return NULL;
    size_t cap = t->ncap[k] ? t->ncap[k] : 1024;
    while (cap <= i)
        cap *= 2;
    uint32_t *a = realloc(t->numbered[k], cap * sizeof *a);
    if (a == NULL)
        return NULL;            /* (then in the slot table) */
    memset(a + t->ncap[k], 0, (cap - t->ncap[k]) * sizeof *a);
    t->numbered[k] = a;
    t->ncap[k] = cap;
    return &a[i];
}

/* The number of n's way of referring, added if new; -1 when out of room.
 * n is not HS_RN_TEXT (a name made by whoever reported it, named at
 * once). */
static long
way_of(way_table *t, const hs_relname *n)
{
    uint32_t *e = NULL;
    int k = numbered_of(n->kind);
    if (k >= 0 && (e = numbered_entry(t, k, n->index)) != NULL) {
        if (*e != 0)
            return (long)*e - 1;
        if (!t->spilled[k]) {
            long w = add_way(t, n);
            if (w >= 0)
                *e = (uint32_t)w + 1;
            return w;
        }
        /* numbers of this kind went to the slot table before the array
         * reached them: this one may be there */
    }
    uint64_t key = rel_val(n);
    if ((n->kind == HS_RN_INDEXVAL || n->kind == HS_RN_ATTR) && key != 0) {
        front_slot *f = front_of(t, (uint32_t)n->kind, key);
        if (f->key == key && f->kind == (uint32_t)n->kind)
            return f->way;
        const void *data;
        size_t bytes;
        int ukind;
        if (PyUnicode_CheckExact(n->key) &&
            str_text(n->key, &data, &bytes, &ukind)) {
            long w = way_by_text(t, n, data, bytes, ukind);
            if (w >= 0) {
                f->key = key;
                f->kind = (uint32_t)n->kind;
                f->way = (uint32_t)w;
            }
            return w;
        }
    }
    size_t i = mix((uint64_t)n->kind, key) & t->mask;
    for (; t->slot[i].used; i = (i + 1) & t->mask)
        if (t->slot[i].kind == (uint64_t)n->kind && t->slot[i].key == key) {
            if (e != NULL)
                *e = t->slot[i].way + 1;
            return t->slot[i].way;
        }
    long w = add_way(t, n);
    if (w < 0)
        return -1;
    if (e != NULL) {            /* an array's after all */
        *e = (uint32_t)w + 1;
        return w;
    }
    if (k >= 0)
        t->spilled[k] = 1;
    t->slot[i] = (name_slot){(uint64_t)n->kind, key, (uint32_t)w, 1};
    if (++t->used * 2 > t->mask && slot_resize(t, t->mask * 2 + 1) < 0)
        return -1;
    return w;
}

/* ---- names: made on the main thread --------------------------------------
 *
 * The names of the ways, one per text: members named alike share a row
 * however they came by the name (a key "e0" of each of a million dicts, a
 * member ".key" of two classes, d[3] and l[3]). */

typedef struct name_list {
    PyObject *names;         /* index -> str, or None or a key until made */
    PyObject *texts;         /* every name made, by value: text -> index */
    uint64_t *code;          /* index -> its code when made lazily, else 0 */
    size_t code_cap;         /* (as many in use as names has items) */
} name_list;

static int
names_init(name_list *c)
{
    memset(c, 0, sizeof *c);
    c->names = PyList_New(0);
    c->texts = PyDict_New();
    return c->names == NULL || c->texts == NULL ? -1 : 0;
}

static void
names_free(name_list *c)
{
    free(c->code);
    c->code = NULL;
    Py_CLEAR(c->names);
    Py_CLEAR(c->texts);
}

/* Append a new name (None or a key, and its code, when made lazily); its
 * index, or -1 with an exception set. */
static long
add_name_code(name_list *c, PyObject *name, uint64_t code)
{
    Py_ssize_t i = PyList_GET_SIZE(c->names);
    if (i >= (Py_ssize_t)WAYS_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many distinct names");
        return -1;
    }
    uint64_t *codes = room_for(c->code, &c->code_cap, (size_t)i,
                               sizeof *codes, 256);
    if (codes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->code = codes;
    if (PyList_Append(c->names, name) < 0)
        return -1;
    c->code[i] = code;
    return (long)i;
}

/* The index of name (a str) among the names, added if its text is new.
 * -1 with an exception set. */
static long
intern_text(name_list *c, PyObject *name)
{
    PyObject *have = PyDict_GetItemWithError(c->texts, name);
    if (have != NULL)
        return PyLong_AsLong(have);
    if (PyErr_Occurred())
        return -1;
    long i = add_name_code(c, name, 0);
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
made_name(name_list *c, const hs_relname *n)
{
    PyObject *name = hs_py_relname(n);
    if (name == NULL)
        return -1;
    long i = intern_text(c, name);
    Py_DECREF(name);
    return i;
}

/* ---- the members' ways ----------------------------------------------------
 *
 * A member's first way is kept in place, its others aside in pairs: most
 * members have one.  What a member keeps is 32 bits: a tag and a number,
 * the number of a way in the main thread's table or the worker's, or of a
 * name made at once (a name that is text only, HS_RN_TEXT); plus one, 0
 * being none (numbers stay below WAYS_MAX, so that never carries into the
 * tag).  Both threads may name one member, so the first is set by
 * compare-and-swap, and a member with others is marked in a bitmap. */
#define TAG_MAIN 0u
#define TAG_WORKER (1u << 30)
#define TAG_NAME (2u << 30)
#define TAG_MASK (3u << 30)
#define ROW_NONE (1ull << 63)      /* a row of members with no name */
#define ROW_LIST (1ull << 62)      /* a row named by a list of names */

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

/* The set and the snapshot, shared by the threads (read only, but for
 * `first` and `multi`, which they set member by member). */
typedef struct {
    const hs_graph *g;
    const hs_heapdefs *hd;
    uint64_t *inset;        /* bitmap of the set's node ids */
    uint32_t *rank;         /* members in the words before each word */
    uint32_t *first;        /* per member: its first way + 1 (0: none) */
    uint64_t *multi;        /* bitmap of the members with others */
    hs_id dict_type;        /* the node of dict, when its edges are entries */
    hs_id tuple_type;       /* the node of tuple, when its edges are items */
} via_ctx;

#define RECENT_BITS 10
#define RECENT_SLOTS (1u << RECENT_BITS)

/* What one thread relates with: its ways, and the members' other ways. */
typedef struct {
    const via_ctx *v;
    way_table ways;
    uint32_t tag;
    target_table t;
    uint64_t *more;         /* member index << 32 | tagged way */
    size_t nmore, cap;
    PyObject *kept;         /* the main thread's: keys that were temporaries */
    struct name_list *names;/* the main thread's: for HS_RN_TEXT */
    int err;                /* out of room (the worker sets no exception) */
    /* the main thread's: the progress callback, called inside a big
     * holder too (holder_tick); the worker's is NULL, and it watches
     * `stop` instead */
    const hs_progress *prog;
    double *last;
    size_t done, total;     /* referrers related, of all */
    uint32_t visits;
    atomic_int *stop;
    /* the (member, way) pairs last added to `more`, + 1 (0: empty), by a
     * hash of the pair: a key shared by half a million dicts and first
     * met in a code object's constants would add half a million pairs */
    uint64_t recent[RECENT_SLOTS];
} namer;

static int tick(const hs_progress *prog, double *last, size_t done,
                size_t total);

/* Called for each reference a holder gives, on either thread: every
 * HOLDER_TICK of them the main thread calls the progress callback and the
 * worker looks whether it is told to stop (the bench heap's list of half
 * a million packages is 50 ms and more).  0, or -1 when cancelled (on the
 * main thread, the exception set). */
#define HOLDER_TICK 0x3FFFu

static inline int
holder_tick(namer *m)
{
    if ((++m->visits & HOLDER_TICK) != 0)
        return 0;
    if (m->prog != NULL)
        return tick(m->prog, m->last, m->done, m->total);
    return m->stop != NULL &&
                   atomic_load_explicit(m->stop, memory_order_relaxed)
               ? -1
               : 0;
}

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

/* Bits that hold every number below n. */
static unsigned
bits_for(size_t n)
{
    unsigned b = 0;
    while (b < 64 && ((size_t)1 << b) < n)
        b++;
    return b;
}

/* The index in the set of member id: members before it. */
static inline uint32_t
member_of(const via_ctx *v, hs_id id)
{
    uint64_t below = v->inset[id >> 6] & ((1ull << (id & 63)) - 1);
    return v->rank[id >> 6] + popcount64(below);
}

/* Member `member` is referred to by tagged way `way`.  0, or -1 when out
 * of room.  A member's first way is read before it is swapped in: a
 * member met again and again (the bench heap's eleven field names, keys
 * of half a million dicts) keeps its cache line shared by both cores,
 * where a compare-and-swap each time would take the line from the other
 * core (that traffic was 40% of relating a big row on two cores). */
static int
add_way_of(namer *m, uint32_t member, uint32_t way)
{
    uint32_t *f = &m->v->first[member], nm = way + 1;
    uint32_t cur = __atomic_load_n(f, __ATOMIC_RELAXED);
    if (cur == 0 && __atomic_compare_exchange_n(f, &cur, nm, 0,
                                                __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED))
        return 0;
    if (cur == nm)
        return 0;               /* the first way again */
    uint64_t pair = ((uint64_t)member << 32) | way;
    uint64_t *seen = &m->recent[(pair * 0x9E3779B97F4A7C15ull) >>
                                (64 - RECENT_BITS)];
    if (*seen == pair + 1)
        return 0;               /* another way, added just before */
    *seen = pair + 1;
    uint64_t *more = room_for(m->more, &m->cap, m->nmore, sizeof *more, 4096);
    if (more == NULL)
        return m->err = -1;
    m->more = more;
    m->more[m->nmore++] = pair;
    uint64_t *w = &m->v->multi[member >> 6], bit = 1ull << (member & 63);
    if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
    return 0;
}

/* Member `member` is referred to as n says.  0, or -1 when out of room. */
static int
refer(namer *m, uint32_t member, const hs_relname *n)
{
    long w = way_of(&m->ways, n);
    if (w < 0)
        return m->err = -1;
    return add_way_of(m, member, m->tag | (uint32_t)w);
}

/* A member's first way is set by a locked compare-and-swap, which waits
 * for its cache line where a store would not: the first ways of the
 * members a referrer holds are fetched for writing ahead of it, those of
 * its first FIRSTS_AHEAD edges with its header (RELATE_AHEAD referrers
 * ahead) and those of a big dict's later entries KEY_AHEAD entries ahead
 * (dict_by_edges). */
#define FIRSTS_AHEAD 16

static inline void
prefetch_first(const via_ctx *v, hs_id id)
{
    if (IN_SET(v, id))
        hs_prefetch_w(&v->first[member_of(v, id)]);
}

static void
prefetch_firsts(const via_ctx *v, hs_id q)
{
    const hs_id *e = hs_graph_out(v->g, q);
    uint32_t n = hs_graph_nout(v->g, q);
    for (uint32_t j = 0; j < n && j < FIRSTS_AHEAD; j++)
        prefetch_first(v, e[j]);
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
#define KEPT (HS_F_HELD | HS_F_STATIC | HS_F_IMMORTAL)

#define KEY_AHEAD 8             /* entries ahead whose key is fetched */
#define BIG_DICT 128            /* entries from which keyed slots are too */

/* Fetch the slot of t's keyed table where an exact str key, named
 * "['key']", will be looked up, unless `front` has the key: in a big dict
 * of keys of their own (a cache keyed by name) each is a miss. */
static void
prefetch_keyed(const way_table *t, PyObject *key, int kind)
{
    uint64_t k = (uint64_t)(uintptr_t)key;
    const front_slot *f = front_of(t, (uint32_t)kind, k);
    const void *data;
    size_t bytes;
    int ukind;
    if ((f->key == k && f->kind == (uint32_t)kind) ||
        !PyUnicode_CheckExact(key) || !str_text(key, &data, &bytes, &ukind))
        return;
    uint64_t h = text_hash(data, bytes, ukind, kind);
    hs_prefetch(&t->keyed[h & t->kmask]);
}

/* 1 if p is an exact dict and its entries that are members were referred
 * to; 0 if p must be related otherwise; -1 when out of room. */
static int
dict_by_edges(namer *m, hs_id p)
{
    const via_ctx *v = m->v;
    const hs_graph *g = v->g;
    if (v->dict_type == HS_NO_ID || g->type[p] != v->dict_type)
        return 0;
    const hs_id *e = hs_graph_out(g, p);
    uint32_t nout = hs_graph_nout(g, p);
    if (nout & 1)
        return 0;
    for (uint32_t j = 0; j < nout; j += 2)
        if (IN_SET(v, e[j + 1]) && !(g->flags[e[j]] & KEPT))
            return 0;
    for (uint32_t j = 0; j < nout; j += 2) {
        /* a key not seen lately is read for its text: fetched KEY_AHEAD
         * entries ahead (the first of each dict is, by relate_block) */
        if (j + 2 * KEY_AHEAD < nout) {
            const char *o = (const char *)g->addr[e[j + 2 * KEY_AHEAD]];
            hs_prefetch(o);
            hs_prefetch(o + 64);
        }
        if (j + 2 * KEY_AHEAD + 1 < nout && j + 2 * KEY_AHEAD >= FIRSTS_AHEAD) {
            prefetch_first(v, e[j + 2 * KEY_AHEAD]);
            prefetch_first(v, e[j + 2 * KEY_AHEAD + 1]);
        }
        if (nout >= 2 * BIG_DICT && j + KEY_AHEAD < nout &&
            IN_SET(v, e[j + KEY_AHEAD + 1]))
            prefetch_keyed(&m->ways, (PyObject *)g->addr[e[j + KEY_AHEAD]],
                           HS_RN_INDEXVAL);
        if (holder_tick(m) < 0)
            return -1;
        if (IN_SET(v, e[j + 1])) {
            hs_relname n = {HS_RN_INDEXVAL, NULL, (PyObject *)g->addr[e[j]],
                            0};
            if (refer(m, member_of(v, e[j + 1]), &n) < 0)
                return -1;
        }
        if (IN_SET(v, e[j])) {
            hs_relname n = {HS_RN_INDEXKEY, NULL, NULL, (Py_ssize_t)(j / 2)};
            if (refer(m, member_of(v, e[j]), &n) < 0)
                return -1;
        }
    }
    return 1;
}

/* Exact tuples are named from their edges too.  A tuple's tp_traverse
 * reports all its items but a NULL (in a tuple still being filled), in
 * one order: last first in 3.9-3.13, found out at import.  So when its
 * edges are as many as its size says it has items, each edge is an item,
 * "[j]", and the tuple is never read: a fifth of the referrers of the
 * bench heap's largest row are tuples. */
static int
order_visit(PyObject *o, void *arg)
{
    PyObject **seen = arg;
    if (seen[0] == NULL)
        seen[0] = o;
    else if (seen[1] == NULL)
        seen[1] = o;
    return 0;
}

/* 1 if tp_traverse reports a tuple's items last first, 0 if first first,
 * -1 if neither or not known (then tuples are read). */
static int tuple_last_first = -1;

void
hs_py_via_init(void)
{
    PyObject *seen[2] = {NULL, NULL};
    PyObject *t = PyTuple_Pack(2, Py_None, Py_True);
    if (t == NULL) {
        PyErr_Clear();
        return;
    }
    PyTuple_Type.tp_traverse(t, order_visit, seen);
    Py_DECREF(t);
    tuple_last_first = seen[0] == Py_True && seen[1] == Py_None   ? 1
                       : seen[0] == Py_None && seen[1] == Py_True ? 0
                                                                  : -1;
}

/* As dict_by_edges, for an exact tuple. */
static int
tuple_by_edges(namer *m, hs_id p)
{
    const via_ctx *v = m->v;
    const hs_graph *g = v->g;
    if (v->tuple_type == HS_NO_ID || g->type[p] != v->tuple_type)
        return 0;
    uint32_t nout = hs_graph_nout(g, p);
    if (hs_graph_size(g, p) != hs_py_tuple_size(nout))
        return 0;
    const hs_id *e = hs_graph_out(g, p);
    for (uint32_t j = 0; j < nout; j++) {
        if (j + FIRSTS_AHEAD < nout)
            prefetch_first(v, e[j + FIRSTS_AHEAD]);
        if (holder_tick(m) < 0)
            return -1;
        if (IN_SET(v, e[j])) {
            uint32_t item = tuple_last_first ? nout - 1 - j : j;
            hs_relname n = {HS_RN_ITEM, NULL, NULL, (Py_ssize_t)item};
            if (refer(m, member_of(v, e[j]), &n) < 0)
                return -1;
        }
    }
    return 1;
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

/* hs_py_relate_all's visitor for a plain holder, on either thread. */
static int
visit_plain(PyObject *dst, const hs_relname *n, void *arg)
{
    namer *m = arg;
    if (holder_tick(m) < 0) {
        m->err = -1;
        return 1;
    }
    hs_id id = find_target(&m->t, (uintptr_t)dst);
    if (id == HS_NO_ID)
        return 0;               /* not a member */
    return refer(m, member_of(m->v, id), n) < 0;
}

/* May the worker relate o?  Relate reads nothing but o's own fields and
 * what they point to, except for an NyHeapDef's relate (an extension's
 * code, which reports keys it makes and drops) and a static type's dict
 * on 3.12+ (kept by the interpreter, found through the calling thread's
 * state, which the worker has not). */
static int
plain_holder(const via_ctx *v, PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    return hs_heapdefs_find(v->hd, tp) == NULL && !PyType_Check(o);
}

/* Every reference p holds to one of its targets that are members, through
 * visit: 0, or -1 (out of room, or an exception set by visit). */
static int
relate_targets(namer *m, hs_id p, hs_relvisit visit)
{
    size_t nt;
    if (load_targets(m->v, &m->t, p, &nt) < 0)
        return m->err = -1;
    if (nt == 0)
        return 0;
    hs_py_relate_all((PyObject *)m->v->g->addr[p], m->v->hd, visit, m);
    return m->err;
}

/* ---- what the main thread alone relates ------------------------------- */

/* The visitor for a holder only the main thread relates (a type, an
 * NyHeapDef's instance): a key it reports may be a temporary, made for the
 * call and dropped after it, so `kept` holds a reference to it while the
 * ways live; a name that is text only is named at once. */
static int
visit_held(PyObject *dst, const hs_relname *n, void *arg)
{
    namer *m = arg;
    if (holder_tick(m) < 0) {
        m->err = -1;
        return 1;
    }
    hs_id id = find_target(&m->t, (uintptr_t)dst);
    if (id == HS_NO_ID)
        return 0;               /* not a member */
    uint32_t member = member_of(m->v, id);
    if (n->kind == HS_RN_TEXT) {
        long name;
        if (n->key == NULL || !PyUnicode_Check(n->key)) {
            PyErr_SetString(PyExc_TypeError, "a relation name is no str");
            name = -1;
        } else {
            name = intern_text(m->names, n->key);
        }
        if (name < 0) {
            m->err = -1;
            return 1;
        }
        return add_way_of(m, member, TAG_NAME | (uint32_t)name) < 0;
    }
    if (numbered_of(n->kind) < 0 && n->kind != HS_RN_FIELD &&
        n->kind != HS_RN_MEMBER && n->key != NULL &&
        PyList_Append(m->kept, n->key) < 0) {
        m->err = -1;
        return 1;
    }
    return refer(m, member, n) < 0;
}

/* Every reference holder p holds to a member, on the main thread.  0, or
 * -1 (with an exception set, or out of room). */
static int
relate_held(namer *m, hs_id p)
{
    return relate_targets(m, p, visit_held);
}

/* How the root holds members: the tail of each root edge's label, so a
 * local of a running frame reads ".f_locals['x']" as it would through a
 * frame object.  0, or -1 with an exception set. */
static int
root_names(namer *m)
{
    const hs_graph *g = m->v->g;
    for (size_t k = 0; k < g->nroot_label; k++) {
        hs_id id = g->edges[k];
        if (!IN_SET(m->v, id))
            continue;
        const char *label = g->root_label[k];
        const char *dot = strchr(label, '.');
        PyObject *text = dot ? PyUnicode_FromString(dot)
                             : PyUnicode_FromFormat(".%s", label);
        if (text == NULL)
            return -1;
        long name = intern_text(m->names, text);
        Py_DECREF(text);
        if (name < 0)
            return -1;
        if (add_way_of(m, member_of(m->v, id), TAG_NAME | (uint32_t)name) < 0) {
            PyErr_NoMemory();
            return -1;
        }
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

/* Seconds between calls of the progress callback: a key typed while
 * byvia works (to cancel it, or one the explorer's work ahead gives way
 * to) waits no longer than this, or than the longest step between two
 * calls below. */
#define TICK_EVERY 0.02

static int
tick(const hs_progress *prog, double *last, size_t done, size_t total)
{
    double t;
    if (prog == NULL || (t = now()) - *last <= TICK_EVERY)
        return 0;
    *last = t;
    if (hs_progress_tick(prog, "byvia", done, total)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
        return -1;
    }
    return 0;
}

/* The same between two steps, however soon after the last call: the
 * steps are short, but a few together are not. */
static int
step_tick(const hs_progress *prog, double *last, size_t done, size_t total)
{
    *last = 0;
    return tick(prog, last, done, total);
}

/* ---- relating on two cores ---------------------------------------------
 *
 * Reading a million referrers is a cache miss or more each, so a worker
 * thread relates blocks of them while the main thread relates others, each
 * into its own table of ways: nothing of the worker's calls into the
 * interpreter or makes an object.  The holders only the main thread may
 * relate (plain_holder) both hand to it, for after the worker is done.
 * Nothing changes the objects meanwhile: the main thread holds the
 * interpreter's lock throughout and runs no Python code, so no other
 * thread runs any either. */
#define BLOCK_REFS 2048             /* referrers taken at a time */
#define RELATE_AHEAD 16             /* referrers ahead whose header is fetched */
#define PAR_MIN_REFS 32768          /* fewer referrers: one thread */

typedef struct {
    namer w;                /* the worker's */
    const hs_id *refs;
    size_t nrefs;
    atomic_size_t next;     /* the next block's first referrer */
    atomic_int stop;        /* the main thread gives up (error, cancel) */
    atomic_int finished;    /* the worker is done */
    hs_id *defer;           /* the worker's referrers for the main thread */
    size_t ndefer, dcap;
} relpar;

/* The referrers of the members that can be related (objects the snapshot
 * holds), marked in a bitmap by id; whether the root is one.  With the
 * relations built, from the reverse edges of members lo .. hi-1
 * (mark_referrers); without them, from the forward edges of nodes lo ..
 * hi-1 (mark_holders), so that a byvia never waits for the relations. */
typedef struct {
    const hs_graph *g;
    const hs_relations *r;
    const hs_id *ids;
    const uint64_t *inset;
    size_t lo, hi;
    uint64_t *isref;
    int by_root;
} ref_marks;

#define PAR_MIN_MEMBERS (1u << 18)  /* fewer members: marked on one thread */
#define PAR_MIN_NODES (1u << 18)    /* fewer nodes: scanned on one thread */

static void *
mark_referrers(void *arg)
{
    ref_marks *h = arg;
    const hs_graph *g = h->g;
    uint64_t *isref = h->isref;
    for (size_t k = h->lo; k < h->hi; k++) {
        const hs_id *in = hs_rel_in(h->r, h->ids[k]);
        for (uint32_t j = 0, m = hs_rel_nin(h->r, h->ids[k]); j < m; j++) {
            hs_id p = in[j];
            if (p == HS_ROOT) {
                h->by_root = 1;
                continue;
            }
            uint64_t bit = 1ull << (p & 63);
            if ((isref[p >> 6] & bit) || !hs_rel_is_object(g, p) ||
                !(g->flags[p] & HS_F_HELD))
                continue;
            isref[p >> 6] |= bit;
        }
    }
    return NULL;
}

/* Every edge read once, in order, against the members' bitmap (an eighth
 * of a byte per node: in cache on a heap of millions): building the
 * reverse edges writes each at random, twice.  A range that starts on a
 * multiple of 64 writes words of isref no other range writes. */
static void *
mark_holders(void *arg)
{
    ref_marks *h = arg;
    const hs_graph *g = h->g;
    const uint64_t *inset = h->inset;
    uint64_t *isref = h->isref;
    for (size_t p = h->lo; p < h->hi; p++) {
        int root = p == HS_ROOT;
        if (!root && (!hs_rel_is_object(g, (hs_id)p) ||
                      !(g->flags[p] & HS_F_HELD)))
            continue;
        const hs_id *e = hs_graph_out(g, (hs_id)p);
        uint32_t j = 0, m = hs_graph_nout(g, (hs_id)p);
        while (j < m && !(inset[e[j] >> 6] & (1ull << (e[j] & 63))))
            j++;
        if (j == m)
            continue;
        if (root)
            h->by_root = 1;
        else
            isref[p >> 6] |= 1ull << (p & 63);
    }
    return NULL;
}

/* Append p to a list of referrers; -1 when out of room. */
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

/* Relate referrers refs[k..end) on this thread's namer; those only the
 * main thread may relate go to *defer.  0, or -1 when out of room. */
static int
relate_block(namer *m, const hs_id *refs, size_t k, size_t end,
             hs_id **defer, size_t *ndefer, size_t *dcap)
{
    const hs_graph *g = m->v->g;
    for (; k < end; k++) {
        hs_id p = refs[k];
        /* what relating a referrer reads first is its header (and, on
         * 3.11+, the pointers before it), or for a dict named by its edges
         * its first key (a key's text is read when its address was not
         * seen lately): a cache miss each, in id order as scattered as the
         * heap, so fetched RELATE_AHEAD ahead */
        if (k + RELATE_AHEAD < end) {
            hs_id q = refs[k + RELATE_AHEAD];
            const char *o = NULL;
            if (g->type[q] == m->v->tuple_type) {
                /* (named from its edges: see tuple_by_edges) */
            } else if (g->type[q] != m->v->dict_type) {
                o = (const char *)g->addr[q];
                hs_prefetch(o - 32);
            } else if (hs_graph_nout(g, q) >= 2) {
                o = (const char *)g->addr[hs_graph_out(g, q)[0]];
                hs_prefetch(o);
            }
            if (o != NULL)
                hs_prefetch(o + 32);
            prefetch_firsts(m->v, q);
        }
        /* an instance's managed values (3.11, 3.12) are a block of their
         * own, found from its header fetched above */
        if (k + RELATE_AHEAD / 2 < end) {
            hs_id q = refs[k + RELATE_AHEAD / 2];
            if (g->type[q] != m->v->dict_type &&
                g->type[q] != m->v->tuple_type)
                hs_compat_prefetch_values((PyObject *)g->addr[q]);
        }
        /* an exact dict or tuple is named from the snapshot alone,
         * without a read of the object (its header is a cache miss of its
         * own) */
        int d = dict_by_edges(m, p);
        if (d == 0)
            d = tuple_by_edges(m, p);
        if (d < 0)
            return -1;
        if (d > 0)
            continue;
        if (!plain_holder(m->v, (PyObject *)g->addr[p])) {
            if (defer_push(defer, ndefer, dcap, p) < 0)
                return m->err = -1;
        } else if (relate_targets(m, p, visit_plain) < 0) {
            return -1;
        }
    }
    return 0;
}

static void *
worker_main(void *arg)
{
    relpar *rp = arg;
    while (!atomic_load(&rp->stop)) {
        size_t k = atomic_fetch_add(&rp->next, BLOCK_REFS);
        if (k >= rp->nrefs)
            break;
        size_t end = k + BLOCK_REFS < rp->nrefs ? k + BLOCK_REFS : rp->nrefs;
        if (relate_block(&rp->w, rp->refs, k, end, &rp->defer, &rp->ndefer,
                         &rp->dcap) < 0)
            break;
    }
    atomic_store(&rp->finished, 1);
    return NULL;
}

/* Join thread th, which sets *finished as it ends, calling the progress
 * callback while it works on (it may be in a big holder, or in the bigger
 * part of a set): told to stop, set *quit, which the thread watches.  0,
 * or -1 when cancelled (the exception set; th joined all the same). */
static int
join_ticking(pthread_t th, atomic_int *finished, atomic_int *quit,
             const hs_progress *prog, double *last, size_t done,
             size_t total)
{
    int ret = 0;
    while (prog != NULL && ret == 0 && !atomic_load(finished)) {
        struct timespec ms = {0, 1000000};
        if (tick(prog, last, done, total) < 0) {
            atomic_store(quit, 1);
            ret = -1;
        } else {
            nanosleep(&ms, NULL);
        }
    }
    pthread_join(th, NULL);
    return ret;
}

/* Relate every referrer, on one core or two, into the main thread's namer
 * m and (when it ran) the worker's, rp->w.  *par: whether it ran.  0, or
 * -1 with an exception set. */
static int
relate_referrers(namer *m, relpar *rp, int *par, const hs_id *refs,
                 size_t nrefs, const hs_progress *prog, double *last,
                 int threads)
{
    hs_id *defer = NULL;
    size_t ndefer = 0, dcap = 0;
    int ret = -1;
    pthread_t th;
    *par = 0;
    rp->refs = refs;
    rp->nrefs = nrefs;
    atomic_init(&rp->next, 0);
    atomic_init(&rp->stop, 0);
    atomic_init(&rp->finished, 0);
    rp->w.stop = &rp->stop;
    m->prog = prog;
    m->last = last;
    m->total = nrefs;
    if (threads > 1 && nrefs >= PAR_MIN_REFS && ways_init(&rp->w.ways) == 0) {
        rp->w.v = m->v;
        rp->w.tag = TAG_WORKER;
        *par = hs_thread_start(&th, worker_main, rp);
    }
    int running = *par;
    for (;;) {
        size_t k = atomic_fetch_add(&rp->next, BLOCK_REFS);
        if (k >= nrefs)
            break;
        size_t end = k + BLOCK_REFS < nrefs ? k + BLOCK_REFS : nrefs;
        m->done = k;
        if (relate_block(m, refs, k, end, &defer, &ndefer, &dcap) < 0 ||
            tick(prog, last, end, nrefs) < 0)
            goto done;
    }
    if (running) {
        running = 0;
        if (join_ticking(th, &rp->finished, &rp->stop, prog, last, nrefs,
                         nrefs) < 0 ||
            rp->w.err)
            goto done;
    }
    /* the worker is done: now the referrers only this thread relates */
    for (size_t i = 0; i < ndefer + rp->ndefer; i++) {
        if ((i & 1023) == 1023 && tick(prog, last, i, ndefer + rp->ndefer) < 0)
            goto done;
        if (relate_held(m, i < ndefer ? defer[i] : rp->defer[i - ndefer]) < 0)
            goto done;
    }
    ret = 0;
done:
    if (running) {              /* gave up: stop the worker, wait for it */
        atomic_store(&rp->stop, 1);
        pthread_join(th, NULL);
    }
    if (ret < 0 && !PyErr_Occurred())
        PyErr_NoMemory();
    free(defer);
    return ret;
}

/* ---- from ways to names -------------------------------------------------- */

#define UNNAMED UINT32_MAX

/* Room in *name for n ways (the new ones unnamed): 0, or -1. */
static int
fit(uint32_t **name, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap * 2 > n ? *cap * 2 : n;
    uint32_t *b = realloc(*name, c * sizeof *b);
    if (b == NULL)
        return -1;
    for (size_t i = *cap; i < c; i++)
        b[i] = UNNAMED;
    *name = b;
    *cap = c;
    return 0;
}

/* The index of the name of n, a way other than a dict's int key: made
 * lazily for a number and a dict's str key, else made now and interned by
 * its text.  -1 with an exception set. */
static long
name_way(name_list *c, const hs_relname *n)
{
    const void *data;
    size_t bytes;
    int ukind;
    if (numbered_of(n->kind) >= 0 && n->index >= 0 &&
        (uint64_t)n->index < KEY_NAME)
        return add_name_code(c, Py_None,
                             (uint64_t)n->kind << CODE_SHIFT |
                                 (uint64_t)n->index);
    if (n->kind == HS_RN_INDEXVAL && n->key != NULL &&
        PyUnicode_CheckExact(n->key) &&
        str_text(n->key, &data, &bytes, &ukind) &&
        PyUnicode_GET_LENGTH(n->key) <= HS_REPR_MAX)
        /* "['key']" is made when shown; its text is one per key value, and
         * no name of another kind reads "['...']" (a longer key is shown by
         * its length alone: that text is interned now) */
        return add_name_code(c, n->key,
                             ((uint64_t)HS_RN_INDEXVAL << CODE_SHIFT) |
                                 KEY_NAME);
    return made_name(c, n);
}

/* The name of each way of table t (the main thread's, with the worker's
 * merged into it): name[w], an index among c's names.  A dict's int key
 * reads as a list index ("[3]"), so it takes the name of that item's way,
 * which it may add to t.  0, or -1 with an exception set (cancelled
 * through prog, too). */
#define NAME_TICK 0xFFFF        /* ways named between two ticks */

static int
name_ways(way_table *t, name_list *c, uint32_t **out,
          const hs_progress *prog, double *last)
{
    uint32_t *name = NULL;
    size_t cap = 0;
    if (fit(&name, &cap, t->n + 1) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t w = 0; w < t->n; w++) {
        if ((w & NAME_TICK) == NAME_TICK && tick(prog, last, 1, 1) < 0)
            goto fail;
        if (name[w] != UNNAMED)
            continue;
        way_def d = t->def[w];
        hs_relname n = rel_name((int)d.kind, d.val);
        Py_ssize_t item;
        long idx;
        if (n.kind == HS_RN_INDEXVAL && n.key != NULL &&
            PyLong_CheckExact(n.key) &&
            (item = PyLong_AsSsize_t(n.key)) >= 0) {
            /* d[3] reads "[3]", as the item of a list does: the same
             * name, that of the item's way (named now if it is later in
             * t or new) */
            hs_relname as_item = {HS_RN_ITEM, NULL, NULL, item};
            long iw = way_of(t, &as_item);
            if (iw < 0 || fit(&name, &cap, t->n) < 0) {
                PyErr_NoMemory();
                goto fail;
            }
            if (name[iw] == UNNAMED) {
                if ((idx = name_way(c, &as_item)) < 0)
                    goto fail;
                name[iw] = (uint32_t)idx;
            }
            idx = name[iw];
        } else {
            if (PyErr_Occurred())
                PyErr_Clear();      /* (an int too big for an index) */
            idx = name_way(c, &n);
        }
        if (idx < 0)
            goto fail;
        name[w] = (uint32_t)idx;
    }
    *out = name;
    return 0;
fail:
    free(name);
    return -1;
}

/* Whether way d is found by a key's text (when the key is an exact str). */
static inline int
is_keyed(way_def d)
{
    return (d.kind == HS_RN_INDEXVAL || d.kind == HS_RN_ATTR) && d.val != 0;
}

/* One thread's ways as the other's: wmap[w] is the number in `to` of
 * `from`'s way w.  0, or -1 when out of room. */
static int
merge_ways(way_table *to, const way_table *from, uint32_t *wmap)
{
    /* (at most every way of `from` new to `to`: a table at most twice
     * the size it would need, against several rebuilt on the way) */
    if (ways_reserve(to, from->n, from->used, from->kused) < 0)
        return -1;
    for (size_t w = 0; w < from->n; w++) {
        /* a str key's text, then its slot in `to`'s keyed table, fetched
         * ahead: ways of keys of their own (half a million in the weak
         * cache of the bench heap) are a miss or two each */
        size_t far = w + 2 * KEY_AHEAD, near = w + KEY_AHEAD;
        if (far < from->n && is_keyed(from->def[far])) {
            const char *o = (const char *)from->def[far].val;
            hs_prefetch(o);
            hs_prefetch(o + 64);
        }
        if (near < from->n && is_keyed(from->def[near]))
            prefetch_keyed(to, (PyObject *)from->def[near].val,
                           (int)from->def[near].kind);
        way_def d = from->def[w];
        hs_relname n = rel_name((int)d.kind, d.val);
        long mw = way_of(to, &n);
        if (mw < 0)
            return -1;
        wmap[w] = (uint32_t)mw;
    }
    return 0;
}

/* A tagged way as the index of its name: mname and wname are the names of
 * the main thread's ways and of the worker's. */
static inline uint32_t
name_of(uint32_t tagged, const uint32_t *mname, const uint32_t *wname)
{
    uint32_t x = tagged & ~TAG_MASK;
    switch (tagged & TAG_MASK) {
    case TAG_MAIN:
        return mname[x];
    case TAG_WORKER:
        return wname[x];
    default:
        return x;
    }
}

/* The names of member k, one with others, sorted and each once, in buf:
 * how many.  Its first way's name is `first`, its others' are the entries
 * of `more` from *e on, past which *e moves. */
static size_t
member_names(uint64_t first, const uint64_t *more, size_t nmore, size_t *e,
             size_t k, uint64_t *buf)
{
    size_t nl = 0;
    buf[nl++] = first;
    for (; *e < nmore && (more[*e] >> 32) == k; (*e)++)
        buf[nl++] = (uint32_t)more[*e];
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
    return w;
}

/* Members with others whose list of names is looked up ahead of its turn:
 * in a set like the bench heap's strings, half a million cache keys are
 * also an attribute each, half a million lists of their own, and each
 * lookup in their table is a miss. */
#define LIST_AHEAD 8
#define AHEAD_NAMES 32          /* (a longer list is not fetched) */

/* Fetch the slot of the list of the next member with others, whose
 * entries in `more` start at *ea (moved past them), if it is below hi
 * (another thread may be writing the rows of those beyond). */
static void
fetch_list_ahead(const hs_rcs_table *t, const uint32_t *keys,
                 const uint64_t *more, size_t nmore, size_t *ea, size_t hi,
                 const uint32_t *mname, const uint32_t *wname)
{
    if (*ea >= nmore || (more[*ea] >> 32) >= hi)
        return;
    size_t k = (size_t)(more[*ea] >> 32), end = *ea;
    while (end < nmore && (more[end] >> 32) == k)
        end++;
    if (end - *ea < AHEAD_NAMES) {
        uint64_t buf[AHEAD_NAMES];
        size_t w = member_names(name_of(keys[k] - 1, mname, wname), more,
                                nmore, ea, k, buf);
        if (w > 1)
            hs_rcs_prefetch(t, buf, w);
    }
    *ea = end;
}

/* ---- numbering the rows ---------------------------------------------------
 *
 * Per member: its ways as names, and the row of members named so.  A row
 * is one name (most: a member of one name, found by that name through
 * `renum`), no name, or a list of names interned in t (the others' names
 * are `more`, sorted by member).  Rows are numbered as met in member
 * order, whichever core named what.  A big set is numbered in two parts
 * on two cores, each with rows of its own; the second's are then made
 * the first's in the order met (so numbered as one pass would have), and
 * its members' rows renumbered. */
typedef struct {
    /* shared, read only */
    const hs_graph *g;
    const hs_set *s;
    const uint64_t *multi, *more;
    const uint32_t *mname, *wname;  /* name_of's */
    size_t nmore;
    uint32_t *keys;     /* per member: in, its first way + 1; out, its row */
    /* this part's: members lo .. hi-1, their entries in more from e on */
    size_t lo, hi, e;
    uint32_t *renum;    /* name -> row, UINT32_MAX: none yet */
    uint64_t *rows;     /* row -> a name, ROW_NONE or ROW_LIST | list id */
    uint64_t *rcount, *rsize;
    uint32_t *lrow;     /* list id -> row */
    uint64_t *buf;      /* a member's names */
    size_t nrows, nlists;
    uint32_t none;      /* the row of no name, UINT32_MAX: none yet */
    hs_rcs_table t;
    int err;            /* out of room (-1), or cancelled (-2) */
    /* cancelling: the main thread's part ticks prog (the other's is NULL)
     * and, when told to stop, sets *quit, which both parts watch */
    const hs_progress *prog;
    double *last;
    atomic_int *quit;
    atomic_int *finished;   /* the other core's part: set as it ends */
} numbering;

#define NUMBER_TICK 0xFFFF      /* members numbered between two checks */

/* Members with others among lo .. hi-1: bits set in multi. */
static size_t
multi_between(const uint64_t *multi, size_t lo, size_t hi)
{
    size_t n = 0;
    for (size_t k = lo; k < hi;) {
        if ((k & 63) == 0 && k + 64 <= hi) {
            n += popcount64(multi[k >> 6]);
            k += 64;
        } else {
            n += (multi[k >> 6] >> (k & 63)) & 1;
            k++;
        }
    }
    return n;
}

/* Room for a part of `members` members and `lists` members with others
 * (the lists it may intern): 0, or -1. */
static int
numbering_init(numbering *nb, size_t nnames, size_t maxrows, size_t members,
               size_t lists)
{
    size_t rows = (members < maxrows ? members : maxrows) + 1;
    nb->renum = malloc((nnames + 1) * sizeof *nb->renum);
    nb->rows = malloc(rows * sizeof *nb->rows);
    nb->rcount = calloc(rows, sizeof *nb->rcount);
    nb->rsize = calloc(rows, sizeof *nb->rsize);
    nb->lrow = malloc((lists + 1) * sizeof *nb->lrow);
    nb->buf = malloc((nb->nmore + 2) * sizeof *nb->buf);
    nb->none = UINT32_MAX;
    if (nb->renum == NULL || nb->rows == NULL || nb->rcount == NULL ||
        nb->rsize == NULL || nb->lrow == NULL || nb->buf == NULL ||
        hs_rcs_table_init_for(&nb->t, lists, lists + nb->nmore) < 0)
        return -1;
    for (size_t i = 0; i < nnames; i++)
        nb->renum[i] = UINT32_MAX;
    return 0;
}

static void
numbering_free(numbering *nb)
{
    free(nb->renum);
    free(nb->rows);
    free(nb->rcount);
    free(nb->rsize);
    free(nb->lrow);
    free(nb->buf);
    hs_rcs_table_free(&nb->t);
    nb->renum = nb->lrow = NULL;
    nb->rows = nb->rcount = nb->rsize = nb->buf = NULL;
}

/* The row of the members of no name in part nb, numbered now if new. */
static inline uint32_t
none_row(numbering *nb)
{
    if (nb->none == UINT32_MAX) {
        nb->none = (uint32_t)nb->nrows;
        nb->rows[nb->nrows++] = ROW_NONE;
    }
    return nb->none;
}

/* The row of name nm in part nb, numbered now if new. */
static inline uint32_t
name_row(numbering *nb, uint64_t nm)
{
    if (nb->renum[nm] == UINT32_MAX) {
        nb->renum[nm] = (uint32_t)nb->nrows;
        nb->rows[nb->nrows++] = nm;
    }
    return nb->renum[nm];
}

/* The row of list k[0..n) in part nb, numbered now if new; UINT32_MAX when
 * out of room. */
static inline uint32_t
list_row(numbering *nb, const uint64_t *k, size_t n)
{
    long long lid = hs_rcs_intern(&nb->t, k, n);
    if (lid < 0)
        return UINT32_MAX;
    if ((size_t)lid == nb->nlists) {            /* a new list */
        nb->lrow[nb->nlists++] = (uint32_t)nb->nrows;
        nb->rows[nb->nrows++] = ROW_LIST | (uint64_t)lid;
    }
    return nb->lrow[lid];
}

/* Number the rows of part nb's members (a thread's body: pure C). */
static void *
number_members(void *arg)
{
    numbering *nb = arg;
    const uint32_t *mname = nb->mname, *wname = nb->wname;
    const uint64_t *more = nb->more;
    size_t nmore = nb->nmore, e = nb->e, ea = nb->e;
    uint32_t *keys = nb->keys;
    /* (rows are written over the first ways as they are read: the lists
     * fetched ahead read members not reached yet) */
    for (int i = 0; i < LIST_AHEAD; i++)
        fetch_list_ahead(&nb->t, keys, more, nmore, &ea, nb->hi, mname,
                         wname);
    for (size_t k = nb->lo; k < nb->hi; k++) {
        uint32_t f = keys[k];
        uint32_t row;
        if ((k & NUMBER_TICK) == 0) {
            if (nb->prog != NULL &&
                tick(nb->prog, nb->last, k - nb->lo, nb->hi - nb->lo) < 0)
                atomic_store(nb->quit, 1);
            if (atomic_load_explicit(nb->quit, memory_order_relaxed)) {
                nb->err = -2;
                return NULL;
            }
        }
        if (f == 0) {
            row = none_row(nb);
        } else if (!(nb->multi[k >> 6] & (1ull << (k & 63)))) {
            row = name_row(nb, name_of(f - 1, mname, wname));
        } else {
            fetch_list_ahead(&nb->t, keys, more, nmore, &ea, nb->hi, mname,
                             wname);
            size_t w = member_names(name_of(f - 1, mname, wname), more,
                                    nmore, &e, k, nb->buf);
            if (w == 1) {       /* one name after all, met more than once */
                row = name_row(nb, nb->buf[0]);
            } else if ((row = list_row(nb, nb->buf, w)) == UINT32_MAX) {
                nb->err = -1;
                return NULL;
            }
        }
        keys[k] = row;
        nb->rcount[row]++;
        nb->rsize[row] += hs_graph_size(nb->g, nb->s->ids[k]);
    }
    return NULL;
}

/* number_members on the other core. */
static void *
number_members_thread(void *arg)
{
    numbering *nb = arg;
    number_members(nb);
    atomic_store(nb->finished, 1);
    return NULL;
}

/* Make part b's rows part a's, numbered in the order b met them after a's
 * own, and renumber b's members.  0, -1 when out of room, or -2 when
 * cancelled through a's progress callback (the exception set). */
static int
merge_numbering(numbering *a, numbering *b)
{
    uint32_t *map = malloc((b->nrows + 1) * sizeof *map);
    if (map == NULL)
        return -1;
    for (size_t r = 0; r < b->nrows; r++) {
        uint64_t x = b->rows[r];
        uint32_t row;
        size_t n;
        const uint64_t *k;
        /* (ROW_NONE has no ROW_LIST bit) */
        uint64_t ahead = r + LIST_AHEAD < b->nrows ? b->rows[r + LIST_AHEAD]
                                                   : 0;
        if (ahead & ROW_LIST) {
            k = hs_rcs_list(&b->t, ahead & ~ROW_LIST, &n);
            hs_rcs_prefetch(&a->t, k, n);
        }
        if (x == ROW_NONE) {
            row = none_row(a);
        } else if (x & ROW_LIST) {
            k = hs_rcs_list(&b->t, x & ~ROW_LIST, &n);
            if ((row = list_row(a, k, n)) == UINT32_MAX) {
                free(map);
                return -1;
            }
        } else {
            row = name_row(a, x);
        }
        map[r] = row;
        a->rcount[row] += b->rcount[r];
        a->rsize[row] += b->rsize[r];
    }
    for (size_t k = b->lo; k < b->hi; k++) {
        if (((k - b->lo) & NUMBER_TICK) == NUMBER_TICK &&
            tick(a->prog, a->last, 1, 1) < 0) {
            free(map);
            return -2;
        }
        b->keys[k] = map[b->keys[k]];
    }
    free(map);
    return 0;
}

/* The first of more's entries (sorted by member) of member k or after. */
static size_t
more_from(const uint64_t *more, size_t nmore, size_t k)
{
    size_t lo = 0, hi = nmore;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((more[mid] >> 32) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Where to split members 0 .. n-1 in two parts of about the same work: a
 * member with others costs about MULTI_WEIGHT of one name (its list is
 * built and looked up), and they are not spread evenly (the bench heap's
 * half a million cache keys are all in the first half of its strings). */
#define MULTI_WEIGHT 16

static size_t
numbering_half(const uint64_t *more, size_t nmore, size_t n)
{
    size_t half = (n + MULTI_WEIGHT * nmore) / 2, lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (mid + MULTI_WEIGHT * more_from(more, nmore, mid) < half)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The label arrays go to Python as they are (hs_py_buffer), not copied
 * into bytes: on the bench heap they are 50 MB, fresh pages all.  n u64 at
 * p (malloc'd, taken over; may be NULL when n is 0): a buffer of them, or
 * NULL with an exception set (p freed). */
static PyObject *
u64_buffer(PyObject *module, uint64_t *p, size_t n)
{
    if (n == 0) {               /* (a buffer's pointer is never NULL) */
        free(p);
        if ((p = malloc(sizeof *p)) == NULL)
            return PyErr_NoMemory();
    } else {
        uint64_t *fit = realloc(p, n * sizeof *p);
        if (fit != NULL)        /* (else keep it as it is, room to spare) */
            p = fit;
    }
    return hs_py_buffer(module, p, n * sizeof *p);
}

/* The same from n size_t, as u64. */
static PyObject *
size_buffer(PyObject *module, size_t *p, size_t n)
{
    if (sizeof(size_t) == sizeof(uint64_t))
        return u64_buffer(module, (uint64_t *)p, n);
    uint64_t *w = malloc((n + 1) * sizeof *w);
    for (size_t i = 0; w != NULL && i < n; i++)
        w[i] = p[i];
    free(p);
    if (w == NULL)
        return PyErr_NoMemory();
    return u64_buffer(module, w, n);
}

int
hs_py_via_classify(PyObject *module, const hs_graph *g,
                   const hs_relations *r, const hs_heapdefs *hd,
                   const hs_set *s, uint32_t *keys, hs_partition *part,
                   PyObject **labels_out, const hs_progress *prog,
                   int threads)
{
    via_ctx v;
    memset(&v, 0, sizeof v);
    namer m;
    memset(&m, 0, sizeof m);
    relpar rp;
    memset(&rp, 0, sizeof rp);
    name_list c;
    memset(&c, 0, sizeof c);
    m.v = &v;
    m.tag = TAG_MAIN;
    m.names = &c;
    v.g = g;
    v.hd = hd;
    v.first = keys;             /* zeroed by the caller, reused below */
    v.multi = hs_table_alloc((s->n + 64) / 64, sizeof *v.multi);
    /* (an NyHeapDef for dict would have walked dicts its own way) */
    v.dict_type = hs_heapdefs_find(hd, &PyDict_Type) != NULL
                      ? HS_NO_ID
                      : hs_graph_find(g, (uintptr_t)&PyDict_Type);
    v.tuple_type = hs_heapdefs_find(hd, &PyTuple_Type) != NULL ||
                           tuple_last_first < 0
                       ? HS_NO_ID
                       : hs_graph_find(g, (uintptr_t)&PyTuple_Type);
    hs_id *refs = NULL;
    uint64_t *isref = NULL;
    uint32_t *name = NULL, *oname = NULL;
    uint64_t *rows = NULL, *more = NULL, *rcount = NULL, *rsize = NULL;
    hs_rcs_table t = {0};
    numbering nb[2];
    memset(nb, 0, sizeof nb);
    PyObject *labels = NULL, *rowinfo = NULL, *starts = NULL, *lkeys = NULL,
             *ncodes = NULL;
    int ret = -1;
    double last = now();
    *labels_out = NULL;
    size_t words = ((size_t)g->n + 64) / 64;
    v.inset = calloc(words, sizeof *v.inset);
    v.rank = malloc(words * sizeof *v.rank);
    /* (a bitmap tested before it is set: written through at once where
     * most of its pages will be, hs_table_alloc) */
    isref = s->n >= PAR_MIN_MEMBERS ? hs_table_alloc(words, sizeof *isref)
                                    : calloc(words, sizeof *isref);
    if (v.inset == NULL || v.rank == NULL || v.multi == NULL ||
        isref == NULL || names_init(&c) < 0 || ways_init(&m.ways) < 0 ||
        (m.kept = PyList_New(0)) == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    /* (ids ascend: each word is written once, from a register) */
    const hs_id *ids = s->ids;
    for (size_t k = 0, n = s->n; k < n;) {
        size_t w = ids[k] >> 6;
        uint64_t bits = 0;
        for (; k < n && ids[k] >> 6 == w; k++)
            bits |= 1ull << (ids[k] & 63);
        v.inset[w] = bits;
    }
    for (size_t w = 0, total = 0; w < words; w++) {
        v.rank[w] = (uint32_t)total;
        total += popcount64(v.inset[w]);
    }
    if (step_tick(prog, &last, 0, 1) < 0)
        goto done;

    /* The distinct referrers of the members, in id order: marked in a
     * bitmap (no sort of every reference), then read out of it.  On two
     * cores, another marks from a big set's second half (in a bitmap of
     * its own), or scans the second half of the nodes. */
    void *(*mark)(void *) = r != NULL ? mark_referrers : mark_holders;
    size_t span = r != NULL ? s->n : g->n;
    ref_marks mk[2] = {{g, r, s->ids, v.inset, 0, span, isref, 0},
                       {g, r, s->ids, v.inset, span, span, NULL, 0}};
    pthread_t th;
    int two = 0;
    if (threads > 1 && r != NULL && s->n >= PAR_MIN_MEMBERS) {
        /* (members' referrers overlap: a bitmap of its own) */
        if ((mk[1].isref = hs_table_alloc(words, sizeof *isref)) != NULL)
            mk[1].lo = s->n / 2;
    } else if (threads > 1 && r == NULL && g->n >= PAR_MIN_NODES) {
        mk[1].isref = isref;
        mk[1].lo = (g->n / 2) & ~(size_t)63;
    }
    if (mk[1].isref != NULL) {
        mk[0].hi = mk[1].lo;
        two = hs_thread_start(&th, mark, &mk[1]);
        if (!two)
            mk[0].hi = span;
    }
    mark(&mk[0]);
    size_t nrefs = 0;
    if (two)
        pthread_join(th, NULL);
    int own = mk[1].isref != NULL && mk[1].isref != isref;
    for (size_t w = 0; w < words; w++) {
        if (two && own)
            isref[w] |= mk[1].isref[w];
        nrefs += popcount64(isref[w]);
    }
    if (own)
        free(mk[1].isref);
    int by_root = mk[0].by_root | mk[1].by_root;
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
    if (step_tick(prog, &last, 0, nrefs) < 0)
        goto done;

    /* Each referrer once: every reference it holds to a member, as a way
     * of referring in the table of the thread that related it. */
    int par;
    if (relate_referrers(&m, &rp, &par, refs, nrefs, prog, &last,
                         threads) < 0)
        goto done;
    if ((by_root && root_names(&m) < 0) ||
        step_tick(prog, &last, nrefs, nrefs) < 0)
        goto done;

    /* Each way once as a name: the ways of the thread that made fewer
     * merged into the other's table (whichever related the weak cache of
     * the bench heap, one dict, made its half a million keyed ways), that
     * table's ways named, and the others' names read through the merge. */
    way_table *big = &m.ways, *other = &rp.w.ways;
    if (par && rp.w.ways.n > m.ways.n) {
        big = &rp.w.ways;
        other = &m.ways;
    }
    if (par) {
        oname = malloc((other->n + 1) * sizeof *oname);
        if (oname == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        if (merge_ways(big, other, oname) < 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (name_ways(big, &c, &name, prog, &last) < 0 ||
        step_tick(prog, &last, nrefs, nrefs) < 0)
        goto done;
    if (par)
        for (size_t w = 0; w < other->n; w++)
            oname[w] = name[oname[w]];      /* way in big -> its name */
    const uint32_t *mname = big == &m.ways ? name : oname;
    const uint32_t *wname = big == &m.ways ? oname : name;
    size_t nmore = m.nmore + rp.w.nmore;
    more = malloc((nmore + 1) * sizeof *more);
    if (more == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < nmore; i++) {
        uint64_t x = i < m.nmore ? m.more[i] : rp.w.more[i - m.nmore];
        more[i] = (x & ~0xFFFFFFFFull) | name_of((uint32_t)x, mname, wname);
    }
    /* Relating is done with: what it took serves what follows, in pages
     * this process has just given back, not fresh ones (the first touch
     * of a fresh page is most of a first byvia's cost here). */
    free(refs);
    refs = NULL;
    free(m.more);
    free(rp.w.more);
    m.more = rp.w.more = NULL;
    free(m.t.tab);
    free(rp.w.t.tab);
    m.t.tab = rp.w.t.tab = NULL;
    ways_free(&m.ways);
    ways_free(&rp.w.ways);

    /* Rows, numbered by member (see numbering above). */
    size_t nnames = (size_t)PyList_GET_SIZE(c.names);
    size_t maxrows = nnames + 1 + nmore;
    if (hs_sort_u64_bits(more, nmore, 32, 32 + bits_for(s->n)) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (step_tick(prog, &last, nrefs, nrefs) < 0)
        goto done;
    atomic_int quit, finished;
    atomic_init(&quit, 0);
    atomic_init(&finished, 0);
    numbering base = {g, s, v.multi, more, mname, wname, nmore, keys};
    base.quit = &quit;
    base.finished = &finished;
    nb[0] = nb[1] = base;
    nb[0].prog = prog;
    nb[0].last = &last;
    nb[0].hi = s->n;
    int halves = 0;
    if (threads > 1 && s->n >= PAR_MIN_MEMBERS) {
        nb[0].hi = nb[1].lo = numbering_half(more, nmore, s->n);
        nb[1].hi = s->n;
        nb[1].e = more_from(more, nmore, nb[1].lo);
        halves = numbering_init(&nb[1], nnames, maxrows, nb[1].hi - nb[1].lo,
                                multi_between(v.multi, nb[1].lo, s->n)) ==
                     0 &&
                 hs_thread_start(&th, number_members_thread, &nb[1]);
        if (!halves)
            nb[0].hi = s->n;
    }
    /* (the first part's rows and lists are the second's too, after the
     * merge) */
    if (numbering_init(&nb[0], nnames, maxrows, maxrows,
                       multi_between(v.multi, 0, s->n)) < 0)
        nb[0].err = -1;
    if (!nb[0].err)
        number_members(&nb[0]);
    if (halves) {
        if (join_ticking(th, &finished, &quit, nb[0].err ? NULL : prog,
                         &last, nb[0].hi, s->n) < 0)
            nb[0].err = -2;
        if (nb[0].err == 0 && nb[1].err == 0)
            nb[0].err = merge_numbering(&nb[0], &nb[1]);
    }
    numbering_free(&nb[1]);
    if (nb[0].err || nb[1].err) {
        if (!PyErr_Occurred())  /* (else cancelled, by tick) */
            PyErr_NoMemory();
        goto done;
    }
    size_t nrows = nb[0].nrows;
    rows = nb[0].rows;
    rcount = nb[0].rcount;
    rsize = nb[0].rsize;
    nb[0].rows = nb[0].rcount = nb[0].rsize = NULL;
    t = nb[0].t;
    memset(&nb[0].t, 0, sizeof nb[0].t);
    numbering_free(&nb[0]);
    /* (what numbering took goes before the labels and the partition) */
    free(more);
    free(name);
    free(oname);
    free(v.multi);
    name = oname = NULL;
    more = v.multi = NULL;

    /* Labels are made when a row is shown (heapscope._api._ViaNames):
     * row r is rows[r]: a name's index, ROW_NONE, or ROW_LIST | a list id,
     * list id's names being names[keys[starts[id]] .. keys[starts[id+1]-1]];
     * a None among the names is made from its code.  A row of half a
     * million members named ".keys()[n]" would otherwise make half a
     * million strings and tuples for a table of ten. */
    rowinfo = u64_buffer(module, rows, nrows);
    rows = NULL;
    starts = size_buffer(module, t.start, t.n + 1);
    t.start = NULL;
    lkeys = u64_buffer(module, t.key, t.nkeys);
    t.key = NULL;
    ncodes = u64_buffer(module, c.code, nnames);
    c.code = NULL;
    hs_rcs_table_free(&t);
    if (rowinfo == NULL || starts == NULL || lkeys == NULL || ncodes == NULL ||
        step_tick(prog, &last, nrefs, nrefs) < 0)
        goto done;

    int err = hs_partition_counted(part, s, keys, nrows, rcount, rsize, prog);
    if (err < 0) {
        if (PyErr_Occurred())
            ;                   /* the progress callback raised */
        else if (err == -HS_ECANCELED)
            PyErr_SetString(PyExc_KeyboardInterrupt, "cancelled");
        else if (err == -HS_ENOMEM)
            PyErr_NoMemory();
        else
            PyErr_SetString(PyExc_OverflowError, "too many byvia rows");
        goto done;
    }
    if ((labels = PyTuple_Pack(5, rowinfo, starts, lkeys, c.names,
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
    free(rows);
    free(rcount);
    free(rsize);
    numbering_free(&nb[0]);
    numbering_free(&nb[1]);
    free(refs);
    free(isref);
    free(more);
    free(name);
    free(oname);
    free(m.more);
    free(m.t.tab);
    ways_free(&m.ways);
    Py_XDECREF(m.kept);
    free(rp.w.more);
    free(rp.w.t.tab);
    ways_free(&rp.w.ways);
    free(rp.defer);
    free(v.inset);
    free(v.multi);
    free(v.rank);
    names_free(&c);
    hs_rcs_table_free(&t);
    return ret;
}

/* ---- from a set that holds it ---------------------------------------------
 *
 * A member's row stands for its names, which are how its referrers (all
 * of the snapshot's) refer to it: the same whatever set it is in.  So a
 * subset's rows are its members' rows in the set that holds it, each
 * group cut to the subset, keyed in the order the subset meets them as a
 * byvia of it numbers its rows (hs_partition_restrict), and labelled as
 * there: the byvia of the bench heap's largest row (2.6 M referrers) is
 * then two passes over the heap's partition instead of relating them all
 * again. */
int
hs_py_via_restrict(PyObject *module, const hs_graph *g,
                   const hs_partition *from_part, PyObject *from_labels,
                   const hs_set *s, hs_partition *part,
                   PyObject **labels_out)
{
    uint64_t *from;
    PyObject *rows = NULL;
    Py_buffer was;
    *labels_out = NULL;
    if (!PyTuple_Check(from_labels) || PyTuple_GET_SIZE(from_labels) != 5) {
        PyErr_SetString(PyExc_TypeError, "byvia labels expected");
        return -1;
    }
    int r = hs_partition_restrict(part, from_part, g, s, &from);
    if (r == -HS_EINVAL)
        return 1;
    if (r < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyObject_GetBuffer(PyTuple_GET_ITEM(from_labels, 0), &was,
                           PyBUF_SIMPLE) < 0)
        goto error;
    /* (each new row's old key becomes the old row's label, in place) */
    const uint64_t *wrow = was.buf;
    size_t nwas = (size_t)was.len / sizeof *wrow, n = part->ngroups;
    for (size_t k = 0; k < n; k++) {
        if (from[k] >= nwas) {
            PyErr_SetString(PyExc_ValueError, "byvia labels of another set");
            break;
        }
        from[k] = wrow[from[k]];
    }
    PyBuffer_Release(&was);
    if (PyErr_Occurred())
        goto error;
    rows = u64_buffer(module, from, n);
    from = NULL;
    if (rows == NULL)
        goto error;
    *labels_out = PyTuple_Pack(5, rows, PyTuple_GET_ITEM(from_labels, 1),
                               PyTuple_GET_ITEM(from_labels, 2),
                               PyTuple_GET_ITEM(from_labels, 3),
                               PyTuple_GET_ITEM(from_labels, 4));
    if (*labels_out == NULL)
        goto error;
    Py_DECREF(rows);
    return 0;
error:
    Py_XDECREF(rows);
    free(from);
    hs_partition_free(part);
    return -1;
}
