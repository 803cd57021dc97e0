/*
 * Unit tests for src/summary.c: counts per (target, server, port,
 * transport) found by content, loss, exact min and max, the histogram
 * median against the true median (within its 1.6 % bound) over many
 * magnitudes, the bounded instance list, and the printed table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "summary.h"

static struct conf_server g_srv[2];
static struct conf_target g_t = {.name = "t1"};
static struct result_key g_keys[4];

static void setup(void)
{
	memset(g_srv, 0, sizeof(g_srv));
	snprintf(g_srv[0].addr_text, sizeof(g_srv[0].addr_text), "192.0.2.1");
	snprintf(g_srv[1].addr_text, sizeof(g_srv[1].addr_text), "2001:db8::1");
	for (int i = 0; i < 4; i++)
		g_keys[i] = (struct result_key){.target = &g_t,
		                                .server = &g_srv[i % 2],
		                                .index = (uint32_t)i,
		                                .port = i == 3 ? 5353 : 53,
		                                .transport = (uint8_t)(i / 2)};
}

static struct result row(const struct result_key *k, int64_t rtt_ns,
                         const char *instance)
{
	struct result r = {.key = k, .rtt_ns = rtt_ns, .attempts = 1};

	r.has_reply = rtt_ns >= 0;
	r.kind = r.has_reply ? RESULT_SUCCESS : RESULT_TIMEOUT;
	if (instance) {
		r.instance = (const uint8_t *)instance;
		r.instance_len = (uint16_t)strlen(instance);
		r.instance_source = SOURCE_HOSTNAME_BIND;
	}
	r.instance_changed = -1;
	return r;
}

static void test_counts(void **state)
{
	(void)state;
	struct summary *s;
	struct summary_row out;
	struct result_key copy;

	setup();
	assert_int_equal(summary_new(&s), 0);
	/* round 1: key 0 answers twice, key 1 once and times out once */
	struct result r1[] = {
	    row(&g_keys[0], 2000000, "ams1"),
	    row(&g_keys[0], 4000000, "ams1"),
	    row(&g_keys[1], 1000000, "fra2"),
	    row(&g_keys[1], -1, NULL),
	};
	assert_int_equal(summary_add(s, r1, 4), 0);
	/* round 2 through a rebuilt key (another pointer, same content) */
	copy = g_keys[0];
	copy.index = 99;
	struct result r2[] = {
	    row(&copy, 3000000, "lhr3"),
	    row(&g_keys[3], 500000, NULL),
	};
	assert_int_equal(summary_add(s, r2, 2), 0);
	assert_int_equal(summary_rounds(s), 2);
	assert_int_equal(summary_count(s), 3);

	assert_int_equal(summary_row(s, 0, &out), 0);
	assert_string_equal(out.target, "t1");
	assert_string_equal(out.server, "192.0.2.1");
	assert_int_equal(out.transport, 0);
	assert_int_equal(out.sent, 3);
	assert_int_equal(out.answered, 3);
	assert_int_equal(out.min_ns, 2000000);
	assert_int_equal(out.max_ns, 4000000);
	assert_true(out.median_ns >= 2950000 && out.median_ns <= 3050000);
	assert_int_equal(out.n_instances, 2);
	assert_string_equal(out.instances[0].name, "ams1");
	assert_int_equal(out.instances[0].rows, 2);
	assert_string_equal(out.instances[1].name, "lhr3");

	assert_int_equal(summary_row(s, 1, &out), 0);
	assert_string_equal(out.server, "2001:db8::1");
	assert_int_equal(out.sent, 2);
	assert_int_equal(out.answered, 1);
	assert_int_equal(out.min_ns, 1000000);
	assert_int_equal(out.median_ns, 1000000);

	assert_int_equal(summary_row(s, 2, &out), 0);
	assert_int_equal(out.port, 5353);
	assert_int_equal(out.transport, 1);
	assert_int_equal(summary_row(s, 3, &out), -EINVAL);

	/* the printed table: a title, a header with a port column, 3 rows */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	summary_print(s, f);
	fclose(f);
	assert_non_null(strstr(text, "I! summary of 2 rounds:\n"));
	assert_non_null(strstr(text, "  port "));
	assert_non_null(strstr(text, " 50.0%"));
	assert_non_null(strstr(text, "ams1 (2), lhr3 (1)\n"));
	size_t lines = 0;
	for (char *p = text; *p; p++)
		if (*p == '\n') {
			lines++;
			assert_true(p[1] == '\0' ||
			            strncmp(p + 1, "I! ", 3) == 0);
		}
	assert_int_equal(lines, 5);
	free(text);
	summary_free(s);
	summary_free(NULL);
}

/* No answer at all: no RTTs, 100 % loss, "-" in the table. */
static void test_all_lost(void **state)
{
	(void)state;
	struct summary *s;
	struct summary_row out;

	setup();
	assert_int_equal(summary_new(&s), 0);
	struct result r[] = {row(&g_keys[0], -1, NULL),
	                     row(&g_keys[0], -1, NULL)};
	assert_int_equal(summary_add(s, r, 2), 0);
	assert_int_equal(summary_row(s, 0, &out), 0);
	assert_int_equal(out.sent, 2);
	assert_int_equal(out.answered, 0);
	assert_int_equal(out.min_ns, -1);
	assert_int_equal(out.median_ns, -1);
	assert_int_equal(out.max_ns, -1);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	summary_print(s, f);
	fclose(f);
	assert_non_null(strstr(text, "100.0%"));
	assert_null(strstr(text, "  port ")); /* all default ports */
	free(text);
	summary_free(s);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The histogram's median is within 1/64 of the true (lower) median, over
 * sets of values spread across eight orders of magnitude. */
static void test_median_bound(void **state)
{
	(void)state;
	static int64_t v[2001];
	uint64_t x = 2463534242ULL;

	setup();
	for (int set = 0; set < 50; set++) {
		struct summary *s;
		struct summary_row out;
		size_t n = 1 + (size_t)(set * 40) % 2001;
		int shift = set % 21; /* values below 2^40 ns */

		assert_int_equal(summary_new(&s), 0);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v[i] = (int64_t)(x % 1000000) << shift;
			struct result r = row(&g_keys[0], v[i], NULL);
			assert_int_equal(summary_add(s, &r, 1), 0);
		}
		qsort(v, n, sizeof(v[0]), cmp64);
		int64_t want = v[(n + 1) / 2 - 1];
		assert_int_equal(summary_row(s, 0, &out), 0);
		int64_t err = out.median_ns - want;
		if (err < 0)
			err = -err;
		if (err > want / 64 + 1)
			fail_msg("set %d (%zu values): median %lld, true %lld",
			         set, n, (long long)out.median_ns,
			         (long long)want);
		assert_int_equal(out.min_ns, v[0]);
		assert_int_equal(out.max_ns, v[n - 1]);
		summary_free(s);
	}
}

/* At most SUMMARY_MAX_INSTANCES names; the rest counted as others; names
 * from the network are sanitised and cut. */
static void test_instances_bounded(void **state)
{
	(void)state;
	struct summary *s;
	struct summary_row out;
	char names[20][16];

	setup();
	assert_int_equal(summary_new(&s), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++) {
			snprintf(names[i], sizeof(names[i]), "site%d", i);
			struct result r = row(&g_keys[0], 1000, names[i]);
			assert_int_equal(summary_add(s, &r, 1), 0);
		}
	}
	struct result evil = row(&g_keys[1], 1000, "a\nb\x1b");
	assert_int_equal(summary_add(s, &evil, 1), 0);
	assert_int_equal(summary_row(s, 0, &out), 0);
	assert_int_equal(out.n_instances, SUMMARY_MAX_INSTANCES);
	assert_int_equal(out.instances[0].rows, 3);
	assert_int_equal(out.other_instance_rows,
	                 3 * (20 - SUMMARY_MAX_INSTANCES));
	assert_int_equal(summary_row(s, 1, &out), 0);
	assert_string_equal(out.instances[0].name, "a\xef\xbf\xbd"
	                                           "b\xef\xbf\xbd");
	summary_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counts),
	    cmocka_unit_test(test_all_lost),
	    cmocka_unit_test(test_median_bound),
	    cmocka_unit_test(test_instances_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
