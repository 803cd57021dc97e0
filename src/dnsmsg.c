/*
 * dnsmsg: DNS wire format; the only module that includes ldns.
 *
 * Queries are built with ldns (name syntax checks, EDNS0, the NSID option,
 * ldns_pkt2wire) once per configured query; the caller patches the ID.
 *
 * Replies are NOT decoded with ldns_wire2pkt. It allocates a packet, every
 * RR and every rdata field per reply, it silently keeps only the last of
 * several OPT records, and it does not report where each RR ended. The probe
 * needs a handful of values from hostile input, so this file walks the
 * message itself: bounds checked at every read, no allocation, names
 * decompressed with strictly backward pointers (so loops cannot happen),
 * every RR skipped by its RDLENGTH. What counts as malformed (-EBADMSG):
 *  - shorter than the 12-byte header, or QR clear (not a response);
 *  - any name, RR or section running past the end of the message, unless
 *    TC is set: a truncated response may be cut anywhere, so parsing stops
 *    there and what was read so far is kept;
 *  - bad label types, names > 255 bytes, pointers into the header or not
 *    strictly before the labels they end;
 *  - more than one OPT record, or an OPT outside the additional section or
 *    with a non-root owner (RFC 6891 6.1.1 says such a message is FORMERR);
 *  - a COOKIE option that is not 16..40 bytes, or a second one;
 *  - an EDNS option running past the OPT RDATA, a TXT string running past
 *    its RDATA, an SOA whose RDATA is not two names and five 32-bit ints,
 *    an answer RRSIG shorter than its fixed 18 bytes and signer name.
 * Bytes after the last record are ignored. Names of types and classes come
 * from ldns's tables where it has them.
 */
#include "dnsmsg.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#define HDR_LEN 12
#define TYPE_OPT 41
#define OPT_NSID 3

/* Internal: the message ended early. Becomes -EBADMSG unless TC is set. */
#define ERR_SHORT (-EMSGSIZE)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + ('a' - 'A')) : c;
}

/*
 * Query building.
 */

/* Find the OPT RR's RDLENGTH: one question, no answer or authority, the
 * OPT the one additional RR, its RDATA ending the message. Else leave
 * opt_rdlen_off 0 (no option can be appended). */
static void opt_locate(struct dnsmsg_query *q)
{
	const uint8_t *w = q->wire;
	size_t p = HDR_LEN + q->qname_len + 4;

	q->opt_rdlen_off = 0;
	if (rd16(w + 4) != 1 || rd16(w + 6) != 0 || rd16(w + 8) != 0 ||
	    rd16(w + 10) != 1 || q->len < p + 11)
		return;
	if (w[p] != 0 || rd16(w + p + 1) != TYPE_OPT)
		return;
	if (p + 11 + rd16(w + p + 9) != q->len)
		return;
	q->opt_rdlen_off = p + 9;
	q->opt_rdlen = rd16(w + p + 9);
}

int dnsmsg_query_build(struct dnsmsg_query *q, const char *name, uint16_t type,
                       uint16_t class, uint16_t edns_size, bool nsid,
                       bool dnssec)
{
	ldns_rdf *dname = NULL;
	ldns_pkt *pkt = NULL;
	ldns_edns_option_list *opts = NULL;
	ldns_edns_option *opt = NULL;
	uint8_t *wire = NULL;
	size_t wire_len = 0;
	int rc = -ENOMEM;

	if (q == NULL || name == NULL)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	if (name[0] == '\0' ||
	    ldns_str2rdf_dname(&dname, name) != LDNS_STATUS_OK)
		return -EINVAL;
	if (ldns_rdf_size(dname) > DNSMSG_MAX_NAME) {
		ldns_rdf_deep_free(dname);
		return -EINVAL;
	}
	q->qname_len = ldns_rdf_size(dname);
	for (size_t i = 0; i < q->qname_len; i++)
		q->qname[i] = lower(ldns_rdf_data(dname)[i]);

	/* On success the packet owns dname. */
	pkt = ldns_pkt_query_new(dname, (ldns_rr_type)type,
	                         (ldns_rr_class) class, 0);
	if (pkt == NULL) {
		ldns_rdf_deep_free(dname);
		goto out;
	}
	ldns_pkt_set_id(pkt, 0);
	ldns_pkt_set_rd(pkt, false);
	if (dnssec) {
		/* ldns writes an OPT record when the UDP size is set. */
		ldns_pkt_set_edns_do(pkt, true);
		if (edns_size == 0)
			ldns_pkt_set_edns_udp_size(pkt, 512);
	}
	if (edns_size > 0) {
		ldns_pkt_set_edns_udp_size(pkt, edns_size);
		if (nsid) {
			opts = ldns_edns_option_list_new();
			opt = ldns_edns_new_from_data(LDNS_EDNS_NSID, 0, NULL);
			if (opts == NULL || opt == NULL ||
			    !ldns_edns_option_list_push(opts, opt))
				goto out;
			opt = NULL; /* the list owns it */
			ldns_pkt_set_edns_option_list(pkt, opts);
			opts = NULL; /* the packet owns it */
		}
	}
	if (ldns_pkt2wire(&wire, pkt, &wire_len) != LDNS_STATUS_OK ||
	    wire_len < HDR_LEN) {
		rc = -EINVAL;
		goto out;
	}
	/* ldns hands back its whole 64 KiB buffer: keep a right-sized copy,
	 * or a config of many queries holds megabytes it never uses. */
	q->wire = malloc(wire_len);
	if (q->wire == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(q->wire, wire, wire_len);
	q->len = wire_len;
	q->qtype = type;
	q->qclass = class;
	opt_locate(q);
	rc = 0;
out:
	free(wire);
	ldns_edns_deep_free(opt);
	ldns_edns_option_list_deep_free(opts);
	ldns_pkt_free(pkt);
	if (rc < 0)
		memset(q, 0, sizeof(*q));
	return rc;
}

void dnsmsg_query_clear(struct dnsmsg_query *q)
{
	if (q == NULL)
		return;
	free(q->wire);
	q->wire = NULL;
	q->len = 0;
}

int dnsmsg_query_reserve_cookie(struct dnsmsg_query *q)
{
	if (q == NULL || q->opt_rdlen_off == 0)
		return -EINVAL;
	q->cookie = true;
	return 0;
}

size_t dnsmsg_cookie_option(uint8_t out[DNSMSG_COOKIE_OPT_MAX],
                            const uint8_t client[DNSMSG_COOKIE_CLIENT],
                            const uint8_t *server, size_t server_len)
{
	size_t olen = DNSMSG_COOKIE_CLIENT + server_len;

	if (out == NULL || client == NULL ||
	    (server_len != 0 &&
	     (server == NULL || server_len < DNSMSG_COOKIE_SERVER_MIN ||
	      server_len > DNSMSG_COOKIE_SERVER_MAX)))
		return 0;
	out[0] = 0;
	out[1] = DNSMSG_OPT_COOKIE;
	out[2] = 0;
	out[3] = (uint8_t)olen;
	memcpy(out + 4, client, DNSMSG_COOKIE_CLIENT);
	if (server_len > 0)
		memcpy(out + 4 + DNSMSG_COOKIE_CLIENT, server, server_len);
	return 4 + olen;
}

size_t dnsmsg_query_iov(const struct dnsmsg_query *q, uint16_t id,
                        const uint8_t *opt_bytes, size_t opt_len,
                        struct dnsmsg_patch *patch, struct iovec *iov)
{
	if (q == NULL || patch == NULL || iov == NULL || q->len < HDR_LEN)
		return 0;
	dnsmsg_set_id(patch->id, id);
	iov[0].iov_base = patch->id;
	iov[0].iov_len = 2;
	if (opt_len == 0) {
		iov[1].iov_base = q->wire + 2;
		iov[1].iov_len = q->len - 2;
		return 2;
	}
	if (q->opt_rdlen_off == 0 || opt_bytes == NULL ||
	    opt_len > (size_t)UINT16_MAX - q->opt_rdlen)
		return 0;
	size_t rdlen = q->opt_rdlen + opt_len;
	patch->rdlen[0] = (uint8_t)(rdlen >> 8);
	patch->rdlen[1] = (uint8_t)rdlen;
	iov[1].iov_base = q->wire + 2;
	iov[1].iov_len = q->opt_rdlen_off - 2;
	iov[2].iov_base = patch->rdlen;
	iov[2].iov_len = 2;
	iov[3].iov_base = q->wire + q->opt_rdlen_off + 2;
	iov[3].iov_len = q->len - q->opt_rdlen_off - 2;
	iov[4].iov_base = (void *)opt_bytes;
	iov[4].iov_len = opt_len;
	return 5;
}

/*
 * Reply parsing. Each helper takes the message (buf, len) and a cursor.
 */

/* Read the name at *pos. When out is not NULL, store its uncompressed wire
 * form there, lower-cased, and its length in *out_len. Advance *pos past the
 * name as it sits in the message. Every pointer must point before the start
 * of the run of labels it ends, and after the header: offsets then strictly
 * decrease, so the walk ends. */
static int name_read(const uint8_t *buf, size_t len, size_t *pos, uint8_t *out,
                     size_t *out_len)
{
	size_t p = *pos, limit = *pos, end = 0, n = 0;
	bool jumped = false;

	for (;;) {
		if (p >= len)
			return ERR_SHORT;
		uint8_t c = buf[p];
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= len)
				return ERR_SHORT;
			size_t target = (size_t)(c & 0x3F) << 8 | buf[p + 1];
			if (target >= limit || target < HDR_LEN)
				return -EBADMSG;
			if (!jumped)
				end = p + 2;
			jumped = true;
			limit = target;
			p = target;
			continue;
		}
		if (c & 0xC0)
			return -EBADMSG; /* 0x40 and 0x80: obsolete/reserved */
		if (n + 1 + c > DNSMSG_MAX_NAME)
			return -EBADMSG;
		if (p + 1 + c > len)
			return ERR_SHORT;
		if (out != NULL) {
			out[n] = c;
			for (size_t i = 0; i < c; i++)
				out[n + 1 + i] = lower(buf[p + 1 + i]);
		}
		n += 1 + (size_t)c;
		p += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	*pos = jumped ? end : p;
	if (out_len != NULL)
		*out_len = n;
	return 0;
}

/* TXT RDATA is one or more <length><bytes> strings filling it exactly. */
static int txt_read(const uint8_t *buf, size_t p, size_t end,
                    struct dnsmsg_reply *out)
{
	size_t n = 0;

	while (p < end) {
		size_t slen = buf[p];
		if (p + 1 + slen > end)
			return -EBADMSG;
		size_t take = slen;
		if (take > DNSMSG_MAX_TXT - n)
			take = DNSMSG_MAX_TXT - n;
		memcpy(out->txt + n, buf + p + 1, take);
		n += take;
		p += 1 + slen;
	}
	out->has_txt = true;
	out->txt_len = n;
	return 0;
}

/* SOA RDATA: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM. */
static int soa_read(const uint8_t *buf, size_t p, size_t end, uint32_t *serial)
{
	for (int i = 0; i < 2; i++) {
		int rc = name_read(buf, end, &p, NULL, NULL);
		if (rc < 0)
			return -EBADMSG; /* running past RDATA is malformed */
	}
	if (end - p != 20)
		return -EBADMSG;
	*serial = rd32(buf + p);
	return 0;
}

/* A COOKIE option in a reply: one only, 16..40 bytes (RFC 7873 5.3: the
 * client discards a reply whose COOKIE option is malformed). */
static int cookie_read(const uint8_t *p, size_t olen, struct dnsmsg_reply *out)
{
	if (out->has_cookie ||
	    olen < DNSMSG_COOKIE_CLIENT + DNSMSG_COOKIE_SERVER_MIN ||
	    olen > DNSMSG_COOKIE_MAX)
		return -EBADMSG;
	memcpy(out->cookie, p, olen);
	out->cookie_len = olen;
	out->has_cookie = true;
	return 0;
}

/* OPT RDATA: <code><length><data> options filling it exactly. */
static int opt_read(const uint8_t *buf, size_t p, size_t end,
                    struct dnsmsg_reply *out)
{
	while (p < end) {
		if (end - p < 4)
			return -EBADMSG;
		uint16_t code = rd16(buf + p);
		size_t olen = rd16(buf + p + 2);
		p += 4;
		if (olen > end - p)
			return -EBADMSG;
		if (code == OPT_NSID && !out->has_nsid) {
			size_t take =
			    olen < DNSMSG_MAX_NSID ? olen : DNSMSG_MAX_NSID;
			memcpy(out->nsid, buf + p, take);
			out->nsid_len = take;
			out->has_nsid = true;
		} else if (code == DNSMSG_OPT_COOKIE) {
			int rc = cookie_read(buf + p, olen, out);
			if (rc < 0)
				return rc;
		}
		p += olen;
	}
	return 0;
}

/* RRSIG RDATA (RFC 4034 3.1): TYPE COVERED(2) ALGORITHM(1) LABELS(1)
 * ORIGINAL TTL(4) EXPIRATION(4) INCEPTION(4) KEY TAG(2) SIGNER'S NAME,
 * SIGNATURE (the rest, may be empty here; the DNSSEC pass judges it). */
static int rrsig_read(const uint8_t *buf, size_t p, size_t end,
                      struct dnsmsg_reply *out)
{
	if (end - p < 18)
		return -EBADMSG;
	uint32_t expire = rd32(buf + p + 8);
	size_t name = p + 18;
	if (name_read(buf, end, &name, NULL, NULL) < 0)
		return -EBADMSG; /* running past RDATA is malformed */
	if (!out->has_rrsig || (int32_t)(expire - out->rrsig_expire_min) < 0)
		out->rrsig_expire_min = expire;
	out->has_rrsig = true;
	out->rrsig_count++;
	return 0;
}

enum section { SEC_ANSWER, SEC_AUTHORITY, SEC_ADDITIONAL };

/* Walk COUNT RRs of section SEC at *pos, picking out what we report. */
static int rrs_read(const uint8_t *buf, size_t len, size_t *pos,
                    enum section sec, unsigned count, struct dnsmsg_reply *out,
                    unsigned *opt_count)
{
	for (unsigned i = 0; i < count; i++) {
		size_t p = *pos, owner = *pos;
		int rc = name_read(buf, len, &p, NULL, NULL);
		if (rc < 0)
			return rc;
		if (len - p < 10)
			return ERR_SHORT;
		uint16_t type = rd16(buf + p);
		uint32_t ttl = rd32(buf + p + 4);
		size_t rdlen = rd16(buf + p + 8);
		p += 10;
		if (rdlen > len - p)
			return ERR_SHORT;
		size_t end = p + rdlen;

		if (type == TYPE_OPT) {
			if (sec != SEC_ADDITIONAL || buf[owner] != 0 ||
			    ++*opt_count > 1)
				return -EBADMSG;
			/* Upper 8 of the 12 rcode bits live in the TTL. */
			out->rcode |= (int)(ttl >> 24) << 4;
			rc = opt_read(buf, p, end, out);
		} else if (type == DNSMSG_TYPE_TXT && sec == SEC_ANSWER &&
		           !out->has_txt) {
			rc = txt_read(buf, p, end, out);
		} else if (type == DNSMSG_TYPE_RRSIG && sec == SEC_ANSWER) {
			rc = rrsig_read(buf, p, end, out);
		} else if (type == DNSMSG_TYPE_SOA && sec != SEC_ADDITIONAL &&
		           !out->has_serial) {
			/* The answer section is walked first, so its SOA wins
			 * over the authority's. */
			rc = soa_read(buf, p, end, &out->serial);
			out->has_serial = rc == 0;
		}
		if (rc < 0)
			return rc;
		if (sec == SEC_ANSWER)
			out->ancount++;
		*pos = end;
	}
	return 0;
}

static int reply_walk(const uint8_t *buf, size_t len, struct dnsmsg_reply *out)
{
	unsigned qdcount = rd16(buf + 4), counts[3];
	unsigned opt_count = 0;
	size_t pos = HDR_LEN;

	counts[SEC_ANSWER] = rd16(buf + 6);
	counts[SEC_AUTHORITY] = rd16(buf + 8);
	counts[SEC_ADDITIONAL] = rd16(buf + 10);

	for (unsigned i = 0; i < qdcount; i++) {
		uint8_t name[DNSMSG_MAX_NAME];
		size_t name_len = 0;
		int rc = name_read(buf, len, &pos, name, &name_len);
		if (rc < 0)
			return rc;
		if (len - pos < 4)
			return ERR_SHORT;
		if (i == 0) {
			memcpy(out->qname, name, name_len);
			out->qname_len = name_len;
			out->qtype = rd16(buf + pos);
			out->qclass = rd16(buf + pos + 2);
			out->has_question = true;
		}
		pos += 4;
	}
	for (int s = SEC_ANSWER; s <= SEC_ADDITIONAL; s++) {
		int rc = rrs_read(buf, len, &pos, (enum section)s, counts[s],
		                  out, &opt_count);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int dnsmsg_reply_parse(const uint8_t *buf, size_t len, struct dnsmsg_reply *out)
{
	if (out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->size = len;
	if (buf == NULL || len < HDR_LEN)
		return -EBADMSG;
	out->id = rd16(buf);
	out->qr = buf[2] & 0x80;
	out->aa = buf[2] & 0x04;
	out->tc = buf[2] & 0x02;
	out->rcode = buf[3] & 0x0F;
	if (!out->qr)
		return -EBADMSG;

	int rc = reply_walk(buf, len, out);
	if (rc == ERR_SHORT && out->tc)
		return 0;
	return rc < 0 ? -EBADMSG : 0;
}

int64_t dnsmsg_rrsig_expires_in(uint32_t expire, int64_t now_wall_s)
{
	/* Two's complement wrap of the 32-bit difference is serial arithmetic:
	 * the nearest instant with these low bits. */
	uint32_t now32 = (uint32_t)(uint64_t)now_wall_s;
	return (int64_t)(int32_t)(expire - now32);
}

bool dnsmsg_question_matches(const struct dnsmsg_query *q,
                             const struct dnsmsg_reply *r)
{
	if (q == NULL || r == NULL || !r->has_question)
		return false;
	if (q->qtype != r->qtype || q->qclass != r->qclass ||
	    q->qname_len != r->qname_len)
		return false;
	/* Both sides are stored lower-cased; lower again to not depend on it.
	 */
	for (size_t i = 0; i < q->qname_len; i++)
		if (lower(q->qname[i]) != lower(r->qname[i]))
			return false;
	return true;
}

/*
 * Names of things.
 */

/* "PREFIXnnn" with nnn a decimal 1..65535 and nothing else. */
static int parse_numeric(const char *text, const char *prefix, uint16_t *out)
{
	size_t plen = strlen(prefix);
	char *end = NULL;
	long v;

	if (strncasecmp(text, prefix, plen) != 0)
		return -ENOENT;
	text += plen;
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > UINT16_MAX)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* Meta types ldns's RR descriptor table does not name. */
static const struct {
	uint16_t type;
	const char *name;
} meta_types[] = {
    {251, "IXFR"}, {252, "AXFR"}, {253, "MAILB"}, {254, "MAILA"}, {255, "ANY"},
};

static const char *type_mnemonic(uint16_t type)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(type);

	for (size_t i = 0; i < sizeof(meta_types) / sizeof(meta_types[0]); i++)
		if (meta_types[i].type == type)
			return meta_types[i].name;
	/* For unknown types ldns hands back a placeholder of another type. */
	if (d != NULL && d->_type == type && d->_name != NULL &&
	    strncmp(d->_name, "TYPE", 4) != 0)
		return d->_name;
	return NULL;
}

int dnsmsg_parse_type(const char *text, uint16_t *out)
{
	if (text == NULL || out == NULL || text[0] == '\0')
		return -EINVAL;
	int rc = parse_numeric(text, "TYPE", out);
	if (rc != -ENOENT)
		return rc;
	/* ldns matches case-insensitively and returns 0 when unknown. */
	uint16_t t = (uint16_t)ldns_get_rr_type_by_name(text);
	const char *name = t != 0 ? type_mnemonic(t) : NULL;
	if (name == NULL || strcasecmp(name, text) != 0)
		return -EINVAL;
	*out = t;
	return 0;
}

int dnsmsg_parse_class(const char *text, uint16_t *out)
{
	if (text == NULL || out == NULL || text[0] == '\0')
		return -EINVAL;
	int rc = parse_numeric(text, "CLASS", out);
	if (rc != -ENOENT)
		return rc;
	for (const ldns_lookup_table *l = ldns_rr_classes; l->name; l++) {
		if (strcasecmp(l->name, text) == 0) {
			*out = (uint16_t)l->id;
			return 0;
		}
	}
	return -EINVAL;
}

int dnsmsg_check_name(const char *text)
{
	ldns_rdf *dname = NULL;

	if (text == NULL || text[0] == '\0')
		return -EINVAL;
	if (ldns_str2rdf_dname(&dname, text) != LDNS_STATUS_OK)
		return -EINVAL;
	size_t n = ldns_rdf_size(dname);
	ldns_rdf_deep_free(dname);
	return n <= DNSMSG_MAX_NAME ? 0 : -EINVAL;
}

static const char *name_or_number(const char *name, const char *prefix,
                                  unsigned v, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return "";
	if (name != NULL)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s%u", prefix, v);
	return buf;
}

const char *dnsmsg_type_name(uint16_t type, char *buf, size_t len)
{
	return name_or_number(type_mnemonic(type), "TYPE", type, buf, len);
}

const char *dnsmsg_class_name(uint16_t class, char *buf, size_t len)
{
	const ldns_lookup_table *l = ldns_lookup_by_id(ldns_rr_classes, class);

	return name_or_number(l ? l->name : NULL, "CLASS", class, buf, len);
}

/* RFC 6895 2.3. 16 is BADVERS here: with an OPT record it is BADVERS, the
 * TSIG meaning (BADSIG) never reaches a probe that does not sign. */
static const char *const rcode_names[] = {
    [0] = "NOERROR",  [1] = "FORMERR", [2] = "SERVFAIL",  [3] = "NXDOMAIN",
    [4] = "NOTIMP",   [5] = "REFUSED", [6] = "YXDOMAIN",  [7] = "YXRRSET",
    [8] = "NXRRSET",  [9] = "NOTAUTH", [10] = "NOTZONE",  [11] = "DSOTYPENI",
    [16] = "BADVERS", [17] = "BADKEY", [18] = "BADTIME",  [19] = "BADMODE",
    [20] = "BADNAME", [21] = "BADALG", [22] = "BADTRUNC", [23] = "BADCOOKIE",
};

const char *dnsmsg_rcode_name(int rcode, char *buf, size_t len)
{
	const char *name = NULL;

	if (rcode >= 0 &&
	    (size_t)rcode < sizeof(rcode_names) / sizeof(rcode_names[0]))
		name = rcode_names[rcode];
	if (buf == NULL || len == 0)
		return "";
	if (name != NULL)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}
