/* accept_loop: the acceptor process. Listens, forks one worker per connection (at most
 * max_workers live; at the cap it drains an unidentified worker, see below, or else stops
 * accepting until one exits), reaps them, and on
 * SIGTERM/SIGINT closes the listener, passes the signal on to every worker and waits for them.
 *
 * Signals arrive through a signalfd polled together with the listener, so the loop never blocks
 * with a stop pending. The acceptor never touches nng: workers open their own socket after the
 * fork (nng starts threads, and fork after threads is unsafe). */
#ifndef TP0_ACCEPTOR_ACCEPT_LOOP_H
#define TP0_ACCEPTOR_ACCEPT_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net.h"
#include "options.h"

#define ACCEPTOR_WORKERS_MAX 4096

/* Draining. A worker is "unidentified" until its peer has sent a whole first frame or line:
 * it has not touched storage yet, so killing it loses nothing a client was told. At the cap,
 * with a connection waiting in the backlog, the acceptor SIGKILLs the unidentified worker that
 * has waited longest rather than leave the newcomer waiting (nginx drains its "reusable" idle
 * connections the same way): a crowd of peers that connect and say nothing, or trickle a
 * byte at a time, can then no longer keep agencies out, however often they reconnect. There is
 * no cap per address: agencies behind one NAT share theirs.
 *
 * Workers tell the acceptor through one pipe shared by all of them: each writes its pid (4
 * bytes, so atomic, as every write under PIPE_BUF is) once, when its first frame or line is
 * whole. One pipe is one more fd to poll, not one per worker, and needs no signal handler. The
 * write end is non-blocking: 4096 workers write 16 KiB at most, under a pipe's 64 KiB, and a
 * worker must never wait on the acceptor anyway. */
struct worker_slot {
	pid_t pid;                 /* 0: free slot */
	bool identified;           /* sent its first frame or line whole */
	bool draining;             /* SIGKILLed to make room; not yet reaped */
	int64_t started_ms;        /* accepted at (CLOCK_MONOTONIC) */
	char ip[NET_IP_MAX];
};

struct acceptor {
	const struct acceptor_options *options;
	int listen_fd;
	int signal_fd;
	int identify_fds[2];       /* the identification pipe: [0] ours, [1] the workers' */
	uint16_t bound_port;
	sigset_t worker_wait_mask; /* what workers wait with: our mask minus SIGTERM/SIGINT */
	uint32_t live;
	uint32_t draining;         /* of live, killed and not yet reaped */
	int64_t drain_after;       /* at the cap, no worker is drainable before then */
	struct worker_slot workers[ACCEPTOR_WORKERS_MAX];
};

/* What a worker process starts with. */
struct accepted {
	int fd;
	char ip[NET_IP_MAX];
	sigset_t wait_mask;
	int identify_fd;           /* where to write our pid once the peer is identified */
	int64_t accepted_ms;
	uint64_t session;          /* when accepted, in ns: a later connection has a larger one */
};

enum { ACCEPTOR_DONE = 0, ACCEPTOR_IN_WORKER = 1, ACCEPTOR_FAILED = -1 };

int acceptor_open(struct acceptor *a, const struct acceptor_options *options);
/* Runs the accept loop. Returns ACCEPTOR_DONE after a graceful stop, ACCEPTOR_FAILED after a
 * fatal error, or ACCEPTOR_IN_WORKER in a freshly forked worker, with *conn filled and every
 * acceptor resource already closed in that process. */
int acceptor_run(struct acceptor *a, struct accepted *conn);
void acceptor_close(struct acceptor *a);

#endif
