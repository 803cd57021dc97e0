/*
 * summary: totals of the continuous mode; see include/summary.h. Rows are
 * found by a hash of their content (target name, address text, port,
 * transport), not by the result's pointers, so a job list rebuilt between
 * rounds keeps adding to the same row.
 */
#include "summary.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "report.h"
#include "transport.h"

#define SUB_BITS 5
#define SUB (1 << SUB_BITS) /* buckets per power of two */
#define TOP_BITS 40         /* values clamp at 2^40 ns (18 minutes) */
#define N_BUCKETS (2 * SUB + (TOP_BITS - SUB_BITS - 1) * SUB)

struct entry {
	struct summary_row row;
	char *target, *server; /* owned copies */
	uint64_t hash;
	uint32_t *hist; /* N_BUCKETS, allocated at the first answer */
};

struct summary {
	struct entry *e; /* first-seen order */
	size_t n, cap;
	size_t *slots; /* open addressing: index + 1 into e, 0 empty */
	size_t n_slots;
	uint64_t rounds;
};

int summary_new(struct summary **out)
{
	if (!out)
		return -EINVAL;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void summary_free(struct summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].target);
		free(s->e[i].server);
		free(s->e[i].hist);
	}
	free(s->e);
	free(s->slots);
	free(s);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t key_hash(const char *target, const char *server, uint16_t port,
                         unsigned tr)
{
	uint64_t h = 14695981039346656037ULL;

	h = fnv(h, target, strlen(target) + 1);
	h = fnv(h, server, strlen(server) + 1);
	h = fnv(h, &port, sizeof(port));
	return fnv(h, &tr, sizeof(tr));
}

static bool same(const struct entry *e, uint64_t h, const char *target,
                 const char *server, uint16_t port, unsigned tr)
{
	return e->hash == h && e->row.port == port && e->row.transport == tr &&
	       strcmp(e->target, target) == 0 && strcmp(e->server, server) == 0;
}

static int rehash(struct summary *s, size_t n_slots)
{
	size_t *slots = calloc(n_slots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = s->e[i].hash & (n_slots - 1);

		while (slots[j])
			j = (j + 1) & (n_slots - 1);
		slots[j] = i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->n_slots = n_slots;
	return 0;
}

static struct entry *find(struct summary *s, const char *target,
                          const char *server, uint16_t port, unsigned tr)
{
	uint64_t h = key_hash(target, server, port, tr);
	size_t j;

	if (s->n_slots) {
		for (j = h & (s->n_slots - 1); s->slots[j];
		     j = (j + 1) & (s->n_slots - 1))
			if (same(&s->e[s->slots[j] - 1], h, target, server,
			         port, tr))
				return &s->e[s->slots[j] - 1];
	}
	/* new: keep the table at most half full */
	if (2 * (s->n + 1) > s->n_slots &&
	    rehash(s, s->n_slots ? 2 * s->n_slots : 16) < 0)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct entry *e = realloc(s->e, cap * sizeof(*e));

		if (!e)
			return NULL;
		s->e = e;
		s->cap = cap;
	}
	struct entry *e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	e->target = strdup(target);
	e->server = strdup(server);
	if (!e->target || !e->server) {
		free(e->target);
		free(e->server);
		return NULL;
	}
	e->hash = h;
	e->row.target = e->target;
	e->row.server = e->server;
	e->row.port = port;
	e->row.transport = tr;
	e->row.min_ns = e->row.max_ns = e->row.median_ns = -1;
	for (j = h & (s->n_slots - 1); s->slots[j];
	     j = (j + 1) & (s->n_slots - 1))
		;
	s->slots[j] = ++s->n;
	return e;
}

static size_t bucket(int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	int e;

	if (u >= (1ULL << TOP_BITS))
		u = (1ULL << TOP_BITS) - 1;
	if (u < 2 * SUB)
		return (size_t)u;
	e = 63 - __builtin_clzll(u); /* >= SUB_BITS + 1 */
	return 2 * SUB + (size_t)(e - SUB_BITS - 1) * SUB +
	       ((u >> (e - SUB_BITS)) & (SUB - 1));
}

/* The middle of bucket B. */
static int64_t bucket_mid(size_t b)
{
	if (b < 2 * SUB)
		return (int64_t)b;
	size_t e = (b - 2 * SUB) / SUB + SUB_BITS + 1;
	uint64_t sub = (b - 2 * SUB) % SUB;
	uint64_t lo = (SUB + sub) << (e - SUB_BITS);
	uint64_t w = 1ULL << (e - SUB_BITS);

	return (int64_t)(lo + w / 2);
}

static void add_instance(struct summary_row *row, const struct result *r)
{
	char nsid[2 * 512 + 1], name[sizeof(row->instances[0].name)];
	const uint8_t *inst = r->instance;
	size_t len = r->instance_len;

	if (!inst || len == 0 || r->instance_source == SOURCE_NONE)
		return;
	if (r->instance_source == SOURCE_NSID) {
		len = report_nsid_text(nsid, sizeof(nsid), inst, len);
		inst = (const uint8_t *)nsid;
	}
	lineproto_sanitize(name, sizeof(name), inst, len, LINEPROTO_TAG_MAX);
	for (size_t i = 0; i < row->n_instances; i++) {
		if (strcmp(row->instances[i].name, name) == 0) {
			row->instances[i].rows++;
			return;
		}
	}
	if (row->n_instances == SUMMARY_MAX_INSTANCES) {
		row->other_instance_rows++;
		return;
	}
	memcpy(row->instances[row->n_instances].name, name, sizeof(name));
	row->instances[row->n_instances++].rows = 1;
}

int summary_add(struct summary *s, const struct result *r, size_t n)
{
	int rc = 0;

	if (!s || (!r && n))
		return -EINVAL;
	s->rounds++;
	for (size_t i = 0; i < n; i++) {
		const struct result *x = &r[i];
		const struct result_key *k = x->key;
		struct entry *e;

		if (!k || !k->target || !k->server ||
		    k->transport >= transport_count)
			continue;
		e = find(s, k->target->name ? k->target->name : "",
		         k->server->addr_text, k->port, k->transport);
		if (!e) {
			rc = -ENOMEM;
			continue;
		}
		e->row.sent++;
		add_instance(&e->row, x);
		if (!x->has_reply || x->rtt_ns < 0)
			continue;
		e->row.answered++;
		if (!e->hist &&
		    !(e->hist = calloc(N_BUCKETS, sizeof(uint32_t)))) {
			rc = -ENOMEM;
			continue;
		}
		if (e->hist[bucket(x->rtt_ns)] < UINT32_MAX)
			e->hist[bucket(x->rtt_ns)]++;
		if (e->row.min_ns < 0 || x->rtt_ns < e->row.min_ns)
			e->row.min_ns = x->rtt_ns;
		if (x->rtt_ns > e->row.max_ns)
			e->row.max_ns = x->rtt_ns;
	}
	return rc;
}

uint64_t summary_rounds(const struct summary *s)
{
	return s ? s->rounds : 0;
}

size_t summary_count(const struct summary *s)
{
	return s ? s->n : 0;
}

/* The lower median from the histogram, kept within [min, max]. */
static int64_t median(const struct entry *e)
{
	uint64_t total = 0, seen = 0;

	if (!e->hist)
		return -1;
	for (size_t b = 0; b < N_BUCKETS; b++)
		total += e->hist[b];
	if (total == 0)
		return -1;
	for (size_t b = 0; b < N_BUCKETS; b++) {
		seen += e->hist[b];
		if (seen >= (total + 1) / 2) {
			int64_t m = bucket_mid(b);

			if (m < e->row.min_ns)
				m = e->row.min_ns;
			if (m > e->row.max_ns)
				m = e->row.max_ns;
			return m;
		}
	}
	return e->row.max_ns;
}

int summary_row(const struct summary *s, size_t i, struct summary_row *out)
{
	if (!s || !out || i >= s->n)
		return -EINVAL;
	*out = s->e[i].row;
	out->median_ns = median(&s->e[i]);
	return 0;
}

static void ms_text(char *buf, size_t size, int64_t ns)
{
	if (ns < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.3f", (double)ns / 1e6);
}

void summary_print(const struct summary *s, FILE *out)
{
	size_t wt = strlen("target"), ws = strlen("server"), n;
	bool ports = false;

	if (!s || !out)
		return;
	n = s->n;
	for (size_t i = 0; i < n; i++) {
		const struct summary_row *r = &s->e[i].row;

		if (strlen(r->target) > wt)
			wt = strlen(r->target);
		if (strlen(r->server) > ws)
			ws = strlen(r->server);
		if (r->port != transport_table[r->transport].default_port)
			ports = true;
	}
	fprintf(out, "I! summary of %llu round%s:\n",
	        (unsigned long long)s->rounds, s->rounds == 1 ? "" : "s");
	fprintf(out,
	        "I! %-*s  %-*s  %-9s  %s%6s  %8s  %6s  %9s  %9s  %9s  %s\n",
	        (int)wt, "target", (int)ws, "server", "transport",
	        ports ? "port   " : "", "sent", "answered", "loss", "min ms",
	        "median ms", "max ms", "instances seen");
	for (size_t i = 0; i < n; i++) {
		struct summary_row r;
		char mn[32], md[32], mx[32], port[16] = "";

		summary_row(s, i, &r);
		ms_text(mn, sizeof(mn), r.min_ns);
		ms_text(md, sizeof(md), r.median_ns);
		ms_text(mx, sizeof(mx), r.max_ns);
		if (ports)
			snprintf(port, sizeof(port), "%5u  ", r.port);
		fprintf(out,
		        "I! %-*s  %-*s  %-9s  %s%6llu  %8llu  %5.1f%%  %9s  "
		        "%9s  %9s  ",
		        (int)wt, r.target, (int)ws, r.server,
		        transport_table[r.transport].name, port,
		        (unsigned long long)r.sent,
		        (unsigned long long)r.answered,
		        r.sent ? 100.0 * (double)(r.sent - r.answered) /
		                     (double)r.sent
		               : 0.0,
		        mn, md, mx);
		if (r.n_instances == 0)
			fputs("-", out);
		for (size_t k = 0; k < r.n_instances; k++)
			fprintf(out, "%s%s (%llu)", k ? ", " : "",
			        r.instances[k].name,
			        (unsigned long long)r.instances[k].rows);
		if (r.other_instance_rows)
			fprintf(out, ", others (%llu)",
			        (unsigned long long)r.other_instance_rows);
		fputc('\n', out);
	}
}
