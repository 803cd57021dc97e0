/*
 * report: a round's results as output. Owns the SPEC's tag and field names
 * and their order (the order of the SPEC example), how NSID bytes are shown,
 * the `error` cause for rcode errors (the --format text table is
 * report_text.c's).
 * lineproto owns escaping and sanitising; this file never escapes by hand.
 * Everything from the network (NSID, TXT, instance) goes through
 * lineproto's untrusted paths, here and in the text table.
 */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dnsmsg.h"
#include "transport.h"
#include "report_int.h"

const char *report_result_name(enum result_kind kind)
{
	switch (kind) {
	case RESULT_SUCCESS:
		return "success";
	case RESULT_TIMEOUT:
		return "timeout";
	case RESULT_ERROR:
		return "error";
	}
	return "error";
}

const char *report_source_name(enum result_source source)
{
	switch (source) {
	case SOURCE_NSID:
		return "nsid";
	case SOURCE_HOSTNAME_BIND:
		return "hostname.bind";
	case SOURCE_ID_SERVER:
		return "id.server";
	case SOURCE_NONE:
		break;
	}
	return NULL;
}

const char *report_transport_name(unsigned transport)
{
	return transport < transport_count ? transport_table[transport].name
	                                   : NULL;
}

const char *report_family_name(int family)
{
	switch (family) {
	case CONF_IPV4:
		return "ipv4";
	case CONF_IPV6:
		return "ipv6";
	}
	return NULL;
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* The root is "." whatever way it was configured. */
const char *report_domain_name(const struct conf_query *q)
{
	return q->name && q->name[0] ? q->name : ".";
}

static bool has_key(const struct conf_tag *tags, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (tags[i].key && strcmp(tags[i].key, key) == 0)
			return true;
	return false;
}

/* [tags], then tag.* of the target. A target's tag.KEY wins over a [tags]
 * KEY; keys report writes itself and repeats are left out. */
static void extra_tags(struct lineproto *lp, const struct conf *conf,
                       const struct conf_target *t)
{
	const struct conf_tag *tt = t ? t->tags : NULL;
	size_t nt = t ? t->n_tags : 0;

	for (size_t i = 0; i < conf->n_tags; i++) {
		const struct conf_tag *g = &conf->tags[i];
		if (!g->key || conf_tag_reserved(g->key) ||
		    has_key(tt, nt, g->key) || has_key(conf->tags, i, g->key))
			continue;
		lineproto_tag(lp, g->key, g->value);
	}
	for (size_t i = 0; i < nt; i++) {
		if (!tt[i].key || conf_tag_reserved(tt[i].key) ||
		    has_key(tt, i, tt[i].key))
			continue;
		lineproto_tag(lp, tt[i].key, tt[i].value);
	}
}

/* The measurement and the tags fixed by the row's key: target, server,
 * transport and the port queried. */
static void key_tags(struct lineproto *lp, const struct conf *conf,
                     const struct result_key *k)
{
	const struct conf_target *t = k ? k->target : NULL;
	const struct conf_server *s = k ? k->server : NULL;

	lineproto_begin(lp, conf->measurement ? conf->measurement
	                                      : CONF_DEFAULT_MEASUREMENT);
	if (!k)
		return;
	if (t)
		lineproto_tag(lp, "target", t->name);
	if (s) {
		lineproto_tag(lp, "server", s->addr_text);
		lineproto_tag(lp, "server_name", s->name);
		lineproto_tag(lp, "family", report_family_name(s->family));
	}
	lineproto_tag(lp, "transport", report_transport_name(k->transport));
	if (k->transport < transport_count && k->port &&
	    k->port != transport_table[k->transport].default_port) {
		char num[8];

		*lineproto_put_dec(num, k->port) = '\0';
		lineproto_tag(lp, "port", num);
	}
}

/* The tags fixed by (target, query). */
static void query_tags(struct lineproto *lp, const struct conf_query *q)
{
	char name[32];

	if (!q)
		return;
	lineproto_tag(lp, "domain", report_domain_name(q));
	lineproto_tag(lp, "record_type",
	              dnsmsg_type_name(q->type, name, sizeof(name)));
	lineproto_tag(lp, "class",
	              dnsmsg_class_name(q->class, name, sizeof(name)));
}

/* A piece of the report's text arena. */
struct span {
	uint32_t off, len;
};

#define RCODE_CACHE 32 /* rcodes with a prebuilt ",rcode=NAME" */

/* A key's tags as last built, and the key they were built from. */
struct key_span {
	struct result_key key; /* a copy: a key rebuilt in place is seen */
	struct span text;
	bool valid;
};

/*
 * The constant text of every line, escaped once, in one arena (spans are
 * offsets into it). Per target i: its query spans at q[q_base[i] + query]
 * and its extra tags at extra[i], built by report_new(). Per key (target,
 * server, transport, port): keys[key->index], built the first time a row
 * of that key is written and again when the key changes; report_rebuilt()
 * drops them all (the servers may be new objects at old addresses) and
 * gives their text back.
 */
struct report {
	const struct conf *conf;
	struct lineproto arena;
	size_t fixed_len; /* the arena up to the key spans */
	size_t *q_base;
	struct span *q, *extra;
	struct key_span *keys;
	size_t n_keys;
	struct span result[3], source[4], rcode[RCODE_CACHE];
	struct span dnssec[4], reference;
};

/* Move what SCRATCH holds past FROM into the arena as a span. */
static int keep(struct lineproto *arena, size_t from, struct span *out)
{
	if (arena->error)
		return arena->error;
	if (arena->len > UINT32_MAX)
		return -ENOMEM;
	out->off = (uint32_t)from;
	out->len = (uint32_t)(arena->len - from);
	return 0;
}

static int const_tag(struct lineproto *arena, const char *key,
                     const char *value, struct span *out)
{
	size_t from = arena->len;

	lineproto_tag(arena, key, value);
	return keep(arena, from, out);
}

int report_new(struct report **out, const struct conf *conf)
{
	struct report *rep;
	struct lineproto *arena;
	size_t n_q = 0, nt;
	int rc = 0;

	if (!out || !conf)
		return -EINVAL;
	*out = NULL;
	nt = conf->n_targets;
	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	rep->conf = conf;
	arena = &rep->arena;
	lineproto_init(arena);
	for (size_t i = 0; i < nt; i++)
		n_q += conf->targets[i].n_queries;
	rep->q_base = calloc(nt + 1, sizeof(size_t));
	rep->q = calloc(n_q + 1, sizeof(struct span));
	rep->extra = calloc(nt + 1, sizeof(struct span));
	if (!rep->q_base || !rep->q || !rep->extra) {
		report_free(rep);
		return -ENOMEM;
	}
	n_q = 0;
	for (size_t i = 0; i < nt && !rc; i++) {
		const struct conf_target *t = &conf->targets[i];

		rep->q_base[i] = n_q;
		for (size_t q = 0; q < t->n_queries && !rc; q++) {
			size_t from = arena->len;

			query_tags(arena, &t->queries[q]);
			rc = keep(arena, from, &rep->q[n_q++]);
		}
		if (!rc) {
			size_t from = arena->len;

			extra_tags(arena, conf, t);
			rc = keep(arena, from, &rep->extra[i]);
		}
	}
	for (int k = 0; k < 3 && !rc; k++)
		rc =
		    const_tag(arena, "result", report_result_name(k), &rep->result[k]);
	for (int k = SOURCE_NSID; k <= SOURCE_ID_SERVER && !rc; k++)
		rc = const_tag(arena, "instance_source", report_source_name(k),
		               &rep->source[k]);
	for (int k = 0; k < RCODE_CACHE && !rc; k++) {
		char name[32];

		rc = const_tag(arena, "rcode",
		               dnsmsg_rcode_name(k, name, sizeof(name)),
		               &rep->rcode[k]);
	}
	if (!rc)
		rc = const_tag(arena, "dnssec", "secure",
		               &rep->dnssec[RESULT_DNSSEC_SECURE]);
	if (!rc)
		rc = const_tag(arena, "dnssec", "bogus",
		               &rep->dnssec[RESULT_DNSSEC_BOGUS]);
	if (!rc)
		rc = const_tag(arena, "dnssec", "insecure",
		               &rep->dnssec[RESULT_DNSSEC_INSECURE]);
	if (!rc)
		rc = const_tag(arena, "reference", "true", &rep->reference);
	if (rc) {
		report_free(rep);
		return rc < 0 ? rc : -ENOMEM;
	}
	rep->fixed_len = arena->len;
	*out = rep;
	return 0;
}

void report_rebuilt(struct report *rep)
{
	if (!rep)
		return;
	if (rep->keys)
		memset(rep->keys, 0, rep->n_keys * sizeof(*rep->keys));
	if (!rep->arena.error && rep->arena.len >= rep->fixed_len) {
		rep->arena.len = rep->fixed_len;
		if (rep->arena.data)
			rep->arena.data[rep->arena.len] = '\0';
	}
}

void report_free(struct report *rep)
{
	if (!rep)
		return;
	lineproto_clear(&rep->arena);
	free(rep->q_base);
	free(rep->q);
	free(rep->extra);
	free(rep->keys);
	free(rep);
}

static void put_span(struct lineproto *lp, const struct report *rep,
                     const struct span *s)
{
	if (s->len)
		lineproto_append_raw(lp, rep->arena.data + s->off, s->len);
}

/* Index of P in BASE[0..N) when it points into it, else -1. Compared as
 * integers: the pointers may belong to another array. */
static ptrdiff_t index_of(const void *p, const void *base, size_t n,
                          size_t size)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

	if (!p || !base || a < b || (a - b) % size || (a - b) / size >= n)
		return -1;
	return (ptrdiff_t)((a - b) / size);
}

static bool same_key(const struct result_key *a, const struct result_key *b)
{
	return a->target == b->target && a->server == b->server &&
	       a->port == b->port && a->transport == b->transport &&
	       a->reference == b->reference;
}

/* The span of K's tags, built when K is new or changed; NULL when memory
 * ran out. */
static const struct span *key_span(struct report *rep,
                                   const struct result_key *k)
{
	struct key_span *ks;

	if (k->index >= rep->n_keys) {
		size_t n = rep->n_keys ? rep->n_keys : 64;

		while (n <= k->index)
			n *= 2;
		ks = realloc(rep->keys, n * sizeof(*ks));
		if (!ks)
			return NULL;
		memset(ks + rep->n_keys, 0, (n - rep->n_keys) * sizeof(*ks));
		rep->keys = ks;
		rep->n_keys = n;
	}
	ks = &rep->keys[k->index];
	if (!ks->valid || !same_key(&ks->key, k)) {
		size_t from = rep->arena.len;

		key_tags(&rep->arena, rep->conf, k);
		if (keep(&rep->arena, from, &ks->text) < 0) {
			/* out of memory: this row is built the slow way; the
			 * arena's text so far stays valid */
			rep->arena.error = 0;
			rep->arena.len = from;
			if (rep->arena.data)
				rep->arena.data[from] = '\0';
			return NULL;
		}
		ks->key = *k;
		ks->valid = true;
	}
	return &ks->text;
}

/* The row's constant tags: the key's from the cache, the query's from
 * report_new()'s spans when the query is the conf's own, else built the
 * slow way (same bytes). Sets *EXTRA to the target's extra-tag span, NULL
 * when the target is not the conf's. */
static void constant_tags(struct report *rep, struct lineproto *lp,
                          const struct result *r, const struct span **extra)
{
	const struct conf *conf = rep->conf;
	const struct result_key *k = r->key;
	const struct conf_target *t = k ? k->target : NULL;
	ptrdiff_t ti =
	    index_of(t, conf->targets, conf->n_targets, sizeof(*conf->targets));
	ptrdiff_t qi = ti < 0 ? -1
	                      : index_of(r->query, t->queries, t->n_queries,
	                                 sizeof(*t->queries));
	const struct span *ks = k ? key_span(rep, k) : NULL;

	*extra = ti >= 0 ? &rep->extra[ti] : NULL;
	if (!ks || qi < 0) {
		key_tags(lp, conf, k);
		query_tags(lp, r->query);
		return;
	}
	lineproto_begin_raw(lp, rep->arena.data + ks->off, ks->len);
	put_span(lp, rep, &rep->q[rep->q_base[ti] + (size_t)qi]);
}

/* ",key=" as a literal and its length, for put_key(). */
#define KEY(lit) "," lit "=", sizeof(lit) + 1

/* Write a field key; the first field of a line follows a space. */
static char *put_key(char *p, unsigned *fields, const char *key, size_t n)
{
	memcpy(p, key, n);
	if ((*fields)++ == 0)
		*p = ' ';
	return p + n;
}

static char *put_int(char *p, unsigned *fields, const char *key, size_t n,
                     int64_t v)
{
	p = put_key(p, fields, key, n);
	p = lineproto_put_dec(p, v);
	*p++ = 'i';
	return p;
}

static char *put_bool(char *p, unsigned *fields, const char *key, size_t n,
                      bool v)
{
	p = put_key(p, fields, key, n);
	memcpy(p, v ? "true" : "false", v ? 4 : 5);
	return p + (v ? 4 : 5);
}

static char *put_ms(char *p, unsigned *fields, const char *key, size_t n,
                    int64_t ns)
{
	p = put_key(p, fields, key, n);
	return lineproto_put_ms(p, ns);
}

/* Room for a run of number and bool fields: keys are at most 20 bytes,
 * values LINEPROTO_MS_MAX. */
#define NUM_ROOM (16 * (20 + LINEPROTO_MS_MAX))

static const char *tls_version_name(uint8_t v)
{
	switch (v) {
	case 12:
		return "TLSv1.2";
	case 13:
		return "TLSv1.3";
	}
	return NULL;
}

static const char *cookie_name(enum result_cookie c)
{
	switch (c) {
	case RESULT_COOKIE_OK:
		return "ok";
	case RESULT_COOKIE_NONE:
		return "none";
	case RESULT_COOKIE_ABSENT:
		break;
	}
	return NULL;
}

static void field_text(struct lineproto *lp, const char *key, const char *s)
{
	if (s)
		lineproto_field_string(lp, key, (const uint8_t *)s, strlen(s));
}

/* The per-row tags: result, rcode, instance, instance_source, reference,
 * dnssec. */
static void row_tags(struct report *rep, struct lineproto *lp,
                     const struct result *r, char *nsid, size_t nsid_size)
{
	const uint8_t *inst;

	put_span(lp, rep, &rep->result[r->kind <= RESULT_ERROR ? r->kind : 2]);
	if (r->has_reply) {
		if (r->rcode < RCODE_CACHE) {
			put_span(lp, rep, &rep->rcode[r->rcode]);
		} else {
			char name[32];

			lineproto_tag(
			    lp, "rcode",
			    dnsmsg_rcode_name(r->rcode, name, sizeof(name)));
		}
	}
	size_t inst_len = report_instance_bytes(r, nsid, nsid_size, &inst);
	if (inst_len > 0) {
		lineproto_tag_untrusted(lp, "instance", inst, inst_len);
		put_span(lp, rep, &rep->source[r->instance_source]);
	}
	if (r->key && r->key->reference)
		put_span(lp, rep, &rep->reference);
	if (r->dnssec >= RESULT_DNSSEC_SECURE &&
	    r->dnssec <= RESULT_DNSSEC_INSECURE)
		put_span(lp, rep, &rep->dnssec[r->dnssec]);
}

/* The `error` field's text. */
static void error_field(struct lineproto *lp, const struct result *r)
{
	char cause[128], name[32];

	if (result_error(r)) {
		field_text(lp, "error", result_error(r));
		return;
	}
	if (r->has_reply)
		snprintf(
		    cause, sizeof(cause), "rcode %s",
		    or_dash(dnsmsg_rcode_name(r->rcode, name, sizeof(name))));
	else
		snprintf(cause, sizeof(cause), "unknown error");
	field_text(lp, "error", cause);
}

int report_line(struct report *rep, struct lineproto *lp,
                const struct result *r)
{
	char nsid[NSID_TEXT_SIZE];
	const struct span *extra;
	const struct tr_conn_info *c;
	const struct result_ext *x = r ? r->ext : NULL;
	unsigned nf = 0;
	char *p;

	if (!rep || !lp || !r)
		return -EINVAL;
	constant_tags(rep, lp, r, &extra);
	row_tags(rep, lp, r, nsid, sizeof(nsid));
	if (extra)
		put_span(lp, rep, extra);
	else
		extra_tags(lp, rep->conf, r->key ? r->key->target : NULL);

	/* query_time_ms .. tc: numbers only */
	if (!(p = lineproto_room(lp, NUM_ROOM)))
		return lineproto_end(lp, r->timestamp_ns);
	if (r->rtt_ns >= 0 && r->kind != RESULT_TIMEOUT)
		p = put_ms(p, &nf, KEY("query_time_ms"), r->rtt_ns);
	p = put_int(p, &nf, KEY("result_code"), (int64_t)r->kind);
	if (r->has_reply)
		p = put_int(p, &nf, KEY("rcode_value"), r->rcode);
	p = put_int(p, &nf, KEY("attempts"), r->attempts);
	if (r->has_reply) {
		p = put_int(p, &nf, KEY("answers"), r->answers);
		p = put_int(p, &nf, KEY("response_bytes"), r->response_bytes);
		p = put_bool(p, &nf, KEY("aa"), r->aa);
		p = put_bool(p, &nf, KEY("tc"), r->tc);
	}
	lineproto_wrote(lp, p, nf);
	if (r->nsid) {
		size_t n;

		/* the instance tag rendered the same bytes already */
		if (r->instance_source == SOURCE_NSID &&
		    r->instance == r->nsid && r->instance_len == r->nsid_len &&
		    r->nsid_len > 0)
			n = strlen(nsid);
		else
			n = report_nsid_text(nsid, sizeof(nsid), r->nsid,
			                     r->nsid_len);
		lineproto_field_string(lp, "nsid", (const uint8_t *)nsid, n);
	}
	if (r->identity)
		lineproto_field_string(lp, "identity", r->identity,
		                       r->identity_len);

	/* serial .. instance_changed */
	c = result_conn(r);
	nf = lp->n_fields;
	if (!(p = lineproto_room(lp, NUM_ROOM)))
		return lineproto_end(lp, r->timestamp_ns);
	if (r->has_serial)
		p = put_int(p, &nf, KEY("serial"), r->serial);
	if (r->hop_limit >= 0)
		p = put_int(p, &nf, KEY("hop_limit"), r->hop_limit);
	if (c && c->connect_ns >= 0)
		p = put_ms(p, &nf, KEY("connect_ms"), c->connect_ns);
	if (r->instance_changed != -1)
		p = put_bool(p, &nf, KEY("instance_changed"),
		             r->instance_changed == 1);
	lineproto_wrote(lp, p, nf);
	if (r->kind == RESULT_ERROR)
		error_field(lp, r);

	/* Version 2, each when its marker says present. */
	if (c && c->tls_handshake_ns >= 0) {
		nf = lp->n_fields;
		if ((p = lineproto_room(lp, NUM_ROOM))) {
			p = put_ms(p, &nf, KEY("tls_handshake_ms"),
			           c->tls_handshake_ns);
			lineproto_wrote(lp, p, nf);
		}
	}
	if (c && tls_version_name(c->tls_version)) {
		field_text(lp, "tls_version", tls_version_name(c->tls_version));
		lineproto_field_bool(lp, "tls_resumed", c->tls_resumed);
	}
	nf = lp->n_fields;
	if (!(p = lineproto_room(lp, NUM_ROOM)))
		return lineproto_end(lp, r->timestamp_ns);
	if (c && c->has_cert)
		p = put_int(p, &nf, KEY("cert_expires_in_s"),
		            c->cert_expires_s);
	if (r->http_status)
		p = put_int(p, &nf, KEY("http_status"), r->http_status);
	if (x && x->has_rrsig_expiry)
		p = put_int(p, &nf, KEY("rrsig_expires_in_s"),
		            x->rrsig_expires_in_s);
	lineproto_wrote(lp, p, nf);
	if (x) {
		field_text(lp, "dnssec_error", x->dnssec_error);
		field_text(lp, "dnskey_tags", x->dnskey_tags);
	}
	if (x && x->has_serial_lag) {
		nf = lp->n_fields;
		if ((p = lineproto_room(lp, NUM_ROOM))) {
			p = put_int(p, &nf, KEY("serial_lag"), x->serial_lag);
			p = put_int(p, &nf, KEY("serial_stale_s"),
			            x->serial_stale_s);
			lineproto_wrote(lp, p, nf);
		}
	}
	field_text(lp, "cookie", cookie_name(r->cookie));
	return lineproto_end(lp, r->timestamp_ns);
}

int report_self(struct lineproto *lp, const struct conf *conf,
                const struct probe_stats *st, int64_t timestamp_ns)
{
	const char *m =
	    conf->measurement ? conf->measurement : CONF_DEFAULT_MEASUREMENT;
	char name[256];

	snprintf(name, sizeof(name), "%s_probe", m);
	lineproto_begin(lp, name);
	extra_tags(lp, conf, NULL);
	lineproto_field_int(lp, "queries", (int64_t)st->queries);
	lineproto_field_int(lp, "sent", (int64_t)st->sent);
	lineproto_field_int(lp, "answered", (int64_t)st->answered);
	lineproto_field_int(lp, "timeouts", (int64_t)st->timeouts);
	lineproto_field_int(lp, "errors", (int64_t)st->errors);
	lineproto_field_int(lp, "dropped_replies", (int64_t)st->dropped);
	lineproto_field_int(lp, "unstamped", (int64_t)st->clock_fallbacks);
	lineproto_field_float(lp, "round_duration_ms",
	                      (double)st->duration_ns / 1e6);
	lineproto_field_float(lp, "send_lag_ms", (double)st->send_lag_ns / 1e6);
	return lineproto_end(lp, timestamp_ns);
}
