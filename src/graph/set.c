/* set.c - node sets: sorted arrays of distinct node ids, and their algebra.
 *
 * Sorted arrays make every operation a linear merge and keep a set as small
 * as it can be (4 bytes per member).  Also home of the radix sorts the rest
 * of src/graph uses.  Pure C, no Python.h.
 */
#include <stdlib.h>
#include <string.h>

#include "heapscope/graph.h"
#include "sort.h"

/* LSD radix sort, 16-bit digits; passes where every key has the same digit
 * are skipped, so small ids cost one or two passes. */
int
hs_sort_u32(uint32_t *a, size_t n)
{
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > v; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return 0;
    }
    uint32_t *tmp = hs_scratch_new(n * sizeof *tmp);   /* fresh: faulted in aside */
    size_t *cnt = malloc(65536 * sizeof *cnt);
    if (tmp == NULL || cnt == NULL) {
        hs_scratch_free(tmp);
        free(cnt);
        return -HS_ENOMEM;
    }
    uint32_t *src = a, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 16) {
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> shift) & 0xFFFF]++;
        if (cnt[(src[0] >> shift) & 0xFFFF] == n)
            continue;
        size_t sum = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 0xFFFF]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    hs_scratch_free(tmp);
    free(cnt);
    return 0;
}

/* LSD radix sort of n >= 1 keys by bits lo .. hi-1, `digit` bits a pass;
 * stable, and passes where every key has the same digit are skipped. */
static int
radix_u64(uint64_t *a, size_t n, unsigned lo, unsigned hi, unsigned digit)
{
    size_t buckets = (size_t)1 << digit;
    uint64_t *tmp = hs_scratch_new(n * sizeof *tmp);   /* fresh: faulted in aside */
    size_t *cnt = malloc(buckets * sizeof *cnt);
    if (tmp == NULL || cnt == NULL) {
        hs_scratch_free(tmp);
        free(cnt);
        return -HS_ENOMEM;
    }
    uint64_t *src = a, *dst = tmp;
    for (unsigned shift = lo; shift < hi; shift += digit) {
        /* (the last digit stops at hi) */
        uint64_t mask = hi - shift < digit ? ((uint64_t)1 << (hi - shift)) - 1
                                           : buckets - 1;
        memset(cnt, 0, buckets * sizeof *cnt);
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> shift) & mask]++;
        if (cnt[(src[0] >> shift) & mask] == n)
            continue;
        size_t sum = 0;
        for (size_t d = 0; d < buckets; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & mask]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    hs_scratch_free(tmp);
    free(cnt);
    return 0;
}

int
hs_sort_u64(uint64_t *a, size_t n)
{
    if (n < 64) {
        for (size_t i = 1; i < n; i++) {
            uint64_t v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > v; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return 0;
    }
    return radix_u64(a, n, 0, 64, 16);
}

int
hs_sort_u64_bits(uint64_t *a, size_t n, unsigned lo, unsigned hi)
{
    if (hi > 64)
        hi = 64;
    if (n < 2 || lo >= hi)
        return 0;
    /* digits of at most 12 bits: a pass writes to at most 4096 places,
     * which the caches can follow (16-bit digits scatter to 65536) */
    unsigned width = hi - lo, passes = (width + 11) / 12;
    return radix_u64(a, n, lo, hi, (width + passes - 1) / passes);
}

int
hs_sort_unique_u32(uint32_t *a, size_t *n)
{
    size_t m = *n;
    if (m == 0)
        return 0;
    /* Already sorted input (the common case: members of another set) needs
     * no sort. */
    size_t i = 1;
    while (i < m && a[i - 1] < a[i])
        i++;
    if (i < m && hs_sort_u32(a, m) < 0)
        return -HS_ENOMEM;
    size_t w = 1;
    for (size_t r = 1; r < m; r++)
        if (a[r] != a[w - 1])
            a[w++] = a[r];
    *n = w;
    return 0;
}

int
hs_set_from_ids(hs_set *out, const hs_id *ids, size_t n)
{
    out->ids = NULL;
    out->n = 0;
    if (n == 0)
        return 0;
    hs_id *a = hs_set_alloc(n);
    if (a == NULL)
        return -HS_ENOMEM;
    memcpy(a, ids, n * sizeof *a);
    return hs_set_adopt(out, a, n, 1);
}

int
hs_set_adopt(hs_set *out, hs_id *ids, size_t n, int sort)
{
    out->ids = NULL;
    out->n = 0;
    if (sort && hs_sort_unique_u32(ids, &n) < 0) {
        hs_set_ids_free(ids);
        return -HS_ENOMEM;
    }
    if (n == 0) {
        hs_set_ids_free(ids);
        return 0;
    }
    hs_set_ids_trim(ids, n);
    out->ids = ids;
    out->n = n;
    return 0;
}

hs_id *
hs_set_alloc(size_t n)
{
    if (n > (SIZE_MAX >> 3))
        return NULL;
    return hs_scratch_new((n ? n : 1) * sizeof(hs_id));
}

void
hs_set_ids_trim(hs_id *ids, size_t n)
{
    hs_scratch_trim(ids, n * sizeof *ids);
}

void
hs_set_ids_free(hs_id *ids)
{
    hs_scratch_free(ids);
}

void
hs_set_free(hs_set *s)
{
    hs_set_ids_free(s->ids);
    s->ids = NULL;
    s->n = 0;
}

int
hs_set_contains(const hs_set *s, hs_id id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->ids[lo] == id;
}

int
hs_set_op(hs_set *out, const hs_set *a, const hs_set *b, enum hs_setop op)
{
    size_t cap = (op == HS_OR || op == HS_XOR) ? a->n + b->n
               : (op == HS_AND ? (a->n < b->n ? a->n : b->n) : a->n);
    out->ids = NULL;
    out->n = 0;
    if (cap == 0)
        return 0;
    hs_id *r = hs_set_alloc(cap);
    if (r == NULL)
        return -HS_ENOMEM;
    size_t i = 0, j = 0, w = 0;
    const int keep_a = (op != HS_AND), keep_b = (op == HS_OR || op == HS_XOR),
              keep_both = (op == HS_OR || op == HS_AND);
    while (i < a->n && j < b->n) {
        hs_id x = a->ids[i], y = b->ids[j];
        if (x < y) {
            if (keep_a)
                r[w++] = x;
            i++;
        } else if (y < x) {
            if (keep_b)
                r[w++] = y;
            j++;
        } else {
            if (keep_both)
                r[w++] = x;
            i++;
            j++;
        }
    }
    if (keep_a)
        while (i < a->n)
            r[w++] = a->ids[i++];
    if (keep_b)
        while (j < b->n)
            r[w++] = b->ids[j++];
    return hs_set_adopt(out, r, w, 0);      /* sorted and distinct */
}

int
hs_set_le(const hs_set *a, const hs_set *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && b->ids[j] < a->ids[i])
            j++;
        if (j == b->n || b->ids[j] != a->ids[i])
            return 0;
        j++;
    }
    return 1;
}

uint64_t
hs_set_size(const hs_graph *g, const hs_set *s)
{
    uint64_t t = 0;
    for (size_t i = 0; i < s->n; i++)
        t += hs_graph_size(g, s->ids[i]);
    return t;
}
