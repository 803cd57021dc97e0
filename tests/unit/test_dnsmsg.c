/*
 * Unit tests of dnsmsg: reply parsing on binary fixtures (real replies from
 * NSD, Knot and BIND captured by tests/fixtures/make-replies.sh, and broken
 * ones), replies built here for the corner cases, query building and its
 * round trip, question matching, and the name helpers. One TAP line per
 * fixture and per table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dnsmsg.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

/* What make-replies.sh configured: the zone serial and the identities. */
#define SERIAL 2024051501u
#define NO_SERIAL 0

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/replies/%s", FIXTURES, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap, f);
	assert_true(feof(f)); /* the whole file fit */
	fclose(f);
	return n;
}

/* Name in presentation form to lower-case wire form (test-side, simple). */
static size_t to_wire(const char *text, uint8_t *out)
{
	size_t n = 0;
	while (*text != '\0' && strcmp(text, ".") != 0) {
		const char *dot = strchr(text, '.');
		size_t l = dot ? (size_t)(dot - text) : strlen(text);
		out[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++) {
			char c = text[i];
			out[n++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		text += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

/*
 * Real replies.
 */

struct real_case {
	const char *file;
	uint16_t id;
	int rcode;
	bool aa, tc;
	unsigned ancount;
	const char *qname;
	uint16_t qtype, qclass;
	const char *nsid; /* NULL: no NSID option */
	const char *txt;  /* NULL: no TXT; else the expected prefix */
	size_t txt_len;   /* 0: strlen(txt) */
	uint32_t serial;  /* NO_SERIAL: none */
};

enum { A = 1, SOA = 6, TXT = 16, IN = 1, CH = 3 };

static const struct real_case real_cases[] = {
    {"nsd-soa-nsid.bin", 4097, 0, 1, 0, 1, "example.test", SOA, IN, "nsd-nsid",
     NULL, 0, SERIAL},
    {"nsd-soa-noedns.bin", 4098, 0, 1, 0, 1, "example.test", SOA, IN, NULL,
     NULL, 0, SERIAL},
    {"nsd-mixedcase.bin", 4099, 0, 1, 0, 1, "example.test", SOA, IN, NULL, NULL,
     0, SERIAL},
    {"nsd-hostname-bind.bin", 4100, 0, 0, 0, 1, "hostname.bind", TXT, CH,
     "nsd-nsid", "nsd-identity", 0, NO_SERIAL},
    {"nsd-id-server.bin", 4101, 0, 0, 0, 1, "id.server", TXT, CH, "nsd-nsid",
     "nsd-identity", 0, NO_SERIAL},
    {"nsd-nxdomain.bin", 4102, 3, 1, 0, 0, "nope.example.test", A, IN,
     "nsd-nsid", NULL, 0, SERIAL},
    {"nsd-refused.bin", 4103, 5, 0, 0, 0, "example.org", SOA, IN, "nsd-nsid",
     NULL, 0, NO_SERIAL},
    {"nsd-tc.bin", 4104, 0, 1, 1, 0, "big.example.test", TXT, IN, "nsd-nsid",
     NULL, 0, NO_SERIAL},
    {"knot-soa.bin", 8193, 0, 1, 0, 1, "example.test", SOA, IN, NULL, NULL, 0,
     SERIAL},
    {"knot-hostname-bind.bin", 8194, 0, 0, 0, 1, "hostname.bind", TXT, CH, NULL,
     "knot-identity", 0, NO_SERIAL},
    {"knot-id-server.bin", 8195, 0, 0, 0, 1, "id.server", TXT, CH, NULL,
     "knot-identity", 0, NO_SERIAL},
    {"knot-nxdomain.bin", 8196, 3, 1, 0, 0, "nope.example.test", A, IN, NULL,
     NULL, 0, SERIAL},
    {"knot-refused.bin", 8197, 5, 0, 0, 0, "example.org", SOA, IN, NULL, NULL,
     0, NO_SERIAL},
    /* Queried with EDNS version 1: BADVERS is all in the OPT TTL. */
    {"knot-badvers.bin", 8198, 16, 0, 0, 0, "example.test", SOA, IN, NULL, NULL,
     0, NO_SERIAL},
    {"knot-tc.bin", 8199, 0, 1, 1, 0, "big.example.test", TXT, IN, NULL, NULL,
     0, NO_SERIAL},
    {"bind-soa-nsid.bin", 12289, 0, 1, 0, 1, "example.test", SOA, IN,
     "bind-server-id", NULL, 0, SERIAL},
    {"bind-hostname-bind.bin", 12290, 0, 1, 0, 1, "hostname.bind", TXT, CH,
     "bind-server-id", "bind-hostname", 0, NO_SERIAL},
    {"bind-id-server.bin", 12291, 0, 1, 0, 1, "id.server", TXT, CH,
     "bind-server-id", "bind-server-id", 0, NO_SERIAL},
    {"bind-nxdomain.bin", 12292, 3, 1, 0, 0, "nope.example.test", A, IN,
     "bind-server-id", NULL, 0, SERIAL},
    {"bind-refused.bin", 12293, 5, 0, 0, 0, "example.org", SOA, IN,
     "bind-server-id", NULL, 0, NO_SERIAL},
    /* Ten TXT RRs "x{100} NN" in the server's order: check the shape. */
    {"bind-big-txt.bin", 12294, 0, 1, 0, 10, "big.example.test", TXT, IN, NULL,
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx ",
     103, NO_SERIAL},
};

static void test_real(void **state)
{
	const struct real_case *c = *state;
	uint8_t buf[4096], qname[DNSMSG_MAX_NAME];
	struct dnsmsg_reply r;
	size_t len = load(c->file, buf, sizeof(buf));

	assert_int_equal(dnsmsg_reply_parse(buf, len, &r), 0);
	assert_int_equal(r.size, len);
	assert_int_equal(r.id, c->id);
	assert_true(r.qr);
	assert_int_equal(r.aa, c->aa);
	assert_int_equal(r.tc, c->tc);
	assert_int_equal(r.rcode, c->rcode);
	assert_int_equal(r.ancount, c->ancount);
	assert_true(r.has_question);
	size_t qlen = to_wire(c->qname, qname);
	assert_int_equal(r.qname_len, qlen);
	assert_memory_equal(r.qname, qname, qlen);
	assert_int_equal(r.qtype, c->qtype);
	assert_int_equal(r.qclass, c->qclass);
	assert_int_equal(r.has_nsid, c->nsid != NULL);
	if (c->nsid != NULL) {
		assert_int_equal(r.nsid_len, strlen(c->nsid));
		assert_memory_equal(r.nsid, c->nsid, r.nsid_len);
	}
	assert_int_equal(r.has_txt, c->txt != NULL);
	if (c->txt != NULL) {
		assert_int_equal(r.txt_len,
		                 c->txt_len ? c->txt_len : strlen(c->txt));
		assert_memory_equal(r.txt, c->txt, strlen(c->txt));
	}
	assert_int_equal(r.has_serial, c->serial != NO_SERIAL);
	if (c->serial != NO_SERIAL)
		assert_int_equal(r.serial, c->serial);
}

/* Every proper prefix of a complete (TC clear) reply is malformed, and the
 * parser still reports its size, and its ID once the header is there. */
static void test_real_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]);
	     i++) {
		const struct real_case *c = &real_cases[i];
		uint8_t buf[4096];
		struct dnsmsg_reply r;
		size_t len = load(c->file, buf, sizeof(buf));
		if (c->tc)
			continue;
		for (size_t n = 0; n < len; n++) {
			/* A heap copy of exactly n bytes lets ASan and valgrind
			 * catch any read past the end. */
			uint8_t *copy = malloc(n ? n : 1);
			assert_non_null(copy);
			memcpy(copy, buf, n);
			int rc = dnsmsg_reply_parse(copy, n, &r);
			if (rc != -EBADMSG)
				fail_msg("%s cut at %zu: %d", c->file, n, rc);
			assert_int_equal(r.size, n);
			if (n >= 12)
				assert_int_equal(r.id, c->id);
			free(copy);
		}
	}
}

/* Single-byte damage anywhere in a real reply: parse or reject, never crash
 * or read out of bounds, and what is reported stays within its buffers. */
static void test_real_mutations(void **state)
{
	static const uint8_t vals[] = {0x00, 0xff, 0xc0, 0xc1,
	                               0x3f, 0x40, 0x29};
	unsigned parsed = 0, rejected = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(real_cases) / sizeof(real_cases[0]);
	     i++) {
		uint8_t buf[4096];
		size_t len = load(real_cases[i].file, buf, sizeof(buf));
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t v = 0; v < sizeof(vals); v++) {
				struct dnsmsg_reply r;
				uint8_t *copy = malloc(len);
				assert_non_null(copy);
				memcpy(copy, buf, len);
				copy[pos] = vals[v];
				int rc = dnsmsg_reply_parse(copy, len, &r);
				free(copy);
				assert_true(rc == 0 || rc == -EBADMSG);
				assert_int_equal(r.size, len);
				if (rc < 0) {
					rejected++;
					continue;
				}
				parsed++;
				assert_true(r.qr);
				assert_true(r.nsid_len <= DNSMSG_MAX_NSID);
				assert_true(r.txt_len <= DNSMSG_MAX_TXT);
				assert_true(r.qname_len <= DNSMSG_MAX_NAME);
				assert_true(r.rcode >= 0 && r.rcode < 4096);
			}
		}
	}
	/* Both outcomes must occur, or the mutations test nothing. */
	assert_true(parsed > 0);
	assert_true(rejected > 0);
}

/*
 * Broken replies: each must be -EBADMSG.
 */

static const char *const broken_cases[] = {
    "broken-trunc-11.bin",       "broken-trunc-12.bin",
    "broken-trunc-question.bin", "broken-trunc-answer.bin",
    "broken-trunc-opt.bin",      "broken-not-response.bin",
    "broken-two-opt.bin",        "broken-opt-overrun.bin",
    "broken-opt-partial.bin",    "broken-opt-in-answer.bin",
    "broken-ptr-self.bin",       "broken-ptr-loop.bin",
    "broken-ptr-forward.bin",    "broken-label-type.bin",
    "broken-name-long.bin",      "broken-rdlen.bin",
    "broken-txt-string.bin",     "broken-soa-short.bin",
    "broken-soa-long.bin",       "broken-ptr-header.bin",
    "broken-counts.bin",         "broken-garbage.bin",
};

static void test_broken(void **state)
{
	const char *file = *state;
	uint8_t buf[4096];
	struct dnsmsg_reply r;
	size_t len = load(file, buf, sizeof(buf));
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	memcpy(copy, buf, len);
	assert_int_equal(dnsmsg_reply_parse(copy, len, &r), -EBADMSG);
	assert_int_equal(r.size, len);
	if (len >= 12)
		assert_int_equal(r.id, dnsmsg_get_id(buf));
	free(copy);
}

/*
 * Replies built here, for what real servers rarely send.
 */

struct wire {
	uint8_t b[8192];
	size_t n;
};

static void put(struct wire *w, const void *p, size_t n)
{
	assert_true(w->n + n <= sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put16(struct wire *w, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(w, b, 2);
}

static void put32(struct wire *w, uint32_t v)
{
	put16(w, v >> 16);
	put16(w, v & 0xffff);
}

static void put_hdr(struct wire *w, unsigned flags, unsigned qd, unsigned an,
                    unsigned ns, unsigned ar)
{
	w->n = 0;
	put16(w, 0xbeef);
	put16(w, flags);
	put16(w, qd);
	put16(w, an);
	put16(w, ns);
	put16(w, ar);
}

/* Owner (a compression pointer to the question, offset 12), type, class,
 * TTL, RDLENGTH. */
static void put_rr(struct wire *w, unsigned type, unsigned class, uint32_t ttl,
                   unsigned rdlen)
{
	put(w, "\xc0\x0c", 2);
	put16(w, type);
	put16(w, class);
	put32(w, ttl);
	put16(w, rdlen);
}

static void put_opt(struct wire *w, uint32_t ttl, unsigned rdlen)
{
	put(w, "", 1);
	put16(w, 41);
	put16(w, 1232);
	put32(w, ttl);
	put16(w, rdlen);
}

#define QUESTION "\x02Id\x06SERVER\x00\x00\x10\x00\x03" /* id.server TXT CH */
#define RESPONSE 0x8000
#define TC_FLAG 0x0200

static int parse(const struct wire *w, struct dnsmsg_reply *r)
{
	uint8_t *copy = malloc(w->n);
	assert_non_null(copy);
	memcpy(copy, w->b, w->n);
	int rc = dnsmsg_reply_parse(copy, w->n, r);
	free(copy);
	return rc;
}

static void test_txt_first_and_concatenated(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;

	(void)state;
	put_hdr(&w, RESPONSE, 1, 2, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rr(&w, 16, 3, 0, 8);
	put(&w,
	    "\x02"
	    "ab"
	    "\x00"
	    "\x03"
	    "c\0d",
	    8); /* "ab" "" "c\0d" */
	put_rr(&w, 16, 3, 0, 3);
	put(&w, "\x02zz", 3);
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.id, 0xbeef);
	assert_int_equal(r.ancount, 2);
	assert_true(r.has_txt);
	assert_int_equal(r.txt_len, 5);
	assert_memory_equal(r.txt, "abc\0d", 5);
	/* The question is kept lower-cased. */
	assert_int_equal(r.qname_len, 11);
	assert_memory_equal(r.qname, "\x02id\x06server", 11);
}

static void test_caps(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;
	uint8_t s[255];

	(void)state;
	memset(s, 'n', sizeof(s));
	/* TXT of 5 x 255 bytes; OPT with a 600-byte NSID, then a second
	 * NSID option that must not replace the first. */
	put_hdr(&w, RESPONSE, 1, 1, 0, 1);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rr(&w, 16, 3, 0, 5 * 256);
	for (int i = 0; i < 5; i++) {
		put(&w, "\xff", 1);
		memset(s, 'a' + i, sizeof(s));
		put(&w, s, sizeof(s));
	}
	put_opt(&w, 0, 4 + 600 + 4 + 1);
	put16(&w, 3);
	put16(&w, 600);
	for (int i = 0; i < 600; i++)
		put(&w, i < 512 ? "N" : "!", 1);
	put16(&w, 3);
	put16(&w, 1);
	put(&w, "Z", 1);
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.txt_len, DNSMSG_MAX_TXT);
	assert_int_equal(r.txt[0], 'a');
	assert_int_equal(r.txt[255], 'b');
	assert_int_equal(r.txt[1023], 'e');
	assert_true(r.has_nsid);
	assert_int_equal(r.nsid_len, DNSMSG_MAX_NSID);
	assert_null(memchr(r.nsid, '!', r.nsid_len));
	assert_null(memchr(r.nsid, 'Z', r.nsid_len));
}

static void test_extended_rcode(void **state)
{
	static const struct {
		unsigned hdr_rcode, ext;
		int rcode;
	} t[] = {{0, 0, 0}, {3, 0, 3}, {0, 1, 16}, {7, 1, 23}, {15, 255, 4095}};
	struct wire w;
	struct dnsmsg_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		put_hdr(&w, RESPONSE | t[i].hdr_rcode, 1, 0, 0, 1);
		put(&w, QUESTION, sizeof(QUESTION) - 1);
		put_opt(&w, (uint32_t)t[i].ext << 24, 0);
		assert_int_equal(parse(&w, &r), 0);
		assert_int_equal(r.rcode, t[i].rcode);
		assert_false(r.has_nsid);
	}
	/* Without OPT only the header's 4 bits count. */
	put_hdr(&w, RESPONSE | 9, 1, 0, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.rcode, 9);
}

static void put_soa(struct wire *w, uint32_t serial)
{
	put_rr(w, 6, 1, 60, 2 + 2 + 20);
	put(w, "\xc0\x0c\xc0\x0c", 4); /* MNAME, RNAME compressed */
	put32(w, serial);
	for (int i = 0; i < 4; i++)
		put32(w, 1);
}

static void test_soa_answer_before_authority(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;

	(void)state;
	put_hdr(&w, RESPONSE, 1, 1, 1, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_soa(&w, 111);
	put_soa(&w, 222);
	assert_int_equal(parse(&w, &r), 0);
	assert_true(r.has_serial);
	assert_int_equal(r.serial, 111);

	put_hdr(&w, RESPONSE, 1, 0, 2, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_soa(&w, 222);
	put_soa(&w, 333);
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.serial, 222);
}

/* A TC reply may be cut anywhere: keep what was read. Without TC the same
 * bytes are malformed. */
static void test_truncated_tc(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;

	(void)state;
	put_hdr(&w, RESPONSE | TC_FLAG, 1, 3, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rr(&w, 16, 3, 0, 3);
	put(&w, "\x02ok", 3);
	put_rr(&w, 16, 3, 0, 200); /* RDATA cut */
	put(&w, "\x05short", 6);
	assert_int_equal(parse(&w, &r), 0);
	assert_true(r.tc);
	assert_int_equal(r.ancount, 1);
	assert_int_equal(r.txt_len, 2);
	assert_memory_equal(r.txt, "ok", 2);

	w.b[2] &= (uint8_t) ~(TC_FLAG >> 8);
	assert_int_equal(parse(&w, &r), -EBADMSG);

	/* TC does not excuse structural damage: a forward pointer. */
	put_hdr(&w, RESPONSE | TC_FLAG, 1, 1, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put(&w, "\xc0\x40", 2);
	put16(&w, 16);
	assert_int_equal(parse(&w, &r), -EBADMSG);
}

static void test_no_question_and_trailing_bytes(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;
	struct dnsmsg_query q;

	(void)state;
	put_hdr(&w, RESPONSE | 1, 0, 0, 0, 0); /* FORMERR, empty */
	assert_int_equal(parse(&w, &r), 0);
	assert_false(r.has_question);
	assert_int_equal(r.rcode, 1);
	assert_int_equal(dnsmsg_query_build(&q, ".", 6, 1, 0, false, false), 0);
	assert_false(dnsmsg_question_matches(&q, &r));
	dnsmsg_query_clear(&q);

	put(&w, "junk", 4); /* after the last record: ignored */
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.size, 16);
}

/*
 * RRSIGs: the earliest expiration in the answer section. Fixtures from the
 * lab (tests/fixtures/make-dnssec-replies.sh), signed at a fixed clock.
 */

#define SIGN_NOW 1767225600u /* make-dnssec-replies.sh */
#define SIG_VALID (SIGN_NOW + 7 * 86400u)
#define SIG_EXPIRED (SIGN_NOW - 86400u)

static const struct {
	const char *file;
	int rcode;
	unsigned rrsigs; /* in the answer section */
	uint32_t expire;
} rrsig_cases[] = {
    {"valid-soa.bin", 0, 1, SIG_VALID},
    {"valid-dnskey.bin", 0, 1, SIG_VALID},
    {"valid-txt.bin", 0, 1, SIG_VALID},
    /* Negative answers and referrals: RRSIGs only in the authority. */
    {"valid-nxdomain.bin", 3, 0, 0},
    {"valid-referral-ds.bin", 0, 0, 0},
    {"expired-soa.bin", 0, 1, SIG_EXPIRED},
    {"expired-dnskey.bin", 0, 1, SIG_EXPIRED},
    {"wrongkey-soa.bin", 0, 1, SIG_VALID},
    {"otherksk-dnskey.bin", 0, 1, SIG_VALID},
    {"unsigned-soa.bin", 0, 0, 0},
    {"unsigned-dnskey.bin", 0, 0, 0},
};

static size_t load_dnssec(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "../dnssec/%s", name);
	return load(path, buf, cap);
}

static void test_rrsig_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rrsig_cases) / sizeof(rrsig_cases[0]);
	     i++) {
		uint8_t buf[4096];
		struct dnsmsg_reply r;
		size_t len = load_dnssec(rrsig_cases[i].file, buf, sizeof(buf));

		assert_int_equal(dnsmsg_reply_parse(buf, len, &r), 0);
		assert_int_equal(r.rcode, rrsig_cases[i].rcode);
		if (r.has_rrsig != (rrsig_cases[i].rrsigs > 0) ||
		    r.rrsig_count != rrsig_cases[i].rrsigs)
			fail_msg("%s: %u RRSIGs, want %u", rrsig_cases[i].file,
			         r.rrsig_count, rrsig_cases[i].rrsigs);
		if (r.has_rrsig)
			assert_int_equal(r.rrsig_expire_min,
			                 rrsig_cases[i].expire);
	}
}

/* RRSIG RDATA with the given expiration and signer name (wire form). */
static void put_rrsig(struct wire *w, uint32_t expire, const char *signer,
                      size_t signer_len, size_t sig_len)
{
	put_rr(w, 46, 3, 60, 18 + signer_len + sig_len);
	put16(w, 16);          /* type covered TXT */
	put(w, "\x0d\x02", 2); /* algorithm 13, labels 2 */
	put32(w, 60);
	put32(w, expire);
	put32(w, expire - 86400);
	put16(w, 4711);
	put(w, signer, signer_len);
	for (size_t i = 0; i < sig_len; i++)
		put(w, "s", 1);
}

static void test_rrsig_built(void **state)
{
	struct wire w;
	struct dnsmsg_reply r;

	(void)state;
	/* Earliest in serial arithmetic: 0xffffff00 comes before 0x100. */
	put_hdr(&w, RESPONSE, 1, 3, 1, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rrsig(&w, 0x100, "\xc0\x0c", 2, 64);
	put_rrsig(&w, 0xffffff00u, "\x02id\x06server", 11, 0);
	put_rrsig(&w, 0x200, "\0", 1, 64);
	put_rrsig(&w, 0x7f, "\0", 1, 64); /* authority: not counted */
	assert_int_equal(parse(&w, &r), 0);
	assert_true(r.has_rrsig);
	assert_int_equal(r.rrsig_count, 3);
	assert_int_equal(r.ancount, 3);
	assert_int_equal(r.rrsig_expire_min, 0xffffff00u);

	/* RDATA shorter than the fixed part, or a signer name running past
	 * the RDATA: malformed. */
	put_hdr(&w, RESPONSE, 1, 1, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rr(&w, 46, 3, 60, 17);
	for (int i = 0; i < 17; i++)
		put(&w, "\0", 1);
	assert_int_equal(parse(&w, &r), -EBADMSG);
	put_hdr(&w, RESPONSE, 1, 1, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rrsig(&w, 5, "\x02id", 3, 0); /* name without its root label */
	assert_int_equal(parse(&w, &r), -EBADMSG);
	/* Exactly 18 bytes and the root: fine (no signature bytes). */
	put_hdr(&w, RESPONSE, 1, 1, 0, 0);
	put(&w, QUESTION, sizeof(QUESTION) - 1);
	put_rrsig(&w, 5, "\0", 1, 0);
	assert_int_equal(parse(&w, &r), 0);
	assert_int_equal(r.rrsig_expire_min, 5);
}

static void test_rrsig_expires_in(void **state)
{
	static const struct {
		uint32_t expire;
		int64_t now;
		int64_t want;
	} t[] = {
	    {SIG_VALID, SIGN_NOW, 7 * 86400},
	    {SIG_EXPIRED, SIGN_NOW, -86400},
	    {SIGN_NOW, SIGN_NOW, 0},
	    /* Past 2106 the field wraps: the nearest instant counts. */
	    {5, 0xfffffff6LL, 15},
	    {0xffffffffu, 0x100000005LL, -6},
	    {10, 0x100000000LL + 4, 6},
	    /* The farthest either way: 2^31 - 1 ahead, 2^31 behind. */
	    {0x7fffffffu, 0, 0x7fffffffLL},
	    {0x80000000u, 0, -0x80000000LL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (dnsmsg_rrsig_expires_in(t[i].expire, t[i].now) != t[i].want)
			fail_msg("case %zu: %lld, want %lld", i,
			         (long long)dnsmsg_rrsig_expires_in(t[i].expire,
			                                            t[i].now),
			         (long long)t[i].want);
}

/*
 * Query building.
 */

struct build_case {
	const char *name;
	uint16_t type, class, edns;
	bool nsid;
	int rc;
	bool dnssec; /* DO bit */
};

/* 4 labels of 62, 62, 62 and 61 characters: 250 characters, 252 in wire. */
static char name250[251];
/* One character more in the last label: 256 in wire. */
static char name254[255];
static char label63[64], label64[65];

static const struct build_case build_cases[] = {
    {".", 6, 1, 1232, true, 0, false},
    {"example.se", 6, 1, 1232, true, 0, false},
    {"Example.SE.", 6, 1, 4096, false, 0, false},
    {"hostname.bind", 16, 3, 1232, true, 0, false},
    {"id.server", 16, 3, 0, false, 0, false},
    {name250, 6, 1, 1232, true, 0, false},
    {label63, 1, 1, 512, true, 0, false},
    {name254, 6, 1, 1232, true, -EINVAL, false},
    {label64, 1, 1, 1232, true, -EINVAL, false},
    {"a..b", 1, 1, 1232, true, -EINVAL, false},
    {"..", 1, 1, 1232, true, -EINVAL, false},
    {"", 1, 1, 1232, true, -EINVAL, false},
    {"example.se", 6, 1, 1232, true, 0, true},
    {"example.se", 48, 1, 4096, false, 0, true},
    /* DO needs an OPT record: one advertising 512 bytes. */
    {"example.se", 48, 1, 0, false, 0, true},
    {"a..b", 1, 1, 1232, true, -EINVAL, true},
};

static void make_names(void)
{
	size_t n = 0;
	for (int l = 0; l < 4; l++) {
		for (int i = 0; i < (l < 3 ? 62 : 61); i++)
			name250[n++] = (char)('a' + l);
		if (l < 3)
			name250[n++] = '.';
	}
	name250[n] = '\0';
	snprintf(name254, sizeof(name254), "%s%s", name250, "eeee");
	memset(label63, 'q', 63);
	memset(label64, 'q', 64);
}

static void test_build(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]);
	     i++) {
		const struct build_case *c = &build_cases[i];
		struct dnsmsg_query q;
		struct dnsmsg_reply r;
		uint8_t qname[DNSMSG_MAX_NAME + 8];
		int rc = dnsmsg_query_build(&q, c->name, c->type, c->class,
		                            c->edns, c->nsid, c->dnssec);
		if (rc != c->rc)
			fail_msg("build '%s': %d, want %d", c->name, rc, c->rc);
		if (rc != 0) {
			assert_null(q.wire);
			dnsmsg_query_clear(&q);
			continue;
		}
		size_t qlen = to_wire(c->name, qname);
		bool has_opt = c->edns || c->dnssec;
		bool has_nsid = c->edns && c->nsid;
		uint16_t udp = c->edns ? c->edns : 512;
		size_t opt = has_opt ? 11 + (has_nsid ? 4 : 0) : 0;
		assert_int_equal(q.len, 12 + qlen + 4 + opt);
		assert_int_equal(q.qname_len, qlen);
		assert_memory_equal(q.qname, qname, qlen);
		assert_int_equal(q.qtype, c->type);
		assert_int_equal(q.qclass, c->class);
		/* Header: ID 0, all flags clear (RD off), QD 1, AR 0 or 1. */
		static const uint8_t hdr[10] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
		assert_memory_equal(q.wire, hdr, 10);
		assert_int_equal(dnsmsg_get_id(q.wire + 10), has_opt ? 1 : 0);
		/* The OPT record: root owner, type 41, class = UDP size,
		 * TTL: version 0, DO as asked; the empty NSID option. */
		if (has_opt) {
			const uint8_t *o = q.wire + 12 + qlen + 4;
			uint8_t want[15] = {0,
			                    0,
			                    41,
			                    (uint8_t)(udp >> 8),
			                    (uint8_t)udp,
			                    0,
			                    0,
			                    c->dnssec ? 0x80 : 0,
			                    0,
			                    0,
			                    has_nsid ? 4 : 0,
			                    0,
			                    3,
			                    0,
			                    0};
			assert_memory_equal(o, want, opt);
		}
		/* Round trip: the query with QR set parses back. */
		dnsmsg_set_id(q.wire, 0x4242);
		q.wire[2] |= 0x80;
		assert_int_equal(dnsmsg_reply_parse(q.wire, q.len, &r), 0);
		assert_int_equal(r.id, 0x4242);
		assert_true(dnsmsg_question_matches(&q, &r));
		assert_int_equal(r.has_nsid, has_nsid);
		assert_int_equal(r.nsid_len, 0);
		assert_int_equal(r.ancount, 0);
		dnsmsg_query_clear(&q);
		assert_null(q.wire);
		dnsmsg_query_clear(&q); /* safe twice */
	}
}

/* Matching against real replies: case-insensitive name, exact type/class. */
static void test_question_matches(void **state)
{
	static const struct {
		const char *file, *name;
		uint16_t type, class;
		bool match;
	} t[] = {
	    {"nsd-soa-nsid.bin", "example.test", 6, 1, true},
	    {"nsd-soa-nsid.bin", "EXAMPLE.Test.", 6, 1, true},
	    {"nsd-mixedcase.bin", "example.test", 6, 1, true},
	    {"nsd-soa-nsid.bin", "example.test", 16, 1, false},
	    {"nsd-soa-nsid.bin", "example.test", 6, 3, false},
	    {"nsd-soa-nsid.bin", "example.tes", 6, 1, false},
	    {"nsd-soa-nsid.bin", "www.example.test", 6, 1, false},
	    {"nsd-soa-nsid.bin", ".", 6, 1, false},
	    {"knot-hostname-bind.bin", "hostname.bind", 16, 3, true},
	    {"knot-hostname-bind.bin", "id.server", 16, 3, false},
	    {"bind-refused.bin", "example.org", 6, 1, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t buf[4096];
		struct dnsmsg_reply r;
		struct dnsmsg_query q;
		size_t len = load(t[i].file, buf, sizeof(buf));
		assert_int_equal(dnsmsg_reply_parse(buf, len, &r), 0);
		assert_int_equal(dnsmsg_query_build(&q, t[i].name, t[i].type,
		                                    t[i].class, 1232, true,
		                                    false),
		                 0);
		if (dnsmsg_question_matches(&q, &r) != t[i].match)
			fail_msg("%s vs '%s': want %d", t[i].file, t[i].name,
			         t[i].match);
		dnsmsg_query_clear(&q);
	}
	assert_false(dnsmsg_question_matches(NULL, NULL));
}

/*
 * Names of things.
 */

static void test_parse_type_class(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint16_t v;
	} types[] = {
	    {"SOA", 0, 6},          {"soa", 0, 6},
	    {"TXT", 0, 16},         {"A", 0, 1},
	    {"AAAA", 0, 28},        {"aaaa", 0, 28},
	    {"CAA", 0, 257},        {"ANY", 0, 255},
	    {"TYPE65", 0, 65},      {"type65", 0, 65},
	    {"TYPE1", 0, 1},        {"TYPE65535", 0, 65535},
	    {"TYPE0", -EINVAL, 0},  {"TYPE65536", -EINVAL, 0},
	    {"TYPE", -EINVAL, 0},   {"TYPE-1", -EINVAL, 0},
	    {"TYPE+1", -EINVAL, 0}, {"TYPE 1", -EINVAL, 0},
	    {"TYPE1x", -EINVAL, 0}, {"TYPE99999999999999999999", -EINVAL, 0},
	    {"FOO", -EINVAL, 0},    {"", -EINVAL, 0},
	    {"SOA ", -EINVAL, 0},   {" SOA", -EINVAL, 0},
	    {"SO", -EINVAL, 0},     {"IN", -EINVAL, 0},
	};
	static const struct {
		const char *text;
		int rc;
		uint16_t v;
	} classes[] = {
	    {"IN", 0, 1},
	    {"in", 0, 1},
	    {"CH", 0, 3},
	    {"ch", 0, 3},
	    {"HS", 0, 4},
	    {"NONE", 0, 254},
	    {"ANY", 0, 255},
	    {"CLASS3", 0, 3},
	    {"class1", 0, 1},
	    {"CLASS65535", 0, 65535},
	    {"CLASS0", -EINVAL, 0},
	    {"CLASS65536", -EINVAL, 0},
	    {"CLASS", -EINVAL, 0},
	    {"CLASS3x", -EINVAL, 0},
	    {"CLASS-3", -EINVAL, 0},
	    {"INN", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"SOA", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint16_t v = 0;
		int rc = dnsmsg_parse_type(types[i].text, &v);
		if (rc != types[i].rc || (rc == 0 && v != types[i].v))
			fail_msg("type '%s': rc %d v %u", types[i].text, rc, v);
	}
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		uint16_t v = 0;
		int rc = dnsmsg_parse_class(classes[i].text, &v);
		if (rc != classes[i].rc || (rc == 0 && v != classes[i].v))
			fail_msg("class '%s': rc %d v %u", classes[i].text, rc,
			         v);
	}
	uint16_t v;
	assert_int_equal(dnsmsg_parse_type(NULL, &v), -EINVAL);
	assert_int_equal(dnsmsg_parse_class("IN", NULL), -EINVAL);
}

static void test_names(void **state)
{
	static const struct {
		uint16_t v;
		const char *type, *class;
	} t[] = {
	    {1, "A", "IN"},
	    {2, "NS", "CLASS2"},
	    {3, "MD", "CH"},
	    {4, "MF", "HS"},
	    {6, "SOA", "CLASS6"},
	    {16, "TXT", "CLASS16"},
	    {41, "OPT", "CLASS41"},
	    {54, "TYPE54", "CLASS54"},
	    {65, "HTTPS", "CLASS65"},
	    {255, "ANY", "ANY"},
	    {254, "MAILA", "NONE"},
	    {0, "TYPE0", "CLASS0"},
	    {65535, "TYPE65535", "CLASS65535"},
	};
	static const struct {
		int rcode;
		const char *name;
	} rc[] = {
	    {0, "NOERROR"},  {1, "FORMERR"},      {2, "SERVFAIL"},
	    {3, "NXDOMAIN"}, {4, "NOTIMP"},       {5, "REFUSED"},
	    {6, "YXDOMAIN"}, {7, "YXRRSET"},      {8, "NXRRSET"},
	    {9, "NOTAUTH"},  {10, "NOTZONE"},     {11, "DSOTYPENI"},
	    {15, "RCODE15"}, {16, "BADVERS"},     {23, "BADCOOKIE"},
	    {24, "RCODE24"}, {4095, "RCODE4095"}, {-1, "RCODE-1"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_string_equal(dnsmsg_type_name(t[i].v, buf, sizeof(buf)),
		                    t[i].type);
		assert_string_equal(dnsmsg_class_name(t[i].v, buf, sizeof(buf)),
		                    t[i].class);
	}
	for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++)
		assert_string_equal(
		    dnsmsg_rcode_name(rc[i].rcode, buf, sizeof(buf)),
		    rc[i].name);
	/* Small buffers: cut, always terminated. */
	assert_string_equal(dnsmsg_type_name(65535, buf, 5), "TYPE");
	assert_string_equal(dnsmsg_rcode_name(2, buf, 4), "SER");
	assert_string_equal(dnsmsg_class_name(3, buf, 1), "");
}

/* Every type and class number: its name parses back to the number. */
static void test_names_round_trip(void **state)
{
	char buf[32];

	(void)state;
	for (unsigned v = 1; v <= 65535; v++) {
		uint16_t back = 0;
		const char *n = dnsmsg_type_name((uint16_t)v, buf, sizeof(buf));
		if (dnsmsg_parse_type(n, &back) != 0 || back != v)
			fail_msg("type %u -> '%s' -> %u", v, n, back);
		n = dnsmsg_class_name((uint16_t)v, buf, sizeof(buf));
		if (dnsmsg_parse_class(n, &back) != 0 || back != v)
			fail_msg("class %u -> '%s' -> %u", v, n, back);
	}
}

static void test_check_name(void **state)
{
	static const struct {
		const char *name;
		int rc;
	} t[] = {
	    {".", 0},           {"example.se", 0},
	    {"example.se.", 0}, {"hostname.bind", 0},
	    {"a", 0},           {"xn--bcher-kva.test", 0},
	    {"a..b", -EINVAL},  {"..", -EINVAL},
	    {".a", -EINVAL},    {"", -EINVAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (dnsmsg_check_name(t[i].name) != t[i].rc)
			fail_msg("check_name '%s'", t[i].name);
	assert_int_equal(dnsmsg_check_name(name250), 0);
	assert_int_equal(dnsmsg_check_name(name254), -EINVAL);
	assert_int_equal(dnsmsg_check_name(label63), 0);
	assert_int_equal(dnsmsg_check_name(label64), -EINVAL);
	assert_int_equal(dnsmsg_check_name(NULL), -EINVAL);
}

int main(void)
{
	enum {
		N_REAL = sizeof(real_cases) / sizeof(real_cases[0]),
		N_BROKEN = sizeof(broken_cases) / sizeof(broken_cases[0]),
	};
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_real_prefixes),
	    cmocka_unit_test(test_real_mutations),
	    cmocka_unit_test(test_txt_first_and_concatenated),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_extended_rcode),
	    cmocka_unit_test(test_soa_answer_before_authority),
	    cmocka_unit_test(test_truncated_tc),
	    cmocka_unit_test(test_no_question_and_trailing_bytes),
	    cmocka_unit_test(test_rrsig_fixtures),
	    cmocka_unit_test(test_rrsig_built),
	    cmocka_unit_test(test_rrsig_expires_in),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_question_matches),
	    cmocka_unit_test(test_parse_type_class),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_check_name),
	};
	enum { N_FIXED = sizeof(fixed) / sizeof(fixed[0]) };
	/* One named test per fixture file. */
	static struct CMUnitTest tests[N_REAL + N_BROKEN + N_FIXED];
	size_t n = 0;

	make_names();
	for (size_t i = 0; i < N_REAL; i++)
		tests[n++] = (struct CMUnitTest){
		    .name = real_cases[i].file,
		    .test_func = test_real,
		    .initial_state = (void *)&real_cases[i],
		};
	for (size_t i = 0; i < N_BROKEN; i++)
		tests[n++] = (struct CMUnitTest){
		    .name = broken_cases[i],
		    .test_func = test_broken,
		    .initial_state = (void *)broken_cases[i],
		};
	for (size_t i = 0; i < N_FIXED; i++)
		tests[n++] = fixed[i];
	return _cmocka_run_group_tests("dnsmsg", tests, n, NULL, NULL);
}
