/*
 * dnssec_anchor: trust anchors for the DNSSEC pass: a target's
 * `trust_anchor` file (DS or DNSKEY records in zone-file format) read with
 * ldns and checked (owner is the zone, DNSKEYs carry the Zone Key flag),
 * every problem as FILE:LINE; and whether a DNSKEY matches the anchor.
 */
#ifndef ANYCAST_PROBE_DNSSEC_ANCHOR_H
#define ANYCAST_PROBE_DNSSEC_ANCHOR_H

#include <stdbool.h>
#include <stdio.h>

#include <ldns/ldns.h>

struct anchor {
	ldns_rdf *zone;    /* NULL: the target has no trust anchor */
	ldns_rr_list *rrs; /* its DS and DNSKEY records */
};

/* Load PATH's records for ZONE (NULL: the anchor's owner) into A. CTX
 * prefixes the messages about the file as a whole ("probe.conf:3: target
 * x"); those about a record are "PATH:LINE: message", to ERR. Returns 0,
 * -EINVAL or -ENOMEM; A must be cleared either way. */
int dnssec_anchor_load(struct anchor *a, const char *path, const char *zone,
                       const char *ctx, FILE *err);
void dnssec_anchor_clear(struct anchor *a);

/* KEY (a DNSKEY) matches A: a DS digest of it, or the same DNSKEY. */
bool dnssec_anchor_matches(const struct anchor *a, const ldns_rr *key);

#endif
