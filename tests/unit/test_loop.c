/* Unit tests for loop: the timer heap fires in deadline order, cancelling
 * and re-arming work at any heap position, and descriptors are dispatched. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define N_TIMERS 200

struct tt {
	struct loop_timer t;
	int id;
};

static int fired[N_TIMERS + 1];
static size_t n_fired;

static void on_timer(struct loop_timer *t)
{
	fired[n_fired++] = ((struct tt *)t)->id;
}

static void test_timers_fire_in_order(void **state)
{
	struct loop *loop;
	struct tt timers[N_TIMERS];
	int64_t base = clock_mono_ns() - NS_PER_SEC; /* all already due */

	(void)state;
	assert_int_equal(loop_new(&loop), 0);
	n_fired = 0;
	srand(7);
	for (int i = 0; i < N_TIMERS; i++) {
		timers[i].t = (struct loop_timer){.fn = on_timer};
		timers[i].id = i;
	}
	/* Deadlines are a permutation of 0..N-1 ms after base. */
	int perm[N_TIMERS];
	for (int i = 0; i < N_TIMERS; i++)
		perm[i] = i;
	for (int i = N_TIMERS - 1; i > 0; i--) {
		int k = rand() % (i + 1), tmp = perm[i];
		perm[i] = perm[k];
		perm[k] = tmp;
	}
	for (int i = 0; i < N_TIMERS; i++)
		assert_int_equal(loop_timer_set(loop, &timers[i].t,
		                                base + perm[i] * NS_PER_MS),
		                 0);
	/* Cancel every third, re-arm every fifth to the same deadline. */
	for (int i = 0; i < N_TIMERS; i += 3)
		loop_timer_cancel(loop, &timers[i].t);
	for (int i = 0; i < N_TIMERS; i += 5)
		assert_int_equal(loop_timer_set(loop, &timers[i].t,
		                                base + perm[i] * NS_PER_MS),
		                 0);
	assert_int_equal(loop_run_once(loop, 0), 0);

	size_t expect = 0;
	for (int i = 0; i < N_TIMERS; i++)
		if (i % 3 != 0 || i % 5 == 0)
			expect++;
	assert_int_equal(n_fired, expect);
	for (size_t i = 1; i < n_fired; i++)
		assert_true(perm[fired[i - 1]] < perm[fired[i]]);
	for (int i = 0; i < N_TIMERS; i++)
		assert_false(loop_timer_armed(&timers[i].t));
	loop_free(loop);
}

static void test_future_timer_waits(void **state)
{
	struct loop *loop;
	struct tt t = {.t = {.fn = on_timer}, .id = 1};
	int64_t start = clock_mono_ns();

	(void)state;
	assert_int_equal(loop_new(&loop), 0);
	n_fired = 0;
	assert_int_equal(loop_timer_set(loop, &t.t, start + 20 * NS_PER_MS), 0);
	while (n_fired == 0)
		assert_int_equal(loop_run_once(loop, -1), 0);
	assert_true(clock_mono_ns() - start >= 20 * NS_PER_MS);
	loop_free(loop);
}

struct fdh {
	struct loop_handler h;
	int calls;
	uint32_t events;
};

static void on_fd(struct loop_handler *h, uint32_t events)
{
	struct fdh *f = (struct fdh *)h;

	f->calls++;
	f->events = events;
}

static void test_fd_dispatch(void **state)
{
	struct loop *loop;
	struct fdh f = {.h = {.fn = on_fd}};
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(loop_add(loop, p[0], EPOLLIN, &f.h), 0);
	assert_int_equal(loop_run_once(loop, 0), 0);
	assert_int_equal(f.calls, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(loop, 1000 * NS_PER_MS), 0);
	assert_int_equal(f.calls, 1);
	assert_true(f.events & EPOLLIN);
	loop_del(loop, p[0]);
	close(p[0]);
	close(p[1]);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_timers_fire_in_order),
	    cmocka_unit_test(test_future_timer_waits),
	    cmocka_unit_test(test_fd_dispatch),
	};
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
