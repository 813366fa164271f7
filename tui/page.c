/* tui/page.c - a scrollable page of wrapped text: the inspector and the
 * help screen are built from it.
 *
 * Lines are generated on every draw, counted, and written to the canvas
 * only when on screen, so a page keeps no copy of its text (the
 * inspector's strings belong to the model).
 */
#include <string.h>

#include "tui_int.h"

void
hs_page_begin(hs_page *pg, hs_tui *t, int y0, int h, size_t top)
{
    pg->t = t;
    pg->y0 = y0;
    pg->h = h < 0 ? 0 : h;
    pg->top = top;
    pg->n = 0;
}

int
hs_page_line(hs_page *pg)
{
    size_t i = pg->n++;

    if (i < pg->top || i >= pg->top + (size_t)pg->h) {
        return -1;
    }
    return pg->y0 + (int)(i - pg->top);
}

/* Bytes of s that fit in w columns, stopping at a newline; prefers to
 * end after a space when the text goes on. */
static size_t
fit(const char *s, int w, int *wrapped)
{
    const char *p = s, *last_space = NULL;
    int col = 0;

    *wrapped = 0;
    while (*p && *p != '\n') {
        const char *q = p;
        uint32_t ch = hs_utf8_next(&q);
        int cw = (ch < 0x20 || ch == 0x7f) ? 1 : hs_char_width(ch);

        if (col + cw > w) {
            *wrapped = 1;
            if (last_space != NULL && last_space > s) {
                return (size_t)(last_space - s);
            }
            return p == s ? (size_t)(q - s) : (size_t)(p - s);
        }
        col += cw;
        p = q;
        if (ch == ' ') {
            last_space = p;
        }
    }
    return (size_t)(p - s);
}

void
hs_page_text(hs_page *pg, int x, const char *label, int label_w,
             const char *text, enum hs_attr a)
{
    hs_canvas *c = &pg->t->canvas;
    int tx = x + label_w, w = c->cols - tx;
    const char *p = text != NULL ? text : "";
    int first = 1;
    char line[1024];

    if (w < 8) {            /* too narrow to wrap: one clipped line */
        w = 8;
    }
    do {
        int y = hs_page_line(pg), wrapped;
        size_t n = fit(p, w, &wrapped);

        if (n >= sizeof(line)) {
            n = sizeof(line) - 1;
        }
        if (y >= 0) {
            if (first && label != NULL) {
                hs_canvas_put(c, y, x, label_w, label, HS_A_HEADER);
            }
            memcpy(line, p, n);
            line[n] = '\0';
            hs_canvas_put(c, y, tx, -1, line, a);
        }
        first = 0;
        p += n;
        if (*p == '\n') {
            p++;
            if (*p == '\0') {
                break;
            }
        }
    } while (*p);
}

int
hs_page_scroll(size_t *top, size_t n, int h, enum hs_action a)
{
    size_t hh = h > 0 ? (size_t)h : 1;
    size_t max = n > hh ? n - hh : 0;
    size_t page = hh > 1 ? hh - 1 : 1;

    switch (a) {
    case HS_ACT_UP:
        *top = *top > 0 ? *top - 1 : 0;
        break;
    case HS_ACT_DOWN:
        *top = *top + 1;
        break;
    case HS_ACT_PGUP:
        *top = *top > page ? *top - page : 0;
        break;
    case HS_ACT_PGDN:
        *top = *top + page;
        break;
    case HS_ACT_FIRST:
        *top = 0;
        break;
    case HS_ACT_LAST:
        *top = max;
        break;
    default:
        return 0;
    }
    if (*top > max) {
        *top = max;
    }
    return 1;
}
