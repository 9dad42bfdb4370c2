/* acceptor: listens on the server's TCP port and serves every connection in a worker process of
 * its own. Started by the supervisor (see accept_loop.h and worker.h). */
#include <stdio.h>

#include "accept_loop.h"
#include "auth.h"
#include "log.h"
#include "options.h"
#include "worker.h"

int main(int argc, char **argv)
{
	/* Static: a worker forks from here and must not carry a big stack frame around. */
	static struct acceptor acceptor;
	struct acceptor_options options;
	struct accepted conn;
	struct auth_keys *keys = NULL;
	char err[512] = "";
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
	/* Before any fork: every worker inherits the keys (and libsodium's state, which needs no
	 * threads: its random bytes come from getrandom(2), safe after fork). */
	if (options.agency_keys != NULL) {
		if (auth_init() < 0 ||
		    auth_keys_load(options.agency_keys, options.agencies, &keys, err, sizeof(err)) < 0) {
			log_error("agency_keys", "fail", "error: %s",
			          err[0] != '\0' ? err : "libsodium failed to initialise");
			return 1;
		}
		options.keys = keys;
	}

	if (acceptor_open(&acceptor, &options) < 0) {
		acceptor_close(&acceptor);
		auth_keys_free(keys);
		return 1;
	}
	rc = acceptor_run(&acceptor, &conn);
	if (rc == ACCEPTOR_IN_WORKER) {
		rc = worker_serve(&options, &conn);
		auth_keys_free(keys);
		return rc;
	}
	acceptor_close(&acceptor);
	auth_keys_free(keys);
	log_info("acceptor_close", rc == ACCEPTOR_DONE ? "success" : "fail", NULL);
	return rc == ACCEPTOR_DONE ? 0 : 1;
}
