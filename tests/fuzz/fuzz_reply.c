/*
 * libFuzzer target for dnsmsg_reply_parse: any bytes, as a hostile server
 * might send them. Two oracles: the promises of dnsmsg.h on every input,
 * and ldns's own decoder (ldns_wire2pkt) on every input both accept and
 * that is not truncated: header, question, answer count and SOA serial
 * must agree. `make fuzz` builds and runs it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dnsmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void compare_with_ldns(const uint8_t *data, size_t size,
                              const struct dnsmsg_reply *r)
{
	ldns_pkt *pkt = NULL;

	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return; /* ldns is stricter about some RDATA: not a finding */
	if (ldns_pkt_id(pkt) != r->id || ldns_pkt_aa(pkt) != r->aa ||
	    ldns_pkt_tc(pkt) != r->tc ||
	    ldns_pkt_ancount(pkt) != r->ancount)
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
		    (!r->has_serial || ldns_rdf2native_int32(serial) != r->serial))
			abort();
		break;
	}
	ldns_pkt_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsmsg_reply r;
	int rc = dnsmsg_reply_parse(data, size, &r);

	/* What the parser promises, checked on every input. */
	if ((rc != 0 && rc != -EBADMSG) || r.size != size ||
	    r.nsid_len > DNSMSG_MAX_NSID || r.txt_len > DNSMSG_MAX_TXT ||
	    r.qname_len > DNSMSG_MAX_NAME || (rc == 0 && !r.qr))
		abort();
	if (rc == 0 && !r.tc)
		compare_with_ldns(data, size, &r);
	return 0;
}
