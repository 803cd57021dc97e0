/*
 * dnsmsg: DNS wire format, and the only module that includes ldns.
 * Builds each query's wire form once (EDNS0, optional NSID option, RD off),
 * so that sending only patches the message ID; parses replies into a plain
 * struct with fixed-size buffers, so the rest of the probe never sees ldns
 * and never allocates per reply. It does no I/O.
 */
#ifndef ANYCAST_PROBE_DNSMSG_H
#define ANYCAST_PROBE_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DNSMSG_CLASS_IN 1
#define DNSMSG_CLASS_CH 3
#define DNSMSG_TYPE_SOA 6
#define DNSMSG_TYPE_TXT 16
#define DNSMSG_TYPE_DNSKEY 48
#define DNSMSG_TYPE_RRSIG 46
#define DNSMSG_MAX_NAME 255 /* wire form */
#define DNSMSG_MAX_NSID 512 /* bytes of NSID kept */
#define DNSMSG_MAX_TXT 1024 /* bytes of TXT kept (strings concatenated) */

/* DNS COOKIE (RFC 7873): an 8-byte client cookie, then 8..32 bytes of
 * server cookie; the whole option with its 4-byte header. */
#define DNSMSG_OPT_COOKIE 10
#define DNSMSG_COOKIE_CLIENT 8
#define DNSMSG_COOKIE_SERVER_MIN 8
#define DNSMSG_COOKIE_SERVER_MAX 32
#define DNSMSG_COOKIE_MAX (DNSMSG_COOKIE_CLIENT + DNSMSG_COOKIE_SERVER_MAX)
#define DNSMSG_COOKIE_OPT_MAX (4 + DNSMSG_COOKIE_MAX)

/* A query, built once. wire[0..1] is the ID. */
struct dnsmsg_query {
	uint8_t *wire;
	size_t len;
	uint8_t qname[DNSMSG_MAX_NAME]; /* wire form, lower-cased */
	size_t qname_len;
	uint16_t qtype;
	uint16_t qclass;
	/* The OPT RR is the message's last RR and its options end the
	 * message (as built here), so an option can be appended after
	 * wire[len): then the OPT RDLENGTH at wire[opt_rdlen_off] must say
	 * opt_rdlen + the option's length. opt_rdlen_off is 0 without EDNS. */
	size_t opt_rdlen_off;
	uint16_t opt_rdlen;
	bool cookie; /* sent with a COOKIE option: dnsmsg_query_iov() */
};

/* A parsed reply. Fields are valid only as the flags say. */
struct dnsmsg_reply {
	size_t size; /* bytes received */
	uint16_t id;
	bool qr, aa, tc;
	int rcode;        /* with the EDNS extended rcode bits */
	unsigned ancount; /* answer RRs actually parsed */
	bool has_question;
	uint8_t qname[DNSMSG_MAX_NAME]; /* wire form, lower-cased */
	size_t qname_len;
	uint16_t qtype, qclass;
	bool has_nsid;
	uint8_t nsid[DNSMSG_MAX_NSID];
	size_t nsid_len;
	bool has_txt;                /* first TXT RR of the answer section */
	uint8_t txt[DNSMSG_MAX_TXT]; /* its strings concatenated, raw bytes */
	size_t txt_len;
	bool has_serial; /* SOA in the answer (or authority) section */
	uint32_t serial;
	/* The COOKIE option: client cookie (8 bytes), then the server's
	 * (8..32). A reply's COOKIE option must be 16..40 bytes, and there
	 * may be one only: else the reply is malformed (RFC 7873 5.3). */
	bool has_cookie;
	uint8_t cookie[DNSMSG_COOKIE_MAX];
	size_t cookie_len;
	/* RRSIGs of the answer section (RFC 4034 3): how many, and the
	 * earliest Signature Expiration among them, the raw 32-bit value
	 * (seconds since 1970 modulo 2^32; "earliest" under serial
	 * arithmetic, RFC 4034 3.1.5). dnsmsg_rrsig_expires_in() turns it
	 * into seconds from now. */
	bool has_rrsig;
	unsigned rrsig_count;
	uint32_t rrsig_expire_min;
};

/* Build the wire form of NAME TYPE CLASS with RD off and a zero ID; with
 * EDNS0 (UDP size edns_size) when edns_size > 0, and the NSID option when
 * nsid. With dnssec the EDNS DO bit is set (RFC 3225); DO needs an OPT
 * record, so with edns_size 0 the query then carries one advertising 512
 * bytes, the classic limit (RFC 6891 6.2.5). Returns 0 or -EINVAL (bad
 * name), -ENOMEM. */
int dnsmsg_query_build(struct dnsmsg_query *q, const char *name, uint16_t type,
                       uint16_t class, uint16_t edns_size, bool nsid,
                       bool dnssec);
void dnsmsg_query_clear(struct dnsmsg_query *q); /* frees wire; safe twice */

/* Mark Q to be sent with a COOKIE option (appended at send time by
 * dnsmsg_query_iov()). Returns 0, or -EINVAL when Q has no EDNS. */
int dnsmsg_query_reserve_cookie(struct dnsmsg_query *q);

/* Write the COOKIE option (header included) for CLIENT (8 bytes) and the
 * server cookie SERVER of SERVER_LEN bytes (0: not known yet; else 8..32)
 * into OUT. Returns its length (12, or 20..44), 0 on a bad SERVER_LEN. */
size_t dnsmsg_cookie_option(uint8_t out[DNSMSG_COOKIE_OPT_MAX],
                            const uint8_t client[DNSMSG_COOKIE_CLIENT],
                            const uint8_t *server, size_t server_len);

/* The bytes a send patches: the ID, and the OPT RDLENGTH when an option
 * is appended. Kept by the caller for as long as the iovecs are used. */
struct dnsmsg_patch {
	uint8_t id[2];
	uint8_t rdlen[2];
};
#define DNSMSG_QUERY_IOV 5

/* Describe Q with ID as iovecs, without copying the template:
 * [ID][wire 2..opt_rdlen_off)[RDLENGTH][wire .. len)[OPT_BYTES], where
 * OPT_BYTES (OPT_LEN bytes, e.g. from dnsmsg_cookie_option()) is appended
 * to the OPT RR's options; with OPT_LEN 0 (or a query without EDNS) it is
 * [ID][wire 2..len). IOV must have DNSMSG_QUERY_IOV entries. Returns the
 * number of entries used (2 or 5), 0 when OPT_LEN does not fit (no EDNS,
 * or RDLENGTH would pass 65535). The message length is q->len + OPT_LEN. */
size_t dnsmsg_query_iov(const struct dnsmsg_query *q, uint16_t id,
                        const uint8_t *opt_bytes, size_t opt_len,
                        struct dnsmsg_patch *patch, struct iovec *iov);

/* Put ID into a wire buffer (query or anything else). */
static inline void dnsmsg_set_id(uint8_t *wire, uint16_t id)
{
	wire[0] = (uint8_t)(id >> 8);
	wire[1] = (uint8_t)id;
}

/* Parse BUF. Returns 0 when it is a well-formed DNS response, -EBADMSG when
 * it is malformed (out->size and, when at least 12 bytes, out->id are still
 * set). Never reads outside BUF; never allocates beyond what ldns needs. */
int dnsmsg_reply_parse(const uint8_t *buf, size_t len,
                       struct dnsmsg_reply *out);

/* Seconds from NOW_WALL_S (Unix time) until EXPIRE, an RRSIG's 32-bit
 * Signature Expiration, negative when it lies in the past. The field only
 * holds the time modulo 2^32: it names the instant closest to now with
 * those low 32 bits (RFC 4034 3.1.5, serial arithmetic), so the result is
 * within [-2^31, 2^31). */
int64_t dnsmsg_rrsig_expires_in(uint32_t expire, int64_t now_wall_s);

/* True when the reply's question section is the query's (name compared
 * case-insensitively, type and class equal). */
bool dnsmsg_question_matches(const struct dnsmsg_query *q,
                             const struct dnsmsg_reply *r);

/* Peek at the ID of a message of at least 2 bytes. */
static inline uint16_t dnsmsg_get_id(const uint8_t *wire)
{
	return (uint16_t)(wire[0] << 8 | wire[1]);
}

/* Names of things. Each returns 0 or -EINVAL. */
int dnsmsg_parse_type(const char *text, uint16_t *out); /* "SOA", "TYPE65" */
int dnsmsg_parse_class(const char *text,
                       uint16_t *out);   /* "IN", "CH", "CLASS3" */
int dnsmsg_check_name(const char *text); /* a valid domain name */
/* Write the name into BUF (always NUL-terminated): "SOA", "TYPE65535". */
const char *dnsmsg_type_name(uint16_t type, char *buf, size_t len);
const char *dnsmsg_class_name(uint16_t class, char *buf, size_t len);
/* "NOERROR", "SERVFAIL", "BADVERS", else "RCODE23". */
const char *dnsmsg_rcode_name(int rcode, char *buf, size_t len);

#endif
