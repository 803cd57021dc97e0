/*
 * row: a finished attempt into its row; see include/row.h. It copies from
 * the parsed reply (dnsmsg) only what the row prints, never the reply.
 */
#include "row.h"

#include <string.h>

#include "conf.h"
#include "dnsmsg.h"

bool row_rcode_expected(const struct conf_query *q, int rcode)
{
	uint32_t expect = q->expect_rcodes ? q->expect_rcodes : 1;

	return rcode >= 0 && rcode < 32 && (expect >> rcode) & 1;
}

struct result_ext *row_ext(struct result *r, struct arena *arena)
{
	if (r->ext == NULL && (r->ext = arena_alloc(arena, sizeof(*r->ext))))
		memset(r->ext, 0, sizeof(*r->ext));
	return r->ext;
}

static uint16_t clamp16(size_t v)
{
	return v > 65535 ? 65535 : (uint16_t)v;
}

/* A copy of SRC in ARENA, or the cached one when the bytes are the same. */
static const uint8_t *copy_once(struct arena *arena, const uint8_t **last,
                                size_t *last_len, const uint8_t *src,
                                size_t len)
{
	if (*last != NULL && *last_len == len && memcmp(*last, src, len) == 0)
		return *last;
	*last = arena_copy(arena, src, len);
	*last_len = *last ? len : 0;
	return *last;
}

enum result_kind row_fill(struct result *r, const struct tr_done *d,
                          struct arena *arena, struct row_cache *cache)
{
	const struct dnsmsg_reply *m = d->reply;

	if (d->conn != NULL && row_ext(r, arena) != NULL)
		r->ext->conn = d->conn;
	/* Also on errors: an "http status 404" row says http_status=404. */
	r->http_status = (uint16_t)d->http_status;
	r->cookie = d->cookie;
	if (d->err != 0 || m == NULL) {
		r->hop_limit = -1;
		r->rtt_ns = -1;
		result_set_error(r, d->error ? d->error : "network error");
		return RESULT_ERROR;
	}
	r->has_reply = true;
	r->rtt_ns = d->rtt_ns;
	r->rcode = (uint16_t)m->rcode;
	r->aa = m->aa;
	r->tc = m->tc;
	r->answers = clamp16(m->ancount);
	r->response_bytes = clamp16(m->size);
	r->has_serial = m->has_serial;
	r->serial = m->serial;
	r->hop_limit = (int16_t)d->hop_limit;
	if (m->has_nsid) {
		r->nsid = copy_once(arena, &cache->nsid, &cache->nsid_len,
		                    m->nsid, m->nsid_len);
		r->nsid_len = r->nsid ? clamp16(m->nsid_len) : 0;
	}
	if (r->query->identity && m->has_txt && m->rcode == 0) {
		r->identity = copy_once(arena, &cache->txt, &cache->txt_len,
		                        m->txt, m->txt_len);
		r->identity_len = r->identity ? clamp16(m->txt_len) : 0;
	}
	if (r->key->target->trust_anchor != NULL && d->wire != NULL &&
	    row_ext(r, arena) != NULL) {
		r->ext->wire = arena_copy(arena, d->wire, d->wire_len);
		r->ext->wire_len = r->ext->wire ? (uint32_t)d->wire_len : 0;
	}
	if (m->has_rrsig && row_ext(r, arena) != NULL) { /* dnssec = yes */
		r->ext->has_rrsig_expiry = true;
		r->ext->rrsig_expires_in_s = (int32_t)dnsmsg_rrsig_expires_in(
		    m->rrsig_expire_min, r->timestamp_ns / 1000000000);
	}
	return row_rcode_expected(r->query, m->rcode) ? RESULT_SUCCESS
	                                              : RESULT_ERROR;
}

/* ---- the round's error texts ------------------------------------------ */

const char *result_error_texts[RESULT_ERRORS];
static unsigned n_error_texts; /* used: 1 .. n_error_texts */

#define OTHER_ERROR (RESULT_ERRORS - 1)

void result_errors_reset(void)
{
	n_error_texts = 0;
}

void result_set_error(struct result *r, const char *text)
{
	unsigned i;

	if (text == NULL) {
		r->error_id = 0;
		return;
	}
	/* Few distinct texts a round: pointers first, then contents. */
	for (i = 1; i <= n_error_texts; i++)
		if (result_error_texts[i] == text)
			break;
	if (i > n_error_texts)
		for (i = 1; i <= n_error_texts; i++)
			if (strcmp(result_error_texts[i], text) == 0)
				break;
	if (i > n_error_texts) {
		if (n_error_texts + 1 < OTHER_ERROR) {
			result_error_texts[++n_error_texts] = text;
		} else {
			result_error_texts[OTHER_ERROR] = "other error";
			i = OTHER_ERROR;
		}
	}
	r->error_id = (uint8_t)i;
}
