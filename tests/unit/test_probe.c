/*
 * The scheduler (probe.c) driven by a fake transport: plan order, pacing,
 * timeouts and retries in FIFOs, a blocked transport that must not hold
 * the other back, expected rcodes, a bad reply seen before a timeout, the
 * instance rule after the round, and an aborted round. The fake answers
 * from a loop timer, as a real transport answers from the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "loop.h"
#include "probe.h"
#include "result.h"
#include "transport.h"

#define MAX_SENT 256

/* ---- the fake transport ----------------------------------------------- */

enum fake_mode { ANSWER, SILENT, BLOCK, SEEN_ERROR };

struct tr {
	struct tr_env env;
	struct loop_timer timer;
	enum fake_mode mode;
	int rcode;
	const char *nsid; /* on answers; NULL: none */
	uint32_t pending[MAX_SENT];
	size_t n_pending;
	uint32_t sent[MAX_SENT]; /* job of each send, in order */
	int64_t sent_ns[MAX_SENT];
	size_t n_sent;
	size_t cancels;
	size_t blocked;
};

static struct tr *g_fake[2];
static enum fake_mode g_mode[2];

static void fake_answer(struct loop_timer *t)
{
	struct tr *tr = (struct tr *)((char *)t - offsetof(struct tr, timer));
	size_t n = tr->n_pending;

	tr->n_pending = 0;
	for (size_t i = 0; i < n; i++) {
		struct dnsmsg_reply r;
		struct tr_done d = {
		    .reply = &r, .rtt_ns = 1000, .hop_limit = 64};

		memset(&r, 0, sizeof(r));
		r.qr = true;
		r.rcode = tr->rcode;
		r.size = 100;
		r.ancount = 1;
		if (tr->nsid) {
			r.has_nsid = true;
			r.nsid_len = strlen(tr->nsid);
			memcpy(r.nsid, tr->nsid, r.nsid_len);
		}
		tr->env.done(tr->env.sched, tr->pending[i], &d);
	}
}

static int fake_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));

	assert_non_null(tr);
	tr->env = *env;
	tr->timer.fn = fake_answer;
	tr->mode = g_mode[env->index];
	g_fake[env->index] = tr;
	*out = tr;
	return 0;
}

static void fake_destroy(struct tr *tr)
{
	if (tr == NULL)
		return;
	loop_timer_cancel(tr->env.loop, &tr->timer);
	if (g_fake[tr->env.index] == tr)
		g_fake[tr->env.index] = NULL;
	free(tr);
}

static size_t fake_send(struct tr *tr, struct tr_query *q, size_t n,
                        enum tr_send_result *res)
{
	for (size_t i = 0; i < n; i++) {
		if (tr->mode == BLOCK) {
			tr->blocked++;
			res[i] = TR_BLOCKED;
			return i + 1;
		}
		assert_true(tr->n_sent < MAX_SENT);
		tr->sent_ns[tr->n_sent] = clock_mono_ns();
		tr->sent[tr->n_sent++] = q[i].job;
		q[i].slot->v = q[i].job + 1;
		res[i] = TR_SENT;
		if (tr->mode == ANSWER) {
			tr->pending[tr->n_pending++] = q[i].job;
			if (!loop_timer_armed(&tr->timer))
				loop_timer_set(tr->env.loop, &tr->timer,
				               clock_mono_ns() + NS_PER_MS);
		}
	}
	return n;
}

static const char *fake_cancel(struct tr *tr, uint32_t job,
                               struct tr_slot *slot)
{
	assert_int_equal(slot->v, job + 1);
	tr->cancels++;
	return tr->mode == SEEN_ERROR ? "malformed response" : NULL;
}

static size_t fake_pending(const struct tr *tr)
{
	return tr->n_pending;
}

static const struct tr_ops fake_ops = {
    .create = fake_create,
    .destroy = fake_destroy,
    .send = fake_send,
    .cancel = fake_cancel,
    .pending = fake_pending,
};

/* ---- a config by hand ------------------------------------------------- */

static struct conf_query g_queries[] = {
    {.name = "example.se",
     .type = DNSMSG_TYPE_SOA,
     .class = DNSMSG_CLASS_IN,
     .expect_rcodes = 1},
    {.name = "nx.example.se",
     .type = 1,
     .class = DNSMSG_CLASS_IN,
     .expect_rcodes = 1u << 3},
    {.name = "hostname.bind",
     .type = DNSMSG_TYPE_TXT,
     .class = DNSMSG_CLASS_CH,
     .identity = true,
     .expect_rcodes = 1},
};
static struct conf_server g_servers[2];
static struct conf_target g_target;
static struct conf g_conf;

static void setup_conf(unsigned transports, int64_t timeout_ns,
                       unsigned retries, unsigned rate)
{
	memset(g_servers, 0, sizeof(g_servers));
	for (int i = 0; i < 2; i++) {
		g_servers[i].family = CONF_IPV4;
		g_servers[i].addr.ss_family = AF_INET;
		g_servers[i].addrlen = sizeof(struct sockaddr_in);
	}
	memcpy(g_servers[0].addr_text, "192.0.2.1", 10);
	memcpy(g_servers[1].addr_text, "192.0.2.2", 10);
	g_target = (struct conf_target){
	    .name = "t",
	    .servers = g_servers,
	    .n_servers = 2,
	    .port = 53,
	    .transports = transports,
	    .families = CONF_IPV4,
	    .queries = g_queries,
	    .n_queries = 3,
	    .timeout_ns = timeout_ns,
	    .retries = retries,
	    .edns_size = 1232,
	};
	g_conf = (struct conf){.timeout_ns = timeout_ns,
	                       .retries = retries,
	                       .rate = rate,
	                       .edns_size = 1232,
	                       .measurement = "dns_anycast",
	                       .targets = &g_target,
	                       .n_targets = 1};
}

static const struct tr_ops *const g_ops[TR_MAX] = {&fake_ops, &fake_ops};

static struct probe *run_round(struct loop *loop, int64_t *took_ns)
{
	struct probe *p = NULL;
	int64_t start;

	assert_int_equal(probe_new_ops(&p, &g_conf, loop, g_ops), 0);
	start = clock_mono_ns();
	assert_int_equal(probe_round_start(p), 0);
	while (probe_round_running(p))
		assert_int_equal(loop_run_once(loop, 100 * NS_PER_MS), 0);
	if (took_ns)
		*took_ns = clock_mono_ns() - start;
	return p;
}

/* ---- tests ------------------------------------------------------------ */

static void test_order_and_rcodes(void **state)
{
	struct loop *loop;
	struct probe *p;
	const struct result *r;
	size_t n;

	(void)state;
	g_mode[0] = g_mode[1] = ANSWER;
	setup_conf(CONF_UDP | CONF_TCP, 500 * NS_PER_MS, 1, 100000);
	assert_int_equal(loop_new(&loop), 0);
	p = run_round(loop, NULL);
	r = probe_results(p, &n);
	assert_int_equal(n, 12); /* 2 servers x 2 transports x 3 queries */
	/* Plan order: target x server x transport x query. */
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(r[i].key->server, &g_servers[i / 6]);
		assert_int_equal(r[i].key->transport, (i / 3) % 2);
		assert_ptr_equal(r[i].query, &g_queries[i % 3]);
		assert_int_equal(r[i].attempts, 1);
		assert_true(r[i].has_reply);
		/* NOERROR is expected for 0 and 2, NXDOMAIN for 1. */
		assert_int_equal(r[i].kind,
		                 i % 3 == 1 ? RESULT_ERROR : RESULT_SUCCESS);
	}
	/* Each transport sent its queries in plan order. */
	for (int t = 0; t < 2; t++) {
		assert_int_equal(g_fake[t]->n_sent, 6);
		for (size_t i = 1; i < 6; i++)
			assert_true(g_fake[t]->sent[i] >
			            g_fake[t]->sent[i - 1]);
	}
	probe_free(p);
	/* The same with NXDOMAIN answers: now query 1 is the success. */
	p = NULL;
	assert_int_equal(probe_new_ops(&p, &g_conf, loop, g_ops), 0);
	g_fake[0]->rcode = g_fake[1]->rcode = 3;
	assert_int_equal(probe_round_start(p), 0);
	while (probe_round_running(p))
		loop_run_once(loop, 100 * NS_PER_MS);
	r = probe_results(p, &n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].kind,
		                 i % 3 == 1 ? RESULT_SUCCESS : RESULT_ERROR);
	assert_int_equal(probe_stats(p)->answered, 12);
	probe_free(p);
	loop_free(loop);
}

static void test_pacing(void **state)
{
	struct loop *loop;
	struct probe *p;
	int64_t took;

	(void)state;
	g_mode[0] = g_mode[1] = ANSWER;
	/* 12 queries at 200/s: the last leaves 11 / 200 s = 55 ms in. */
	setup_conf(CONF_UDP | CONF_TCP, 500 * NS_PER_MS, 0, 200);
	assert_int_equal(loop_new(&loop), 0);
	p = run_round(loop, &took);
	assert_true(took >= 50 * NS_PER_MS);
	assert_true(took < 400 * NS_PER_MS);
	/* Sends never run ahead of the rate (a little slack for the 200 us
	 * quantum): the n-th send is at least (n - 1) * 5 ms - 0.3 ms after
	 * the first of its transport's... across both transports merged. */
	{
		int64_t first = g_fake[0]->sent_ns[0];
		int64_t all[12];
		size_t k = 0;

		for (int t = 0; t < 2; t++)
			for (size_t i = 0; i < g_fake[t]->n_sent; i++)
				all[k++] = g_fake[t]->sent_ns[i];
		assert_int_equal(k, 12);
		for (size_t i = 0; i < k; i++)
			for (size_t j = i + 1; j < k; j++)
				if (all[j] < all[i]) {
					int64_t x = all[i];

					all[i] = all[j];
					all[j] = x;
				}
		first = all[0];
		for (size_t i = 1; i < k; i++)
			assert_true(all[i] - first >=
			            (int64_t)i * 5 * NS_PER_MS - 300000);
	}
	probe_free(p);
	loop_free(loop);
}

static void test_timeouts_retries(void **state)
{
	struct loop *loop;
	struct probe *p;
	const struct result *r;
	int64_t took;
	size_t n;

	(void)state;
	g_mode[0] = SILENT;
	g_mode[1] = SEEN_ERROR;
	setup_conf(CONF_UDP | CONF_TCP, 40 * NS_PER_MS, 1, 100000);
	assert_int_equal(loop_new(&loop), 0);
	p = run_round(loop, &took);
	r = probe_results(p, &n);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++) {
		/* The identity query keeps the target's timeout here (no
		 * identity_timeout set). */
		assert_int_equal(r[i].attempts, 2);
		assert_false(r[i].has_reply);
		assert_int_equal(r[i].rtt_ns, -1);
		if (r[i].key->transport == 0) {
			assert_int_equal(r[i].kind, RESULT_TIMEOUT);
			assert_null(result_error(&r[i]));
		} else {
			assert_int_equal(r[i].kind, RESULT_ERROR);
			assert_string_equal(result_error(&r[i]), "malformed response");
		}
	}
	assert_int_equal(g_fake[0]->cancels, 12);
	assert_int_equal(g_fake[1]->cancels, 12);
	/* Two attempts of 40 ms, one after the other. */
	assert_true(took >= 80 * NS_PER_MS);
	assert_true(took < 400 * NS_PER_MS);
	probe_free(p);
	loop_free(loop);
}

static void test_identity_timeout(void **state)
{
	struct loop *loop;
	struct probe *p;
	const struct result *r;
	size_t n;

	(void)state;
	g_mode[0] = g_mode[1] = SILENT;
	setup_conf(CONF_UDP, 100 * NS_PER_MS, 3, 100000);
	g_target.identity_timeout_ns = 30 * NS_PER_MS;
	assert_int_equal(loop_new(&loop), 0);
	p = run_round(loop, NULL);
	r = probe_results(p, &n);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].attempts, r[i].query->identity ? 1 : 4);
	probe_free(p);
	loop_free(loop);
}

static void test_blocked_does_not_hold_back(void **state)
{
	struct loop *loop;
	struct probe *p;
	const struct result *r;
	size_t n;
	int64_t deadline;

	(void)state;
	g_mode[0] = ANSWER;
	g_mode[1] = BLOCK; /* "tcp" at its descriptor limit */
	setup_conf(CONF_UDP | CONF_TCP, 500 * NS_PER_MS, 0, 100000);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(probe_new_ops(&p, &g_conf, loop, g_ops), 0);
	assert_int_equal(probe_round_start(p), 0);
	deadline = clock_mono_ns() + 200 * NS_PER_MS;
	while (g_fake[0]->n_sent < 6 && clock_mono_ns() < deadline)
		loop_run_once(loop, 10 * NS_PER_MS);
	/* Every UDP query went out although TCP's first one is stuck. */
	assert_int_equal(g_fake[0]->n_sent, 6);
	assert_int_equal(g_fake[1]->n_sent, 0);
	assert_true(g_fake[1]->blocked >= 1);
	assert_true(probe_round_running(p));
	/* The transport can take more: its queries go, the round ends. */
	g_fake[1]->mode = ANSWER;
	g_fake[1]->env.unblocked(g_fake[1]->env.sched, 1);
	while (probe_round_running(p))
		loop_run_once(loop, 100 * NS_PER_MS);
	r = probe_results(p, &n);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++)
		assert_true(r[i].has_reply);
	probe_free(p);
	loop_free(loop);
}

static void test_instance_and_abort(void **state)
{
	struct loop *loop;
	struct probe *p;
	const struct result *r;
	size_t n;

	(void)state;
	g_mode[0] = ANSWER;
	g_mode[1] = SILENT;
	setup_conf(CONF_UDP | CONF_TCP, 5 * NS_PER_SEC, 0, 100000);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(probe_new_ops(&p, &g_conf, loop, g_ops), 0);
	g_fake[0]->nsid = "arn1";
	assert_int_equal(probe_round_start(p), 0);
	/* Run until the UDP rows are in, then abort: TCP ones are dropped. */
	while (probe_stats(p)->queries == 0 && g_fake[0]->n_sent < 6)
		loop_run_once(loop, 10 * NS_PER_MS);
	for (int i = 0; i < 20; i++)
		loop_run_once(loop, 2 * NS_PER_MS);
	assert_int_equal(probe_round_abort(p), 6);
	assert_false(probe_round_running(p));
	r = probe_results(p, &n);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r[i].key->transport, 0);
		assert_int_equal(r[i].instance_len, 4);
		assert_memory_equal(r[i].instance, "arn1", 4);
		assert_int_equal(r[i].instance_source, SOURCE_NSID);
		assert_int_equal(r[i].instance_changed, 0);
	}
	/* Next round: another NSID on the same rows is a change. */
	g_fake[0]->nsid = "lhr1";
	g_fake[1]->mode = ANSWER;
	assert_int_equal(probe_round_start(p), 0);
	while (probe_round_running(p))
		loop_run_once(loop, 100 * NS_PER_MS);
	r = probe_results(p, &n);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].instance_changed,
		                 r[i].key->transport == 0 ? 1 : -1);
	probe_free(p);
	loop_free(loop);
}

/* A group's rows are final as soon as its queries (and every earlier
 * group's) have ended, while the round still runs: the UDP groups answer
 * at once, the TCP groups stay silent until their timeout. */
static void test_rows_final_early(void **state)
{
	struct loop *loop;
	struct probe *p = NULL;
	const struct result *r;
	int64_t start, deadline;
	size_t n, ready = 0;

	(void)state;
	g_mode[0] = ANSWER;
	g_mode[1] = SILENT;
	setup_conf(CONF_UDP | CONF_TCP, 300 * NS_PER_MS, 0, 100000);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(probe_new_ops(&p, &g_conf, loop, g_ops), 0);
	g_fake[0]->nsid = "arn1";
	start = clock_mono_ns();
	deadline = start + 200 * NS_PER_MS;
	assert_int_equal(probe_round_start(p), 0);
	assert_int_equal(probe_rows_ready(p), 0);
	while (ready < 3 && clock_mono_ns() < deadline) {
		loop_run_once(loop, 10 * NS_PER_MS);
		ready = probe_rows_ready(p);
	}
	/* Server 1's UDP group (rows 6..8) has answered too, but rows 3..5
	 * (server 0 over TCP) come first and are still in flight. */
	assert_true(probe_round_running(p));
	assert_int_equal(ready, 3);
	r = probe_results(p, &n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(r[i].kind, i == 1 ? RESULT_ERROR
		                                   : RESULT_SUCCESS);
		/* the instance rule ran on them already */
		assert_int_equal(r[i].instance_source, SOURCE_NSID);
		assert_int_equal(r[i].instance_len, 4);
		assert_memory_equal(r[i].instance, "arn1", 4);
	}
	while (probe_round_running(p))
		loop_run_once(loop, 100 * NS_PER_MS);
	assert_true(clock_mono_ns() - start >= 300 * NS_PER_MS);
	r = probe_results(p, &n);
	assert_int_equal(n, 12);
	assert_int_equal(probe_rows_ready(p), 12);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].has_reply, r[i].key->transport == 0);
	assert_memory_equal(r[0].instance, "arn1", 4);
	probe_free(p);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_rcodes),
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_timeouts_retries),
	    cmocka_unit_test(test_identity_timeout),
	    cmocka_unit_test(test_blocked_does_not_hold_back),
	    cmocka_unit_test(test_instance_and_abort),
	    cmocka_unit_test(test_rows_final_early),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
