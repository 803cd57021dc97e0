/*
 * report_lines: a unit-level driver of the report hot path for callgrind.
 * Builds a config of 100 addresses x 2 transports x 500 queries (100,000
 * rows, as in the 100,000-query round), fills one result per row as
 * a busy round would (NSID instance, serial, hop limit; half of them TCP
 * rows with connect_ms, every fiftieth a timeout), and writes them all as
 * line protocol into one buffer, reset every 64 KiB as main does.
 *
 *   valgrind --tool=callgrind --toggle-collect=write_rows \
 *       build/perf/report_lines 100000
 *
 * gives the instructions of the writing alone; divide by the rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnsmsg.h"
#include "report.h"
#include "transport.h"

#define N_SERVERS 100
#define N_QUERIES 500

static struct conf_tag g_tags[] = {{"dc", "datacenter-1"}};
static struct conf_tag t_tags[] = {{"operator", "cira"}};

static void build_conf(struct conf *c, struct conf_target *t,
                       struct conf_server *s, struct conf_query *q)
{
	memset(c, 0, sizeof(*c));
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < N_SERVERS; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].family = i % 2 ? CONF_IPV6 : CONF_IPV4;
		if (i % 2)
			snprintf(s[i].addr_text, sizeof(s[i].addr_text),
			         "2001:db8::%x", i);
		else
			snprintf(s[i].addr_text, sizeof(s[i].addr_text),
			         "192.0.2.%d", i);
	}
	for (int i = 0; i < N_QUERIES; i++) {
		char name[64];
		memset(&q[i], 0, sizeof(q[i]));
		snprintf(name, sizeof(name), "name%d.example.se", i);
		q[i].name = strdup(name);
		q[i].type = DNSMSG_TYPE_SOA;
		q[i].class = DNSMSG_CLASS_IN;
		q[i].expect_rcodes = 1;
	}
	t->name = "iis-a";
	t->servers = s;
	t->n_servers = N_SERVERS;
	t->queries = q;
	t->n_queries = N_QUERIES;
	t->transports = CONF_UDP | CONF_TCP;
	t->port = 53;
	t->tags = t_tags;
	t->n_tags = 1;
	c->measurement = "dns_anycast";
	c->tags = g_tags;
	c->n_tags = 1;
	c->targets = t;
	c->n_targets = 1;
}

static struct result_key keys[N_SERVERS * 2];
static struct tr_conn_info conns[N_SERVERS];
static struct result_ext exts[N_SERVERS];

static void fill(struct result *r, size_t n, struct conf_target *t)
{
	size_t i = 0;

	for (size_t si = 0; si < t->n_servers; si++)
		for (unsigned tr = 0; tr < 2; tr++) {
			struct result_key *k = &keys[si * 2 + tr];

			k->index = (uint32_t)(si * 2 + tr);
			k->target = t;
			k->server = &t->servers[si];
			k->transport = (uint8_t)tr;
			k->port = 53;
			conns[si].connect_ns = 812345 + (int64_t)si;
			conns[si].tls_handshake_ns = -1;
			exts[si].conn = &conns[si];
			for (size_t qi = 0; qi < t->n_queries && i < n; qi++) {
				struct result *x = &r[i++];
				memset(x, 0, sizeof(*x));
				x->key = k;
				x->query = &t->queries[qi];
				x->attempts = 1;
				x->timestamp_ns =
				    1485100800000000000LL + (int64_t)i * 50000;
				x->ext = tr ? &exts[si] : NULL;
				x->hop_limit = tr ? -1 : 58;
				x->instance_changed = 0;
				if (i % 50 == 0) {
					x->kind = RESULT_TIMEOUT;
					x->attempts = 2;
					x->rtt_ns = -1;
					x->instance_changed = -1;
					continue;
				}
				x->kind = RESULT_SUCCESS;
				x->rtt_ns =
				    11482123 + (int64_t)(i % 997) * 1013;
				x->has_reply = true;
				x->aa = true;
				x->answers = 1;
				x->response_bytes = 107;
				x->has_serial = true;
				x->serial = 2017011501;
				x->nsid = (const uint8_t *)"ARN1";
				x->nsid_len = 4;
				x->instance = x->nsid;
				x->instance_len = 4;
				x->instance_source = SOURCE_NSID;
			}
		}
}

/* The measured part: every row as a line, in 64 KiB chunks. */
__attribute__((noinline)) static size_t write_rows(struct report *rep,
                                                   struct lineproto *lp,
                                                   const struct result *r,
                                                   size_t n, FILE *dump)
{
	size_t bytes = 0;

	for (size_t i = 0; i < n; i++) {
		report_line(rep, lp, &r[i]);
		if (lp->len >= 64 * 1024) {
			bytes += lp->len;
			if (dump)
				fwrite(lp->data, 1, lp->len, dump);
			lineproto_reset(lp);
		}
	}
	return bytes + lp->len;
}

int main(int argc, char **argv)
{
	static struct conf_server servers[N_SERVERS];
	static struct conf_query queries[N_QUERIES];
	struct conf conf;
	struct conf_target target;
	struct lineproto lp;
	struct report *rep;
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t max = (size_t)N_SERVERS * 2 * N_QUERIES;

	if (n > max)
		n = max;
	build_conf(&conf, &target, servers, queries);
	struct result *r = calloc(n ? n : 1, sizeof(*r));
	if (!r)
		return 1;
	fill(r, n, &target);
	lineproto_init(&lp);
	if (report_new(&rep, &conf) < 0)
		return 1;
	struct timespec t0, t1, c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	size_t bytes = write_rows(rep, &lp, r, n, argc > 2 ? stdout : NULL);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (argc > 2) /* the lines themselves, to compare builds */
		fwrite(lp.data, 1, lp.len, stdout);
	else
		printf("%zu rows, %zu bytes, %.1f ms (%.1f ms CPU)\n", n, bytes,
		       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		           (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		       (double)(c1.tv_sec - c0.tv_sec) * 1e3 +
		           (double)(c1.tv_nsec - c0.tv_nsec) / 1e6);
	report_free(rep);
	lineproto_clear(&lp);
	for (int i = 0; i < N_QUERIES; i++)
		free(queries[i].name);
	free(r);
	return 0;
}
