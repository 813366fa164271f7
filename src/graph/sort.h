/* sort.h - radix sorts shared inside src/graph (not part of the public API). */
#ifndef HS_GRAPH_SORT_H
#define HS_GRAPH_SORT_H

#include <stddef.h>
#include <stdint.h>

int hs_sort_u32(uint32_t *a, size_t n);   /* 0 or -HS_ENOMEM */
int hs_sort_u64(uint64_t *a, size_t n);
/* Sort a[0..*n) and drop duplicates in place; *n becomes the distinct
 * count.  0 or -HS_ENOMEM (a untouched). */
int hs_sort_unique_u32(uint32_t *a, size_t *n);

#endif
