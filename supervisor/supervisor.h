/* supervisor: the supervisor's life as two state machines, the server's and each child's.
 *
 * The server:
 *   RUNNING ──SIGTERM/SIGINT, or a child given up on──▶ STOPPING_ACCEPTOR
 *      └──────────────(no acceptor left to stop)───────▶ STOPPING_STORAGE
 *   STOPPING_ACCEPTOR ──acceptor group gone──▶ STOPPING_STORAGE ──storage gone──▶ DONE
 *
 * Each child while the server is RUNNING (child.h): storage is STARTING until it writes its
 * readiness byte, then RUNNING; the acceptor is started once storage is first ready, and is
 * RUNNING from its spawn (it inherits a listener that is already listening). A child that dies
 * is restarted in place after a backoff (RESTART_WAIT), the other one left alone: workers' nng
 * dialers find a restarted storage at the same ipc path by themselves, and connections made
 * while the acceptor is down wait in the backlog of the listener, which the supervisor owns.
 * A dead acceptor's workers are SIGKILLed before a new acceptor starts (see on_child_exit). Too
 * many quick exits in a row and the child is given up on: the server stops, exit code 1.
 *
 * Stopping goes in reverse order of starting, so every worker finishes the request it has in
 * flight while storage can still answer it. A pending restart is cancelled; each stopping
 * stage sends SIGTERM, and SIGKILL to the whole process group once its grace period is over
 * (lib/shutdown.h: the budget of the whole stop, and why each grace is what it is). A
 * child that dies while stopping is not restarted. Signals arrive through a signalfd (all of
 * them blocked), so nothing runs in a handler and no signal is lost between a check and a
 * wait. */
#ifndef TP0_SUPERVISOR_SUPERVISOR_H
#define TP0_SUPERVISOR_SUPERVISOR_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "child.h"
#include "config.h"

#define SUPERVISOR_READY_TIMEOUT_MS 10000
#define SUPERVISOR_GROUP_CHECK_MS 100 /* a dead acceptor's group, until it is gone */

enum supervisor_state {
	SUPERVISOR_RUNNING,
	SUPERVISOR_STOPPING_ACCEPTOR,
	SUPERVISOR_STOPPING_STORAGE,
	SUPERVISOR_DONE,
};

struct supervisor {
	struct server_config config;
	char bin_dir[PATH_MAX];
	char run_dir[PATH_MAX];
	char ipc_url[PATH_MAX + 32];
	sigset_t child_mask;      /* the mask children start with: the one we were started with */
	int signal_fd;
	int listen_fd;            /* the server's listener, handed to every acceptor; -1 once closed */
	uint16_t port;            /* the port it is bound to */
	int ready_fd;             /* the starting storage's readiness pipe, -1 when none */
	struct child storage;
	struct child acceptor;
	enum supervisor_state state;
	int exit_code;
	int64_t stage_deadline;   /* of the current stopping stage's grace period, ms */
	bool stage_signalled;     /* SIGTERM sent in this stopping stage */
	bool stage_killed;        /* SIGKILL sent in this stopping stage */
	bool new_draw;            /* the first storage begins a new draw; a restarted one resumes */
};

/* Sets up (signals, listener, runtime dir, storage) from an already loaded config. 0, or -1
 * after logging why; supervisor_close() must be called either way. */
int supervisor_open(struct supervisor *s, const struct server_config *config, bool new_draw);
/* Runs until DONE; returns the exit code (0 after a requested stop where every child ended
 * cleanly; children restarted on the way do not count against it). */
int supervisor_run(struct supervisor *s);
/* Closes what supervisor_open opened, in reverse order. */
void supervisor_close(struct supervisor *s);

#endif
