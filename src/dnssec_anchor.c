/*
 * dnssec_anchor: trust-anchor files; see include/dnssec_anchor.h.
 */
#include "dnssec_anchor.h"

#include <errno.h>
#include <string.h>

#include "dnssec.h"

static bool same_name(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

bool dnssec_anchor_matches(const struct anchor *a, const ldns_rr *key)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(a->rrs); i++) {
		const ldns_rr *t = ldns_rr_list_rr(a->rrs, i);

		if (ldns_rr_get_type(t) == LDNS_RR_TYPE_DS) {
			if (ldns_rr_compare_ds(t, key))
				return true;
			continue;
		}
		if (ldns_rr_rd_count(t) != ldns_rr_rd_count(key))
			continue;
		size_t f = 0;
		while (f < ldns_rr_rd_count(t) &&
		       ldns_rdf_compare(ldns_rr_rdf(t, f),
		                        ldns_rr_rdf(key, f)) == 0)
			f++;
		if (f == ldns_rr_rd_count(t))
			return true;
	}
	return false;
}

#define DNSKEY_ZONE 0x0100

int dnssec_anchor_load(struct anchor *a, const char *path, const char *zone,
                       const char *ctx, FILE *err)
{
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1, errors = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(err, "%s: cannot read trust_anchor %s: %s\n", ctx, path,
		        strerror(errno));
		return -EINVAL;
	}
	if (zone != NULL &&
	    ldns_str2rdf_dname(&a->zone, zone) != LDNS_STATUS_OK) {
		fprintf(err, "%s: bad zone '%s'\n", ctx, zone);
		fclose(f);
		return -EINVAL;
	}
	a->rrs = ldns_rr_list_new();
	if (a->rrs == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	while (!feof(f) && errors < 100) {
		ldns_rr *rr = NULL;
		int before = line;
		ldns_status st =
		    ldns_rr_new_frm_fp_l(&rr, f, &ttl, &origin, &prev, &line);
		/* ldns counts the newline that ends the record (and skips
		 * comment lines before it): the record's last line is the
		 * one before, unless the file ends without a newline. */
		int at = line - 1 > before ? line - 1 : before;

		if (st == LDNS_STATUS_SYNTAX_EMPTY ||
		    st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st != LDNS_STATUS_OK) {
			fprintf(err, "%s:%d: %s\n", path, at,
			        st == LDNS_STATUS_SYNTAX_INCLUDE
			            ? "$INCLUDE is not supported"
			            : ldns_get_errorstr_by_id(st));
			errors++;
			continue;
		}
		ldns_rr_type type = ldns_rr_get_type(rr);
		const char *problem = NULL;
		if (type != LDNS_RR_TYPE_DS && type != LDNS_RR_TYPE_DNSKEY)
			problem = "not a DS or DNSKEY record";
		else if (type == LDNS_RR_TYPE_DNSKEY &&
		         !(ldns_rdf2native_int16(ldns_rr_dnskey_flags(rr)) &
		           DNSKEY_ZONE))
			problem = "DNSKEY without the Zone Key flag";
		else if (a->zone == NULL)
			a->zone = ldns_rdf_clone(ldns_rr_owner(rr));
		else if (!same_name(a->zone, ldns_rr_owner(rr)))
			problem = "owner is not the target's zone";
		if (problem != NULL || a->zone == NULL) {
			fprintf(err, "%s:%d: %s\n", path, at,
			        problem ? problem : "out of memory");
			errors++;
			ldns_rr_free(rr);
			continue;
		}
		ldns_rr_list_push_rr(a->rrs, rr);
	}
	if (ferror(f)) {
		fprintf(err, "%s:%d: read error\n", path, line);
		errors++;
	}
	fclose(f);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (errors == 0 && ldns_rr_list_rr_count(a->rrs) == 0) {
		fprintf(err, "%s:0: no DS or DNSKEY record\n", path);
		errors++;
	}
	return errors ? -EINVAL : 0;
}

void dnssec_anchor_clear(struct anchor *a)
{
	ldns_rdf_deep_free(a->zone);
	ldns_rr_list_deep_free(a->rrs);
	a->zone = NULL;
	a->rrs = NULL;
}

int dnssec_anchor_check(const char *path, const char *zone, char *msg,
                        size_t msg_len)
{
	struct anchor a = {0};
	char buf[1024] = "";
	FILE *err = fmemopen(buf, sizeof(buf) - 1, "w");
	int rc;

	if (path == NULL || err == NULL) {
		if (err != NULL)
			fclose(err);
		if (msg != NULL && msg_len > 0)
			snprintf(msg, msg_len, "cannot check the trust anchor");
		return -1;
	}
	rc = dnssec_anchor_load(&a, path, zone, "trust_anchor", err);
	fclose(err);
	dnssec_anchor_clear(&a);
	if (rc == 0)
		return 0;
	/* The first message only, without its newline; the whole-file ones
	 * without our "trust_anchor: " prefix (conf names the key). */
	buf[strcspn(buf, "\n")] = '\0';
	const char *m = buf;
	if (strncmp(m, "trust_anchor: ", 14) == 0)
		m += 14;
	if (msg != NULL && msg_len > 0)
		snprintf(msg, msg_len, "%s",
		         m[0] ? m : "unusable trust anchor");
	return -1;
}
