/* tui/prompt.c - the one-line input of :, / and w, on the status line:
 * UTF-8 text with a cursor, edited with the keys of keys.def's prompt
 * group; Enter hands the line to the table, Esc drops it.  Also the
 * question w asks before writing over a file, answered with the keys of
 * the question group.
 *
 * Holds at most HS_PROMPT_MAX - 1 bytes; it never splits a character.
 */
#include <stdio.h>
#include <string.h>

#include "tui_int.h"

static const char *
label(enum hs_prompt_kind k)
{
    switch (k) {
    case HS_PR_EVAL:
        return ":";
    case HS_PR_SEARCH:
        return "/";
    case HS_PR_WRITE:
        return "write the view to: ";
    default:
        return "";
    }
}

void
hs_prompt_open(hs_tui *t, enum hs_prompt_kind k, const char *initial)
{
    size_t n = strlen(initial);

    if (n >= sizeof(t->input)) {
        n = 0;
    }
    memcpy(t->input, initial, n);
    t->input[n] = '\0';
    t->input_len = t->input_pos = n;
    t->prompt = k;
    t->msg[0] = '\0';
    t->dirty = 1;
}

/* Byte offset of the character before / after pos. */
static size_t
prev_char(const char *s, size_t pos)
{
    if (pos == 0) {
        return 0;
    }
    pos--;
    while (pos > 0 && ((unsigned char)s[pos] & 0xc0) == 0x80) {
        pos--;
    }
    return pos;
}

static size_t
next_char(const char *s, size_t pos, size_t len)
{
    if (pos >= len) {
        return len;
    }
    pos++;
    while (pos < len && ((unsigned char)s[pos] & 0xc0) == 0x80) {
        pos++;
    }
    return pos;
}

static void
delete_range(hs_tui *t, size_t a, size_t b)
{
    memmove(t->input + a, t->input + b, t->input_len - b + 1);
    t->input_len -= b - a;
}

static void
insert(hs_tui *t, int key)
{
    char u[4];
    size_t n;

    if (key < 0x20 || key == 0x7f || key >= 0x110000
        || (key >= 0xd800 && key <= 0xdfff)) {
        return;     /* no control characters in the text */
    }
    if (key < 0x80) {
        u[0] = (char)key;
        n = 1;
    }
    else if (key < 0x800) {
        u[0] = (char)(0xc0 | (key >> 6));
        u[1] = (char)(0x80 | (key & 0x3f));
        n = 2;
    }
    else if (key < 0x10000) {
        u[0] = (char)(0xe0 | (key >> 12));
        u[1] = (char)(0x80 | ((key >> 6) & 0x3f));
        u[2] = (char)(0x80 | (key & 0x3f));
        n = 3;
    }
    else {
        u[0] = (char)(0xf0 | (key >> 18));
        u[1] = (char)(0x80 | ((key >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((key >> 6) & 0x3f));
        u[3] = (char)(0x80 | (key & 0x3f));
        n = 4;
    }
    if (t->input_len + n >= sizeof(t->input)) {
        hs_tui_msg(t, 1, "the line is full");
        return;
    }
    memmove(t->input + t->input_pos + n, t->input + t->input_pos,
            t->input_len - t->input_pos + 1);
    memcpy(t->input + t->input_pos, u, n);
    t->input_len += n;
    t->input_pos += n;
}

/* The question of HS_PR_OVERWRITE (the file's name in input): y writes
 * over it, n leaves it; any other key leaves the question asked. */
static void
ask_key(hs_tui *t, int key)
{
    char path[HS_PROMPT_MAX];

    t->dirty = 1;
    switch (hs_key_action(key, HS_G_ASK)) {
    case HS_ACT_A_YES:
        memcpy(path, t->input, t->input_len + 1);
        t->prompt = HS_PR_NONE;
        hs_browse_prompt_done(t, HS_PR_OVERWRITE, path);
        break;
    case HS_ACT_A_NO:
        t->prompt = HS_PR_NONE;
        hs_tui_msg(t, 0, "not written: %s is as it was", t->input);
        break;
    case HS_ACT_A_REDRAW:
        t->io.repaint(t->io.arg);
        break;
    default:
        break;
    }
}

void
hs_prompt_key(hs_tui *t, int key)
{
    enum hs_action a = hs_key_action(key, HS_G_PROMPT);
    enum hs_prompt_kind k = t->prompt;
    char text[HS_PROMPT_MAX];

    if (k == HS_PR_OVERWRITE) {
        ask_key(t, key);
        return;
    }
    t->msg[0] = '\0';
    t->dirty = 1;
    switch (a) {
    case HS_ACT_P_ACCEPT:
        memcpy(text, t->input, t->input_len + 1);
        t->prompt = HS_PR_NONE;
        hs_browse_prompt_done(t, k, text);
        break;
    case HS_ACT_P_CANCEL:
        t->prompt = HS_PR_NONE;
        break;
    case HS_ACT_P_LEFT:
        t->input_pos = prev_char(t->input, t->input_pos);
        break;
    case HS_ACT_P_RIGHT:
        t->input_pos = next_char(t->input, t->input_pos, t->input_len);
        break;
    case HS_ACT_P_HOME:
        t->input_pos = 0;
        break;
    case HS_ACT_P_END:
        t->input_pos = t->input_len;
        break;
    case HS_ACT_P_BACKSPACE:
        if (t->input_pos > 0) {
            size_t p = prev_char(t->input, t->input_pos);

            delete_range(t, p, t->input_pos);
            t->input_pos = p;
        }
        else if (t->input_len == 0) {
            t->prompt = HS_PR_NONE;     /* as in a shell's vi mode */
        }
        break;
    case HS_ACT_P_DELETE:
        if (t->input_pos < t->input_len) {
            delete_range(t, t->input_pos,
                         next_char(t->input, t->input_pos, t->input_len));
        }
        break;
    case HS_ACT_P_KILL:
        t->input[0] = '\0';
        t->input_len = t->input_pos = 0;
        break;
    case HS_ACT_P_REDRAW:
        t->io.repaint(t->io.arg);
        break;
    default:
        insert(t, key);
        break;
    }
}

void
hs_prompt_draw(hs_tui *t)
{
    hs_canvas *c = &t->canvas;
    const char *lab = label(t->prompt);
    const char *shown = t->input;
    char before[HS_PROMPT_MAX];
    int lw = hs_text_width(lab), cw;
    hs_layout l;

    hs_layout_get(c, &l);
    if (l.too_small) {
        return;
    }
    hs_canvas_fill(c, l.status, 0, HS_A_NORMAL);
    if (t->prompt == HS_PR_OVERWRITE) {
        char q[HS_PROMPT_MAX + 64];

        snprintf(q, sizeof(q), "%s exists: write over it? (y/n)", t->input);
        c->cur_y = l.status;
        c->cur_x = 1 + hs_canvas_put(c, l.status, 1, c->cols - 2, q,
                                     HS_A_HEADER);
        return;
    }
    /* Scroll the text left until the cursor fits on the line. */
    for (;;) {
        size_t n = t->input_pos - (size_t)(shown - t->input);

        memcpy(before, shown, n);
        before[n] = '\0';
        cw = hs_text_width(before);
        if (1 + lw + cw < c->cols - 1 || n == 0) {
            break;
        }
        shown += next_char(shown, 0, strlen(shown));
    }
    hs_canvas_put(c, l.status, 1, lw, lab, HS_A_HEADER);
    hs_canvas_put(c, l.status, 1 + lw, -1, shown, HS_A_NORMAL);
    c->cur_y = l.status;
    c->cur_x = 1 + lw + cw;
    if (c->cur_x >= c->cols) {
        c->cur_x = c->cols - 1;
    }
}
