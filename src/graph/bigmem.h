/* bigmem.h - the snapshot's big arrays, mapped directly (inside src/graph). */
#ifndef HS_GRAPH_BIGMEM_H
#define HS_GRAPH_BIGMEM_H

#include <stddef.h>
#include <stdint.h>

#include "heapscope/progress.h"

void *hs_big_alloc(size_t bytes);             /* zeroed; NULL on failure */
/* Resizing NULL allocates as hs_big_alloc_kept does. */
void *hs_big_resize(void *p, size_t old_bytes, size_t new_bytes);
void hs_big_free(void *p, size_t bytes);
/* A snapshot's arrays: allocated from what hs_memory_keep() keeps when it
 * can, and kept when freed if the limit allows (else unmapped). */
void *hs_big_alloc_kept(size_t bytes);
void hs_big_free_kept(void *p, size_t bytes);
/* Fault in the pages of [p, p + bytes) now, a step at a time, ticking prog
 * (what, done, total) before each step: for a thread that must give way
 * promptly (the explorer's worker pauses in its ticks while a key's call
 * runs), since the first touch of fresh pages at random would fault them
 * in between two ticks, tens of milliseconds on these machines.  0, or
 * -HS_ECANCELED when the tick said stop.  Without MADV_POPULATE_WRITE (an
 * older kernel) it does nothing: the pages come in as they are touched. */
int hs_big_populate(void *p, size_t bytes, const hs_progress *prog,
                    const char *what, uint64_t done, uint64_t total);
/* Give the pages past `used` bytes back to the system; the mapping keeps
 * its size (they read as zeros if touched again). */
void hs_big_trim(void *p, size_t used, size_t bytes);

/* Fault in up to HS_PREFAULT_MAX regions of big arrays in a helper thread,
 * writable, without changing a byte of them, so that the walk on the other
 * core does not pay the first touch of fresh memory itself.  Regions are
 * taken in the order given, the later ones side by side from their start
 * (arrays filled front to back).  Stop it (it joins) before any of them is
 * resized or freed.  NULL when it cannot run: nothing is lost.  With a
 * `prog` that may be ticked from any thread (else NULL), the helper ticks
 * it between steps: it pauses with it, and stops when told to. */
#define HS_PREFAULT_MAX 8
/* Below this many bytes of fresh memory a helper thread is not worth it. */
#define HS_PREFAULT_MIN ((size_t)16 << 20)
typedef struct hs_prefault hs_prefault;
hs_prefault *hs_big_prefault_start(void *const *ptr, const size_t *bytes,
                                   size_t n, size_t first_whole,
                                   const hs_progress *prog);
void hs_big_prefault_stop(hs_prefault *pf);
/* Whether pf's thread is still faulting pages in (0 for NULL). */
int hs_big_prefault_running(const hs_prefault *pf);

#endif
