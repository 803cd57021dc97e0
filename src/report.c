/*
 * report: a round's results as output. Owns the SPEC's tag and field names
 * and their order (the order of the SPEC example), how NSID bytes are shown,
 * the `error` cause for rcode errors, and the --format text table.
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

static const char *result_name(enum result_kind kind)
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

static const char *source_name(enum result_source source)
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

static const char *transport_name(unsigned transport)
{
	return transport < transport_count ? transport_table[transport].name
	                                   : NULL;
}

static const char *family_name(int family)
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
static const char *domain_name(const struct conf_query *q)
{
	return q->name && q->name[0] ? q->name : ".";
}

size_t report_nsid_text(char *buf, size_t size, const uint8_t *nsid, size_t len)
{
	static const char HEX[] = "0123456789abcdef";
	bool printable = true;
	size_t n = 0;

	if (!buf || size == 0)
		return 0;
	if (!nsid)
		len = 0;
	for (size_t i = 0; i < len; i++) {
		if (nsid[i] < 0x20 || nsid[i] > 0x7E) {
			printable = false;
			break;
		}
	}
	if (printable) {
		n = len < size - 1 ? len : size - 1;
		memcpy(buf, nsid, n);
	} else {
		/* whole bytes only: a cut never leaves half a byte */
		for (size_t i = 0; i < len && n + 2 < size; i++) {
			buf[n++] = HEX[nsid[i] >> 4];
			buf[n++] = HEX[nsid[i] & 0x0F];
		}
	}
	buf[n] = '\0';
	return n;
}

/* Big enough for every NSID dnsmsg keeps (DNSMSG_MAX_NSID) in hex. */
#define NSID_TEXT_SIZE (2 * DNSMSG_MAX_NSID + 1)

/* The instance as shown: NSID rendered as text, TXT bytes as they are.
 * Returns its length in bytes, *out points at it; 0 when unknown. */
static size_t instance_bytes(const struct result *r, char *buf, size_t size,
                             const uint8_t **out)
{
	*out = NULL;
	if (!r->instance || r->instance_len == 0 ||
	    !source_name(r->instance_source))
		return 0;
	if (r->instance_source == SOURCE_NSID) {
		size_t n =
		    report_nsid_text(buf, size, r->instance, r->instance_len);
		*out = (const uint8_t *)buf;
		return n;
	}
	*out = r->instance;
	return r->instance_len;
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
		lineproto_tag(lp, "family", family_name(s->family));
	}
	lineproto_tag(lp, "transport", transport_name(k->transport));
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
	lineproto_tag(lp, "domain", domain_name(q));
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
		    const_tag(arena, "result", result_name(k), &rep->result[k]);
	for (int k = SOURCE_NSID; k <= SOURCE_ID_SERVER && !rc; k++)
		rc = const_tag(arena, "instance_source", source_name(k),
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
	size_t inst_len = instance_bytes(r, nsid, nsid_size, &inst);
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

	if (r->error) {
		field_text(lp, "error", r->error);
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

/* ---- the text table ---- */

enum column {
	COL_TARGET,
	COL_SERVER,
	COL_FAMILY,
	COL_TRANSPORT,
	COL_PORT,
	COL_QUERY,
	COL_RESULT,
	COL_RCODE,
	COL_MS,
	COL_SERIAL,
	COL_INSTANCE,
	COL_IDENTITY,
	COL_FLAGS,
	N_COLUMNS
};

static const char *const HEADERS[N_COLUMNS] = {
    "target", "server", "family", "transport", "port",     "query", "result",
    "rcode",  "ms",     "serial", "instance",  "identity", "flags",
};

#define CELL_SIZE                                                              \
	256 /* a cell is cut at 255 bytes, on a character boundary             \
	     */

/* Append raw bytes to LP's buffer. The table is not line protocol, so
 * lineproto's writers do not fit; this grows lp->data the same way
 * (doubling, sticky lp->error). */
static void text_put(struct lineproto *lp, const char *s, size_t n)
{
	if (lp->error)
		return;
	if (lp->cap == 0 || n >= lp->cap - lp->len) {
		size_t cap = lp->cap ? lp->cap : 256;
		while (cap - lp->len <= n) {
			if (cap > SIZE_MAX / 2) {
				lp->error = -ENOMEM;
				return;
			}
			cap *= 2;
		}
		char *data = realloc(lp->data, cap);
		if (!data) {
			lp->error = -ENOMEM;
			return;
		}
		lp->data = data;
		lp->cap = cap;
	}
	memcpy(lp->data + lp->len, s, n);
	lp->len += n;
	lp->data[lp->len] = '\0';
}

static void text_pad(struct lineproto *lp, size_t n)
{
	static const char SPACES[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(SPACES) - 1 ? n : sizeof(SPACES) - 1;
		text_put(lp, SPACES, k);
		n -= k;
	}
}

/* Sanitised copy of a NUL-terminated string into a cell. */
static void cell_str(char *cell, const char *s, size_t max)
{
	lineproto_sanitize(cell, CELL_SIZE, (const uint8_t *)s,
	                   s ? strlen(s) : 0, max);
}

/* Build cell COL of R into CELL (CELL_SIZE bytes, sanitised UTF-8). */
static void cell_text(char *cell, const struct result *r, enum column col)
{
	char a[32], b[32], tmp[CELL_SIZE], nsid[NSID_TEXT_SIZE];
	char short_text[LINEPROTO_TAG_MAX + 1];
	const struct result_key *k = r->key;
	const uint8_t *inst;
	size_t n;

	switch (col) {
	case COL_TARGET:
		cell_str(cell, k && k->target ? k->target->name : "-",
		         SIZE_MAX);
		return;
	case COL_SERVER:
		cell_str(cell, k && k->server ? k->server->addr_text : "-",
		         SIZE_MAX);
		return;
	case COL_FAMILY:
		cell_str(cell,
		         or_dash(k && k->server ? family_name(k->server->family)
		                                : NULL),
		         SIZE_MAX);
		return;
	case COL_TRANSPORT:
		cell_str(cell, or_dash(k ? transport_name(k->transport) : NULL),
		         SIZE_MAX);
		return;
	case COL_PORT:
		if (k && k->port)
			*lineproto_put_dec(cell, k->port) = '\0';
		else
			snprintf(cell, CELL_SIZE, "-");
		return;
	case COL_QUERY:
		if (!r->query) {
			cell_str(cell, "-", SIZE_MAX);
			return;
		}
		/* class only when it is not IN: "hostname.bind TXT CH" */
		snprintf(
		    tmp, sizeof(tmp), "%s %s%s%s", domain_name(r->query),
		    or_dash(dnsmsg_type_name(r->query->type, a, sizeof(a))),
		    r->query->class == DNSMSG_CLASS_IN ? "" : " ",
		    r->query->class == DNSMSG_CLASS_IN
		        ? ""
		        : or_dash(dnsmsg_class_name(r->query->class, b,
		                                    sizeof(b))));
		cell_str(cell, tmp, SIZE_MAX);
		return;
	case COL_RESULT:
		/* the cause, when no rcode column explains it */
		if (r->kind == RESULT_ERROR && r->error)
			snprintf(tmp, sizeof(tmp), "error (%s)", r->error);
		else
			snprintf(tmp, sizeof(tmp), "%s", result_name(r->kind));
		cell_str(cell, tmp, SIZE_MAX);
		return;
	case COL_RCODE:
		cell_str(cell,
		         r->has_reply
		             ? dnsmsg_rcode_name(r->rcode, a, sizeof(a))
		             : "-",
		         SIZE_MAX);
		return;
	case COL_MS:
		if (r->rtt_ns >= 0 && r->kind != RESULT_TIMEOUT)
			snprintf(cell, CELL_SIZE, "%.3f",
			         (double)r->rtt_ns / 1e6);
		else
			snprintf(cell, CELL_SIZE, "-");
		return;
	case COL_SERIAL:
		if (r->has_serial)
			*lineproto_put_dec(cell, r->serial) = '\0';
		else
			snprintf(cell, CELL_SIZE, "-");
		return;
	case COL_IDENTITY:
		/* the TXT answer of an identity row, not the NSID */
		if (!r->identity) {
			snprintf(cell, CELL_SIZE, "-");
			return;
		}
		lineproto_sanitize(cell, CELL_SIZE, r->identity,
		                   r->identity_len, LINEPROTO_TAG_MAX);
		if (!cell[0])
			snprintf(cell, CELL_SIZE, "\"\"");
		return;
	case COL_FLAGS:
		n = 0;
		cell[0] = '\0';
		if (r->has_reply && r->aa)
			n += (size_t)snprintf(cell + n, CELL_SIZE - n, "aa");
		if (r->has_reply && r->tc)
			n += (size_t)snprintf(cell + n, CELL_SIZE - n, "%stc",
			                      n ? "," : "");
		if (r->attempts > 1)
			n += (size_t)snprintf(cell + n, CELL_SIZE - n,
			                      "%stries=%u", n ? "," : "",
			                      r->attempts);
		if (n == 0)
			snprintf(cell, CELL_SIZE, "-");
		return;
	case COL_INSTANCE:
		n = instance_bytes(r, nsid, sizeof(nsid), &inst);
		if (n == 0) {
			snprintf(cell, CELL_SIZE, "-");
			return;
		}
		lineproto_sanitize(short_text, sizeof(short_text), inst, n,
		                   LINEPROTO_TAG_MAX);
		snprintf(cell, CELL_SIZE, "%s (%s%s)", short_text,
		         source_name(r->instance_source),
		         r->instance_changed == 1 ? ", changed" : "");
		return;
	case N_COLUMNS:
		break;
	}
	cell[0] = '\0';
}

/* Display width: characters, not bytes (cells are valid UTF-8). */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void text_row(struct lineproto *lp, char cells[N_COLUMNS][CELL_SIZE],
                     const size_t widths[N_COLUMNS],
                     const bool shown[N_COLUMNS])
{
	int last = N_COLUMNS - 1;

	while (last > 0 && !shown[last])
		last--;
	for (int c = 0; c < N_COLUMNS; c++) {
		size_t w = width(cells[c]);
		bool right = c == COL_MS || c == COL_SERIAL || c == COL_PORT;

		if (!shown[c])
			continue;
		if (right) /* numbers right-aligned */
			text_pad(lp, widths[c] - w);
		text_put(lp, cells[c], strlen(cells[c]));
		if (c == last)
			break;
		text_pad(lp, (right ? 0 : widths[c] - w) + 2);
	}
	text_put(lp, "\n", 1);
}

/* "# 2026-12-01 12:00:00.123 UTC" */
static void text_title(struct lineproto *lp, int64_t wall_ns)
{
	char buf[64];
	struct tm tm;
	time_t secs = (time_t)(wall_ns / NS_PER_SEC);
	size_t n;

	if (!gmtime_r(&secs, &tm))
		return;
	n = strftime(buf, sizeof(buf), "# %Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		return;
	snprintf(buf + n, sizeof(buf) - n, ".%03d UTC\n",
	         (int)(wall_ns % NS_PER_SEC / NS_PER_MS));
	text_put(lp, buf, strlen(buf));
}

int report_text(struct lineproto *lp, const struct result *results, size_t n,
                int64_t wall_ns)
{
	char cells[N_COLUMNS][CELL_SIZE];
	size_t widths[N_COLUMNS];
	bool shown[N_COLUMNS];

	if (!lp || (!results && n > 0))
		return -EINVAL;
	if (wall_ns > 0)
		text_title(lp, wall_ns);
	/* pass 1: the widest cell of each column; the port column only when
	 * some port is not its transport's default */
	for (int c = 0; c < N_COLUMNS; c++) {
		widths[c] = width(HEADERS[c]);
		shown[c] = c != COL_PORT;
	}
	for (size_t i = 0; i < n; i++) {
		const struct result *r = &results[i];

		if (r->key && r->key->transport < transport_count &&
		    r->key->port &&
		    r->key->port !=
		        transport_table[r->key->transport].default_port)
			shown[COL_PORT] = true;
		for (int c = 0; c < N_COLUMNS; c++) {
			cell_text(cells[c], r, (enum column)c);
			size_t w = width(cells[c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	/* pass 2: write */
	for (int c = 0; c < N_COLUMNS; c++)
		snprintf(cells[c], CELL_SIZE, "%s", HEADERS[c]);
	text_row(lp, cells, widths, shown);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < N_COLUMNS; c++)
			cell_text(cells[c], &results[i], (enum column)c);
		text_row(lp, cells, widths, shown);
	}
	return lp->error;
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
