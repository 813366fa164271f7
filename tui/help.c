/* tui/help.c - the ? screen: every key of keys.def, by where it works,
 * with the same words as the man page's EXPLORER KEYS section.
 *
 * Generated from the table at each draw; it has no text of its own
 * beyond the headings, so it cannot drift from the dispatcher.
 */
#include <stdio.h>

#include "tui_int.h"

#define NAMES_W 22

void
hs_help_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    hs_layout l;
    hs_page pg;
    int h;

    hs_layout_get(c, &l);
    hs_draw_title(t, "keys (? or back to leave)");
    h = (l.sep >= 0 ? l.sep : l.status) - 1;
    hs_page_begin(&pg, t, 1, h, t->help_top);
    /* the table's own keys first: they are what the user came for */
    static const enum hs_group order[] = {HS_G_TABLE, HS_G_INSPECT,
                                          HS_G_ALL, HS_G_PROMPT, HS_G_ASK};

    for (size_t gi = 0; gi < sizeof(order) / sizeof(order[0]); gi++) {
        enum hs_group g = order[gi];

        if (gi > 0) {
            hs_page_line(&pg);
        }
        hs_page_text(&pg, 1, NULL, 0, hs_group_title[g], HS_A_HEADER);
        for (size_t i = 0; i < hs_nkeys; i++) {
            if (hs_keys[i].group == g) {
                hs_page_text(&pg, 3, hs_keys[i].names, NAMES_W,
                             hs_keys[i].help, HS_A_NORMAL);
            }
        }
    }
    t->help_nlines = pg.n;
    t->table_rows = h;
}

void
hs_help_key(hs_tui *t, enum hs_action a)
{
    if (hs_page_scroll(&t->help_top, t->help_nlines, t->table_rows, a)) {
        return;
    }
    switch (a) {
    case HS_ACT_HELP:
    case HS_ACT_BACK:
    case HS_ACT_CANCEL:
        t->screen = t->help_from;
        break;
    default:
        hs_tui_msg(t, 0, "? or back leaves the help");
        break;
    }
}
