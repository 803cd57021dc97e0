/*
 * arena: chunked per-round storage; see include/arena.h.
 */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	uint8_t data[ARENA_CHUNK];
};

void *arena_alloc(struct arena *a, size_t len)
{
	struct arena_chunk *c = a->cur;

	len = (len + 7) & ~(size_t)7;
	if (len > ARENA_CHUNK)
		return NULL;
	if (c == NULL || c->used + len > ARENA_CHUNK) {
		struct arena_chunk *next = c ? c->next : a->first;

		if (next == NULL) {
			next = malloc(sizeof(*next));
			if (next == NULL)
				return NULL;
			next->next = NULL;
			if (c)
				c->next = next;
			else
				a->first = next;
		}
		next->used = 0;
		c = a->cur = next;
	}
	c->used += len;
	return c->data + c->used - len;
}

const uint8_t *arena_copy(struct arena *a, const void *src, size_t len)
{
	uint8_t *dst = arena_alloc(a, len ? len : 1);

	if (dst != NULL && len > 0)
		memcpy(dst, src, len);
	return dst;
}

void arena_reset(struct arena *a)
{
	a->cur = NULL;
}

void arena_clear(struct arena *a)
{
	while (a->first) {
		struct arena_chunk *next = a->first->next;

		free(a->first);
		a->first = next;
	}
	a->cur = NULL;
}
