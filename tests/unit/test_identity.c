/*
 * identity: the instance rule, instance_map, and instance_changed against
 * history kept in the rows, carried by row content across a rebuilt plan
 * whose rows moved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "conf.h"
#include "dnsmsg.h"
#include "identity.h"
#include "plan.h"
#include "result.h"

static struct conf_query g_queries[] = {
    {.name = "example.se", .type = DNSMSG_TYPE_SOA, .class = DNSMSG_CLASS_IN},
    {.name = "hostname.bind",
     .type = DNSMSG_TYPE_TXT,
     .class = DNSMSG_CLASS_CH,
     .identity = true},
    {.name = "id.server",
     .type = DNSMSG_TYPE_TXT,
     .class = DNSMSG_CLASS_CH,
     .identity = true},
};
static struct conf_server g_servers[2];
static struct conf_target g_target;
static struct conf g_conf;

static void setup_conf(const char *map_re, const char *map_repl)
{
	memset(g_servers, 0, sizeof(g_servers));
	for (int i = 0; i < 2; i++) {
		g_servers[i].family = CONF_IPV4;
		g_servers[i].addr.ss_family = AF_INET;
		g_servers[i].addrlen = sizeof(struct sockaddr_in);
	}
	memcpy(g_servers[0].addr_text, "192.0.2.1", 10);
	memcpy(g_servers[1].addr_text, "192.0.2.2", 10);
	g_target = (struct conf_target){.name = "t",
	                                .servers = g_servers,
	                                .n_servers = 2,
	                                .port = 53,
	                                .transports = CONF_UDP,
	                                .queries = g_queries,
	                                .n_queries = 3,
	                                .edns_size = 1232};
	g_conf = (struct conf){.rate = 1000,
	                       .targets = &g_target,
	                       .n_targets = 1,
	                       .instance_map_re = (char *)map_re,
	                       .instance_map_repl = (char *)map_repl};
}

static void set_txt(struct result *r, const char *s)
{
	r->identity = (const uint8_t *)s;
	r->identity_len = (uint16_t)strlen(s);
}

static void test_map(void **state)
{
	struct identity *id;
	uint8_t out[64];
	size_t n;

	(void)state;
	setup_conf("^([a-z]{3}[0-9]+)\\..*$", "\\1");
	assert_int_equal(identity_new(&id, &g_conf), 0);
	n = identity_map(id, (const uint8_t *)"arn1.ns.example.net", 19, out,
	                 sizeof(out));
	assert_int_equal(n, 4);
	assert_memory_equal(out, "arn1", 4);
	/* No match: unchanged, NUL bytes and all. */
	n = identity_map(id, (const uint8_t *)"X\0Y", 3, out, sizeof(out));
	assert_int_equal(n, 3);
	assert_memory_equal(out, "X\0Y", 3);
	identity_free(id);
	/* Unanchored: the match is replaced, the rest stays (like sed). */
	setup_conf("-[0-9]+", "");
	assert_int_equal(identity_new(&id, &g_conf), 0);
	n = identity_map(id, (const uint8_t *)"lhr-17.b", 8, out, sizeof(out));
	assert_int_equal(n, 5);
	assert_memory_equal(out, "lhr.b", 5);
	identity_free(id);
	/* A bad regex is refused. */
	setup_conf("(", "x");
	assert_int_equal(identity_new(&id, &g_conf), -EINVAL);
}

static void test_rule_and_history(void **state)
{
	struct identity *id;
	struct plan *plan;
	struct result rows[6];

	(void)state;
	setup_conf("^([a-z]{3}[0-9]+)-.*$", "\\1");
	assert_int_equal(identity_new(&id, &g_conf), 0);
	assert_int_equal(plan_new(&plan, &g_conf), 0);
	assert_int_equal(plan->n_rows, 6);
	memset(rows, 0, sizeof(rows));
	plan_rows_init(plan, rows);
	/* Server 1: no NSID; hostname.bind and id.server answer. */
	set_txt(&rows[1], "fra1-a");
	set_txt(&rows[2], "fra1-b");
	/* Server 2: only id.server, and an NSID on the SOA row. */
	rows[3].nsid = (const uint8_t *)"lhr7-x";
	rows[3].nsid_len = 6;
	set_txt(&rows[5], "lhr7-y");
	identity_round(id, rows, 6);
	assert_int_equal(rows[0].instance_source, SOURCE_HOSTNAME_BIND);
	assert_int_equal(rows[0].instance_len, 4); /* mapped */
	assert_memory_equal(rows[0].instance, "fra1", 4);
	assert_int_equal(rows[2].instance_source, SOURCE_ID_SERVER);
	assert_int_equal(rows[3].instance_source, SOURCE_NSID);
	assert_memory_equal(rows[3].instance, "lhr7", 4);
	assert_int_equal(rows[4].instance_source, SOURCE_ID_SERVER);
	for (int i = 0; i < 6; i++)
		assert_int_equal(rows[i].instance_changed, 0);

	/* The plan is rebuilt with a new server in front: every row moves 3
	 * places, history follows the content (identity_replan). */
	{
		struct conf_server three[3];
		struct result moved[9];
		struct plan *p2;

		memset(three, 0, sizeof(three));
		three[0] = g_servers[0];
		memcpy(three[0].addr_text, "192.0.2.9", 10);
		three[1] = g_servers[0];
		three[2] = g_servers[1];
		g_target.servers = three;
		g_target.n_servers = 3;
		assert_int_equal(plan_new(&p2, &g_conf), 0);
		assert_int_equal(p2->n_rows, 9);
		memset(moved, 0, sizeof(moved));
		plan_rows_init(p2, moved);
		assert_int_equal(identity_replan(id, plan, rows, 6, p2, moved, 9),
		                 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(moved[i].inst_hist, 0); /* new server */
		for (int i = 3; i < 9; i++)
			assert_int_equal(moved[i].inst_hist, rows[i - 3].inst_hist);
		identity_begin(id);
		set_txt(&moved[4], "fra1-c"); /* maps to fra1 again: no change */
		set_txt(&moved[5], "arn2-d"); /* a change on that row only */
		identity_rows(id, moved + 3, 3);
		assert_int_equal(moved[3].instance_changed, 0);
		assert_int_equal(moved[4].instance_changed, 0);
		assert_int_equal(moved[5].instance_changed, 1);
		/* Back to two servers: the rows of 192.0.2.9 wait in the away
		 * table; the others come back to their first places. */
		g_target.servers = g_servers;
		g_target.n_servers = 2;
		memset(rows, 0, sizeof(rows));
		plan_rows_init(plan, rows);
		assert_int_equal(identity_replan(id, p2, moved, 9, plan, rows, 6),
		                 0);
		assert_int_equal(rows[2].inst_hist, moved[5].inst_hist);
		assert_int_not_equal(rows[2].inst_hist, 0);
		plan_free(p2);
	}
	/* Unknown now: no instance, no changed field, history kept. */
	{
		uint32_t kept = rows[0].inst_hist;

		plan_rows_init(plan, rows);
		identity_round(id, rows, 3);
		assert_null(rows[0].instance);
		assert_int_equal(rows[0].instance_changed, -1);
		assert_int_equal(rows[0].inst_hist, kept);
	}
	plan_free(plan);
	identity_free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map),
	    cmocka_unit_test(test_rule_and_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
