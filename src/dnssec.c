/*
 * dnssec: trust anchors and the DNSSEC pass after a round (see dnssec.h for
 * what the tags mean). It owns the anchors (loaded once, by
 * dnssec_anchor.c) and the round's dnskey_tags strings; it owns no sockets
 * and sends nothing.
 *
 * The pass, per group of adjacent rows with the same (target, server,
 * transport):
 *   1. the DNSKEY row: decode its response with ldns; its DNSKEY RRset is
 *      the group's key set. The set is trusted when a key in it matches the
 *      anchor (a DS digest, or the same DNSKEY) and an RRSIG over the set
 *      by such a key verifies now. Its key tags become dnskey_tags.
 *   2. every other row of the group: decode its response; each RRset of
 *      the zone it must carry signed (see check_row) needs one RRSIG that
 *      verifies now with a key of the set (ldns's
 *      ldns_verify_rrsig_keylist_notime, then the validity period).
 * Cost: one ldns_wire2pkt per row of an anchored target and one signature
 * check per RRset (more only when a signature fails), but a signature
 * check seen before (same RRset, RRSIG and keys) is looked up, not redone:
 * ECDSA P-256 verification is about 0.1 ms, the look-up microseconds.
 * Rows of targets without an anchor cost a pointer comparison. What is
 * remembered (checks across rounds, verdicts within one) is in
 * dnssec_cache.c; the types both share in dnssec_int.h.
 */
#include "dnssec.h"
#include "dnssec_anchor.h"
#include "dnssec_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>
#include <openssl/crypto.h>

#include "conf.h"
#include "dnsmsg.h"
#include "result.h"

static const char *const verr_text[] = {
    [V_OK] = NULL,
    [V_NOSIG] = "no signature",
    [V_ANCHOR] = "no DNSKEY matches the trust anchor",
    [V_UNSUPPORTED] = "unsupported algorithm",
    [V_NOKEY] = "no DNSKEY for the signature",
    [V_BAD] = "bad signature",
    [V_NOT_YET] = "signature not yet valid",
    [V_EXPIRED] = "signature expired",
};

/* The group's key set, from its DNSKEY row. */
struct keyset {
	bool usable;        /* the DNSKEY query got a whole response */
	ldns_pkt *pkt;      /* owns the keys */
	ldns_rr_list *keys; /* DNSKEY RRs of the zone (not owned) */
	enum verr err;      /* V_OK: trusted */
};

static enum verr from_status(ldns_status st)
{
	switch (st) {
	case LDNS_STATUS_OK:
		return V_OK;
	case LDNS_STATUS_CRYPTO_SIG_EXPIRED:
		return V_EXPIRED;
	case LDNS_STATUS_CRYPTO_SIG_NOT_INCEPTED:
		return V_NOT_YET;
	case LDNS_STATUS_CRYPTO_NO_MATCHING_KEYTAG_DNSKEY:
	case LDNS_STATUS_CRYPTO_NO_DNSKEY:
	case LDNS_STATUS_CRYPTO_NO_TRUSTED_DNSKEY:
		return V_NOKEY;
	case LDNS_STATUS_CRYPTO_UNKNOWN_ALGO:
	case LDNS_STATUS_CRYPTO_ALGO_NOT_IMPL:
		return V_UNSUPPORTED;
	default:
		return V_BAD;
	}
}

static bool same_name(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

static bool in_zone(const ldns_rdf *name, const ldns_rdf *zone)
{
	return same_name(name, zone) || ldns_dname_is_subdomain(name, zone);
}

static bool same_rrset(const ldns_rr *a, const ldns_rr *b)
{
	return ldns_rr_get_type(a) == ldns_rr_get_type(b) &&
	       ldns_rr_get_class(a) == ldns_rr_get_class(b) &&
	       same_name(ldns_rr_owner(a), ldns_rr_owner(b));
}

static bool covers(const ldns_rr *sig, const ldns_rr *rr)
{
	const ldns_rdf *tc = ldns_rr_rrsig_typecovered(sig);

	return ldns_rr_get_type(sig) == LDNS_RR_TYPE_RRSIG && tc != NULL &&
	       ldns_rdf_size(tc) == 2 &&
	       ldns_rdf2rr_type(tc) == ldns_rr_get_type(rr) &&
	       same_name(ldns_rr_owner(sig), ldns_rr_owner(rr));
}

/* The validity period of SIG at NOW, serial arithmetic as RFC 4034 3.1.5
 * and ldns_verify_rrsig_keylist_time() do it. */
static enum verr check_time(const ldns_rr *sig, time_t now)
{
	const ldns_rdf *e = ldns_rr_rrsig_expiration(sig);
	const ldns_rdf *i = ldns_rr_rrsig_inception(sig);

	if (e == NULL || i == NULL || ldns_rdf_size(e) != 4 ||
	    ldns_rdf_size(i) != 4)
		return V_BAD;
	uint32_t exp = ldns_rdf2native_int32(e), inc = ldns_rdf2native_int32(i);
	uint32_t n = (uint32_t)(uint64_t)now;
	if ((int32_t)(exp - inc) < 0)
		return V_BAD; /* expiration before inception */
	if ((int32_t)(n - inc) < 0)
		return V_NOT_YET;
	if ((int32_t)(exp - n) < 0)
		return V_EXPIRED;
	return V_OK;
}

/* The RRset of FIRST in SEC: one RRSIG of SEC that covers it must verify
 * at NOW with one of KEYS. Returns V_OK or the most telling failure. */
static enum verr check_rrset(struct dnssec *d, const ldns_rr_list *sec,
                             const ldns_rr *first, const ldns_rr_list *keys,
                             time_t now)
{
	ldns_rr_list *rrset = ldns_rr_list_new();
	enum verr worst = V_NOSIG;

	if (rrset == NULL)
		return V_BAD;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sec); i++) {
		ldns_rr *rr = ldns_rr_list_rr(sec, i);

		if (same_rrset(rr, first))
			ldns_rr_list_push_rr(rrset, rr);
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(sec); i++) {
		const ldns_rr *sig = ldns_rr_list_rr(sec, i);

		if (!covers(sig, first))
			continue;
		enum verr e =
		    from_status(dnssec_verify_notime(d, rrset, sig, keys));
		if (e == V_OK)
			e = check_time(sig, now);
		if (e == V_OK) {
			worst = V_OK;
			break;
		}
		if (worst == V_NOSIG || e > worst)
			worst = e;
	}
	ldns_rr_list_free(rrset); /* the RRs belong to the packet */
	return worst;
}

/* The earliest RRSIG expiration of the answer section onto ROW. */
static bool set_expiry(struct result *row, const ldns_pkt *pkt, time_t now)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	bool found = false;
	uint32_t min = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *e = ldns_rr_rrsig_expiration(rr);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || e == NULL ||
		    ldns_rdf_size(e) != 4)
			continue;
		uint32_t v = ldns_rdf2native_int32(e);
		if (!found || (int32_t)(v - min) < 0)
			min = v;
		found = true;
	}
	if (found) {
		row->ext->has_rrsig_expiry = true;
		row->ext->rrsig_expires_in_s =
		    (int32_t)dnsmsg_rrsig_expires_in(min, now);
	}
	return found;
}

/* "20326 38696": the key tags of KEYS ascending, kept until the next round.
 * NULL when there are none or memory is short (the field is then absent). */
static const char *tags_text(struct dnssec *d, const ldns_rr_list *keys)
{
	size_t n = ldns_rr_list_rr_count(keys);
	uint16_t *tag;
	char *s;

	if (n == 0)
		return NULL;
	if (d->n_tags == d->cap_tags) {
		size_t cap = d->cap_tags ? 2 * d->cap_tags : 16;
		char **t = realloc(d->tags, cap * sizeof(*t));
		if (t == NULL)
			return NULL;
		d->tags = t;
		d->cap_tags = cap;
	}
	tag = malloc(n * sizeof(*tag));
	s = malloc(n * 6);
	if (tag == NULL || s == NULL) {
		free(tag);
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t v = ldns_calc_keytag(ldns_rr_list_rr(keys, i));
		size_t j = i;
		for (; j > 0 && tag[j - 1] > v; j--)
			tag[j] = tag[j - 1];
		tag[j] = v;
	}
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, n * 6 - len, "%s%u",
		                        i ? " " : "", (unsigned)tag[i]);
	free(tag);
	d->tags[d->n_tags++] = s;
	return s;
}

/* Returns whether it set the row's RRSIG expiry. */
static bool check_keyset(struct dnssec *d, const struct anchor *a,
                         struct result *row, time_t now, struct keyset *ks)
{
	bool expiry = false;

	ldns_rr_list *trusted = NULL;
	const ldns_rr_list *an;

	memset(ks, 0, sizeof(*ks));
	if (!row->has_reply || row->ext == NULL || row->ext->wire == NULL ||
	    row->tc ||
	    ldns_wire2pkt(&ks->pkt, row->ext->wire, row->ext->wire_len) !=
	        LDNS_STATUS_OK)
		return false;
	ks->keys = ldns_rr_list_new();
	trusted = ldns_rr_list_new();
	if (ks->keys == NULL || trusted == NULL)
		goto out;
	ks->usable = true;
	an = ldns_pkt_answer(ks->pkt);
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY ||
		    !same_name(ldns_rr_owner(rr), a->zone))
			continue;
		ldns_rr_list_push_rr(ks->keys, rr);
		if (dnssec_anchor_matches(a, rr))
			ldns_rr_list_push_rr(trusted, rr);
	}
	row->ext->dnskey_tags = tags_text(d, ks->keys);
	expiry = set_expiry(row, ks->pkt, now);
	if (ldns_rr_list_rr_count(trusted) == 0)
		ks->err = V_ANCHOR;
	else
		ks->err = check_rrset(d, an, ldns_rr_list_rr(trusted, 0),
		                      trusted, now);
	row->dnssec =
	    ks->err == V_OK ? RESULT_DNSSEC_SECURE : RESULT_DNSSEC_BOGUS;
	row->ext->dnssec_error = verr_text[ks->err];
out:
	ldns_rr_list_free(trusted);
	return expiry;
}

static bool rrset_seen(const ldns_rr_list *sec, size_t i)
{
	const ldns_rr *rr = ldns_rr_list_rr(sec, i);

	for (size_t j = 0; j < i; j++)
		if (same_rrset(ldns_rr_list_rr(sec, j), rr))
			return true;
	return false;
}

/* Which RRsets of a response must be signed: every RRset of the zone in a
 * non-empty answer section; else, in the authority section, DS, NSEC and
 * NSEC3 for a referral (NS below the apex), SOA, NSEC and NSEC3 for a
 * negative answer. NS and glue of a referral are never signed. */
static bool must_be_signed(ldns_rr_type t, bool answer, bool referral)
{
	if (answer)
		return t != LDNS_RR_TYPE_RRSIG;
	if (t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3)
		return true;
	return referral ? t == LDNS_RR_TYPE_DS : t == LDNS_RR_TYPE_SOA;
}

/* Returns whether it set the row's RRSIG expiry. */
static bool check_row(struct dnssec *d, const struct anchor *a,
                      struct result *row, const struct keyset *ks, time_t now)
{
	bool expiry = false;
	ldns_pkt *pkt = NULL;
	const ldns_rr_list *sec;
	enum verr worst = V_OK;
	bool answer, referral = false, has_ds = false;
	unsigned checked = 0;

	if (!row->has_reply || row->ext == NULL || row->ext->wire == NULL ||
	    row->query == NULL || row->query->class != LDNS_RR_CLASS_IN ||
	    (row->rcode != LDNS_RCODE_NOERROR &&
	     row->rcode != LDNS_RCODE_NXDOMAIN))
		return false;
	if (ldns_wire2pkt(&pkt, row->ext->wire, row->ext->wire_len) !=
	    LDNS_STATUS_OK)
		return false;
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	if (q == NULL || !in_zone(ldns_rr_owner(q), a->zone))
		goto out;
	expiry = set_expiry(row, pkt, now);

	answer = ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) > 0;
	sec = answer ? ldns_pkt_answer(pkt) : ldns_pkt_authority(pkt);
	for (size_t i = 0; !answer && i < ldns_rr_list_rr_count(sec); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(sec, i);

		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    ldns_dname_is_subdomain(ldns_rr_owner(rr), a->zone))
			referral = row->rcode == LDNS_RCODE_NOERROR;
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(sec); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(sec, i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (!must_be_signed(t, answer, referral) ||
		    !in_zone(ldns_rr_owner(rr), a->zone) || rrset_seen(sec, i))
			continue;
		enum verr e = check_rrset(d, sec, rr, ks->keys, now);
		if (e > worst)
			worst = e;
		checked++;
		has_ds |= t == LDNS_RR_TYPE_DS;
	}
	if (checked == 0)
		worst = V_NOSIG;
	if (worst == V_OK)
		worst = ks->err;
	if (worst != V_OK) {
		row->dnssec = RESULT_DNSSEC_BOGUS;
		row->ext->dnssec_error = verr_text[worst];
	} else {
		row->dnssec = referral && !has_ds ? RESULT_DNSSEC_INSECURE
		                                  : RESULT_DNSSEC_SECURE;
	}
out:
	ldns_pkt_free(pkt);
	return expiry;
}

static const struct anchor *anchor_of(const struct dnssec *d,
                                      const struct conf_target *t)
{
	const struct conf *c = d->conf;

	if (t == NULL || t < c->targets || t >= c->targets + c->n_targets)
		return NULL;
	const struct anchor *a = &d->anchors[t - c->targets];
	return a->zone != NULL ? a : NULL;
}

static bool has_wire(const struct result *r)
{
	return r->has_reply && r->ext != NULL && r->ext->wire != NULL;
}

static void check_group(struct dnssec *d, const struct anchor *a,
                        struct result *rows, size_t n, time_t now)
{
	struct keyset ks = {0};
	bool have_ks = false, usable;
	size_t k = 0;

	while (k < n && !(rows[k].query != NULL && rows[k].query->dnskey))
		k++;
	if (k == n || !has_wire(&rows[k]))
		return; /* no usable DNSKEY row: nothing to check against */
	struct result *kr = &rows[k];
	const uint8_t *kw = kr->ext->wire;
	uint32_t kl = kr->ext->wire_len;
	uint64_t kh = dnssec_wire_hash(kw, kl);
	struct memo *m = dnssec_memo_slot(d, a, NULL, 0, kw, kl, kh);

	if (m != NULL && m->used) {
		dnssec_memo_apply(m, kr);
		usable = m->usable;
	} else {
		bool exp = check_keyset(d, a, kr, now, &ks);
		have_ks = true;
		usable = ks.usable;
		if (m != NULL)
			dnssec_memo_store(m, a, NULL, 0, kr, kh, usable, exp);
	}
	for (size_t i = 0; usable && i < n; i++) {
		struct result *r = &rows[i];
		if (i == k || !has_wire(r))
			continue;
		uint64_t h = dnssec_wire_hash(r->ext->wire, r->ext->wire_len) ^
		             (kh * 0x9e3779b97f4a7c15ULL);
		m = dnssec_memo_slot(d, a, kw, kl, r->ext->wire,
		                     r->ext->wire_len, h);
		if (m != NULL && m->used) {
			dnssec_memo_apply(m, r);
			continue;
		}
		if (!have_ks) {
			check_keyset(d, a, kr, now, &ks); /* same verdict */
			have_ks = true;
		}
		bool exp = check_row(d, a, r, &ks, now);
		if (m != NULL)
			dnssec_memo_store(m, a, kw, kl, r, h, true, exp);
	}
	ldns_rr_list_free(ks.keys);
	ldns_pkt_free(ks.pkt);
}

static void tags_clear(struct dnssec *d)
{
	for (size_t i = 0; i < d->n_tags; i++)
		free(d->tags[i]);
	d->n_tags = 0;
}

void dnssec_begin(void *ctx)
{
	struct dnssec *d = ctx;

	if (d == NULL)
		return;
	tags_clear(d);
	if (d->memo != NULL)
		memset(d->memo, 0, MEMO * sizeof(*d->memo));
}

void dnssec_round(struct dnssec *d, struct result *rows, size_t n,
                  int64_t now_wall_ns)
{
	dnssec_begin(d);
	dnssec_rows(d, rows, n, now_wall_ns);
}

void dnssec_rows(struct dnssec *d, struct result *rows, size_t n,
                 int64_t now_wall_ns)
{
	time_t now = (time_t)(now_wall_ns / 1000000000LL);

	if (d == NULL || rows == NULL)
		return;
	for (size_t i = 0, j; i < n; i = j) {
		const struct result_key *key = rows[i].key;
		const struct anchor *a = key ? anchor_of(d, key->target) : NULL;

		for (j = i + 1; j < n && rows[j].key == key; j++)
			;
		if (a != NULL && !key->reference)
			check_group(d, a, rows + i, j - i, now);
	}
}

void dnssec_pass(void *ctx, struct result *rows, size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	dnssec_rows(ctx, rows, n,
	            (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/*
 * Loading the anchors.
 */

/* The DNSKEY flags field's Zone Key bit (RFC 4034 2.1.1). */
int dnssec_new(struct dnssec **out, const struct conf *conf, FILE *err)
{
	struct dnssec *d;
	int rc = 0;

	if (out == NULL || conf == NULL)
		return -EINVAL;
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->conf = conf;
	d->scratch = ldns_buffer_new(4096); /* NULL: no cache, still correct */
	d->memo = calloc(MEMO, sizeof(*d->memo)); /* NULL: no memo, same */
	d->anchors =
	    calloc(conf->n_targets ? conf->n_targets : 1, sizeof(*d->anchors));
	if (d->anchors == NULL) {
		free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < conf->n_targets; i++) {
		if (conf->targets[i].trust_anchor == NULL)
			continue;
		const struct conf_target *t = &conf->targets[i];
		char ctx[512];
		snprintf(ctx, sizeof(ctx), "%s:%d: target %s",
		         conf->path ? conf->path : "anycast-probe", t->line,
		         t->name);
		int r = dnssec_anchor_load(&d->anchors[i], t->trust_anchor,
		                           t->zone, ctx, err ? err : stderr);
		if (r < 0 && rc == 0)
			rc = r;
	}
	if (rc < 0) {
		dnssec_free(d);
		return rc;
	}
	/* OpenSSL reads its configuration file on first use, which would be
	 * the first signature check: after the sandbox is sealed, where open
	 * is not allowed. Read it now. */
	bool any = false;
	for (size_t i = 0; i < conf->n_targets; i++)
		any |= d->anchors[i].zone != NULL;
	if (any && !OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL)) {
		dnssec_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

void dnssec_free(struct dnssec *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; d->anchors && i < d->conf->n_targets; i++)
		dnssec_anchor_clear(&d->anchors[i]);
	free(d->anchors);
	tags_clear(d);
	free(d->tags);
	for (size_t i = 0; i < VCACHE; i++)
		free(d->cache[i].bytes);
	ldns_buffer_free(d->scratch);
	free(d->memo);
	free(d);
}
