/*
 * dnssec_int: what dnssec.c (the pass: which RRsets must be signed, the
 * verdicts) and dnssec_cache.c (checks and verdicts remembered) share:
 * the verdicts, the two caches and struct dnssec. Not a module interface:
 * only those two files include it.
 */
#ifndef ANYCAST_PROBE_DNSSEC_INT_H
#define ANYCAST_PROBE_DNSSEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "conf.h"
#include "dnssec_anchor.h"
#include "result.h"

/* Verdicts on an RRset; a larger value is the more telling error, the one a
 * row reports. V_ANCHOR only ever comes from the DNSKEY set. */
enum verr {
	V_OK = 0,
	V_NOSIG,
	V_ANCHOR,
	V_UNSUPPORTED,
	V_NOKEY,
	V_BAD,
	V_NOT_YET,
	V_EXPIRED,
};

/* Signature checks already made: the crypto result of (RRset, RRSIG, key
 * set) is a function of their bytes alone, and an anycast service hands the
 * same signed RRsets to every address and transport, round after round.
 * Entries are replaced round-robin. The time check is not cached. */
#define VCACHE 256

struct vcache_entry {
	uint64_t hash;
	uint8_t *bytes; /* the RRset, the RRSIG and the keys in wire form */
	size_t len;
	ldns_status st; /* ldns_verify_rrsig_keylist_notime() */
};

/* This round's verdicts by response: the rows of every address and
 * transport of a service usually carry byte-identical responses (but for
 * the ID), and a row's verdict depends only on the anchor, its response
 * and the group's DNSKEY response (and the round's clock). A row whose
 * pair was seen this round copies the verdict instead of decoding and
 * checking again. Open addressing, a few probes; when full, rows are
 * simply checked. Responses are compared byte for byte, not by hash. */
#define MEMO 4096 /* a power of 2 */
#define MEMO_PROBES 8

struct memo {
	const struct anchor *a;
	const uint8_t *wire, *kwire; /* kwire NULL: the DNSKEY row itself */
	uint32_t len, klen;
	uint64_t hash;
	const char *error;
	const char *tags;
	int32_t expires_in_s;
	uint8_t tag;
	bool used, usable, has_expiry;
};

struct dnssec {
	const struct conf *conf;
	struct anchor *anchors; /* one per conf->targets[i] */
	char **tags;            /* this round's dnskey_tags strings */
	size_t n_tags, cap_tags;
	struct vcache_entry cache[VCACHE];
	size_t cache_next;
	ldns_buffer *scratch;
	struct memo *memo; /* MEMO entries; NULL: no memo */
};

/* ldns_verify_rrsig_keylist_notime(), remembered in D's cache. */
ldns_status dnssec_verify_notime(struct dnssec *d, const ldns_rr_list *rrset,
                                 const ldns_rr *sig, const ldns_rr_list *keys);

/* The hash a memo entry is found by: the response but its ID. */
uint64_t dnssec_wire_hash(const uint8_t *w, uint32_t len);
/* The memo entry for (A, KWIRE, WIRE) with hash H, found (->used) or free
 * to fill; NULL when its probes are all taken by others (or no memo). IDs
 * are not compared. KWIRE NULL: the DNSKEY row itself. */
struct memo *dnssec_memo_slot(struct dnssec *d, const struct anchor *a,
                              const uint8_t *kwire, uint32_t klen,
                              const uint8_t *wire, uint32_t len, uint64_t h);
/* Fill M with R's verdict, or copy M's verdict onto R. */
void dnssec_memo_store(struct memo *m, const struct anchor *a,
                       const uint8_t *kwire, uint32_t klen,
                       const struct result *r, uint64_t h, bool usable,
                       bool expiry);
void dnssec_memo_apply(const struct memo *m, struct result *r);

#endif
