/*
 * loop: the one place that waits. An epoll set of file descriptors, each
 * with a handler, and a timer queue (a binary min-heap on the deadline, each
 * timer knowing its own heap slot so that cancelling is O(log n)).
 * One turn of loop_run_once(): fire every due timer, wait in epoll_wait()
 * until the next deadline (or the caller's limit), call the handler of each
 * ready descriptor. Handlers drain their descriptor until EAGAIN.
 * Timers and handlers are owned by the caller; the loop only points at them.
 */
#ifndef ANYCAST_PROBE_LOOP_H
#define ANYCAST_PROBE_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

struct loop_handler {
	void (*fn)(struct loop_handler *h, uint32_t events);
};

struct loop_timer {
	void (*fn)(struct loop_timer *t);
	int64_t when_ns; /* CLOCK_MONOTONIC deadline */
	size_t slot;     /* heap slot + 1; 0 when not armed */
};

int loop_new(struct loop **out);
void loop_free(struct loop *loop); /* NULL is fine */

/* events: EPOLLIN, EPOLLOUT, ... Returns 0 or -errno. */
int loop_add(struct loop *loop, int fd, uint32_t events,
             struct loop_handler *h);
int loop_mod(struct loop *loop, int fd, uint32_t events,
             struct loop_handler *h);
/* Forget FD; call it before close(). */
void loop_del(struct loop *loop, int fd);

/* Make room for N armed timers at once, so that arming up to N never
 * fails. Returns 0 or -ENOMEM. */
int loop_timer_reserve(struct loop *loop, size_t n);

/* Arm (or re-arm) T for WHEN_NS; returns 0 or -ENOMEM (never after
 * loop_timer_reserve() for as many timers). */
int loop_timer_set(struct loop *loop, struct loop_timer *t, int64_t when_ns);
void loop_timer_cancel(struct loop *loop, struct loop_timer *t);
static inline int loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

/* One turn; waits at most max_wait_ns (-1: until a timer or an event), and
 * not at all when a timer fired at the start of the turn (it may have
 * changed what the caller is waiting for). Returns 0 or -errno of
 * epoll_wait (EINTR is not an error). */
int loop_run_once(struct loop *loop, int64_t max_wait_ns);

#endif
