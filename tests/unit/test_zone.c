/*
 * Unit tests of zone: RFC 1982 distances (wrap-around, the undefined
 * half-way point), serial_lag and the serial_stale_s clock over rounds
 * (the reference moving on, an instance catching up, the reference down,
 * the plan reordered), and targets without a reference left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "result.h"
#include "zone.h"

#define S 1000000000LL /* ns per second */

static struct conf_server g_servers[3]; /* [2]: the reference */
static struct conf_query g_soa = {
    .name = "example.test", .type = 6, .class = 1};
static struct conf_target g_targets[2]; /* [1]: no reference */
static struct conf g_conf;
static struct result_key g_keys[2][3]; /* [target][server]; [0][2]: ref */
static struct result_ext g_ext[16];
static size_t g_n_ext;

static void setup(void)
{
	memset(g_targets, 0, sizeof(g_targets));
	for (int i = 0; i < 2; i++) {
		g_targets[i].name = i ? "plain" : "lab";
		g_targets[i].servers = g_servers;
		g_targets[i].n_servers = 2;
	}
	g_targets[0].reference = &g_servers[2];
	g_conf.targets = g_targets;
	g_conf.n_targets = 2;
	for (int t = 0; t < 2; t++)
		for (int srv = 0; srv < 3; srv++)
			g_keys[t][srv] = (struct result_key){
			    .target = &g_targets[t],
			    .server = &g_servers[srv],
			    .reference = srv == 2,
			};
}

/* A row of target T, server SRV, with SERIAL (0: no serial). */
static struct result row(int t, int srv, uint32_t serial)
{
	struct result r = {0};
	r.key = &g_keys[t][srv];
	r.query = &g_soa;
	r.has_reply = true;
	r.has_serial = serial != 0;
	r.serial = serial;
	r.ext = &g_ext[g_n_ext++ % 16];
	memset(r.ext, 0, sizeof(*r.ext));
	return r;
}

static void test_distance(void **state)
{
	static const struct {
		uint32_t a, b;
		int64_t d;
	} t[] = {
	    {1, 1, 0},
	    {2024010101, 2024010102, 1},
	    {2024010102, 2024010101, -1},
	    /* Wrap-around: 2^32 - 1 is before 0, 1, ... */
	    {4294967295u, 0, 1},
	    {4294967295u, 1, 2},
	    {1, 4294967295u, -2},
	    {4294967290u, 5, 11},
	    /* The largest defined distance, and the undefined one. */
	    {0, 0x7fffffffu, 0x7fffffffLL},
	    {0x7fffffffu, 0, -0x7fffffffLL},
	    {0, 0x80000000u, INT64_MIN},
	    {0x80000000u, 0, INT64_MIN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (zone_serial_distance(t[i].a, t[i].b) != t[i].d)
			fail_msg(
			    "case %zu: %lld, want %lld", i,
			    (long long)zone_serial_distance(t[i].a, t[i].b),
			    (long long)t[i].d);
}

/* One round: reference REF (0: down), server 0 at A, server 1 at B. */
static void round3(struct zone *z, uint32_t ref, uint32_t a, uint32_t b,
                   int64_t now, struct result out[3])
{
	out[0] = row(0, 0, a);
	out[1] = row(0, 1, b);
	out[2] = row(0, 2, ref);
	if (ref == 0) {
		out[2].has_reply = false;
		out[2].kind = RESULT_TIMEOUT;
	}
	zone_round(z, out, 3, now);
}

#define N 2024010101u

static void test_stale_clock(void **state)
{
	struct zone *z = NULL;
	struct result r[3];
	int64_t t0 = 1000 * S;

	(void)state;
	setup();
	assert_int_equal(zone_new(&z, &g_conf), 0);

	/* Both current. */
	round3(z, N, N, N, t0, r);
	for (int i = 0; i < 3; i++) {
		assert_true(r[i].ext->has_serial_lag);
		assert_int_equal(r[i].ext->serial_lag, 0);
		assert_int_equal(r[i].ext->serial_stale_s, 0);
	}
	/* The reference moves to N+1 at t0+10; server 1 stays at N. */
	round3(z, N + 1, N + 1, N, t0 + 10 * S, r);
	assert_int_equal(r[0].ext->serial_lag, 0);
	assert_int_equal(r[1].ext->serial_lag, 1);
	assert_int_equal(r[1].ext->serial_stale_s, 0);
	/* Growing round by round. */
	round3(z, N + 1, N + 1, N, t0 + 13 * S, r);
	assert_int_equal(r[1].ext->serial_stale_s, 3);
	round3(z, N + 1, N + 1, N, t0 + 25 * S, r);
	assert_int_equal(r[1].ext->serial_stale_s, 15);
	/* N+2 at t0+30: server 1 still counts from N+1's arrival, server 0
	 * from N+2's. */
	round3(z, N + 2, N + 1, N, t0 + 30 * S, r);
	assert_int_equal(r[0].ext->serial_lag, 1);
	assert_int_equal(r[0].ext->serial_stale_s, 0);
	assert_int_equal(r[1].ext->serial_lag, 2);
	assert_int_equal(r[1].ext->serial_stale_s, 20);
	/* The reference down: no fields at all. */
	round3(z, 0, N + 1, N, t0 + 35 * S, r);
	for (int i = 0; i < 3; i++)
		assert_false(r[i].ext->has_serial_lag);
	/* Back: the clock kept running. */
	round3(z, N + 2, N + 1, N, t0 + 40 * S, r);
	assert_int_equal(r[0].ext->serial_stale_s, 10);
	assert_int_equal(r[1].ext->serial_stale_s, 30);
	/* Server 1 catches up; server 0 is ahead of a reference rolled
	 * back: negative lag, not stale. */
	round3(z, N + 1, N + 2, N + 1, t0 + 45 * S, r);
	assert_int_equal(r[1].ext->serial_lag, 0);
	assert_int_equal(r[1].ext->serial_stale_s, 0);
	assert_int_equal(r[0].ext->serial_lag, -1);
	assert_int_equal(r[0].ext->serial_stale_s, 0);
	/* A row without a serial (REFUSED, say) gets nothing. */
	round3(z, N + 1, 0, N + 1, t0 + 50 * S, r);
	assert_false(r[0].ext->has_serial_lag);
	assert_true(r[1].ext->has_serial_lag);
	zone_free(z);
	zone_free(NULL);
}

static void test_wrap(void **state)
{
	struct zone *z = NULL;
	struct result r[3];

	(void)state;
	setup();
	assert_int_equal(zone_new(&z, &g_conf), 0);
	round3(z, 4294967295u, 4294967295u, 4294967295u, 0, r);
	assert_int_equal(r[1].ext->serial_lag, 0);
	/* The reference wraps to 1; server 1 stays at 2^32 - 1. */
	round3(z, 1, 1, 4294967295u, 5 * S, r);
	assert_int_equal(r[0].ext->serial_lag, 0);
	assert_int_equal(r[1].ext->serial_lag, 2);
	assert_int_equal(r[1].ext->serial_stale_s, 0);
	round3(z, 1, 1, 4294967295u, 9 * S, r);
	assert_int_equal(r[1].ext->serial_stale_s, 4);
	/* Exactly 2^31 apart: undefined, so absent. */
	round3(z, 1, 0x80000001u, 1, 10 * S, r);
	assert_false(r[0].ext->has_serial_lag);
	assert_true(r[1].ext->has_serial_lag);
	zone_free(z);
}

/* The state is the target's, not the rows' positions; other targets and
 * rows without a reply are left alone. */
static void test_order_and_targets(void **state)
{
	struct zone *z = NULL;
	struct result r[5];

	(void)state;
	setup();
	assert_int_equal(zone_new(&z, &g_conf), 0);
	r[0] = row(0, 2, N + 1);
	r[1] = row(0, 0, N);
	r[2] = row(1, 0, N);
	r[3] = row(0, 1, N + 1);
	r[4] = row(0, 1, N);
	r[4].has_reply = false; /* a timeout keeps its old fields off */
	zone_round(z, r, 5, 100 * S);
	assert_int_equal(r[1].ext->serial_lag, 1);
	assert_false(r[2].ext->has_serial_lag);
	assert_int_equal(r[3].ext->serial_lag, 0);
	assert_false(r[4].ext->has_serial_lag);
	/* Rebuilt plan: the reference row last, another order. */
	r[0] = row(0, 1, N);
	r[1] = row(1, 1, N);
	r[2] = row(0, 0, N + 1);
	r[3] = row(0, 2, N + 1);
	zone_round(z, r, 4, 107 * S);
	assert_int_equal(r[0].ext->serial_lag, 1);
	assert_int_equal(r[0].ext->serial_stale_s, 7);
	assert_false(r[1].ext->has_serial_lag);
	assert_int_equal(r[2].ext->serial_lag, 0);
	zone_free(z);
}

/* More reference serials than the history keeps: a row older than all of
 * them counts from the oldest kept (a lower bound, never more). */
static void test_history_bound(void **state)
{
	struct zone *z = NULL;
	struct result r[3];

	(void)state;
	setup();
	assert_int_equal(zone_new(&z, &g_conf), 0);
	for (uint32_t i = 0; i < ZONE_HISTORY + 5; i++)
		round3(z, N + 1 + i, N + 1 + i, N, (int64_t)i * S, r);
	assert_int_equal(r[1].ext->serial_lag, ZONE_HISTORY + 5);
	assert_int_equal(r[1].ext->serial_stale_s, ZONE_HISTORY - 1);
	zone_free(z);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_stale_clock),
	    cmocka_unit_test(test_wrap),
	    cmocka_unit_test(test_order_and_targets),
	    cmocka_unit_test(test_history_bound),
	};
	return cmocka_run_group_tests_name("zone", tests, NULL, NULL);
}
