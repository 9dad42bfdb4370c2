#define _GNU_SOURCE /* pipe2, struct tcp_info */
#include "accept_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "shutdown.h"
#include "signals.h"

#define ACCEPT_PAUSE_MS 100 /* after EMFILE and friends: let workers give fds back */
#define ACCEPT_BURST 64     /* connections accepted in one wake, at most */
/* A worker younger than this is never drained: its peer (and the worker itself, freshly forked
 * on a loaded machine) gets time to deliver a first frame that was sent at once. It also bounds
 * how fast peers that reconnect the moment they are dropped can make us fork: at most
 * MAX_WORKERS per DRAIN_GRACE_MS. */
#define DRAIN_GRACE_MS 50

int acceptor_open(struct acceptor *a, const struct acceptor_options *options)
{
	sigset_t handled, old;
	int flags;

	memset(a, 0, sizeof(*a));
	a->options = options;
	a->listen_fd = -1;
	a->signal_fd = -1;
	a->identify_fds[0] = a->identify_fds[1] = -1;

	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGCHLD);
	if ((a->signal_fd = signals_open_fd(&handled, &old)) < 0) {
		log_error("signals", "fail", "error: %s", strerror(errno));
		return -1;
	}
	a->worker_wait_mask = old;
	sigdelset(&a->worker_wait_mask, SIGTERM);
	sigdelset(&a->worker_wait_mask, SIGINT);
	/* A client that vanishes must cost an EPIPE, never the process. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_error("signals", "fail", "error: %s", strerror(errno));
		return -1;
	}

	if (options->listen_fd >= 0) {
		/* The supervisor's listener: ours from now on, though it keeps a copy, so that
		 * connections wait in its backlog while no acceptor is running. */
		a->listen_fd = options->listen_fd;
		if (net_listener_adopt(a->listen_fd, &a->bound_port) < 0) {
			log_error("listen", "fail", "listen_fd: %d | error: %s", a->listen_fd,
			          strerror(errno));
			return -1;
		}
	} else if (net_listen(options->port, options->backlog, &a->listen_fd, &a->bound_port) < 0) {
		log_error("listen", "fail", "port: %u | error: %s", (unsigned)options->port,
		          strerror(errno));
		return -1;
	}
	if (pipe2(a->identify_fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("pipe", "fail", "error: %s", strerror(errno));
		return -1;
	}
	/* Non-blocking, so a connection reset between poll and accept cannot stall the loop. */
	if ((flags = fcntl(a->listen_fd, F_GETFL)) < 0 ||
	    fcntl(a->listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		log_error("listen", "fail", "error: %s", strerror(errno));
		return -1;
	}
	log_info("listen", "success", "port: %u | backlog: %d | max_workers: %u",
	         (unsigned)a->bound_port, options->backlog, (unsigned)options->max_workers);
	return 0;
}

static struct worker_slot *find_worker(struct acceptor *a, pid_t pid)
{
	for (uint32_t i = 0; i < a->options->max_workers; i++)
		if (a->workers[i].pid == pid)
			return &a->workers[i];
	return NULL;
}

static void forget_worker(struct acceptor *a, pid_t pid, int status)
{
	struct worker_slot *w = find_worker(a, pid);
	bool drained;

	if (w == NULL)
		return;
	drained = w->draining;
	memset(w, 0, sizeof(*w));
	a->live--;
	if (drained) {
		a->draining--;
		log_debug("worker_exit", "success", "pid: %d | reason: drained", (int)pid);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_debug("worker_exit", "success", "pid: %d", (int)pid);
	} else if (WIFEXITED(status)) {
		log_warning("worker_exit", "fail", "pid: %d | exit_code: %d", (int)pid,
		            WEXITSTATUS(status));
	} else {
		log_warning("worker_exit", "fail", "pid: %d | signal: %d", (int)pid,
		            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
}

/* Reads every pid the workers have sent: each of those is identified. Read before any SIGCHLD
 * of the same wake is reaped: a worker writes before it exits, so its message is always read
 * while its pid is still its own, never after the pid was reused by a new worker. */
static void read_identified(struct acceptor *a)
{
	int32_t pids[256];
	ssize_t n;

	while ((n = read(a->identify_fds[0], pids, sizeof(pids))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(pids[0]); i++) {
			struct worker_slot *w = pids[i] > 0 ? find_worker(a, (pid_t)pids[i]) : NULL;

			if (w != NULL)
				w->identified = true;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		log_warning("worker_identify", "fail", "error: %s", strerror(errno));
}

/* The unidentified worker that has waited longest, not already being drained, accepted at
 * least DRAIN_GRACE_MS before now; NULL if none. *eligible_at (if not NULL) gets when the
 * youngest ones become eligible: the earliest started_ms + DRAIN_GRACE_MS among those not yet,
 * or IO_NO_DEADLINE if there are none. */
static struct worker_slot *drain_candidate(struct acceptor *a, int64_t now, int64_t *eligible_at)
{
	struct worker_slot *best = NULL;
	int64_t soonest = IO_NO_DEADLINE;

	for (uint32_t i = 0; i < a->options->max_workers; i++) {
		struct worker_slot *w = &a->workers[i];

		if (w->pid == 0 || w->identified || w->draining)
			continue;
		if (now - w->started_ms < DRAIN_GRACE_MS) {
			if (w->started_ms + DRAIN_GRACE_MS < soonest)
				soonest = w->started_ms + DRAIN_GRACE_MS;
		} else if (best == NULL || w->started_ms < best->started_ms) {
			best = w;
		}
	}
	if (eligible_at != NULL)
		*eligible_at = soonest;
	return best;
}

/* Whether any worker is unidentified and not being drained (eligible now or later). */
static bool any_unidentified(const struct acceptor *a)
{
	for (uint32_t i = 0; i < a->options->max_workers; i++)
		if (a->workers[i].pid != 0 && !a->workers[i].identified && !a->workers[i].draining)
			return true;
	return false;
}

/* Connections waiting in the listener's accept queue (Linux reports it in tcpi_unacked for a
 * listening socket), at least 1: poll said one is there. */
static uint32_t waiting_connections(const struct acceptor *a)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(a->listen_fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_unacked) + sizeof(info.tcpi_unacked) ||
	    info.tcpi_unacked == 0)
		return 1;
	return info.tcpi_unacked;
}

/* At the cap with connections waiting: makes room for them by killing the longest-waiting
 * unidentified workers (see accept_loop.h), as many as are waiting, in one go, so that a crowd
 * of reconnecting peers in the backlog ahead of an agency is cycled through quickly. SIGKILL,
 * not SIGTERM: such a worker has nothing to finish (it never reached storage) and its slot must
 * come back at once; its peer sees the connection reset. A slot is free once its worker is
 * reaped; until then no other drain starts. */
static void drain_workers(struct acceptor *a)
{
	uint32_t want = waiting_connections(a);
	int64_t now = io_now_ms(), eligible_at;
	struct worker_slot *w;

	read_identified(a); /* the freshest news: never drain a peer that has just identified */
	a->drain_after = 0;
	while (a->draining < want) {
		if ((w = drain_candidate(a, now, &eligible_at)) == NULL) {
			/* none old enough: look again when the first is (with none young either,
			 * any_unidentified stops the next look until a new worker starts) */
			a->drain_after = eligible_at == IO_NO_DEADLINE ? 0 : eligible_at;
			return;
		}
		if (kill(w->pid, SIGKILL) < 0 && errno != ESRCH) {
			log_warning("worker_drain", "fail", "pid: %d | error: %s", (int)w->pid,
			            strerror(errno));
			return;
		}
		/* ESRCH too: it is exiting already, and will be reaped */
		w->draining = true;
		a->draining++;
		log_info("worker_drain", "success", "pid: %d | ip: %s | waited_ms: %lld",
		         (int)w->pid, w->ip, (long long)(now - w->started_ms));
	}
}

static void reap_workers(struct acceptor *a)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return;
		forget_worker(a, pid, status);
	}
}

/* Reads one signal: reaps on SIGCHLD; returns the signal for a stop (0 otherwise, -1 on error). */
static int read_signal(struct acceptor *a)
{
	int signo = signals_read_fd(a->signal_fd);

	if (signo < 0) {
		log_error("signals", "fail", "error: %s", strerror(errno));
		return -1;
	}
	if (signo == SIGCHLD) {
		reap_workers(a);
		return 0;
	}
	return signo;
}

static int spawn_worker(struct acceptor *a, int fd, const char *ip, struct accepted *conn)
{
	pid_t self = getpid(); /* before the fork: what the worker checks its parent against */
	int64_t now = io_now_ms();
	/* Read here, in accept order, not in the worker (workers run in any order). */
	uint64_t session = (uint64_t)io_now_ns();
	uint32_t slot = 0;
	pid_t pid;

	while (a->workers[slot].pid != 0)
		slot++; /* below the cap, so a free slot exists */
	pid = fork();
	if (pid < 0) {
		log_error("worker_start", "fail", "ip: %s | error: %s", ip, strerror(errno));
		io_close(fd);
		return ACCEPTOR_DONE;
	}
	if (pid == 0) {
		/* A worker dies with its acceptor, however the acceptor ends: a SIGKILLed acceptor
		 * takes its workers with it, as the supervisor would kill them anyway (see
		 * kill_acceptor_group in supervisor/supervisor.c), and nothing outlives a SIGKILLed
		 * server. */
		if (signals_die_with_parent(self) < 0) {
			log_error("worker_start", "fail", "ip: %s | error: %s", ip, strerror(errno));
			_exit(1);
		}
		/* The worker keeps only its connection: no listener, no signalfd. */
		conn->fd = fd;
		snprintf(conn->ip, sizeof(conn->ip), "%s", ip);
		conn->wait_mask = a->worker_wait_mask;
		conn->identify_fd = a->identify_fds[1];
		conn->accepted_ms = now;
		conn->session = session;
		a->identify_fds[1] = -1; /* the worker's now: acceptor_close leaves it open */
		acceptor_close(a);
		return ACCEPTOR_IN_WORKER;
	}
	a->workers[slot] = (struct worker_slot){.pid = pid, .started_ms = now};
	snprintf(a->workers[slot].ip, sizeof(a->workers[slot].ip), "%s", ip);
	a->live++;
	io_close(fd);
	log_debug("worker_start", "success", "pid: %d | ip: %s", (int)pid, ip);
	return ACCEPTOR_DONE;
}

/* Accepts one connection; ACCEPTOR_IN_WORKER in the child. *pause_until is set when accepting
 * must rest (out of fds). */
static int accept_one(struct acceptor *a, struct accepted *conn, int64_t *pause_until)
{
	char ip[NET_IP_MAX];
	int fd;

	if (net_accept(a->listen_fd, &fd, ip) < 0) {
		/* The listener is non-blocking: nothing there (EAGAIN), or a connection that was
		 * reset before we took it. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED ||
		    errno == EPROTO)
			return ACCEPTOR_DONE;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Out of fds or memory: rest, and accept again once workers give some back. */
			log_warning("accept", "in_progress", "error: %s", strerror(errno));
			*pause_until = io_deadline_after(ACCEPT_PAUSE_MS);
			return ACCEPTOR_DONE;
		}
		log_error("accept", "fail", "error: %s", strerror(errno));
		return ACCEPTOR_FAILED;
	}
	log_info("accept_connections", "success", "ip: %s", ip);
	return spawn_worker(a, fd, ip, conn);
}

static void close_listener(struct acceptor *a)
{
	if (a->listen_fd < 0)
		return;
	io_close(a->listen_fd);
	a->listen_fd = -1;
	log_info("listener_close", "success", "port: %u", (unsigned)a->bound_port);
}

/* Passes the stop on to every worker and waits for them; SIGKILL after the grace period. */
static void stop_workers(struct acceptor *a, int signo)
{
	int64_t deadline = io_deadline_after(SHUTDOWN_WORKER_GRACE_MS);
	bool killed = false;

	for (uint32_t i = 0; i < a->options->max_workers; i++)
		if (a->workers[i].pid != 0 && kill(a->workers[i].pid, signo) < 0 && errno != ESRCH)
			log_warning("worker_signal", "fail", "pid: %d | error: %s",
			            (int)a->workers[i].pid, strerror(errno));
	while (a->live > 0) {
		struct pollfd pfd = {.fd = a->signal_fd, .events = POLLIN};
		int rc = io_poll(&pfd, 1, killed ? IO_NO_DEADLINE : deadline);

		if (rc == IO_TIMEOUT && !killed) {
			log_error("worker_kill", "fail", "workers: %u | error: grace period over",
			          (unsigned)a->live);
			for (uint32_t i = 0; i < a->options->max_workers; i++)
				if (a->workers[i].pid != 0)
					kill(a->workers[i].pid, SIGKILL);
			killed = true;
		} else if (rc == IO_ERROR) {
			log_error("poll", "fail", "error: %s", strerror(errno));
			return;
		} else if (rc > 0) {
			(void)read_signal(a); /* a second stop changes nothing: already stopping */
		}
	}
	log_info("workers_close", "success", NULL);
}

int acceptor_run(struct acceptor *a, struct accepted *conn)
{
	int64_t pause_until = 0;
	bool announce = true;
	int stop_signal = 0;

	for (;;) {
		struct pollfd fds[3] = {
			{.fd = a->signal_fd, .events = POLLIN},
			{.fd = a->identify_fds[0], .events = POLLIN},
			{.fd = a->listen_fd, .events = POLLIN},
		};
		bool resting = io_now_ms() < pause_until;
		bool can_accept = a->live < a->options->max_workers && !resting;
		/* At the cap the listener is watched only while a drain could make room, and none is
		 * in flight: otherwise a waiting connection would keep poll ready for nothing. */
		bool can_drain = !can_accept && !resting && a->draining == 0 &&
		                 io_now_ms() >= a->drain_after && any_unidentified(a);
		int64_t deadline = resting ? pause_until : IO_NO_DEADLINE;
		int rc;

		if (announce && can_accept) {
			log_info("accept_connections", "in_progress", NULL);
			announce = false;
		}
		/* At the cap, waiting for the youngest to become drainable. */
		if (!can_accept && a->draining == 0 && a->drain_after > io_now_ms() &&
		    a->drain_after < deadline)
			deadline = a->drain_after;
		rc = io_poll(fds, can_accept || can_drain ? 3 : 2, deadline);
		if (rc == IO_ERROR) {
			log_error("poll", "fail", "error: %s", strerror(errno));
			close_listener(a);
			stop_workers(a, SIGTERM);
			return ACCEPTOR_FAILED;
		}
		if (rc > 0 && (fds[1].revents & POLLIN))
			read_identified(a); /* before reaping: see read_identified */
		if (rc > 0 && (fds[0].revents & POLLIN) && (stop_signal = read_signal(a)) != 0)
			break;
		if (rc > 0 && can_drain && (fds[2].revents & POLLIN)) {
			drain_workers(a);
			continue;
		}
		/* Up to the cap in one wake: a backlog drained of hostile peers empties quickly. */
		for (unsigned n = 0; rc > 0 && can_accept && (fds[2].revents & POLLIN) &&
		                     n < ACCEPT_BURST && a->live < a->options->max_workers &&
		                     io_now_ms() >= pause_until;
		     n++) {
			uint32_t live = a->live;
			int result = accept_one(a, conn, &pause_until);

			if (result == ACCEPTOR_IN_WORKER)
				return result;
			if (result == ACCEPTOR_FAILED) {
				close_listener(a);
				stop_workers(a, SIGTERM);
				return ACCEPTOR_FAILED;
			}
			announce = true;
			if (a->live == live)
				break; /* nothing was waiting after all, or fork failed */
		}
	}
	if (stop_signal < 0) {
		close_listener(a);
		stop_workers(a, SIGTERM);
		return ACCEPTOR_FAILED;
	}
	log_info("shutdown", "in_progress", "signal: %s", signal_name(stop_signal));
	close_listener(a);
	stop_workers(a, SIGTERM);
	return ACCEPTOR_DONE;
}

void acceptor_close(struct acceptor *a)
{
	if (a->listen_fd >= 0) {
		io_close(a->listen_fd);
		a->listen_fd = -1;
	}
	if (a->signal_fd >= 0) {
		io_close(a->signal_fd);
		a->signal_fd = -1;
	}
	for (int i = 0; i < 2; i++) {
		if (a->identify_fds[i] >= 0) {
			io_close(a->identify_fds[i]);
			a->identify_fds[i] = -1;
		}
	}
}
