#define _GNU_SOURCE /* signalfd, prctl */
#include "signals.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "io.h"

static volatile sig_atomic_t stop_signo;

const char *signal_name(int signo)
{
	switch (signo) {
	case SIGTERM: return "SIGTERM";
	case SIGINT: return "SIGINT";
	case SIGCHLD: return "SIGCHLD";
	case SIGKILL: return "SIGKILL";
	case SIGHUP: return "SIGHUP";
	case SIGQUIT: return "SIGQUIT";
	case SIGPIPE: return "SIGPIPE";
	case SIGSEGV: return "SIGSEGV";
	case SIGABRT: return "SIGABRT";
	default: return "SIG?";
	}
}

int signals_open_fd(const sigset_t *set, sigset_t *old_mask)
{
	if (sigprocmask(SIG_BLOCK, set, old_mask) < 0)
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC);
}

int signals_read_fd(int fd)
{
	struct signalfd_siginfo info;

	/* A signalfd hands out whole records; poll said one is there, so this does not wait. */
	if (io_read_full(fd, &info, sizeof(info), IO_NO_DEADLINE) != IO_OK)
		return -1;
	return (int)info.ssi_signo;
}

static void record_stop(int signo)
{
	stop_signo = signo;
}

int signals_install_stop(const sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t stops, old;

	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stops, &old) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = record_stop; /* no SA_RESTART: the wait in ppoll must end */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	if (wait_mask == NULL) {
		sigdelset(&old, SIGTERM);
		sigdelset(&old, SIGINT);
		wait_mask = &old;
	}
	io_set_stop(&stop_signo, wait_mask);
	return 0;
}

int signals_stop_received(void)
{
	return (int)stop_signo;
}

/* A parent-death signal rather than a lifeline pipe: the kernel delivers it however the parent
 * ends, needs no code in the child's own loops (storage waits in sigwaitinfo, workers in nng
 * calls) and reaches a child that is stopped or blocked. It is tied to the thread that forked,
 * which is fine: every process of ours that forks is single-threaded. It survives execve (no
 * set-uid binaries here) but not fork, so each generation asks for it itself. */
int signals_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -1;
	if (getppid() != parent) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}
