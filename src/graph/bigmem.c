/* bigmem.c - memory for the snapshot's big arrays.
 *
 * The walk touches every page of its arrays once, and on these machines the
 * first touch of a fresh 4 KiB page costs ~8 us: with transparent huge pages
 * one fault brings in 2 MiB.  So the arrays are mapped directly, advised as
 * huge-page candidates from the start, and grown with mremap, which moves
 * page tables instead of copying and keeps the pages already touched.
 *
 * A snapshot's arrays given back are kept for the next ones while a limit
 * allows (the pool, below): a page the system has to find afresh costs 10
 * to 20 times what reusing a kept one costs here, since a virtual
 * machine's host takes back what its guest frees within a second or two.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigmem.h"
#include "heapscope/graph.h"

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

static void *
map_fresh(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    advise(p, len);
    return p;
}

/* ---- the pool -------------------------------------------------------------
 *
 * A snapshot's arrays (graph and relations: hs_big_alloc_kept and
 * hs_big_free_kept) and big scratch blocks (a set's ids, a partition's
 * keys), of POOL_MIN bytes or more, kept whole when freed (their pages
 * stay the process's) up to `limit` bytes in all; 0 keeps nothing.  A
 * user who asks for a new heap() at the prompt frees the last one after
 * the walk, and the next walk, seconds or minutes later, finds its arrays
 * and its set's ids ready: none of its pages is faulted in afresh, which
 * leaves the other core to the walk's second lane.
 *
 * A block is served from the smallest kept mapping that holds it (the rest
 * of that mapping stays kept), or else from the largest, grown with
 * mremap.  It must read as zeros: the pages still there are cleared in
 * place (mincore tells which), the others (a trimmed tail) read as zeros
 * already.  Clearing a page kept costs a fifth of what dropping it
 * (MADV_DONTNEED) and faulting it back in costs here, even right away.
 * One lock: blocks are freed from worker threads too. */
#define POOL_MIN HUGE_PAGE
#define POOL_SLOTS 64

static struct {
    pthread_mutex_t lock;
    size_t limit, bytes, n;
    char *ptr[POOL_SLOTS];
    size_t len[POOL_SLOTS];
} pool = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, {NULL}, {0}};

/* A fork while another thread holds the lock must not leave the child's
 * pool locked for good: the lock is taken around fork. */
static void
pool_prepare(void)
{
    pthread_mutex_lock(&pool.lock);
}

static void
pool_release(void)
{
    pthread_mutex_unlock(&pool.lock);
}

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_at_fork(void)
{
    (void)pthread_atfork(pool_prepare, pool_release, pool_release);
}

static void
pool_lock(void)
{
    pthread_once(&pool_once, pool_at_fork);
    pthread_mutex_lock(&pool.lock);
}

static void
pool_drop(size_t k)
{
    pool.bytes -= pool.len[k];
    pool.n--;
    pool.ptr[k] = pool.ptr[pool.n];
    pool.len[k] = pool.len[pool.n];
}

/* Unmap kept mappings, the smallest first (a big one can serve several
 * blocks), until at most `keep` bytes in at most `slots` mappings are
 * kept.  Called with the lock held. */
static void
pool_shrink(size_t keep, size_t slots)
{
    while ((pool.bytes > keep || pool.n > slots) && pool.n > 0) {
        size_t small = 0;
        for (size_t k = 1; k < pool.n; k++)
            if (pool.len[k] < pool.len[small])
                small = k;
        (void)munmap(pool.ptr[small], pool.len[small]);
        pool_drop(small);
    }
}

/* Make [p, p + len) read as zeros, touching only the pages in memory. */
static void
zero_kept(char *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), npages = len / page;
    unsigned char *in = malloc(npages ? npages : 1);
    if (in == NULL || mincore(p, len, in) != 0) {
        free(in);
        (void)madvise(p, len, MADV_DONTNEED);
        return;
    }
    for (size_t i = 0; i < npages;) {
        if (!(in[i] & 1)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < npages && (in[j] & 1))
            j++;
        memset(p + i * page, 0, (j - i) * page);
        i = j;
    }
    free(in);
}

/* A zeroed mapping of len bytes from the pool, or NULL. */
static void *
pool_take(size_t len)
{
    char *p = NULL;
    pool_lock();
    size_t best = pool.n, big = pool.n;
    for (size_t k = 0; k < pool.n; k++) {
        if (pool.len[k] >= len &&
            (best == pool.n || pool.len[k] < pool.len[best]))
            best = k;
        if (big == pool.n || pool.len[k] > pool.len[big])
            big = k;
    }
    if (best < pool.n) {
        p = pool.ptr[best];
        size_t have = pool.len[best];
        pool_drop(best);
        if (have - len >= POOL_MIN && pool.n < POOL_SLOTS) {
            pool.ptr[pool.n] = p + len;      /* the rest stays kept */
            pool.len[pool.n++] = have - len;
            pool.bytes += have - len;
        } else if (have > len) {
            (void)munmap(p + len, have - len);
        }
        zero_kept(p, len);
    } else if (big < pool.n) {
        char *old = pool.ptr[big];
        size_t have = pool.len[big];
        pool_drop(big);
        zero_kept(old, have);
        void *q = mremap(old, have, len, MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            (void)munmap(old, have);
        else
            p = q;
    }
    pthread_mutex_unlock(&pool.lock);
    if (p != NULL)
        advise(p, len);
    return p;
}

/* Keep mapping [p, p + len) if the limit allows; 1 if kept. */
static int
pool_keep(void *p, size_t len)
{
    int kept = 0;
    pool_lock();
    if (len >= POOL_MIN && len <= pool.limit) {
        pool_shrink(pool.limit - len, POOL_SLOTS - 1);     /* make room */
        pool.ptr[pool.n] = p;
        pool.len[pool.n++] = len;
        pool.bytes += len;
        kept = 1;
    }
    pthread_mutex_unlock(&pool.lock);
    return kept;
}

void
hs_memory_keep(size_t bytes)
{
    pool_lock();
    pool.limit = bytes;
    pool_shrink(bytes, POOL_SLOTS);
    pthread_mutex_unlock(&pool.lock);
}

size_t
hs_memory_kept(void)
{
    pool_lock();
    size_t b = pool.bytes;
    pthread_mutex_unlock(&pool.lock);
    return b;
}

void *
hs_big_alloc(size_t bytes)
{
    return map_fresh(round_pages(bytes));
}

/* len bytes (whole pages), from the pool when it can (*fresh = 0). */
static void *
alloc_kept(size_t len, int *fresh)
{
    void *p = len >= POOL_MIN ? pool_take(len) : NULL;
    *fresh = p == NULL;
    return p != NULL ? p : map_fresh(len);
}

void *
hs_big_alloc_kept(size_t bytes)
{
    int fresh;
    return alloc_kept(round_pages(bytes), &fresh);
}

void *
hs_big_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL)
        return hs_big_alloc_kept(new_bytes);
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
hs_big_trim(void *p, size_t used, size_t bytes)
{
    size_t from = round_pages(used), len = round_pages(bytes);
    if (p != NULL && from < len)
        (void)madvise((char *)p + from, len - from, MADV_DONTNEED);
}

void
hs_big_free(void *p, size_t bytes)
{
    if (p != NULL)
        (void)munmap(p, round_pages(bytes));
}

void
hs_big_free_kept(void *p, size_t bytes)
{
    size_t len = round_pages(bytes);
    if (p != NULL && !pool_keep(p, len))
        (void)munmap(p, len);
}

/* ---- prefaulting ---------------------------------------------------------
 *
 * On these VMs the first write to a fresh page costs more than the walk's
 * own work on it (a third of a first walk was the kernel clearing pages).
 * MADV_POPULATE_WRITE (Linux 5.14) faults pages in as a write would, but
 * writes nothing, so it may run while the walker fills the same pages. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PREFAULT_CHUNK ((size_t)4 << 20)

struct hs_prefault {
    pthread_t thread;
    atomic_int stop;
    atomic_int running;         /* until prefault_main returns */
    size_t n, first_whole;
    const hs_progress *prog;    /* ticked between steps, or NULL */
    char *ptr[HS_PREFAULT_MAX];
    size_t len[HS_PREFAULT_MAX];
};

/* Fault in [p, p + len) of region k, from offset *done on. */
static int
populate(struct hs_prefault *pf, size_t k, size_t *done, size_t upto)
{
    while (*done < upto) {
        if (atomic_load(&pf->stop) ||
            hs_progress_tick(pf->prog, "faulting in", *done, pf->len[k]))
            return -1;
        size_t len = upto - *done < PREFAULT_CHUNK ? upto - *done
                                                   : PREFAULT_CHUNK;
        if (madvise(pf->ptr[k] + *done, len, MADV_POPULATE_WRITE) != 0)
            return -1;          /* an older kernel, or no memory: stop */
        *done += len;
    }
    return 0;
}

static void
prefault_all(struct hs_prefault *pf)
{
    size_t done[HS_PREFAULT_MAX] = {0};
    for (size_t k = 0; k < pf->first_whole; k++)
        if (populate(pf, k, &done[k], pf->len[k]) < 0)
            return;
    /* the rest side by side, in steps of the same share of each (whole
     * pages: madvise takes nothing else) */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (size_t step = 1; step <= 64; step++)
        for (size_t k = pf->first_whole; k < pf->n; k++)
            if (populate(pf, k, &done[k],
                         (pf->len[k] / 64 * step) & ~(page - 1)) < 0)
                return;
    for (size_t k = pf->first_whole; k < pf->n; k++)
        if (populate(pf, k, &done[k], pf->len[k]) < 0)
            return;
}

static void *
prefault_main(void *arg)
{
    struct hs_prefault *pf = arg;
    prefault_all(pf);
    atomic_store(&pf->running, 0);
    return NULL;
}

int
hs_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int started = pthread_create(th, NULL, fn, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

hs_prefault *
hs_big_prefault_start(void *const *ptr, const size_t *bytes, size_t n,
                      size_t first_whole, const hs_progress *prog)
{
    if (n > HS_PREFAULT_MAX)
        n = HS_PREFAULT_MAX;
    struct hs_prefault *pf = calloc(1, sizeof *pf);
    if (pf == NULL)
        return NULL;
    pf->n = n;
    pf->first_whole = first_whole < n ? first_whole : n;
    pf->prog = prog != NULL && prog->any_thread ? prog : NULL;
    for (size_t k = 0; k < n; k++) {
        pf->ptr[k] = ptr[k];
        /* whole pages only: the mapping ends on one */
        pf->len[k] = ptr[k] != NULL ? round_pages(bytes[k]) : 0;
    }
    atomic_init(&pf->stop, 0);
    atomic_init(&pf->running, 1);
    if (!hs_thread_start(&pf->thread, prefault_main, pf)) {
        free(pf);
        return NULL;
    }
    return pf;
}

int
hs_big_prefault_running(const hs_prefault *pf)
{
    return pf != NULL && atomic_load(&pf->running);
}

void
hs_big_prefault_stop(hs_prefault *pf)
{
    if (pf == NULL)
        return;
    atomic_store(&pf->stop, 1);
    pthread_join(pf->thread, NULL);
    free(pf);
}

/* One huge page a step: a few milliseconds at most here. */
#define POPULATE_STEP HUGE_PAGE

int
hs_big_populate(void *p, size_t bytes, const hs_progress *prog,
                const char *what, uint64_t done, uint64_t total)
{
    size_t len = p != NULL ? round_pages(bytes) : 0;
    for (size_t at = 0; at < len; at += POPULATE_STEP) {
        if (hs_progress_tick(prog, what, done, total))
            return -HS_ECANCELED;
        size_t n = len - at < POPULATE_STEP ? len - at : POPULATE_STEP;
        if (madvise((char *)p + at, n, MADV_POPULATE_WRITE) != 0)
            return 0;           /* an older kernel, or no memory: as touched */
    }
    return 0;
}

/* ---- scratch ---------------------------------------------------------------
 *
 * A scratch block starts with this header, the caller's bytes after it. */
typedef struct scratch_head {
    size_t bytes;              /* the whole block */
    hs_prefault *pf;
    char pad[64 - sizeof(size_t) - sizeof(hs_prefault *)];
} scratch_head;

void *
hs_scratch_new(size_t bytes)
{
    if (bytes > SIZE_MAX - sizeof(scratch_head))
        return NULL;
    bytes += sizeof(scratch_head);
    int big = bytes >= HS_PREFAULT_MIN;      /* else malloc's own memory */
    int fresh = 0;
    if (big)
        bytes = round_pages(bytes);
    scratch_head *h = big ? alloc_kept(bytes, &fresh) : calloc(1, bytes);
    if (h == NULL)
        return NULL;
    h->bytes = bytes;
    h->pf = NULL;
    if (fresh) {
        void *ptr[] = {h};
        h->pf = hs_big_prefault_start(ptr, &bytes, 1, 1, NULL);
    }
    return h + 1;
}

void
hs_scratch_trim(void *p, size_t used)
{
    if (p == NULL)
        return;
    scratch_head *h = (scratch_head *)p - 1;
    if (h->bytes < HS_PREFAULT_MIN)
        return;
    /* what is not faulted in yet never needs to be */
    hs_big_prefault_stop(h->pf);
    h->pf = NULL;
    hs_big_trim(h, sizeof *h + used, h->bytes);
}

void
hs_scratch_free(void *p)
{
    if (p == NULL)
        return;
    scratch_head *h = (scratch_head *)p - 1;
    if (h->bytes < HS_PREFAULT_MIN) {
        free(h);
        return;
    }
    hs_big_prefault_stop(h->pf);
    hs_big_free_kept(h, h->bytes);
}

/* ---- tables read before they are written ----------------------------------
 *
 * Zeroed by writing every page now (see graph.h): calloc would leave fresh
 * pages to be mapped as the zero page by a first read. */
void *
hs_table_alloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = malloc(n * size + (n * size == 0));
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}
