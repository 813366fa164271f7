/* heapscope/heapdef.h - how an extension type describes itself to heapscope.
 *
 * The same binary interface as guppy/heapy's NyHeapDef, so an extension
 * written for heapy works with heapscope unchanged: a module exports an
 * attribute `_NyHeapDefs_`, a PyCapsule (any name) whose pointer is an
 * array of NyHeapDef ending with an entry whose `type` is NULL.  For each
 * described type heapscope then uses:
 *
 *   size      the bytes one instance occupies, private buffers included
 *             (default: computed from the type's layout);
 *   traverse  the objects an instance holds (default: tp_traverse); it
 *             may report objects tp_traverse leaves out, e.g. a private
 *             string the collector need not know about;
 *   relate    how an instance holds a given object, for byvia and paths:
 *             call visit() once per reference with an NYHR_* kind and a
 *             new reference to the "relator" (a name, a key, an index).
 *
 * The callbacks are called while heapscope walks the heap: they must not
 * run Python code, allocate Python objects (relate's relator excepted), or
 * change the object.  Include after Python.h.  `pkg-config --cflags
 * heapscope` gives the include path once heapscope is installed.
 */
#ifndef HEAPSCOPE_HEAPDEF_H
#define HEAPSCOPE_HEAPDEF_H

#include <Python.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What traverse() is given: call visit(obj_held, arg) for each object the
 * instance `obj` holds, as a tp_traverse visitproc would be called. */
typedef struct {
    int flags;               /* 0 for now */
    PyObject *hv;            /* NULL in heapscope (heapy: its HeapView) */
    PyObject *obj;           /* the instance to traverse */
    void *arg;               /* pass to visit() */
    visitproc visit;
    PyObject *_hiding_tag_;  /* NULL in heapscope */
} NyHeapTraverse;

/* What relate() is given: report each way `src` refers to `tgt`. */
typedef struct NyHeapRelate {
    int flags;               /* 0 for now */
    PyObject *hv;            /* NULL in heapscope */
    PyObject *src;           /* the instance */
    PyObject *tgt;           /* the object it may refer to */
    /* Call once per reference from src to tgt; `relator` is a new
     * reference (heapscope releases it).  A non-zero return means stop
     * reporting and return. */
    int (*visit)(unsigned int relatype, PyObject *relator,
                 struct NyHeapRelate *arg);
} NyHeapRelate;

/* Kinds of reference, and how heapscope names them (for tgt in src):
 *   NYHR_ATTRIBUTE  src.<relator> is tgt                 ".name"
 *   NYHR_INDEXVAL   src[<relator>] is tgt                "['key']", "[3]"
 *   NYHR_INDEXKEY   src has key tgt; relator: position    ".keys()[3]"
 *   NYHR_INTERATTR  a C field named <relator> is tgt     "->name"
 *   NYHR_HASATTR    src has attribute named tgt          ".__dict__.keys()['x']"
 *   NYHR_LOCAL_VAR  src (a frame) has local <relator>    ".f_locals['x']"
 *   NYHR_CELL       src has cell variable <relator>      ".f_locals ['x']"
 *   NYHR_STACK      src has stack entry number <relator> "->f_valuestack[2]"
 *   NYHR_INSET      src is a set holding tgt, <relator> its position
 *                                                        "list(_)[2]"
 *   NYHR_RELSRC     <relator> % src names the relation
 * Codes are NYHR_LIMIT and above are not defined. */
#define NYHR_ATTRIBUTE 1
#define NYHR_INDEXVAL  2
#define NYHR_INDEXKEY  3
#define NYHR_INTERATTR 4
#define NYHR_HASATTR   5
#define NYHR_LOCAL_VAR 6
#define NYHR_CELL      7
#define NYHR_STACK     8
#define NYHR_INSET     9
#define NYHR_RELSRC    10
#define NYHR_LIMIT     11

typedef size_t (*NyHeapDef_SizeGetter)(PyObject *obj);
typedef int (*NyHeapDef_Traverser)(NyHeapTraverse *arg);
typedef int (*NyHeapDef_RelationGetter)(NyHeapRelate *r);

/* One described type.  Any of size, traverse, relate may be NULL. */
typedef struct {
    int flags;                          /* 0 for now */
    PyTypeObject *type;                 /* NULL ends the array */
    NyHeapDef_SizeGetter size;
    NyHeapDef_Traverser traverse;
    NyHeapDef_RelationGetter relate;
    void *resv3, *resv4, *resv5;        /* reserved: NULL */
} NyHeapDef;

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_HEAPDEF_H */
