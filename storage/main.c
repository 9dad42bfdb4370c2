/* storage: the daemon that owns bets.csv and the draw. Started by the supervisor; workers reach
 * it over nng REQ/REP on an ipc:// socket (see service.h, request.h). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "barrier.h"
#include "duration.h"
#include "io.h"
#include "log.h"
#include "options.h"
#include "request.h"
#include "service.h"
#include "shutdown.h"
#include "store.h"

/* Blocked before the first nng call, so nng's threads inherit the mask and the signals can only
 * be taken by sigwaitinfo in the main thread. SIGUSR1 is the service's own "the disk failed us:
 * exit non-zero". A vanished peer is EPIPE and a file over its size limit EFBIG, never a signal
 * that kills the daemon mid-write. */
static int setup_signals(sigset_t *stop_set)
{
	struct sigaction ignore;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	if (sigemptyset(stop_set) != 0 || sigaddset(stop_set, SIGTERM) != 0 ||
	    sigaddset(stop_set, SIGINT) != 0 || sigaddset(stop_set, SIGUSR1) != 0 ||
	    sigprocmask(SIG_BLOCK, stop_set, NULL) != 0)
		return -1;
	if (sigemptyset(&ignore.sa_mask) != 0 || sigaction(SIGPIPE, &ignore, NULL) != 0 ||
	    sigaction(SIGXFSZ, &ignore, NULL) != 0)
		return -1;
	return 0;
}

static int wait_for_stop(const sigset_t *stop_set)
{
	siginfo_t info;
	int sig;

	do
		sig = sigwaitinfo(stop_set, &info);
	while (sig < 0 && errno == EINTR);
	return sig;
}

static int signal_ready(int fd)
{
	int rc = io_write_full(fd, "R", 1, IO_NO_DEADLINE);
	int saved = errno;

	if (io_close(fd) != 0 && rc == IO_OK)
		return -1;
	errno = saved;
	return rc == IO_OK ? 0 : -1;
}

static int close_store(struct store *store, const char *path, bool clean)
{
	if (store_close(store, clean) != 0) {
		log_error("bets_file_close", "fail", "bets_file: %s | error: %s", path,
		          strerror(errno));
		return -1;
	}
	log_info("bets_file_close", "success", "bets_file: %s", path);
	return 0;
}

/* One line for what start found: a new draw, or the one in progress with what was cut. */
static void log_recovery(const struct store_options *o, const struct store_recovery *rec)
{
	if (!rec->resumed) {
		log_info("draw_begin", "success", "bets_file: %s | archived: %s", o->bets_path,
		         rec->archived[0] != '\0' ? rec->archived : "none");
		return;
	}
	log_info("recovery", "success",
	         "bets_file: %s | batches: %u | bets: %u | agencies_done: %u | drawn: %s | "
	         "cut_bytes: %llu | journal_cut_bytes: %llu | reason: %s",
	         o->bets_path, (unsigned)rec->batches, (unsigned)rec->bets, (unsigned)rec->done,
	         rec->drawn ? "yes" : "no", (unsigned long long)rec->ledger_cut,
	         (unsigned long long)rec->journal_cut,
	         rec->cut_reason[0] != '\0' ? rec->cut_reason : "none");
}

int main(int argc, char **argv)
{
	struct storage_options opt;
	struct storage_service *service;
	struct store_options so;
	struct store_recovery rec;
	struct request_handler draw;
	struct store *store;
	char err[512], settle[DURATION_TEXT_MAX];
	sigset_t stop_set;
	bool clean = false;
	int sig, status = EXIT_FAILURE;

	switch (storage_options_parse(&opt, argc, argv, err, sizeof(err))) {
	case OPTIONS_HELP:
		storage_options_usage(stdout);
		return EXIT_SUCCESS;
	case OPTIONS_BAD:
		fprintf(stderr, "storage: %s\n", err);
		storage_options_usage(stderr);
		return 2;
	default:
		break;
	}
	log_set_level(opt.log_level);
	log_set_settle(opt.log_settle_ms, LOG_SETTLE_DRAIN_MS);
	/* Before the first thread: libsodium (the agencies' digests) picks its implementations. */
	if (auth_init() != 0) {
		log_error("storage_start", "fail", "error: libsodium failed to initialise");
		goto out;
	}
	if (setup_signals(&stop_set) != 0) {
		log_error("storage_start", "fail", "error: signals: %s", strerror(errno));
		goto out;
	}
	so = (struct store_options){.bets_path = opt.bets_path, .agencies = opt.agencies,
	                            .new_draw = opt.new_draw, .sync = opt.sync};
	if (store_open(&store, &so, &rec, err, sizeof(err)) != 0) {
		log_error("storage_start", "fail", "bets_file: %s | error: %s", opt.bets_path, err);
		goto out;
	}
	log_recovery(&so, &rec);
	if (!opt.sync)
		log_warning("storage_sync", "success",
		            "sync: off | warning: a crash of the machine loses acknowledged bets");
	/* A draw whose last DONE was durable before a crash: run it now (announcing it only if
	 * that was not done yet), before any query can be held. */
	request_handler_init(&draw, store);
	if (barrier_done_count(store_barrier(store)) == opt.agencies &&
	    request_run_draw(&draw, rec.drawn) != 0 && store_failed(store))
		goto close_files;
	if (service_open(&service, opt.ipc_url, opt.contexts, store, err, sizeof(err)) != 0) {
		log_error("storage_start", "fail", "ipc: %s | error: %s", opt.ipc_url, err);
		goto close_library;
	}
	duration_format(DURATION_FROM_MS(opt.log_settle_ms), settle, sizeof(settle));
	log_info("storage_start", "success",
	         "ipc: %s | bets_file: %s | agencies: %u | contexts: %u | sync: %s | "
	         "log_settle: %s",
	         opt.ipc_url, opt.bets_path, (unsigned)opt.agencies, (unsigned)opt.contexts,
	         opt.sync ? "on" : "off", settle);
	status = EXIT_SUCCESS;
	if (opt.ready_fd >= 0) {
		int ready_fd = opt.ready_fd;

		opt.ready_fd = -1; /* closed by signal_ready, whatever it returns */
		if (signal_ready(ready_fd) != 0) {
			log_error("storage_start", "fail", "ready_fd: %d | error: %s", ready_fd,
			          strerror(errno));
			status = EXIT_FAILURE;
		}
	}
	if (status == EXIT_SUCCESS) {
		sig = wait_for_stop(&stop_set);
		if (sig < 0) {
			log_error("storage_signal_wait", "fail", "error: %s", strerror(errno));
			status = EXIT_FAILURE;
		} else if (sig == SIGUSR1) {
			status = EXIT_FAILURE; /* the service logged why */
		} else {
			log_info("storage_shutdown", "in_progress", "signal: %s",
			         sig == SIGTERM ? "SIGTERM" : "SIGINT");
			clean = true;
		}
		service_stop(service, SHUTDOWN_STORAGE_ANSWER_GRACE_MS);
	}
	service_close(service);
	log_info("storage_close", "success", "ipc: %s", opt.ipc_url);
close_library:
	service_library_fini();
close_files:
	if (close_store(store, opt.bets_path, clean && status == EXIT_SUCCESS) != 0)
		status = EXIT_FAILURE;
out:
	/* Never signalled ready: closing it tells the supervisor at once (EOF). */
	if (opt.ready_fd >= 0)
		io_close(opt.ready_fd);
	log_info("storage_exit", status == EXIT_SUCCESS ? "success" : "fail", "exit_code: %d",
	         status);
	return status;
}
