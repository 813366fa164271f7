/* heapscope/prefetch.h - prefetches the compiler keeps.
 *
 * The walk and the partitions are bound by memory latency, and much of
 * their speed is prefetching: fetching what a later step will read while
 * this one works.  GCC counts __builtin_prefetch as no effect at all, so
 * it takes a helper function that only prefetches for one without effects
 * and deletes the calls to it (hs_graph_intern_batch's prefetches were
 * never compiled in).  hs_prefetch() pairs the builtin with an empty
 * volatile asm that uses the address: an effect to the compiler, no
 * instruction to the processor.  Use it for every prefetch.
 */
#ifndef HEAPSCOPE_PREFETCH_H
#define HEAPSCOPE_PREFETCH_H

/* Fetch the cache line at p for reading. */
#define hs_prefetch(p)                                                     \
    do {                                                                   \
        const void *hs_pf_ = (const void *)(p);                            \
        __builtin_prefetch(hs_pf_);                                        \
        __asm__ __volatile__("" : : "r"(hs_pf_));                          \
    } while (0)

/* The same, for writing: the line comes in owned, so a store to it (or a
 * locked update) does not wait for it again. */
#define hs_prefetch_w(p)                                                   \
    do {                                                                   \
        const void *hs_pf_ = (const void *)(p);                            \
        __builtin_prefetch(hs_pf_, 1);                                     \
        __asm__ __volatile__("" : : "r"(hs_pf_));                          \
    } while (0)

#endif /* HEAPSCOPE_PREFETCH_H */
