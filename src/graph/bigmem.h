/* bigmem.h - the snapshot's big arrays, mapped directly (inside src/graph). */
#ifndef HS_GRAPH_BIGMEM_H
#define HS_GRAPH_BIGMEM_H

#include <stddef.h>

void *hs_big_alloc(size_t bytes);             /* zeroed; NULL on failure */
void *hs_big_resize(void *p, size_t old_bytes, size_t new_bytes);
void hs_big_free(void *p, size_t bytes);

#endif
