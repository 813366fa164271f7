/* tui/progress.c - calls that may take long: after 0.2 s a progress line
 * replaces the status line, and Esc (or q / Ctrl-C, which then close the
 * explorer) cancels the call through the model's tick(); the line then
 * says so until the call has given up.
 *
 * tick() runs inside a model call, so it must not call the model: it
 * draws only the status line (and the title from our copies) over the
 * canvas of the last full draw.  It reads the keyboard without waiting.
 * A key typed ahead while no progress line shows (the first 0.2 s) is
 * kept and replayed after the call, as a terminal would: quick typing
 * acts in order, even over a call the explorer made of its own (a
 * Dominated size that came in).  Once the progress line shows, keys
 * other than the cancelling ones (and Ctrl-L, which repaints) are
 * dropped, so a key pressed in impatience does not act on a view the
 * user has not seen; a cancel drops what was typed ahead too.
 */
#include <stdio.h>
#include <string.h>

#include "tui_int.h"

#define SHOW_AFTER_MS 200   /* quicker calls show nothing at all */
#define REDRAW_MS 100
#define KEYS_MS 20          /* ticks may come far more often than this */

void
hs_progress_begin(hs_tui *t, hs_progress *p)
{
    uint64_t now = t->io.now_ms(t->io.arg);

    p->tick = hs_tui_progress_tick;
    p->arg = t;
    /* it reads the keyboard and draws: never from a callee's helper
     * threads (the callers' p is on their stack, uninitialised) */
    p->any_thread = 0;
    t->op_start = now;
    t->op_last_draw = 0;
    t->op_last_key = 0;     /* the first tick reads the keyboard */
    t->op_cancelled = 0;
    t->op_active = 1;
}

void
hs_progress_end(hs_tui *t)
{
    t->op_active = 0;
    t->dirty = 1;
    if (t->op_cancelled) {
        t->nahead = 0;
        hs_tui_msg(t, 0, "cancelled");
    }
}

int
hs_tui_typed_ahead(hs_tui *t)
{
    int key;

    if (t->nahead == 0) {
        return HS_K_NONE;
    }
    key = t->ahead[0];
    t->nahead--;
    memmove(t->ahead, t->ahead + 1, (size_t)t->nahead * sizeof(t->ahead[0]));
    return key;
}

static void
draw(hs_tui *t, const char *what, uint64_t done, uint64_t total,
     uint64_t now)
{
    hs_canvas *c = &t->canvas;
    hs_frame *f = hs_tui_top(t);
    char line[256];
    hs_layout l;
    int x;

    hs_layout_get(c, &l);
    if (l.too_small) {
        return;
    }
    if (f != NULL && t->screen == HS_SCR_TABLE) {
        hs_draw_title(t, f->expr);   /* after a resize the canvas is blank */
    }
    hs_canvas_fill(c, l.status, 0, HS_A_STATUS);
    if (what == NULL || *what == '\0') {
        what = "working";
    }
    if (total > 0) {
        int pct = (int)(done >= total ? 100 : 100.0 * done / total);

        snprintf(line, sizeof(line), " %s %3d%% ", what, pct);
    }
    else {
        snprintf(line, sizeof(line), " %s %llu ", what,
                 (unsigned long long)done);
    }
    x = hs_canvas_put(c, l.status, 0, -1, line, HS_A_STATUS);
    /* a bar where the total is known, a moving dot where it is not */
    int bar = c->cols - x - 16;

    if (bar >= 10) {
        char b[512];
        int n = bar < (int)sizeof(b) - 3 ? bar : (int)sizeof(b) - 3;
        int fill = total > 0 ? (int)((double)n * (done > total ? total : done)
                                     / total)
                             : -1;
        int dot = (int)((now / REDRAW_MS) % (uint64_t)n);

        b[0] = '[';
        for (int i = 0; i < n; i++) {
            b[i + 1] = fill >= 0 ? (i < fill ? '#' : '.')
                                 : (i == dot ? '*' : '.');
        }
        b[n + 1] = ']';
        b[n + 2] = '\0';
        x += hs_canvas_put(c, l.status, x, -1, b, HS_A_STATUS);
    }
    hs_canvas_put(c, l.status, x, -1, "  Esc cancels", HS_A_STATUS);
    c->cur_y = c->cur_x = -1;
    t->io.flush(t->io.arg, c);
}

/* A cancelled call may take a while to give up (an expression typed at :
 * stops only once its C call returns): the line says it is under way. */
static void
draw_cancelling(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    hs_layout l;

    hs_layout_get(c, &l);
    if (l.too_small) {
        return;
    }
    hs_canvas_fill(c, l.status, 0, HS_A_STATUS);
    hs_canvas_put(c, l.status, 0, -1, " cancelling...", HS_A_STATUS);
    c->cur_y = c->cur_x = -1;
    t->io.flush(t->io.arg, c);
}

int
hs_tui_prepare_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    hs_tui *t = arg;
    int key;

    (void)what;
    (void)done;
    (void)total;
    if (t->nahead > 0) {
        return 1;
    }
    key = t->io.getkey(t->io.arg, &t->canvas, 0);
    if (key == HS_K_NONE) {
        return 0;
    }
    t->ahead[t->nahead++] = key;
    return 1;
}

int
hs_tui_progress_tick(void *arg, const char *what, uint64_t done, uint64_t total)
{
    hs_tui *t = arg;
    uint64_t now = t->io.now_ms(t->io.arg);

    if (t->op_cancelled) {
        return 1;
    }
    if (t->op_last_key == 0 || now - t->op_last_key >= KEYS_MS) {
        int key;

        t->op_last_key = now;
        while ((key = t->io.getkey(t->io.arg, &t->canvas, 0)) != HS_K_NONE) {
            enum hs_action a = hs_key_action(key, HS_G_ALL);

            if (key == HS_K_SIGNAL || a == HS_ACT_QUIT) {
                t->quit = 1;
                t->op_cancelled = 1;
            }
            else if (a == HS_ACT_CANCEL) {
                t->op_cancelled = 1;
            }
            if (t->op_cancelled) {
                draw_cancelling(t);
                break;
            }
            if (a == HS_ACT_REDRAW) {
                /* (the flush that follows, of this line or of the next
                 * screen, repaints it all) */
                t->io.repaint(t->io.arg);
            }
            else if (key == HS_K_RESIZE) {
                t->op_last_draw = 0;    /* redraw the line at once */
            }
            else if (t->op_last_draw == 0 && t->nahead < HS_TYPEAHEAD) {
                t->ahead[t->nahead++] = key;
            }
        }
    }
    if (!t->op_cancelled && now - t->op_start >= SHOW_AFTER_MS
        && (t->op_last_draw == 0 || now - t->op_last_draw >= REDRAW_MS)) {
        t->op_last_draw = now;
        draw(t, what, done, total, now);
    }
    return t->op_cancelled;
}
