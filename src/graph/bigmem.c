/* bigmem.c - memory for the snapshot's big arrays.
 *
 * The walk touches every page of its arrays once, and on these machines the
 * first touch of a fresh 4 KiB page costs ~8 us: with transparent huge pages
 * one fault brings in 2 MiB.  So the arrays are mapped directly, advised as
 * huge-page candidates from the start, and grown with mremap, which moves
 * page tables instead of copying and keeps the pages already touched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigmem.h"

#define HUGE_PAGE ((size_t)2 << 20)

static size_t
round_pages(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (bytes == 0)
        bytes = 1;
    return (bytes + page - 1) & ~(page - 1);
}

static void
advise(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (bytes >= HUGE_PAGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

void *
hs_big_alloc(size_t bytes)
{
    size_t len = round_pages(bytes);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    advise(p, len);
    return p;
}

void *
hs_big_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL)
        return hs_big_alloc(new_bytes);
    size_t olen = round_pages(old_bytes), nlen = round_pages(new_bytes);
    if (olen == nlen)
        return p;
    void *q = mremap(p, olen, nlen, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
    advise(q, nlen);
    return q;
}

void
hs_big_free(void *p, size_t bytes)
{
    if (p != NULL)
        (void)munmap(p, round_pages(bytes));
}
