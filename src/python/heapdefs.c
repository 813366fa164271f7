/* heapdefs.c - find the NyHeapDef arrays loaded modules export.
 *
 * An extension written for heapy exports `_NyHeapDefs_`, a capsule
 * holding an array of NyHeapDef (include/heapscope/heapdef.h) ended by an
 * entry with a NULL type.  Before each walk the modules of sys.modules are
 * read for it with the public API; the walker and relate.c then look a
 * type up here.  Nothing here runs during the walk but hs_heapdefs_find.
 */
#include "hs_py.h"

#include <stdlib.h>
#include <string.h>

/* A definition array longer than this is taken for garbage. */
#define MAX_DEFS_PER_MODULE 4096

static int
def_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(const NyHeapDef *const *)a)->type;
    uintptr_t y = (uintptr_t)(*(const NyHeapDef *const *)b)->type;
    return (x > y) - (x < y);
}

static int
add_defs(hs_heapdefs *hd, size_t *cap, const NyHeapDef *defs)
{
    for (size_t k = 0; k < MAX_DEFS_PER_MODULE && defs[k].type != NULL;
         k++) {
        if (!PyType_Check((PyObject *)defs[k].type))
            continue;           /* not a type: never trust it */
        if (hd->n == *cap) {
            size_t c = *cap ? *cap * 2 : 8;
            const NyHeapDef **b = realloc(hd->defs, c * sizeof *b);
            if (b == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            hd->defs = b;
            *cap = c;
        }
        hd->defs[hd->n++] = &defs[k];
    }
    return 0;
}

int
hs_heapdefs_load(hs_heapdefs *hd)
{
    size_t cap = 0, ccap = 0;
    hd->defs = NULL;
    hd->n = 0;
    hd->capsules = NULL;
    hd->ncapsules = 0;
    PyObject *modules = PyImport_GetModuleDict();   /* borrowed */
    if (modules == NULL || !PyDict_Check(modules))
        return 0;
    Py_ssize_t pos = 0;
    PyObject *name, *mod;
    while (PyDict_Next(modules, &pos, &name, &mod)) {
        if (!PyModule_Check(mod))
            continue;
        PyObject *d = PyModule_GetDict(mod);
        if (d == NULL)
            continue;
        /* A str key lookup: str hashing and comparison are C code. */
        PyObject *cap_obj = PyDict_GetItemString(d, "_NyHeapDefs_");
        if (cap_obj == NULL || !PyCapsule_CheckExact(cap_obj))
            continue;
        const char *cname = PyCapsule_GetName(cap_obj);
        const NyHeapDef *defs = PyCapsule_GetPointer(cap_obj, cname);
        if (defs == NULL) {
            PyErr_Clear();
            continue;
        }
        /* A C array, not a list: a snapshot must create no Python object
         * the walk could then find. */
        if (hd->ncapsules == ccap) {
            size_t c = ccap ? ccap * 2 : 4;
            PyObject **b = realloc(hd->capsules, c * sizeof *b);
            if (b == NULL) {
                PyErr_NoMemory();
                hs_heapdefs_free(hd);
                return -1;
            }
            hd->capsules = b;
            ccap = c;
        }
        Py_INCREF(cap_obj);
        hd->capsules[hd->ncapsules++] = cap_obj;
        if (add_defs(hd, &cap, defs) < 0) {
            hs_heapdefs_free(hd);
            return -1;
        }
    }
    if (hd->n > 1)
        qsort(hd->defs, hd->n, sizeof *hd->defs, def_cmp);
    return 0;
}

void
hs_heapdefs_free(hs_heapdefs *hd)
{
    if (hd == NULL)
        return;
    free(hd->defs);
    hd->defs = NULL;
    hd->n = 0;
    for (size_t k = 0; k < hd->ncapsules; k++)
        Py_DECREF(hd->capsules[k]);
    free(hd->capsules);
    hd->capsules = NULL;
    hd->ncapsules = 0;
}

const NyHeapDef *
hs_heapdefs_find(const hs_heapdefs *hd, PyTypeObject *tp)
{
    if (hd == NULL || hd->n == 0)
        return NULL;
    size_t lo = 0, hi = hd->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)hd->defs[mid]->type < (uintptr_t)tp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < hd->n && hd->defs[lo]->type == tp ? hd->defs[lo] : NULL;
}
