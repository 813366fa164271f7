/* heapscope/explorer.h - the explorer's model: what the full-screen
 * explorer shows and asks for, with neither curses nor Python in sight.
 *
 * tui/ draws and navigates through these calls only.  src/python
 * implements them over a heap snapshot (model.c); tests/unit implement a
 * fake.  Every call is made from the one thread that runs the explorer.
 * Strings handed out are owned by the model and stay valid until the next
 * call that takes the same view (or, for model-wide strings, the next call
 * on the model), unless a comment says otherwise.
 */
#ifndef HEAPSCOPE_EXPLORER_H
#define HEAPSCOPE_EXPLORER_H

#include <stddef.h>
#include <stdint.h>

#include "heapscope/progress.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The relations a set can be partitioned by: the keys c t r v s i m p. */
enum hs_rel {
    HS_REL_CLODO,     /* class, or "dict of <owner's class>" (heapy's default) */
    HS_REL_TYPE,      /* type */
    HS_REL_RCS,       /* kinds of the referrers */
    HS_REL_VIA,       /* how the referrers refer: ['key'], .attr, [3] */
    HS_REL_SIZE,      /* individual size */
    HS_REL_ID,        /* one row per object, with a short repr */
    HS_REL_MODULE,    /* module */
    HS_REL_PROD,      /* allocation site (tracemalloc) */
    HS_REL_N
};

/* A new set made from one row of a view. */
enum hs_step {
    HS_STEP_OPEN,       /* the row's objects ("v[i]") */
    HS_STEP_REFERRERS,  /* what refers to them ("v[i].referrers") */
    HS_STEP_REFERENTS,  /* what they refer to ("v[i].referents") */
    HS_STEP_DOMINOS     /* what would be freed with them ("v[i].dominos") */
};

/* Sort orders of a view's rows (key o cycles them). */
enum hs_sort {
    HS_SORT_SIZE,       /* total size, largest first (heapy's order) */
    HS_SORT_COUNT,      /* object count, largest first */
    HS_SORT_DOMINATED,  /* dominated size, largest first */
    HS_SORT_NAME,       /* label, alphabetical */
    HS_SORT_N
};

/* Calls that may take long take an hs_progress (progress.h): the model
 * calls tick() at least every 50 ms of work when it can; when tick()
 * returns non-zero the user cancelled, and the call gives up, returning
 * NULL or -1 with error() saying "cancelled".  A tick may come from a
 * thread of the model's own while the call runs (the real model ticks so
 * while an expression typed at : runs code that does not tick), one tick
 * at a time: never two at once. */

/* A view: one set of objects partitioned by one relation.  Opaque. */
typedef struct hs_view hs_view;

typedef struct hs_view_info {
    const char *expr;     /* the heapy expression that gives this view at
                             the prompt, e.g. "h[0].byrcs" (the breadcrumb) */
    const char *summary;  /* "Partition of a set of 985931 objects. Total
                             size = 46300932 bytes." */
    const char *column;   /* header of the label column, heapy's words:
                             "Kind (class / dict of class)", "Referred Via:" */
    enum hs_rel rel;
    enum hs_sort sort;
    uint64_t count;       /* objects in the set */
    uint64_t size;        /* their total size in bytes */
    size_t nrows;
} hs_view_info;

typedef struct hs_row {
    const char *label;    /* one line; may be long (the TUI clips it) */
    uint64_t count;
    uint64_t size;
    /* heapy's index of the row (its place in size order), which the TUI
     * shows and puts in expressions ("h[3]") whatever the sort order.
     * The TUI sets it to i before calling row(), so a model whose rows
     * are in heapy's order may leave it alone; one that sort()ed must
     * set it. */
    size_t index;
} hs_row;

/* dominated(): the state of a row's dominated size. */
#define HS_DOM_READY    0   /* *bytes is the answer */
#define HS_DOM_PENDING  1   /* being computed in the background: poll() */
#define HS_DOM_NONE     2   /* not available for this row */

/* One referrer or referent of an inspected object. */
typedef struct hs_ref {
    const char *kind;     /* its clodo label: "dict of Package" */
    const char *via;      /* how the holder refers to the held: "['key']" */
    const char *repr;     /* short safe repr */
    uint64_t size;
} hs_ref;

/* The inspector's page on one object (key x). */
typedef struct hs_object {
    const char *expr;       /* e.g. "h[0].byid[0].theone" */
    const char *type;       /* heapy's label of its kind */
    uintptr_t address;
    uint64_t size;
    int dominated_state;    /* HS_DOM_*; dominated valid when READY */
    uint64_t dominated;
    const char *repr;       /* bounded; built without running the object's
                               own code, so it can neither hang nor raise */
    const char *path;       /* shortest path from the root, heapy's spelling
                               (hpy().Root.i0_modules['__main__']...) */
    const char *traceback;  /* allocation site, NULL if tracemalloc was off */
    size_t nreferrers, nreferents;          /* how many in all */
    const hs_ref *referrers, *referents;    /* the first few of each */
    size_t shown_referrers, shown_referents;
} hs_object;

typedef struct hs_model hs_model;

typedef struct hs_model_ops {
    /* The view the explorer opens on: the heap (or the set it was given)
     * by clodo. */
    hs_view *(*root)(hs_model *m, const hs_progress *p);
    /* The same set by another relation. */
    hs_view *(*repartition)(hs_model *m, hs_view *v, enum hs_rel rel,
                            const hs_progress *p);
    /* A new set from row `row` of v, partitioned by v's relation (for
     * HS_STEP_OPEN) or by clodo (the others). */
    hs_view *(*step)(hs_model *m, hs_view *v, size_t row, enum hs_step how,
                     const hs_progress *p);
    /* A heapy expression on v's set (key :): "byrcs[5].byvia",
     * "& Via('.key')", "[2].referrers".  Its result becomes a view.  A
     * result that is not a set is an answer: NULL, and error() says it,
     * in one line ("h.count = 415012") or in several: the expression,
     * then the answer's lines ("h.byid[0].sp\n 0: hpy().Root...").  The
     * TUI shows the latter on a page of its own. */
    hs_view *(*eval)(hs_model *m, hs_view *v, const char *expr,
                     const hs_progress *p);
    /* Re-order v's rows in place; -1 (error() says why) when that order
     * is not available, e.g. dominated sizes not computed yet. */
    int (*sort)(hs_model *m, hs_view *v, enum hs_sort how,
                const hs_progress *p);

    void (*info)(hs_model *m, hs_view *v, hs_view_info *out);
    /* Row i (0 <= i < nrows); 0, or -1 with error() set. */
    int (*row)(hs_model *m, hs_view *v, size_t i, hs_row *out);
    /* The dominated size of row i: HS_DOM_*.  Asking starts the work in
     * the background if needed, at the latest at the next poll() (the
     * real model waits for it: finding a row's objects may take a while,
     * better spent with the table on the screen); it never blocks. */
    int (*dominated)(hs_model *m, hs_view *v, size_t i, uint64_t *bytes);
    /* Non-zero when background work has produced results since the last
     * call (the TUI redraws); called after each draw is shown, and when
     * no key is pending. */
    int (*poll)(hs_model *m);
    /* Stop background work the TUI no longer needs (e.g. on Esc). */
    void (*cancel)(hs_model *m);
    /* Work ahead while the user reads: what a key is likely to ask for
     * next (the real model: the root set's byvia, which the byvia of any
     * of its rows is then cut from), kept for when it does.  The TUI
     * calls it after a pause in the keys, again while it returns 1.  p's
     * tick() returns non-zero as soon as a key is typed: the work stops,
     * what it did is dropped, and it is tried again at the next pause.
     * 1: did some, or is waiting for the background (call again later);
     * 0: nothing (left) to do; -1: stopped.  May be NULL. */
    int (*prepare)(hs_model *m, const hs_progress *p);

    /* Sample the nth object (0: the largest) of row `row` and describe it;
     * 0, or -1 with error() set.  *out stays valid until the next
     * inspect() or release of v. */
    int (*inspect)(hs_model *m, hs_view *v, size_t row, size_t nth,
                   hs_object *out, const hs_progress *p);
    /* A new set from that object (the nth of row `row` of v): what refers
     * to it, what it refers to, or what would be freed with it
     * (HS_STEP_REFERRERS, _REFERENTS, _DOMINOS), partitioned by clodo. */
    hs_view *(*step_object)(hs_model *m, hs_view *v, size_t row, size_t nth,
                            enum hs_step how, const hs_progress *p);

    /* Key M: set the mark now (setrelheap).  Key u: take a fresh snapshot
     * relative to the mark and return its root view.  Views from before
     * stay valid (they keep their own snapshot). */
    int (*mark)(hs_model *m);
    hs_view *(*refresh)(hs_model *m, const hs_progress *p);

    /* The message of the last failure: one line a user understands. */
    const char *(*error)(hs_model *m);
    /* Facts about v's snapshot for the title line, as one line the TUI
     * shows as it is, right-aligned: the mark the snapshot is relative to
     * ("none" if there was none; a mark set since then is named too) and
     * how long the snapshot took, numbered from the second one on:
     * "mark: 14:02:11   snapshot: 0.41 s",
     * "mark: 14:02:11, new 14:05:02   snapshot 2: 0.41 s".
     * Views made from a view share its snapshot; u makes a new one.  v
     * may be NULL (no view yet): the model's current mark. */
    const char *(*status)(hs_model *m, hs_view *v);

    void (*release)(hs_model *m, hs_view *v);
} hs_model_ops;

struct hs_model {
    const hs_model_ops *ops;
};

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_EXPLORER_H */
