/* storage: the daemon that owns bets.csv and the draw. Started by the supervisor; workers reach
 * it over nng REQ/REP on an ipc:// socket (see service.h, request.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "barrier.h"
#include "bet.h"
#include "duration.h"
#include "io.h"
#include "log.h"
#include "number.h"
#include "request.h"
#include "service.h"
#include "shutdown.h"
#include "store.h"

struct storage_options {
	const char *ipc_url;
	const char *bets_path;
	uint32_t agencies;
	uint32_t contexts;
	int ready_fd;
	enum log_level log_level;
	bool new_draw;
	bool sync;
	int64_t log_settle_ms;
};

enum { OPTIONS_OK = 0, OPTIONS_HELP = 1, OPTIONS_BAD = -1 };

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: storage --ipc URL --bets FILE --agencies N --contexts N [--ready-fd FD]\n"
	        "               [--log-level LEVEL] [--log-settle DURATION] [--new-draw]\n"
	        "               [--no-sync]\n"
	        "\n"
	        "Stores the bets the workers forward (nng REP, listening on URL, e.g.\n"
	        "ipc:///run/tp0/storage.ipc) in FILE, with its journal FILE.journal, and runs\n"
	        "the draw once all N agencies are done. A bet is acknowledged once it is on\n"
	        "stable storage. At start it resumes the draw in progress in FILE; it begins a\n"
	        "new one (the old files renamed FILE.1, FILE.2, ...) when the last one was\n"
	        "drawn and stopped cleanly, or with --new-draw. --no-sync never syncs (unsafe:\n"
	        "a crash of the machine loses acknowledged bets; for benchmarks).\n"
	        "--contexts bounds the requests served at once, queries waiting for the draw\n"
	        "included (%u..%u; give one per worker plus one). Once listening it writes one\n"
	        "byte to FD and closes it. SIGTERM or SIGINT stops it: waiting queries are\n"
	        "answered SHUTTING_DOWN, the files are synced and closed. Exits 1 when the\n"
	        "disk fails it.\n"
	        "After logging the draw, and before any reply of it, it waits until stdout's\n"
	        "pipe is empty and then --log-settle more (Go duration, 0..1s, default %dms;\n"
	        "0: no wait), so a log reader stamps the draw before any agency's result.\n"
	        "Started by the supervisor.\n",
	        (unsigned)SERVICE_CONTEXTS_MIN, (unsigned)SERVICE_CONTEXTS_MAX,
	        LOG_SETTLE_DEFAULT_MS);
}

static int parse_options(struct storage_options *o, int argc, char **argv, char *err,
                         size_t err_cap)
{
	static const struct option options[] = {
		{"ipc", required_argument, NULL, 'i'},
		{"bets", required_argument, NULL, 'b'},
		{"agencies", required_argument, NULL, 'a'},
		{"contexts", required_argument, NULL, 'c'},
		{"ready-fd", required_argument, NULL, 'r'},
		{"log-level", required_argument, NULL, 'l'},
		{"new-draw", no_argument, NULL, 'n'},
		{"no-sync", no_argument, NULL, 'S'},
		{"log-settle", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t value;
	int64_t ns;
	int opt, index = 0;

	memset(o, 0, sizeof(*o));
	o->ready_fd = -1;
	o->log_level = LOG_INFO;
	o->sync = true;
	o->log_settle_ms = LOG_SETTLE_DEFAULT_MS;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, &index)) != -1) {
		switch (opt) {
		case 'i':
			o->ipc_url = optarg;
			break;
		case 'b':
			if (optarg[0] == '\0')
				goto bad;
			o->bets_path = optarg;
			break;
		case 'a':
			if (number_parse_u32(optarg, 1, BET_AGENCY_MAX, &o->agencies) < 0)
				goto bad;
			break;
		case 'c':
			if (number_parse_u32(optarg, SERVICE_CONTEXTS_MIN, SERVICE_CONTEXTS_MAX,
			                     &o->contexts) < 0)
				goto bad;
			break;
		case 'r':
			if (number_parse_u32(optarg, 0, INT_MAX, &value) < 0)
				goto bad;
			o->ready_fd = (int)value;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->log_level) < 0)
				goto bad;
			break;
		case 'n':
			o->new_draw = true;
			break;
		case 'S':
			o->sync = false;
			break;
		case 's':
			if (duration_parse(optarg, &ns) != 0 || ns < 0 ||
			    ns > DURATION_FROM_MS(LOG_SETTLE_MAX_MS))
				goto bad;
			/* whole milliseconds, and a positive value never rounds down to off */
			o->log_settle_ms = ns > 0 && DURATION_MS(ns) == 0 ? 1 : DURATION_MS(ns);
			break;
		case 'h':
			return OPTIONS_HELP;
		default:
			snprintf(err, err_cap, "unknown option or missing value: %s",
			         argv[optind - 1]);
			return OPTIONS_BAD;
		}
	}
	if (optind != argc) {
		snprintf(err, err_cap, "unexpected argument: %s", argv[optind]);
		return OPTIONS_BAD;
	}
	if (o->ipc_url == NULL || o->bets_path == NULL || o->agencies == 0 || o->contexts == 0) {
		snprintf(err, err_cap, "--ipc, --bets, --agencies and --contexts are required");
		return OPTIONS_BAD;
	}
	return OPTIONS_OK;
bad:
	snprintf(err, err_cap, "invalid value for --%s: \"%s\"", options[index].name, optarg);
	return OPTIONS_BAD;
}

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

	switch (parse_options(&opt, argc, argv, err, sizeof(err))) {
	case OPTIONS_HELP:
		usage(stdout);
		return EXIT_SUCCESS;
	case OPTIONS_BAD:
		fprintf(stderr, "storage: %s\n", err);
		usage(stderr);
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
