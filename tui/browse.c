/* tui/browse.c - the partition table: heapy's columns plus Dominated, the
 * selection, and the keys that move in it or make new views from it.
 *
 * Draws into the canvas only.  Asks the model for the rows it shows and
 * no others (a view may have millions), except where the user asked for
 * a scan (search, sort keeping the selection), which shows progress.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tui_int.h"

/* Which columns fit, from the widest set to the narrowest. */
enum {
    COL_COUNT = 1,
    COL_PCT = 2,        /* the % after Count and Size */
    COL_CUM = 4,        /* Cumulative and its % */
    COL_DOM = 8
};

static const int col_sets[] = {
    COL_COUNT | COL_PCT | COL_CUM | COL_DOM,
    COL_COUNT | COL_PCT | COL_DOM,
    COL_COUNT | COL_DOM,
    COL_DOM,
    0
};

typedef struct cols {
    int set;
    int wi, wc, ws, wu, wd;     /* index, count, size, cumulative, dom */
    int label_x;
} cols;

#define MIN_LABEL 16
#define PREFIX 2        /* " >" marks the selected row */

static int
cols_width(const cols *k)
{
    int w = PREFIX + k->wi + 1;

    if (k->set & COL_COUNT) {
        w += k->wc + 1 + ((k->set & COL_PCT) ? 4 : 0);
    }
    w += k->ws + 1 + ((k->set & COL_PCT) ? 4 : 0);
    if (k->set & COL_CUM) {
        w += k->wu + 1 + 4;
    }
    if (k->set & COL_DOM) {
        w += k->wd + 2;
    }
    return w;
}

static void
cols_get(const hs_frame *f, int width, cols *k)
{
    size_t n = f->info.nrows;
    int dc = hs_fmt_digits(f->info.count), ds = hs_fmt_digits(f->info.size);

    /* a column to spare: the selected row's marker sits right before it */
    k->wi = hs_fmt_digits(n > 0 ? n - 1 : 0) + 1;
    k->wi = k->wi < 5 ? 5 : k->wi;
    k->wc = dc < 5 ? 5 : dc;
    k->ws = ds < 4 ? 4 : ds;
    k->wu = ds < 10 ? 10 : ds;
    k->wd = 9;
    for (size_t i = 0; i < sizeof(col_sets) / sizeof(col_sets[0]); i++) {
        k->set = col_sets[i];
        if (cols_width(k) + MIN_LABEL <= width) {
            break;
        }
    }
    k->label_x = cols_width(k);
}

/* Put s right-aligned in w columns at *x, then a space. */
static void
cell(hs_canvas *c, int y, int *x, int w, const char *s, enum hs_attr a)
{
    hs_canvas_put_right(c, y, *x, w, s, a);
    *x += w + 1;
}

static void
cell_num(hs_canvas *c, int y, int *x, int w, uint64_t v, enum hs_attr a)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    cell(c, y, x, w, buf, a);
}

static const char *const sort_name[HS_SORT_N] = {
    "size", "count", "dominated size", "name"
};

/* The summary line, and on its right the order of the rows when it is not
 * heapy's (size), where there is room. */
static void
draw_summary(hs_tui *t, const hs_frame *f, int y)
{
    hs_canvas *c = &t->canvas;
    char order[40];
    int w, ow;

    hs_canvas_put(c, y, 1, -1, f->summary, HS_A_NORMAL);
    if (f->info.sort == HS_SORT_SIZE || f->info.sort >= HS_SORT_N) {
        return;
    }
    snprintf(order, sizeof(order), "sorted by %s", sort_name[f->info.sort]);
    w = hs_text_width(f->summary);
    ow = hs_text_width(order);
    if (1 + w + 3 + ow + 1 <= c->cols) {
        hs_canvas_put(c, y, c->cols - ow - 1, ow, order, HS_A_HEADER);
    }
}

static void
draw_header(hs_tui *t, const hs_frame *f, const cols *k, int y)
{
    hs_canvas *c = &t->canvas;
    int x = PREFIX;

    hs_canvas_fill(c, y, 0, HS_A_HEADER);
    cell(c, y, &x, k->wi, "Index", HS_A_HEADER);
    if (k->set & COL_COUNT) {
        cell(c, y, &x, k->wc, "Count", HS_A_HEADER);
        if (k->set & COL_PCT) {
            cell(c, y, &x, 3, "%", HS_A_HEADER);
        }
    }
    cell(c, y, &x, k->ws, "Size", HS_A_HEADER);
    if (k->set & COL_PCT) {
        cell(c, y, &x, 3, "%", HS_A_HEADER);
    }
    if (k->set & COL_CUM) {
        cell(c, y, &x, k->wu, "Cumulative", HS_A_HEADER);
        cell(c, y, &x, 3, "%", HS_A_HEADER);
    }
    if (k->set & COL_DOM) {
        cell(c, y, &x, k->wd, "Dominated", HS_A_HEADER);
        x++;
    }
    hs_canvas_put(c, y, x, -1, f->column, HS_A_HEADER);
}

/* The sum of the sizes of rows [0, i), moving the frame's cache there. */
static uint64_t
cum_before(hs_tui *t, hs_frame *f, size_t i)
{
    hs_row r;

    while (f->cum_row < i) {
        hs_frame_row(t, f, f->cum_row, &r);
        f->cum_val += r.size;
        f->cum_row++;
    }
    while (f->cum_row > i) {
        f->cum_row--;
        hs_frame_row(t, f, f->cum_row, &r);
        f->cum_val -= r.size;
    }
    return f->cum_val;
}

static void
draw_dominated(hs_tui *t, hs_frame *f, size_t i, int y, int *x, int w,
               enum hs_attr a)
{
    hs_canvas *c = &t->canvas;
    uint64_t bytes = 0;
    char buf[32];
    int st;

    if (f->dom_paused) {
        cell(c, y, x, w, "stopped", a == HS_A_SELECT ? a : HS_A_DIM);
        return;
    }
    st = t->m->ops->dominated(t->m, f->view, i, &bytes);
    if (st == HS_DOM_READY) {
        hs_fmt_bytes(bytes, buf, sizeof(buf));
        cell(c, y, x, w, buf, a);
    }
    else if (st == HS_DOM_PENDING) {
        cell(c, y, x, w, c->unicode ? "\xe2\x80\xa6" : "...",
             a == HS_A_SELECT ? a : HS_A_DIM);
    }
    else {
        cell(c, y, x, w, "-", a == HS_A_SELECT ? a : HS_A_DIM);
    }
}

/* Keep the selection on screen, scrolling as little as possible. */
static void
scroll_to_cursor(hs_frame *f, int nrows)
{
    size_t h = nrows > 0 ? (size_t)nrows : 1;

    if (f->cur < f->top) {
        f->top = f->cur;
    }
    else if (f->cur >= f->top + h) {
        f->top = f->cur - h + 1;
    }
    /* no empty space below the last row when there are rows above */
    if (f->info.nrows >= h && f->top + h > f->info.nrows) {
        f->top = f->info.nrows - h;
    }
}

void
hs_browse_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    hs_frame *f = hs_tui_top(t);
    uint64_t cum;
    hs_layout l;
    cols k;

    if (f == NULL) {
        return;
    }
    hs_layout_get(c, &l);
    t->table_rows = l.nrows;
    hs_draw_title(t, f->expr);
    if (l.summary >= 0) {
        draw_summary(t, f, l.summary);
    }
    cols_get(f, c->cols, &k);
    draw_header(t, f, &k, l.header);
    if (f->info.nrows == 0) {
        if (l.nrows > 0) {
            hs_canvas_put(c, l.first, PREFIX, -1, "(no objects)", HS_A_DIM);
        }
        return;
    }
    scroll_to_cursor(f, l.nrows);
    cum = (k.set & COL_CUM) ? cum_before(t, f, f->top) : 0;
    for (int j = 0; j < l.nrows; j++) {
        size_t i = f->top + (size_t)j;
        int y = l.first + j, x = PREFIX;
        enum hs_attr a = i == f->cur ? HS_A_SELECT : HS_A_NORMAL;
        hs_row r;

        if (i >= f->info.nrows) {
            break;
        }
        hs_frame_row(t, f, i, &r);
        cum += r.size;
        hs_canvas_fill(c, y, 0, a);
        if (i == f->cur) {
            hs_canvas_put(c, y, 0, PREFIX, " >", a);
        }
        cell_num(c, y, &x, k.wi, r.index, a);
        if (k.set & COL_COUNT) {
            cell_num(c, y, &x, k.wc, r.count, a);
            if (k.set & COL_PCT) {
                cell_num(c, y, &x, 3, hs_fmt_pct(r.count, f->info.count), a);
            }
        }
        /* the label is the model's until the next call on the view:
         * put it before asking for anything else */
        hs_canvas_put(c, y, k.label_x, -1, r.label, a);
        cell_num(c, y, &x, k.ws, r.size, a);
        if (k.set & COL_PCT) {
            cell_num(c, y, &x, 3, hs_fmt_pct(r.size, f->info.size), a);
        }
        if (k.set & COL_CUM) {
            cell_num(c, y, &x, k.wu, cum, a);
            cell_num(c, y, &x, 3, hs_fmt_pct(cum, f->info.size), a);
        }
        if (k.set & COL_DOM) {
            draw_dominated(t, f, i, y, &x, k.wd, a);
        }
    }
}

void
hs_browse_row_expr(hs_tui *t, char *buf, size_t len)
{
    hs_frame *f = hs_tui_top(t);
    hs_row r;

    if (f == NULL || f->info.nrows == 0) {
        snprintf(buf, len, "%s", f != NULL ? f->expr : "");
        return;
    }
    hs_frame_row(t, f, f->cur, &r);
    snprintf(buf, len, "%s[%zu]", f->expr, r.index);
}

/* ---- keys ------------------------------------------------------------ */

static void
move(hs_tui *t, hs_frame *f, long delta)
{
    size_t n = f->info.nrows;

    if (n == 0) {
        return;
    }
    if (delta < 0 && (size_t)-delta > f->cur) {
        f->cur = 0;
    }
    else if (delta > 0 && f->cur + (size_t)delta >= n) {
        f->cur = n - 1;
    }
    else {
        f->cur = (size_t)((long)f->cur + delta);
    }
}

static const char *const rel_name[HS_REL_N] = {
    "clodo", "type", "rcs", "via", "size", "id", "module", "allocation site"
};

/* Partition the set by rel; with `step` (+1/-1) try the following
 * relations until one works (Tab must not get stuck on one the model
 * cannot do, like allocation sites without tracemalloc). */
static void
repartition(hs_tui *t, enum hs_rel rel, int step)
{
    hs_frame *f = hs_tui_top(t);
    enum hs_rel from = f->info.rel;

    if (step == 0 && rel == from) {
        hs_tui_msg(t, 0, "already partitioned by %s", rel_name[rel]);
        return;
    }
    for (int tries = 0; tries < HS_REL_N - 1; tries++) {
        hs_progress p;
        hs_view *v;

        hs_progress_begin(t, &p);
        v = t->m->ops->repartition(t->m, f->view, rel, &p);
        hs_progress_end(t);
        if (v != NULL) {
            char failed[HS_MSG_MAX];

            snprintf(failed, sizeof(failed), "%s", t->msg);
            if (hs_tui_replace(t, v, rel_name[rel]) == 0 && failed[0]) {
                hs_tui_msg(t, 1, "%s; by %s instead", failed,
                           rel_name[rel]);
            }
            return;
        }
        hs_tui_model_error(t, rel_name[rel]);
        if (step == 0 || t->op_cancelled || t->quit) {
            return;
        }
        rel = (enum hs_rel)((rel + HS_REL_N + step) % HS_REL_N);
        if (rel == from) {
            return;
        }
    }
}

/* Re-order, trying the next orders when one is not available yet (the
 * dominated sizes), and keep the selection on the same row. */
static void
sort(hs_tui *t, int step)
{
    hs_frame *f = hs_tui_top(t);
    enum hs_sort how = f->info.sort;
    char skipped[HS_MSG_MAX] = "";
    size_t keep = 0;
    int have_keep = 0;
    hs_row r;

    if (f->info.nrows > 0 && hs_frame_row(t, f, f->cur, &r) == 0) {
        keep = r.index;
        have_keep = 1;
    }
    for (int tries = 0; tries < HS_SORT_N - 1; tries++) {
        hs_progress p;
        int rc;

        how = (enum hs_sort)((how + HS_SORT_N + step) % HS_SORT_N);
        hs_progress_begin(t, &p);
        rc = t->m->ops->sort(t->m, f->view, how, &p);
        hs_progress_end(t);
        if (rc == 0) {
            break;
        }
        hs_tui_model_error(t, sort_name[how]);
        if (t->op_cancelled || t->quit) {
            return;
        }
        snprintf(skipped, sizeof(skipped), "%s", t->msg);
        if (tries == HS_SORT_N - 2) {
            return;
        }
    }
    if (hs_frame_load_info(t, f) < 0) {
        return;
    }
    if (skipped[0]) {
        hs_tui_msg(t, 1, "%s; sorted by %s", skipped, sort_name[how]);
    }
    else {
        hs_tui_msg(t, 0, "sorted by %s", sort_name[how]);
    }
    f->cur = 0;
    /* Finding the row again costs a scan: only where it is cheap. */
    if (have_keep && f->info.nrows <= 100000) {
        for (size_t i = 0; i < f->info.nrows; i++) {
            if (hs_frame_row(t, f, i, &r) == 0 && r.index == keep) {
                f->cur = i;
                break;
            }
        }
    }
}

static void
step(hs_tui *t, enum hs_step how, const char *what)
{
    hs_frame *f = hs_tui_top(t);
    hs_progress p;
    hs_view *v;

    if (f->info.nrows == 0) {
        hs_tui_msg(t, 0, "no rows here");
        return;
    }
    hs_progress_begin(t, &p);
    v = t->m->ops->step(t->m, f->view, f->cur, how, &p);
    hs_progress_end(t);
    hs_tui_push(t, v, what);
}

static int
contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++) {
        size_t i = 0;

        while (i < n && hay[i]
               && tolower((unsigned char)hay[i])
                      == tolower((unsigned char)needle[i])) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return n == 0;
}

/* Find the search text from row `from` on, in direction dir (wrapping). */
static void
search(hs_tui *t, size_t from, int dir)
{
    hs_frame *f = hs_tui_top(t);
    size_t n = f->info.nrows;
    hs_progress p;

    if (t->search[0] == '\0') {
        hs_tui_msg(t, 0, "no search yet: / starts one");
        return;
    }
    if (n == 0) {
        hs_tui_msg(t, 0, "no rows to search");
        return;
    }
    hs_progress_begin(t, &p);
    for (size_t k = 0; k < n; k++) {
        size_t i = dir > 0 ? (from + k) % n : (from + n - k % n) % n;
        hs_row r;

        if ((k & 1023) == 1023 && p.tick(p.arg, "search", k, n)) {
            break;
        }
        if (hs_frame_row(t, f, i, &r) < 0) {
            break;
        }
        if (contains_nocase(r.label, t->search)) {
            hs_progress_end(t);
            if ((dir > 0 && i < from) || (dir < 0 && i > from)) {
                hs_tui_msg(t, 0, "search wrapped around");
            }
            f->cur = i;
            return;
        }
    }
    hs_progress_end(t);
    if (!t->op_cancelled && t->msg[0] == '\0') {
        hs_tui_msg(t, 1, "not found: %s", t->search);
    }
}

static void
show_dominated(hs_tui *t, hs_frame *f)
{
    char expr[HS_PROMPT_MAX], human[32];
    uint64_t bytes = 0;
    int st;

    if (f->info.nrows == 0) {
        hs_tui_msg(t, 0, "no rows here");
        return;
    }
    f->dom_paused = 0;
    hs_browse_row_expr(t, expr, sizeof(expr));
    st = t->m->ops->dominated(t->m, f->view, f->cur, &bytes);
    t->dom_wait = 0;
    if (st == HS_DOM_READY) {
        hs_fmt_bytes(bytes, human, sizeof(human));
        hs_tui_msg(t, 0, "%s.domisize = %llu (%s)", expr,
                   (unsigned long long)bytes, human);
    }
    else if (st == HS_DOM_PENDING) {
        hs_tui_msg(t, 0, "%s: dominated size still being computed...",
                   expr);
        t->dom_wait = 1;
        t->dom_wait_row = f->cur;
    }
    else {
        hs_tui_msg(t, 1, "%s: no dominated size for this row", expr);
    }
}

void
hs_browse_poll(hs_tui *t)
{
    hs_frame *f = hs_tui_top(t);
    uint64_t bytes;

    if (!t->dom_wait || f == NULL || f->cur != t->dom_wait_row
        || t->screen != HS_SCR_TABLE) {
        return;
    }
    if (t->m->ops->dominated(t->m, f->view, f->cur, &bytes)
        != HS_DOM_PENDING) {
        show_dominated(t, f);
    }
}

void
hs_browse_prompt_done(hs_tui *t, enum hs_prompt_kind k, const char *text)
{
    hs_frame *f = hs_tui_top(t);

    switch (k) {
    case HS_PR_EVAL: {
        hs_progress p;
        hs_view *v;

        if (text[0] == '\0') {
            return;
        }
        hs_progress_begin(t, &p);
        v = t->m->ops->eval(t->m, f->view, text, &p);
        hs_progress_end(t);
        /* The expression may have printed, or let the program's threads
         * print, over the screen: what the terminal shows is unknown. */
        t->io.repaint(t->io.arg);
        if (v == NULL && strchr(t->m->ops->error(t->m), '\n') != NULL) {
            hs_answer_open(t, t->m->ops->error(t->m));
        }
        else {
            hs_tui_push(t, v, text);
        }
        break;
    }
    case HS_PR_SEARCH:
        if (text[0] != '\0') {
            snprintf(t->search, sizeof(t->search), "%s", text);
        }
        search(t, f->cur, 1);
        break;
    case HS_PR_WRITE:
        if (text[0] == '\0') {
            text = "heapscope-view.txt";
        }
        if (hs_report_exists(text)) {
            hs_prompt_open(t, HS_PR_OVERWRITE, text);
        }
        else {
            hs_report_write(t, f, text);
        }
        break;
    case HS_PR_OVERWRITE:
        hs_report_write(t, f, text);
        break;
    default:
        break;
    }
}

void
hs_browse_key(hs_tui *t, enum hs_action a)
{
    hs_frame *f = hs_tui_top(t);
    long page = t->table_rows > 1 ? t->table_rows - 1 : 1;

    if (f == NULL) {
        return;
    }
    if (a != HS_ACT_DOMSIZE) {
        t->dom_wait = 0;
    }
    switch (a) {
    case HS_ACT_UP:
        move(t, f, -1);
        break;
    case HS_ACT_DOWN:
        move(t, f, 1);
        break;
    case HS_ACT_PGUP:
        move(t, f, -page);
        break;
    case HS_ACT_PGDN:
        move(t, f, page);
        break;
    case HS_ACT_FIRST:
        f->cur = 0;
        break;
    case HS_ACT_LAST:
        f->cur = f->info.nrows > 0 ? f->info.nrows - 1 : 0;
        break;
    case HS_ACT_OPEN:
        step(t, HS_STEP_OPEN, "open");
        break;
    case HS_ACT_REFERRERS:
        step(t, HS_STEP_REFERRERS, "referrers");
        break;
    case HS_ACT_REFERENTS:
        step(t, HS_STEP_REFERENTS, "referents");
        break;
    case HS_ACT_DOMINOS:
        step(t, HS_STEP_DOMINOS, "dominos");
        break;
    case HS_ACT_BACK:
        if (t->depth <= 1) {
            hs_tui_msg(t, 0, "this is the first view; q closes the explorer");
        }
        else {
            int ins = f->from_inspect;
            size_t row = f->ins_row, nth = f->ins_nth;

            hs_tui_pop(t);
            if (ins) {          /* back to the object it was made from */
                hs_inspect_open(t, row, nth);
            }
        }
        break;
    case HS_ACT_BY_CLODO:
    case HS_ACT_BY_TYPE:
    case HS_ACT_BY_RCS:
    case HS_ACT_BY_VIA:
    case HS_ACT_BY_SIZE:
    case HS_ACT_BY_ID:
    case HS_ACT_BY_MODULE:
    case HS_ACT_BY_PROD:
        repartition(t, (enum hs_rel)(HS_REL_CLODO + (a - HS_ACT_BY_CLODO)),
                    0);
        break;
    case HS_ACT_NEXT_REL:
        repartition(t, (enum hs_rel)((f->info.rel + 1) % HS_REL_N), 1);
        break;
    case HS_ACT_PREV_REL:
        repartition(t, (enum hs_rel)((f->info.rel + HS_REL_N - 1) % HS_REL_N),
                    -1);
        break;
    case HS_ACT_DOMSIZE:
        show_dominated(t, f);
        break;
    case HS_ACT_INSPECT:
        if (f->info.nrows == 0) {
            hs_tui_msg(t, 0, "no rows here");
        }
        else {
            hs_inspect_open(t, f->cur, 0);
        }
        break;
    case HS_ACT_SORT:
        sort(t, 1);
        break;
    case HS_ACT_SORT_BACK:
        sort(t, -1);
        break;
    case HS_ACT_SEARCH:
        hs_prompt_open(t, HS_PR_SEARCH, "");
        break;
    case HS_ACT_NEXT_MATCH:
        search(t, f->info.nrows ? (f->cur + 1) % f->info.nrows : 0, 1);
        break;
    case HS_ACT_PREV_MATCH:
        search(t, f->info.nrows ? (f->cur + f->info.nrows - 1) % f->info.nrows
                                : 0, -1);
        break;
    case HS_ACT_EVAL:
        hs_prompt_open(t, HS_PR_EVAL, "");
        break;
    case HS_ACT_MARK:
        if (t->m->ops->mark(t->m) < 0) {
            hs_tui_model_error(t, "mark");
        }
        else {
            hs_tui_msg(t, 0, "mark set: u takes a snapshot of what is new "
                             "since now");
        }
        break;
    case HS_ACT_REFRESH: {
        hs_progress p;
        hs_view *v;

        hs_progress_begin(t, &p);
        v = t->m->ops->refresh(t->m, &p);
        hs_progress_end(t);
        if (hs_tui_push(t, v, "refresh") == 0) {
            hs_tui_msg(t, 0, "fresh snapshot; back returns to the old one");
        }
        break;
    }
    case HS_ACT_WRITE:
        hs_prompt_open(t, HS_PR_WRITE, "heapscope-view.txt");
        break;
    case HS_ACT_CANCEL:
        if (!f->dom_paused) {
            t->m->ops->cancel(t->m);
            f->dom_paused = 1;
            hs_tui_msg(t, 0, "stopped computing dominated sizes; d resumes");
        }
        break;
    default: {
        const hs_keydef *d = hs_key_def(a);

        hs_tui_msg(t, 0, "%s does nothing in the table",
                   d != NULL ? d->names : "this key");
        break;
    }
    }
}
