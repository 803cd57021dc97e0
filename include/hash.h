/*
 * hash: FNV-1a over bytes, 64 bits: content keys for history (plan,
 * identity) and caches (dnssec). Not for anything an attacker must not
 * collide on purpose: those tables compare contents or tolerate a miss.
 */
#ifndef ANYCAST_PROBE_HASH_H
#define ANYCAST_PROBE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 1469598103934665603ULL

/* Continue hash H over LEN bytes at P (start with HASH_FNV_OFFSET). */
static inline uint64_t hash_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

#endif
