/* heapscope/progress.h - progress and cancellation of long computations.
 *
 * Shared by the graph algorithms (src/graph), the explorer's model and the
 * TUI: whoever starts a long call passes an hs_progress; the callee calls
 * tick() now and then and gives up with -HS_ECANCELED when it returns
 * non-zero.  A NULL hs_progress, or a NULL tick, means "never cancelled".
 */
#ifndef HEAPSCOPE_PROGRESS_H
#define HEAPSCOPE_PROGRESS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* `what` names the work ("byrcs", "dominator tree"); total is 0 when
 * unknown.  Returns non-zero to cancel.  The callee calls tick from the
 * caller's thread only (or from one thread at a time: see explorer.h),
 * unless `any_thread` says it may be called from any (the explorer's
 * worker, whose tick pauses while a key's call runs): then the callee's
 * helper threads (one faulting pages in, say) tick too, and pause and
 * stop with it. */
typedef struct hs_progress {
    int (*tick)(void *arg, const char *what, uint64_t done, uint64_t total);
    void *arg;
    int any_thread;
} hs_progress;

static inline int
hs_progress_tick(const hs_progress *p, const char *what, uint64_t done,
                 uint64_t total)
{
    return p != NULL && p->tick != NULL && p->tick(p->arg, what, done, total);
}

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_PROGRESS_H */
