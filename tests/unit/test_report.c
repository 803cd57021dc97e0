/*
 * Unit tests for src/report.c: report_line against the SPEC example byte
 * for byte and a table of row kinds (timeout, rcode error, network error,
 * TCP, identity rows, hostile TXT/NSID, tag collisions), every line also
 * parsed back with tests/unit/lineproto_parse.h; report_nsid_text; the
 * --format text table (exact output, and column alignment with hostile
 * and non-ASCII cells).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dnsmsg.h"
#include "lineproto_parse.h"
#include "report.h"
#include "transport.h"

#define FFFD "\xef\xbf\xbd"
#define TS 1485100800000000000LL
#define TAGS_SPEC                                                              \
	"target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,"            \
	"domain=example.se,record_type=SOA,class=IN"

/* The SPEC's example line, verbatim. */
static const char SPEC_LINE[] =
    "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,"
    "domain=example.se,record_type=SOA,class=IN,result=success,"
    "rcode=NOERROR,instance=ARN1,instance_source=nsid,dc=datacenter-1 "
    "query_time_ms=11.482,result_code=0i,rcode_value=0i,attempts=1i,"
    "answers=1i,response_bytes=107i,aa=true,tc=false,nsid=\"ARN1\","
    "serial=2017011501i,hop_limit=58i,instance_changed=false "
    "1485100800000000000\n";

static struct conf_tag g_tags[] = {{"dc", "datacenter-1"}};
static struct conf_server g_servers[2];
static struct conf_query g_queries[] = {
    {.name = "example.se",
     .type = DNSMSG_TYPE_SOA,
     .class = DNSMSG_CLASS_IN,
     .identity = false},
    {.name = "hostname.bind",
     .type = DNSMSG_TYPE_TXT,
     .class = DNSMSG_CLASS_CH,
     .identity = true},
    {.name = ".",
     .type = DNSMSG_TYPE_SOA,
     .class = DNSMSG_CLASS_IN,
     .identity = false},
    {.name = "",
     .type = DNSMSG_TYPE_SOA,
     .class = DNSMSG_CLASS_IN,
     .identity = false},
};
static struct conf_target g_target;
static struct tr_conn_info g_conn = {.connect_ns = 1234567,
                                     .tls_handshake_ns = -1};
static struct result_ext g_conn_ext = {.conn = &g_conn};
static struct result_key g_keys[16];
static size_t g_n_keys;

/* The key of a (target, server, transport) group, made on first use. */
static const struct result_key *key(const struct conf_target *t,
                                    const struct conf_server *srv, unsigned tr)
{
	for (size_t i = 0; i < g_n_keys; i++)
		if (g_keys[i].target == t && g_keys[i].server == srv &&
		    g_keys[i].transport == tr)
			return &g_keys[i];
	assert_true(g_n_keys < 16);
	g_keys[g_n_keys] = (struct result_key){.target = t,
	                                       .server = srv,
	                                       .transport = (uint8_t)tr,
	                                       .index = (uint32_t)g_n_keys,
	                                       .port = 53};
	return &g_keys[g_n_keys++];
}
static struct conf g_conf;

static void setup_conf(void)
{
	memset(&g_conf, 0, sizeof(g_conf));
	memset(&g_target, 0, sizeof(g_target));
	memset(g_servers, 0, sizeof(g_servers));
	g_servers[0].family = CONF_IPV4;
	snprintf(g_servers[0].addr_text, sizeof(g_servers[0].addr_text),
	         "192.0.2.53");
	g_servers[1].family = CONF_IPV6;
	snprintf(g_servers[1].addr_text, sizeof(g_servers[1].addr_text),
	         "2001:db8::53");
	g_servers[1].name = "ns.example.net";
	g_target.name = "iis-a";
	g_target.servers = g_servers;
	g_target.n_servers = 2;
	g_target.transports = CONF_UDP | CONF_TCP;
	g_target.queries = g_queries;
	g_target.n_queries = 2;
	g_conf.measurement = "dns_anycast";
	g_conf.tags = g_tags;
	g_conf.n_tags = 1;
	g_conf.targets = &g_target;
	g_conf.n_targets = 1;
}

/* The result behind the SPEC example. */
static struct result spec_result(void)
{
	struct result r = {
	    .key = key(&g_target, &g_servers[0], 0),
	    .query = &g_queries[0],
	    .kind = RESULT_SUCCESS,
	    .attempts = 1,
	    .timestamp_ns = TS,
	    .rtt_ns = 11482000,
	    .has_reply = true,
	    .rcode = 0,
	    .aa = true,
	    .answers = 1,
	    .response_bytes = 107,
	    .has_serial = true,
	    .serial = 2017011501,
	    .hop_limit = 58,
	    .nsid = (const uint8_t *)"ARN1",
	    .nsid_len = 4,
	    .instance = (const uint8_t *)"ARN1",
	    .instance_len = 4,
	    .instance_source = SOURCE_NSID,
	    .instance_changed = 0,
	};
	return r;
}

/* A result with no reply at all. */
static void no_reply(struct result *r)
{
	r->has_reply = false;
	r->aa = false;
	r->answers = 0;
	r->response_bytes = 0;
	r->has_serial = false;
	r->hop_limit = -1;
	r->nsid = NULL;
	r->instance = NULL;
	r->instance_source = SOURCE_NONE;
	r->instance_changed = -1;
}

static void c_spec(struct result *r)
{
	(void)r;
}

static void c_timeout(struct result *r)
{
	no_reply(r);
	r->kind = RESULT_TIMEOUT;
	r->attempts = 2;
	r->rtt_ns = -1;
}

/* A timeout never has query_time_ms, even if an RTT slipped through. */
static void c_timeout_rtt(struct result *r)
{
	c_timeout(r);
	r->rtt_ns = 5000000;
}

static void c_refused(struct result *r)
{
	no_reply(r);
	r->kind = RESULT_ERROR;
	r->has_reply = true;
	r->rcode = 5;
	r->rtt_ns = 2500000;
	r->response_bytes = 40;
	r->hop_limit = 64;
}

static void c_conn_refused(struct result *r)
{
	no_reply(r);
	r->kind = RESULT_ERROR;
	r->key = key(r->key->target, r->key->server, 1);
	r->rtt_ns = -1;
	result_set_error(r, "connection refused");
}

static void c_tcp(struct result *r)
{
	r->key = key(r->key->target, r->key->server, 1);
	r->ext = &g_conn_ext;
	r->hop_limit = -1;
	r->has_serial = false;
	r->nsid = NULL;
	r->instance = NULL;
	r->instance_source = SOURCE_NONE;
	r->instance_changed = -1;
}

static void c_hostname_bind(struct result *r)
{
	r->key = key(r->key->target, &g_servers[1], r->key->transport);
	r->query = &g_queries[1];
	r->rtt_ns = 250000;
	r->answers = 1;
	r->response_bytes = 70;
	r->has_serial = false;
	r->hop_limit = 57;
	r->nsid = NULL;
	r->identity = (const uint8_t *)"fra1.ns";
	r->identity_len = 7;
	r->instance = r->identity;
	r->instance_len = r->identity_len;
	r->instance_source = SOURCE_HOSTNAME_BIND;
	r->instance_changed = 1;
}

static void c_nsid_binary(struct result *r)
{
	r->nsid = (const uint8_t *)"\x00\xff"
	                           "A";
	r->nsid_len = 3;
	r->instance = r->nsid;
	r->instance_len = r->nsid_len;
}

static void c_hostile_txt(struct result *r)
{
	c_hostname_bind(r);
	r->query = &g_queries[1];
	r->identity = (const uint8_t *)"evil\",x=1 y\n\\";
	r->identity_len = 13;
	r->instance = r->identity;
	r->instance_len = r->identity_len;
	r->instance_source = SOURCE_ID_SERVER;
}

static void c_root(struct result *r)
{
	c_tcp(r);
	r->key = key(r->key->target, r->key->server, 0);
	r->ext = NULL;
	r->query = &g_queries[2];
}

static void c_root_empty(struct result *r)
{
	c_root(r);
	r->query = &g_queries[3];
}

static struct conf_tag g_clash_global[] = {
    {"target", "evil"}, {"dc", "datacenter-1"}, {"x", ""},
    {"dc", "again"},    {"region", "eu"},       {"time", "1"},
};
static struct conf_tag g_clash_target[] = {
    {"dc", "override"},
    {"result", "evil"},
    {"operator", "cira"},
    {"operator", "twice"},
};

static void c_tag_clash(struct result *r)
{
	c_root(r);
	r->query = &g_queries[0];
	g_conf.tags = g_clash_global;
	g_conf.n_tags = 6;
	g_target.tags = g_clash_target;
	g_target.n_tags = 4;
}

/* ---- Version 2 rows ---- */

/* A key with its own port (the key() helper's are 53). */
static const struct result_key *key_port(unsigned tr, uint16_t port,
                                         bool reference)
{
	static struct result_key keys[8];
	static unsigned n;
	struct result_key *k = &keys[n++ % 8];

	*k = (struct result_key){.target = &g_target,
	                         .server = &g_servers[0],
	                         .transport = (uint8_t)tr,
	                         .index = 8 + tr,
	                         .port = port,
	                         .reference = reference};
	return k;
}

/* Rows with only the v1 fields but for the one under test. */
static void v2_base(struct result *r)
{
	r->nsid = NULL;
	r->instance = NULL;
	r->instance_source = SOURCE_NONE;
	r->instance_changed = -1;
	r->has_serial = false;
	r->hop_limit = -1;
}

static void c_port(struct result *r)
{
	v2_base(r);
	r->key = key_port(0, 5353, false);
	r->hop_limit = 64;
}

static struct tr_conn_info g_tls = {.connect_ns = 1200000,
                                    .tls_handshake_ns = 3456789,
                                    .cert_expires_s = 86400,
                                    .has_cert = true,
                                    .tls_resumed = true,
                                    .tls_version = 13};
static struct tr_conn_info g_tls12 = {.connect_ns = -1,
                                      .tls_handshake_ns = 2000000,
                                      .cert_expires_s = -30,
                                      .has_cert = true,
                                      .tls_version = 12};

static void c_tls(struct result *r)
{
	v2_base(r);
	r->key = key_port(2, 853, false);
	static struct result_ext x = {.conn = &g_tls};
	r->ext = &x;
}

static void c_https(struct result *r)
{
	v2_base(r);
	r->key = key_port(3, 8443, false);
	static struct result_ext x = {.conn = &g_tls12};
	r->ext = &x;
	r->http_status = 200;
}

static struct result_ext g_ext;

static void c_dnssec_secure(struct result *r)
{
	v2_base(r);
	memset(&g_ext, 0, sizeof(g_ext));
	g_ext.has_rrsig_expiry = true;
	g_ext.rrsig_expires_in_s = 604800;
	r->ext = &g_ext;
	r->dnssec = RESULT_DNSSEC_SECURE;
}

static void c_dnssec_bogus(struct result *r)
{
	c_dnssec_secure(r);
	g_ext.rrsig_expires_in_s = -3600;
	g_ext.dnssec_error = "signature expired";
	r->dnssec = RESULT_DNSSEC_BOGUS;
}

static void c_dnskey(struct result *r)
{
	v2_base(r);
	memset(&g_ext, 0, sizeof(g_ext));
	g_ext.dnskey_tags = "20326 38696";
	r->ext = &g_ext;
	r->dnssec = RESULT_DNSSEC_INSECURE;
}

static void c_serial_lag(struct result *r)
{
	v2_base(r);
	r->has_serial = true;
	r->serial = 2017011499;
	memset(&g_ext, 0, sizeof(g_ext));
	g_ext.has_serial_lag = true;
	g_ext.serial_lag = 2;
	g_ext.serial_stale_s = 120;
	r->ext = &g_ext;
}

static void c_reference(struct result *r)
{
	v2_base(r);
	r->key = key_port(0, 53, true);
	r->cookie = RESULT_COOKIE_OK;
}

static void c_cookie_none(struct result *r)
{
	v2_base(r);
	r->cookie = RESULT_COOKIE_NONE;
}

#define V1_TAIL                                                                \
	"query_time_ms=11.482,result_code=0i,rcode_value=0i,attempts=1i,"      \
	"answers=1i,response_bytes=107i,aa=true,tc=false"
#define V1_TAGS ",result=success,rcode=NOERROR"

struct line_case {
	const char *name;
	void (*setup)(struct result *r);
	const char *line;
};

static const struct line_case LINE_CASES[] = {
    {"SPEC example", c_spec, SPEC_LINE},
    {"timeout", c_timeout,
     "dns_anycast," TAGS_SPEC ",result=timeout,dc=datacenter-1 "
     "result_code=1i,attempts=2i 1485100800000000000\n"},
    {"timeout with a stray rtt", c_timeout_rtt,
     "dns_anycast," TAGS_SPEC ",result=timeout,dc=datacenter-1 "
     "result_code=1i,attempts=2i 1485100800000000000\n"},
    {"error with rcode", c_refused,
     "dns_anycast," TAGS_SPEC ",result=error,rcode=REFUSED,dc=datacenter-1 "
     "query_time_ms=2.500,result_code=2i,rcode_value=5i,attempts=1i,"
     "answers=0i,response_bytes=40i,aa=false,tc=false,hop_limit=64i,"
     "error=\"rcode REFUSED\" 1485100800000000000\n"},
    {"error with cause", c_conn_refused,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=tcp,"
     "domain=example.se,record_type=SOA,class=IN,result=error,"
     "dc=datacenter-1 result_code=2i,attempts=1i,"
     "error=\"connection refused\" 1485100800000000000\n"},
    {"tcp with connect_ms", c_tcp,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=tcp,"
     "domain=example.se,record_type=SOA,class=IN,result=success,"
     "rcode=NOERROR,dc=datacenter-1 query_time_ms=11.482,result_code=0i,"
     "rcode_value=0i,attempts=1i,answers=1i,response_bytes=107i,aa=true,"
     "tc=false,connect_ms=1.235 1485100800000000000\n"},
    {"instance from hostname.bind", c_hostname_bind,
     "dns_anycast,target=iis-a,server=2001:db8::53,"
     "server_name=ns.example.net,family=ipv6,transport=udp,"
     "domain=hostname.bind,record_type=TXT,class=CH,result=success,"
     "rcode=NOERROR,instance=fra1.ns,instance_source=hostname.bind,"
     "dc=datacenter-1 query_time_ms=0.250,result_code=0i,rcode_value=0i,"
     "attempts=1i,answers=1i,response_bytes=70i,aa=true,tc=false,"
     "identity=\"fra1.ns\",hop_limit=57i,instance_changed=true "
     "1485100800000000000\n"},
    {"binary NSID shown as hex", c_nsid_binary,
     "dns_anycast," TAGS_SPEC ",result=success,rcode=NOERROR,"
     "instance=00ff41,instance_source=nsid,dc=datacenter-1 "
     "query_time_ms=11.482,result_code=0i,rcode_value=0i,attempts=1i,"
     "answers=1i,response_bytes=107i,aa=true,tc=false,nsid=\"00ff41\","
     "serial=2017011501i,hop_limit=58i,instance_changed=false "
     "1485100800000000000\n"},
    {"hostile TXT", c_hostile_txt,
     "dns_anycast,target=iis-a,server=2001:db8::53,"
     "server_name=ns.example.net,family=ipv6,transport=udp,"
     "domain=hostname.bind,record_type=TXT,class=CH,result=success,"
     "rcode=NOERROR,instance=evil\"\\,x\\=1\\ y" FFFD FFFD ","
     "instance_source=id.server,dc=datacenter-1 query_time_ms=0.250,"
     "result_code=0i,rcode_value=0i,attempts=1i,answers=1i,"
     "response_bytes=70i,aa=true,tc=false,"
     "identity=\"evil\\\",x=1 y" FFFD "\\\\\",hop_limit=57i,"
     "instance_changed=true 1485100800000000000\n"},
    {"root", c_root,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,"
     "domain=.,record_type=SOA,class=IN,result=success,rcode=NOERROR,"
     "dc=datacenter-1 query_time_ms=11.482,result_code=0i,rcode_value=0i,"
     "attempts=1i,answers=1i,response_bytes=107i,aa=true,tc=false "
     "1485100800000000000\n"},
    {"root given as empty name", c_root_empty,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,"
     "domain=.,record_type=SOA,class=IN,result=success,rcode=NOERROR,"
     "dc=datacenter-1 query_time_ms=11.482,result_code=0i,rcode_value=0i,"
     "attempts=1i,answers=1i,response_bytes=107i,aa=true,tc=false "
     "1485100800000000000\n"},
    {"tag clashes", c_tag_clash,
     "dns_anycast," TAGS_SPEC ",result=success,rcode=NOERROR,region=eu,"
     "dc=override,operator=cira query_time_ms=11.482,result_code=0i,"
     "rcode_value=0i,attempts=1i,answers=1i,response_bytes=107i,aa=true,"
     "tc=false 1485100800000000000\n"},
    {"port tag", c_port,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=udp,"
     "port=5353,domain=example.se,record_type=SOA,class=IN" V1_TAGS
     ",dc=datacenter-1 " V1_TAIL ",hop_limit=64i 1485100800000000000\n"},
    {"tls", c_tls,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,transport=tls,"
     "domain=example.se,record_type=SOA,class=IN" V1_TAGS
     ",dc=datacenter-1 " V1_TAIL
     ",connect_ms=1.200,tls_handshake_ms=3.457,tls_version=\"TLSv1.3\","
     "tls_resumed=true,cert_expires_in_s=86400i 1485100800000000000\n"},
    {"https", c_https,
     "dns_anycast,target=iis-a,server=192.0.2.53,family=ipv4,"
     "transport=https,port=8443,domain=example.se,record_type=SOA,"
     "class=IN" V1_TAGS ",dc=datacenter-1 " V1_TAIL
     ",tls_handshake_ms=2.000,tls_version=\"TLSv1.2\",tls_resumed=false,"
     "cert_expires_in_s=-30i,http_status=200i 1485100800000000000\n"},
    {"dnssec secure", c_dnssec_secure,
     "dns_anycast," TAGS_SPEC V1_TAGS ",dnssec=secure,dc=datacenter-1 " V1_TAIL
     ",rrsig_expires_in_s=604800i 1485100800000000000\n"},
    {"dnssec bogus", c_dnssec_bogus,
     "dns_anycast," TAGS_SPEC V1_TAGS ",dnssec=bogus,dc=datacenter-1 " V1_TAIL
     ",rrsig_expires_in_s=-3600i,dnssec_error=\"signature expired\" "
     "1485100800000000000\n"},
    {"dnskey tags", c_dnskey,
     "dns_anycast," TAGS_SPEC V1_TAGS
     ",dnssec=insecure,dc=datacenter-1 " V1_TAIL
     ",dnskey_tags=\"20326 38696\" 1485100800000000000\n"},
    {"serial lag", c_serial_lag,
     "dns_anycast," TAGS_SPEC V1_TAGS ",dc=datacenter-1 " V1_TAIL
     ",serial=2017011499i,serial_lag=2i,serial_stale_s=120i "
     "1485100800000000000\n"},
    {"reference and cookie ok", c_reference,
     "dns_anycast," TAGS_SPEC V1_TAGS ",reference=true,dc=datacenter-1 " V1_TAIL
     ",cookie=\"ok\" 1485100800000000000\n"},
    {"cookie none", c_cookie_none,
     "dns_anycast," TAGS_SPEC V1_TAGS ",dc=datacenter-1 " V1_TAIL
     ",cookie=\"none\" 1485100800000000000\n"},
};

/* Field types as SPEC has them. */
static char field_type(const char *key)
{
	static const struct {
		const char *key;
		char type;
	} types[] = {
	    {"query_time_ms", 'f'},
	    {"result_code", 'i'},
	    {"rcode_value", 'i'},
	    {"attempts", 'i'},
	    {"answers", 'i'},
	    {"response_bytes", 'i'},
	    {"aa", 'b'},
	    {"tc", 'b'},
	    {"nsid", 's'},
	    {"identity", 's'},
	    {"serial", 'i'},
	    {"hop_limit", 'i'},
	    {"connect_ms", 'f'},
	    {"instance_changed", 'b'},
	    {"error", 's'},
	    {"tls_handshake_ms", 'f'},
	    {"tls_version", 's'},
	    {"tls_resumed", 'b'},
	    {"cert_expires_in_s", 'i'},
	    {"http_status", 'i'},
	    {"rrsig_expires_in_s", 'i'},
	    {"dnssec_error", 's'},
	    {"dnskey_tags", 's'},
	    {"serial_lag", 'i'},
	    {"serial_stale_s", 'i'},
	    {"cookie", 's'},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(types[i].key, key))
			return types[i].type;
	return '?';
}

/* One line of R: the fast path (R's pointers are the conf's) or, with
 * SLOW, the same row through a copy of its target (pointers outside the
 * conf, so the tags are built the slow way). */
static int line_of(struct lineproto *lp, const struct result *r, bool slow)
{
	struct report *rep;
	struct result copy = *r;
	static struct conf_target clone;
	int rc;

	assert_int_equal(report_new(&rep, &g_conf), 0);
	static struct result_key ckey;

	if (slow) {
		/* a target outside the conf, under a key of its own */
		clone = *r->key->target;
		ckey = *r->key;
		ckey.target = &clone;
		ckey.index = 15;
		copy.key = &ckey;
	}
	rc = report_line(rep, lp, &copy);
	report_free(rep);
	return rc;
}

static void test_report_line(void **state)
{
	(void)state;
	struct lineproto lp;

	lineproto_init(&lp);
	for (size_t i = 0; i < 2 * sizeof(LINE_CASES) / sizeof(LINE_CASES[0]);
	     i++) {
		bool slow = i % 2;
		const struct line_case *c = &LINE_CASES[i / 2];
		setup_conf();
		struct result r = spec_result();
		c->setup(&r);
		lineproto_reset(&lp);
		assert_int_equal(line_of(&lp, &r, slow), 0);
		if (lp.len != strlen(c->line) ||
		    memcmp(lp.data, c->line, lp.len))
			fail_msg("case '%s'%s:\n got  %s want %s", c->name,
			         slow ? " (slow path)" : "", lp.data, c->line);
		/* parses back: unique tag keys, SPEC field types */
		struct lpp_line l;
		if (lpp_parse(&l, lp.data, lp.len) != 0)
			fail_msg("case '%s': does not parse: %s", c->name,
			         l.why);
		assert_string_equal(l.measurement, "dns_anycast");
		assert_true(l.timestamp == TS);
		for (size_t t = 0; t < l.n_tags; t++)
			if (lpp_find(l.tags, t, l.tags[t].key))
				fail_msg("case '%s': tag %s twice", c->name,
				         l.tags[t].key);
		for (size_t f = 0; f < l.n_fields; f++)
			if (field_type(l.fields[f].key) != l.fields[f].type)
				fail_msg("case '%s': field %s has type %c",
				         c->name, l.fields[f].key,
				         l.fields[f].type);
		lpp_free(&l);
	}
	lineproto_clear(&lp);
}

/* Lines accumulate: a round is many report_line calls on one buffer. */
static void test_report_round(void **state)
{
	(void)state;
	struct lineproto lp;
	size_t n = sizeof(LINE_CASES) / sizeof(LINE_CASES[0]);

	struct report *rep;

	setup_conf();
	lineproto_init(&lp);
	assert_int_equal(report_new(&rep, &g_conf), 0);
	for (size_t i = 0; i < n; i++) {
		struct result r = spec_result();
		if (LINE_CASES[i].setup != c_tag_clash)
			LINE_CASES[i].setup(&r);
		assert_int_equal(report_line(rep, &lp, &r), 0);
	}
	size_t lines = 0;
	for (size_t i = 0; i < lp.len; i++)
		lines += lp.data[i] == '\n';
	assert_int_equal(lines, n);
	assert_int_equal(lp.data[lp.len - 1], '\n');
	assert_int_equal(report_line(NULL, &lp, NULL), -EINVAL);
	assert_int_equal(report_line(rep, &lp, NULL), -EINVAL);
	assert_int_equal(report_new(&rep, NULL), -EINVAL);
	report_free(rep);
	report_free(NULL);
	lineproto_clear(&lp);
}

/* A key changed in place (a job list rebuilt at the same address) gets its
 * tags built again, not the cached ones. */
static void test_key_cache(void **state)
{
	(void)state;
	struct lineproto lp;
	struct report *rep;
	static struct result_key k;

	setup_conf();
	lineproto_init(&lp);
	assert_int_equal(report_new(&rep, &g_conf), 0);
	struct result r = spec_result();
	k = *r.key;
	k.index = 1000; /* past the cache's first size: it grows */
	k.port = 5353;
	r.key = &k;
	assert_int_equal(report_line(rep, &lp, &r), 0);
	assert_non_null(strstr(lp.data, ",transport=udp,port=5353,domain="));
	lineproto_reset(&lp);
	k.port = 53;
	k.server = &g_servers[1];
	assert_int_equal(report_line(rep, &lp, &r), 0);
	assert_null(strstr(lp.data, ",port="));
	assert_non_null(strstr(lp.data, ",server=2001:db8::53,"));
	/* the same again: from the cache, same bytes */
	char first[1024];
	snprintf(first, sizeof(first), "%s", lp.data);
	lineproto_reset(&lp);
	assert_int_equal(report_line(rep, &lp, &r), 0);
	assert_string_equal(lp.data, first);
	/* a server rebuilt in place (same object, new address): only
	 * report_rebuilt() can tell, and then the new address shows */
	snprintf(g_servers[1].addr_text, sizeof(g_servers[1].addr_text),
	         "2001:db8::54");
	report_rebuilt(rep);
	lineproto_reset(&lp);
	assert_int_equal(report_line(rep, &lp, &r), 0);
	assert_non_null(strstr(lp.data, ",server=2001:db8::54,"));
	report_rebuilt(NULL);
	report_free(rep);
	lineproto_clear(&lp);
}

struct nsid_case {
	const char *name;
	const char *in;
	size_t len;
	size_t size;
	const char *want;
};

static void test_nsid_text(void **state)
{
	(void)state;
	const struct nsid_case cases[] = {
	    {"printable", "ARN1", 4, 64, "ARN1"},
	    {"space and tilde printable", "a b~", 4, 64, "a b~"},
	    {"binary to hex",
	     "\x00\xff"
	     "A",
	     3, 64, "00ff41"},
	    {"DEL is not printable", "ab\x7f", 3, 64, "61627f"},
	    {"UTF-8 is not ASCII", "\xc3\xa9", 2, 64, "c3a9"},
	    {"newline", "a\n", 2, 64, "610a"},
	    {"empty", "", 0, 64, ""},
	    {"printable cut", "ARN1", 4, 3, "AR"},
	    {"hex cut on whole bytes",
	     "\x00\xff"
	     "A",
	     3, 6, "00ff"},
	    {"hex cut to nothing", "\x01", 1, 2, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct nsid_case *c = &cases[i];
		char buf[64];
		memset(buf, 'Z', sizeof(buf));
		size_t n = report_nsid_text(buf, c->size,
		                            (const uint8_t *)c->in, c->len);
		if (n != strlen(c->want) || strcmp(buf, c->want))
			fail_msg("case '%s': got '%s'", c->name, buf);
	}
	assert_int_equal(report_nsid_text(NULL, 0, (const uint8_t *)"a", 1), 0);
}

static const char TABLE[] =
    "# 2017-01-22 16:00:00.000 UTC\n"
    "target  server        family  transport  query                 result   "
    "rcode        ms      serial  instance                          "
    "identity  flags\n"
    "iis-a   192.0.2.53    ipv4    udp        example.se SOA        success  "
    "NOERROR  11.482  2017011501  ARN1 (nsid)                       "
    "-         aa\n"
    "iis-a   192.0.2.53    ipv4    tcp        example.se SOA        timeout  "
    "-             -           -  -                                 "
    "-         tries=2\n"
    "iis-a   2001:db8::53  ipv6    udp        hostname.bind TXT CH  success  "
    "NOERROR   0.250           -  fra1.ns (hostname.bind, changed)  "
    "fra1.ns   aa\n";

/* With a port that is not the transport's default: a port column. */
static const char TABLE_PORT[] =
    "target  server      family  transport  port  query           result   "
    "rcode        ms      serial  instance     identity  flags\n"
    "iis-a   192.0.2.53  ipv4    udp          53  example.se SOA  success  "
    "NOERROR  11.482  2017011501  ARN1 (nsid)  -         aa\n"
    "iis-a   192.0.2.53  ipv4    tcp        5353  example.se SOA  success  "
    "NOERROR  11.482  2017011501  ARN1 (nsid)  -         aa,tc,tries=3\n";

static void test_text_exact(void **state)
{
	(void)state;
	struct result r[3];
	struct lineproto lp;

	setup_conf();
	r[0] = spec_result();
	r[1] = spec_result();
	c_timeout(&r[1]);
	r[1].key = key(r[1].key->target, r[1].key->server, 1);
	r[2] = spec_result();
	c_hostname_bind(&r[2]);
	lineproto_init(&lp);
	assert_int_equal(report_text(&lp, r, 3, TS), 0);
	if (strcmp(lp.data, TABLE))
		fail_msg("got\n%swant\n%s", lp.data, TABLE);
	/* header only for an empty round; no title without a time */
	lineproto_reset(&lp);
	assert_int_equal(report_text(&lp, r, 0, 0), 0);
	assert_string_equal(lp.data,
	                    "target  server  family  transport  query  result  "
	                    "rcode  ms  serial  instance  identity  flags\n");
	/* a port column once a port is not the default */
	static struct result_key k5353;
	r[1] = spec_result();
	k5353 = *key(&g_target, &g_servers[0], 1);
	k5353.port = 5353;
	r[1].key = &k5353;
	r[1].tc = true;
	r[1].attempts = 3;
	lineproto_reset(&lp);
	assert_int_equal(report_text(&lp, r, 2, 0), 0);
	if (strcmp(lp.data, TABLE_PORT))
		fail_msg("got\n%swant\n%s", lp.data, TABLE_PORT);
	lineproto_clear(&lp);
}

/* Byte offset of the IDX-th character of S (UTF-8), or strlen(S). */
static size_t char_offset(const char *s, size_t idx)
{
	size_t off = 0;

	for (size_t c = 0; s[off]; off++) {
		if (((unsigned char)s[off] & 0xC0) == 0x80)
			continue;
		if (c++ == idx)
			return off;
	}
	return off;
}

static void test_text_alignment(void **state)
{
	(void)state;
	static struct conf_target wide;
	struct result r[5];
	struct lineproto lp;

	setup_conf();
	wide = g_target;
	wide.name =
	    "z\xc3\xbcrich-\xc3\xa4\xc3\xa4\xc3\xa4"; /* 10 chars, 14 bytes */
	for (int i = 0; i < 5; i++)
		r[i] = spec_result();
	r[0].key = key(&wide, r[0].key->server, r[0].key->transport);
	c_hostile_txt(&r[1]);
	c_conn_refused(&r[2]);
	c_refused(&r[3]);
	r[4].instance = (const uint8_t *)"\x1b[2J\r\nfake row  x  y";
	r[4].instance_len = 20;
	r[4].instance_source = SOURCE_HOSTNAME_BIND;
	r[4].rtt_ns = 1234567890123; /* a wide ms cell */
	lineproto_init(&lp);
	assert_int_equal(report_text(&lp, r, 5, 0), 0);

	/* split into lines; check each is clean and aligned to the header */
	char *lines[6];
	size_t n = 0;
	char *text = lp.data;
	for (char *nl; (nl = strchr(text, '\n')); text = nl + 1) {
		assert_true(n < 6);
		*nl = '\0';
		lines[n++] = text;
	}
	assert_int_equal(n, 6);
	assert_int_equal(*text, '\0');
	static const char *const heads[] = {"server",   "family",   "transport",
	                                    "query",    "result",   "rcode",
	                                    "instance", "identity", "flags"};
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		const char *at = strstr(lines[0], heads[h]);
		assert_non_null(at);
		size_t col = (size_t)(at - lines[0]); /* header is ASCII */
		for (size_t i = 1; i < n; i++) {
			const char *l = lines[i];
			size_t off = char_offset(l, col);
			if (off < 2 || l[off - 1] != ' ' || l[off - 2] != ' ' ||
			    l[off] == ' ' || l[off] == '\0')
				fail_msg("row %zu: column %s not at %zu: %s", i,
				         heads[h], col, l);
		}
	}
	/* ms is right-aligned: every cell ends where the header's does */
	size_t ms_end = (size_t)(strstr(lines[0], " ms ") - lines[0]) + 3;
	for (size_t i = 1; i < n; i++) {
		size_t off = char_offset(lines[i], ms_end);
		assert_int_equal(lines[i][off], ' ');
		assert_true(lines[i][off - 1] != ' ');
	}
	for (size_t i = 0; i < n; i++)
		assert_true(lpp_clean_utf8((const unsigned char *)lines[i],
		                           strlen(lines[i])));
	assert_non_null(strstr(lines[3], "error (connection refused)"));
	assert_non_null(strstr(lines[5], "1234567.890"));
	lineproto_clear(&lp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_report_line),
	    cmocka_unit_test(test_report_round),
	    cmocka_unit_test(test_key_cache),
	    cmocka_unit_test(test_nsid_text),
	    cmocka_unit_test(test_text_exact),
	    cmocka_unit_test(test_text_alignment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
