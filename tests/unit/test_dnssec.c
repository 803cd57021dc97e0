/*
 * Unit tests of dnssec: trust anchors loaded from files (DS and DNSKEY,
 * every error with FILE:LINE), and dnssec_round on replies captured from
 * the lab (tests/fixtures/make-dnssec-replies.sh): five sites serving
 * example.test signed validly, with expired signatures (and a new ZSK
 * published), with the wrong key, under a KSK the anchor does not know,
 * and unsigned; checked at the fixtures' clock plus one day.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "dnsmsg.h"
#include "dnssec.h"
#include "result.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif
#define DIR FIXTURES "/dnssec/"

#define SIGN_NOW 1767225600LL /* make-dnssec-replies.sh */
#define NOW_NS ((SIGN_NOW + 86400) * 1000000000LL)

enum { Q_SOA, Q_DNSKEY, Q_TXT, Q_NX, Q_REF_DS, Q_REF_NODS, Q_ID, N_Q };

/* The fixture file suffix of each query. */
static const char *const q_file[N_Q] = {
    "soa", "dnskey", "txt", "nxdomain", "referral-ds", "referral-nods", NULL,
};

static struct conf_query g_queries[N_Q] = {
    [Q_SOA] = {.name = "example.test", .type = 6, .class = 1},
    [Q_DNSKEY] = {.name = "example.test",
                  .type = 48,
                  .class = 1,
                  .dnskey = true},
    [Q_TXT] = {.name = "site.example.test", .type = 16, .class = 1},
    [Q_NX] = {.name = "nx.example.test", .type = 1, .class = 1},
    [Q_REF_DS] = {.name = "www.sub.example.test", .type = 1, .class = 1},
    [Q_REF_NODS] = {.name = "www.unsig.example.test", .type = 1, .class = 1},
    [Q_ID] = {.name = "hostname.bind",
              .type = 16,
              .class = 3,
              .identity = true},
};
static struct conf_server g_servers[2];
static struct conf_target g_targets[2]; /* [1]: no trust anchor */
static struct conf g_conf;

static void setup_keys(void);

static void setup_conf(const char *anchor)
{
	memset(&g_conf, 0, sizeof(g_conf));
	memset(g_targets, 0, sizeof(g_targets));
	for (int i = 0; i < 2; i++) {
		g_targets[i].name = i ? "plain" : "lab";
		g_targets[i].line = 10 + i;
		g_targets[i].servers = g_servers;
		g_targets[i].n_servers = 2;
		g_targets[i].queries = g_queries;
		g_targets[i].n_queries = N_Q;
		g_targets[i].zone = "example.test";
	}
	g_targets[0].trust_anchor = (char *)anchor;
	g_conf.path = "probe.conf";
	g_conf.targets = g_targets;
	g_conf.n_targets = 2;
	setup_keys();
}

static unsigned tag_of(const char *key)
{
	char path[512];
	unsigned v = 0;
	snprintf(path, sizeof(path), DIR "%s.tag", key);
	FILE *f = fopen(path, "r");
	if (f == NULL || fscanf(f, "%u", &v) != 1)
		fail_msg("cannot read %s", path);
	fclose(f);
	return v;
}

/* Wire buffers and exts of the rows; a row points into one of each. */
static uint8_t g_wire[64][4096];
static struct result_ext g_ext[64];
static size_t g_n_wire;
/* Group keys: [target][server][transport]; and the reference's. */
static struct result_key g_keys[2][2][2];
static struct result_key g_ref_key;

static void setup_keys(void)
{
	for (int t = 0; t < 2; t++)
		for (int s = 0; s < 2; s++)
			for (int tr = 0; tr < 2; tr++)
				g_keys[t][s][tr] = (struct result_key){
				    .target = &g_targets[t],
				    .server = &g_servers[s],
				    .transport = (uint8_t)tr,
				};
	g_ref_key = (struct result_key){.target = &g_targets[0],
	                                .server = &g_servers[1],
	                                .reference = true};
}

/* A row of SITE's reply to query Q, by server S (transport 0). */
static struct result row_of(const char *site, int q, int s, int target)
{
	struct result r = {0};
	struct dnsmsg_reply rep;
	char path[512];

	r.key = &g_keys[target][s][0];
	r.query = &g_queries[q];
	r.kind = RESULT_SUCCESS;
	assert_true(g_n_wire < 64);
	r.ext = &g_ext[g_n_wire];
	memset(r.ext, 0, sizeof(*r.ext));
	uint8_t *w = g_wire[g_n_wire++];
	if (q_file[q] == NULL) { /* identity: a reply without wire checks */
		r.has_reply = true;
		return r;
	}
	snprintf(path, sizeof(path), DIR "%s-%s.bin", site, q_file[q]);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	size_t n = fread(w, 1, 4096, f);
	fclose(f);
	assert_int_equal(dnsmsg_reply_parse(w, n, &rep), 0);
	r.has_reply = true;
	r.rcode = (uint16_t)rep.rcode;
	r.tc = rep.tc;
	r.ext->wire = w;
	r.ext->wire_len = (uint32_t)n;
	return r;
}

/* One group (server 0, the anchored target) of every query of SITE. */
static void round_of(struct dnssec *d, const char *site, struct result *rows)
{
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++)
		rows[q] = row_of(site, q, 0, 0);
	dnssec_round(d, rows, N_Q, NOW_NS);
}

#define ABSENT RESULT_DNSSEC_ABSENT
#define SECURE RESULT_DNSSEC_SECURE
#define BOGUS RESULT_DNSSEC_BOGUS
#define INSECURE RESULT_DNSSEC_INSECURE
#define EXPIRED "signature expired"
#define BADSIG "bad signature"
#define NOANCHOR "no DNSKEY matches the trust anchor"
#define NOSIG "no signature"

struct want {
	enum result_dnssec tag;
	const char *error;
};

static const struct {
	const char *site;
	struct want w[N_Q];
	const char *keys[4]; /* dnskey_tags: these keys' tags */
	long long expires;   /* rrsig_expires_in_s of the SOA row; 0: none */
} site_cases[] = {
    {"valid",
     {{SECURE, NULL},
      {SECURE, NULL},
      {SECURE, NULL},
      {SECURE, NULL},
      {SECURE, NULL},
      {INSECURE, NULL},
      {ABSENT, NULL}},
     {"ksk", "zsk"},
     6 * 86400},
    {"expired",
     {{BOGUS, EXPIRED},
      {BOGUS, EXPIRED},
      {BOGUS, EXPIRED},
      {BOGUS, EXPIRED},
      {BOGUS, EXPIRED},
      {BOGUS, EXPIRED},
      {ABSENT, NULL}},
     {"ksk", "zsk", "zsk2"},
     -2 * 86400},
    {"wrongkey",
     {{BOGUS, BADSIG},
      {SECURE, NULL},
      {BOGUS, BADSIG},
      {BOGUS, BADSIG},
      {BOGUS, BADSIG},
      {BOGUS, BADSIG},
      {ABSENT, NULL}},
     {"ksk", "zsk"},
     6 * 86400},
    {"otherksk",
     {{BOGUS, NOANCHOR},
      {BOGUS, NOANCHOR},
      {BOGUS, NOANCHOR},
      {BOGUS, NOANCHOR},
      {BOGUS, NOANCHOR},
      {BOGUS, NOANCHOR},
      {ABSENT, NULL}},
     {"other", "zsk"},
     6 * 86400},
    {"unsigned",
     {{BOGUS, NOSIG},
      {BOGUS, NOANCHOR},
      {BOGUS, NOSIG},
      {BOGUS, NOSIG},
      {BOGUS, NOSIG},
      {BOGUS, NOSIG},
      {ABSENT, NULL}},
     {NULL},
     0},
};

static const char *tag_name(enum result_dnssec t)
{
	static const char *const n[] = {"absent", "secure", "bogus",
	                                "insecure"};
	return n[t];
}

static void expect_tags(const char *got, const char *const *keys)
{
	unsigned v[4];
	size_t n = 0;
	char want[64] = "";

	while (n < 4 && keys[n] != NULL) {
		unsigned t = tag_of(keys[n]);
		size_t j = n++;
		for (; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
	if (n == 0) {
		assert_null(got);
		return;
	}
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%u",
		                        i ? " " : "", v[i]);
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void check_sites(const char *anchor)
{
	struct dnssec *d = NULL;
	struct result rows[N_Q];

	setup_conf(anchor);
	assert_int_equal(dnssec_new(&d, &g_conf, stderr), 0);
	for (size_t c = 0; c < sizeof(site_cases) / sizeof(site_cases[0]);
	     c++) {
		round_of(d, site_cases[c].site, rows);
		for (int q = 0; q < N_Q; q++) {
			const struct want *w = &site_cases[c].w[q];
			const char *e = rows[q].ext->dnssec_error;
			if (rows[q].dnssec != w->tag ||
			    (w->error == NULL) != (e == NULL) ||
			    (e != NULL && strcmp(e, w->error) != 0))
				fail_msg("%s %s: %s (%s), want %s (%s)",
				         site_cases[c].site,
				         q_file[q] ? q_file[q] : "identity",
				         tag_name(rows[q].dnssec), e ? e : "-",
				         tag_name(w->tag),
				         w->error ? w->error : "-");
		}
		expect_tags(rows[Q_DNSKEY].ext->dnskey_tags,
		            site_cases[c].keys);
		for (int q = 0; q < N_Q; q++)
			if (q != Q_DNSKEY)
				assert_null(rows[q].ext->dnskey_tags);
		assert_int_equal(rows[Q_SOA].ext->has_rrsig_expiry,
		                 site_cases[c].expires != 0);
		if (site_cases[c].expires != 0)
			assert_int_equal(rows[Q_SOA].ext->rrsig_expires_in_s,
			                 site_cases[c].expires);
		/* Negative answers and referrals: none in the answer. */
		assert_false(rows[Q_NX].ext->has_rrsig_expiry);
	}
	dnssec_free(d);
}

static void test_sites_ds(void **state)
{
	(void)state;
	check_sites(DIR "ds");
}

static void test_sites_dnskey(void **state)
{
	(void)state;
	check_sites(DIR "dnskey");
}

/* Before the signatures' inception, and after their expiration: the
 * signature checks are remembered across rounds, the clock is not. */
static void test_not_yet_valid(void **state)
{
	struct dnssec *d = NULL;
	struct result rows[N_Q];

	(void)state;
	setup_conf(DIR "ds");
	assert_int_equal(dnssec_new(&d, &g_conf, stderr), 0);
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++)
		rows[q] = row_of("valid", q, 0, 0);
	dnssec_round(d, rows, N_Q, NOW_NS);
	assert_int_equal(rows[Q_SOA].dnssec, SECURE);
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++)
		rows[q] = row_of("valid", q, 0, 0);
	dnssec_round(d, rows, N_Q, (SIGN_NOW + 30 * 86400) * 1000000000LL);
	assert_int_equal(rows[Q_SOA].dnssec, BOGUS);
	assert_string_equal(rows[Q_SOA].ext->dnssec_error, EXPIRED);
	assert_int_equal(rows[Q_DNSKEY].dnssec, BOGUS);
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++)
		rows[q] = row_of("valid", q, 0, 0);
	dnssec_round(d, rows, N_Q, (SIGN_NOW - 7200) * 1000000000LL);
	assert_int_equal(rows[Q_DNSKEY].dnssec, BOGUS);
	assert_string_equal(rows[Q_DNSKEY].ext->dnssec_error,
	                    "signature not yet valid");
	assert_int_equal(rows[Q_SOA].dnssec, BOGUS);
	assert_string_equal(rows[Q_SOA].ext->dnssec_error,
	                    "signature not yet valid");
	dnssec_free(d);
}

/* Groups are adjacent rows of one (target, server, transport): each is
 * checked against its own DNSKEY row; a group without a usable DNSKEY row,
 * and a target without an anchor, stay untagged. */
static void test_groups(void **state)
{
	struct dnssec *d = NULL;
	struct result rows[4 * N_Q];
	size_t n = 0;

	(void)state;
	setup_conf(DIR "ds");
	assert_int_equal(dnssec_new(&d, &g_conf, stderr), 0);
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++) /* server 0: the valid site */
		rows[n++] = row_of("valid", q, 0, 0);
	for (int q = 0; q < N_Q; q++) /* server 1: the wrong key */
		rows[n++] = row_of("wrongkey", q, 1, 0);
	for (int q = 0; q < N_Q; q++) { /* server 0 over TCP: DNSKEY lost */
		rows[n] = row_of("valid", q, 0, 0);
		rows[n].key = &g_keys[0][0][1];
		if (q == Q_DNSKEY) {
			rows[n].has_reply = false;
			rows[n].kind = RESULT_TIMEOUT;
			rows[n].ext->wire = NULL;
		}
		n++;
	}
	for (int q = 0; q < N_Q; q++) /* a target without an anchor */
		rows[n++] = row_of("valid", q, 0, 1);
	dnssec_round(d, rows, n, NOW_NS);
	assert_int_equal(rows[Q_SOA].dnssec, SECURE);
	assert_int_equal(rows[N_Q + Q_SOA].dnssec, BOGUS);
	assert_string_equal(rows[N_Q + Q_SOA].ext->dnssec_error, BADSIG);
	assert_int_equal(rows[N_Q + Q_DNSKEY].dnssec, SECURE);
	for (int q = 0; q < N_Q; q++) {
		assert_int_equal(rows[2 * N_Q + q].dnssec, ABSENT);
		assert_int_equal(rows[3 * N_Q + q].dnssec, ABSENT);
		assert_null(rows[3 * N_Q + q].ext->dnskey_tags);
		assert_false(rows[3 * N_Q + q].ext->has_rrsig_expiry);
	}
	/* Rows without an ext (the scheduler gives none to targets without
	 * DNSSEC work) are never touched. */
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++) {
		rows[q] = row_of("valid", q, 0, 1);
		rows[q].ext = NULL;
	}
	dnssec_round(d, rows, N_Q, NOW_NS);
	for (int q = 0; q < N_Q; q++)
		assert_int_equal(rows[q].dnssec, ABSENT);

	/* A truncated DNSKEY answer is no key set either. */
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++)
		rows[q] = row_of("valid", q, 0, 0);
	rows[Q_DNSKEY].tc = true;
	dnssec_round(d, rows, N_Q, NOW_NS);
	assert_int_equal(rows[Q_SOA].dnssec, ABSENT);
	assert_int_equal(rows[Q_DNSKEY].dnssec, ABSENT);

	/* The reference's own rows are never checked. */
	g_n_wire = 0;
	for (int q = 0; q < N_Q; q++) {
		rows[q] = row_of("valid", q, 0, 0);
		rows[q].key = &g_ref_key;
	}
	dnssec_round(d, rows, N_Q, NOW_NS);
	assert_int_equal(rows[Q_SOA].dnssec, ABSENT);
	dnssec_free(d);
}

/* Groups with byte-identical responses (but for the ID) share a verdict
 * within a round; a different DNSKEY response or a different answer does
 * not. */
static void test_same_responses(void **state)
{
	struct dnssec *d = NULL;
	struct result rows[4 * N_Q];
	size_t n = 0;

	(void)state;
	setup_conf(DIR "ds");
	assert_int_equal(dnssec_new(&d, &g_conf, stderr), 0);
	g_n_wire = 0;
	for (int g = 0; g < 4; g++) {
		for (int q = 0; q < N_Q; q++) {
			const char *site = "valid";
			if (g == 2 && q == Q_DNSKEY)
				site = "otherksk";
			if (g == 3 && q != Q_DNSKEY)
				site = "expired";
			rows[n] = row_of(site, q, g & 1, 0);
			rows[n].key = &g_keys[0][g & 1][g >> 1];
			if (rows[n].ext->wire != NULL) /* another ID */
				((uint8_t *)rows[n].ext->wire)[1] ^= (uint8_t)g;
			n++;
		}
	}
	dnssec_round(d, rows, n, NOW_NS);
	for (int q = 0; q < N_Q; q++) {
		const struct result *a = &rows[q], *b = &rows[N_Q + q];
		assert_int_equal(b->dnssec, a->dnssec);
		assert_ptr_equal(b->ext->dnssec_error, a->ext->dnssec_error);
		assert_int_equal(b->ext->has_rrsig_expiry,
		                 a->ext->has_rrsig_expiry);
		assert_int_equal(b->ext->rrsig_expires_in_s,
		                 a->ext->rrsig_expires_in_s);
	}
	assert_string_equal(rows[N_Q + Q_DNSKEY].ext->dnskey_tags,
	                    rows[Q_DNSKEY].ext->dnskey_tags);
	assert_int_equal(rows[Q_SOA].dnssec, SECURE);
	/* The same SOA under another DNSKEY set. */
	assert_int_equal(rows[2 * N_Q + Q_SOA].dnssec, BOGUS);
	assert_string_equal(rows[2 * N_Q + Q_SOA].ext->dnssec_error, NOANCHOR);
	assert_int_equal(rows[2 * N_Q + Q_REF_NODS].dnssec, BOGUS);
	/* The same DNSKEY set, other answers. */
	assert_int_equal(rows[3 * N_Q + Q_DNSKEY].dnssec, SECURE);
	assert_int_equal(rows[3 * N_Q + Q_SOA].dnssec, BOGUS);
	assert_string_equal(rows[3 * N_Q + Q_SOA].ext->dnssec_error, EXPIRED);
	assert_true(rows[3 * N_Q + Q_SOA].ext->rrsig_expires_in_s < 0);
	dnssec_free(d);
}

/* A trust anchor file: NAME's CONTENT in a temporary directory. */
static char g_dir[64];

static const char *anchor_file(const char *name, const char *content)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}

static void test_anchor_errors(void **state)
{
	static const struct {
		const char *content;
		const char *msg; /* expected after "PATH:" */
	} t[] = {
	    {"", "0: no DS or DNSKEY record"},
	    {"; only a comment\n\n", "0: no DS or DNSKEY record"},
	    {"example.test. 3600 IN A 192.0.2.1\n",
	     "1: not a DS or DNSKEY record"},
	    {"$TTL 60\n\nexample.test. IN DS 1 13 2 abcd\nother.test. IN DS 1 "
	     "13 2 abcd\n",
	     "4: owner is not the target's zone"},
	    {"; x\nexample.test. IN DS 1 13 2 nothex\n", "2: "},
	    {"example.test. IN DNSKEY 0 3 13 "
	     "GZpvyo06VMevmUVnJpSRy8ucPtFlRPvzX99SH5N+xNrBchJoVwTN5yN1fK06dTqN"
	     "tXpUQ2ADqx1IBhzq8W4Lgw==\n",
	     "1: DNSKEY without the Zone Key flag"},
	};
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct dnssec *d = (struct dnssec *)&buf; /* must be reset */
		const char *path = anchor_file("a.ds", t[i].content);
		char want[256];
		FILE *err = fmemopen(buf, sizeof(buf), "w");

		setup_conf(path);
		assert_int_equal(dnssec_new(&d, &g_conf, err), -EINVAL);
		fclose(err);
		assert_null(d);
		snprintf(want, sizeof(want), "%s:%s", path, t[i].msg);
		if (strncmp(buf, want, strlen(want)) != 0)
			fail_msg("case %zu: '%s', want '%s...'", i, buf, want);
	}
	/* A missing file: the config's line of the target. */
	setup_conf("/nonexistent/anchor.ds");
	struct dnssec *d = NULL;
	FILE *err = fmemopen(buf, sizeof(buf), "w");
	assert_int_equal(dnssec_new(&d, &g_conf, err), -EINVAL);
	fclose(err);
	assert_non_null(strstr(buf, "probe.conf:10: target lab: cannot read "
	                            "trust_anchor /nonexistent/anchor.ds"));
	/* conf's hook: the first problem in one line, 0 when usable. */
	char msg[256];
	const char *bad = anchor_file("a.ds", "example.test. IN A 192.0.2.1\n");
	char want[256];
	snprintf(want, sizeof(want), "%s:1: not a DS or DNSKEY record", bad);
	assert_int_equal(
	    dnssec_anchor_check(bad, "example.test", msg, sizeof(msg)), -1);
	assert_string_equal(msg, want);
	assert_int_equal(
	    dnssec_anchor_check("/nonexistent/a.ds", NULL, msg, sizeof(msg)),
	    -1);
	assert_string_equal(msg, "cannot read trust_anchor /nonexistent/a.ds: "
	                         "No such file or directory");
	assert_int_equal(
	    dnssec_anchor_check(DIR "ds", "example.test", msg, sizeof(msg)), 0);
	assert_int_equal(
	    dnssec_anchor_check(DIR "ds", "other.test", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "owner is not the target's zone"));
	/* The zone may come from the anchor. */
	setup_conf(DIR "ds");
	g_targets[0].zone = NULL;
	assert_int_equal(dnssec_new(&d, &g_conf, stderr), 0);
	dnssec_free(d);
	dnssec_free(NULL);
}

static int make_dir(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/test_dnssec.XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char path[128];
	(void)state;
	snprintf(path, sizeof(path), "%s/a.ds", g_dir);
	unlink(path);
	return rmdir(g_dir);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sites_ds),
	    cmocka_unit_test(test_sites_dnskey),
	    cmocka_unit_test(test_not_yet_valid),
	    cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_same_responses),
	    cmocka_unit_test(test_anchor_errors),
	};
	return cmocka_run_group_tests_name("dnssec", tests, make_dir,
	                                   remove_dir);
}
