/* tui/canvas.c - the abstract screen: a grid of cells the drawing code
 * writes UTF-8 into, clipping with an ellipsis, and that screen.c copies
 * to curses (or a test reads back as text).
 *
 * It must never write outside the grid, whatever the size (0x0 included)
 * or the text (invalid UTF-8, control characters, wide characters at the
 * edge): every put is clipped here, so callers need not be careful.
 */
#include <stdlib.h>
#include <string.h>

#include "tui_int.h"

int
hs_canvas_resize(hs_canvas *c, int rows, int cols)
{
    hs_cell *cells;

    if (rows < 0) {
        rows = 0;
    }
    if (cols < 0) {
        cols = 0;
    }
    cells = calloc((size_t)rows * (size_t)cols + 1, sizeof(*cells));
    if (cells == NULL) {
        return -1;
    }
    free(c->cells);
    c->cells = cells;
    c->rows = rows;
    c->cols = cols;
    hs_canvas_clear(c);
    return 0;
}

void
hs_canvas_free(hs_canvas *c)
{
    free(c->cells);
    c->cells = NULL;
    c->rows = c->cols = 0;
}

void
hs_canvas_clear(hs_canvas *c)
{
    size_t n = (size_t)c->rows * (size_t)c->cols;

    for (size_t i = 0; i < n; i++) {
        c->cells[i].ch = ' ';
        c->cells[i].attr = HS_A_NORMAL;
    }
}

void
hs_canvas_fill(hs_canvas *c, int y, int x, enum hs_attr attr)
{
    if (y < 0 || y >= c->rows) {
        return;
    }
    for (int i = x < 0 ? 0 : x; i < c->cols; i++) {
        c->cells[(size_t)y * c->cols + i].ch = ' ';
        c->cells[(size_t)y * c->cols + i].attr = attr;
    }
}

uint32_t
hs_utf8_next(const char **sp)
{
    const unsigned char *s = (const unsigned char *)*sp;
    uint32_t ch;
    int n;

    if (s[0] < 0x80) {
        *sp += 1;
        return s[0];
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        ch = s[0] & 0x1f;
        n = 1;
    }
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        ch = s[0] & 0x0f;
        n = 2;
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        ch = s[0] & 0x07;
        n = 3;
    }
    else {
        *sp += 1;
        return 0xfffd;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *sp += 1;       /* s[i] may be the NUL: never step over it */
            return 0xfffd;
        }
        ch = (ch << 6) | (s[i] & 0x3f);
    }
    /* overlong forms and surrogates are invalid too */
    if ((n == 2 && ch < 0x800) || (n == 3 && (ch < 0x10000 || ch > 0x10ffff))
        || (ch >= 0xd800 && ch <= 0xdfff)) {
        *sp += 1;
        return 0xfffd;
    }
    *sp += n + 1;
    return ch;
}

int
hs_char_width(uint32_t ch)
{
    /* combining marks and zero-width characters */
    if ((ch >= 0x0300 && ch <= 0x036f) || (ch >= 0x200b && ch <= 0x200f)
        || (ch >= 0x20d0 && ch <= 0x20ff) || (ch >= 0xfe00 && ch <= 0xfe0f)) {
        return 0;
    }
    /* the wide ranges of East Asian scripts and emoji */
    if ((ch >= 0x1100 && ch <= 0x115f) || (ch >= 0x2e80 && ch <= 0x303e)
        || (ch >= 0x3041 && ch <= 0x33ff) || (ch >= 0x3400 && ch <= 0x4dbf)
        || (ch >= 0x4e00 && ch <= 0x9fff) || (ch >= 0xa000 && ch <= 0xa4cf)
        || (ch >= 0xac00 && ch <= 0xd7a3) || (ch >= 0xf900 && ch <= 0xfaff)
        || (ch >= 0xfe30 && ch <= 0xfe4f) || (ch >= 0xff00 && ch <= 0xff60)
        || (ch >= 0xffe0 && ch <= 0xffe6) || (ch >= 0x1f300 && ch <= 0x1f64f)
        || (ch >= 0x1f900 && ch <= 0x1f9ff)
        || (ch >= 0x20000 && ch <= 0x3fffd)) {
        return 2;
    }
    return 1;
}

int
hs_text_width(const char *s)
{
    int w = 0;

    while (*s) {
        uint32_t ch = hs_utf8_next(&s);
        w += (ch < 0x20 || ch == 0x7f) ? 1 : hs_char_width(ch);
    }
    return w;
}

/* What the cell shows: control characters as '?', and on a terminal that
 * cannot show Unicode (no UTF-8 locale) anything but ASCII too. */
static uint32_t
visible(const hs_canvas *c, uint32_t ch)
{
    if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0)) {
        return '?';
    }
    if (!c->unicode && ch >= 0x80) {
        return '?';
    }
    return ch;
}

static void
set_cell(hs_canvas *c, int y, int x, uint32_t ch, enum hs_attr attr)
{
    hs_cell *cell = &c->cells[(size_t)y * c->cols + x];

    cell->ch = ch;
    cell->attr = (uint8_t)attr;
}

/* The width of ch as the canvas will show it. */
static int
shown_width(const hs_canvas *c, uint32_t ch)
{
    uint32_t v = visible(c, ch);

    return v == '?' ? 1 : hs_char_width(v);
}

int
hs_canvas_put(hs_canvas *c, int y, int x, int width, const char *s,
              enum hs_attr attr)
{
    uint32_t ell = c->unicode ? 0x2026 : '~';
    int end, col = x, total = 0;
    const char *p;

    if (y < 0 || y >= c->rows || x < 0 || x >= c->cols || s == NULL) {
        return 0;
    }
    end = (width < 0 || x + width > c->cols) ? c->cols : x + width;
    if (end <= x) {
        return 0;
    }
    /* Does all of s fit?  Then no ellipsis is needed. */
    for (p = s; *p;) {
        uint32_t ch = hs_utf8_next(&p);
        total += shown_width(c, ch);
    }
    int fits = x + total <= end;

    p = s;
    while (*p) {
        uint32_t ch = visible(c, hs_utf8_next(&p));
        int w = hs_char_width(ch);

        if (w == 0) {
            continue;       /* combining marks: the terminal may differ */
        }
        if (!fits && col + w > end - 1) {
            break;
        }
        if (col + w > end) {
            break;
        }
        set_cell(c, y, col, ch, attr);
        if (w == 2) {
            set_cell(c, y, col + 1, HS_CELL_CONT, attr);
        }
        col += w;
    }
    if (!fits) {
        while (col < end - 1) {     /* a wide char left a hole */
            set_cell(c, y, col++, ' ', attr);
        }
        set_cell(c, y, col++, ell, attr);
    }
    return col - x;
}

int
hs_canvas_put_right(hs_canvas *c, int y, int x, int width, const char *s,
                    enum hs_attr attr)
{
    int w = hs_text_width(s);

    if (width < 0) {
        width = c->cols - x;
    }
    if (w >= width) {
        return hs_canvas_put(c, y, x, width, s, attr);
    }
    for (int i = 0; i < width - w; i++) {
        if (y >= 0 && y < c->rows && x + i >= 0 && x + i < c->cols) {
            set_cell(c, y, x + i, ' ', attr);
        }
    }
    return width - w + hs_canvas_put(c, y, x + width - w, w, s, attr);
}

static size_t
put_utf8(char *buf, size_t len, size_t at, uint32_t ch)
{
    char tmp[4];
    size_t n;

    if (ch < 0x80) {
        tmp[0] = (char)ch;
        n = 1;
    }
    else if (ch < 0x800) {
        tmp[0] = (char)(0xc0 | (ch >> 6));
        tmp[1] = (char)(0x80 | (ch & 0x3f));
        n = 2;
    }
    else if (ch < 0x10000) {
        tmp[0] = (char)(0xe0 | (ch >> 12));
        tmp[1] = (char)(0x80 | ((ch >> 6) & 0x3f));
        tmp[2] = (char)(0x80 | (ch & 0x3f));
        n = 3;
    }
    else {
        tmp[0] = (char)(0xf0 | (ch >> 18));
        tmp[1] = (char)(0x80 | ((ch >> 12) & 0x3f));
        tmp[2] = (char)(0x80 | ((ch >> 6) & 0x3f));
        tmp[3] = (char)(0x80 | (ch & 0x3f));
        n = 4;
    }
    if (at + n >= len) {
        return at;
    }
    memcpy(buf + at, tmp, n);
    return at + n;
}

void
hs_canvas_text(const hs_canvas *c, int y, char *buf, size_t len)
{
    size_t at = 0, keep = 0;

    if (len == 0) {
        return;
    }
    if (y >= 0 && y < c->rows) {
        for (int x = 0; x < c->cols; x++) {
            uint32_t ch = c->cells[(size_t)y * c->cols + x].ch;

            if (ch == HS_CELL_CONT) {
                continue;
            }
            at = put_utf8(buf, len, at, ch);
            if (ch != ' ') {
                keep = at;
            }
        }
    }
    buf[keep] = '\0';
}
