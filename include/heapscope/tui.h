/* heapscope/tui.h - the full-screen explorer (tui/): run it over a model.
 *
 * The TUI borrows the terminal: it opens it with newterm() (on /dev/tty
 * unless told otherwise, so it works with stdout and stderr redirected),
 * and gives it back exactly as it found it on every way out.  It reaches
 * the program only through the model (explorer.h); it includes no
 * Python.h.
 */
#ifndef HEAPSCOPE_TUI_H
#define HEAPSCOPE_TUI_H

#include <stddef.h>

#include "heapscope/explorer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hs_tui_opts {
    const char *tty;     /* terminal to open; NULL: "/dev/tty" */
    int in_fd, out_fd;   /* already-open terminal fds (tests pass a pty);
                            -1 to open `tty` */
    const char *term;    /* terminal type; NULL: $TERM */
} hs_tui_opts;

/* Run the explorer on m until the user quits.  0 when the user closed it;
 * -1 when it could not run at all (no terminal, a terminal type that
 * cannot do full-screen, the model's first view failed or was cancelled
 * with Esc...), with one line saying why in err.  A SIGINT, SIGTERM or
 * SIGHUP that closed it is raised again once the terminal and the
 * program's signal dispositions are back (then it returns 0, if the
 * program survives it).  Not reentrant: a second call while one runs
 * returns -1. */
int hs_tui_run(hs_model *m, const hs_tui_opts *o, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* HEAPSCOPE_TUI_H */
