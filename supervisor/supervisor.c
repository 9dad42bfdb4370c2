#define _GNU_SOURCE /* pipe2, prctl */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duration.h"
#include "io.h"
#include "log.h"
#include "net.h"
#include "shutdown.h"
#include "signals.h"

/* The programs we start live next to our own executable, wherever that was installed. */
static int find_bin_dir(char *dir, size_t cap)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -1;
	self[n] = '\0';
	if ((size_t)snprintf(dir, cap, "%s", dirname(self)) >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A private directory for the storage socket: mkdtemp creates it 0700, so only processes of
 * our own user can reach the storage daemon. */
static int make_run_dir(struct supervisor *s)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(s->run_dir, sizeof(s->run_dir), "%s/tp0-XXXXXX", tmp) >=
	    sizeof(s->run_dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdtemp(s->run_dir) == NULL) {
		s->run_dir[0] = '\0';
		return -1;
	}
	snprintf(s->ipc_url, sizeof(s->ipc_url), "ipc://%s/storage.ipc", s->run_dir);
	return 0;
}

/* The server's listener is ours, opened once before any acceptor (as nginx's master and
 * systemd's socket activation do): an acceptor that dies takes only its copy with it, so the
 * socket keeps listening and connections made until the next acceptor starts wait in its
 * backlog instead of being refused. */
static int open_listener(struct supervisor *s)
{
	if (net_listen(s->config.port, s->config.listen_backlog, &s->listen_fd, &s->port) < 0) {
		log_error("listen_socket", "fail", "port: %u | error: %s", (unsigned)s->config.port,
		          strerror(errno));
		return -1;
	}
	log_info("listen_socket", "success", "port: %u | backlog: %d", (unsigned)s->port,
	         s->config.listen_backlog);
	return 0;
}

static void close_listener(struct supervisor *s)
{
	if (s->listen_fd < 0)
		return;
	if (io_close(s->listen_fd) < 0)
		log_warning("listen_socket_close", "fail", "port: %u | error: %s", (unsigned)s->port,
		            strerror(errno));
	else
		log_info("listen_socket_close", "success", "port: %u", (unsigned)s->port);
	s->listen_fd = -1;
}

static void close_ready(struct supervisor *s)
{
	if (s->ready_fd < 0)
		return;
	io_close(s->ready_fd);
	s->ready_fd = -1;
}

static int start_storage(struct supervisor *s)
{
	char path[PATH_MAX + 16], agencies[16], contexts[16], ready[16], level[16];
	char settle[DURATION_TEXT_MAX];
	int pipe_fds[2];

	s->storage.started_ms = io_now_ms(); /* a failure here counts as a quick exit too */
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/storage", s->bin_dir);
	snprintf(agencies, sizeof(agencies), "%u", (unsigned)s->config.agencies);
	/* One context per possible worker, each holding at most one request, plus one spare. */
	snprintf(contexts, sizeof(contexts), "%u", (unsigned)s->config.max_workers + 1);
	snprintf(ready, sizeof(ready), "%d", pipe_fds[1]);
	snprintf(level, sizeof(level), "%s", log_level_name(s->config.logging_level));
	duration_format(s->config.log_settle_ns, settle, sizeof(settle));
	char *argv[20] = {path, "--ipc", s->ipc_url, "--bets", s->config.bets_file,
	                  "--agencies", agencies, "--contexts", contexts, "--ready-fd", ready,
	                  "--log-level", level, "--log-settle", settle, NULL};
	int argc = 15;

	if (s->new_draw)
		argv[argc++] = "--new-draw";
	if (!s->config.fsync)
		argv[argc++] = "--no-sync";
	argv[argc] = NULL;
	int rc = child_spawn(&s->storage, path, argv, &s->child_mask, pipe_fds[1]);
	int saved = errno;

	/* Only once: a storage restarted after a crash must resume the draw it was running. */
	s->new_draw = false;

	io_close(pipe_fds[1]);
	if (rc < 0) {
		io_close(pipe_fds[0]);
		errno = saved;
		return -1;
	}
	s->ready_fd = pipe_fds[0];
	s->storage.deadline = io_deadline_after(SUPERVISOR_READY_TIMEOUT_MS);
	return 0;
}

static int start_acceptor(struct supervisor *s)
{
	char path[PATH_MAX + 16], listen_fd[16], backlog[16], workers[16], agencies[16];
	char idle[DURATION_TEXT_MAX], frame[DURATION_TEXT_MAX], level[16];

	snprintf(path, sizeof(path), "%s/acceptor", s->bin_dir);
	snprintf(listen_fd, sizeof(listen_fd), "%d", s->listen_fd);
	snprintf(backlog, sizeof(backlog), "%d", s->config.listen_backlog);
	snprintf(workers, sizeof(workers), "%u", (unsigned)s->config.max_workers);
	snprintf(agencies, sizeof(agencies), "%u", (unsigned)s->config.agencies);
	duration_format(s->config.idle_timeout_ns, idle, sizeof(idle));
	duration_format(s->config.frame_timeout_ns, frame, sizeof(frame));
	snprintf(level, sizeof(level), "%s", log_level_name(s->config.logging_level));
	char *argv[] = {path, "--listen-fd", listen_fd, "--backlog", backlog, "--max-workers",
	                workers, "--idle-timeout", idle, "--frame-timeout", frame, "--ipc", s->ipc_url, "--agencies",
	                agencies, "--log-level", level, NULL, NULL, NULL};
	if (s->config.agency_keys[0] != '\0') {
		size_t at = sizeof(argv) / sizeof(argv[0]) - 3;

		argv[at] = "--agency-keys";
		argv[at + 1] = s->config.agency_keys;
	}
	if (child_spawn(&s->acceptor, path, argv, &s->child_mask, s->listen_fd) < 0)
		return -1;
	/* Ready from birth: the listener it inherits is already listening. */
	s->acceptor.state = CHILD_RUNNING;
	log_info("child_start", "success", "name: acceptor | pid: %d", (int)s->acceptor.pid);
	return 0;
}

static void request_stop(struct supervisor *s, int exit_code);

/* The end of a child's run, while the server is running: start it again after the backoff, or
 * give up on it and stop the server. how says how the run ended ("signal: 9", "exit_code: 1",
 * "error: ..." for a start that failed before there was a process, pid 0). */
static void schedule_restart(struct supervisor *s, struct child *c, pid_t pid, const char *how)
{
	int64_t delay = child_backoff_after_exit(c, io_now_ms());

	if (delay < 0) {
		c->state = CHILD_DOWN;
		log_error("child_restart", "fail",
		          "name: %s | pid: %d | %s | quick_exits: %u | error: gave up, it ended within "
		          "%d ms of starting %u times in a row",
		          c->name, (int)pid, how, c->quick_exits, CHILD_QUICK_EXIT_MS, c->quick_exits);
		request_stop(s, 1);
		return;
	}
	c->state = CHILD_RESTART_WAIT;
	c->deadline = io_deadline_after(delay);
	log_warning("child_restart", "in_progress",
	            "name: %s | pid: %d | %s | attempt: %u | delay_ms: %lld", c->name, (int)pid, how,
	            c->restarts, (long long)delay);
}

static void start_child(struct supervisor *s, struct child *c)
{
	int rc = c == &s->storage ? start_storage(s) : start_acceptor(s);

	if (rc == 0)
		return;
	char how[96];

	snprintf(how, sizeof(how), "error: %s", strerror(errno));
	log_error("child_start", "fail", "name: %s | %s", c->name, how);
	schedule_restart(s, c, 0, how);
}

/* A storage that will not get ready is killed; its exit is then a quick one like any other. */
static void kill_starting_storage(struct supervisor *s)
{
	s->storage.deadline = IO_NO_DEADLINE; /* once */
	if (child_signal_group(&s->storage, SIGKILL) < 0 && errno != ESRCH)
		log_warning("child_signal", "fail", "name: storage | error: %s", strerror(errno));
}

/* The acceptor died: its workers (its process group) are SIGKILLed before a new acceptor
 * starts. Not SIGTERM: a stopping worker answers a held winners query with ERROR SHUTTING_DOWN,
 * which the agency takes as final, whereas a dropped connection makes it reconnect and resend
 * (every lottery request is idempotent by its sequence number) to the next acceptor. The
 * workers' parent-death signal has usually done this already; this covers the rest. */
static void kill_acceptor_group(struct supervisor *s)
{
	if (child_signal_group(&s->acceptor, SIGKILL) == 0)
		log_info("child_group_kill", "success", "name: acceptor | pgid: %d | reason: acceptor died",
		         (int)s->acceptor.pid);
	else if (errno != ESRCH)
		log_warning("child_group_kill", "fail", "name: acceptor | pgid: %d | error: %s",
		            (int)s->acceptor.pid, strerror(errno));
}

static void cancel_restart(struct child *c)
{
	if (c->state != CHILD_RESTART_WAIT)
		return;
	c->state = CHILD_DOWN;
	log_info("child_restart_cancel", "success", "name: %s | reason: stopping", c->name);
}

static void request_stop(struct supervisor *s, int exit_code)
{
	/* A stop only escalates: a later reason can make the exit code worse, never better. */
	if (exit_code > s->exit_code)
		s->exit_code = exit_code;
	if (s->state != SUPERVISOR_RUNNING)
		return;
	cancel_restart(&s->acceptor);
	cancel_restart(&s->storage);
	/* No acceptor will be started again: nothing may wait in a backlog nobody accepts from. */
	close_listener(s);
	s->state = child_alive(&s->acceptor) || child_group_alive(&s->acceptor)
	               ? SUPERVISOR_STOPPING_ACCEPTOR
	               : SUPERVISOR_STOPPING_STORAGE;
	s->stage_signalled = false;
	s->stage_killed = false;
}

static void on_child_exit(struct supervisor *s, struct child *c, int status)
{
	char how[48];

	c->status = status;
	child_describe_status(status, how, sizeof(how));
	if (s->state == SUPERVISOR_RUNNING) {
		/* Nobody asked it to stop: a crash, whatever the exit code. */
		log_error("child_exit", "fail", "name: %s | pid: %d | %s | error: exited unexpectedly",
		          c->name, (int)c->pid, how);
		if (c == &s->storage)
			close_ready(s);
		else
			kill_acceptor_group(s);
		schedule_restart(s, c, c->pid, how); /* reads the state the run ended in */
		return;
	}
	bool expected = (c == &s->acceptor && s->state >= SUPERVISOR_STOPPING_ACCEPTOR) ||
	                s->state == SUPERVISOR_STOPPING_STORAGE;
	bool clean = expected && child_exited_cleanly(status);

	c->state = CHILD_DOWN;
	if (clean) {
		log_info("child_exit", "success", "name: %s | pid: %d | %s", c->name, (int)c->pid, how);
		return;
	}
	log_error("child_exit", "fail", "name: %s | pid: %d | %s | error: %s", c->name, (int)c->pid,
	          how, expected ? "unclean exit" : "exited unexpectedly");
	request_stop(s, 1);
}

static void reap_children(struct supervisor *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid <= 0)
			return; /* 0: children left but none exited; ECHILD: none left */
		if (child_alive(&s->storage) && pid == s->storage.pid)
			on_child_exit(s, &s->storage, status);
		else if (child_alive(&s->acceptor) && pid == s->acceptor.pid)
			on_child_exit(s, &s->acceptor, status);
		else
			log_debug("reap", "success", "pid: %d", (int)pid);
	}
}

/* Sends SIGTERM again to whatever the current stopping stage is waiting for. */
static void signal_stage_again(struct supervisor *s)
{
	struct child *c = s->state == SUPERVISOR_STOPPING_ACCEPTOR ? &s->acceptor : &s->storage;

	if (s->stage_signalled && child_alive(c) && kill(c->pid, SIGTERM) < 0 && errno != ESRCH)
		log_warning("child_signal", "fail", "name: %s | error: %s", c->name, strerror(errno));
}

static void read_signal(struct supervisor *s)
{
	int signo = signals_read_fd(s->signal_fd);

	if (signo < 0) {
		log_error("signals", "fail", "error: %s", strerror(errno));
		request_stop(s, 1);
		return;
	}
	if (signo == SIGCHLD) {
		reap_children(s);
		return;
	}
	log_info("shutdown", "in_progress", "signal: %s", signal_name(signo));
	/* A second request repeats the SIGTERM but keeps the grace period's deadline: asking
	 * again may make a stop faster, never slower. */
	if (s->state >= SUPERVISOR_STOPPING_ACCEPTOR)
		signal_stage_again(s);
	request_stop(s, 0);
}

static void read_ready(struct supervisor *s)
{
	char byte;
	/* poll said readable: a byte, or EOF if storage died first (its SIGCHLD tells how). */
	int rc = io_read_full(s->ready_fd, &byte, 1, IO_NO_DEADLINE);

	close_ready(s);
	if (s->state != SUPERVISOR_RUNNING || s->storage.state != CHILD_STARTING)
		return; /* stopping, or already reaped: nothing to start any more */
	if (rc != IO_OK) {
		/* Closed without the byte: storage is exiting after a failed start, and its SIGCHLD
		 * will say how (killing it now would hide its exit code). One that hangs instead is
		 * killed at the readiness deadline. */
		log_error("child_start", "fail", "name: storage | pid: %d | error: not ready",
		          (int)s->storage.pid);
		return;
	}
	s->storage.state = CHILD_RUNNING;
	log_info("child_start", "success", "name: storage | pid: %d", (int)s->storage.pid);
}

/* One stopping stage: SIGTERM to the child, then SIGKILL to its group after the grace period.
 * Returns true once nothing of that group is left. */
static bool stop_stage(struct supervisor *s, struct child *c, int64_t grace_ms)
{
	if (!child_alive(c) && !child_group_alive(c))
		return true;
	if (!s->stage_signalled) {
		s->stage_signalled = true;
		s->stage_deadline = io_deadline_after(grace_ms);
		/* The child itself, or (once it is gone) the orphans left in its group. */
		if ((child_alive(c) ? kill(c->pid, SIGTERM) : child_signal_group(c, SIGTERM)) < 0 &&
		    errno != ESRCH)
			log_warning("child_signal", "fail", "name: %s | error: %s", c->name,
			            strerror(errno));
		return false;
	}
	if (!s->stage_killed && io_now_ms() >= s->stage_deadline) {
		s->stage_killed = true;
		log_error("child_kill", "fail", "name: %s | pid: %d | error: grace period over",
		          c->name, (int)c->pid);
		child_signal_group(c, SIGKILL);
		if (s->exit_code == 0)
			s->exit_code = 1;
	}
	return false;
}

/* The running server's children: readiness timeouts, restarts that are due, the first
 * acceptor once storage is first ready. */
static void advance_children(struct supervisor *s)
{
	struct child *st = &s->storage, *ac = &s->acceptor;
	int64_t now = io_now_ms();

	if (st->state == CHILD_STARTING && now >= st->deadline) {
		log_error("child_start", "fail", "name: storage | pid: %d | error: not ready in time",
		          (int)st->pid);
		kill_starting_storage(s);
	}
	if (st->state == CHILD_RESTART_WAIT && now >= st->deadline)
		start_child(s, st);
	if (s->state == SUPERVISOR_RUNNING && ac->state == CHILD_RESTART_WAIT &&
	    now >= ac->deadline) {
		/* Not while its predecessor's workers are still dying. */
		if (child_group_alive(ac))
			ac->deadline = now + SUPERVISOR_GROUP_CHECK_MS;
		else
			start_child(s, ac);
	}
	if (s->state == SUPERVISOR_RUNNING && ac->state == CHILD_DOWN && st->state == CHILD_RUNNING)
		start_child(s, ac);
}

/* Drives the state machines forward as far as they can go right now. */
static void advance(struct supervisor *s)
{
	if (s->state == SUPERVISOR_RUNNING)
		advance_children(s);
	if (s->state == SUPERVISOR_STOPPING_ACCEPTOR &&
	    stop_stage(s, &s->acceptor, SHUTDOWN_ACCEPTOR_GRACE_MS)) {
		s->state = SUPERVISOR_STOPPING_STORAGE;
		s->stage_signalled = false;
		s->stage_killed = false;
	}
	if (s->state == SUPERVISOR_STOPPING_STORAGE &&
	    stop_stage(s, &s->storage, SHUTDOWN_STORAGE_GRACE_MS))
		s->state = SUPERVISOR_DONE;
}

/* The earliest time something is due without an event: a readiness or restart deadline while
 * running, the grace period while stopping (none once its group got SIGKILL: wait for the
 * SIGCHLDs). */
static int64_t next_deadline(const struct supervisor *s)
{
	const struct child *children[] = {&s->storage, &s->acceptor};
	int64_t next = IO_NO_DEADLINE;

	if (s->state != SUPERVISOR_RUNNING)
		return s->stage_killed ? IO_NO_DEADLINE : s->stage_deadline;
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++) {
		const struct child *c = children[i];

		if ((c->state == CHILD_STARTING || c->state == CHILD_RESTART_WAIT) &&
		    c->deadline < next)
			next = c->deadline;
	}
	return next;
}

int supervisor_open(struct supervisor *s, const struct server_config *config, bool new_draw)
{
	sigset_t handled;

	memset(s, 0, sizeof(*s));
	s->config = *config;
	s->new_draw = new_draw;
	s->signal_fd = -1;
	s->listen_fd = -1;
	s->ready_fd = -1;
	s->storage.name = "storage";
	s->acceptor.name = "acceptor";
	s->state = SUPERVISOR_RUNNING;

	sigemptyset(&handled);
	sigaddset(&handled, SIGTERM);
	sigaddset(&handled, SIGINT);
	sigaddset(&handled, SIGCHLD);
	if ((s->signal_fd = signals_open_fd(&handled, &s->child_mask)) < 0) {
		log_error("signals", "fail", "error: %s", strerror(errno));
		return -1;
	}
	/* Natively we are not PID 1: become the reaper of our descendants' orphans anyway. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warning("subreaper", "fail", "error: %s", strerror(errno));
	if (find_bin_dir(s->bin_dir, sizeof(s->bin_dir)) < 0) {
		log_error("bin_dir", "fail", "error: %s", strerror(errno));
		return -1;
	}
	if (open_listener(s) < 0)
		return -1;
	if (make_run_dir(s) < 0) {
		log_error("runtime_dir", "fail", "error: %s", strerror(errno));
		return -1;
	}
	start_child(s, &s->storage);
	return 0;
}

int supervisor_run(struct supervisor *s)
{
	advance(s);
	while (s->state != SUPERVISOR_DONE) {
		struct pollfd fds[2] = {
			{.fd = s->signal_fd, .events = POLLIN},
			{.fd = s->ready_fd, .events = POLLIN},
		};
		nfds_t n = s->ready_fd >= 0 ? 2 : 1;
		int rc = io_poll(fds, n, next_deadline(s));

		if (rc == IO_ERROR) {
			log_error("poll", "fail", "error: %s", strerror(errno));
			request_stop(s, 1);
			if (s->stage_killed) /* nothing left to wait for safely */
				break;
		}
		if (rc > 0 && (fds[0].revents & POLLIN))
			read_signal(s);
		if (rc > 0 && n == 2 && s->ready_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP)))
			read_ready(s);
		advance(s);
	}
	/* Orphans of orphans may still be exiting: collect whatever is there. */
	reap_children(s);
	return s->exit_code;
}

void supervisor_close(struct supervisor *s)
{
	close_ready(s);
	if (s->run_dir[0] != '\0') {
		char socket_path[PATH_MAX + 16];

		/* nng removes its socket file on close; a killed storage leaves it behind. */
		snprintf(socket_path, sizeof(socket_path), "%s/storage.ipc", s->run_dir);
		if (unlink(socket_path) < 0 && errno != ENOENT)
			log_warning("runtime_dir_close", "fail", "path: %s | error: %s", socket_path,
			            strerror(errno));
		if (rmdir(s->run_dir) < 0)
			log_warning("runtime_dir_close", "fail", "path: %s | error: %s", s->run_dir,
			            strerror(errno));
		else
			log_info("runtime_dir_close", "success", "path: %s", s->run_dir);
		s->run_dir[0] = '\0';
	}
	close_listener(s);
	if (s->signal_fd >= 0) {
		io_close(s->signal_fd);
		s->signal_fd = -1;
		log_debug("signal_fd_close", "success", NULL);
	}
}
