/*
 * rnd: unpredictable numbers for message IDs, source ports and socket
 * choice, from getrandom() in blocks (glibc 2.36's arc4random is a system
 * call per number, which cost as much as the send it protected).
 */
#ifndef ANYCAST_PROBE_RND_H
#define ANYCAST_PROBE_RND_H

#include <stdint.h>

uint32_t rnd_u32(void);

static inline uint16_t rnd_u16(void)
{
	return (uint16_t)rnd_u32();
}

/* Uniform in [0, n), n > 0. */
uint32_t rnd_below(uint32_t n);

#endif
