/* tests/unit/tui_demo.c - try the explorer by hand, over the fake model:
 *     tests/unit/tui_demo [--slow] [--tracemalloc]
 * --slow makes every model call take about a second (progress line, Esc
 * cancels).  The dominated sizes fill in over about two seconds.
 *
 * A test aid, not installed; it prints the explorer's error, if any, on
 * stderr and exits 1.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "fake_model.h"
#include "heapscope/tui.h"

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
        if (strcmp(argv[i], "--slow") == 0) {
            fm.ticks = 20;
            fm.tick_sleep_us = 50000;
        }
        else if (strcmp(argv[i], "--tracemalloc") == 0) {
            fm.tracemalloc = 1;
        }
        else {
            fprintf(stderr, "usage: %s [--slow] [--tracemalloc]\n", argv[0]);
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
