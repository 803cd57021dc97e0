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

int report_line(struct lineproto *lp, const struct conf *conf,
                const struct result *r)
{
	char name[32], nsid[NSID_TEXT_SIZE];
	const uint8_t *inst;

	if (!lp || !conf || !r)
		return -EINVAL;

	lineproto_begin(lp, conf->measurement ? conf->measurement
	                                      : CONF_DEFAULT_MEASUREMENT);
	if (r->key->target)
		lineproto_tag(lp, "target", r->key->target->name);
	if (r->key->server) {
		lineproto_tag(lp, "server", r->key->server->addr_text);
		lineproto_tag(lp, "server_name", r->key->server->name);
		lineproto_tag(lp, "family", family_name(r->key->server->family));
	}
	lineproto_tag(lp, "transport", transport_name(r->key->transport));
	if (r->query) {
		lineproto_tag(lp, "domain", domain_name(r->query));
		lineproto_tag(
		    lp, "record_type",
		    dnsmsg_type_name(r->query->type, name, sizeof(name)));
		lineproto_tag(
		    lp, "class",
		    dnsmsg_class_name(r->query->class, name, sizeof(name)));
	}
	lineproto_tag(lp, "result", result_name(r->kind));
	if (r->has_reply)
		lineproto_tag(lp, "rcode",
		              dnsmsg_rcode_name(r->rcode, name, sizeof(name)));
	size_t inst_len = instance_bytes(r, nsid, sizeof(nsid), &inst);
	if (inst_len > 0) {
		lineproto_tag_untrusted(lp, "instance", inst, inst_len);
		lineproto_tag(lp, "instance_source",
		              source_name(r->instance_source));
	}
	extra_tags(lp, conf, r->key->target);

	if (r->rtt_ns >= 0 && r->kind != RESULT_TIMEOUT)
		lineproto_field_float(lp, "query_time_ms",
		                      (double)r->rtt_ns / 1e6);
	lineproto_field_int(lp, "result_code", (int64_t)r->kind);
	if (r->has_reply)
		lineproto_field_int(lp, "rcode_value", r->rcode);
	lineproto_field_int(lp, "attempts", r->attempts);
	if (r->has_reply) {
		lineproto_field_int(lp, "answers", r->answers);
		lineproto_field_int(lp, "response_bytes", r->response_bytes);
		lineproto_field_bool(lp, "aa", r->aa);
		lineproto_field_bool(lp, "tc", r->tc);
	}
	if (r->nsid) {
		size_t n =
		    report_nsid_text(nsid, sizeof(nsid), r->nsid, r->nsid_len);
		lineproto_field_string(lp, "nsid", (const uint8_t *)nsid, n);
	}
	if (r->identity)
		lineproto_field_string(lp, "identity", r->identity,
		                       r->identity_len);
	if (r->has_serial)
		lineproto_field_int(lp, "serial", r->serial);
	if (r->hop_limit >= 0)
		lineproto_field_int(lp, "hop_limit", r->hop_limit);
	if (result_conn(r) && result_conn(r)->connect_ns >= 0)
		lineproto_field_float(lp, "connect_ms",
		                      (double)result_conn(r)->connect_ns / 1e6);
	if (r->instance_changed != -1)
		lineproto_field_bool(lp, "instance_changed",
		                     r->instance_changed == 1);
	if (r->kind == RESULT_ERROR) {
		char cause[128];
		if (r->error) {
			snprintf(cause, sizeof(cause), "%s", r->error);
		} else if (r->has_reply) {
			snprintf(cause, sizeof(cause), "rcode %s",
			         or_dash(dnsmsg_rcode_name(r->rcode, name,
			                                   sizeof(name))));
		} else {
			snprintf(cause, sizeof(cause), "unknown error");
		}
		lineproto_field_string(lp, "error", (const uint8_t *)cause,
		                       strlen(cause));
	}
	return lineproto_end(lp, r->timestamp_ns);
}

/* ---- the text table ---- */

enum column {
	COL_TARGET,
	COL_SERVER,
	COL_TRANSPORT,
	COL_QUERY,
	COL_RESULT,
	COL_RCODE,
	COL_MS,
	COL_INSTANCE,
	N_COLUMNS
};

static const char *const HEADERS[N_COLUMNS] = {
    "target", "server", "transport", "query",
    "result", "rcode",  "ms",        "instance",
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
	const uint8_t *inst;
	size_t n;

	switch (col) {
	case COL_TARGET:
		cell_str(cell, r->key->target ? r->key->target->name : "-", SIZE_MAX);
		return;
	case COL_SERVER:
		cell_str(cell, r->key->server ? r->key->server->addr_text : "-",
		         SIZE_MAX);
		return;
	case COL_TRANSPORT:
		cell_str(cell, transport_name(r->key->transport), SIZE_MAX);
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
                     const size_t widths[N_COLUMNS])
{
	for (int c = 0; c < N_COLUMNS; c++) {
		size_t w = width(cells[c]);
		bool last = c == N_COLUMNS - 1;
		if (c == COL_MS) /* numbers right-aligned */
			text_pad(lp, widths[c] - w);
		text_put(lp, cells[c], strlen(cells[c]));
		if (last)
			break;
		text_pad(lp, (c == COL_MS ? 0 : widths[c] - w) + 2);
	}
	text_put(lp, "\n", 1);
}

int report_text(struct lineproto *lp, const struct result *results, size_t n)
{
	char cells[N_COLUMNS][CELL_SIZE];
	size_t widths[N_COLUMNS];

	if (!lp || (!results && n > 0))
		return -EINVAL;
	/* pass 1: the widest cell of each column */
	for (int c = 0; c < N_COLUMNS; c++)
		widths[c] = width(HEADERS[c]);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < N_COLUMNS; c++) {
			cell_text(cells[c], &results[i], (enum column)c);
			size_t w = width(cells[c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	/* pass 2: write */
	for (int c = 0; c < N_COLUMNS; c++)
		snprintf(cells[c], CELL_SIZE, "%s", HEADERS[c]);
	text_row(lp, cells, widths);
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < N_COLUMNS; c++)
			cell_text(cells[c], &results[i], (enum column)c);
		text_row(lp, cells, widths);
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
