/* signals: SIGTERM/SIGINT become a flag that every wait in lib/io.c checks. */
#ifndef TP0_CLIENT_SIGNALS_H
#define TP0_CLIENT_SIGNALS_H

/* Blocks SIGTERM and SIGINT, installs a handler that records the signal, ignores SIGPIPE and
 * registers the flag and the previous mask with io_set_stop(), so the signals are only delivered
 * inside io's ppoll(). 0, or -1 with errno. */
int client_signals_install(void);
/* The signal that asked us to stop, or 0. */
int client_signals_received(void);
/* "SIGTERM", "SIGINT", or "unknown" for any other number. */
const char *client_signal_name(int signo);

#endif
