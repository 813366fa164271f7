/* tui/inspect.c - the object page (key x): one object of the selected row
 * with its type, address, sizes, repr, path from the root, allocation
 * site, and the referrers and referents with how they refer.
 *
 * The hs_object it shows belongs to the model (valid until the next
 * inspect() or the release of its view): it keeps no copy, and goes back
 * to the table when a call fails rather than show a stale page.
 */
#include <stdio.h>
#include <string.h>

#include "tui_int.h"

#define LABEL_W 13

int
hs_inspect_open(hs_tui *t, size_t row, size_t nth)
{
    hs_frame *f = hs_tui_top(t);
    hs_inspect_state *s = &t->ins;
    hs_object obj;
    hs_progress p;
    hs_row r;
    int rc;

    if (f == NULL || hs_frame_row(t, f, row, &r) < 0) {
        return -1;
    }
    memset(&obj, 0, sizeof(obj));
    hs_progress_begin(t, &p);
    rc = t->m->ops->inspect(t->m, f->view, row, nth, &obj, &p);
    hs_progress_end(t);
    if (rc < 0) {
        /* the page shown before may be gone with the failed call */
        s->valid = 0;
        t->screen = HS_SCR_TABLE;
        hs_tui_model_error(t, "inspect");
        return -1;
    }
    if (!s->valid || s->row != row || s->nth != nth) {
        s->top = 0;
    }
    s->row = row;
    s->nth = nth;
    s->row_count = r.count;
    s->obj = obj;
    s->valid = 1;
    t->screen = HS_SCR_INSPECT;
    t->dirty = 1;
    return 0;
}

void
hs_inspect_poll(hs_tui *t)
{
    /* a dominated size that was pending may be there now: ask again */
    if (t->screen == HS_SCR_INSPECT && t->ins.valid
        && t->ins.obj.dominated_state == HS_DOM_PENDING) {
        hs_inspect_open(t, t->ins.row, t->ins.nth);
    }
}

static void
field(hs_page *pg, const char *label, const char *text)
{
    hs_page_text(pg, 2, label, LABEL_W, text, HS_A_NORMAL);
}

static void
refs(hs_page *pg, const char *title, size_t total, const hs_ref *r,
     size_t shown)
{
    hs_canvas *c = &pg->t->canvas;
    char buf[128];
    int y;

    hs_page_line(pg);   /* a blank line before each section */
    if (shown < total) {
        snprintf(buf, sizeof(buf), "%s: %zu (the first %zu)", title, total,
                 shown);
    }
    else {
        snprintf(buf, sizeof(buf), "%s: %zu", title, total);
    }
    hs_page_text(pg, 1, NULL, 0, buf, HS_A_HEADER);
    if (shown == 0 || r == NULL) {
        return;
    }
    /* kind | via | size | repr, the repr taking what is left */
    int wk = c->cols >= 100 ? 30 : 22, wv = c->cols >= 100 ? 22 : 16;
    int ws = 9, x0 = 3;

    y = hs_page_line(pg);
    if (y >= 0) {
        hs_canvas_put(c, y, x0, wk, "Kind", HS_A_HEADER);
        hs_canvas_put(c, y, x0 + wk + 1, wv, "Via", HS_A_HEADER);
        hs_canvas_put_right(c, y, x0 + wk + wv + 2, ws, "Size",
                            HS_A_HEADER);
        hs_canvas_put(c, y, x0 + wk + wv + ws + 3, -1, "Representation",
                      HS_A_HEADER);
    }
    for (size_t i = 0; i < shown; i++) {
        y = hs_page_line(pg);
        if (y < 0) {
            continue;
        }
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)r[i].size);
        hs_canvas_put(c, y, x0, wk, r[i].kind ? r[i].kind : "", HS_A_NORMAL);
        hs_canvas_put(c, y, x0 + wk + 1, wv, r[i].via ? r[i].via : "",
                      HS_A_NORMAL);
        hs_canvas_put_right(c, y, x0 + wk + wv + 2, ws, buf, HS_A_NORMAL);
        hs_canvas_put(c, y, x0 + wk + wv + ws + 3, -1,
                      r[i].repr ? r[i].repr : "", HS_A_NORMAL);
    }
}

void
hs_inspect_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    hs_inspect_state *s = &t->ins;
    const hs_object *o = &s->obj;
    hs_frame *f = hs_tui_top(t);
    char buf[256], human[32], label[1024] = "";
    hs_layout l;
    hs_page pg;
    int h;

    hs_layout_get(c, &l);
    hs_draw_title(t, o->expr != NULL ? o->expr : "");
    h = (l.sep >= 0 ? l.sep : l.status) - 1;
    hs_page_begin(&pg, t, 1, h, s->top);

    snprintf(buf, sizeof(buf), "Object %zu of %llu", s->nth + 1,
             (unsigned long long)s->row_count);
    if (f != NULL) {
        /* the row's heapy index, not its place in the current order */
        hs_row r;

        if (hs_frame_row(t, f, s->row, &r) == 0) {
            snprintf(buf, sizeof(buf), "Object %zu of %llu in %s[%zu]",
                     s->nth + 1, (unsigned long long)s->row_count, f->expr,
                     r.index);
            /* the whole label, which the table may have cut */
            snprintf(label, sizeof(label), "%s", r.label);
        }
    }
    hs_page_text(&pg, 1, NULL, 0, buf, HS_A_HEADER);
    if (label[0] != '\0') {
        field(&pg, "row", label);
    }
    field(&pg, "expression", o->expr);
    field(&pg, "type", o->type);
    snprintf(buf, sizeof(buf), "%#llx", (unsigned long long)o->address);
    field(&pg, "address", buf);
    snprintf(buf, sizeof(buf), "%llu bytes", (unsigned long long)o->size);
    field(&pg, "size", buf);
    if (o->dominated_state == HS_DOM_READY) {
        hs_fmt_bytes(o->dominated, human, sizeof(human));
        snprintf(buf, sizeof(buf), "%llu bytes (%s): freed with it",
                 (unsigned long long)o->dominated, human);
    }
    else if (o->dominated_state == HS_DOM_PENDING) {
        snprintf(buf, sizeof(buf), "being computed...");
    }
    else {
        snprintf(buf, sizeof(buf), "not available");
    }
    field(&pg, "dominated", buf);
    field(&pg, "repr", o->repr);
    field(&pg, "path", o->path != NULL ? o->path : "(not reachable from "
                                                   "the root)");
    field(&pg, "allocated", o->traceback != NULL
                                ? o->traceback
                                : "(unknown: tracemalloc was off)");
    refs(&pg, "Referrers", o->nreferrers, o->referrers, o->shown_referrers);
    refs(&pg, "Referents", o->nreferents, o->referents, o->shown_referents);
    s->nlines = pg.n;
    t->table_rows = h;
}

/* A view of what refers to the object, what it refers to or what it
 * dominates, over the table; back comes back to this page. */
static void
step_object(hs_tui *t, enum hs_step how)
{
    static const char *const what[] = {"", "referrers", "referents",
                                       "dominos"};
    hs_inspect_state *s = &t->ins;
    hs_frame *f = hs_tui_top(t);
    size_t row = s->row, nth = s->nth;
    hs_progress p;
    hs_view *v;

    hs_progress_begin(t, &p);
    v = t->m->ops->step_object(t->m, f->view, row, nth, how, &p);
    hs_progress_end(t);
    if (hs_tui_push(t, v, what[how]) == 0) {
        f = hs_tui_top(t);
        f->from_inspect = 1;
        f->ins_row = row;
        f->ins_nth = nth;
        s->valid = 0;       /* (the page's strings go with the next call) */
        t->screen = HS_SCR_TABLE;
    }
}

void
hs_inspect_key(hs_tui *t, enum hs_action a)
{
    hs_inspect_state *s = &t->ins;

    if (hs_page_scroll(&s->top, s->nlines, t->table_rows, a)) {
        return;
    }
    switch (a) {
    case HS_ACT_NEXT_OBJ:
        if (s->nth + 1 >= s->row_count) {
            hs_tui_msg(t, 0, "this is the last object of the row");
        }
        else {
            hs_inspect_open(t, s->row, s->nth + 1);
        }
        break;
    case HS_ACT_PREV_OBJ:
        if (s->nth == 0) {
            hs_tui_msg(t, 0, "this is the first object of the row");
        }
        else {
            hs_inspect_open(t, s->row, s->nth - 1);
        }
        break;
    case HS_ACT_OBJ_REFERRERS:
    case HS_ACT_OBJ_REFERENTS:
    case HS_ACT_OBJ_DOMINOS:
        step_object(t, a == HS_ACT_OBJ_REFERRERS   ? HS_STEP_REFERRERS
                       : a == HS_ACT_OBJ_REFERENTS ? HS_STEP_REFERENTS
                                                   : HS_STEP_DOMINOS);
        break;
    case HS_ACT_BACK:
    case HS_ACT_CANCEL:
        t->screen = HS_SCR_TABLE;
        break;
    default: {
        const hs_keydef *d = hs_key_def(a);

        hs_tui_msg(t, 0, "%s does nothing in the inspector; back returns "
                         "to the table", d != NULL ? d->names : "this key");
        break;
    }
    }
}
