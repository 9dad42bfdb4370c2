#include "signals.h"

#include <signal.h>
#include <stddef.h>

#include "io.h"

/* Holds the signal number, so the shutdown line can name it; 0 until one arrives. */
static volatile sig_atomic_t stop_signal;
/* The mask from before we blocked; io waits with it, which is the only time signals get in. */
static sigset_t wait_mask;

static void on_stop_signal(int signo)
{
	stop_signal = signo;
}

int client_signals_install(void)
{
	sigset_t block;
	if (sigemptyset(&block) != 0 || sigaddset(&block, SIGTERM) != 0 ||
	    sigaddset(&block, SIGINT) != 0)
		return -1;
	if (sigprocmask(SIG_BLOCK, &block, &wait_mask) != 0)
		return -1;
	/* Whatever mask we inherited, the waits must let these two through. */
	if (sigdelset(&wait_mask, SIGTERM) != 0 || sigdelset(&wait_mask, SIGINT) != 0)
		return -1;

	struct sigaction sa = {0};
	sa.sa_handler = on_stop_signal;
	if (sigfillset(&sa.sa_mask) != 0)
		return -1;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;

	/* A write to a vanished server must be an error code, not a death. */
	struct sigaction ign = {0};
	ign.sa_handler = SIG_IGN;
	if (sigemptyset(&ign.sa_mask) != 0 || sigaction(SIGPIPE, &ign, NULL) != 0)
		return -1;

	io_set_stop(&stop_signal, &wait_mask);
	return 0;
}

int client_signals_received(void)
{
	return (int)stop_signal;
}

const char *client_signal_name(int signo)
{
	switch (signo) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	default:
		return "unknown";
	}
}
