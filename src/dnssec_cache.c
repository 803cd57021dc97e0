/*
 * dnssec_cache: what the DNSSEC pass remembers (see dnssec_int.h): the
 * crypto result of signature checks across rounds, and this round's
 * verdicts by response. It decides nothing: dnssec.c does.
 */
#include "dnssec_int.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

ldns_status dnssec_verify_notime(struct dnssec *d, const ldns_rr_list *rrset,
                                 const ldns_rr *sig, const ldns_rr_list *keys)
{
	ldns_buffer *b = d->scratch;
	bool cacheable = b != NULL;

	if (cacheable) {
		ldns_buffer_clear(b);
		for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); i++)
			ldns_rr2buffer_wire(b, ldns_rr_list_rr(rrset, i),
			                    LDNS_SECTION_ANSWER);
		ldns_rr2buffer_wire(b, sig, LDNS_SECTION_ANSWER);
		for (size_t i = 0; i < ldns_rr_list_rr_count(keys); i++)
			ldns_rr2buffer_wire(b, ldns_rr_list_rr(keys, i),
			                    LDNS_SECTION_ANSWER);
		cacheable = ldns_buffer_status_ok(b);
	}
	const uint8_t *bytes = cacheable ? ldns_buffer_begin(b) : NULL;
	size_t len = cacheable ? ldns_buffer_position(b) : 0;
	uint64_t h = cacheable ? hash_fnv(HASH_FNV_OFFSET, bytes, len) : 0;

	for (size_t i = 0; cacheable && i < VCACHE; i++) {
		const struct vcache_entry *e = &d->cache[i];
		if (e->bytes != NULL && e->hash == h && e->len == len &&
		    memcmp(e->bytes, bytes, len) == 0)
			return e->st;
	}
	ldns_status st =
	    ldns_verify_rrsig_keylist_notime(rrset, sig, keys, NULL);
	uint8_t *copy = cacheable ? malloc(len) : NULL;
	if (copy != NULL) {
		struct vcache_entry *e = &d->cache[d->cache_next];
		memcpy(copy, bytes, len);
		free(e->bytes);
		*e = (struct vcache_entry){h, copy, len, st};
		d->cache_next = (d->cache_next + 1) % VCACHE;
	}
	return st;
}

struct memo *dnssec_memo_slot(struct dnssec *d, const struct anchor *a,
                              const uint8_t *kwire, uint32_t klen,
                              const uint8_t *wire, uint32_t len, uint64_t h)
{
	if (d->memo == NULL || len < 12 || (kwire != NULL && klen < 12))
		return NULL;
	for (size_t i = 0; i < MEMO_PROBES; i++) {
		struct memo *m = &d->memo[(h + i) & (MEMO - 1)];
		if (!m->used)
			return m;
		if (m->hash == h && m->a == a && m->len == len &&
		    m->klen == klen && (m->kwire == NULL) == (kwire == NULL) &&
		    memcmp(m->wire + 2, wire + 2, len - 2) == 0 &&
		    (kwire == NULL ||
		     memcmp(m->kwire + 2, kwire + 2, klen - 2) == 0))
			return m;
	}
	return NULL;
}

uint64_t dnssec_wire_hash(const uint8_t *w, uint32_t len)
{
	return len < 12 ? 0 : hash_fnv(HASH_FNV_OFFSET, w + 2, len - 2);
}

void dnssec_memo_store(struct memo *m, const struct anchor *a,
                       const uint8_t *kwire, uint32_t klen,
                       const struct result *r, uint64_t h, bool usable,
                       bool expiry)
{
	*m = (struct memo){
	    .a = a,
	    .wire = r->ext->wire,
	    .kwire = kwire,
	    .len = r->ext->wire_len,
	    .klen = klen,
	    .hash = h,
	    .error = r->ext->dnssec_error,
	    .tags = r->ext->dnskey_tags,
	    .expires_in_s = r->ext->rrsig_expires_in_s,
	    .tag = r->dnssec,
	    .used = true,
	    .usable = usable,
	    .has_expiry = expiry,
	};
}

void dnssec_memo_apply(const struct memo *m, struct result *r)
{
	r->dnssec = m->tag;
	r->ext->dnssec_error = m->error;
	r->ext->dnskey_tags = m->tags;
	if (m->has_expiry) {
		r->ext->has_rrsig_expiry = true;
		r->ext->rrsig_expires_in_s = m->expires_in_s;
	}
}
