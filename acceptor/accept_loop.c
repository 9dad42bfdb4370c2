#include "accept_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "signals.h"

#define ACCEPT_PAUSE_MS 100 /* after EMFILE and friends: let workers give fds back */

int acceptor_open(struct acceptor *a, const struct acceptor_options *options)
{
	sigset_t handled, old;
	int flags;

	memset(a, 0, sizeof(*a));
	a->options = options;
	a->listen_fd = -1;
	a->signal_fd = -1;

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

static void forget_worker(struct acceptor *a, pid_t pid, int status)
{
	for (uint32_t i = 0; i < a->options->max_workers; i++) {
		if (a->workers[i] != pid)
			continue;
		a->workers[i] = 0;
		a->live--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_debug("worker_exit", "success", "pid: %d", (int)pid);
		else if (WIFEXITED(status))
			log_warning("worker_exit", "fail", "pid: %d | exit_code: %d", (int)pid,
			            WEXITSTATUS(status));
		else
			log_warning("worker_exit", "fail", "pid: %d | signal: %d", (int)pid,
			            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return;
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
	uint32_t slot = 0;
	pid_t pid;

	while (a->workers[slot] != 0)
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
		 * kill_acceptor_group in supervisor/supervise.c), and nothing outlives a SIGKILLed
		 * server. */
		if (signals_die_with_parent(self) < 0) {
			log_error("worker_start", "fail", "ip: %s | error: %s", ip, strerror(errno));
			_exit(1);
		}
		/* The worker keeps only its connection: no listener, no signalfd. */
		conn->fd = fd;
		snprintf(conn->ip, sizeof(conn->ip), "%s", ip);
		conn->wait_mask = a->worker_wait_mask;
		acceptor_close(a);
		return ACCEPTOR_IN_WORKER;
	}
	a->workers[slot] = pid;
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
	int64_t deadline = io_deadline_after(ACCEPTOR_WORKER_GRACE_MS);
	bool killed = false;

	for (uint32_t i = 0; i < a->options->max_workers; i++)
		if (a->workers[i] != 0 && kill(a->workers[i], signo) < 0 && errno != ESRCH)
			log_warning("worker_signal", "fail", "pid: %d | error: %s", (int)a->workers[i],
			            strerror(errno));
	while (a->live > 0) {
		struct pollfd pfd = {.fd = a->signal_fd, .events = POLLIN};
		int rc = io_poll(&pfd, 1, killed ? IO_NO_DEADLINE : deadline);

		if (rc == IO_TIMEOUT && !killed) {
			log_error("worker_kill", "fail", "workers: %u | error: grace period over",
			          (unsigned)a->live);
			for (uint32_t i = 0; i < a->options->max_workers; i++)
				if (a->workers[i] != 0)
					kill(a->workers[i], SIGKILL);
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
		struct pollfd fds[2] = {
			{.fd = a->signal_fd, .events = POLLIN},
			{.fd = a->listen_fd, .events = POLLIN},
		};
		bool can_accept = a->live < a->options->max_workers && io_now_ms() >= pause_until;
		int rc;

		if (announce && can_accept) {
			log_info("accept_connections", "in_progress", NULL);
			announce = false;
		}
		rc = io_poll(fds, can_accept ? 2 : 1,
		             io_now_ms() < pause_until ? pause_until : IO_NO_DEADLINE);
		if (rc == IO_ERROR) {
			log_error("poll", "fail", "error: %s", strerror(errno));
			close_listener(a);
			stop_workers(a, SIGTERM);
			return ACCEPTOR_FAILED;
		}
		if (rc > 0 && (fds[0].revents & POLLIN) && (stop_signal = read_signal(a)) != 0)
			break;
		if (rc > 0 && can_accept && (fds[1].revents & POLLIN)) {
			int result = accept_one(a, conn, &pause_until);

			if (result == ACCEPTOR_IN_WORKER)
				return result;
			if (result == ACCEPTOR_FAILED) {
				close_listener(a);
				stop_workers(a, SIGTERM);
				return ACCEPTOR_FAILED;
			}
			announce = true;
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
}
