/* tests/unit/test_tui_pty.c - hs_tui_run() with the real curses on a
 * pseudo-terminal: it draws, takes keys, follows resizes, and gives the
 * terminal modes and signal dispositions back exactly, on q and on
 * SIGTERM / SIGHUP / SIGINT from outside; it refuses dumb terminals and a
 * missing terminal without touching anything.
 *
 * Each explorer runs in a forked child whose controlling terminal is the
 * pty (so /dev/tty is it, and resizes send SIGWINCH); the parent plays
 * the user on the master side.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_model.h"
#include "heapscope/tui.h"

/* Generous: under valgrind a child takes seconds to draw. */
#define WAIT_MS 30000

typedef struct pty {
    int master, slave;
    struct termios before;
    pid_t pid;
    char out[1 << 18];      /* everything the explorer wrote */
    size_t nout;
} pty;

static void
open_pty(pty *p, int rows, int cols)
{
    struct winsize ws = {0};
    char *name;

    memset(p, 0, sizeof(*p));
    p->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(p->master >= 0);
    assert_int_equal(grantpt(p->master), 0);
    assert_int_equal(unlockpt(p->master), 0);
    name = ptsname(p->master);
    assert_non_null(name);
    p->slave = open(name, O_RDWR | O_NOCTTY);
    assert_true(p->slave >= 0);
    ws.ws_row = (unsigned short)rows;
    ws.ws_col = (unsigned short)cols;
    assert_int_equal(ioctl(p->slave, TIOCSWINSZ, &ws), 0);
    assert_int_equal(tcgetattr(p->slave, &p->before), 0);
}

static void
close_pty(pty *p)
{
    close(p->master);
    close(p->slave);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read what the explorer writes for up to ms milliseconds. */
static void
drain(pty *p, int ms)
{
    struct pollfd pfd = {p->master, POLLIN, 0};

    while (poll(&pfd, 1, ms) > 0 && (pfd.revents & POLLIN)) {
        ssize_t n;

        if (p->nout + 4096 >= sizeof(p->out)) {
            /* keep the tail: the text waited for is recent */
            memmove(p->out, p->out + sizeof(p->out) / 2,
                    p->nout - sizeof(p->out) / 2);
            p->nout -= sizeof(p->out) / 2;
        }
        n = read(p->master, p->out + p->nout, 4096);
        if (n <= 0) {
            break;
        }
        p->nout += (size_t)n;
        ms = 0;
    }
}

/* Wait until the output (from `from` on) has s in it; its end offset. */
static size_t
wait_for(pty *p, size_t from, const char *s)
{
    uint64_t end = now_ms() + WAIT_MS;

    for (;;) {
        if (from > p->nout) {
            from = 0;
        }
        void *hit = memmem(p->out + from, p->nout - from, s, strlen(s));

        if (hit != NULL) {
            return (size_t)((char *)hit - p->out) + strlen(s);
        }
        if (now_ms() > end) {
            fail_msg("the explorer never showed \"%s\"", s);
        }
        drain(p, 50);
    }
}

static void
send_keys(pty *p, const char *keys)
{
    assert_int_equal(write(p->master, keys, strlen(keys)),
                     (ssize_t)strlen(keys));
}

/* Reap the child, reading its output meanwhile; its wait status. */
static int
reap(pty *p)
{
    uint64_t end = now_ms() + WAIT_MS;
    int st;

    for (;;) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);

        if (r == p->pid) {
            drain(p, 0);
            return st;
        }
        if (now_ms() > end) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            fail_msg("the explorer did not exit");
        }
        drain(p, 20);
    }
}

static void
assert_modes_restored(pty *p)
{
    struct termios after;

    assert_int_equal(tcgetattr(p->slave, &after), 0);
    assert_int_equal(after.c_iflag, p->before.c_iflag);
    assert_int_equal(after.c_oflag, p->before.c_oflag);
    assert_int_equal(after.c_cflag, p->before.c_cflag);
    assert_int_equal(after.c_lflag, p->before.c_lflag);
    assert_memory_equal(after.c_cc, p->before.c_cc, sizeof(after.c_cc));
}

/* ---- the child ------------------------------------------------------- */

static const int watched[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP,
                              SIGCONT, SIGQUIT};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))

/* glibc adds SA_RESTORER (its return trampoline) to every action it
 * installs, SIG_DFL included: not part of the disposition. */
#ifdef SA_RESTORER
#define RESTORER SA_RESTORER
#else
#define RESTORER 0x04000000
#endif

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
    got_signal = sig;
}

/* Child exit codes: what went wrong. */
enum {
    OK = 0,
    E_RC = 10,          /* hs_tui_run failed */
    E_SIGACTION = 11,   /* a disposition was not given back */
    E_LEAK = 12,        /* views not released */
    E_NOSIGNAL = 13,    /* the signal was not re-delivered */
    E_EXPECTED = 14     /* a failure case did not fail as it should */
};

typedef struct child_opts {
    const char *term;       /* NULL: leave TERM as it is */
    int unset_term;
    int handle;             /* signal to catch with on_signal */
    int ignore;             /* signal to ignore */
    int deflt;              /* signal given its default action (an
                             * inherited one may be SIG_IGN: nohup) */
} child_opts;

static int
run_child(pty *p, const child_opts *co)
{
    struct sigaction before[NWATCHED], after;
    fake_model fm;
    hs_tui_opts o = {NULL, -1, -1, NULL};
    char err[256];
    int rc;

    close(p->master);
    /* the pty becomes the controlling terminal: /dev/tty, SIGWINCH */
    setsid();
    if (ioctl(p->slave, TIOCSCTTY, 0) < 0) {
        return 20;
    }
    if (co->handle) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(co->handle, &sa, NULL);
    }
    if (co->ignore) {
        signal(co->ignore, SIG_IGN);
    }
    if (co->deflt) {
        signal(co->deflt, SIG_DFL);
    }
    if (co->unset_term) {
        unsetenv("TERM");
    }
    o.term = co->term;
    for (size_t i = 0; i < NWATCHED; i++) {
        sigaction(watched[i], NULL, &before[i]);
    }
    fake_model_init(&fm);
    fm.dom_polls = 3;
    rc = hs_tui_run(&fm.base, &o, err, sizeof(err));
    if (rc != 0) {
        dprintf(2, "hs_tui_run: %s\n", err);
        return E_RC;
    }
    for (size_t i = 0; i < NWATCHED; i++) {
        sigaction(watched[i], NULL, &after);
        if (after.sa_handler != before[i].sa_handler
            || (after.sa_flags & ~RESTORER)
                   != (before[i].sa_flags & ~RESTORER)) {
            dprintf(2, "signal %d: handler %p flags %#x, was %p %#x\n",
                    watched[i], (void *)after.sa_handler,
                    (unsigned)after.sa_flags, (void *)before[i].sa_handler,
                    (unsigned)before[i].sa_flags);
            return E_SIGACTION;
        }
    }
    if (fm.live_views != 0) {
        return E_LEAK;
    }
    if (co->handle && got_signal != co->handle) {
        return E_NOSIGNAL;
    }
    return OK;
}

static void
spawn(pty *p, const child_opts *co)
{
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        _exit(run_child(p, co));
    }
}

static int
exit_code(int st)
{
    if (!WIFEXITED(st)) {
        fail_msg("the child died of signal %d", WIFSIGNALED(st)
                                                     ? WTERMSIG(st) : -1);
    }
    return WEXITSTATUS(st);
}

/* ---- the tests -------------------------------------------------------- */

static void
test_run_keys_and_restore(void **state)
{
    child_opts co = {"xterm", 0, 0, 0};
    struct termios during;
    pty p;
    size_t at;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    at = wait_for(&p, 0, "Partition of a set of 1449133 objects");
    /* raw mode while it runs: no echo, no line editing, no signals */
    assert_int_equal(tcgetattr(p.slave, &during), 0);
    assert_int_equal(during.c_lflag & (ICANON | ECHO | ISIG), 0);
    send_keys(&p, "jr");
    at = wait_for(&p, at, "Referrers by Kind");
    send_keys(&p, "?");
    at = wait_for(&p, at, "The partition table");
    send_keys(&p, "?x");
    at = wait_for(&p, at, "Referrers: 5");
    send_keys(&p, "q");
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    /* xterm's alternate screen was entered and left */
    assert_non_null(memmem(p.out, p.nout, "\033[?1049h", 8));
    at = (size_t)((char *)memmem(p.out, p.nout, "\033[?1049h", 8) - p.out);
    assert_non_null(memmem(p.out + at, p.nout - at, "\033[?1049l", 8));
    close_pty(&p);
}

/* Ctrl-L sends the whole screen again (curses' picture of the terminal
 * is dropped), though nothing on it changed. */
static void
test_ctrl_l_repaints(void **state)
{
    child_opts co = {"xterm", 0, 0, 0};
    size_t at;
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    at = wait_for(&p, 0, "Partition of a set of 1449133 objects");
    send_keys(&p, "\014");
    wait_for(&p, at, "Partition of a set of 1449133 objects");
    send_keys(&p, "q");
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

static void
test_ctrl_c_is_a_key(void **state)
{
    child_opts co = {"xterm", 0, 0, 0};
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    wait_for(&p, 0, "Partition of a set");
    /* the pty would turn ^C into SIGINT if the explorer were not raw;
     * the child then would die of it (SIGINT's default) */
    send_keys(&p, "\003");
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

static void
test_sigterm_redelivered(void **state)
{
    child_opts co = {"xterm", 0, SIGTERM, 0};
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    wait_for(&p, 0, "Partition of a set");
    kill(p.pid, SIGTERM);
    /* the program's own handler ran, after the explorer closed */
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

static void
test_sighup_default_kills_after_restore(void **state)
{
    child_opts co = {"xterm", 0, 0, 0, SIGHUP};
    size_t at;
    pty p;
    int st;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    at = wait_for(&p, 0, "Partition of a set");
    kill(p.pid, SIGHUP);
    st = reap(&p);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGHUP);
    assert_modes_restored(&p);
    assert_non_null(memmem(p.out + at, p.nout - at, "\033[?1049l", 8));
    close_pty(&p);
}

static void
test_sigint_ignored_by_program(void **state)
{
    child_opts co = {"xterm", 0, 0, SIGINT};
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    wait_for(&p, 0, "Partition of a set");
    kill(p.pid, SIGINT);
    /* the explorer closes; the program, which ignores SIGINT, goes on */
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

static void
test_resize(void **state)
{
    child_opts co = {"xterm", 0, 0, 0};
    struct winsize ws = {0};
    size_t at;
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    at = wait_for(&p, 0, "Partition of a set");
    /* 80 columns clip the label column's header */
    assert_null(memmem(p.out, p.nout, "Kind (class / dict of class)", 28));
    ws.ws_row = 5;
    ws.ws_col = 20;
    assert_int_equal(ioctl(p.master, TIOCSWINSZ, &ws), 0);
    at = wait_for(&p, at, "Index");
    ws.ws_row = 30;
    ws.ws_col = 130;
    assert_int_equal(ioctl(p.master, TIOCSWINSZ, &ws), 0);
    at = wait_for(&p, at, "Kind (class / dict of class)");
    ws.ws_row = 2;
    ws.ws_col = 5;
    assert_int_equal(ioctl(p.master, TIOCSWINSZ, &ws), 0);
    at = wait_for(&p, at, "too");
    send_keys(&p, "q");
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

static void
test_term_unset_falls_back(void **state)
{
    child_opts co = {NULL, 1, 0, 0};
    pty p;

    (void)state;
    open_pty(&p, 24, 80);
    spawn(&p, &co);
    wait_for(&p, 0, "Partition of a set");
    send_keys(&p, "q");
    assert_int_equal(exit_code(reap(&p)), OK);
    assert_modes_restored(&p);
    close_pty(&p);
}

/* Nothing may reach the terminal, nor its modes change. */
static void
assert_untouched(pty *p)
{
    struct pollfd pfd = {p->master, POLLIN, 0};

    assert_int_equal(poll(&pfd, 1, 100), 0);
    assert_modes_restored(p);
}

static void
test_dumb_and_unknown_terminals(void **state)
{
    fake_model fm;
    hs_tui_opts o;
    char err[256];
    pty p;

    (void)state;
    fake_model_init(&fm);
    open_pty(&p, 24, 80);
    o.tty = NULL;
    o.in_fd = o.out_fd = p.slave;
    o.term = "dumb";
    assert_int_equal(hs_tui_run(&fm.base, &o, err, sizeof(err)), -1);
    assert_string_equal(err, "heapscope: terminal type 'dumb' cannot move "
                        "the cursor: the explorer needs a full-screen "
                        "terminal");
    assert_untouched(&p);
    o.term = "no-such-terminal";
    assert_int_equal(hs_tui_run(&fm.base, &o, err, sizeof(err)), -1);
    assert_string_equal(err, "heapscope: terminal type 'no-such-terminal' "
                        "is unknown or not a full-screen terminal");
    assert_untouched(&p);
    assert_int_equal(fm.views_made, 0);
    /* a file that is not a terminal */
    o.in_fd = o.out_fd = open("/dev/null", O_RDWR);
    o.term = "xterm";
    assert_true(o.in_fd >= 0);
    assert_int_equal(hs_tui_run(&fm.base, &o, err, sizeof(err)), -1);
    assert_string_equal(err, "heapscope: the file descriptor given is not a "
                        "terminal");
    close(o.in_fd);
    /* a device that does not exist */
    o.in_fd = o.out_fd = -1;
    o.tty = "/nonexistent/tty";
    assert_int_equal(hs_tui_run(&fm.base, &o, err, sizeof(err)), -1);
    assert_string_equal(err, "heapscope: cannot open /nonexistent/tty (No "
                        "such file or directory): the explorer needs a "
                        "terminal");
    /* no model; and a short error buffer is still a string */
    assert_int_equal(hs_tui_run(NULL, &o, err, 12), -1);
    assert_string_equal(err, "heapscope: ");
    close_pty(&p);
}

static void
test_no_controlling_terminal(void **state)
{
    pid_t pid;
    int st;

    (void)state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fake_model fm;
        char err[256];

        setsid();       /* a new session has no terminal: no /dev/tty */
        fake_model_init(&fm);
        if (hs_tui_run(&fm.base, NULL, err, sizeof(err)) != -1) {
            _exit(E_EXPECTED);
        }
        if (strstr(err, "heapscope: cannot open /dev/tty (") != err
            || strstr(err, "the explorer needs a terminal") == NULL) {
            _exit(E_EXPECTED + 1);
        }
        _exit(fm.views_made == 0 ? OK : E_EXPECTED + 2);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(exit_code(st), OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_keys_and_restore),
        cmocka_unit_test(test_ctrl_l_repaints),
        cmocka_unit_test(test_ctrl_c_is_a_key),
        cmocka_unit_test(test_sigterm_redelivered),
        cmocka_unit_test(test_sighup_default_kills_after_restore),
        cmocka_unit_test(test_sigint_ignored_by_program),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_term_unset_falls_back),
        cmocka_unit_test(test_dumb_and_unknown_terminals),
        cmocka_unit_test(test_no_controlling_terminal),
    };

    return cmocka_run_group_tests_name("tui_pty", tests, NULL, NULL);
}
