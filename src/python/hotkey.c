/* hotkey.c - a signal (Ctrl-\ by default) that runs a Python callable in
 * the running program: the hotkey that opens the explorer.
 *
 * The C signal handler only writes one byte to a non-blocking pipe.  A
 * watcher thread (a plain pthread: no Python thread object, so nothing in
 * threading.enumerate() or on the heap) waits on the pipe, takes the GIL
 * and calls the callback, then drops whatever arrived meanwhile, so runs
 * never nest and a storm of signals runs it a bounded number of times.
 * Nothing here may run Python code outside the watcher's call, block in
 * the handler, or take the GIL once the interpreter is finalizing.
 *
 * Parking the main thread.  Holding the GIL pauses the program's Python
 * code, but not a main thread blocked in read() on the terminal (input(),
 * the REPL, a loop over sys.stdin): it would take the keys meant for the
 * explorer.  hs_py_hotkey_park_main(), called with the GIL held right
 * before a loop that keeps the GIL while it reads the terminal (the
 * explorer's), sends the hotkey's signal to the main thread with
 * SA_RESTART off: its read fails with EINTR, and CPython, before retrying
 * it, waits for the GIL, that is until that loop ends.  Any release of the
 * GIL in between (I/O, or bytecode past the switch interval) lets it go
 * back to its read, which is why this is not done before the callback.
 *
 * State.  A signal's disposition and the threads of a process are
 * per-process, and a signal handler can reach no module state, so the
 * installation is described by one static struct, `hk`: the only mutable
 * global of _heapscope.  Its atomics are what the handler reads; every
 * other field is read and written only with the GIL held (install,
 * uninstall and the after-fork hook are Python calls).  Installing is
 * refused outside the main interpreter, so one module state could never
 * own a process-wide disposition another interpreter relies on.
 *
 * fork().  The child gets a new pipe and a new watcher (the Python layer
 * calls hs_py_hotkey_after_fork from os.register_at_fork), so the hotkey
 * keeps working there for signals sent to that process, e.g. kill -USR2.
 * A signal the terminal sends (Ctrl-\ reaches every process of the
 * foreground group; si_code SI_KERNEL) is ignored in a forked child, so
 * only the process that called install() answers the key.  Until the
 * child's hook has run, the handler drops signals (it checks getpid()),
 * so a child never wakes its parent's watcher through the inherited pipe.
 */
#include "hs_py.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if ATOMIC_INT_LOCK_FREE != 2
#error "the signal handler needs lock-free atomic int"
#endif

/* One watcher thread and its pipe. */
typedef struct hk_watch {
    int rfd, wfd;
    atomic_int stop;        /* set by whoever stops it, read by the thread */
    int self_stop;          /* stopped from its own callback: the thread
                               frees itself once the callback returns */
    pthread_t thread;
    sem_t started;          /* posted by the thread once it runs our code */
    PyObject *callback;     /* strong reference */
    sigset_t call_mask;     /* signal mask while the callback runs: the
                               installer's, so the callback sees signals as
                               the program's threads do (raise() works) */
} hk_watch;

static struct {
    /* read by the signal handler */
    atomic_int wfd;         /* pipe to write to; -1: drop the signal */
    atomic_int busy;        /* handlers between reading wfd and writing */
    atomic_int pid;         /* the process whose watcher listens */
    atomic_int owner;       /* the process that called install() */
    atomic_int park_sent;   /* park signals not yet seen by the handler */
    /* GIL-protected */
    int installed;
    int signum;
    struct sigaction previous;
    hk_watch *watch;
    int have_main;
    pthread_t main_thread;  /* the thread hs_py_hotkey_park_main signals */
    int parked;             /* SA_RESTART is off until unparked */
} hk = {.wfd = -1};

static void
hk_handler(int sig, siginfo_t *si, void *ucontext)
{
    int saved_errno = errno;
    atomic_fetch_add(&hk.busy, 1);
    int fd = atomic_load(&hk.wfd);
    int me = (int)getpid();
    int drop = fd < 0 || me != atomic_load(&hk.pid);
#ifdef SI_KERNEL
    /* From the terminal (Ctrl-\ reaches the whole foreground group): only
     * the installing process answers it, not its forked children. */
    if (si != NULL && si->si_code == SI_KERNEL && me != atomic_load(&hk.owner))
        drop = 1;
#endif
    /* hs_py_hotkey_park_main's own signal only interrupts the main
     * thread: it must not wake the watcher. */
    if (si != NULL && si->si_code == SI_TKILL) {
        int n = atomic_load(&hk.park_sent);
        while (n > 0 && !atomic_compare_exchange_weak(&hk.park_sent, &n,
                                                      n - 1))
            ;
        if (n > 0)
            drop = 1;
    }
    if (!drop) {
        char byte = 1;
        /* A full pipe already holds a wake-up: EAGAIN loses nothing. */
        ssize_t r = write(fd, &byte, 1);
        (void)r;
    }
    atomic_fetch_sub(&hk.busy, 1);
    errno = saved_errno;
}

/* Wait until no handler can still write to a descriptor it read before
 * hk.wfd changed.  The handler runs for a few system calls at most. */
static void
wait_for_handlers(void)
{
    while (atomic_load(&hk.busy) != 0)
        sched_yield();
}

/* Read everything the pipe holds. */
static void
drain(int fd)
{
    char buf[256];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        return;    /* EAGAIN: empty */
    }
}

static void
close_fds(hk_watch *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    if (w->wfd >= 0)
        close(w->wfd);
    w->rfd = w->wfd = -1;
}

static int handler_is_ours(int signum);

/* Our handler on hk.signum, with or without SA_RESTART. */
static void
set_restart(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = hk_handler;
    sa.sa_flags = SA_SIGINFO | (on ? SA_RESTART : 0);
    sigemptyset(&sa.sa_mask);
    sigaction(hk.signum, &sa, NULL);
}

int
hs_py_hotkey_park_main(void)
{
    if (!hk.installed || !hk.have_main ||
        pthread_equal(hk.main_thread, pthread_self()) ||
        !handler_is_ours(hk.signum))
        return 0;
    if (!hk.parked)
        set_restart(0);
    hk.parked = 1;
    /* Our own handler runs on it and recognises the signal (park_sent),
     * so the hotkey does not fire again. */
    atomic_fetch_add(&hk.park_sent, 1);
    if (pthread_kill(hk.main_thread, hk.signum) != 0)
        atomic_fetch_sub(&hk.park_sent, 1);
    return 1;
}

void
hs_py_hotkey_unpark_main(void)
{
    if (!hk.parked)
        return;
    hk.parked = 0;
    if (hk.installed && handler_is_ours(hk.signum))
        set_restart(1);
}

static void
run_callback(hk_watch *w)
{
    sigset_t saved;
    pthread_sigmask(SIG_SETMASK, &w->call_mask, &saved);
    PyObject *r = PyObject_CallObject(w->callback, NULL);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    /* In case the callback parked the main thread and did not say so. */
    hs_py_hotkey_unpark_main();
    /* The Python layer's callback reports the action's exceptions itself;
     * this is the last resort if that callback failed. */
    if (r == NULL)
        PyErr_WriteUnraisable(w->callback);
    else
        Py_DECREF(r);
}

static void *
watch_main(void *arg)
{
    hk_watch *w = arg;
    sem_post(&w->started);
    for (;;) {
        /* Checked before waiting too: the byte that came with a stop
         * request may have been drained with the signals. */
        if (atomic_load(&w->stop))
            return NULL;
        struct pollfd p = {w->rfd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        /* Signals that came together run the callback once. */
        drain(w->rfd);
        if (atomic_load(&w->stop))
            return NULL;
        /* Never take the GIL once finalization started: the interpreter
         * would end this thread inside PyGILState_Ensure, or worse. */
        if (hs_compat_is_finalizing())
            return NULL;
        PyGILState_STATE g = PyGILState_Ensure();
        if (!atomic_load(&w->stop))
            run_callback(w);
        if (w->self_stop) {
            /* Uninstalled (or replaced) from inside the callback: nobody
             * will join this thread, it cleans up after itself. */
            Py_CLEAR(w->callback);
            PyGILState_Release(g);
            wait_for_handlers();
            close_fds(w);
            free(w);
            return NULL;
        }
        PyGILState_Release(g);
        /* Never nested: what arrived while the callback ran is dropped. */
        drain(w->rfd);
    }
}

/* A new watcher calling `callback`, its thread started.  NULL with an
 * exception set on failure. */
static hk_watch *
watch_start(PyObject *callback)
{
    hk_watch *w = calloc(1, sizeof *w);
    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        free(w);
        return NULL;
    }
    w->rfd = fds[0];
    w->wfd = fds[1];
    atomic_init(&w->stop, 0);
    w->self_stop = 0;
    Py_INCREF(callback);
    w->callback = callback;

    /* The thread starts with every signal blocked, so no signal meant for
     * the program lands on it while it waits; the callback runs with the
     * installer's mask (run_callback). */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &w->call_mask);
    int err = sem_init(&w->started, 0, 0) != 0 ? errno : 0;
    if (err == 0) {
        err = pthread_create(&w->thread, NULL, watch_main, w);
        if (err != 0)
            sem_destroy(&w->started);
    }
    pthread_sigmask(SIG_SETMASK, &w->call_mask, NULL);
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        close_fds(w);
        Py_DECREF(callback);
        free(w);
        return NULL;
    }
    /* Return only once the thread runs watch_main: a thread still starting
     * up may hold a lock of the C library's (or, under ASan, of its
     * allocator: LLVM 14 has no fork handlers for it), and a fork() right
     * after install() would leave that lock held forever in the child. */
    while (sem_wait(&w->started) != 0 && errno == EINTR)
        ;
    sem_destroy(&w->started);
    return w;
}

/* Stop a watcher that hk no longer points to, wait for it and free it.
 * Called with the GIL held; releases it while waiting, since the watcher
 * may be waiting for the GIL (or running the callback) itself. */
static void
watch_stop(hk_watch *w)
{
    atomic_store(&w->stop, 1);
    char byte = 0;
    ssize_t r = write(w->wfd, &byte, 1);   /* full pipe: it wakes anyway */
    (void)r;
    if (pthread_equal(pthread_self(), w->thread)) {
        /* From inside its own callback: it cannot be joined from here. */
        w->self_stop = 1;
        pthread_detach(w->thread);
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(w->thread, NULL);
    wait_for_handlers();
    Py_END_ALLOW_THREADS
    close_fds(w);
    Py_CLEAR(w->callback);
    free(w);
}

static int
handler_is_ours(int signum)
{
    struct sigaction cur;
    if (sigaction(signum, NULL, &cur) < 0)
        return 0;
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == hk_handler;
}

/* Put back the disposition found at install time, unless someone replaced
 * ours since (then theirs stays). */
static void
restore_previous(void)
{
    if (handler_is_ours(hk.signum))
        sigaction(hk.signum, &hk.previous, NULL);
}

static int
check_signal(long signum)
{
    if (signum <= 0 || signum >= NSIG) {
        PyErr_Format(PyExc_ValueError, "signal number %ld out of range",
                     signum);
        return -1;
    }
    switch (signum) {
    case SIGKILL:
    case SIGSTOP:
        PyErr_SetString(PyExc_ValueError,
                        "SIGKILL and SIGSTOP cannot be caught");
        return -1;
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
        /* A handler that returns from a real fault faults again. */
        PyErr_Format(PyExc_ValueError,
                     "signal %ld reports faults; choose another one (e.g. "
                     "SIGQUIT or SIGUSR2)", signum);
        return -1;
    }
    /* (one the C library keeps for itself: glibc's 32 and 33) */
    struct sigaction cur;
    if (sigaction((int)signum, NULL, &cur) < 0) {
        PyErr_Format(PyExc_ValueError, "cannot catch signal %ld: %s",
                     signum, strerror(errno));
        return -1;
    }
    return 0;
}

PyObject *
hs_py_hotkey_check_signal(PyObject *module, PyObject *arg)
{
    (void)module;
    int overflow;
    long signum = PyLong_AsLongAndOverflow(arg, &overflow);
    if (signum == -1 && PyErr_Occurred())
        return NULL;
    if (overflow) {
        PyErr_Format(PyExc_ValueError, "signal number %R out of range", arg);
        return NULL;
    }
    if (check_signal(signum) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyObject *
hs_py_hotkey_install(PyObject *module, PyObject *args)
{
    int signum;
    PyObject *callback;
    unsigned long main_ident = 0;
    if (!PyArg_ParseTuple(args, "iO|k:hotkey_install", &signum, &callback,
                          &main_ident))
        return NULL;
    if (!PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "the callback must be callable");
        return NULL;
    }
    if (check_signal(signum) < 0)
        return NULL;
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the hotkey can only be installed from the main "
                        "interpreter");
        return NULL;
    }

    hk_watch *w = watch_start(callback);
    if (w == NULL)
        return NULL;
    hk_watch *old = hk.installed ? hk.watch : NULL;
    int me = (int)getpid();
    int old_pid = atomic_load(&hk.pid), old_owner = atomic_load(&hk.owner);

    /* Arm the new pipe before the new disposition can fire. */
    atomic_store(&hk.wfd, w->wfd);
    atomic_store(&hk.pid, me);
    atomic_store(&hk.owner, me);

    if (!hk.installed || hk.signum != signum) {
        struct sigaction sa, prev;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = hk_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signum, &sa, &prev) < 0) {
            int err = errno;
            /* As it was: the previous install, if any, still works. */
            atomic_store(&hk.wfd, old ? old->wfd : -1);
            atomic_store(&hk.pid, old_pid);
            atomic_store(&hk.owner, old_owner);
            watch_stop(w);
            errno = err;
            PyErr_Format(PyExc_ValueError, "cannot catch signal %d: %s",
                         signum, strerror(err));
            return NULL;
        }
        /* Replacing a hotkey on another signal: that one gets back what
         * it had before; the new signal's previous disposition is kept
         * for uninstall.  Installing again on the same signal keeps the
         * disposition found the first time (never our own handler). */
        if (hk.installed)
            restore_previous();
        hk.previous = prev;
        hk.signum = signum;
    } else if (hk.parked) {
        set_restart(1);
    }
    hk.parked = 0;
    hk.watch = w;
    hk.installed = 1;
    /* threading.get_ident() is the thread's pthread_t. */
    hk.have_main = main_ident != 0;
    hk.main_thread = (pthread_t)main_ident;
    if (old != NULL)
        watch_stop(old);
    Py_RETURN_NONE;
}

PyObject *
hs_py_hotkey_uninstall(PyObject *module, PyObject *unused)
{
    if (!hk.installed)
        Py_RETURN_FALSE;
    hk_watch *w = hk.watch;
    hk.watch = NULL;
    hk.installed = 0;
    hk.parked = 0;
    atomic_store(&hk.wfd, -1);
    restore_previous();
    watch_stop(w);
    Py_RETURN_TRUE;
}

PyObject *
hs_py_hotkey_after_fork(PyObject *module, PyObject *unused)
{
    /* Only the forking thread exists here: no handler is mid-flight, and
     * no park signal is on its way. */
    atomic_store(&hk.busy, 0);
    atomic_store(&hk.park_sent, 0);
    if (!hk.installed)
        Py_RETURN_NONE;
    hs_py_hotkey_unpark_main();
    hk_watch *old = hk.watch;
    /* The parent's watcher thread does not exist in the child, and its
     * pipe is shared with the parent: replace both. */
    hk_watch *w = watch_start(old->callback);
    close_fds(old);
    Py_CLEAR(old->callback);
    free(old);
    if (w == NULL) {
        /* Without a watcher the hotkey is off in this process: give the
         * signal back its previous disposition. */
        hk.watch = NULL;
        hk.installed = 0;
        atomic_store(&hk.wfd, -1);
        restore_previous();
        return NULL;
    }
    hk.watch = w;
    atomic_store(&hk.wfd, w->wfd);
    atomic_store(&hk.pid, (int)getpid());
    /* The forking thread is the child's main thread. */
    hk.have_main = 1;
    hk.main_thread = pthread_self();
    Py_RETURN_NONE;
}

PyObject *
hs_py_hotkey_info(PyObject *module, PyObject *unused)
{
    if (!hk.installed)
        Py_RETURN_NONE;
    return Py_BuildValue("(iii)", hk.signum, atomic_load(&hk.owner),
                         atomic_load(&hk.pid));
}

PyObject *
hs_py_hotkey_park_main_py(PyObject *module, PyObject *unused)
{
    return PyBool_FromLong(hs_py_hotkey_park_main());
}

PyObject *
hs_py_hotkey_unpark_main_py(PyObject *module, PyObject *unused)
{
    hs_py_hotkey_unpark_main();
    Py_RETURN_NONE;
}
