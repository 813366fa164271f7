/* tests/unit/test_tui.c - the explorer's state machine and drawing,
 * driven by scripted keys over the fake model, read back from the canvas.
 *
 * No terminal here (test_tui_pty.c has the real curses).  Every test ends
 * by checking the TUI released all its views, never called the model
 * from inside a tick(), and never showed a model string after it expired
 * (the fake overwrites them with X's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_model.h"
#include "../../tui/tui_int.h"

/* ---- the harness -------------------------------------------------------- */

#define QMAX 512

typedef struct harness {
    fake_model fm;
    hs_tui t;
    uint64_t clock;
    int keys[QMAX];             /* the loop's keys (getkey with a wait) */
    size_t nkeys, next;
    int tick_keys[QMAX];        /* keys seen by tick() (getkey, no wait) */
    size_t ntick, next_tick;
    int resize_rows, resize_cols;
    int flushes;
    int repaints;               /* the io was told to repaint it all */
    int progress_seen;          /* a flush showed "Esc cancels" */
    int cancelling_seen;        /* a flush showed "cancelling..." */
    char progress_line[1024];
    int dry;                    /* the loop asked for more keys than given */
    int key_reads;              /* getkey calls with a wait */
    int polls_at_first_key;     /* the model's polls when the first came */
} harness;

static int
h_getkey(void *arg, hs_canvas *c, int timeout_ms)
{
    harness *h = arg;
    int k;

    if (timeout_ms == 0) {
        return h->next_tick < h->ntick ? h->tick_keys[h->next_tick++]
                                       : HS_K_NONE;
    }
    if (h->key_reads++ == 0) {
        h->polls_at_first_key = h->fm.polls;
    }
    if (h->next >= h->nkeys) {
        h->dry++;
        return HS_K_SIGNAL;     /* ends the loop: the script is over */
    }
    k = h->keys[h->next++];
    if (k == HS_K_NONE) {
        h->clock += (uint64_t)timeout_ms;
    }
    if (k == HS_K_RESIZE) {
        hs_canvas_resize(c, h->resize_rows, h->resize_cols);
    }
    return k;
}

static void
assert_no_stale(const hs_canvas *c)
{
    char buf[1024];

    for (int y = 0; y < c->rows; y++) {
        hs_canvas_text(c, y, buf, sizeof(buf));
        if (strstr(buf, "XXXXXX") != NULL) {
            fail_msg("line %d shows an expired model string: %s", y, buf);
        }
    }
}

static void
h_flush(void *arg, const hs_canvas *c)
{
    harness *h = arg;
    char buf[1024];

    h->flushes++;
    assert_no_stale(c);
    for (int y = 0; y < c->rows; y++) {
        hs_canvas_text(c, y, buf, sizeof(buf));
        if (strstr(buf, "Esc cancels") != NULL) {
            h->progress_seen++;
            snprintf(h->progress_line, sizeof(h->progress_line), "%s", buf);
        }
        if (strcmp(buf, " cancelling...") == 0) {
            h->cancelling_seen++;
        }
    }
}

static void
h_repaint(void *arg)
{
    ((harness *)arg)->repaints++;
}

static uint64_t
h_now(void *arg)
{
    return ((harness *)arg)->clock;
}

static harness *
h_new(int rows, int cols)
{
    harness *h = calloc(1, sizeof(*h));
    hs_tui_io io = {h_getkey, h_flush, h_repaint, h_now, NULL};

    assert_non_null(h);
    fake_model_init(&h->fm);
    h->fm.clock = &h->clock;
    h->clock = 1000000;
    io.arg = h;
    assert_int_equal(hs_tui_init(&h->t, &h->fm.base, &io, rows, cols, 1), 0);
    return h;
}

static harness *
h_start(int rows, int cols)
{
    harness *h = h_new(rows, cols);

    assert_int_equal(hs_tui_start(&h->t), 0);
    hs_tui_draw(&h->t);
    return h;
}

static void
h_free(harness *h)
{
    assert_no_stale(&h->t.canvas);
    hs_tui_fini(&h->t);
    assert_int_equal(h->fm.live_views, 0);
    assert_int_equal(h->fm.reentrant, 0);
    free(h);
}

/* Press keys (a string of characters) and redraw after each. */
static void
press(harness *h, const char *keys)
{
    while (*keys) {
        hs_tui_key(&h->t, (unsigned char)*keys++);
        hs_tui_draw(&h->t);
        assert_no_stale(&h->t.canvas);
    }
}

static void
press_key(harness *h, int key)
{
    hs_tui_key(&h->t, key);
    hs_tui_draw(&h->t);
    assert_no_stale(&h->t.canvas);
}

static void
type_line(harness *h, const char *text)
{
    press(h, text);
    press_key(h, '\r');
}

static void
script(harness *h, int n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        h->keys[h->nkeys++] = va_arg(ap, int);
    }
    va_end(ap);
}

static const char *
line(harness *h, int y)
{
    static char buf[1024];

    hs_canvas_text(&h->t.canvas, y, buf, sizeof(buf));
    return buf;
}

/* The first line containing s, or -1. */
static int
find(harness *h, const char *s)
{
    for (int y = 0; y < h->t.canvas.rows; y++) {
        if (strstr(line(h, y), s) != NULL) {
            return y;
        }
    }
    return -1;
}

static void
assert_shows(harness *h, const char *s)
{
    if (find(h, s) < 0) {
        for (int y = 0; y < h->t.canvas.rows; y++) {
            print_message("%2d|%s\n", y, line(h, y));
        }
        fail_msg("the screen does not show \"%s\"", s);
    }
}

static const char *
title(harness *h)
{
    return line(h, 0);
}

static const char *
status(harness *h)
{
    return line(h, h->t.canvas.rows - 1);
}

static hs_frame *
top(harness *h)
{
    return hs_tui_top(&h->t);
}

/* The table line of the selected row, found by its marker. */
static int
selected_line(harness *h)
{
    for (int y = 0; y < h->t.canvas.rows; y++) {
        if (strncmp(line(h, y), " >", 2) == 0) {
            return y;
        }
    }
    return -1;
}

/* ---- canvas and formats --------------------------------------------- */

static void
test_canvas_clip(void **state)
{
    hs_canvas c = {0};
    char buf[256];

    (void)state;
    c.unicode = 1;
    assert_int_equal(hs_canvas_resize(&c, 3, 10), 0);
    assert_int_equal(hs_canvas_put(&c, 0, 0, -1, "0123456789abc", HS_A_NORMAL),
                     10);
    hs_canvas_text(&c, 0, buf, sizeof(buf));
    assert_string_equal(buf, "012345678\xe2\x80\xa6");
    /* exactly fitting text keeps its last character */
    hs_canvas_put(&c, 1, 0, -1, "0123456789", HS_A_NORMAL);
    hs_canvas_text(&c, 1, buf, sizeof(buf));
    assert_string_equal(buf, "0123456789");
    /* a wide character does not straddle the edge */
    hs_canvas_clear(&c);
    hs_canvas_put(&c, 0, 5, -1, "\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97", 0);
    hs_canvas_text(&c, 0, buf, sizeof(buf));
    assert_string_equal(buf, "     \xe4\xb8\xad\xe6\x96\x87\xe2\x80\xa6");
    /* invalid UTF-8 and control characters show as ? or U+FFFD */
    hs_canvas_clear(&c);
    hs_canvas_put(&c, 0, 0, -1, "a\xff\tb", 0);
    hs_canvas_text(&c, 0, buf, sizeof(buf));
    assert_string_equal(buf, "a\xef\xbf\xbd?b");
    /* right alignment, and no writes outside the grid */
    hs_canvas_clear(&c);
    hs_canvas_put_right(&c, 2, 0, 6, "42", 0);
    hs_canvas_put(&c, 3, 0, -1, "off", 0);
    hs_canvas_put(&c, -1, 0, -1, "off", 0);
    hs_canvas_put(&c, 0, 10, -1, "off", 0);
    hs_canvas_put_right(&c, 1, 8, 6, "123456", 0);
    hs_canvas_text(&c, 2, buf, sizeof(buf));
    assert_string_equal(buf, "    42");
    hs_canvas_text(&c, 1, buf, sizeof(buf));
    assert_string_equal(buf, "        1\xe2\x80\xa6");
    /* without Unicode the ellipsis is ASCII and so is everything else */
    c.unicode = 0;
    hs_canvas_clear(&c);
    hs_canvas_put(&c, 0, 0, -1, "\xc3\xa9t\xc3\xa9 0123456789", 0);
    hs_canvas_text(&c, 0, buf, sizeof(buf));
    assert_string_equal(buf, "?t? 01234~");
    /* a 0x0 canvas takes anything */
    assert_int_equal(hs_canvas_resize(&c, 0, 0), 0);
    assert_int_equal(hs_canvas_put(&c, 0, 0, -1, "x", 0), 0);
    hs_canvas_text(&c, 0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    hs_canvas_free(&c);
}

static void
test_formats(void **state)
{
    char buf[32];

    (void)state;
    hs_fmt_bytes(0, buf, sizeof(buf));
    assert_string_equal(buf, "0 B");
    hs_fmt_bytes(999, buf, sizeof(buf));
    assert_string_equal(buf, "999 B");
    hs_fmt_bytes(1000, buf, sizeof(buf));
    assert_string_equal(buf, "1.0 kB");
    hs_fmt_bytes(31716096, buf, sizeof(buf));
    assert_string_equal(buf, "31.7 MB");
    hs_fmt_bytes(6525856, buf, sizeof(buf));
    assert_string_equal(buf, "6.5 MB");
    hs_fmt_bytes(99960, buf, sizeof(buf));
    assert_string_equal(buf, "100 kB");
    hs_fmt_bytes(999960, buf, sizeof(buf));
    assert_string_equal(buf, "1.0 MB");
    hs_fmt_bytes(317000000, buf, sizeof(buf));
    assert_string_equal(buf, "317 MB");
    hs_fmt_bytes(UINT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "18.4 EB");
    /* heapy's percentages (the tutorial's first table) */
    assert_int_equal(hs_fmt_pct(46300932, 102766644), 45);
    assert_int_equal(hs_fmt_pct(985931, 1449133), 68);
    assert_int_equal(hs_fmt_pct(36009, 1449133), 2);
    assert_int_equal(hs_fmt_pct(1, 8), 12);    /* 12.5: half to even */
    assert_int_equal(hs_fmt_pct(3, 8), 38);    /* 37.5 */
    assert_int_equal(hs_fmt_pct(5, 0), 0);
    assert_int_equal(hs_fmt_digits(0), 1);
    assert_int_equal(hs_fmt_digits(102766644), 9);
}

static void
test_key_table(void **state)
{
    (void)state;
    /* every action has a row, and a screen's keys win over the global */
    for (int a = HS_ACT_NONE + 1; a < HS_ACT_N; a++) {
        assert_non_null(hs_key_def((enum hs_action)a));
    }
    assert_int_equal(hs_key_action('n', HS_G_TABLE), HS_ACT_NEXT_MATCH);
    assert_int_equal(hs_key_action('n', HS_G_INSPECT), HS_ACT_NEXT_OBJ);
    assert_int_equal(hs_key_action('j', HS_G_INSPECT), HS_ACT_DOWN);
    assert_int_equal(hs_key_action(HS_CTRL('c'), HS_G_TABLE), HS_ACT_QUIT);
    /* in a prompt q is text, and Ctrl-C closes the prompt only */
    assert_int_equal(hs_key_action('q', HS_G_PROMPT), HS_ACT_NONE);
    assert_int_equal(hs_key_action(HS_CTRL('c'), HS_G_PROMPT),
                     HS_ACT_P_CANCEL);
    /* no code is bound twice within a group */
    for (size_t i = 0; i < hs_nkeys; i++) {
        for (const int *c = hs_keys[i].codes; *c; c++) {
            for (size_t j = i + 1; j < hs_nkeys; j++) {
                if (hs_keys[j].group != hs_keys[i].group) {
                    continue;
                }
                for (const int *d = hs_keys[j].codes; *d; d++) {
                    if (*c == *d) {
                        fail_msg("key %d bound to %s and %s", *c,
                                 hs_keys[i].names, hs_keys[j].names);
                    }
                }
            }
        }
    }
}

/* ---- the table -------------------------------------------------------- */

static void
test_first_screen(void **state)
{
    harness *h = h_start(24, 100);
    hs_frame *f = top(h);
    char want[256], dom[16];
    uint64_t cum = 0;

    (void)state;
    assert_non_null(strstr(title(h), "heapscope \xe2\x94\x80 h"));
    assert_non_null(strstr(title(h), "mark: none   snapshot: 0.41 s"));
    assert_string_equal(line(h, 1), " Partition of a set of 1449133 objects."
                        " Total size = 102766644 bytes.");
    assert_string_equal(line(h, 2), "  Index   Count   %      Size   %"
                        " Cumulative   % Dominated  "
                        "Kind (class / dict of class)");
    assert_int_equal(h->t.canvas.cells[3 * 100 + 5].attr, HS_A_SELECT);
    assert_int_equal(h->t.canvas.cells[4 * 100 + 5].attr, HS_A_NORMAL);
    /* heapy's numbers, right-aligned under their headers; the dominated
     * sizes are still being computed */
    snprintf(dom, sizeof(dom), "        \xe2\x80\xa6");
    for (size_t i = 0; i < 5; i++) {
        fake_row r;

        assert_int_equal(fake_view_row(f->view, i, &r), 0);
        cum += r.size;
        snprintf(want, sizeof(want), "%s%5zu %7llu %3d %9llu %3d %10llu %3d"
                 " %s  ", i == 0 ? " >" : "  ", r.index,
                 (unsigned long long)r.count, hs_fmt_pct(r.count, 1449133),
                 (unsigned long long)r.size, hs_fmt_pct(r.size, 102766644),
                 (unsigned long long)cum, hs_fmt_pct(cum, 102766644), dom);
        assert_memory_equal(line(h, 3 + (int)i), want, strlen(want));
    }
    {
        hs_row r;
        char want_label[16];

        hs_frame_row(&h->t, f, 0, &r);
        snprintf(want_label, sizeof(want_label), "  %.10s", r.label);
        assert_non_null(strstr(line(h, 3), want_label));
    }
    /* the status line: key hints from keys.def */
    assert_non_null(strstr(status(h), "c clodo  t type  r rcs  v via"));
    assert_non_null(strstr(status(h), "? help"));
    assert_non_null(strstr(line(h, 22), "\xe2\x94\x80\xe2\x94\x80"));
    h_free(h);
}

static void
test_move(void **state)
{
    harness *h = h_start(12, 80);   /* 8 table rows */
    hs_frame *f = top(h);
    size_t n = f->info.nrows;

    (void)state;
    assert_true(n > 8);
    press(h, "jj");
    assert_int_equal(f->cur, 2);
    assert_int_equal(selected_line(h), 3 + 2);
    press(h, "k");
    assert_int_equal(f->cur, 1);
    press(h, "G");
    assert_int_equal(f->cur, n - 1);
    /* the last row sits on the last table line */
    assert_int_equal(selected_line(h), 3 + 8 - 1 - 1);
    press(h, "j");
    assert_int_equal(f->cur, n - 1);
    press(h, "g");
    assert_int_equal(f->cur, 0);
    assert_int_equal(f->top, 0);
    press_key(h, HS_K_PGDN);
    assert_int_equal(f->cur, 6);
    press_key(h, HS_K_PGUP);
    assert_int_equal(f->cur, 0);
    press_key(h, HS_K_END);
    assert_int_equal(f->cur, n - 1);
    press_key(h, HS_K_HOME);
    press_key(h, HS_K_DOWN);
    press_key(h, HS_K_UP);
    press_key(h, HS_K_UP);
    assert_int_equal(f->cur, 0);
    h_free(h);
}

static void
test_scroll_long_view(void **state)
{
    harness *h = h_start(24, 100);
    hs_frame *f;
    char want[64];

    (void)state;
    press(h, "i");      /* byid: 2000 rows */
    f = top(h);
    assert_string_equal(f->info.column, "Representation (limited)");
    assert_int_equal(f->info.nrows, 2000);
    press(h, "G");
    snprintf(want, sizeof(want), " > 1999 ");
    assert_int_equal(selected_line(h), 21);
    assert_memory_equal(line(h, 21), want, strlen(want));
    /* the cumulative column at the bottom is the whole set */
    assert_non_null(strstr(line(h, 21), " 102766644 100 "));
    press(h, "g");
    assert_int_equal(selected_line(h), 3);
    h_free(h);
}

static void
test_open_and_back(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "j");
    press_key(h, '\r');
    assert_non_null(strstr(title(h), " h[1]"));
    assert_int_equal(h->t.depth, 2);
    press(h, "jj");
    press_key(h, HS_K_RIGHT);
    assert_non_null(strstr(title(h), " h[1][2]"));
    press_key(h, HS_K_BACKSPACE);
    assert_non_null(strstr(title(h), " h[1]"));
    assert_int_equal(top(h)->cur, 2);    /* the selection came back */
    assert_int_equal(selected_line(h), 5);
    press(h, "h");
    assert_int_equal(top(h)->cur, 1);
    press_key(h, HS_K_LEFT);
    assert_int_equal(h->t.depth, 1);
    assert_non_null(strstr(status(h), "first view"));
    press(h, "l");
    assert_int_equal(h->t.depth, 2);
    h_free(h);
}

static void
test_relations(void **state)
{
    harness *h = h_start(24, 120);

    (void)state;
    press(h, "r");
    assert_non_null(strstr(title(h), " h.byrcs"));
    assert_shows(h, "Referrers by Kind (class / dict of class)");
    assert_int_equal(h->t.depth, 1);    /* same set, another view */
    /* long labels end in an ellipsis at the edge */
    assert_non_null(strstr(line(h, 6), "dict (no owner), dict of"));
    assert_non_null(strstr(line(h, 6), "\xe2\x80\xa6"));
    press(h, "v");
    assert_shows(h, "Referred Via:");
    press(h, "t");
    assert_non_null(strstr(title(h), " h.bytype"));
    press(h, "s");
    assert_shows(h, "Individual Size");
    press(h, "m");
    assert_shows(h, "Module");
    press(h, "c");
    assert_string_equal(top(h)->expr, "h");
    press(h, "c");
    assert_non_null(strstr(status(h), "already partitioned by clodo"));
    /* no tracemalloc: p fails, says why, and the view stays */
    press(h, "p");
    assert_non_null(strstr(status(h), "tracemalloc"));
    assert_string_equal(top(h)->expr, "h");
    /* Tab walks c t r v s i m p, skipping what fails */
    press(h, "\t");
    assert_string_equal(top(h)->expr, "h.bytype");
    press(h, "\t\t\t\t\t");
    assert_string_equal(top(h)->expr, "h.bymodule");
    press(h, "\t");
    assert_string_equal(top(h)->expr, "h");
    assert_non_null(strstr(status(h), "tracemalloc"));
    press_key(h, HS_K_BTAB);
    assert_string_equal(top(h)->expr, "h.bymodule");
    h->fm.tracemalloc = 1;
    press(h, "p");
    assert_string_equal(top(h)->expr, "h.byprod");
    assert_int_equal(h->t.depth, 1);
    h_free(h);
}

static void
test_steps(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "jR");
    assert_string_equal(top(h)->expr, "h[1].referrers");
    press(h, "F");
    assert_string_equal(top(h)->expr, "h[1].referrers[0].referents");
    press(h, "hhjD");
    assert_string_equal(top(h)->expr, "h[2].dominos");
    assert_int_equal(h->t.depth, 2);
    /* a failing step: the message, and nothing else changes */
    h->fm.fail_next = 1;
    snprintf(h->fm.fail_msg, sizeof(h->fm.fail_msg), "MemoryError: no room");
    press(h, "R");
    assert_string_equal(top(h)->expr, "h[2].dominos");
    assert_non_null(strstr(status(h), "referrers: MemoryError: no room"));
    assert_int_equal(h->t.canvas.cells[23 * 100 + 1].attr, HS_A_ERROR);
    /* the message goes with the next key */
    press(h, "j");
    assert_null(strstr(status(h), "MemoryError"));
    h_free(h);
}

static void
test_dominated(void **state)
{
    harness *h = h_new(24, 100);

    (void)state;
    h->fm.dom_polls = 3;
    assert_int_equal(hs_tui_start(&h->t), 0);
    /* idle turns (no key) poll the model; a key in between is served at
     * once, while the column is still filling in */
    script(h, 5, HS_K_NONE, 'j', HS_K_NONE, HS_K_NONE, HS_K_NONE);
    script(h, 1, 'q');
    hs_tui_loop(&h->t);
    assert_int_equal(h->dry, 0);
    assert_int_equal(top(h)->cur, 1);
    assert_true(h->fm.polls >= 3);
    hs_tui_draw(&h->t);
    {
        fake_row r;
        char want[32];

        fake_view_row(top(h)->view, 0, &r);
        hs_fmt_bytes(r.dominated, want, sizeof(want));
        assert_non_null(strstr(line(h, 3), want));
        fake_view_row(top(h)->view, 1, &r);
        hs_fmt_bytes(r.dominated, want, sizeof(want));
        assert_non_null(strstr(line(h, 4), want));
    }
    /* quitting stops the background work */
    assert_true(h->fm.cancels >= 1);
    h_free(h);
}

/* A draw is shown, then the model is polled before the next key is read:
 * what the draw asked for (the Dominated column's rows, which the real
 * model hands its worker only at a poll) starts with the table on the
 * screen, even when the user's key is already waiting. */
static void
test_poll_after_each_draw(void **state)
{
    harness *h = h_new(24, 100);

    (void)state;
    h->fm.dom_polls = 100;
    assert_int_equal(hs_tui_start(&h->t), 0);
    script(h, 1, 'q');
    hs_tui_loop(&h->t);
    assert_int_equal(h->dry, 0);
    assert_true(h->flushes >= 1);
    assert_true(h->polls_at_first_key >= 1);
    h_free(h);
}

static void
test_domsize_key(void **state)
{
    harness *h = h_new(24, 100);
    fake_row r;
    char want[128];

    (void)state;
    h->fm.dom_polls = 2;
    assert_int_equal(hs_tui_start(&h->t), 0);
    hs_tui_draw(&h->t);
    press(h, "jd");
    assert_non_null(strstr(status(h), "h[1]: dominated size still being "
                                      "computed"));
    /* the answer arrives while the user waits */
    script(h, 3, HS_K_NONE, HS_K_NONE, HS_K_NONE);
    hs_tui_loop(&h->t);
    hs_tui_draw(&h->t);
    fake_view_row(top(h)->view, 1, &r);
    snprintf(want, sizeof(want), "h[1].domisize = %llu (",
             (unsigned long long)r.dominated);
    assert_non_null(strstr(status(h), want));
    h->t.quit = 0;
    /* Esc stops the work; d asks again */
    h->fm.dom_ready = 0;
    h->fm.dom_started = 0;
    h->fm.dom_polled = 0;
    press_key(h, HS_K_ESC);
    assert_int_equal(h->fm.cancels, 2);
    assert_true(top(h)->dom_paused);
    assert_non_null(strstr(line(h, 3), "stopped"));
    assert_non_null(strstr(status(h), "d resumes"));
    press(h, "d");
    assert_false(top(h)->dom_paused);
    assert_non_null(strstr(line(h, 3), "\xe2\x80\xa6"));
    /* no dominated sizes at all */
    h->fm.dom_polls = -1;
    press(h, "d");
    assert_non_null(strstr(status(h), "no dominated size"));
    assert_non_null(strstr(line(h, 4), "        -  "));
    h_free(h);
}

/* From the inspector, all of the object's referrers, referents or what
 * it dominates, as a view; back returns to the object's page. */
static void
test_inspect_steps(void **state)
{
    harness *h = h_start(30, 100);

    (void)state;
    press(h, "jjxn");
    assert_non_null(strstr(title(h), "h[2].byid[1].theone"));
    press(h, "R");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    assert_int_equal(h->t.depth, 2);
    assert_non_null(strstr(title(h), "h[2].byid[1].referrers"));
    assert_non_null(strstr(line(h, 1), "Partition of a set of 7 objects."));
    /* a view made from it goes back to it, then to the object */
    press(h, "l");
    assert_int_equal(h->t.depth, 3);
    press(h, "h");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    assert_int_equal(h->t.depth, 2);
    press(h, "h");
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    assert_int_equal(h->t.depth, 1);
    assert_non_null(strstr(title(h), "h[2].byid[1].theone"));
    assert_int_equal(top(h)->cur, 2);
    press(h, "F");
    assert_non_null(strstr(title(h), "h[2].byid[1].referents"));
    press(h, "h");
    press(h, "D");
    assert_non_null(strstr(title(h), "h[2].byid[1].dominos"));
    assert_non_null(strstr(line(h, 1), "Partition of a set of 2 objects."));
    press(h, "h");
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    /* a failure says so and stays on the page */
    h->fm.fail_next = 1;
    press(h, "R");
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    assert_int_equal(h->t.depth, 1);
    h_free(h);
}

static void
test_inspect(void **state)
{
    harness *h = h_start(30, 100);

    (void)state;
    press(h, "jjx");
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    assert_non_null(strstr(title(h), "h[2].byid[0].theone"));
    assert_shows(h, "Object 1 of ");
    assert_shows(h, "in h[2]");
    {
        /* the row's whole label, which the table may cut */
        hs_row r;
        char want[400];

        assert_int_equal(hs_frame_row(&h->t, top(h), 2, &r), 0);
        snprintf(want, sizeof(want), "  row          %s", r.label);
        assert_shows(h, want);
    }
    assert_shows(h, "type");
    assert_shows(h, "address      0x7f0000001200");
    assert_shows(h, "repr         'object 0 of row 2'");
    assert_shows(h, "path         hpy().Root.i0_modules['__main__']");
    assert_shows(h, "(unknown: tracemalloc was off)");
    assert_shows(h, "Referrers: 5 (the first 3)");
    assert_shows(h, "dict of Package");
    assert_shows(h, "['cpv1']");
    assert_shows(h, "<ref 2 of object 0>");
    assert_shows(h, "Referents: 2");
    assert_shows(h, "n next  N previous");
    press(h, "n");
    assert_shows(h, "Object 2 of ");
    assert_non_null(strstr(title(h), "h[2].byid[1].theone"));
    press(h, "N");
    assert_shows(h, "Object 1 of ");
    press(h, "N");
    assert_non_null(strstr(status(h), "first object"));
    /* scrolling the page */
    press(h, "G");
    assert_shows(h, "Referents: 2");
    press(h, "g");
    assert_shows(h, "Object 1 of ");
    /* back: the table, on the same row */
    press_key(h, HS_K_LEFT);
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    assert_int_equal(top(h)->cur, 2);
    press(h, "x");
    press_key(h, HS_K_ESC);
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    /* the last object of a row; a failing inspect goes back to the table */
    press(h, "i");
    press(h, "x");
    press(h, "n");
    assert_non_null(strstr(status(h), "last object"));
    h->fm.fail_next = 1;
    press_key(h, HS_K_LEFT);
    press(h, "x");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    assert_non_null(strstr(status(h), "inspect: it failed"));
    /* with tracemalloc, the allocation site */
    h->fm.tracemalloc = 1;
    press(h, "x");
    assert_shows(h, "allocated      File \"/src/app/load.py\", line 40");
    assert_shows(h, "File \"/src/app/main.py\", line 7");
    h_free(h);
}

static void
test_inspect_dominated_fills_in(void **state)
{
    harness *h = h_new(30, 100);

    (void)state;
    h->fm.dom_polls = 1;
    assert_int_equal(hs_tui_start(&h->t), 0);
    hs_tui_draw(&h->t);
    press(h, "x");
    assert_shows(h, "dominated    being computed...");
    script(h, 2, HS_K_NONE, HS_K_NONE);
    hs_tui_loop(&h->t);
    hs_tui_draw(&h->t);
    assert_shows(h, "): freed with it");
    h_free(h);
}

static void
test_sort(void **state)
{
    harness *h = h_start(24, 100);
    hs_frame *f = top(h);
    fake_row a, b;

    (void)state;
    press(h, "jjj");        /* heapy index 3 */
    press(h, "o");
    assert_int_equal(f->info.sort, HS_SORT_COUNT);
    assert_non_null(strstr(status(h), "sorted by count"));
    /* and the summary line keeps saying so */
    press(h, "j");
    assert_non_null(strstr(line(h, 1), "bytes.   "));
    assert_int_equal(strlen(line(h, 1)), 99);
    assert_non_null(strstr(line(h, 1), "sorted by count"));
    press(h, "k");
    for (size_t i = 0; i + 1 < f->info.nrows; i++) {
        fake_view_row(f->view, i, &a);
        fake_view_row(f->view, i + 1, &b);
        assert_true(a.count >= b.count);
    }
    /* the selection stayed on heapy's row 3, shown by its heapy index */
    fake_view_row(f->view, f->cur, &a);
    assert_int_equal(a.index, 3);
    assert_memory_equal(line(h, selected_line(h)), " >    3 ", 8);
    /* dominated is not ready: the next order is taken, and it says so */
    press(h, "o");
    assert_int_equal(f->info.sort, HS_SORT_NAME);
    assert_non_null(strstr(status(h), "not computed yet; sorted by name"));
    press(h, "o");
    assert_int_equal(f->info.sort, HS_SORT_SIZE);
    assert_null(strstr(line(h, 1), "sorted by"));
    fake_view_row(f->view, f->cur, &a);
    assert_int_equal(a.index, 3);
    assert_int_equal(f->cur, 3);
    press(h, "O");
    assert_int_equal(f->info.sort, HS_SORT_NAME);
    /* opening a row of a sorted view uses heapy's index */
    press(h, "gl");
    fake_view_row(h->t.stack[0].view, 0, &a);
    {
        char want[32];

        snprintf(want, sizeof(want), "h[%zu]", a.index);
        assert_string_equal(top(h)->expr, want);
    }
    h_free(h);
}

static void
test_search(void **state)
{
    harness *h = h_start(24, 100);
    hs_frame *f = top(h);
    hs_row r;

    (void)state;
    press(h, "n");
    assert_non_null(strstr(status(h), "no search yet"));
    press(h, "/");
    assert_non_null(strstr(status(h), "/"));
    type_line(h, "LIST");
    hs_frame_row(&h->t, f, f->cur, &r);
    assert_string_equal(r.label, "list");
    press(h, "/");
    type_line(h, "dict");
    hs_frame_row(&h->t, f, f->cur, &r);
    assert_non_null(strstr(r.label, "dict"));
    {
        size_t first = f->cur;

        press(h, "n");
        assert_true(f->cur != first);
        hs_frame_row(&h->t, f, f->cur, &r);
        assert_non_null(strstr(r.label, "dict"));
        press(h, "N");
        assert_int_equal(f->cur, first);
    }
    press(h, "/");
    type_line(h, "no such thing");
    assert_non_null(strstr(status(h), "not found: no such thing"));
    /* an empty search repeats the last one */
    press(h, "/");
    press_key(h, '\r');
    assert_non_null(strstr(status(h), "not found: no such thing"));
    h_free(h);
}

static void
test_search_long_view_cancel(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "i");
    /* a scan over 2000 rows ticks; Esc there stops it */
    h->tick_keys[h->ntick++] = HS_K_ESC;
    h->clock += 1000;
    press(h, "/");
    type_line(h, "absent");
    assert_non_null(strstr(status(h), "cancelled"));
    h_free(h);
}

static void
test_eval(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, ":");
    assert_string_equal(status(h), " :");
    assert_int_equal(h->t.canvas.cur_y, 23);
    assert_int_equal(h->t.canvas.cur_x, 2);
    type_line(h, "byrcs[5].byvia");
    assert_string_equal(top(h)->expr, "h.byrcs[5].byvia");
    assert_int_equal(h->t.depth, 2);
    press(h, ":");
    type_line(h, "& Via('.key')");
    assert_string_equal(top(h)->expr, "(h.byrcs[5].byvia & Via('.key'))");
    press(h, ":");
    type_line(h, "bad syntax");
    assert_non_null(strstr(status(h), "SyntaxError"));
    assert_int_equal(h->t.depth, 3);
    /* an empty expression does nothing */
    press(h, ":");
    press_key(h, '\r');
    assert_int_equal(h->t.depth, 3);
    /* an empty set */
    press(h, ":");
    type_line(h, "empty");
    assert_shows(h, "(no objects)");
    press(h, "l");
    assert_non_null(strstr(status(h), "no rows here"));
    press(h, "xdjG/");
    press_key(h, HS_K_ESC);
    press(h, "o");
    h_free(h);
}

/* An answer of several lines (paths) has a page of its own, which
 * scrolls; back returns to the view it was asked on. */
static void
test_eval_answer_page(void **state)
{
    harness *h = h_start(6, 100);

    (void)state;
    press(h, "j:");
    type_line(h, "sp");
    assert_int_equal(h->t.screen, HS_SCR_ANSWER);
    assert_int_equal(h->t.depth, 1);
    assert_non_null(strstr(title(h), "h.sp"));
    assert_string_equal(line(h, 1), " 0: hpy().Root.i0_modules['__main__']"
                                    ".__dict__['repo']");
    assert_string_equal(line(h, 3), " 2: third");
    press(h, "G");
    assert_string_equal(line(h, 4), " 5: sixth");
    press(h, "x");
    assert_non_null(strstr(status(h), "back leaves the answer"));
    press(h, "?");
    assert_int_equal(h->t.screen, HS_SCR_HELP);
    press(h, "?");
    assert_int_equal(h->t.screen, HS_SCR_ANSWER);
    press(h, "h");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    assert_int_equal(top(h)->cur, 1);
    assert_null(h->t.answer);
    /* one line stays in the status line */
    press(h, ":");
    type_line(h, "bad");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    h_free(h);
}

/* An expression may print, or let the program's threads print, over the
 * screen: once it is over, whatever came of it, the whole screen is
 * repainted.  A cancel says it is under way (an expression stops only
 * when its C call returns). */
static void
test_eval_repaints_after(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, ":");
    type_line(h, "byrcs");
    assert_int_equal(h->t.depth, 2);
    assert_int_equal(h->repaints, 1);
    press(h, ":");
    type_line(h, "bad");
    assert_int_equal(h->repaints, 2);
    h->fm.ticks = 10;
    for (int i = 0; i < 5; i++) {
        h->tick_keys[h->ntick++] = HS_K_NONE;   /* a tick without keys */
    }
    h->tick_keys[h->ntick++] = HS_K_ESC;
    press(h, ":");
    type_line(h, "byvia");
    assert_true(h->progress_seen > 0);
    assert_int_equal(h->cancelling_seen, 1);
    assert_int_equal(h->repaints, 3);
    assert_int_equal(h->t.depth, 2);
    assert_non_null(strstr(status(h), "cancelled"));
    h_free(h);
}

static void
test_prompt_editing(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, ":");
    press(h, "abc");
    press_key(h, HS_K_LEFT);
    press_key(h, HS_K_BACKSPACE);
    assert_string_equal(h->t.input, "ac");
    press_key(h, HS_K_HOME);
    press(h, "x");
    assert_string_equal(h->t.input, "xac");
    press_key(h, HS_CTRL('e'));
    press_key(h, 0xe9);     /* é, two bytes */
    press_key(h, 0x4e2d);   /* a wide character */
    assert_string_equal(h->t.input, "xac\xc3\xa9\xe4\xb8\xad");
    assert_string_equal(status(h), " :xac\xc3\xa9\xe4\xb8\xad");
    assert_int_equal(h->t.canvas.cur_x, 2 + 4 + 2);
    press_key(h, HS_K_LEFT);
    press_key(h, HS_K_LEFT);
    press_key(h, HS_K_DELETE);
    assert_string_equal(h->t.input, "xac\xe4\xb8\xad");
    press_key(h, HS_CTRL('u'));
    assert_string_equal(h->t.input, "");
    /* q and j are text in a prompt, not keys */
    press(h, "qj");
    assert_false(h->t.quit);
    assert_string_equal(h->t.input, "qj");
    press_key(h, HS_K_ESC);
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    assert_int_equal(h->t.depth, 1);
    /* Ctrl-C closes a prompt without quitting */
    press(h, "/");
    press_key(h, HS_CTRL('c'));
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    assert_false(h->t.quit);
    /* Backspace on an empty line closes it */
    press(h, "/");
    press_key(h, HS_K_BACKSPACE);
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    /* a long line scrolls to keep the cursor visible */
    press(h, ":");
    for (int i = 0; i < 150; i++) {
        press_key(h, 'a' + i % 26);
    }
    assert_true(h->t.canvas.cur_x < 100);
    assert_true(h->t.canvas.cur_x > 90);
    press_key(h, HS_K_ESC);
    h_free(h);
}

static char *
slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    static char buf[1 << 20];
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void
test_write(void **state)
{
    char dir[] = "/tmp/hs-tui-XXXXXX", old[4096], path[4200], want[512];
    harness *h;
    char *text, *nl;
    uint64_t cum = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(dir), 0);
    h = h_start(24, 100);
    press(h, "w");
    assert_string_equal(status(h), " write the view to: heapscope-view.txt");
    press_key(h, '\r');
    snprintf(want, sizeof(want), "wrote %zu rows to heapscope-view.txt",
             top(h)->info.nrows);
    assert_non_null(strstr(status(h), want));
    text = slurp("heapscope-view.txt");
    /* heapy's layout: the summary, the header, then every row */
    nl = strchr(text, '\n');
    assert_non_null(nl);
    *nl = '\0';
    assert_string_equal(text, "Partition of a set of 1449133 objects. Total "
                        "size = 102766644 bytes.");
    text = nl + 1;
    nl = strchr(text, '\n');
    *nl = '\0';
    assert_string_equal(text, " Index  Count   %     Size   % Cumulative  % "
                        "Kind (class / dict of class)");
    text = nl + 1;
    for (size_t i = 0; i < top(h)->info.nrows; i++) {
        fake_row r;
        hs_row hr;

        fake_view_row(top(h)->view, i, &r);
        cum += r.size;
        hs_frame_row(&h->t, top(h), i, &hr);
        snprintf(want, sizeof(want), "%6zu %6llu %3d %8llu %3d %9llu %3d %s",
                 r.index, (unsigned long long)r.count,
                 hs_fmt_pct(r.count, 1449133), (unsigned long long)r.size,
                 hs_fmt_pct(r.size, 102766644), (unsigned long long)cum,
                 hs_fmt_pct(cum, 102766644), hr.label);
        nl = strchr(text, '\n');
        assert_non_null(nl);
        *nl = '\0';
        assert_string_equal(text, want);
        text = nl + 1;
    }
    assert_string_equal(text, "");
    /* a long rcs label wraps under the label column, as heapy's does */
    press(h, "r");
    press(h, "w");
    press_key(h, HS_CTRL('u'));
    type_line(h, "rcs.txt");
    text = slurp("rcs.txt");
    assert_non_null(strstr(text, " dict (no owner), dict of\n"
                                 "                                         "
                                 "    pkgcore.ebuild.ebuild_src.package, "
                                 "weakref.KeyedRef\n"));
    /* byid has heapy's other layout */
    press(h, "i");
    press(h, "w");
    press_key(h, HS_CTRL('u'));
    type_line(h, "byid.txt");
    text = slurp("byid.txt");
    assert_non_null(strstr(text, "\n Index     Size   %   Cumulative  %   "
                                 "Representation (limited)\n     0 "));
    /* a file that cannot be written: the reason, no crash */
    press(h, "w");
    press_key(h, HS_CTRL('u'));
    type_line(h, "no/such/dir/x.txt");
    assert_non_null(strstr(status(h), "cannot write no/such/dir/x.txt: No "
                                      "such file"));
    h_free(h);
    snprintf(path, sizeof(path), "%s/heapscope-view.txt", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/rcs.txt", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/byid.txt", dir);
    unlink(path);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* w over an existing file asks first: y writes over it, n (or Esc) leaves
 * it, other keys leave the question asked. */
static void
test_write_asks_before_overwriting(void **state)
{
    char dir[] = "/tmp/hs-tui-XXXXXX", old[4096], path[4200];
    harness *h;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(dir), 0);
    fp = fopen("heapscope-view.txt", "w");
    assert_non_null(fp);
    fputs("mine\n", fp);
    fclose(fp);
    h = h_start(24, 100);
    press(h, "w");
    press_key(h, '\r');
    assert_int_equal(h->t.prompt, HS_PR_OVERWRITE);
    assert_string_equal(status(h), " heapscope-view.txt exists: write over "
                        "it? (y/n)");
    press(h, "xq");
    press_key(h, HS_CTRL('l'));
    assert_int_equal(h->t.prompt, HS_PR_OVERWRITE);
    assert_false(h->t.quit);
    assert_int_equal(h->repaints, 1);
    press(h, "n");
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    assert_non_null(strstr(status(h), "not written: heapscope-view.txt is "
                                      "as it was"));
    assert_string_equal(slurp("heapscope-view.txt"), "mine\n");
    press(h, "w");
    press_key(h, '\r');
    press_key(h, HS_K_ESC);
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    assert_string_equal(slurp("heapscope-view.txt"), "mine\n");
    press(h, "w");
    press_key(h, '\r');
    press(h, "y");
    assert_non_null(strstr(status(h), "wrote "));
    assert_non_null(strstr(slurp("heapscope-view.txt"), "Partition of a "));
    /* a directory is no file to write over: w says why it cannot */
    assert_int_equal(mkdir("adir", 0700), 0);
    press(h, "w");
    press_key(h, HS_CTRL('u'));
    type_line(h, "adir");
    assert_int_equal(h->t.prompt, HS_PR_NONE);
    assert_non_null(strstr(status(h), "cannot write adir: Is a directory"));
    h_free(h);
    assert_int_equal(rmdir("adir"), 0);
    snprintf(path, sizeof(path), "%s/heapscope-view.txt", dir);
    unlink(path);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_mark_refresh(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "M");
    assert_int_equal(h->fm.marks, 1);
    assert_non_null(strstr(status(h), "mark set"));
    /* the view is still of the snapshot before the mark; the title says
     * both */
    assert_non_null(strstr(title(h), "mark: none, new 14:02:01   "
                                     "snapshot: 0.41 s"));
    press(h, "u");
    assert_int_equal(h->t.depth, 2);
    assert_non_null(strstr(line(h, 1), "Partition of a set of 144914 "));
    assert_non_null(strstr(title(h), "mark: 14:02:01   snapshot 2: 0.41 s"));
    /* a view made from the new snapshot's is of it too */
    press(h, "t");
    assert_non_null(strstr(title(h), "mark: 14:02:01   snapshot 2: 0.41 s"));
    press(h, "h");
    press(h, "h");
    assert_non_null(strstr(line(h, 1), "Partition of a set of 1449133 "));
    assert_non_null(strstr(title(h), "mark: none, new 14:02:01   "
                                     "snapshot: 0.41 s"));
    h_free(h);
}

static void
test_help(void **state)
{
    harness *h = h_start(200, 120);

    (void)state;
    press(h, "?");
    assert_int_equal(h->t.screen, HS_SCR_HELP);
    /* every key of the table, with its help text */
    for (size_t i = 0; i < hs_nkeys; i++) {
        char want[256];
        int y;

        snprintf(want, sizeof(want), "   %-22s", hs_keys[i].names);
        y = -1;
        for (int r = 0; r < h->t.canvas.rows && y < 0; r++) {
            const char *l = line(h, r);

            if (strncmp(l, want, strlen(want)) == 0
                && strncmp(l + strlen(want), hs_keys[i].help, 20) == 0) {
                y = r;
            }
        }
        if (y < 0) {
            fail_msg("help does not show %s", hs_keys[i].names);
        }
    }
    press(h, "?");
    assert_int_equal(h->t.screen, HS_SCR_TABLE);
    /* a small help scrolls, and goes back where it came from */
    h_free(h);
    h = h_start(10, 60);
    press(h, "x?");
    assert_int_equal(h->t.screen, HS_SCR_HELP);
    assert_shows(h, "The partition table");
    press(h, "G");
    assert_shows(h, "Ctrl-U");
    press(h, "z");
    assert_non_null(strstr(status(h), "z does nothing here; ? or back "
                                      "leaves the help"));
    press(h, "h");
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    h_free(h);
}

static void
test_quit_keys(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "Z");
    assert_non_null(strstr(status(h), "Z does nothing here"));
    press_key(h, HS_CTRL('c'));
    assert_true(h->t.quit);
    h->t.quit = 0;
    press_key(h, HS_K_BASE + 0x1234);
    assert_non_null(strstr(status(h), "does nothing here"));
    script(h, 3, 'j', 'j', 'q');
    hs_tui_loop(&h->t);
    assert_int_equal(h->dry, 0);
    assert_int_equal(top(h)->cur, 2);
    h_free(h);
}

/* Ctrl-L repaints the whole screen wherever it is pressed, changing
 * nothing else: not the screen, the prompt's text, the message, nor a
 * long call it is pressed during. */
static void
test_ctrl_l_repaints(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "Z");
    press_key(h, HS_CTRL('l'));
    assert_int_equal(h->repaints, 1);
    assert_non_null(strstr(status(h), "Z does nothing here"));
    press(h, "x");
    press_key(h, HS_CTRL('l'));
    assert_int_equal(h->repaints, 2);
    assert_int_equal(h->t.screen, HS_SCR_INSPECT);
    press(h, "?");
    press_key(h, HS_CTRL('l'));
    assert_int_equal(h->repaints, 3);
    assert_int_equal(h->t.screen, HS_SCR_HELP);
    press(h, "?h");
    press(h, ":ab");
    press_key(h, HS_CTRL('l'));
    assert_int_equal(h->repaints, 4);
    assert_int_equal(h->t.prompt, HS_PR_EVAL);
    assert_string_equal(h->t.input, "ab");
    press_key(h, HS_K_ESC);
    h->fm.ticks = 10;
    h->tick_keys[h->ntick++] = HS_CTRL('l');
    press(h, "t");
    assert_int_equal(h->repaints, 5);
    assert_string_equal(top(h)->expr, "h.bytype");
    assert_int_equal(h->t.nahead, 0);
    h_free(h);
}

static void
test_progress_and_cancel(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    h->fm.ticks = 10;       /* 10 x 50 ms: a slow partition */
    press(h, "r");
    assert_string_equal(top(h)->expr, "h.byrcs");
    assert_true(h->progress_seen > 0);
    assert_non_null(strstr(h->progress_line, " byrcs "));
    assert_non_null(strstr(h->progress_line, "%"));
    assert_non_null(strstr(h->progress_line, "[###"));
    /* quicker than 0.2 s: no progress line at all */
    h->progress_seen = 0;
    h->fm.ticks = 3;
    press(h, "v");
    assert_int_equal(h->progress_seen, 0);
    /* Esc cancels: the view stays, and the status says so */
    h->fm.ticks = 10;
    h->tick_keys[h->ntick++] = 'j';     /* dropped */
    h->tick_keys[h->ntick++] = HS_K_ESC;
    press(h, "t");
    assert_int_equal(h->fm.cancelled_calls, 1);
    assert_string_equal(top(h)->expr, "h.byvia");
    assert_non_null(strstr(status(h), "cancelled"));
    assert_int_equal(top(h)->cur, 0);
    /* Tab does not go on to the next relation after a cancel */
    h->tick_keys[h->ntick++] = HS_K_ESC;
    press(h, "\t");
    assert_string_equal(top(h)->expr, "h.byvia");
    /* q during a long call: cancel it and close */
    h->tick_keys[h->ntick++] = 'q';
    press(h, "l");
    assert_true(h->t.quit);
    assert_int_equal(h->t.depth, 1);
    h_free(h);
}

/* The TUI's tick reads the keyboard and draws: a callee's helper threads
 * must not call it (progress.h's any_thread), whatever was on the stack
 * of the hs_progress handed to the model. */
static void
test_progress_only_on_the_callers_thread(void **state)
{
    harness *h = h_start(24, 100);
    hs_progress p;

    (void)state;
    memset(&p, 0xff, sizeof(p));
    hs_progress_begin(&h->t, &p);
    assert_int_equal(p.any_thread, 0);
    hs_progress_end(&h->t);
    h_free(h);
}

/* Keys typed during a call too quick to show progress act afterwards, in
 * order; once the progress line shows they are dropped. */
static void
test_typed_ahead(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    h->fm.ticks = 3;        /* 150 ms: no progress line */
    h->tick_keys[h->ntick++] = 'j';
    h->tick_keys[h->ntick++] = 'j';
    press(h, "r");
    assert_int_equal(h->progress_seen, 0);
    assert_int_equal(h->t.nahead, 2);
    assert_int_equal(top(h)->cur, 0);
    script(h, 1, HS_K_NONE);
    hs_tui_loop(&h->t);     /* replays j j, then the script is over */
    assert_string_equal(top(h)->expr, "h.byrcs");
    assert_int_equal(top(h)->cur, 2);
    assert_int_equal(h->t.nahead, 0);
    h->t.quit = 0;
    /* a slow call: a key once the progress line shows is dropped */
    h->fm.ticks = 10;
    for (int i = 0; i < 5; i++) {
        h->tick_keys[h->ntick++] = HS_K_NONE;
    }
    h->tick_keys[h->ntick++] = 'k';
    press(h, "v");
    assert_true(h->progress_seen > 0);
    assert_string_equal(top(h)->expr, "h.byvia");
    assert_int_equal(h->t.nahead, 0);
    /* more than fit: the first HS_TYPEAHEAD are kept */
    h->fm.ticks = 2;
    h->ntick = h->next_tick = 0;
    for (int i = 0; i < HS_TYPEAHEAD + 8; i++) {
        h->tick_keys[h->ntick++] = 'j';
    }
    press(h, "t");
    assert_int_equal(h->t.nahead, HS_TYPEAHEAD);
    h_free(h);
}

/* Run the loop over `n` pauses of 100 ms (getkey timing out) after keys
 * already scripted; it ends when the script runs dry. */
static void
loop_pauses(harness *h, int n)
{
    for (int i = 0; i < n; i++) {
        h->keys[h->nkeys++] = HS_K_NONE;
    }
    hs_tui_loop(&h->t);
    h->t.quit = 0;              /* (the dry script's HS_K_SIGNAL) */
}

/* The model works ahead once the keys pause for half a second, piece by
 * piece while it has some, and not again until a key. */
static void
test_prepare_while_idle(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    h->fm.prepare_jobs = 2;
    h->fm.prepare_ticks = 3;
    h->t.last_key_ms = h->clock;
    loop_pauses(h, 4);              /* 400 ms: too soon */
    assert_int_equal(h->fm.prepare_calls, 0);
    h->t.last_key_ms = h->clock;
    loop_pauses(h, 30);             /* 3 s and more without a key */
    assert_int_equal(h->fm.prepared, 2);
    assert_int_equal(h->fm.prepare_calls, 3);   /* the third: nothing */
    assert_int_equal(h->fm.prepare_stopped, 0);
    assert_int_equal(h->progress_seen, 0);      /* never shows */
    assert_int_equal(h->fm.reentrant, 0);
    /* a key: asked again at the next pause, once */
    script(h, 1, 'j');
    loop_pauses(h, 30);
    assert_int_equal(h->fm.prepare_calls, 4);
    assert_int_equal(top(h)->cur, 1);
    h_free(h);
}

/* A key typed while the model works ahead stops the work and acts as if
 * nothing had been running: no progress line, no "cancelled". */
static void
test_prepare_gives_way(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    h->fm.prepare_jobs = 1;
    h->fm.prepare_ticks = 10;
    h->tick_keys[h->ntick++] = HS_K_NONE;
    h->tick_keys[h->ntick++] = HS_K_NONE;
    h->tick_keys[h->ntick++] = 'j';
    h->t.last_key_ms = h->clock;
    loop_pauses(h, 12);
    assert_int_equal(h->fm.prepare_stopped, 1);
    assert_int_equal(top(h)->cur, 1);           /* the j acted */
    assert_int_equal(h->progress_seen, 0);
    assert_null(strstr(status(h), "cancelled"));
    assert_int_equal(h->t.nahead, 0);
    /* (the loop went on: the next pause did the work, all of it) */
    assert_int_equal(h->fm.prepared, 1);
    assert_int_equal(h->fm.prepare_calls, 3);
    h_free(h);
}

static void
test_root_fails(void **state)
{
    harness *h = h_new(24, 80);

    (void)state;
    h->fm.fail_next = 1;
    snprintf(h->fm.fail_msg, sizeof(h->fm.fail_msg), "no heap here");
    assert_int_equal(hs_tui_start(&h->t), -1);
    assert_string_equal(h->t.msg, "no heap here");
    hs_tui_draw(&h->t);     /* nothing to show, and no crash */
    h_free(h);
    /* cancelled while taking the snapshot */
    h = h_new(24, 80);
    h->fm.ticks = 10;
    for (int i = 0; i < 5; i++) {
        h->tick_keys[h->ntick++] = HS_K_NONE;   /* 250 ms without a key */
    }
    h->tick_keys[h->ntick++] = HS_K_ESC;
    assert_int_equal(hs_tui_start(&h->t), -1);
    assert_string_equal(h->t.msg, "cancelled");
    assert_true(h->progress_seen > 0);
    h_free(h);
}

/* Every screen at every awkward size: draws what fits, never crashes. */
static void
test_small_sizes(void **state)
{
    static const int sizes[][2] = {{5, 20}, {4, 10}, {3, 80}, {2, 5},
                                   {1, 1}, {0, 0}, {6, 20}, {7, 30},
                                   {60, 20}, {5, 300}, {24, 9}};

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        harness *h = h_start(sizes[i][0], sizes[i][1]);

        press(h, "jjrjjGg");
        press(h, "x");
        press(h, "nG?Gh");
        press_key(h, HS_K_LEFT);
        press(h, ":byrcs");
        press_key(h, HS_K_ESC);
        press(h, "d");
        h_free(h);
    }
    {
        harness *h = h_start(5, 20);

        /* 20x5: title, header, two rows, status */
        assert_non_null(strstr(line(h, 0), "heapscope"));
        assert_non_null(strstr(line(h, 1), "Index"));
        assert_int_equal(selected_line(h), 2);
        assert_true(strlen(line(h, 3)) > 0);
        h_free(h);
        h = h_start(3, 80);
        assert_string_equal(line(h, 0), "too small");
        h_free(h);
    }
}

static void
test_resize(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    press(h, "jjjjjjjjjj");
    h->resize_rows = 5;
    h->resize_cols = 20;
    script(h, 3, HS_K_RESIZE, 'j', HS_K_NONE);
    hs_tui_loop(&h->t);
    hs_tui_draw(&h->t);
    assert_int_equal(h->t.canvas.rows, 5);
    /* the selection is still on screen */
    assert_int_equal(top(h)->cur, 11);
    assert_true(selected_line(h) >= 2);
    h->resize_rows = 40;
    h->resize_cols = 120;
    h->dry = 0;
    h->t.quit = 0;
    script(h, 2, HS_K_RESIZE, 'q');
    hs_tui_loop(&h->t);
    hs_tui_draw(&h->t);
    assert_int_equal(h->dry, 0);
    assert_non_null(strstr(line(h, 2), "Dominated"));
    h_free(h);
}

static void
test_ascii_terminal(void **state)
{
    harness *h = h_new(24, 70);

    (void)state;
    h->t.canvas.unicode = 0;
    assert_int_equal(hs_tui_start(&h->t), 0);
    press(h, "r");
    assert_non_null(strstr(title(h), "heapscope - h.byrcs"));
    assert_non_null(strstr(line(h, 3), "..."));     /* pending dominated */
    assert_non_null(strstr(line(h, 6), "~"));
    assert_non_null(strstr(line(h, 22), "-----"));
    for (int y = 0; y < 24; y++) {
        for (const char *p = line(h, y); *p; p++) {
            assert_true((unsigned char)*p < 0x80);
        }
    }
    h_free(h);
}

/* Indexes of five digits and more: the Index column grows by one, so the
 * selection's marker never touches the number. */
static void
test_wide_indexes(void **state)
{
    harness *h = h_start(24, 100);

    (void)state;
    h->fm.id_rows = 100000;
    press(h, "iG");
    assert_int_equal(top(h)->cur, 99999);
    assert_memory_equal(line(h, selected_line(h)), " > 99999 ", 9);
    assert_memory_equal(line(h, 2), "   Index ", 9);
    press(h, "k");
    assert_memory_equal(line(h, selected_line(h) + 1), "   99999 ", 9);
    /* up to four digits, as before */
    press(h, "c");
    assert_memory_equal(line(h, 2), "  Index ", 8);
    assert_memory_equal(line(h, selected_line(h)), " >    0 ", 8);
    h_free(h);
}

static void
test_narrow_columns(void **state)
{
    harness *h = h_start(24, 60);

    (void)state;
    /* 60 columns: Cumulative goes first, the label keeps its room */
    assert_null(strstr(line(h, 2), "Cumulative"));
    assert_non_null(strstr(line(h, 2), "Dominated"));
    assert_non_null(strstr(line(h, 2), "Kind (class"));
    h_free(h);
    h = h_start(24, 40);
    assert_null(strstr(line(h, 2), "Count"));
    assert_non_null(strstr(line(h, 2), "Size"));
    /* a breadcrumb too long for the title loses its start, not the end
     * the user is at */
    press(h, ":");
    type_line(h, "byrcs[5].byvia[12].referrers.byrcs[3].bytype");
    assert_string_equal(line(h, 0), " heapscope \xe2\x94\x80 \xe2\x80\xa6"
                                    ".referrers.byrcs[3].bytype");
    h_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canvas_clip),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_first_screen),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_scroll_long_view),
        cmocka_unit_test(test_open_and_back),
        cmocka_unit_test(test_relations),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_dominated),
        cmocka_unit_test(test_poll_after_each_draw),
        cmocka_unit_test(test_domsize_key),
        cmocka_unit_test(test_inspect),
        cmocka_unit_test(test_inspect_dominated_fills_in),
        cmocka_unit_test(test_sort),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_search_long_view_cancel),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_eval_repaints_after),
        cmocka_unit_test(test_eval_answer_page),
        cmocka_unit_test(test_inspect_steps),
        cmocka_unit_test(test_prompt_editing),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_write_asks_before_overwriting),
        cmocka_unit_test(test_mark_refresh),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_quit_keys),
        cmocka_unit_test(test_ctrl_l_repaints),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_progress_only_on_the_callers_thread),
        cmocka_unit_test(test_typed_ahead),
        cmocka_unit_test(test_prepare_while_idle),
        cmocka_unit_test(test_prepare_gives_way),
        cmocka_unit_test(test_root_fails),
        cmocka_unit_test(test_small_sizes),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_ascii_terminal),
        cmocka_unit_test(test_wide_indexes),
        cmocka_unit_test(test_narrow_columns),
    };

    return cmocka_run_group_tests_name("tui", tests, NULL, NULL);
}
