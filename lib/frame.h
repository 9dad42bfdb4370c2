/* frame: protocol frames over a stream socket, with deadlines (io.h underneath). */
#ifndef TP0_FRAME_H
#define TP0_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Reads one frame into buf (PROTO_FRAME_MAX bytes): header, then exactly its payload.
 * Returns 0 with *h filled and the payload at buf + PROTO_HEADER_SIZE; a negative io_status
 * (IO_EOF before the first byte, IO_TRUNCATED, IO_TIMEOUT, IO_STOPPED, IO_ERROR); or a positive
 * proto_error when the header is bad (PROTO_E_BAD_MAGIC, _VERSION, _TYPE, _TOO_LARGE): then the
 * payload was not read. A stream that ends inside the payload is IO_TRUNCATED. */
int frame_read(int fd, uint8_t buf[PROTO_FRAME_MAX], struct proto_header *h, int64_t deadline);
/* Writes a finished frame: an io_status. */
int frame_write(int fd, const struct proto_writer *w, int64_t deadline);

#endif
