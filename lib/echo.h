/* echo: the text protocol of exercises 1-4, served on the same port as the lottery.
 *
 * A peer sends one line ending in '\n' (a '\r' before it is kept in the echo, left out of the
 * log); the server answers it unchanged and closes the connection. A line whose first byte is
 * PROTO_MAGIC (0xFE, never the first byte of UTF-8 text) is a lottery frame instead. A line
 * longer than ECHO_LINE_MAX gets "ERROR line too long\n" and the connection closes.
 *
 * Both ends size their buffers from this one limit, so that whatever the server accepts and
 * echoes, the client can read back. */
#ifndef TP0_ECHO_H
#define TP0_ECHO_H

#define ECHO_LINE_MAX 8192 /* bytes before the newline */

#endif
