/* worker: the process forked for one connection. It installs its stop handler, finds out which
 * protocol the peer speaks, runs that session and closes the connection. */
#ifndef TP0_ACCEPTOR_WORKER_H
#define TP0_ACCEPTOR_WORKER_H

#include "accept_loop.h"
#include "options.h"

/* Serves conn and closes it; returns the worker's exit code. */
int worker_serve(const struct acceptor_options *options, struct accepted *conn);

#endif
