/* config: the server's config.ini and the client's config.yaml, each overridden by environment
 * variables (env > file > built-in default), as the contract says.
 *
 * Loaders return 0, or -1 with a one-line reason in err naming the file and the key:
 *   "config.yaml: loop.period: invalid duration \"5x\"". They never log and never exit. */
#ifndef TP0_CONFIG_H
#define TP0_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define CONFIG_ERR_MAX 512
#define CONFIG_TEXT_MAX 256
#define CONFIG_WINDOW_MAX 16 /* PROTO_FORWARD_MAX */

/* supervisor/config.ini, section [DEFAULT]; the same names are the environment overrides. */
struct server_config {
	uint16_t port;                   /* SERVER_PORT (12345); 0 binds an ephemeral port */
	char ip[CONFIG_TEXT_MAX];        /* SERVER_IP ("server"): the name clients dial; we bind all */
	int listen_backlog;              /* SERVER_LISTEN_BACKLOG (5) */
	enum log_level logging_level;    /* LOGGING_LEVEL (INFO) */
	uint32_t agencies;               /* AGENCIES (5): agencies taking part in the draw, 1..9999 */
	uint32_t max_workers;            /* MAX_WORKERS (64): live connections at once, 1..4096 */
	int64_t idle_timeout_ns;         /* IDLE_TIMEOUT ("30s"): a silent peer is closed after this */
	int64_t frame_timeout_ns;        /* FRAME_TIMEOUT ("5s"): a frame (and a connection's first
	                                  * frame or line, from the accept) must be whole within this */
	char bets_file[PATH_MAX];        /* BETS_FILE ("bets.csv"), relative to the working dir */
	uint32_t fsync;                  /* FSYNC (1): 0 acknowledges bets before they are on disk */
	int64_t log_settle_ns;           /* LOG_SETTLE ("100ms", 0..1s; 0: off): see log_settle */
	char agency_keys[PATH_MAX];      /* AGENCY_KEYS (""): the agencies' keys file (lib/auth.h);
	                                  * empty: agencies are not authenticated */
};

void server_config_defaults(struct server_config *cfg);
/* Reads path (must exist and parse), then the environment. */
int server_config_load(struct server_config *cfg, const char *path, char *err, size_t err_cap);

enum client_mode { CLIENT_MODE_ECHO, CLIENT_MODE_BET, CLIENT_MODE_LOTTERY };
const char *client_mode_name(enum client_mode mode);

/* client/config.yaml; environment CLI_<SECTION>_<KEY> in upper case (CLI_LOOP_PERIOD). */
struct client_config {
	uint32_t id;                        /* id / CLI_ID: the agency number, 1..9999 (required) */
	char server_address[CONFIG_TEXT_MAX]; /* server.address ("server:12345") */
	uint32_t loop_amount;               /* loop.amount (5) */
	int64_t loop_period_ns;             /* loop.period ("5s") */
	enum log_level log_level;           /* log.level (INFO) */
	uint32_t batch_max_amount;          /* batch.maxAmount (PROTO_BATCH_DEFAULT), 1..PROTO_BATCH_LIMIT */
	uint32_t batch_window;              /* batch.window (8): batches sent before the first ACK, 1..CONFIG_WINDOW_MAX */
	enum client_mode mode;              /* mode ("lottery") */
	char bets_file[PATH_MAX];           /* bets.file ("agency-<id>.csv") */
	char winners_file[PATH_MAX];        /* winners.file ("winners-<id>.csv" beside bets.file) */
	int64_t server_timeout_ns;          /* server.timeout ("30s"): longest wait for one reply */
	uint32_t retry_attempts;            /* retry.attempts (10): connection attempts before giving up */
	int64_t draw_timeout_ns;            /* draw.timeout ("10m"): longest wait for the draw */
	char auth_key[CONFIG_TEXT_MAX];     /* auth.key (""): the agency's key, 64 hex digits */
	char auth_key_file[PATH_MAX];       /* auth.keyFile (""): a file holding it (a secret) */
	bool have_key;                      /* one of them was set: key holds it (the text is wiped) */
	uint8_t key[32];                    /* AUTH_KEY_SIZE */
};

void client_config_defaults(struct client_config *cfg);
/* Reads path (must exist and parse as YAML with the keys above; unknown keys are ignored), then
 * the environment. */
int client_config_load(struct client_config *cfg, const char *path, char *err, size_t err_cap);

#endif
