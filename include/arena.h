/*
 * arena: per-round storage for bytes copied from replies (NSID, TXT, raw
 * responses) and small per-row records. Chunks are kept and reused from
 * round to round, so a steady probe allocates nothing per query; pointers
 * stay valid until arena_reset().
 */
#ifndef ANYCAST_PROBE_ARENA_H
#define ANYCAST_PROBE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define ARENA_CHUNK 65536

struct arena_chunk;

struct arena {
	struct arena_chunk *first, *cur;
};

/* LEN bytes, 8-aligned, or NULL (out of memory, or LEN > ARENA_CHUNK). */
void *arena_alloc(struct arena *a, size_t len);
/* A copy of SRC, or NULL. */
const uint8_t *arena_copy(struct arena *a, const void *src, size_t len);
/* Forget everything allocated; keep the chunks. */
void arena_reset(struct arena *a);
void arena_clear(struct arena *a); /* free the chunks */

#endif
