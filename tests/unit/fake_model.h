/* tests/unit/fake_model.h - a deterministic explorer model (explorer.h)
 * for the TUI's tests and tui_demo: heapy-like sets made up from their
 * expressions, with knobs for slowness, failures and background work.
 *
 * Pure C, no heap snapshot: the same expression always gives the same
 * rows.  It also watches the TUI: views leaked or used after release,
 * calls made from inside a tick(), model strings used after they expired
 * (it scribbles over them on every call that takes the view).
 */
#ifndef HS_FAKE_MODEL_H
#define HS_FAKE_MODEL_H

#include <stdint.h>

#include "heapscope/explorer.h"

typedef struct fake_model {
    hs_model base;              /* first: a fake_model * is an hs_model * */

    /* knobs */
    uint64_t root_count, root_size;
    int fail_next;              /* the next call that can fail, fails */
    char fail_msg[128];
    int ticks;                  /* long calls tick() this many times */
    uint64_t *clock;            /* a test's clock, moved tick_ms a tick */
    unsigned tick_ms;
    unsigned tick_sleep_us;     /* really wait this long a tick (demo) */
    int dom_polls;              /* polls before dominated sizes are ready;
                                   -1: never available (HS_DOM_NONE) */
    int tracemalloc;            /* 0: the allocation-site relation fails */
    size_t id_rows;             /* rows of a byid view (0: 2000) */
    int prepare_jobs;           /* pieces of work ahead left (prepare) */
    int prepare_ticks;          /* ticks each piece takes */

    /* what the TUI did */
    int live_views;
    int views_made;
    int in_call;
    int reentrant;              /* calls made while another was running */
    int cancels, marks, polls;
    int cancelled_calls;        /* calls whose tick() said cancel */
    int prepare_calls;          /* prepare() calls */
    int prepared;               /* pieces of work ahead done */
    int prepare_stopped;        /* prepare() calls a key stopped */
    int inspects;

    /* state */
    int dom_started, dom_polled, dom_ready;
    int snapshot;
    char err[256];
    char status[96];
} fake_model;

void fake_model_init(fake_model *fm);

/* Rows of a view as the fake makes them, for tests to compute what the
 * TUI should show: the row at position i in the current order. */
typedef struct fake_row {
    uint64_t count, size, dominated;
    size_t index;
} fake_row;
int fake_view_row(hs_view *v, size_t i, fake_row *out);

#endif
