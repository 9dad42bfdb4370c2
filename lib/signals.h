/* signals: the two ways our processes take signals, so that nothing but a flag store ever runs
 * in a handler and no signal is lost between checking for it and waiting.
 *
 * - Event loops (supervisor, acceptor) block their signals and read them from a signalfd polled
 *   with everything else.
 * - Processes whose waits all go through lib/io.c (workers, clients) keep SIGTERM/SIGINT blocked
 *   and let them in only inside io's ppoll(), where a handler records the signal. */
#ifndef TP0_SIGNALS_H
#define TP0_SIGNALS_H

#include <signal.h>
#include <sys/types.h>

/* "SIGTERM", "SIGINT", "SIGCHLD", "SIGKILL", ... or "SIG?" for the rest. */
const char *signal_name(int signo);

/* Blocks the signals in set and returns a close-on-exec signalfd for them (or -1 with errno).
 * *old_mask receives the mask from before. */
int signals_open_fd(const sigset_t *set, sigset_t *old_mask);
/* Reads one signal from a signalfd that poll reported readable: its number, or -1 (errno). */
int signals_read_fd(int fd);

/* Blocks SIGTERM and SIGINT and installs the handler that records them; registers that record
 * with io_set_stop() so io's waits end with IO_STOPPED. The waits let the signals in with
 * wait_mask, or, when NULL, with the mask from before this call. 0, or -1 with errno. */
int signals_install_stop(const sigset_t *wait_mask);
/* The signal that asked to stop (SIGTERM or SIGINT), or 0. */
int signals_stop_received(void);

/* For a freshly forked child: the kernel SIGKILLs it when its parent dies (PR_SET_PDEATHSIG),
 * so no process of the server outlives the one that started it, even a SIGKILLed one. parent
 * is the pid the parent recorded before fork(): if it is no longer our parent, it died before
 * the request took effect and nobody would send the signal. 0, or -1 with errno (ESRCH: the
 * parent is already gone). */
int signals_die_with_parent(pid_t parent);

#endif
