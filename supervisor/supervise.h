/* supervise: the supervisor's life as a state machine.
 *
 *   STARTING ──storage ready──▶ RUNNING ──SIGTERM/SIGINT or a child died──▶ STOPPING_ACCEPTOR
 *        └──────────────stop before ready─────────────────────────────────▶ STOPPING_STORAGE
 *   STOPPING_ACCEPTOR ──acceptor group gone──▶ STOPPING_STORAGE ──storage gone──▶ DONE
 *
 * Stopping goes in reverse order of starting, so every worker finishes the request it has in
 * flight while storage can still answer it. Each stopping stage sends SIGTERM, and SIGKILL to the
 * whole process group once its grace period is over. Signals arrive through a signalfd (all of
 * them blocked), so nothing runs in a handler and no signal is lost between a check and a wait. */
#ifndef TP0_SUPERVISOR_SUPERVISE_H
#define TP0_SUPERVISOR_SUPERVISE_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "child.h"
#include "config.h"

#define SUPERVISOR_READY_TIMEOUT_MS 10000
#define SUPERVISOR_ACCEPTOR_GRACE_MS 6000
#define SUPERVISOR_STORAGE_GRACE_MS 2500

enum supervisor_state {
	SUPERVISOR_STARTING,
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
	int ready_fd;             /* storage's readiness pipe, -1 once read */
	struct child storage;
	struct child acceptor;
	enum supervisor_state state;
	int exit_code;
	int64_t deadline;         /* of the current state (readiness or grace), ms */
	bool stage_signalled;     /* SIGTERM sent in this stopping stage */
	bool stage_killed;        /* SIGKILL sent in this stopping stage */
	bool new_draw;            /* the first storage begins a new draw; a restarted one resumes */
};

/* Sets up (signals, runtime dir, storage) from an already loaded config. 0, or -1 after logging
 * why; supervisor_close() must be called either way. */
int supervisor_open(struct supervisor *s, const struct server_config *config, bool new_draw);
/* Runs until DONE; returns the exit code (0 after a requested stop where every child ended
 * cleanly). */
int supervisor_run(struct supervisor *s);
/* Closes what supervisor_open opened, in reverse order. */
void supervisor_close(struct supervisor *s);

#endif
