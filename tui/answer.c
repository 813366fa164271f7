/* tui/answer.c - the answer page: what an expression typed at : gave
 * when it is not a set and takes more than the status line (the paths
 * of sp, the reference pattern of rp).  Its first line, the expression,
 * is the title; the rest scrolls; back leaves it.
 */
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"

void
hs_answer_open(hs_tui *t, const char *text)
{
    char *copy = strdup(text);

    if (copy == NULL) {
        hs_tui_msg(t, 1, "out of memory");
        return;
    }
    free(t->answer);
    t->answer = copy;
    t->answer_top = 0;
    t->screen = HS_SCR_ANSWER;
    t->dirty = 1;
}

void
hs_answer_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    char title[HS_PROMPT_MAX + 8];
    const char *body = t->answer != NULL ? strchr(t->answer, '\n') : NULL;
    size_t n = body != NULL ? (size_t)(body - t->answer) : 0;
    hs_layout l;
    hs_page pg;
    int h;

    if (n >= sizeof(title)) {
        n = sizeof(title) - 1;
    }
    memcpy(title, t->answer != NULL ? t->answer : "", n);
    title[n] = '\0';
    hs_layout_get(c, &l);
    hs_draw_title(t, title);
    h = (l.sep >= 0 ? l.sep : l.status) - 1;
    hs_page_begin(&pg, t, 1, h, t->answer_top);
    hs_page_text(&pg, 0, NULL, 0, body != NULL ? body + 1 : "",
                 HS_A_NORMAL);
    t->answer_nlines = pg.n;
    t->table_rows = h;
}

void
hs_answer_key(hs_tui *t, enum hs_action a)
{
    if (hs_page_scroll(&t->answer_top, t->answer_nlines, t->table_rows,
                       a)) {
        return;
    }
    switch (a) {
    case HS_ACT_BACK:
    case HS_ACT_CANCEL:
        t->screen = HS_SCR_TABLE;
        free(t->answer);
        t->answer = NULL;
        break;
    default:
        hs_tui_msg(t, 0, "back leaves the answer");
        break;
    }
}
