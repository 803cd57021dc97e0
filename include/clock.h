/*
 * clock: monotonic and wall-clock time in int64_t nanoseconds. Monotonic
 * for RTTs and schedules, realtime only for line-protocol timestamps.
 * Compare times as (a - b <= 0), never a <= b on wrapped values.
 */
#ifndef ANYCAST_PROBE_CLOCK_H
#define ANYCAST_PROBE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000LL
#define NS_PER_SEC 1000000000LL

static inline int64_t clock_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NS_PER_SEC + ts->tv_nsec;
}

int64_t clock_mono_ns(void);
int64_t clock_wall_ns(void);

#endif
