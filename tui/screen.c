/* tui/screen.c - the terminal's lifecycle and hs_tui_run(): open the
 * terminal, check it can do full-screen, newterm(), colours, keys, resize,
 * signals; run the explorer; and give everything back as it was.
 *
 * The only file of tui/ that includes curses.  It must leave the terminal
 * modes, the signal dispositions, ncurses' current terminal (readline in
 * the host uses it) and ESCDELAY exactly as it found them, on every way
 * out, and never exit, abort or write to stdout/stderr.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#define _DEFAULT_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <term.h>

#include "heapscope/tui.h"
#include "tui_int.h"

/* The TUI's only mutable globals: a signal handler can reach nothing
 * else.  `pending` is the terminating signal that arrived (the loop leaves
 * and hs_tui_run re-raises it), `winch` a resize; `running` refuses a
 * second explorer while one is open (the handlers are process-wide). */
static volatile sig_atomic_t hs_tui_pending;
static volatile sig_atomic_t hs_tui_winch;
static volatile sig_atomic_t hs_tui_running;

static void
on_terminate(int sig)
{
    hs_tui_pending = sig;
}

static void
on_winch(int sig)
{
    (void)sig;
    hs_tui_winch = 1;
}

/* The signals whose dispositions we (or ncurses, in newterm) change. */
static const int saved_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH,
                                    SIGTSTP, SIGCONT};
#define NSAVED (sizeof(saved_signals) / sizeof(saved_signals[0]))

typedef struct hs_term {
    int in_fd, out_fd;      /* the terminal */
    int opened_fd;          /* ours to close, or -1 */
    struct termios saved_in, saved_out;
    int have_saved_out;
    struct sigaction saved_sa[NSAVED];
    int have_sa;
    TERMINAL *prev_term;    /* ncurses' current terminal before us */
    FILE *in, *out;
    SCREEN *scr;
    int escdelay;
    int cursor;             /* curs_set() before us, or ERR */
    chtype attr[HS_A_N];
    short pair[HS_A_N];
} hs_term;

static void
set_err(char *err, size_t errlen, const char *fmt, const char *a,
        const char *b)
{
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, fmt, a, b);
    }
}

/* ---- io over curses ------------------------------------------------- */

static uint64_t
now_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The terminal changed size (SIGWINCH, or ncurses noticed): tell
 * ncurses, and size the canvas as ncurses now sees the screen. */
static int
resize(hs_term *s, hs_canvas *c, int ask_tty)
{
    struct winsize ws;
    int rows, cols;

    getmaxyx(stdscr, rows, cols);
    if (ask_tty && ioctl(s->out_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0
        && ws.ws_col > 0 && (ws.ws_row != rows || ws.ws_col != cols)) {
        /* resizeterm() queues a KEY_RESIZE of its own: this is the only
         * place it is called, so that one is read and ignored below */
        resizeterm(ws.ws_row, ws.ws_col);
        getmaxyx(stdscr, rows, cols);
    }
    if (rows == c->rows && cols == c->cols) {
        return HS_K_NONE;
    }
    hs_canvas_resize(c, rows, cols);
    clearok(curscr, TRUE);     /* the terminal reflowed what it showed */
    return HS_K_RESIZE;
}

static int
map_key(int code)
{
    switch (code) {
    case KEY_UP:
        return HS_K_UP;
    case KEY_DOWN:
        return HS_K_DOWN;
    case KEY_LEFT:
        return HS_K_LEFT;
    case KEY_RIGHT:
        return HS_K_RIGHT;
    case KEY_PPAGE:
        return HS_K_PGUP;
    case KEY_NPAGE:
        return HS_K_PGDN;
    case KEY_HOME:
        return HS_K_HOME;
    case KEY_END:
        return HS_K_END;
    case KEY_BACKSPACE:
        return HS_K_BACKSPACE;
    case KEY_DC:
        return HS_K_DELETE;
    case KEY_ENTER:
        return HS_K_ENTER;
    case KEY_BTAB:
        return HS_K_BTAB;
    default:
        /* a key we bind nothing to: says so in the status line */
        return HS_K_BASE + 0x1000 + code;
    }
}

static int
getkey(void *arg, hs_canvas *c, int timeout_ms)
{
    hs_term *s = arg;
    wint_t wch;
    int r;

    if (hs_tui_pending) {
        return HS_K_SIGNAL;
    }
    if (hs_tui_winch) {
        hs_tui_winch = 0;
        r = resize(s, c, 1);
        if (r != HS_K_NONE) {
            return r;
        }
    }
    wtimeout(stdscr, timeout_ms);
    r = wget_wch(stdscr, &wch);
    if (hs_tui_pending) {
        return HS_K_SIGNAL;
    }
    if (r == ERR) {
        if (hs_tui_winch) {
            hs_tui_winch = 0;
            return resize(s, c, 1);
        }
        return HS_K_NONE;
    }
    if (r == KEY_CODE_YES) {
        if (wch == KEY_RESIZE) {
            return resize(s, c, 0);
        }
        return map_key((int)wch);
    }
    if (wch == 127 || wch == 8) {
        return HS_K_BACKSPACE;
    }
    return (int)wch;
}

static void
flush(void *arg, const hs_canvas *c)
{
    hs_term *s = arg;
    int rows, cols;

    getmaxyx(stdscr, rows, cols);
    for (int y = 0; y < c->rows && y < rows; y++) {
        for (int x = 0; x < c->cols && x < cols; x++) {
            const hs_cell *cell = &c->cells[(size_t)y * c->cols + x];
            wchar_t w[2] = {0, 0};
            cchar_t cc;

            if (cell->ch == HS_CELL_CONT) {
                continue;
            }
            w[0] = (wchar_t)cell->ch;
            setcchar(&cc, w, s->attr[cell->attr], s->pair[cell->attr], NULL);
            /* the bottom-right cell "fails" (the cursor cannot move past
             * it) but is drawn: the result is of no interest */
            mvwadd_wch(stdscr, y, x, &cc);
        }
    }
    if (c->cur_y >= 0 && c->cur_y < rows && c->cur_x >= 0 && c->cur_x < cols) {
        curs_set(1);
        wmove(stdscr, c->cur_y, c->cur_x);
    }
    else {
        curs_set(0);
    }
    wnoutrefresh(stdscr);
    doupdate();
}

/* The next doupdate() clears the terminal and sends every cell: curses
 * sends only what changed from its picture of the terminal, which output
 * of someone else's (the program's, while a : expression runs) made
 * wrong, cursor position included. */
static void
repaint(void *arg)
{
    (void)arg;
    clearok(curscr, TRUE);
}

/* ---- opening and closing ------------------------------------------- */

/* Can this terminal type do full-screen?  Asks terminfo without
 * touching the terminal, then puts ncurses' current terminal back. */
static int
check_term(const char *term, int fd, char *err, size_t errlen)
{
    TERMINAL *prev = cur_term, *mine;
    int errret = 0, ok;
    char *cup, *clear;

    if (setupterm((char *)term, fd, &errret) != OK) {
        set_err(err, errlen,
                errret == 0 ? "heapscope: terminal type '%s' is %s"
                            : "heapscope: no terminfo database for '%s'%s",
                term, errret == 0 ? "unknown or not a full-screen terminal"
                                  : "");
        mine = set_curterm(prev);
        if (mine != NULL && mine != prev) {
            del_curterm(mine);
        }
        return -1;
    }
    cup = tigetstr("cup");
    clear = tigetstr("clear");
    ok = cup != NULL && cup != (char *)-1 && clear != NULL
         && clear != (char *)-1 && tigetflag("hc") <= 0
         && tigetflag("gn") <= 0;
    mine = set_curterm(prev);
    if (mine != NULL && mine != prev) {
        del_curterm(mine);
    }
    if (!ok) {
        set_err(err, errlen,
                "heapscope: terminal type '%s' cannot move the cursor: the "
                "explorer needs a full-screen terminal%s", term, "");
        return -1;
    }
    return 0;
}

static void
setup_colors(hs_term *s)
{
    for (int i = 0; i < HS_A_N; i++) {
        s->attr[i] = A_NORMAL;
        s->pair[i] = 0;
    }
    s->attr[HS_A_TITLE] = A_REVERSE | A_BOLD;
    s->attr[HS_A_HEADER] = A_BOLD;
    s->attr[HS_A_SELECT] = A_REVERSE;
    s->attr[HS_A_DIM] = A_DIM;
    s->attr[HS_A_ERROR] = A_BOLD;
    if (!has_colors() || start_color() != OK) {
        return;
    }
    short bg = use_default_colors() == OK ? -1 : COLOR_BLACK;

    if (init_pair(1, COLOR_WHITE, COLOR_BLUE) == OK) {
        s->attr[HS_A_TITLE] = A_BOLD;
        s->pair[HS_A_TITLE] = 1;
    }
    if (init_pair(2, COLOR_BLACK, COLOR_CYAN) == OK) {
        s->attr[HS_A_SELECT] = A_NORMAL;
        s->pair[HS_A_SELECT] = 2;
    }
    if (init_pair(3, COLOR_RED, bg) == OK) {
        s->pair[HS_A_ERROR] = 3;
    }
}

static void
save_signals(hs_term *s)
{
    for (size_t i = 0; i < NSAVED; i++) {
        sigaction(saved_signals[i], NULL, &s->saved_sa[i]);
    }
    s->have_sa = 1;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;        /* no SA_RESTART: wake up the key wait */
    sa.sa_handler = on_terminate;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
}

static void
restore_signals(hs_term *s)
{
    if (!s->have_sa) {
        return;
    }
    for (size_t i = 0; i < NSAVED; i++) {
        sigaction(saved_signals[i], &s->saved_sa[i], NULL);
    }
    s->have_sa = 0;
}

static int
open_tty(hs_term *s, const hs_tui_opts *o, char *err, size_t errlen)
{
    if (o != NULL && o->in_fd >= 0) {
        s->in_fd = o->in_fd;
        s->out_fd = o->out_fd >= 0 ? o->out_fd : o->in_fd;
    }
    else {
        const char *path = o != NULL && o->tty != NULL ? o->tty : "/dev/tty";

        s->opened_fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s->opened_fd < 0) {
            set_err(err, errlen,
                    "heapscope: cannot open %s (%s): the explorer needs a "
                    "terminal", path, strerror(errno));
            return -1;
        }
        s->in_fd = s->out_fd = s->opened_fd;
    }
    if (!isatty(s->in_fd) || !isatty(s->out_fd)) {
        set_err(err, errlen, "heapscope: %s%s is not a terminal",
                o != NULL && o->in_fd >= 0 ? "the file descriptor given"
                                           : "the device", "");
        return -1;
    }
    if (tcgetattr(s->in_fd, &s->saved_in) < 0) {
        set_err(err, errlen, "heapscope: cannot read the terminal's modes "
                "(%s)%s", strerror(errno), "");
        return -1;
    }
    if (s->out_fd != s->in_fd && tcgetattr(s->out_fd, &s->saved_out) == 0) {
        s->have_saved_out = 1;
    }
    return 0;
}

static int
dup_file(int fd, const char *mode, FILE **fp)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

    *fp = NULL;
    if (d < 0) {
        return -1;
    }
    *fp = fdopen(d, mode);
    if (*fp == NULL) {
        close(d);
        return -1;
    }
    return 0;
}

static int
start_curses(hs_term *s, const char *term, char *err, size_t errlen)
{
    if (dup_file(s->in_fd, "r", &s->in) < 0
        || dup_file(s->out_fd, "w", &s->out) < 0) {
        set_err(err, errlen, "heapscope: cannot use the terminal (%s)%s",
                strerror(errno), "");
        return -1;
    }
    s->escdelay = get_escdelay();
    s->scr = newterm((char *)term, s->out, s->in);
    if (s->scr == NULL) {
        set_err(err, errlen, "heapscope: cannot start curses on terminal "
                "type '%s'%s", term, "");
        return -1;
    }
    raw();          /* Ctrl-C, Ctrl-\ and Ctrl-Z are keys, not signals */
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    /* Esc must answer at once; sequences from a local terminal arrive
     * well within this */
    set_escdelay(25);
    s->cursor = curs_set(0);
    setup_colors(s);
    return 0;
}

/* Everything back as it was, in the reverse order of taking it. */
static void
stop(hs_term *s)
{
    if (s->scr != NULL) {
        char *ca = tigetstr("smcup");

        /* Without an alternate screen (vt100, TERM unset) the explorer's
         * last frame would stay on the terminal, looking alive: leave it
         * blank instead. */
        if (ca == NULL || ca == (char *)-1 || *ca == '\0') {
            clear();
            refresh();
        }
        if (s->cursor != ERR) {
            curs_set(s->cursor);
        }
        endwin();
        delscreen(s->scr);
        s->scr = NULL;
        set_escdelay(s->escdelay);
    }
    if (s->out != NULL) {
        fclose(s->out);
    }
    if (s->in != NULL) {
        fclose(s->in);
    }
    s->in = s->out = NULL;
    set_curterm(s->prev_term);
    /* endwin() restored the modes it saved; ours are the ones from
     * before newterm(), byte for byte */
    if (s->in_fd >= 0) {
        tcsetattr(s->in_fd, TCSADRAIN, &s->saved_in);
    }
    if (s->have_saved_out) {
        tcsetattr(s->out_fd, TCSADRAIN, &s->saved_out);
    }
    if (s->opened_fd >= 0) {
        close(s->opened_fd);
        s->opened_fd = -1;
    }
    restore_signals(s);
}

static int
locale_is_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);

    return cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0
                          || strcmp(cs, "utf-8") == 0);
}

int
hs_tui_run(hs_model *m, const hs_tui_opts *o, char *err, size_t errlen)
{
    hs_term s;
    hs_tui t;
    hs_tui_io io;
    const char *term;
    int rows, cols, rc = -1, sig;

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (m == NULL || m->ops == NULL) {
        set_err(err, errlen, "heapscope: no model to explore%s%s", "", "");
        return -1;
    }
    if (hs_tui_running) {
        set_err(err, errlen, "heapscope: the explorer is already open%s%s",
                "", "");
        return -1;
    }
    memset(&s, 0, sizeof(s));
    s.opened_fd = s.in_fd = s.out_fd = -1;
    s.cursor = ERR;
    s.prev_term = cur_term;
    term = o != NULL && o->term != NULL ? o->term : getenv("TERM");
    /* Without TERM, VT100's sequences are the ones every terminal
     * emulator still speaks: better a plain screen than none. */
    if (term == NULL || term[0] == '\0') {
        term = "vt100";
    }
    if (open_tty(&s, o, err, errlen) < 0
        || check_term(term, s.out_fd, err, errlen) < 0) {
        if (s.opened_fd >= 0) {
            close(s.opened_fd);
        }
        return -1;
    }
    hs_tui_running = 1;
    hs_tui_pending = 0;
    hs_tui_winch = 0;
    save_signals(&s);
    if (start_curses(&s, term, err, errlen) < 0) {
        stop(&s);
        hs_tui_running = 0;
        return -1;
    }
    install_signals();

    io.getkey = getkey;
    io.flush = flush;
    io.repaint = repaint;
    io.now_ms = now_ms;
    io.arg = &s;
    getmaxyx(stdscr, rows, cols);
    if (hs_tui_init(&t, m, &io, rows, cols, locale_is_utf8()) < 0) {
        set_err(err, errlen, "heapscope: out of memory%s%s", "", "");
    }
    else {
        /* the snapshot's first view may take a while: show the screen
         * (and its progress line) before asking for it */
        hs_tui_draw(&t);
        t.io.flush(t.io.arg, &t.canvas);
        if (hs_tui_start(&t) < 0) {
            set_err(err, errlen, "heapscope: %s%s", t.msg, "");
        }
        else {
            hs_tui_loop(&t);
            rc = 0;
        }
    }
    hs_tui_fini(&t);
    stop(&s);
    sig = hs_tui_pending;
    hs_tui_pending = 0;
    hs_tui_running = 0;
    /* The program's own disposition decides what the signal does, now
     * that the terminal is back in its hands. */
    if (sig != 0) {
        raise(sig);
    }
    return rc;
}
