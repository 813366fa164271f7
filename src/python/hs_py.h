/* hs_py.h - internal interface of the CPython-facing half of _heapscope.
 *
 * Only src/python/ includes this.  Everything that depends on a CPython
 * version's private layout is behind the hs_compat_* and hs_py_size functions
 * (compat.c, sizes.c); the rest of src/python uses the public C API plus these.
 * Nothing declared here may run Python code, allocate Python objects or
 * change an object it is handed, unless its comment says so.
 */
#ifndef HS_PY_H
#define HS_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "heapscope/graph.h"
#include "heapscope/prefetch.h"
#include "heapscope/relations.h"

/* ---- sizes.c ------------------------------------------------------------ */

/* Bytes of memory owned by `op`, computed in C from its type's layout:
 * the object itself with its GC header and any pre-header, plus the blocks
 * it owns privately (a list's item array, a dict's keys and values, a set's
 * table, a 3.11+ instance's managed values...).  Never calls __sizeof__ or
 * any other Python-level code and never mutates `op`. */
size_t hs_py_size(PyObject *op);
/* Bytes in front of op that its allocation starts with (the GC header,
 * 3.11+ managed dict and weakref pointers): op minus this is the address
 * the allocator (and tracemalloc) knows it by. */
size_t hs_py_pre_header(PyObject *op);
/* What hs_py_size says of an exact tuple of n items (byvia tells from it
 * whether a tuple's edges in a snapshot are all its items). */
size_t hs_py_tuple_size(size_t n);

/* ---- images.c ----------------------------------------------------------- */

/* Address ranges of every loaded ELF image (the executable, libpython and
 * extension modules).  An object inside one is static: it was not allocated
 * on the heap. */
typedef struct hs_images {
    uintptr_t *lo, *hi;   /* sorted, merged: apart from each other */
    size_t n;
    /* The gaps between images where the last two addresses outside any
     * lay: [gap_lo, gap_lo + gap_len).  Heap objects lie in one or two
     * (the allocator's arenas, malloc's heap). */
    uintptr_t gap_lo[2], gap_len[2];
} hs_images;

int hs_images_load(hs_images *im);          /* 0 or -1 (ENOMEM) */
void hs_images_free(hs_images *im);
int hs_images_search(hs_images *im, uintptr_t a);

/* Whether p lies inside a loaded image: two comparisons when it lies in
 * one of the gaps remembered, else a binary search. */
static inline int
hs_images_contains(hs_images *im, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (a - im->gap_lo[0] < im->gap_len[0] ||
        a - im->gap_lo[1] < im->gap_len[1])
        return 0;
    return hs_images_search(im, a);
}

/* ---- compat.c ----------------------------------------------------------- */

/* A callback receiving one object the walker must visit, with a label that
 * names how the root holds it (used only for edges from the root; may be
 * NULL elsewhere).  Returns 0 to continue, non-zero to stop. */
typedef int (*hs_compat_visit)(PyObject *op, const char *label, void *arg);

/* Everything heapy's root reaches: interpreter state fields, the module
 * dict, sys, builtins, and for every thread its exception state, context,
 * and the objects of its running frames (on 3.11+ read from the interpreter
 * frames, never by creating frame objects). */
typedef struct hs_roots_opts {
    PyObject *const *hidden_globals;  /* frames running these globals are
                                         heapscope's own: not roots */
    size_t nhidden_globals;
    /* Called instead of visit for what heapscope's own frames hold (the
     * frame object itself before 3.11), so the walker can keep a query's
     * temporaries out of the heap it reports; NULL to skip them. */
    hs_compat_visit hidden_visit;
} hs_roots_opts;

int hs_compat_visit_roots(const hs_roots_opts *o, hs_compat_visit visit,
                          void *arg);

/* Every object the cyclic GC tracks, in every generation and the permanent
 * generation (gc.freeze), without creating a list: 0, or -1 when visit
 * returned non-zero (it stops there). */
int hs_compat_visit_gc_objects(hs_compat_visit visit, void *arg);
/* The same in steps: a cursor at the start of the lists (needs the GIL),
 * then up to `budget` objects at a time.  A step touches nothing but the
 * lists' links and calls no Python API, so it may run on another thread
 * (one at a time) while the GIL holder runs no Python code (nothing
 * tracks, untracks or frees an object meanwhile).  A step returns 1 once
 * every object was visited, 0 when some are left, -1 when visit returned
 * non-zero (it says why; the cursor is then spent). */
#define HS_GC_LISTS 8
typedef struct hs_gc_cursor {
    void *heads[HS_GC_LISTS];
    int n, i;                /* lists, the one being read */
    void *at;                /* its next link to visit; NULL: its first */
} hs_gc_cursor;
void hs_compat_gc_cursor(hs_gc_cursor *c);
int hs_compat_gc_step(hs_gc_cursor *c, size_t budget, hs_compat_visit visit,
                      void *arg);

/* The __dict__ of an instance if it exists (borrowed), never creating it.
 * NULL when the object has no dict or it was never materialised. */
PyObject *hs_compat_instance_dict(PyObject *op);

/* Objects held by `op` that its tp_traverse does not report (str keys of
 * dicts, 3.13's materialised managed dict, names of heap types, contents of
 * non-GC containers such as code objects).  Calls visit(child, NULL, arg). */
int hs_compat_visit_extra(PyObject *op, hs_compat_visit visit, void *arg);

/* An exact dict's entries as its snapshot edges: visit(key), then
 * visit(value), for each entry in iteration order, and nothing else; so
 * entry j of the dict is edges 2j and 2j+1 of its node, which byvia reads
 * back without the dict (via.c).  PyDict_Next neither hashes nor
 * compares.  Returns what visit returned if non-zero. */
int hs_compat_visit_dict_pairs(PyObject *op, hs_compat_visit visit,
                               void *arg);

/* The attributes a 3.11+ instance keeps in managed or inline values (no
 * dict): visit(name, value, arg) for each; nothing on older versions or
 * once the dict exists.  Returns what visit returned if non-zero. */
typedef int (*hs_compat_attr)(PyObject *name, PyObject *value, void *arg);
int hs_compat_visit_values(PyObject *op, hs_compat_attr visit, void *arg);
/* Fetch into the cache the values array of a 3.11 or 3.12 instance whose
 * attributes are in managed values (a block of its own, read by
 * hs_compat_visit_values: a cache miss after the object's own); nothing
 * otherwise.  Reads op's header and the pointer before it. */
void hs_compat_prefetch_values(PyObject *op);
/* Prefetch what reading op will touch beyond its own first lines (a
 * dict's keys and values, an instance's values, a list's items), its
 * header already in the cache: the walk's second prefetch stage. */
void hs_compat_prefetch_body(PyObject *op);

/* Where tracemalloc saw op allocated: a new tuple of (filename, lineno)
 * frames, most recent first; None when it was not traced.  Allocates
 * Python objects: not for use during a walk. */
PyObject *hs_compat_object_traceback(PyObject *op);
/* The GIL's switch interval (microseconds), as sys.setswitchinterval sees
 * it; with wake, threads waiting for the GIL start their waits over with
 * the new one.  Call with the GIL held. */
unsigned long hs_compat_switch_interval(void);
void hs_compat_set_switch_interval(unsigned long us, int wake);
/* Forget a waiting thread's request that this thread (which holds the GIL)
 * drop it. */
void hs_compat_clear_gil_drop_request(void);
/* Is tracemalloc tracing (tracemalloc.is_tracing(), without its import)? */
int hs_compat_tracemalloc_tracing(void);
/* Drop the exception PyThreadState_SetAsyncExc() left pending for this
 * thread, if any.  Call with the GIL held. */
void hs_compat_drop_async_exc(void);

/* Type dict without side effects (3.12+ static builtin types keep theirs in
 * the interpreter).  Borrowed; may be NULL. */
PyObject *hs_compat_type_dict(PyTypeObject *tp);

/* ---- heapdefs.c: extension types that describe themselves ------------------ */

#include "heapscope/heapdef.h"

/* The NyHeapDef entries exported by loaded modules (_NyHeapDefs_). */
typedef struct hs_heapdefs {
    const NyHeapDef **defs;     /* sorted by type address */
    size_t n;
    PyObject **capsules;        /* keep the arrays' owners alive */
    size_t ncapsules;
} hs_heapdefs;

/* Collect the definitions of every module in sys.modules.  Runs before a
 * walk (it reads module dicts with the public API); 0, or -1 with an
 * exception set.  A malformed entry is skipped, never trusted. */
int hs_heapdefs_load(hs_heapdefs *hd);
void hs_heapdefs_free(hs_heapdefs *hd);
/* The definition of exactly this type, or NULL. */
const NyHeapDef *hs_heapdefs_find(const hs_heapdefs *hd, PyTypeObject *tp);

/* Non-zero once the interpreter started finalizing (Py_IsFinalizing, a
 * private name before 3.13).  Safe to call without the GIL. */
int hs_compat_is_finalizing(void);

/* ---- relate.c ----------------------------------------------------------- */

/* How a referrer holds one object: enough to build its heapy name
 * (hs_py_relname) without building it until somebody wants it. */
enum hs_relname_kind {
    HS_RN_FIELD,      /* field: the whole name, ".__dict__", "->ob_type" */
    HS_RN_MEMBER,     /* field: a member's name, shown ".name" */
    HS_RN_INDEXVAL,   /* key: the dict key, shown "[repr(key)]" */
    HS_RN_INDEXKEY,   /* index: position among the keys, ".keys()[3]" */
    HS_RN_ITEM,       /* index: "[3]" */
    HS_RN_INSET,      /* index: position in a set, "list(_)[3]" */
    HS_RN_ATTR,       /* key: attribute name (str), ".name" */
    HS_RN_HASATTR,    /* key: ".__dict__.keys()[repr(key)]" */
    HS_RN_LOCAL,      /* key: variable name, ".f_locals['x']" */
    HS_RN_CELL,       /* key: ".f_locals ['x']" */
    HS_RN_STACK,      /* index: "->f_valuestack[2]" */
    HS_RN_TEXT        /* key: the name itself (a str) */
};

/* Whose frame a local, a cell or a stack entry is in, ORed into
 * HS_RN_LOCAL, HS_RN_CELL and HS_RN_STACK: a frame object's own, or (3.11+)
 * the frame inside a generator, coroutine or async generator, which has no
 * object of its own: the holder is the generator, and the name goes
 * through the attribute that shows that frame, ".gi_frame.f_locals['x']".
 * A kind is one byte (via.c keeps it in a name's code). */
enum hs_relname_frame {
    HS_RN_IN_FRAME = 0,
    HS_RN_IN_GEN = 1 << 4,
    HS_RN_IN_CORO = 2 << 4,
    HS_RN_IN_ASYNCGEN = 3 << 4
};
#define HS_RN_BASE(kind) ((kind) & 0x0F)
#define HS_RN_WHERE(kind) ((kind) & 0x30)

typedef struct hs_relname {
    int kind;
    const char *field;
    PyObject *key;        /* borrowed */
    Py_ssize_t index;
} hs_relname;

/* Called for each object `src` holds with how it holds it; non-zero stops
 * the enumeration (and is returned). */
typedef int (*hs_relvisit)(PyObject *dst, const hs_relname *name, void *arg);

/* Every reference src holds that heapscope can name: dict values and keys,
 * items, set members, function, method, cell, module, type, code, frame,
 * traceback and exception fields, instance dict, managed values and
 * slots, the class, and what an NyHeapDef relate function reports (hd may
 * be NULL).  Reads structures only: no user code runs. */
int hs_py_relate_all(PyObject *src, const hs_heapdefs *hd, hs_relvisit visit,
                     void *arg);
/* (compat.c) What a frame object holds, named as heapy names it: .f_back,
 * .f_code, .f_globals, .f_builtins, .f_locals, .f_trace, each local
 * .f_locals['x'] (the cell of a cell or free variable .f_locals ['x']),
 * the value stack ->f_valuestack[i] when the frame is not running.  On
 * 3.11+ read from the interpreter frame it points to, whoever owns that;
 * creates no frame object and never materialises f_locals. */
int hs_compat_relate_frame(PyObject *op, hs_relvisit visit, void *arg);
/* (compat.c) What a generator, coroutine or async generator holds, named
 * as its attributes name it (.__name__, .__qualname__, .gi_code,
 * .cr_origin; ->gi_exc_state.exc_value and the like for fields no
 * attribute shows); on 3.11+ what its frame holds, while gen_traverse
 * reads that frame, as the frame object would name it after .gi_frame
 * (.cr_frame, .ag_frame): .gi_frame.f_locals['x'].  Creates no frame
 * object and never materialises f_locals. */
int hs_compat_relate_gen(PyObject *op, hs_relvisit visit, void *arg);
/* The name as heapy's byvia prints it: "['key']", ".keys()[3]", ".attr". */
PyObject *hs_py_relname(const hs_relname *n);
/* Append to `names` (a list) every way `src` refers to `dst` ("<unknown>"
 * if none is known).  0, or -1 with an exception set. */
int hs_py_relate(PyObject *src, PyObject *dst, const hs_heapdefs *hd,
                 PyObject *names);
/* repr() of builtin scalars (long ones summarised), "<type at 0x...>" for
 * anything else: never runs user code. */
PyObject *hs_py_safe_repr(PyObject *o);
/* Longer str and bytes are shown by type and length only. */
#define HS_REPR_MAX 200

/* ---- via.c -------------------------------------------------------------- */

/* byvia: *part the partition of s by it (keys, zeroed room for one per
 * member of s, are its scratch); the referrers from r's reverse edges, or
 * with r NULL (relations not built) from a scan of g's edges; *labels_out
 * a new tuple (rows, starts, keys, names, codes) from which a row's label
 * is made when shown: rows[r] is a name's index i, ROW_NONE (1 << 63: no
 * name) or ROW_LIST (1 << 62) | a list id, list id's names being
 * names[keys[j]] for j in starts[id] .. starts[id+1]-1; names[i] is made
 * when codes[i] is not 0 (names[i] None or a dict key) by
 * hs_py_via_code_name(codes[i], names[i]); rows, starts, keys and codes
 * are bytes of native uint64.  With threads > 1, a worker thread relates
 * some of the referrers (big sets only).  0, or -1 with an exception set
 * (KeyboardInterrupt when prog cancelled). */
PyObject *hs_py_via_code_name(uint64_t code, PyObject *key);
/* Once, at import: what byvia learns of the interpreter (the order in
 * which a tuple's tp_traverse reports its items). */
void hs_py_via_init(void);
int hs_py_via_classify(PyObject *module, const hs_graph *g,
                       const hs_relations *r, const hs_heapdefs *hd,
                       const hs_set *s, uint32_t *keys, hs_partition *part,
                       PyObject **labels_out, const hs_progress *prog,
                       int threads);
/* byvia of s from a partition by via of a set that holds it (from_part
 * with its members, from_labels as hs_py_via_classify made them): a
 * member's names do not depend on the set it is in.  The same partition
 * and labels as hs_py_via_classify would make.  0; 1 when s is not within
 * that set; -1 with an exception set. */
int hs_py_via_restrict(PyObject *module, const hs_graph *g,
                       const hs_partition *from_part, PyObject *from_labels,
                       const hs_set *s, hs_partition *part,
                       PyObject **labels_out);

/* ---- module.c: arrays handed to Python ------------------------------------ */

/* A read-only buffer of `bytes` bytes at p (malloc'd, not NULL), which it
 * takes over and frees when it goes: a bytes-like object of the extension
 * (memoryview(b).cast('Q') reads it), made without a copy.  NULL with an
 * exception set (p freed). */
PyObject *hs_py_buffer(PyObject *module, void *p, size_t bytes);

/* ---- module.c: what model.c needs of a row ------------------------------ */

/* The ids of row k of a C Partition (its members filled in first if need
 * be), or of an IdSet (k unused), borrowed from it: valid, like *snap
 * (its snapshot, for hs_py_snapshot_relations), while o lives; no copy.
 * 0, or -1 with an exception set. */
int hs_py_row_parts(PyObject *o, size_t k, hs_set *s, void **snap);
/* The relations of a snapshot hs_py_row_parts gave, built now if they are
 * not yet, by this thread (ticking prog) or one that began first:
 * callable without the GIL (the dominated-size worker builds them, not the
 * explorer's first draw).  0, -HS_ENOMEM, or -HS_ECANCELED (prog said to
 * stop: none built). */
int hs_py_snapshot_relations(void *snap, const hs_progress *prog,
                             hs_relations **out);
/* Whether a thread waits for the relations another builds (a builder
 * paused by its progress callback must go on then). */
int hs_py_snapshot_relations_awaited(void *snap);

/* ---- model.c: the explorer over heapscope._explore.Model ------------------ */

/* Run the full-screen explorer with pymodel as its model, in this thread,
 * holding the GIL throughout.  main_tid: the main thread's native id (to
 * check it is parked), 0 if unknown.  0 when the user closed it; -1 when
 * it could not run, with one line saying why in err; -2 with an exception
 * set. */
int hs_py_run_explorer(PyObject *pymodel, long main_tid, char *err,
                       size_t errlen);
/* The explorer's own progress (C, no Python) when `tick` is the progress
 * callable the explorer hands its model; NULL otherwise.  Lets a walk show
 * progress and be cancelled without running Python code. */
const hs_progress *hs_py_model_progress(PyObject *tick);
/* memory_to_spare() -> bytes this process may still take without swapping
 * or meeting its cgroup's limit, or None when the system does not say;
 * read without letting go of the GIL. */
PyObject *hs_py_memory_to_spare(PyObject *module, PyObject *unused);

/* ---- hotkey.c ----------------------------------------------------------- */

/* The module functions behind heapscope.install() and uninstall():
 * hotkey_check_signal(signum) (ValueError if install would refuse it),
 * hotkey_install(signum, callback[, main thread ident]),
 * hotkey_uninstall() -> bool,
 * hotkey_after_fork() (in a forked child), hotkey_info() -> None or
 * (signum, installing pid, listening pid).  See hotkey.c. */
PyObject *hs_py_hotkey_check_signal(PyObject *module, PyObject *arg);
PyObject *hs_py_hotkey_install(PyObject *module, PyObject *args);
PyObject *hs_py_hotkey_uninstall(PyObject *module, PyObject *unused);
PyObject *hs_py_hotkey_after_fork(PyObject *module, PyObject *unused);
PyObject *hs_py_hotkey_info(PyObject *module, PyObject *unused);
PyObject *hs_py_hotkey_park_main_py(PyObject *module, PyObject *unused);
PyObject *hs_py_hotkey_unpark_main_py(PyObject *module, PyObject *unused);

/* For the explorer: call hs_py_hotkey_park_main() with the GIL held right
 * before a loop that keeps the GIL while it reads the terminal (hs_tui_run),
 * again on each idle tick of that loop, and hs_py_hotkey_unpark_main()
 * after it.  With a hotkey installed, a main thread blocked reading the
 * terminal (input(), the REPL) then waits for the GIL instead and does not
 * take the explorer's keys.  Anything that lets the GIL go meanwhile (I/O,
 * a collection running a finalizer, bytecode past the switch interval)
 * lets it back to its read until the next call.  Returns 1 if the main
 * thread was signalled; 0 when there is nothing to do (no hotkey, or
 * called from the main thread itself). */
int hs_py_hotkey_park_main(void);
void hs_py_hotkey_unpark_main(void);

/* ---- walker.c ----------------------------------------------------------- */

typedef struct hs_walk_opts {
    int hold_refs;              /* INCREF every object (sets hand them back) */
    int gc_objects;             /* also walk GC objects the root misses */
    PyTypeObject *const *hidden;  /* types whose instances are heapscope's */
    size_t nhidden;
    hs_roots_opts roots;
    PyObject *const *args;      /* objects the query was handed: in the */
    size_t nargs;               /* snapshot even if no root reaches them */
    size_t nodes_hint;          /* expected objects (presizes the arrays) */
    size_t edges_hint;          /* expected edges (0: from nodes_hint) */
    const hs_heapdefs *heapdefs;  /* types with their own size/traverse */
    /* Ticked every WALK_TICK objects, out of progress_total (the objects
     * expected, 0 if unknown); cancels the walk when it returns non-zero.
     * C only: it must run no Python code and keep the GIL (the explorer's,
     * hs_py_model_progress). */
    const hs_progress *progress;
    size_t progress_total;
    /* Earlier snapshots still alive: an object the collector tracks that
     * only they hold (the program dropped it, a set kept it) is
     * heapscope's, not one held by the program's C code. */
    const hs_graph *const *others;
    size_t nothers;
    /* A hidden type whose tp_traverse the walk never calls (the snapshot's
     * reports what it holds, for the collector). */
    PyTypeObject *opaque;
    /* 1: walk on this thread alone; 2: read objects here and intern on a
     * helper thread (walker.c); 0: two when the process has two cores.
     * The snapshot is the same either way. */
    int lanes;
} hs_walk_opts;

/* Walk the heap into a new graph.  0, or a negative HS_E* code (-HS_ECANCELED
 * when o->progress asked to stop) with nothing allocated and no reference
 * held.  No Python exception is set. */
int hs_py_walk(hs_graph **out, const hs_walk_opts *o);
/* Drop the references a walk with hold_refs took (may run finalizers). */
void hs_py_release(hs_graph *g);

#endif /* HS_PY_H */
