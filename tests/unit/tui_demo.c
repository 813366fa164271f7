/* tests/unit/tui_demo.c - try the explorer by hand, over the fake model:
 *     tests/unit/tui_demo [--slow] [--tracemalloc]
 * --slow makes every model call take about a second (progress line, Esc
 * cancels).  The dominated sizes fill in over about two seconds.
 *     tests/unit/tui_demo --bench N
 * times N key presses (j) and redraws of a 200x60 table, no terminal.
 *
 * A test aid, not installed; it prints the explorer's error, if any, on
 * stderr and exits 1.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_model.h"
#include "heapscope/tui.h"
#include "../../tui/tui_int.h"

static int
no_key(void *arg, hs_canvas *c, int timeout_ms)
{
    return HS_K_NONE;
}

static void
no_flush(void *arg, const hs_canvas *c)
{
}

static void
no_repaint(void *arg)
{
}

static uint64_t
clock_ms(void *arg)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The cost of the state machine and the drawing alone: a key, then a
 * full redraw of a big screen of a 2000-row view (the fake model's
 * calls are cheap, so this is the TUI's own time). */
static int
bench(int n)
{
    hs_tui_io io = {no_key, no_flush, no_repaint, clock_ms, NULL};
    struct timespec a, b;
    fake_model fm;
    hs_tui t;
    double us;

    fake_model_init(&fm);
    fm.dom_ready = 1;
    if (hs_tui_init(&t, &fm.base, &io, 60, 200, 1) < 0
        || hs_tui_start(&t) < 0) {
        fprintf(stderr, "bench: cannot start\n");
        return 1;
    }
    hs_tui_key(&t, 'i');
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        hs_tui_key(&t, i % 3000 < 1500 ? 'j' : 'k');
        hs_tui_draw(&t);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    us = ((double)(b.tv_sec - a.tv_sec) * 1e6
          + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n;
    printf("{\"keys\": %d, \"screen\": \"200x60\", \"rows\": %zu, "
           "\"us_per_key_and_draw\": %.1f}\n", n,
           hs_tui_top(&t)->info.nrows, us);
    hs_tui_fini(&t);
    return fm.live_views != 0;
}

int
main(int argc, char **argv)
{
    hs_tui_opts o = {NULL, -1, -1, NULL};
    fake_model fm;
    char err[256];

    /* the explorer draws Unicode only where the locale says UTF-8, as
     * the Python host's would */
    setlocale(LC_ALL, "");
    fake_model_init(&fm);
    fm.dom_polls = 20;
    fm.ticks = 3;
    fm.tick_sleep_us = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc
            && atoi(argv[i + 1]) > 0) {
            return bench(atoi(argv[i + 1]));
        }
        if (strcmp(argv[i], "--slow") == 0) {
            fm.ticks = 20;
            fm.tick_sleep_us = 50000;
        }
        else if (strcmp(argv[i], "--tracemalloc") == 0) {
            fm.tracemalloc = 1;
        }
        else {
            fprintf(stderr, "usage: %s [--slow] [--tracemalloc] | --bench N\n",
                    argv[0]);
            return 2;
        }
    }
    if (hs_tui_run(&fm.base, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("explorer closed; %d views left unreleased\n", fm.live_views);
    return fm.live_views != 0;
}
