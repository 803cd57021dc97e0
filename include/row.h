/*
 * row: what a finished attempt writes into its row (struct result): the
 * reply's header values, NSID and identity copied into the round's arena,
 * the raw response for the DNSSEC pass, the connection's details, and
 * whether the rcode is one the query expects. The scheduler decides when;
 * this file knows what goes where.
 */
#ifndef ANYCAST_PROBE_ROW_H
#define ANYCAST_PROBE_ROW_H

#include "arena.h"
#include "result.h"
#include "transport.h"

/* The last NSID and TXT copied this round: an anycast instance sends the
 * same bytes in every reply, so rows share one copy. Zero it when ARENA is
 * reset. */
struct row_cache {
	const uint8_t *nsid, *txt;
	size_t nsid_len, txt_len;
};

/* Fill R from D. Returns the row's kind: RESULT_SUCCESS when a response
 * with an expected rcode arrived, else RESULT_ERROR (with r->error set when
 * no rcode explains it). */
enum result_kind row_fill(struct result *r, const struct tr_done *d,
                          struct arena *arena, struct row_cache *cache);

/* The row's ext, allocated (zeroed) from ARENA when it has none; NULL when
 * out of memory. */
struct result_ext *row_ext(struct result *r, struct arena *arena);

/* True when RCODE is one of Q's expected rcodes (NOERROR by default). */
bool row_rcode_expected(const struct conf_query *q, int rcode);

#endif
