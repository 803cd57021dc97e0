/*
 * rnd: a block of getrandom() bytes handed out four at a time; see
 * include/rnd.h. When the kernel gives nothing (it always does on Linux
 * 3.17+ once booted), a splitmix64 stream seeded from the clock keeps the
 * probe running: weaker, and said so in the code rather than failing.
 */
#include "rnd.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>

#define POOL 256

static uint32_t pool[POOL];
static unsigned left;

static void refill(void)
{
	size_t got = 0;

	while (got < sizeof(pool)) {
		ssize_t n =
		    getrandom((char *)pool + got, sizeof(pool) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			struct timespec ts;
			uint64_t x;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
			for (unsigned i = 0; i < POOL; i++) {
				uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

				z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
				z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
				pool[i] = (uint32_t)(z ^ (z >> 31));
			}
			break;
		}
		got += (size_t)n;
	}
	left = POOL;
}

uint32_t rnd_u32(void)
{
	if (left == 0)
		refill();
	return pool[--left];
}

uint32_t rnd_below(uint32_t n)
{
	/* Lemire's multiply-shift; the bias for n << 2^32 is negligible
	 * here (choosing among 64 sockets). */
	return (uint32_t)(((uint64_t)rnd_u32() * n) >> 32);
}
