/* tui/tui.c - the explorer's state machine: the view stack, key dispatch
 * to the screen in front, the main loop, the title and status lines.
 *
 * It talks to the terminal only through hs_tui_io and draws only into the
 * canvas, so the unit tests drive it with scripted keys.  It must release
 * every view it got from the model, and never call the model while a
 * model call is running (progress.c draws from our own copies then).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"

int
hs_tui_init(hs_tui *t, hs_model *m, const hs_tui_io *io, int rows, int cols,
            int unicode)
{
    memset(t, 0, sizeof(*t));
    t->m = m;
    t->io = *io;
    t->canvas.unicode = unicode;
    t->canvas.cur_y = t->canvas.cur_x = -1;
    t->screen = HS_SCR_TABLE;
    t->dirty = 1;
    t->last_key_ms = io->now_ms(io->arg);
    t->prepare_more = 1;
    if (hs_canvas_resize(&t->canvas, rows, cols) < 0) {
        return -1;
    }
    return 0;
}

static void
frame_free(hs_tui *t, hs_frame *f)
{
    if (f->view != NULL) {
        t->m->ops->release(t->m, f->view);
    }
    free(f->expr);
    free(f->summary);
    free(f->column);
    memset(f, 0, sizeof(*f));
}

void
hs_tui_fini(hs_tui *t)
{
    while (t->depth > 0) {
        frame_free(t, &t->stack[--t->depth]);
    }
    free(t->stack);
    free(t->answer);
    t->stack = NULL;
    t->cap = 0;
    hs_canvas_free(&t->canvas);
}

void
hs_tui_msg(hs_tui *t, int error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
    va_end(ap);
    t->msg_error = error;
    t->dirty = 1;
}

void
hs_tui_model_error(hs_tui *t, const char *what)
{
    const char *e = t->m->ops->error(t->m);

    if (e == NULL || *e == '\0') {
        e = "failed";
    }
    if (what != NULL && *what != '\0') {
        hs_tui_msg(t, 1, "%s: %s", what, e);
    }
    else {
        hs_tui_msg(t, 1, "%s", e);
    }
}

hs_frame *
hs_tui_top(hs_tui *t)
{
    return t->depth > 0 ? &t->stack[t->depth - 1] : NULL;
}

static char *
dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

int
hs_frame_load_info(hs_tui *t, hs_frame *f)
{
    hs_view_info info;
    char *expr, *summary, *column;

    memset(&info, 0, sizeof(info));
    t->m->ops->info(t->m, f->view, &info);
    /* Copies: info's strings live only until the next call on the view. */
    expr = dup_or_empty(info.expr);
    summary = dup_or_empty(info.summary);
    column = dup_or_empty(info.column);
    if (expr == NULL || summary == NULL || column == NULL) {
        free(expr);
        free(summary);
        free(column);
        hs_tui_msg(t, 1, "out of memory");
        return -1;
    }
    free(f->expr);
    free(f->summary);
    free(f->column);
    f->expr = expr;
    f->summary = summary;
    f->column = column;
    f->info = info;
    f->info.expr = expr;
    f->info.summary = summary;
    f->info.column = column;
    if (f->cur >= info.nrows) {
        f->cur = info.nrows > 0 ? info.nrows - 1 : 0;
    }
    if (f->top > f->cur) {
        f->top = f->cur;
    }
    f->cum_row = 0;
    f->cum_val = 0;
    return 0;
}

int
hs_frame_row(hs_tui *t, hs_frame *f, size_t i, hs_row *out)
{
    memset(out, 0, sizeof(*out));
    out->index = i;
    if (i >= f->info.nrows || t->m->ops->row(t->m, f->view, i, out) < 0) {
        if (i >= f->info.nrows) {
            hs_tui_msg(t, 1, "row %zu does not exist", i);
        }
        else {
            hs_tui_model_error(t, "row");
        }
        memset(out, 0, sizeof(*out));
        out->label = "?";
        out->index = i;
        return -1;
    }
    if (out->label == NULL) {
        out->label = "";
    }
    return 0;
}

static int
grow(hs_tui *t)
{
    if (t->depth == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        hs_frame *s = realloc(t->stack, cap * sizeof(*s));

        if (s == NULL) {
            return -1;
        }
        t->stack = s;
        t->cap = cap;
    }
    return 0;
}

int
hs_tui_push(hs_tui *t, hs_view *v, const char *what)
{
    hs_frame *f;

    if (v == NULL) {
        hs_tui_model_error(t, what);
        return -1;
    }
    if (grow(t) < 0) {
        t->m->ops->release(t->m, v);
        hs_tui_msg(t, 1, "out of memory");
        return -1;
    }
    f = &t->stack[t->depth];
    memset(f, 0, sizeof(*f));
    f->view = v;
    if (hs_frame_load_info(t, f) < 0) {
        frame_free(t, f);
        return -1;
    }
    t->depth++;
    t->dirty = 1;
    return 0;
}

int
hs_tui_replace(hs_tui *t, hs_view *v, const char *what)
{
    hs_frame nf;

    if (v == NULL) {
        hs_tui_model_error(t, what);
        return -1;
    }
    memset(&nf, 0, sizeof(nf));
    nf.view = v;
    if (hs_frame_load_info(t, &nf) < 0) {
        frame_free(t, &nf);
        return -1;
    }
    frame_free(t, hs_tui_top(t));
    t->stack[t->depth - 1] = nf;
    t->dirty = 1;
    return 0;
}

void
hs_tui_pop(hs_tui *t)
{
    if (t->depth > 1) {
        frame_free(t, &t->stack[--t->depth]);
        t->dom_wait = 0;
        t->dirty = 1;
    }
}

int
hs_tui_start(hs_tui *t)
{
    hs_progress p;
    hs_view *v;

    hs_progress_begin(t, &p);
    v = t->m->ops->root(t->m, &p);
    hs_progress_end(t);
    if (hs_tui_push(t, v, "") < 0) {
        return -1;
    }
    return 0;
}

/* ---- layout, title, status --------------------------------------------- */

void
hs_layout_get(const hs_canvas *c, hs_layout *l)
{
    int y = 0;

    memset(l, 0, sizeof(*l));
    /* Smaller than this shows nothing useful: a title, a header, one row
     * and the status line, 10 columns wide. */
    if (c->rows < 4 || c->cols < 10) {
        l->too_small = 1;
        l->title = l->summary = l->header = l->sep = l->status = -1;
        return;
    }
    l->title = y++;
    l->summary = c->rows >= 7 ? y++ : -1;
    l->header = y++;
    l->first = y;
    l->status = c->rows - 1;
    l->sep = c->rows >= 8 ? c->rows - 2 : -1;
    l->nrows = (l->sep >= 0 ? l->sep : l->status) - l->first;
}

void
hs_draw_title(hs_tui *t, const char *expr)
{
    hs_canvas *c = &t->canvas;
    char left[HS_PROMPT_MAX + 32];
    int w, sw;

    const char *e = expr != NULL ? expr : "";
    const char *dash = c->unicode ? "\xe2\x94\x80" : "-";

    hs_canvas_fill(c, 0, 0, HS_A_TITLE);
    snprintf(left, sizeof(left), " heapscope %s %s", dash, e);
    w = hs_text_width(left);
    /* Too long: the end of the expression is where the user is, so the
     * start goes, for an ellipsis. */
    while (w > c->cols && *e != '\0') {
        do {
            e++;
        } while ((*e & 0xC0) == 0x80);
        snprintf(left, sizeof(left), " heapscope %s %s%s", dash,
                 c->unicode ? "\xe2\x80\xa6" : "...", e);
        w = hs_text_width(left);
    }
    sw = hs_text_width(t->status);
    /* The status goes only where it leaves the expression whole. */
    if (sw > 0 && w + 3 + sw + 1 <= c->cols) {
        hs_canvas_put(c, 0, c->cols - sw - 1, sw, t->status, HS_A_TITLE);
    }
    hs_canvas_put(c, 0, 0, -1, left, HS_A_TITLE);
}

static const char *
short_name(const hs_tui *t, const char *names, char *buf, size_t len)
{
    size_t n = strcspn(names, ",");

    if (t->canvas.unicode && n == 5 && strncmp(names, "Enter", 5) == 0) {
        return "\xe2\x8f\x8e";
    }
    if (t->canvas.unicode && n == 4 && strncmp(names, "Left", 4) == 0) {
        return "\xe2\x86\x90";
    }
    snprintf(buf, len, "%.*s", (int)n, names);
    return buf;
}

void
hs_draw_status(hs_tui *t, enum hs_group g)
{
    hs_canvas *c = &t->canvas;
    hs_layout l;
    int x = 1;

    hs_layout_get(c, &l);
    if (l.too_small) {
        return;
    }
    if (l.sep >= 0) {
        for (int i = 0; i < c->cols; i++) {
            hs_canvas_put(c, l.sep, i, 1, c->unicode ? "\xe2\x94\x80" : "-",
                          HS_A_DIM);
        }
    }
    if (t->prompt != HS_PR_NONE) {
        hs_prompt_draw(t);
        return;
    }
    hs_canvas_fill(c, l.status, 0, HS_A_STATUS);
    if (t->msg[0] != '\0') {
        hs_canvas_put(c, l.status, 1, -1, t->msg,
                      t->msg_error ? HS_A_ERROR : HS_A_STATUS);
        return;
    }
    /* The hints: the screen's keys, then the ones of every screen; the
     * last ones are dropped when the line is full, never cut. */
    for (int pass = 0; pass < 2; pass++) {
        enum hs_group want = pass == 0 ? g : HS_G_ALL;

        for (size_t i = 0; i < hs_nkeys; i++) {
            const hs_keydef *k = &hs_keys[i];
            char nb[32], item[96];
            int w;

            if (k->group != want || k->hint[0] == '\0') {
                continue;
            }
            snprintf(item, sizeof(item), "%s %s",
                     short_name(t, k->names, nb, sizeof(nb)), k->hint);
            w = hs_text_width(item);
            if (x + w >= c->cols) {
                return;
            }
            hs_canvas_put(c, l.status, x, w, item, HS_A_STATUS);
            x += w + 2;
        }
        if (g == HS_G_ALL) {
            break;
        }
    }
}

/* ---- keys and the loop ------------------------------------------------ */

static enum hs_group
screen_group(const hs_tui *t)
{
    switch (t->screen) {
    case HS_SCR_TABLE:
        return HS_G_TABLE;
    case HS_SCR_INSPECT:
        return HS_G_INSPECT;
    default:
        return HS_G_ALL;
    }
}

static void
describe_key(int key, char *buf, size_t len)
{
    if (key >= 0x21 && key < 0x7f) {
        snprintf(buf, len, "%c", key);
    }
    else if (key > 0 && key < 0x20) {
        snprintf(buf, len, "Ctrl-%c", key + '@');
    }
    else {
        snprintf(buf, len, "this key");
    }
}

void
hs_tui_key(hs_tui *t, int key)
{
    enum hs_action a;

    t->dirty = 1;
    if (key == HS_K_RESIZE || key == HS_K_NONE) {
        return;
    }
    if (key == HS_K_SIGNAL) {
        t->quit = 1;
        return;
    }
    if (t->prompt != HS_PR_NONE) {
        hs_prompt_key(t, key);
        return;
    }
    a = hs_key_action(key, screen_group(t));
    /* a repaint changes nothing, the message it may be for included */
    if (a == HS_ACT_REDRAW) {
        t->io.repaint(t->io.arg);
        return;
    }
    t->msg[0] = '\0';
    switch (a) {
    case HS_ACT_NONE: {
        char name[32];

        describe_key(key, name, sizeof(name));
        hs_tui_msg(t, 0, "%s does nothing here; %s", name,
                   t->screen == HS_SCR_HELP     ? "? or back leaves the help"
                   : t->screen == HS_SCR_ANSWER ? "back leaves the answer"
                                                : "? lists the keys");
        return;
    }
    case HS_ACT_QUIT:
        t->quit = 1;
        return;
    case HS_ACT_HELP:
        if (t->screen != HS_SCR_HELP) {
            t->help_from = t->screen;
            t->screen = HS_SCR_HELP;
            t->help_top = 0;
            return;
        }
        break;
    default:
        break;
    }
    switch (t->screen) {
    case HS_SCR_TABLE:
        hs_browse_key(t, a);
        break;
    case HS_SCR_INSPECT:
        hs_inspect_key(t, a);
        break;
    case HS_SCR_HELP:
        hs_help_key(t, a);
        break;
    case HS_SCR_ANSWER:
        hs_answer_key(t, a);
        break;
    }
}

void
hs_tui_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    const char *st;
    hs_layout l;

    hs_canvas_clear(c);
    c->cur_y = c->cur_x = -1;
    st = t->m->ops->status(t->m,
                           t->depth > 0 ? hs_tui_top(t)->view : NULL);
    snprintf(t->status, sizeof(t->status), "%s", st != NULL ? st : "");
    hs_layout_get(c, &l);
    if (l.too_small) {
        hs_canvas_put(c, 0, 0, -1, "too small", HS_A_ERROR);
        return;
    }
    switch (t->screen) {
    case HS_SCR_TABLE:
        hs_browse_draw(t);
        hs_draw_status(t, HS_G_TABLE);
        break;
    case HS_SCR_INSPECT:
        hs_inspect_draw(t);
        hs_draw_status(t, HS_G_INSPECT);
        break;
    case HS_SCR_HELP:
        hs_help_draw(t);
        hs_draw_status(t, HS_G_ALL);
        break;
    case HS_SCR_ANSWER:
        hs_answer_draw(t);
        hs_draw_status(t, HS_G_ALL);
        break;
    }
}

/* No key for this long: the model may work ahead (prepare). */
#define PREPARE_AFTER_MS 500

/* Let the model work ahead, if the user has paused long enough. */
static void
prepare(hs_tui *t)
{
    uint64_t now = t->io.now_ms(t->io.arg);
    hs_progress p = {hs_tui_prepare_tick, t};

    if (!t->prepare_more || t->m->ops->prepare == NULL || t->nahead > 0
        || now - t->last_key_ms < PREPARE_AFTER_MS) {
        return;
    }
    if (t->m->ops->prepare(t->m, &p) == 0) {
        t->prepare_more = 0;
    }
}

static void
idle(hs_tui *t)
{
    if (!t->m->ops->poll(t->m)) {
        return;
    }
    t->dirty = 1;
    if (t->screen == HS_SCR_INSPECT) {
        hs_inspect_poll(t);
    }
    else {
        hs_browse_poll(t);
    }
}

void
hs_tui_loop(hs_tui *t)
{
    while (!t->quit) {
        int key;

        if (t->dirty) {
            t->dirty = 0;
            hs_tui_draw(t);
            t->io.flush(t->io.arg, &t->canvas);
            /* what the draw asked of the model (the Dominated column's
             * rows) starts now, with the screen shown */
            idle(t);
            if (t->dirty) {
                continue;
            }
        }
        /* 100 ms: often enough for the Dominated column to fill in
         * smoothly, rare enough to cost nothing while the user reads. */
        key = hs_tui_typed_ahead(t);
        if (key == HS_K_NONE) {
            key = t->io.getkey(t->io.arg, &t->canvas, 100);
        }
        if (key == HS_K_NONE) {
            idle(t);
            prepare(t);
            continue;
        }
        hs_tui_key(t, key);
        t->last_key_ms = t->io.now_ms(t->io.arg);
        t->prepare_more = 1;
    }
    t->m->ops->cancel(t->m);
}
