/* acceptor: listens on the server's TCP port and serves every connection in a worker process of
 * its own. Started by the supervisor (see accept_loop.h and worker.h). */
#include <stdio.h>

#include "accept_loop.h"
#include "log.h"
#include "options.h"
#include "worker.h"

int main(int argc, char **argv)
{
	/* Static: a worker forks from here and must not carry a big stack frame around. */
	static struct acceptor acceptor;
	struct acceptor_options options;
	struct accepted conn;
	char err[256];
	int rc;

	rc = acceptor_options_parse(&options, argc, argv, err, sizeof(err));
	if (rc == OPTIONS_HELP) {
		acceptor_options_usage(stdout);
		return 0;
	}
	if (rc != OPTIONS_OK) {
		fprintf(stderr, "acceptor: %s\n", err);
		acceptor_options_usage(stderr);
		return 2;
	}
	log_set_level(options.log_level);

	if (acceptor_open(&acceptor, &options) < 0) {
		acceptor_close(&acceptor);
		return 1;
	}
	rc = acceptor_run(&acceptor, &conn);
	if (rc == ACCEPTOR_IN_WORKER)
		return worker_serve(&options, &conn);
	acceptor_close(&acceptor);
	log_info("acceptor_close", rc == ACCEPTOR_DONE ? "success" : "fail", NULL);
	return rc == ACCEPTOR_DONE ? 0 : 1;
}
