/* client: what the modes of the agency client share: the outcome of a run, which main() turns
 * into an exit code. */
#ifndef TP0_CLIENT_H
#define TP0_CLIENT_H

#include "config.h"

enum client_status {
	CLIENT_OK = 0,      /* the mode finished: exit 0 */
	CLIENT_FAIL = 1,    /* a real failure, already logged: exit 1 */
	CLIENT_STOPPED = 2, /* SIGTERM/SIGINT arrived: resources closed, exit 0 */
};

/* Each mode owns what it opens and closes it on every path before returning. */
enum client_status client_echo_run(const struct client_config *cfg);
enum client_status client_bet_run(const struct client_config *cfg);
enum client_status client_lottery_run(const struct client_config *cfg);

#endif
