/*
 * frame: DNS messages over a byte stream (RFC 1035 4.2.2, RFC 7766): each
 * message behind a two-byte length. A reader that says where the next
 * bytes go and when a message is whole, for TCP and DNS over TLS alike; it
 * does no I/O itself, so the caller reads with recv() or SSL_read().
 */
#ifndef ANYCAST_PROBE_FRAME_H
#define ANYCAST_PROBE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FRAME_MAX (2 + 65535)

struct frame_reader {
	uint8_t *buf; /* FRAME_MAX bytes, the caller's */
	size_t have;  /* bytes in buf, length prefix included */
};

/* Feed N bytes just read into the reader (they were read to
 * buf + have). Returns 1 when a whole message is in buf + 2 (its length
 * frame_len(); bytes after it, when the caller read more than
 * frame_room() offered, are the caller's), 0 when more is needed, -EBADMSG
 * for a length under the 12-byte DNS header. */
int frame_got(struct frame_reader *fr, size_t n);

/* Room left in buf for the next read: never past the current message, so
 * a pipelined next message is not consumed. */
size_t frame_room(const struct frame_reader *fr);

static inline size_t frame_len(const struct frame_reader *fr)
{
	return (size_t)fr->buf[0] << 8 | fr->buf[1];
}

/* Build the two-byte prefix for a message of LEN bytes. */
static inline void frame_prefix(uint8_t out[2], size_t len)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
}

#endif
