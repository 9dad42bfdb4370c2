/* shutdown: the server's stop budget, one invariant kept in one place.
 *
 * A SIGTERM to the supervisor stops its children in reverse order of starting, each stage with
 * a grace period after which its process group gets SIGKILL (supervisor/supervisor.h):
 *
 *   acceptor stage, SHUTDOWN_ACCEPTOR_GRACE_MS:
 *     the acceptor passes SIGTERM to its workers and waits SHUTDOWN_WORKER_GRACE_MS for them,
 *     then SIGKILLs the rest (acceptor/accept_loop.c); each worker finishes the request it has
 *     in flight (storage is still up) and writes the reply it owes within
 *     SHUTDOWN_FINAL_WRITE_MS, a deadline the stop no longer cuts (acceptor/lottery_session.c);
 *   storage stage, SHUTDOWN_STORAGE_GRACE_MS:
 *     storage answers its held winners queries "shutting down" within
 *     SHUTDOWN_STORAGE_ANSWER_GRACE_MS, then closes its files (storage/main.c).
 *
 * Each inner budget must end before the outer one's SIGKILL, or a stop that could have been
 * clean is a kill: a killed acceptor group drops the replies its workers owed, a killed storage
 * leaves its draw unclosed (and the supervisor exits 1). The stages run one after the other, and
 * both must fit in the time Docker gives a container between SIGTERM and SIGKILL (docker stop's
 * default and the compose file's stop_grace_period, generar-compose.sh), or the server never
 * exits 0. The margins left over pay for reaping, closing files and a loaded machine. */
#ifndef TP0_SHUTDOWN_H
#define TP0_SHUTDOWN_H

#include "log.h"

#define SHUTDOWN_DOCKER_STOP_MS 10000        /* docker stop -t 10, stop_grace_period: 10s */
#define SHUTDOWN_ACCEPTOR_GRACE_MS 6000      /* supervisor: the acceptor's group */
#define SHUTDOWN_WORKER_GRACE_MS 4500        /* acceptor: its workers */
#define SHUTDOWN_FINAL_WRITE_MS 1000         /* worker: a reply owed after a stop */
#define SHUTDOWN_STORAGE_GRACE_MS 2500       /* supervisor: storage's group */
#define SHUTDOWN_STORAGE_ANSWER_GRACE_MS 1000 /* storage: held queries' SHUTTING_DOWN answers */

/* The acceptor outlives its workers by at least one final write: the SIGKILL it sends at the
 * end of their grace, their reaping and its own close come before the supervisor's SIGKILL. */
_Static_assert(SHUTDOWN_WORKER_GRACE_MS + SHUTDOWN_FINAL_WRITE_MS < SHUTDOWN_ACCEPTOR_GRACE_MS,
               "the workers' grace and a final write must end within the acceptor's grace");
/* Storage answers its held queries and still has time to close bets.csv and its journal. */
_Static_assert(SHUTDOWN_STORAGE_ANSWER_GRACE_MS < SHUTDOWN_STORAGE_GRACE_MS,
               "storage's answers must end within storage's grace");
/* A SIGTERM that comes while storage settles the log at the draw (log_settle, under the
 * service's lock) waits for it; the draw has answered every held query by then, so the answers'
 * grace is not spent on top of it. */
_Static_assert(LOG_SETTLE_MAX_MS + LOG_SETTLE_DRAIN_MS < SHUTDOWN_STORAGE_GRACE_MS,
               "the longest log settle must end within storage's grace");
/* The two stages run in turn, and the whole stop must end before Docker's SIGKILL. */
_Static_assert(SHUTDOWN_ACCEPTOR_GRACE_MS + SHUTDOWN_STORAGE_GRACE_MS < SHUTDOWN_DOCKER_STOP_MS,
               "the supervisor's stop must end within docker stop's 10 s");

#endif
