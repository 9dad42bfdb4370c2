/* child: the supervisor's record of one program it runs, and how it is started and signalled. */
#ifndef TP0_SUPERVISOR_CHILD_H
#define TP0_SUPERVISOR_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct child {
	const char *name; /* "storage", "acceptor" */
	pid_t pid;        /* also its process group: each child leads its own */
	bool running;
	int status;       /* wait status, once reaped */
};

/* fork + exec path with argv, in a new process group, with the signal mask child_mask and
 * every fd close-on-exec except inherit_fd (-1 for none). 0, or -1 with errno (fork failed; an
 * exec failure shows up as the child exiting with 127). */
int child_spawn(struct child *child, const char *path, char *const argv[],
                const sigset_t *child_mask, int inherit_fd);

/* Signals the child's whole process group (its workers too). 0, or -1 with errno; ESRCH means
 * nobody is left in the group. */
int child_signal_group(const struct child *child, int signo);
bool child_group_alive(const struct child *child);

/* "exit_code: 3" / "signal: 9" style text of a wait status, for log lines. */
void child_describe_status(int status, char *buf, size_t cap);
bool child_exited_cleanly(int status);

#endif
