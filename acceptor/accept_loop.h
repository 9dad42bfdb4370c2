/* accept_loop: the acceptor process. Listens, forks one worker per connection (at most
 * max_workers live; at the cap it stops accepting until one exits), reaps them, and on
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
#define ACCEPTOR_WORKER_GRACE_MS 4500 /* within the supervisor's grace for us */

struct acceptor {
	const struct acceptor_options *options;
	int listen_fd;
	int signal_fd;
	uint16_t bound_port;
	sigset_t worker_wait_mask; /* what workers wait with: our mask minus SIGTERM/SIGINT */
	uint32_t live;
	pid_t workers[ACCEPTOR_WORKERS_MAX]; /* 0: free slot */
};

/* What a worker process starts with. */
struct accepted {
	int fd;
	char ip[NET_IP_MAX];
	sigset_t wait_mask;
};

enum { ACCEPTOR_DONE = 0, ACCEPTOR_IN_WORKER = 1, ACCEPTOR_FAILED = -1 };

int acceptor_open(struct acceptor *a, const struct acceptor_options *options);
/* Runs the accept loop. Returns ACCEPTOR_DONE after a graceful stop, ACCEPTOR_FAILED after a
 * fatal error, or ACCEPTOR_IN_WORKER in a freshly forked worker, with *conn filled and every
 * acceptor resource already closed in that process. */
int acceptor_run(struct acceptor *a, struct accepted *conn);
void acceptor_close(struct acceptor *a);

#endif
