/*
 * report_text: the --format text table (an aligned table per round with a
 * timestamp title, one row per result, columns padded by character count)
 * and how NSID bytes are shown (text when printable, else hex).
 * Everything from the network goes through lineproto's sanitising, as in
 * the line protocol.
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
#include "report_int.h"
#include "transport.h"

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

/* The instance as shown: NSID rendered as text, TXT bytes as they are.
 * Returns its length in bytes, *out points at it; 0 when unknown. */
size_t report_instance_bytes(const struct result *r, char *buf, size_t size,
                             const uint8_t **out)
{
	*out = NULL;
	if (!r->instance || r->instance_len == 0 ||
	    !report_source_name(r->instance_source))
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

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

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
		         or_dash(k && k->server ? report_family_name(k->server->family)
		                                : NULL),
		         SIZE_MAX);
		return;
	case COL_TRANSPORT:
		cell_str(cell, or_dash(k ? report_transport_name(k->transport) : NULL),
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
		    tmp, sizeof(tmp), "%s %s%s%s", report_domain_name(r->query),
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
		if (r->kind == RESULT_ERROR && result_error(r))
			snprintf(tmp, sizeof(tmp), "error (%s)", result_error(r));
		else
			snprintf(tmp, sizeof(tmp), "%s", report_result_name(r->kind));
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
		n = report_instance_bytes(r, nsid, sizeof(nsid), &inst);
		if (n == 0) {
			snprintf(cell, CELL_SIZE, "-");
			return;
		}
		lineproto_sanitize(short_text, sizeof(short_text), inst, n,
		                   LINEPROTO_TAG_MAX);
		snprintf(cell, CELL_SIZE, "%s (%s%s)", short_text,
		         report_source_name(r->instance_source),
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

