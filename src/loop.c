/*
 * loop: epoll and a timer heap; see include/loop.h. It knows nothing of DNS.
 */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"

#define LOOP_EVENTS 256

struct loop {
	int epfd;
	struct loop_timer **heap; /* heap[0] is the earliest deadline */
	size_t n, cap;
};

int loop_new(struct loop **out)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int err = -errno;

		free(loop);
		return err;
	}
	*out = loop;
	return 0;
}

void loop_free(struct loop *loop)
{
	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->n; i++)
		loop->heap[i]->slot = 0;
	close(loop->epfd);
	free(loop->heap);
	free(loop);
}

static int loop_ctl(struct loop *loop, int op, int fd, uint32_t events,
                    struct loop_handler *h)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_add(struct loop *loop, int fd, uint32_t events, struct loop_handler *h)
{
	return loop_ctl(loop, EPOLL_CTL_ADD, fd, events, h);
}

int loop_mod(struct loop *loop, int fd, uint32_t events, struct loop_handler *h)
{
	return loop_ctl(loop, EPOLL_CTL_MOD, fd, events, h);
}

void loop_del(struct loop *loop, int fd)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* Heap helpers: slots are 1-based in the timer so that 0 means "unarmed". */
static void heap_place(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i + 1;
}

static void heap_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->when_ns - t->when_ns <= 0)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->n)
			break;
		if (child + 1 < loop->n && loop->heap[child + 1]->when_ns -
		                                   loop->heap[child]->when_ns <
		                               0)
			child++;
		if (t->when_ns - loop->heap[child]->when_ns <= 0)
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

void loop_timer_cancel(struct loop *loop, struct loop_timer *t)
{
	size_t i;
	struct loop_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = loop->heap[--loop->n];
	if (i == loop->n)
		return;
	loop->heap[i] = last;
	last->slot = i + 1;
	heap_up(loop, i);
	heap_down(loop, last->slot - 1);
}

int loop_timer_reserve(struct loop *loop, size_t n)
{
	struct loop_timer **heap;

	if (n <= loop->cap)
		return 0;
	heap = realloc(loop->heap, n * sizeof(*heap));
	if (heap == NULL)
		return -ENOMEM;
	loop->heap = heap;
	loop->cap = n;
	return 0;
}

int loop_timer_set(struct loop *loop, struct loop_timer *t, int64_t when_ns)
{
	if (t->slot != 0)
		loop_timer_cancel(loop, t);
	if (loop->n == loop->cap &&
	    loop_timer_reserve(loop, loop->cap ? loop->cap * 2 : 64) < 0)
		return -ENOMEM;
	t->when_ns = when_ns;
	loop->heap[loop->n] = t;
	t->slot = ++loop->n;
	heap_up(loop, loop->n - 1);
	return 0;
}

/* Returns how many timers fired. */
static int fire_due(struct loop *loop)
{
	int64_t now = clock_mono_ns();
	int fired = 0;

	while (loop->n > 0 && loop->heap[0]->when_ns - now <= 0) {
		struct loop_timer *t = loop->heap[0];

		loop_timer_cancel(loop, t);
		t->fn(t);
		fired++;
	}
	return fired;
}

/* Wait with nanosecond resolution where the kernel has epoll_pwait2()
 * (pacing at tens of thousands of queries a second needs better than the
 * millisecond of epoll_wait()), else round up to milliseconds. */
static int loop_wait(struct loop *loop, struct epoll_event *ev, int64_t wait_ns)
{
	static int no_pwait2;
	int timeout_ms;

	if (!no_pwait2) {
		struct timespec ts, *tsp = NULL;
		int n;

		if (wait_ns >= 0) {
			ts.tv_sec = wait_ns / NS_PER_SEC;
			ts.tv_nsec = wait_ns % NS_PER_SEC;
			tsp = &ts;
		}
		n = epoll_pwait2(loop->epfd, ev, LOOP_EVENTS, tsp, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = 1;
	}
	if (wait_ns < 0)
		timeout_ms = -1;
	else /* round up: waking early only spins */
		timeout_ms = (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
	return epoll_wait(loop->epfd, ev, LOOP_EVENTS, timeout_ms);
}

int loop_run_once(struct loop *loop, int64_t max_wait_ns)
{
	struct epoll_event ev[LOOP_EVENTS];
	int64_t wait_ns = max_wait_ns;
	int n;

	/* A timer that fired may have changed what the caller waits for
	 * (a round that ended): look at the descriptors, but do not block. */
	if (fire_due(loop) > 0)
		wait_ns = 0;
	if (loop->n > 0) {
		int64_t until = loop->heap[0]->when_ns - clock_mono_ns();

		if (until < 0)
			until = 0;
		if (wait_ns < 0 || until < wait_ns)
			wait_ns = until;
	}
	n = loop_wait(loop, ev, wait_ns);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct loop_handler *h = ev[i].data.ptr;

		h->fn(h, ev[i].events);
	}
	fire_due(loop);
	return 0;
}
