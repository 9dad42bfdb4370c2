/* frame: one protocol frame at a time over a stream socket. */
#include "frame.h"

#include "io.h"

int frame_read(int fd, uint8_t buf[PROTO_FRAME_MAX], struct proto_header *h, int64_t deadline)
{
	int rc = io_read_full(fd, buf, PROTO_HEADER_SIZE, deadline);

	if (rc != IO_OK)
		return rc;
	rc = proto_header_decode(buf, h);
	if (rc != PROTO_E_NONE)
		return rc; /* the payload is left unread: its length cannot be trusted */
	if (h->length == 0)
		return IO_OK;
	rc = io_read_full(fd, buf + PROTO_HEADER_SIZE, h->length, deadline);
	/* The header already arrived, so a peer closing now left the frame cut short. */
	if (rc == IO_EOF)
		return IO_TRUNCATED;
	return rc;
}

int frame_write(int fd, const struct proto_writer *w, int64_t deadline)
{
	return io_write_full(fd, w->buf, w->len, deadline);
}
