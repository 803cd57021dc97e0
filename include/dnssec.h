/*
 * dnssec: the DNSSEC pass after a round. Loads every target's trust_anchor
 * at start-up; after each round checks, per (target, address, transport),
 * the DNSKEY set that address returned against the anchor, and the RRSIGs
 * of every other answer of that group against that DNSKEY set, with ldns's
 * verification functions. It sends nothing: the round's DNSKEY row (the
 * `ZONE DNSKEY` query conf adds per target with a trust anchor) brings the
 * keys. One of the only files that include ldns (with dnsmsg*.c).
 *
 * What the tag means (the `dnssec` tag, enum result_dnssec):
 *  - absent: the target has no trust anchor; or the row has nothing the
 *    anchor speaks for (no response, a response that is not NOERROR or
 *    NXDOMAIN, a CHAOS identity query, a name outside the zone); or the
 *    group's DNSKEY query got no usable answer (timeout, error, TC): then
 *    nothing can be checked, and result/tc of the DNSKEY row say why.
 *  - secure: every RRset of the zone that the answer carries (the answer
 *    section; for a negative answer its SOA, NSEC and NSEC3; for a
 *    referral its DS) has a signature that verifies now with a key of the
 *    group's DNSKEY set, and that set is signed by a key the anchor names.
 *  - insecure: a referral to an unsigned child: the delegation carries no
 *    DS, and the NSEC/NSEC3 that says so verifies as above. (Denial proofs
 *    are not checked beyond their signatures.)
 *  - bogus, with dnssec_error: anything else. An unsigned answer from a
 *    zone with a trust anchor is bogus ("no signature").
 * dnssec_error is the first that applies of: "signature expired",
 * "signature not yet valid", "bad signature" (a key of the set has the
 * signature's tag but the signature does not verify), "no DNSKEY for the
 * signature" (no key of the set has its tag and algorithm), "unsupported
 * algorithm", "no signature"; then, for a row whose own signatures are
 * fine, the DNSKEY set's problem: "no DNSKEY matches the trust anchor", or
 * the error of the set's own signature.
 */
#ifndef ANYCAST_PROBE_DNSSEC_H
#define ANYCAST_PROBE_DNSSEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct conf;
struct result;
struct dnssec;

/* Load the trust_anchor file of every target that has one: DS or DNSKEY
 * records in zone-file format ($ORIGIN, $TTL, comments), owned by the
 * target's zone (its `zone`, else the anchor's owner is the zone). Returns
 * 0 with *out set (also when no target has an anchor), or -EINVAL after
 * printing every problem to ERR as "FILE:LINE: message", or -ENOMEM. */
int dnssec_new(struct dnssec **out, const struct conf *conf, FILE *err);

/* The pass after a round. ROWS are the round's N rows in plan order: the
 * rows of one (target, server, transport) are adjacent and share one
 * result_key, and the group's DNSKEY row has query->dnskey. Rows of
 * targets with a trust anchor have an ext carrying their raw response
 * (ext->wire); rows without an ext are left alone. Sets dnssec and, in
 * ext, dnssec_error, has_rrsig_expiry and rrsig_expires_in_s on the rows
 * it checks, and dnskey_tags on DNSKEY rows: strings owned by D, valid
 * until the next round begins or dnssec_free. NOW_WALL_NS is CLOCK_REALTIME
 * (signatures carry wall-clock times). Linear in N (plus ldns's work per
 * response). dnssec_round() is dnssec_begin() and dnssec_rows() on a whole
 * round; a round's rows may also come in several dnssec_rows() calls of
 * whole groups (probe hands each group over as it ends). */
void dnssec_round(struct dnssec *d, struct result *rows, size_t n,
                  int64_t now_wall_ns);
void dnssec_rows(struct dnssec *d, struct result *rows, size_t n,
                 int64_t now_wall_ns);
/* A round begins (CTX is the struct dnssec): the last round's dnskey_tags
 * strings and per-round memo are gone. */
void dnssec_begin(void *ctx);

/* dnssec_rows() as a pass for probe_add_pass() (with dnssec_begin): CTX is
 * the struct dnssec, the clock CLOCK_REALTIME now. */
void dnssec_pass(void *ctx, struct result *rows, size_t n);

/* The same checks on one file, for conf's conf_trust_anchor_check hook
 * (conf reports MSG at the trust_anchor line, also for --check-config):
 * 0 when PATH holds usable DS or DNSKEY records for ZONE (NULL: any one
 * owner), else -1 with the first problem in MSG ("/x.ds:3: not a DS or
 * DNSKEY record", "cannot read trust_anchor /x.ds: No such file ..."). */
int dnssec_anchor_check(const char *path, const char *zone, char *msg,
                        size_t msg_len);

void dnssec_free(struct dnssec *d); /* NULL is fine */

#endif
