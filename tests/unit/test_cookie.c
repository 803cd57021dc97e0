/*
 * Unit tests of cookie and the COOKIE parts of dnsmsg: SipHash-2-4 test
 * vectors; real replies of BIND and Knot (mod-cookies) to a query with a
 * client cookie, and NSD's without one (tests/fixtures/make-replies.sh);
 * malformed COOKIE options; the verdicts ok / none / spoof; the server
 * cookie learnt; client cookies per server address and port; the query
 * sent as iovecs checked by ldns's own decoder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "cookie.h"
#include "dnsmsg.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

/* The client cookie make-replies.sh sent. */
static const uint8_t CLIENT[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/replies/%s", FIXTURES, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	size_t n = fread(buf, 1, cap, f);
	assert_true(feof(f));
	fclose(f);
	return n;
}

static void test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[64];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	/* The reference vectors of the SipHash paper (key 00..0f, message
	 * 00..len-1). */
	assert_true(cookie_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(cookie_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(cookie_siphash(key, msg, 8) == 0x93f5f5799a932462ULL);
}

static void test_real_replies(void **state)
{
	static const char *const with[] = {
	    "bind-cookie.bin", "bind-cookie-again.bin", "knot-cookie.bin",
	    "knot-cookie-again.bin"};
	uint8_t buf[4096];
	struct dnsmsg_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++) {
		size_t n = load(with[i], buf, sizeof(buf));
		assert_int_equal(dnsmsg_reply_parse(buf, n, &r), 0);
		assert_true(r.has_cookie);
		/* RFC 9018 server cookies are 16 bytes. */
		assert_int_equal(r.cookie_len, 24);
		assert_memory_equal(r.cookie, CLIENT, 8);
		/* Knot's mod-cookies answers a query with a client cookie
		 * only by BADCOOKIE (RFC 7873 5.2.3) carrying its server
		 * cookie: the client learns it and asks again. */
		if (strcmp(with[i], "knot-cookie.bin") == 0) {
			assert_int_equal(r.rcode, 23);
			assert_false(r.has_serial);
		} else {
			assert_int_equal(r.rcode, 0);
			assert_true(r.has_serial);
		}
	}
	size_t n = load("nsd-cookie-none.bin", buf, sizeof(buf));
	assert_int_equal(dnsmsg_reply_parse(buf, n, &r), 0);
	assert_false(r.has_cookie);
	assert_true(r.has_nsid); /* the OPT record itself was read */
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "broken-cookie-short.bin", "broken-cookie-15.bin",
	    "broken-cookie-long.bin", "broken-cookie-two.bin"};
	uint8_t buf[4096];
	struct dnsmsg_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = load(bad[i], buf, sizeof(buf));
		if (dnsmsg_reply_parse(buf, n, &r) != -EBADMSG)
			fail_msg("%s: not malformed", bad[i]);
	}
}

static void test_verdicts(void **state)
{
	uint8_t buf[4096];
	struct dnsmsg_reply r;
	struct cookie_state st = {.server_len = 0};
	uint8_t opt[DNSMSG_COOKIE_OPT_MAX];

	(void)state;
	memcpy(st.client, CLIENT, 8);
	size_t n = load("bind-cookie.bin", buf, sizeof(buf));
	assert_int_equal(dnsmsg_reply_parse(buf, n, &r), 0);
	assert_int_equal(cookie_check(&st, &r), COOKIE_OK);
	assert_int_equal(cookie_option(&st, opt), 12); /* none learnt yet */
	cookie_learn(&st, &r);
	assert_int_equal(st.server_len, 16);
	assert_memory_equal(st.server, r.cookie + 8, 16);
	/* Now sent back: client then server cookie. */
	assert_int_equal(cookie_option(&st, opt), 4 + 24);
	assert_memory_equal(opt, "\x00\x0a\x00\x18", 4);
	assert_memory_equal(opt + 4, CLIENT, 8);
	assert_memory_equal(opt + 12, st.server, 16);

	/* Another client's cookie: a spoof, counted. */
	struct cookie_state other = st;
	other.client[7] ^= 1;
	other.spoofs = 0;
	assert_int_equal(cookie_check(&other, &r), COOKIE_SPOOF);
	assert_int_equal(other.spoofs, 1);

	n = load("nsd-cookie-none.bin", buf, sizeof(buf));
	assert_int_equal(dnsmsg_reply_parse(buf, n, &r), 0);
	assert_int_equal(cookie_check(&st, &r), COOKIE_NONE);
	/* NSD's reply leaves the learnt cookie alone. */
	cookie_learn(&st, &r);
	assert_int_equal(st.server_len, 16);
}

static void sa4(struct sockaddr_in *s, const char *addr, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, addr, &s->sin_addr), 1);
}

static void test_jar(void **state)
{
	static const uint8_t secret[16] = {9, 9, 9, 9, 9, 9, 9, 9,
	                                   1, 2, 3, 4, 5, 6, 7, 8};
	struct cookie_jar *j = NULL, *j2 = NULL, *jr = NULL;
	struct sockaddr_in a, b;
	struct sockaddr_in6 c;
	uint8_t first[8];

	(void)state;
	assert_int_equal(cookie_jar_new_secret(&j, secret), 0);
	assert_int_equal(cookie_jar_new_secret(&j2, secret), 0);
	assert_int_equal(cookie_jar_new(&jr), 0);
	sa4(&a, "192.0.2.53", 53);
	sa4(&b, "192.0.2.53", 5353);
	struct cookie_state *sa = cookie_get(j, (struct sockaddr *)&a);
	struct cookie_state *sb = cookie_get(j, (struct sockaddr *)&b);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_ptr_equal(cookie_get(j, (struct sockaddr *)&a), sa);
	assert_memory_not_equal(sa->client, sb->client, 8);
	/* The same secret gives the same cookie; a random one another. */
	assert_memory_equal(cookie_get(j2, (struct sockaddr *)&a)->client,
	                    sa->client, 8);
	assert_memory_not_equal(cookie_get(jr, (struct sockaddr *)&a)->client,
	                        sa->client, 8);
	memcpy(first, sa->client, 8);
	/* Many servers: the table grows, states do not move. */
	for (int i = 0; i < 2000; i++) {
		memset(&c, 0, sizeof(c));
		c.sin6_family = AF_INET6;
		c.sin6_port = htons(53);
		inet_pton(AF_INET6, "2001:db8::", &c.sin6_addr);
		c.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
		c.sin6_addr.s6_addr[15] = (uint8_t)i;
		assert_non_null(cookie_get(j, (struct sockaddr *)&c));
	}
	assert_int_equal(cookie_jar_size(j), 2002);
	assert_ptr_equal(cookie_get(j, (struct sockaddr *)&a), sa);
	assert_memory_equal(sa->client, first, 8);
	assert_int_equal(cookie_jar_size(j), 2002);
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	assert_null(cookie_get(j, &unix_sa));
	cookie_jar_free(j);
	cookie_jar_free(j2);
	cookie_jar_free(jr);
	cookie_jar_free(NULL);
}

/* The iovecs gathered make a query that ldns decodes with our option. */
static void check_gathered(const struct dnsmsg_query *q, const uint8_t *opt,
                           size_t opt_len, uint16_t id)
{
	struct dnsmsg_patch patch;
	struct iovec iov[DNSMSG_QUERY_IOV];
	uint8_t flat[1024];
	size_t n = dnsmsg_query_iov(q, id, opt, opt_len, &patch, iov), len = 0;

	assert_int_equal(n, opt_len ? 5 : 2);
	for (size_t i = 0; i < n; i++) {
		memcpy(flat + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	assert_int_equal(len, q->len + opt_len);
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, flat, len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), id);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	ldns_edns_option_list *l = ldns_pkt_edns_get_option_list(pkt);
	assert_non_null(l);
	bool nsid = false, cookie = false;
	for (size_t i = 0; i < ldns_edns_option_list_get_count(l); i++) {
		ldns_edns_option *o = ldns_edns_option_list_get_option(l, i);
		if (ldns_edns_get_code(o) == LDNS_EDNS_NSID)
			nsid = true;
		if (ldns_edns_get_code(o) == LDNS_EDNS_COOKIE) {
			cookie = true;
			assert_int_equal(ldns_edns_get_size(o), opt_len - 4);
			assert_memory_equal(ldns_edns_get_data(o), opt + 4,
			                    opt_len - 4);
		}
	}
	assert_true(nsid);
	assert_int_equal(cookie, opt_len > 0);
	ldns_pkt_free(pkt);
}

static void test_query_iov(void **state)
{
	struct dnsmsg_query q, plain;
	struct cookie_state st = {.server_len = 0};
	uint8_t opt[DNSMSG_COOKIE_OPT_MAX];

	(void)state;
	memcpy(st.client, CLIENT, 8);
	assert_int_equal(dnsmsg_query_build(&q, "example.test", DNSMSG_TYPE_SOA,
	                                    DNSMSG_CLASS_IN, 1232, true, false),
	                 0);
	assert_int_not_equal(q.opt_rdlen_off, 0);
	assert_int_equal(q.opt_rdlen, 4); /* the empty NSID option */
	assert_int_equal(dnsmsg_query_reserve_cookie(&q), 0);
	assert_true(q.cookie);
	check_gathered(&q, NULL, 0, 0x4242);
	size_t n = cookie_option(&st, opt);
	assert_int_equal(n, 12);
	check_gathered(&q, opt, n, 0xbeef);
	for (size_t i = 0; i < 32; i++)
		st.server[i] = (uint8_t)(0xa0 + i);
	for (size_t sl = 8; sl <= 32; sl += 8) {
		st.server_len = sl;
		n = cookie_option(&st, opt);
		assert_int_equal(n, 12 + sl);
		check_gathered(&q, opt, n, (uint16_t)(0x1000 + sl));
	}
	/* The template is untouched by any of it. */
	assert_int_equal(q.wire[q.opt_rdlen_off + 1], 4);

	assert_int_equal(dnsmsg_cookie_option(opt, CLIENT, st.server, 7), 0);
	assert_int_equal(dnsmsg_cookie_option(opt, CLIENT, st.server, 33), 0);
	assert_int_equal(dnsmsg_query_build(&plain, "example.test",
	                                    DNSMSG_TYPE_SOA, DNSMSG_CLASS_IN, 0,
	                                    false, false),
	                 0);
	assert_int_equal(plain.opt_rdlen_off, 0);
	assert_int_equal(dnsmsg_query_reserve_cookie(&plain), -EINVAL);
	struct dnsmsg_patch patch;
	struct iovec iov[DNSMSG_QUERY_IOV];
	assert_int_equal(dnsmsg_query_iov(&plain, 1, opt, 12, &patch, iov), 0);
	dnsmsg_query_clear(&q);
	dnsmsg_query_clear(&plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_siphash_vectors),
	    cmocka_unit_test(test_real_replies),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_jar),
	    cmocka_unit_test(test_query_iov),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
