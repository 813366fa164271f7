/* tui/tui_int.h - what the explorer's files share: the canvas (an abstract
 * screen the drawing code writes into), key codes, the action table from
 * keys.def, and the explorer's state (view stack, screens, messages).
 *
 * Nothing here includes curses or Python.h: only screen.c talks to curses,
 * so the state machine and the drawing can be driven by the unit tests
 * with scripted keys, reading the canvas back as text.
 */
#ifndef HS_TUI_INT_H
#define HS_TUI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "heapscope/explorer.h"

/* ---- key codes ----------------------------------------------------------
 * A key is a Unicode code point (Ctrl-C is 3, Esc 27), or one of the codes
 * below for keys that have no character; they sit above U+10FFFF so they
 * can never be mistaken for a character.  screen.c maps curses' KEY_* to
 * these. */
#define HS_K_BASE 0x110000
enum {
    HS_K_UP = HS_K_BASE + 1,
    HS_K_DOWN,
    HS_K_LEFT,
    HS_K_RIGHT,
    HS_K_PGUP,
    HS_K_PGDN,
    HS_K_HOME,
    HS_K_END,
    HS_K_BACKSPACE,
    HS_K_DELETE,
    HS_K_ENTER,
    HS_K_BTAB,
    HS_K_RESIZE     /* the terminal changed size (the io already knows it) */
};
#define HS_K_NONE   (-1)    /* no key before the timeout */
#define HS_K_SIGNAL (-2)    /* a terminating signal arrived: leave now */
#define HS_CTRL(c)  ((c) & 0x1f)
#define HS_K_ESC    27

/* ---- the canvas ---------------------------------------------------------
 * rows x cols cells, one code point and one attribute each.  A character
 * two columns wide takes its cell and marks the next one HS_CELL_CONT. */
enum hs_attr {
    HS_A_NORMAL,
    HS_A_TITLE,     /* the title line */
    HS_A_HEADER,    /* column headers, section headings */
    HS_A_SELECT,    /* the selected row */
    HS_A_DIM,       /* pending values, separators */
    HS_A_ERROR,     /* an error in the status line */
    HS_A_STATUS,    /* the key hints / progress line */
    HS_A_N
};
#define HS_CELL_CONT 0xFFFFFFFFu

typedef struct hs_cell {
    uint32_t ch;
    uint8_t attr;
} hs_cell;

typedef struct hs_canvas {
    int rows, cols;
    hs_cell *cells;
    int unicode;        /* 0: only ASCII reaches the terminal */
    int cur_y, cur_x;   /* where the terminal's cursor goes; -1: hidden */
} hs_canvas;

int hs_canvas_resize(hs_canvas *c, int rows, int cols);
void hs_canvas_free(hs_canvas *c);
void hs_canvas_clear(hs_canvas *c);
/* Fill row y from column x to the end with spaces in attr. */
void hs_canvas_fill(hs_canvas *c, int y, int x, enum hs_attr attr);
/* Write UTF-8 s at (y, x), at most `width` columns (-1: to the end of the
 * line).  When s does not fit, its last visible column becomes an
 * ellipsis.  Returns the columns written. */
int hs_canvas_put(hs_canvas *c, int y, int x, int width, const char *s,
                  enum hs_attr attr);
/* The same, right-aligned in `width` columns. */
int hs_canvas_put_right(hs_canvas *c, int y, int x, int width,
                        const char *s, enum hs_attr attr);
/* Row y as UTF-8 without trailing spaces (tests, and the pty echo). */
void hs_canvas_text(const hs_canvas *c, int y, char *buf, size_t len);
/* Columns that UTF-8 s takes on screen (control characters count 1: the
 * canvas shows them as '?'). */
int hs_text_width(const char *s);
/* Columns of one code point: 0 (combining), 1 or 2 (East Asian wide).
 * Our own table, so layout does not depend on the process's locale. */
int hs_char_width(uint32_t ch);
/* Decode one UTF-8 sequence; invalid bytes decode to U+FFFD, one each. */
uint32_t hs_utf8_next(const char **s);

/* ---- formatting (format.c) ------------------------------------------- */
/* "31.7 MB": decimal units, three significant digits at most. */
void hs_fmt_bytes(uint64_t n, char *buf, size_t len);
/* heapy's integer percentage: round(100 * x / total), 0 when total is. */
int hs_fmt_pct(uint64_t x, uint64_t total);
/* Digits of n in decimal. */
int hs_fmt_digits(uint64_t n);

/* ---- keys (keys.def, keys.c) ----------------------------------------- */
/* Where a key binding applies. */
enum hs_group {
    HS_G_ALL,       /* every screen */
    HS_G_TABLE,     /* the partition table */
    HS_G_INSPECT,   /* the object inspector */
    HS_G_PROMPT,    /* a one-line prompt (:, /, w) */
    HS_G_ASK,       /* a question on the status line, answered y or n */
    HS_G_N
};

#define HS_KEY(action, group, names, help, hint, ...) HS_ACT_##action,
enum hs_action {
    HS_ACT_NONE,
#include "keys.def"
    HS_ACT_N
};
#undef HS_KEY

typedef struct hs_keydef {
    enum hs_action action;
    enum hs_group group;
    const char *names;  /* as shown: "Down, j" */
    const char *help;   /* one line for ? and the man page */
    const char *hint;   /* word in the status line's hints, or "" */
    const int *codes;   /* key codes, ended by 0 */
} hs_keydef;

extern const hs_keydef hs_keys[];
extern const size_t hs_nkeys;
extern const char *const hs_group_title[HS_G_N];

/* The action of key `code` on a screen of group g (bindings of HS_G_ALL
 * apply everywhere, after the screen's own); HS_ACT_NONE if unbound. */
enum hs_action hs_key_action(int code, enum hs_group g);
/* The keydef of an action (the first row of the table that has it). */
const hs_keydef *hs_key_def(enum hs_action a);

/* ---- the explorer's state ------------------------------------------- */
/* The terminal, as the state machine sees it.  screen.c implements it
 * over curses; the unit tests over a script of keys. */
typedef struct hs_tui_io {
    /* The next key, waiting at most timeout_ms (0: do not wait; -1:
     * forever).  HS_K_NONE on timeout, HS_K_SIGNAL when a terminating
     * signal is pending.  On HS_K_RESIZE the io has already resized the
     * canvas. */
    int (*getkey)(void *arg, hs_canvas *c, int timeout_ms);
    /* Show the canvas. */
    void (*flush)(void *arg, const hs_canvas *c);
    /* Make the next flush repaint every cell: what the io believes the
     * terminal shows may be wrong (something else wrote to it). */
    void (*repaint)(void *arg);
    /* Milliseconds on a monotonic clock. */
    uint64_t (*now_ms)(void *arg);
    void *arg;
} hs_tui_io;

/* One entry of the view stack: a view and where the user was in it. */
typedef struct hs_frame {
    hs_view *view;
    hs_view_info info;  /* strings below are our copies */
    char *expr, *summary, *column;
    size_t cur, top;    /* selected row, first row shown */
    int dom_paused;     /* Esc stopped the background work: do not ask */
    /* sum of the sizes of rows [0, cum_row): so the Cumulative column of
     * a far-down page costs the rows between two draws, not all above */
    size_t cum_row;
    uint64_t cum_val;
    /* made from the inspector's object: back returns to that page, the
     * ins_nth-th object of row ins_row of the frame below */
    int from_inspect;
    size_t ins_row, ins_nth;
} hs_frame;

enum hs_screen {
    HS_SCR_TABLE,
    HS_SCR_INSPECT,
    HS_SCR_HELP,
    HS_SCR_ANSWER   /* an expression's answer of several lines */
};

enum hs_prompt_kind {
    HS_PR_NONE,
    HS_PR_EVAL,     /* : */
    HS_PR_SEARCH,   /* / */
    HS_PR_WRITE,    /* w */
    HS_PR_OVERWRITE /* the file of w, in input, exists: write over it? */
};

#define HS_PROMPT_MAX 512
#define HS_MSG_MAX 256

typedef struct hs_inspect_state {
    size_t row;             /* row of the frame below it */
    size_t nth;             /* object of that row */
    uint64_t row_count;     /* objects in that row */
    hs_object obj;          /* as the model gave it (model-owned strings) */
    int valid;
    size_t top;             /* first page line shown */
    size_t nlines;          /* page lines at the last draw */
} hs_inspect_state;

#define HS_TYPEAHEAD 32

typedef struct hs_tui {
    hs_model *m;
    hs_tui_io io;
    hs_canvas canvas;

    hs_frame *stack;
    size_t depth, cap;

    enum hs_screen screen;
    enum hs_screen help_from;   /* where ? was pressed */
    hs_inspect_state ins;
    size_t help_top, help_nlines;
    char *answer;           /* the answer page's text: title, '\n', body */
    size_t answer_top, answer_nlines;

    /* the prompt, when one is open */
    enum hs_prompt_kind prompt;
    char input[HS_PROMPT_MAX];
    size_t input_len;       /* bytes */
    size_t input_pos;       /* cursor, in bytes */
    char search[HS_PROMPT_MAX];    /* the last search, for n / N */

    /* the status line: a message replaces the key hints until a key */
    char msg[HS_MSG_MAX];
    int msg_error;
    int dom_wait;           /* d pressed while pending: report when ready */
    size_t dom_wait_row;

    /* a long call in progress (progress.c) */
    uint64_t op_start, op_last_draw, op_last_key;
    int op_cancelled;
    int op_active;
    /* keys typed ahead during a call too quick to show its progress
     * line, replayed in order by the loop once it is over */
    int ahead[HS_TYPEAHEAD];
    int nahead;
    /* working ahead (the model's prepare) once no key came for a while */
    uint64_t last_key_ms;   /* when the loop last handled a key */
    int prepare_more;       /* the model may have work to do ahead */

    int quit;
    int dirty;
    int sig;                /* signal that ended the loop (screen.c) */
    int table_rows;         /* rows of the table at the last draw */
    char status[HS_MSG_MAX];    /* the model's status() at the last draw:
                                   while the model works, we may not ask */
} hs_tui;

/* tui.c: the state machine. */
int hs_tui_init(hs_tui *t, hs_model *m, const hs_tui_io *io, int rows,
                int cols, int unicode);
void hs_tui_fini(hs_tui *t);
/* Open the root view: 0, or -1 with the reason in t->msg. */
int hs_tui_start(hs_tui *t);
void hs_tui_key(hs_tui *t, int key);
void hs_tui_draw(hs_tui *t);
/* Keys until q (or a signal): the whole life of the explorer. */
void hs_tui_loop(hs_tui *t);
/* A message for the status line; error ones stand out. */
void hs_tui_msg(hs_tui *t, int error, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The model's last error in the status line, prefixed by `what`. */
void hs_tui_model_error(hs_tui *t, const char *what);
hs_frame *hs_tui_top(hs_tui *t);
/* Push a view the model just gave (NULL: show its error); 0 or -1. */
int hs_tui_push(hs_tui *t, hs_view *v, const char *what);
/* Replace the top view by v (a repartition of the same set). */
int hs_tui_replace(hs_tui *t, hs_view *v, const char *what);
void hs_tui_pop(hs_tui *t);
/* Refresh a frame's copy of info() (after a sort). */
int hs_frame_load_info(hs_tui *t, hs_frame *f);
/* Fetch row i of f: 0, or -1 with the model's error.  out->index is
 * heapy's index of the row. */
int hs_frame_row(hs_tui *t, hs_frame *f, size_t i, hs_row *out);

/* Lines of the screen's layout, computed from the canvas size. */
typedef struct hs_layout {
    int title, summary, header, first, nrows, sep, status;
    int too_small;
} hs_layout;
void hs_layout_get(const hs_canvas *c, hs_layout *l);
void hs_draw_title(hs_tui *t, const char *expr);
void hs_draw_status(hs_tui *t, enum hs_group g);

/* page.c: a scrollable page of wrapped lines (inspector, help).  Lines
 * are counted on every draw and drawn only when they are on screen. */
typedef struct hs_page {
    hs_tui *t;
    int y0, h;      /* canvas rows it may use */
    size_t top;     /* first line shown */
    size_t n;       /* lines so far */
} hs_page;
void hs_page_begin(hs_page *pg, hs_tui *t, int y0, int h, size_t top);
/* The canvas row of the next line, or -1 when it is off screen. */
int hs_page_line(hs_page *pg);
/* `label` in label_w columns at x, then text wrapped in what is left of
 * the line (at spaces where it can), one line per '\n' too. */
void hs_page_text(hs_page *pg, int x, const char *label, int label_w,
                  const char *text, enum hs_attr a);
/* Apply a movement key to *top, over a page of n lines, h tall; 1 when
 * the action was a movement. */
int hs_page_scroll(size_t *top, size_t n, int h, enum hs_action a);

/* answer.c: the answer page of an expression typed at :. */
void hs_answer_open(hs_tui *t, const char *text);
void hs_answer_draw(hs_tui *t);
void hs_answer_key(hs_tui *t, enum hs_action a);

/* browse.c: the partition table. */
void hs_browse_draw(hs_tui *t);
void hs_browse_key(hs_tui *t, enum hs_action a);
/* The selection's label in heapy's words: "h[3]". */
void hs_browse_row_expr(hs_tui *t, char *buf, size_t len);
/* Background work reported progress (poll() said so). */
void hs_browse_poll(hs_tui *t);
/* A prompt of the table was accepted. */
void hs_browse_prompt_done(hs_tui *t, enum hs_prompt_kind k,
                           const char *text);

/* inspect.c: the object page. */
int hs_inspect_open(hs_tui *t, size_t row, size_t nth);
void hs_inspect_draw(hs_tui *t);
void hs_inspect_key(hs_tui *t, enum hs_action a);
void hs_inspect_poll(hs_tui *t);

/* help.c: the ? screen, from keys.def. */
void hs_help_draw(hs_tui *t);
void hs_help_key(hs_tui *t, enum hs_action a);

/* prompt.c: one-line input. */
void hs_prompt_open(hs_tui *t, enum hs_prompt_kind k, const char *initial);
void hs_prompt_key(hs_tui *t, int key);
void hs_prompt_draw(hs_tui *t);

/* progress.c: long calls. */
void hs_progress_begin(hs_tui *t, hs_progress *p);
void hs_progress_end(hs_tui *t);
/* tick() for the TUI's own long loops (search, write). */
int hs_tui_progress_tick(void *arg, const char *what, uint64_t done,
                     uint64_t total);
/* The next key typed ahead during a quick call, or HS_K_NONE. */
int hs_tui_typed_ahead(hs_tui *t);
/* tick() for the model's work ahead (prepare): draws nothing; a key
 * stops the work and is kept, to act as if nothing had been running. */
int hs_tui_prepare_tick(void *arg, const char *what, uint64_t done,
                        uint64_t total);

/* report.c: key w. */
int hs_report_write(hs_tui *t, hs_frame *f, const char *path);
/* Is there a file (not a directory) where w would write path? */
int hs_report_exists(const char *path);

#endif /* HS_TUI_INT_H */
