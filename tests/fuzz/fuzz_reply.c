/*
 * libFuzzer target for dnsmsg_reply_parse: any bytes, as a hostile server
 * might send them. Two oracles: the promises of dnsmsg.h on every input,
 * and ldns's own decoder (ldns_wire2pkt) on every input both accept and
 * that is not truncated: header, question, answer count, SOA serial and
 * the earliest answer RRSIG expiration must agree. `make fuzz` builds and runs
 * it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Skip the name at *pos (labels up to the root or a pointer). */
static int skip_name(const uint8_t *d, size_t size, size_t *pos)
{
	while (*pos < size) {
		uint8_t c = d[*pos];

		if ((c & 0xC0) == 0xC0) {
			*pos += 2;
			return *pos <= size ? 0 : -1;
		}
		*pos += 1 + (size_t)c;
		if (c == 0)
			return 0;
	}
	return -1;
}

/* ldns_wire2pkt continues after the last RDATA field it knows, not at the
 * end of RDLENGTH (an A record with 6 bytes of RDATA: it reads the next
 * RR from the fifth byte), so on such input it sees other records than the
 * wire holds. True when ldns's answer RR types are the ones the RDLENGTHs
 * delimit; only then are the two parsers' values comparable. */
static bool ldns_saw_the_wire(const uint8_t *d, size_t size, ldns_pkt *pkt)
{
	size_t pos = 12;
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	for (unsigned i = 0; i < ldns_pkt_qdcount(pkt); i++) {
		if (skip_name(d, size, &pos) < 0)
			return false;
		pos += 4;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		if (skip_name(d, size, &pos) < 0 || pos + 10 > size)
			return false;
		uint16_t type = (uint16_t)(d[pos] << 8 | d[pos + 1]);
		size_t rdlen = (size_t)(d[pos + 8] << 8 | d[pos + 9]);

		if (type != (uint16_t)ldns_rr_get_type(ldns_rr_list_rr(an, i)))
			return false;
		pos += 10 + rdlen;
	}
	return true;
}

static void compare_with_ldns(const uint8_t *data, size_t size,
                              const struct dnsmsg_reply *r)
{
	ldns_pkt *pkt = NULL;

	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return; /* ldns is stricter about some RDATA: not a finding */
	if (!ldns_saw_the_wire(data, size, pkt)) {
		ldns_pkt_free(pkt);
		return; /* ldns misread the RDATA lengths: not a finding */
	}
	if (ldns_pkt_id(pkt) != r->id || ldns_pkt_aa(pkt) != r->aa ||
	    ldns_pkt_tc(pkt) != r->tc || ldns_pkt_ancount(pkt) != r->ancount)
		abort();
	/* The rcode's low 4 bits are the header's, whatever EDNS adds. */
	if ((ldns_pkt_get_rcode(pkt) & 0xf) != (r->rcode & 0xf))
		abort();
	if (ldns_pkt_qdcount(pkt) == 1 && r->has_question) {
		ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
		ldns_rdf *owner = ldns_rr_owner(q);

		if ((uint16_t)ldns_rr_get_type(q) != r->qtype ||
		    (uint16_t)ldns_rr_get_class(q) != r->qclass ||
		    ldns_rdf_size(owner) != r->qname_len)
			abort();
		/* Same name, case aside: ours is lower-cased. */
		for (size_t i = 0; i < r->qname_len; i++) {
			uint8_t a = ldns_rdf_data(owner)[i], b = r->qname[i];

			if (a >= 'A' && a <= 'Z')
				a = (uint8_t)(a + 32);
			if (a != b)
				abort();
		}
	}
	/* An SOA first in the answer section: the same serial. */
	ldns_rr_list *an = ldns_pkt_answer(pkt);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA)
			continue;
		ldns_rdf *serial = ldns_rr_rdf(rr, 2);

		if (serial && ldns_rdf_size(serial) == 4 &&
		    (!r->has_serial ||
		     ldns_rdf2native_int32(serial) != r->serial))
			abort();
		break;
	}
	/* Answer RRSIGs: the same count, and the same earliest expiration
	 * (serial arithmetic, RFC 4034 3.1.5) where ldns decoded it. */
	unsigned sigs = 0;
	uint32_t min = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		ldns_rdf *exp = ldns_rr_rrsig_expiration(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG)
			continue;
		/* ldns keeps an RRSIG shorter than its fixed part, with
		 * fields missing; ours rejects the message, so here the
		 * expiration and the signer are always there. */
		if (exp == NULL || ldns_rdf_size(exp) != 4 ||
		    ldns_rr_rrsig_signame(rr) == NULL)
			abort();
		uint32_t e = ldns_rdf2native_int32(exp);

		if (sigs == 0 || (int32_t)(e - min) < 0)
			min = e;
		sigs++;
	}
	if (sigs != r->rrsig_count || (sigs > 0) != r->has_rrsig ||
	    (sigs > 0 && min != r->rrsig_expire_min))
		abort();
	ldns_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmsg_reply r;
	int rc = dnsmsg_reply_parse(data, size, &r);

	/* What the parser promises, checked on every input. */
	if ((rc != 0 && rc != -EBADMSG) || r.size != size ||
	    r.nsid_len > DNSMSG_MAX_NSID || r.txt_len > DNSMSG_MAX_TXT ||
	    r.qname_len > DNSMSG_MAX_NAME || (rc == 0 && !r.qr) ||
	    r.rrsig_count > r.ancount || (r.rrsig_count > 0) != r.has_rrsig)
		abort();
	if (rc == 0 && !r.tc)
		compare_with_ldns(data, size, &r);
	return 0;
}
