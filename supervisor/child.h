/* child: the supervisor's record of one program it runs, how it is started and signalled, and
 * when it is started again after it died.
 *
 *   DOWN ──spawn──▶ STARTING ──ready──▶ RUNNING
 *                       │                  │
 *                       └──────exit────────┴──▶ RESTART_WAIT(deadline) ──deadline──▶ spawn
 *
 * The transitions are the supervisor's (supervisor.c); this module keeps the record and the
 * restart policy. A run that ends within CHILD_QUICK_EXIT_MS of its spawn, or before it was
 * ready, is a quick exit: the delay before the next start doubles with each one in a row, and
 * after CHILD_QUICK_EXITS_MAX in a row the child is given up on (a crash loop restarts nothing
 * useful). A run that lasted longer resets the count: such a child is restarted however often
 * it is killed. */
#ifndef TP0_SUPERVISOR_CHILD_H
#define TP0_SUPERVISOR_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CHILD_QUICK_EXIT_MS 1000
#define CHILD_QUICK_EXITS_MAX 5
#define CHILD_BACKOFF_FIRST_MS 100
#define CHILD_BACKOFF_MAX_MS 2000

enum child_state {
	CHILD_DOWN,         /* not started yet, or not to be started again */
	CHILD_STARTING,     /* spawned, not ready yet (storage: until its readiness byte) */
	CHILD_RUNNING,      /* spawned and ready */
	CHILD_RESTART_WAIT, /* exited and reaped; started again at deadline */
};

struct child {
	const char *name;      /* "storage", "acceptor" */
	pid_t pid;             /* of the latest run; also its process group: each child leads its own */
	enum child_state state;
	int status;            /* wait status of the latest run, once reaped */
	int64_t started_ms;    /* when the latest run was spawned (io_now_ms clock) */
	int64_t deadline;      /* STARTING: ready by then; RESTART_WAIT: start again then */
	unsigned quick_exits;  /* quick exits in a row */
	unsigned restarts;     /* restarts since the child last ran longer than a quick exit */
};

/* fork + exec path with argv, in a new process group, with the signal mask child_mask, killed
 * by the kernel if the supervisor dies (see signals_die_with_parent), and every fd close-on-exec
 * except inherit_fd (-1 for none). Sets pid, started_ms and state STARTING. 0, or -1 with errno
 * (fork failed; started_ms is set anyway, so the failure counts as a quick exit; an exec failure
 * shows up as the child exiting with 127). */
int child_spawn(struct child *child, const char *path, char *const argv[],
                const sigset_t *child_mask, int inherit_fd);

/* Whether the latest run is a process still to be reaped (STARTING or RUNNING). */
bool child_alive(const struct child *child);

/* Counts the end of the latest run (reaped, or a spawn that failed) at now_ms; call it before
 * changing the state, which says whether the run got ready. Returns the delay before the next
 * start: CHILD_BACKOFF_FIRST_MS doubled for each restart since the child last ran fine, at most
 * CHILD_BACKOFF_MAX_MS; or -1 when this was quick exit number CHILD_QUICK_EXITS_MAX in a row. */
int64_t child_backoff_after_exit(struct child *child, int64_t now_ms);

/* Signals the child's whole process group (its workers too). 0, or -1 with errno; ESRCH means
 * nobody is left in the group. */
int child_signal_group(const struct child *child, int signo);
bool child_group_alive(const struct child *child);

/* "exit_code: 3" / "signal: 9" style text of a wait status, for log lines. */
void child_describe_status(int status, char *buf, size_t cap);
bool child_exited_cleanly(int status);

#endif
