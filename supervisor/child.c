#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "signals.h"

int child_spawn(struct child *child, const char *path, char *const argv[],
                const sigset_t *child_mask, int inherit_fd)
{
	pid_t parent = getpid(); /* before the fork: what the child checks its parent against */
	pid_t pid;

	child->started_ms = io_now_ms();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Own process group: a stop can reach the acceptor's workers even if the acceptor is
		 * gone, and a terminal's Ctrl-C reaches only the supervisor, which forwards it. Killed
		 * with us: a SIGKILLed supervisor must not leave a storage or an acceptor behind. */
		if (setpgid(0, 0) < 0 || sigprocmask(SIG_SETMASK, child_mask, NULL) < 0 ||
		    signals_die_with_parent(parent) < 0) {
			log_error("child_exec", "fail", "name: %s | error: %s", child->name, strerror(errno));
			_exit(127);
		}
		if (inherit_fd >= 0) {
			int flags = fcntl(inherit_fd, F_GETFD);
			if (flags < 0 || fcntl(inherit_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
				log_error("child_exec", "fail", "name: %s | error: %s", child->name,
				          strerror(errno));
				_exit(127);
			}
		}
		execv(path, argv);
		log_error("child_exec", "fail", "name: %s | path: %s | error: %s", child->name, path,
		          strerror(errno));
		_exit(127);
	}
	/* Set it from both sides so the group exists before either process relies on it. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warning("child_setpgid", "fail", "name: %s | pid: %d | error: %s", child->name,
		            (int)pid, strerror(errno));
	child->pid = pid;
	child->state = CHILD_STARTING;
	child->status = 0;
	return 0;
}

bool child_alive(const struct child *child)
{
	return child->state == CHILD_STARTING || child->state == CHILD_RUNNING;
}

int64_t child_backoff_after_exit(struct child *child, int64_t now_ms)
{
	bool quick = child->state != CHILD_RUNNING ||
	             now_ms - child->started_ms < CHILD_QUICK_EXIT_MS;
	int64_t delay = CHILD_BACKOFF_FIRST_MS;

	if (!quick) {
		child->quick_exits = 0;
		child->restarts = 0;
	} else if (++child->quick_exits >= CHILD_QUICK_EXITS_MAX) {
		return -1;
	}
	child->restarts++;
	for (unsigned i = 1; i < child->restarts && delay < CHILD_BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay < CHILD_BACKOFF_MAX_MS ? delay : CHILD_BACKOFF_MAX_MS;
}

int child_signal_group(const struct child *child, int signo)
{
	if (child->pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	return kill(-child->pid, signo);
}

bool child_group_alive(const struct child *child)
{
	return child->pid > 0 && (kill(-child->pid, 0) == 0 || errno == EPERM);
}

void child_describe_status(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exit_code: %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "signal: %d", WTERMSIG(status));
	else
		snprintf(buf, cap, "status: %d", status);
}

bool child_exited_cleanly(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
