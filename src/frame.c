/*
 * frame: the two-byte length framing of DNS over streams; see
 * include/frame.h.
 */
#include "frame.h"

#include <errno.h>

size_t frame_room(const struct frame_reader *fr)
{
	if (fr->have < 2)
		return 2 - fr->have;
	return 2 + frame_len(fr) - fr->have;
}

int frame_got(struct frame_reader *fr, size_t n)
{
	fr->have += n;
	if (fr->have < 2)
		return 0;
	if (frame_len(fr) < 12)
		return -EBADMSG;
	return fr->have >= 2 + frame_len(fr) ? 1 : 0;
}
