/* images.c - address ranges of the loaded ELF images.
 *
 * An object whose address falls inside the executable, libpython or an
 * extension module was never allocated on the heap (None, small ints and
 * static types on 3.11+, deep-frozen code on 3.11/3.12): the snapshot marks
 * it static instead of counting it.  Read once per snapshot with
 * dl_iterate_phdr, looked up by binary search behind a cache of the gaps
 * between images that heap objects lie in.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "hs_py.h"

#include <link.h>
#include <stdlib.h>

typedef struct {
    uintptr_t *lo, *hi;
    size_t n, cap;
    int failed;
} collect;

static int
add_range(collect *c, uintptr_t lo, uintptr_t hi)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uintptr_t *a = realloc(c->lo, cap * sizeof *a);
        if (a == NULL)
            return -1;
        c->lo = a;
        uintptr_t *b = realloc(c->hi, cap * sizeof *b);
        if (b == NULL)
            return -1;
        c->hi = b;
        c->cap = cap;
    }
    c->lo[c->n] = lo;
    c->hi[c->n++] = hi;
    return 0;
}

static int
on_image(struct dl_phdr_info *info, size_t size, void *arg)
{
    collect *c = arg;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (add_range(c, lo, lo + ph->p_memsz) < 0) {
            c->failed = 1;
            return 1;
        }
    }
    return 0;
}

static int
range_cmp(const void *a, const void *b)
{
    const uintptr_t *x = a, *y = b;
    return (*x > *y) - (*x < *y);
}

int
hs_images_load(hs_images *im)
{
    collect c = {0};
    dl_iterate_phdr(on_image, &c);
    if (c.failed) {
        free(c.lo);
        free(c.hi);
        return -1;
    }
    /* Sort by start, keeping each end with its start. */
    uintptr_t *pairs = malloc((c.n + 1) * 2 * sizeof *pairs);
    if (pairs == NULL) {
        free(c.lo);
        free(c.hi);
        return -1;
    }
    for (size_t i = 0; i < c.n; i++) {
        pairs[2 * i] = c.lo[i];
        pairs[2 * i + 1] = c.hi[i];
    }
    qsort(pairs, c.n, 2 * sizeof *pairs, range_cmp);
    /* Merged where they overlap or touch (the segments of one image
     * often do), so an address outside all of them lies in a gap. */
    size_t n = 0;
    for (size_t i = 0; i < c.n; i++) {
        uintptr_t lo = pairs[2 * i], hi = pairs[2 * i + 1];
        if (n > 0 && lo <= c.hi[n - 1]) {
            if (hi > c.hi[n - 1])
                c.hi[n - 1] = hi;
            continue;
        }
        c.lo[n] = lo;
        c.hi[n++] = hi;
    }
    free(pairs);
    im->lo = c.lo;
    im->hi = c.hi;
    im->n = n;
    im->gap_lo[0] = im->gap_lo[1] = 0;
    im->gap_len[0] = im->gap_len[1] = 0;
    return 0;
}

void
hs_images_free(hs_images *im)
{
    free(im->lo);
    free(im->hi);
    im->lo = im->hi = NULL;
    im->n = 0;
    im->gap_len[0] = im->gap_len[1] = 0;
}

int
hs_images_search(hs_images *im, uintptr_t a)
{
    size_t lo = 0, hi = im->n;
    /* Last range starting at or below a. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (im->lo[mid] <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && a < im->hi[lo - 1])
        return 1;
    /* In the gap between range lo - 1 and range lo: remembered, the one
     * remembered before kept as second. */
    uintptr_t from = lo > 0 ? im->hi[lo - 1] : 0;
    uintptr_t to = lo < im->n ? im->lo[lo] : UINTPTR_MAX;
    im->gap_lo[1] = im->gap_lo[0];
    im->gap_len[1] = im->gap_len[0];
    im->gap_lo[0] = from;
    im->gap_len[0] = to - from;
    return 0;
}
