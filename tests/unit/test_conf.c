/*
 * Unit tests of conf: every key, every error with its line number, the long
 * lines Debian's libinih would cut, defaults, overrides, identity queries,
 * ad-hoc mode, host-name expansion (only "localhost"), conf_print, and the
 * example configs shipped in conf/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
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
#include "resolve.h"
#include "transport.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

/* A valid target, three lines, for configs that test something else. */
#define T "[target t]\nserver = 192.0.2.1\nquery = example.se\n"

struct loaded {
	int rc;
	struct conf *conf;
	char path[64];
	char *err;   /* everything written to the error stream */
	size_t nerr; /* lines in it */
};

/* Write LEN bytes of TEXT (strlen when LEN is 0) to a temporary file and
 * conf_load() it. */
static void load_text(struct loaded *l, const char *text, size_t len)
{
	size_t size = 0;
	FILE *err;
	int fd;

	memset(l, 0, sizeof(*l));
	snprintf(l->path, sizeof(l->path), "/tmp/test_conf.XXXXXX");
	fd = mkstemp(l->path);
	assert_true(fd >= 0);
	if (!len)
		len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	err = open_memstream(&l->err, &size);
	assert_non_null(err);
	l->rc = conf_load(&l->conf, l->path, err);
	fclose(err);
	unlink(l->path);
	for (const char *s = l->err; *s; s++)
		l->nerr += *s == '\n';
}

static void loaded_free(struct loaded *l)
{
	conf_free(l->conf);
	free(l->err);
}

/* Fail unless ERR holds "PATH:LINE: MSG..." as the start of a line. */
static void expect_error(const struct loaded *l, const char *name, int line,
                         const char *msg)
{
	char want[512];
	const char *s = l->err;
	size_t n;

	if (line > 0)
		n = (size_t)snprintf(want, sizeof(want), "%s:%d: %s", l->path,
		                     line, msg);
	else /* not tied to a line: "FILE: message" */
		n = (size_t)snprintf(want, sizeof(want), "%s: %s", l->path,
		                     msg);
	for (; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : "")
		if (!strncmp(s, want, n))
			return;
	fail_msg("case '%s': no \"%s\" in errors:\n%s", name, want, l->err);
}

/* Fail unless the errors come in line order. */
static void expect_sorted(const struct loaded *l, const char *name)
{
	size_t plen = strlen(l->path);
	long prev = -1;

	for (const char *s = l->err; *s; s = strchr(s, '\n') + 1) {
		long line;

		assert_int_equal(strncmp(s, l->path, plen), 0);
		assert_int_equal(s[plen], ':');
		line = strtol(s + plen + 1, NULL, 10);
		if (line < prev)
			fail_msg("case '%s': line %ld after %ld:\n%s", name,
			         line, prev, l->err);
		prev = line;
	}
}

static void expect_ok(const struct loaded *l, const char *name)
{
	if (l->rc != 0 || !l->conf || l->nerr)
		fail_msg("case '%s': rc %d, errors:\n%s", name, l->rc, l->err);
}

/* ---- one bad value at a time ------------------------------------------ */

struct bad_value {
	const char *section; /* "probe", "tags" or "target" */
	const char *key;
	const char *value;
	const char *msg; /* start of the message */
};

static const struct bad_value bad_values[] = {
    {"probe", "timeout", "-1s", "bad timeout '-1s'"},
    {"probe", "timeout", "2x", "bad timeout"},
    {"probe", "timeout", "99999999999999999999", "bad timeout"},
    {"probe", "timeout", "9223372036s", "bad timeout"},
    {"probe", "timeout", "1.s", "bad timeout"},
    {"probe", "timeout", "", "bad timeout ''"},
    {"probe", "timeout", "0", "bad timeout '0'"},
    {"probe", "timeout", "2 s", "bad timeout"},
    {"probe", "timeout", "0.0000000001s", "bad timeout"},
    {"probe", "timeout", "3601s", "bad timeout"},
    {"probe", "timeout", "1e3", "bad timeout"},
    {"probe", "retries", "-1", "bad retries '-1': want 0..10"},
    {"probe", "retries", "11", "bad retries"},
    {"probe", "retries", "x", "bad retries"},
    {"probe", "retries", "", "bad retries"},
    {"probe", "retries", "+1", "bad retries"},
    {"probe", "retries", "1.5", "bad retries"},
    {"probe", "interval", "-5", "bad interval"},
    {"probe", "interval", "abc", "bad interval"},
    {"probe", "interval", "86401", "bad interval"},
    {"probe", "rate", "0", "bad rate '0': want 1..1000000"},
    {"probe", "rate", "1000001", "bad rate"},
    {"probe", "rate", "99999999999999999999999", "bad rate"},
    {"probe", "edns_size", "511", "bad edns_size '511'"},
    {"probe", "edns_size", "1", "bad edns_size"},
    {"probe", "edns_size", "65536", "bad edns_size"},
    {"probe", "edns_size", "-0", "bad edns_size"},
    {"probe", "nsid", "maybe", "bad nsid 'maybe': want yes or no"},
    {"probe", "nsid", "", "bad nsid"},
    {"probe", "self_metrics", "2", "bad self_metrics '2'"},
    {"probe", "identity", "bad..name", "bad identity name 'bad..name'"},
    {"probe", "identity", "a.b c a.b", "identity name 'a.b' listed twice"},
    {"probe", "measurement", "", "bad measurement ''"},
    {"probe", "measurement",
     "a\x01"
     "b",
     "bad measurement"},
    {"probe", "bogus", "1", "unknown key 'bogus' in [probe]"},
    {"probe", "@long", "1", "unknown key '@long' in [probe]"},
    {"probe", "port", "53", "unknown key 'port' in [probe]"},
    {"tags", "", "v", "empty tag key"},
    {"tags", "k", "", "empty value for tag 'k'"},
    {"tags", "result", "x", "tag key 'result' is a reserved tag name"},
    {"tags", "time", "x", "tag key 'time' is a reserved tag name"},
    {"tags", "k", "a\x7f", "value of tag 'k' has a control character"},
    {"tags", "k\x02", "v", "tag key has a control character"},
    {"target", "port", "0", "bad port '0': want 1..65535"},
    {"target", "port", "65536", "bad port"},
    {"target", "port", "53x", "bad port"},
    {"target", "port", "", "bad port"},
    {"target", "transport", "quic", "bad transport 'quic'"},
    {"target", "transport", "udp,sctp", "bad transport 'sctp'"},
    {"target", "transport", "", "empty transport"},
    {"target", "family", "ipv5", "bad family 'ipv5'"},
    {"target", "family", " , ", "empty family"},
    {"target", "query", "example.se BOGUS", "bad query type 'BOGUS'"},
    {"target", "query", "example.se SOA XX", "bad query class 'XX'"},
    {"target", "query", "a..b", "bad query name 'a..b'"},
    {"target", "query", "a SOA IN extra", "bad query 'a SOA IN extra'"},
    {"target", "query", "", "bad query ''"},
    {"target", "query", "example.se", "duplicate query 'example.se'"},
    {"target", "server", "192.0.2.300", "bad IPv4 address '192.0.2.300'"},
    {"target", "server", "1.2.3", "bad IPv4 address '1.2.3'"},
    {"target", "server", "2001:db8::g", "bad IPv6 address '2001:db8::g'"},
    {"target", "server", "192.0.2.1#0", "bad port in '192.0.2.1#0'"},
    {"target", "server", "[2001:db8::1]:x", "bad port in '[2001:db8::1]:x'"},
    {"target", "server", "192.0.2.1 192.0.2.2",
     "bad server '192.0.2.1 192.0.2.2': one address per line"},
    {"target", "server", "192.0.2.1,192.0.2.2", "bad server"},
    {"target", "server", "::ffff:192.0.2.1",
     "bad server '::ffff:192.0.2.1': an IPv4-mapped IPv6 address"},
    {"target", "server", "[::ffff:192.0.2.1]:53", "bad server"},
    {"target", "server", "bad_name!", "bad server 'bad_name!'"},
    {"target", "server", "a..b", "bad server 'a..b'"},
    {"target", "server", "", "empty server"},
    {"target", "timeout", "5y", "bad timeout '5y'"},
    {"target", "retries", "12", "bad retries '12'"},
    {"target", "nsid", "perhaps", "bad nsid 'perhaps'"},
    {"target", "edns_size", "100", "bad edns_size '100'"},
    {"target", "identity", "x..y", "bad identity name 'x..y'"},
    {"target", "tag.", "v", "empty tag key"},
    {"target", "tag.k", "", "empty value for tag 'k'"},
    {"target", "tag.server", "x", "tag key 'server' is a reserved tag"},
    {"target", "tag.k", "a\tb", "value of tag 'k' has a control char"},
    {"target", "interval", "1s", "unknown key 'interval' in [target t]"},
    {"target", "measurement", "m", "unknown key 'measurement'"},
    /* Version 2 keys. */
    {"probe", "interval", "50ms",
     "bad interval '50ms': want 0 or a "
     "duration like 10s, at least 100ms"},
    {"probe", "interval", "0.000001s", "bad interval"},
    {"probe", "dnssec", "maybe", "bad dnssec 'maybe': want yes or no"},
    {"probe", "cookies", "2", "bad cookies '2'"},
    {"probe", "identity_timeout", "0", "bad identity_timeout '0'"},
    {"probe", "identity_timeout", "1m", "bad identity_timeout"},
    {"probe", "instance_map", "^a$",
     "bad instance_map '^a$': want REGEX "
     "REPLACEMENT"},
    {"probe", "instance_map", "( x", "bad instance_map regex '('"},
    {"probe", "instance_map", "^(a)$ \\2",
     "bad instance_map replacement '\\2': \\2 but the regex has 1 group"},
    {"probe", "source", "127.0.0.1", "unknown key 'source' in [probe]"},
    {"probe", "tls_port", "853", "unknown key 'tls_port' in [probe]"},
    {"tags", "query_time_ms", "x", "tag key 'query_time_ms' is a field name"},
    {"tags", "serial_lag", "x", "tag key 'serial_lag' is a field name"},
    {"tags", "cookie", "x", "tag key 'cookie' is a field name"},
    {"tags", "port", "x", "tag key 'port' is a reserved tag name"},
    {"tags", "dnssec", "x", "tag key 'dnssec' is a reserved tag name"},
    {"tags", "reference", "x", "tag key 'reference' is a reserved tag"},
    {"tags", "k",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "value of tag 'k' is 257 bytes: at most 256"},
    {"target", "tag.connect_ms", "x", "tag key 'connect_ms' is a field name"},
    {"target", "source", "192.0.2.99",
     "source '192.0.2.99' is not an address of this machine"},
    {"target", "source", "127.0.0.1 127.0.0.1", "two IPv4 source addresses"},
    {"target", "source", "::ffff:127.0.0.1",
     "source '::ffff:127.0.0.1' is an IPv4-mapped IPv6 address"},
    {"target", "source", "", "empty source"},
    {"target", "source", "localhost", "bad source 'localhost'"},
    {"target", "resolve_interval", "500ms", "bad resolve_interval '500ms'"},
    {"target", "resolve_interval", "2d", "bad resolve_interval"},
    {"target", "zone", "a..b", "bad zone 'a..b': want a domain name"},
    {"target", "zone", "a b", "bad zone"},
    {"target", "reference", "ns.example.se",
     "bad reference 'ns.example.se': want ADDR[#PORT]"},
    {"target", "reference", "::ffff:192.0.2.1", "bad reference"},
    {"target", "reference", "192.0.2.1#0", "bad port in '192.0.2.1#0'"},
    {"target", "trust_anchor", "/nonexistent/ds",
     "trust_anchor '/nonexistent/ds' cannot be read"},
    {"target", "trust_anchor", "", "empty trust_anchor"},
    {"target", "tls_port", "0", "bad tls_port '0': want 1..65535"},
    {"target", "https_port", "x", "bad https_port 'x'"},
    {"target", "https_path", "dns-query", "bad https_path 'dns-query'"},
    {"target", "https_path", "/a b", "bad https_path"},
    {"target", "https_method", "put",
     "bad https_method 'put': want post "
     "or get"},
    {"target", "tls_name", "a..b", "bad tls_name 'a..b'"},
    {"target", "tls_ca", "/nonexistent/ca",
     "tls_ca '/nonexistent/ca' "
     "cannot be read"},
    {"target", "tls_verify", "sometimes", "bad tls_verify 'sometimes'"},
    {"target", "query", "x A rcode=BOGUS", "bad rcode list 'BOGUS'"},
    {"target", "query", "x A rcode=NOERROR,,", "bad rcode list"},
    {"target", "dnssec", "x", "bad dnssec 'x'"},
    {"target", "cookies", "x", "bad cookies 'x'"},
    {"target", "identity_timeout", "5y", "bad identity_timeout '5y'"},
    {"target", "instance_map", "a b", "unknown key 'instance_map'"},
    {"target", "interval", "0", "unknown key 'interval'"},
};

static void test_bad_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
		const struct bad_value *b = &bad_values[i];
		char text[1024], name[400];
		struct loaded l;
		int line;

		if (!strcmp(b->section, "target")) {
			snprintf(text, sizeof(text), T "%s = %s\n", b->key,
			         b->value);
			line = 4;
		} else {
			snprintf(text, sizeof(text), "[%s]\n%s = %s\n" T,
			         b->section, b->key, b->value);
			line = 2;
		}
		snprintf(name, sizeof(name), "[%s] %s = %s", b->section, b->key,
		         b->value);
		load_text(&l, text, 0);
		if (l.rc != -EINVAL || l.conf || l.nerr != 1)
			fail_msg("case '%s': rc %d, %zu errors:\n%s", name,
			         l.rc, l.nerr, l.err);
		expect_error(&l, name, line, b->msg);
		loaded_free(&l);
	}
}

/* ---- whole configs with errors ------------------------------------------ */

struct want_error {
	int line;
	const char *msg;
};

struct bad_config {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen */
	struct want_error errors[6];
};

#define NUL_TEXT                                                               \
	"[probe]\nrate = 1\0"                                                  \
	"0\n" T

static const struct bad_config bad_configs[] = {
    {"key outside a section",
     "x = 1\n" T,
     0,
     {{1, "key 'x' outside of a section"}}},
    {"line without =",
     "[probe]\njunk line\n" T,
     0,
     {{2, "expected KEY = VALUE or [section]"}}},
    {"every syntax error reported",
     "[probe]\njunk\nmore junk\n" T,
     0,
     {{2, "expected KEY"}, {3, "expected KEY"}}},
    {"comment before = is not a key",
     "[probe]\nrate ;= 5\n" T,
     0,
     {{2, "expected KEY"}}},
    {"section without ]", "[probe\n" T, 0, {{1, "section header without ']'"}}},
    {"text after ]", "[probe] x\n" T, 0, {{1, "unexpected text after ']'"}}},
    {"unknown section",
     "[bogus]\nx = 1\ny = 2\n" T,
     0,
     {{1, "unknown section [bogus]"}}},
    {"targets section", "[targets x]\n" T, 0, {{1, "unknown section"}}},
    {"target without name",
     "[target]\nserver = 192.0.2.1\n" T,
     0,
     {{1, "[target] needs a name"}}},
    {"target blank name", "[target   ]\n" T, 0, {{1, "[target] needs a name"}}},
    {"duplicate target",
     T "[target t]\nserver = 192.0.2.2\nquery = x\nport = 0\n",
     0,
     {{4, "duplicate [target t] (first on line 1)"}, {7, "bad port"}}},
    {"no server",
     "[target t]\nquery = x\n",
     0,
     {{1, "[target t] has no server"}}},
    {"no query",
     "\n[target t]\nserver = 192.0.2.1\n",
     0,
     {{2, "[target t] has no query"}}},
    {"neither",
     "[target a]\n[target b]\n",
     0,
     {{1, "[target a] has no server"},
      {1, "[target a] has no query"},
      {2, "[target b] has no server"},
      {2, "[target b] has no query"}}},
    {"no target", "[probe]\nrate = 5\n", 0, {{0, "no [target NAME] section"}}},
    {"empty file", "", 0, {{0, "no [target NAME] section"}}},
    {"many errors, each with its line",
     "[probe]\ntimeout = x\nretries = 99\n[target t]\n"
     "server = 192.0.2.300\nquery = a..b\nport = 0\n",
     0,
     {{2, "bad timeout"},
      {3, "bad retries"},
      {5, "bad IPv4"},
      {6, "bad query name"},
      {7, "bad port"}}},
    {"duplicate key in probe",
     "[probe]\ntimeout = 1s\ntimeout = 2s\n" T,
     0,
     {{3, "duplicate key 'timeout' (first set on line 2)"}}},
    {"duplicate key across [probe] sections",
     "[probe]\nrate = 1\n[probe]\nrate = 2\n" T,
     0,
     {{4, "duplicate key 'rate' (first set on line 2)"}}},
    {"duplicate key in target",
     T "port = 53\nport = 54\n",
     0,
     {{5, "duplicate key 'port' (first set on line 4)"}}},
    {"duplicate tag",
     "[tags]\na = 1\na = 2\n" T,
     0,
     {{3, "duplicate tag 'a'"}}},
    {"duplicate target tag",
     T "tag.a = 1\ntag.a = 2\n",
     0,
     {{5, "duplicate tag 'a'"}}},
    {"target tag repeats [tags]",
     "[tags]\ndc = x\n" T "tag.dc = y\n",
     0,
     {{6, "tag.dc repeats a [tags] key"}}},
    {"NUL byte", NUL_TEXT, sizeof(NUL_TEXT) - 1, {{2, "line contains a NUL"}}},
    {"error after a long comment",
     "; "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     " bogus = 1 [x]\n"
     "[probe]\nrate = 0\n" T,
     0,
     {{3, "bad rate"}}},
    {"edns_size 0 with nsid = yes",
     "[probe]\nedns_size = 0\nnsid = yes\n" T,
     0,
     {{3, "nsid = yes needs EDNS, but edns_size = 0"}}},
    {"edns_size 0 with cookies = yes in the target",
     T "edns_size = 0\ncookies = yes\ndnssec = yes\n",
     0,
     {{5, "cookies = yes needs EDNS"}, {6, "dnssec = yes needs EDNS"}}},
    {"[probe] dnssec with edns_size 0: reported once",
     "[probe]\nedns_size = 0\ndnssec = yes\n" T
     "[target u]\nserver = 192.0.2.2\nquery = x\n",
     0,
     {{3, "dnssec = yes needs EDNS"}}},
    {"trust_anchor without a zone",
     "[target t]\nserver = 192.0.2.1\nquery = x A\n"
     "trust_anchor = /dev/null\n",
     0,
     {{4, "trust_anchor needs a zone"}}},
    {"reference without a zone",
     "[target t]\nserver = 192.0.2.1\nquery = x A\n"
     "reference = 192.0.2.9\n",
     0,
     {{4, "reference needs a zone"}}},
    {"duplicate server line",
     T "server = 192.0.2.1\nserver = 192.0.2.1#53\n",
     0,
     {{4, "duplicate server '192.0.2.1' (first on line 2)"}}},
    {"duplicate port key",
     T "tls_port = 1\ntls_port = 2\n",
     0,
     {{5, "duplicate key 'tls_port' (first set on line 4)"}}},
    {"long bad line keeps line numbers",
     "[probe]\nmeasurement = "
     "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm"
     "\nrate = x\n" T "query = "
     "a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
     "\nport = x\n",
     0,
     {{3, "bad rate"}, {7, "bad query name"}, {8, "bad port"}}},
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0];
	     i++) {
		const struct bad_config *b = &bad_configs[i];
		struct loaded l;
		size_t n = 0;

		load_text(&l, b->text, b->len);
		while (n < 6 && b->errors[n].msg)
			n++;
		if (l.rc != -EINVAL || l.conf || l.nerr != n)
			fail_msg("case '%s': rc %d, %zu errors (want %zu):\n%s",
			         b->name, l.rc, l.nerr, n, l.err);
		for (size_t j = 0; j < n; j++)
			expect_error(&l, b->name, b->errors[j].line,
			             b->errors[j].msg);
		expect_sorted(&l, b->name);
		loaded_free(&l);
	}
}

static void test_missing_file(void **state)
{
	const char *path = "/nonexistent/anycast-probe.conf";
	char *text = NULL;
	size_t size = 0;
	FILE *err = open_memstream(&text, &size);
	struct conf *c = (struct conf *)&size; /* must be reset to NULL */
	int rc;

	(void)state;
	rc = conf_load(&c, path, err);
	fclose(err);
	assert_int_equal(rc, -ENOENT);
	assert_null(c);
	assert_string_equal(text, "/nonexistent/anycast-probe.conf: cannot "
	                          "open: No such file or directory\n");
	free(text);
	conf_free(NULL);
}

/* ---- accepted configs ---------------------------------------------------- */

static const struct conf_query *find_query(const struct conf_target *t,
                                           const char *name, uint16_t type)
{
	for (size_t i = 0; i < t->n_queries; i++)
		if (!strcmp(t->queries[i].name, name) &&
		    t->queries[i].type == type)
			return &t->queries[i];
	return NULL;
}

static uint16_t port_of(const struct conf_server *s)
{
	if (s->family == CONF_IPV4)
		return ntohs(((const struct sockaddr_in *)&s->addr)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&s->addr)->sin6_port);
}

static const char every_key[] =
    "\xEF\xBB\xBF; every key\n"
    "[probe]\n"
    "timeout = 1500ms\n"
    "retries = 3\n"
    "interval = 10s\n"
    "rate = 500\n"
    "edns_size = 4096\n"
    "nsid = no\n"
    "identity = id.server\n"
    "measurement = anycast_test ; comment\n"
    "self_metrics = yes\n"
    "\n"
    "[tags]\n"
    "dc = dc-1\n"
    "site: sto\n"
    "\n"
    "[ target one ]   ; comment\n"
    "server = 192.0.2.53\n"
    "  server = 2001:DB8:53::53\n"
    "server = 192.0.2.53#5353 ; the same, kept once\n"
    "port = 5353\n"
    "transport = udp,tcp\n"
    "family = ipv4\n"
    "query = example.se SOA\n"
    "\tquery = example.se. NS IN\n"
    "query = .\n"
    "query = hostname.bind TXT CH\n"
    "tag.operator = cira\n"
    "timeout = 3s\n"
    "retries = 0\n"
    "nsid = on\n"
    "identity = hostname.bind, id.server\n"
    "edns_size = 1232\n"
    "[target two words]\n"
    "server = 198.51.100.1\n"
    "query = example.net TXT CH\n"
    "identity =\n"
    "[target three]\n"
    "server = 198.51.100.3\n"
    "query = example.org AAAA\n"
    "transport = tcp\n"
    "family = ipv6\n";

static void test_every_key(void **state)
{
	struct loaded l;
	const struct conf *c;
	const struct conf_target *t;
	const struct conf_query *q;

	(void)state;
	load_text(&l, every_key, 0);
	expect_ok(&l, "every key");
	c = l.conf;
	assert_string_equal(c->path, l.path);
	assert_int_equal(c->timeout_ns, 1500LL * 1000 * 1000);
	assert_int_equal(c->retries, 3);
	assert_int_equal(c->interval_ns, 10LL * 1000 * 1000 * 1000);
	assert_int_equal(c->rate, 500);
	assert_int_equal(c->edns_size, 4096);
	assert_false(c->nsid);
	assert_true(c->self_metrics);
	assert_int_equal(c->n_identity, 1);
	assert_string_equal(c->identity[0], "id.server");
	assert_string_equal(c->measurement, "anycast_test");
	assert_int_equal(c->n_tags, 2);
	assert_string_equal(c->tags[0].key, "dc");
	assert_string_equal(c->tags[0].value, "dc-1");
	assert_string_equal(c->tags[1].key, "site");
	assert_string_equal(c->tags[1].value, "sto");
	assert_int_equal(c->n_targets, 3);

	/* one: overrides, a literal of the filtered family, identity
	 * marked on the configured query, not added twice. */
	t = &c->targets[0];
	assert_string_equal(t->name, "one");
	assert_int_equal(t->line, 17);
	assert_int_equal(t->n_servers, 2);
	assert_string_equal(t->servers[0].addr_text, "192.0.2.53");
	assert_int_equal(t->servers[0].family, CONF_IPV4);
	assert_int_equal(t->servers[0].addr.ss_family, AF_INET);
	assert_int_equal(t->servers[0].addrlen, sizeof(struct sockaddr_in));
	assert_null(t->servers[0].name);
	assert_string_equal(t->servers[1].addr_text, "2001:db8:53::53");
	assert_int_equal(t->servers[1].family, CONF_IPV6);
	assert_int_equal(t->servers[1].addrlen, sizeof(struct sockaddr_in6));
	assert_int_equal(port_of(&t->servers[0]), 5353);
	assert_int_equal(port_of(&t->servers[1]), 5353);
	assert_int_equal(t->port, 5353);
	assert_int_equal(t->transports, CONF_UDP | CONF_TCP);
	assert_int_equal(t->families, CONF_IPV4);
	assert_int_equal(t->n_queries, 5);
	assert_string_equal(t->queries[0].name, "example.se");
	assert_int_equal(t->queries[0].type, DNSMSG_TYPE_SOA);
	assert_int_equal(t->queries[0].class, DNSMSG_CLASS_IN);
	assert_false(t->queries[0].identity);
	assert_string_equal(t->queries[1].name, "example.se");
	assert_int_equal(t->queries[1].type, 2);
	assert_string_equal(t->queries[2].name, ".");
	assert_int_equal(t->queries[2].type, DNSMSG_TYPE_SOA);
	assert_true(t->queries[3].identity); /* configured hostname.bind */
	assert_int_equal(t->queries[3].class, DNSMSG_CLASS_CH);
	q = &t->queries[4];
	assert_string_equal(q->name, "id.server");
	assert_int_equal(q->type, DNSMSG_TYPE_TXT);
	assert_int_equal(q->class, DNSMSG_CLASS_CH);
	assert_true(q->identity);
	assert_int_equal(t->n_tags, 1);
	assert_string_equal(t->tags[0].key, "operator");
	assert_string_equal(t->tags[0].value, "cira");
	assert_int_equal(t->timeout_ns, 3LL * 1000 * 1000 * 1000);
	assert_int_equal(t->retries, 0);
	assert_true(t->nsid);
	assert_int_equal(t->edns_size, 1232);

	/* two words: inherits [probe], identity = (empty) means none. */
	t = &c->targets[1];
	assert_string_equal(t->name, "two words");
	assert_int_equal(t->port, 53);
	assert_int_equal(port_of(&t->servers[0]), 53);
	assert_int_equal(t->transports, CONF_UDP);
	assert_int_equal(t->families, CONF_IPV4 | CONF_IPV6);
	assert_int_equal(t->n_queries, 1);
	assert_int_equal(t->queries[0].class, DNSMSG_CLASS_CH);
	assert_false(t->queries[0].identity);
	assert_int_equal(t->timeout_ns, c->timeout_ns);
	assert_int_equal(t->retries, 3);
	assert_false(t->nsid);
	assert_int_equal(t->edns_size, 4096);

	/* three: [probe] identity, an IPv4 literal despite family = ipv6. */
	t = &c->targets[2];
	assert_int_equal(t->n_servers, 1);
	assert_int_equal(t->servers[0].family, CONF_IPV4);
	assert_int_equal(t->transports, CONF_TCP);
	assert_int_equal(t->n_queries, 2);
	assert_int_equal(t->queries[0].type, 28);
	q = find_query(t, "id.server", DNSMSG_TYPE_TXT);
	assert_non_null(q);
	assert_true(q->identity);
	assert_null(find_query(t, "hostname.bind", DNSMSG_TYPE_TXT));
	loaded_free(&l);
}

static void test_defaults(void **state)
{
	struct loaded l;
	const struct conf_target *t;

	(void)state;
	load_text(&l, T, 0);
	expect_ok(&l, "defaults");
	assert_int_equal(l.conf->timeout_ns, CONF_DEFAULT_TIMEOUT_NS);
	assert_int_equal(l.conf->retries, CONF_DEFAULT_RETRIES);
	assert_int_equal(l.conf->interval_ns, 0);
	assert_int_equal(l.conf->rate, CONF_DEFAULT_RATE);
	assert_int_equal(l.conf->edns_size, CONF_DEFAULT_EDNS_SIZE);
	assert_true(l.conf->nsid);
	assert_false(l.conf->self_metrics);
	assert_string_equal(l.conf->measurement, CONF_DEFAULT_MEASUREMENT);
	assert_int_equal(l.conf->n_tags, 0);
	assert_int_equal(l.conf->n_identity, 2);
	assert_string_equal(l.conf->identity[0], "hostname.bind");
	assert_string_equal(l.conf->identity[1], "id.server");
	t = &l.conf->targets[0];
	assert_int_equal(t->port, CONF_DEFAULT_PORT);
	assert_int_equal(t->transports, CONF_UDP);
	assert_int_equal(t->families, CONF_IPV4 | CONF_IPV6);
	assert_int_equal(t->timeout_ns, CONF_DEFAULT_TIMEOUT_NS);
	assert_int_equal(t->retries, CONF_DEFAULT_RETRIES);
	assert_true(t->nsid);
	assert_int_equal(t->edns_size, CONF_DEFAULT_EDNS_SIZE);
	/* example.se SOA IN, then hostname.bind and id.server CH TXT. */
	assert_int_equal(t->n_queries, 3);
	assert_int_equal(t->queries[0].type, DNSMSG_TYPE_SOA);
	assert_int_equal(t->queries[0].class, DNSMSG_CLASS_IN);
	assert_false(t->queries[0].identity);
	for (size_t i = 1; i < 3; i++) {
		assert_string_equal(t->queries[i].name,
		                    l.conf->identity[i - 1]);
		assert_int_equal(t->queries[i].type, DNSMSG_TYPE_TXT);
		assert_int_equal(t->queries[i].class, DNSMSG_CLASS_CH);
		assert_true(t->queries[i].identity);
	}
	loaded_free(&l);

	/* edns_size = 0 turns NSID off (it needs EDNS). */
	load_text(&l, "[probe]\nedns_size = 0\n" T, 0);
	expect_ok(&l, "edns 0");
	assert_false(l.conf->targets[0].nsid);
	loaded_free(&l);
}

static void test_bools(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
	    {"yes", true}, {"no", false},  {"true", true}, {"false", false},
	    {"on", true},  {"off", false}, {"1", true},    {"0", false},
	    {"YES", true}, {"Off", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[128];
		struct loaded l;

		snprintf(text, sizeof(text),
		         "[probe]\nnsid = %s\nself_metrics = %s\n" T,
		         cases[i].text, cases[i].text);
		load_text(&l, text, 0);
		expect_ok(&l, cases[i].text);
		assert_int_equal(l.conf->nsid, cases[i].value);
		assert_int_equal(l.conf->self_metrics, cases[i].value);
		assert_int_equal(l.conf->targets[0].nsid, cases[i].value);
		loaded_free(&l);
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t ns;
	} cases[] = {
	    {"2s", 0, 2000000000LL},
	    {"1500ms", 0, 1500000000LL},
	    {"250ms", 0, 250000000LL},
	    {"0", 0, 0},
	    {"3", 0, 3000000000LL},
	    {"1.5s", 0, 1500000000LL},
	    {"0.5", 0, 500000000LL},
	    {"0.25ms", 0, 250000LL},
	    {"0.000000001s", 0, 1},
	    {"9223372036s", 0, 9223372036000000000LL},
	    {"9223372037s", -EINVAL, 0},
	    {"99999999999999999999", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"+1", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"s", -EINVAL, 0},
	    {"1m", -EINVAL, 0},
	    {"1 s", -EINVAL, 0},
	    {" 1s", -EINVAL, 0},
	    {"1s ", -EINVAL, 0},
	    {"1.", -EINVAL, 0},
	    {".5", -EINVAL, 0},
	    {"1.0000000001s", -EINVAL, 0},
	    {"1ms5", -EINVAL, 0},
	    {"0x10", -EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t ns = -42;
		int rc = conf_parse_duration(cases[i].text, &ns);

		if (rc != cases[i].rc || (rc == 0 && ns != cases[i].ns))
			fail_msg("'%s': rc %d ns %lld", cases[i].text, rc,
			         (long long)ns);
		if (rc)
			assert_int_equal(ns, -42); /* untouched on error */
	}
	assert_int_equal(conf_parse_duration(NULL, NULL), -EINVAL);
}

/* ---- long lines: inih would cut them at 200 bytes ----------------------- */

/* A valid name of exactly LEN characters (labels of up to 62). */
static void make_name(char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t label = len - i > 62 ? 62 : len - i;

		if (len - i - label == 1) /* never end with an empty label */
			label--;
		memset(buf + i, 'a' + (int)(i % 26), label);
		i += label;
		if (i < len)
			buf[i++] = '.';
	}
	buf[len] = '\0';
}

static void test_long_lines(void **state)
{
	char name[251], tname[181], text[2048];
	struct loaded l;
	const struct conf_target *t;

	(void)state;
	make_name(name, 250);
	assert_int_equal(strlen(name), 250);
	assert_int_equal(dnsmsg_check_name(name), 0);
	memset(tname, 'n', sizeof(tname) - 1);
	tname[sizeof(tname) - 1] = '\0';
	snprintf(text, sizeof(text),
	         "; %s = x\n"
	         "[target %s]   ; a long section header\n"
	         "server = 192.0.2.1\n"
	         "query = %s TXT CH   ; trailing comment\n"
	         "query =    %s.   \n"
	         "tag.long = %s;not a comment\n"
	         "[probe]\n"
	         "retries = 2\n",
	         name, tname, name, name, tname);
	load_text(&l, text, 0);
	expect_ok(&l, "long lines");
	t = &l.conf->targets[0];
	assert_string_equal(t->name, tname);
	assert_int_equal(t->line, 2);
	assert_int_equal(t->n_queries, 4);
	assert_string_equal(t->queries[0].name, name);
	assert_int_equal(t->queries[0].type, DNSMSG_TYPE_TXT);
	assert_int_equal(t->queries[0].class, DNSMSG_CLASS_CH);
	assert_string_equal(t->queries[1].name, name);
	assert_int_equal(t->queries[1].type, DNSMSG_TYPE_SOA);
	assert_int_equal(t->n_tags, 1);
	assert_int_equal(strlen(t->tags[0].value), 180 + 14);
	assert_int_equal(l.conf->retries, 2);
	loaded_free(&l);

	/* A long key line that is wrong is reported once, on its line. */
	snprintf(text, sizeof(text), T "\nquery = %s BOGUS\nport = 1\n", name);
	load_text(&l, text, 0);
	assert_int_equal(l.rc, -EINVAL);
	assert_int_equal(l.nerr, 1);
	expect_error(&l, "long bad type", 5, "bad query type 'BOGUS'");
	loaded_free(&l);
}

/* ---- host names: only localhost ----------------------------------------- */

static void test_localhost(void **state)
{
	static const struct {
		const char *family;
		unsigned mask;
	} cases[] = {
	    {"ipv4", CONF_IPV4},
	    {"ipv6", CONF_IPV6},
	    {"ipv4 ipv6", CONF_IPV4 | CONF_IPV6},
	};
	struct addrinfo hints, *res, *ai;
	size_t have[3] = {0};

	(void)state;
	/* What this host's /etc/hosts says, the way conf asks. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	assert_int_equal(getaddrinfo("localhost", NULL, &hints, &res), 0);
	for (ai = res; ai; ai = ai->ai_next)
		have[ai->ai_family == AF_INET ? CONF_IPV4 : CONF_IPV6]++;
	assert_true(have[CONF_IPV4] > 0);

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[256];
		struct loaded l;
		const struct conf_target *t;
		size_t want = 0;

		snprintf(text, sizeof(text),
		         "[target lo]\nquery = .\nserver = localhost\n"
		         "port = 5300\nfamily = %s\n",
		         cases[i].family);
		load_text(&l, text, 0);
		/* Distinct addresses of the families asked for. */
		for (ai = res; ai; ai = ai->ai_next) {
			struct addrinfo *prev;

			if (!((ai->ai_family == AF_INET ? CONF_IPV4
			                                : CONF_IPV6) &
			      cases[i].mask))
				continue;
			for (prev = res; prev != ai; prev = prev->ai_next)
				if (prev->ai_addrlen == ai->ai_addrlen &&
				    !memcmp(prev->ai_addr, ai->ai_addr,
				            ai->ai_addrlen))
					break;
			want += prev == ai;
		}
		if (!want) {
			assert_int_equal(l.rc, -EINVAL);
			expect_error(&l, cases[i].family, 3,
			             "'localhost' has no address in family");
			loaded_free(&l);
			continue;
		}
		expect_ok(&l, cases[i].family);
		t = &l.conf->targets[0];
		assert_int_equal(t->n_servers, want);
		for (size_t j = 0; j < t->n_servers; j++) {
			const struct conf_server *s = &t->servers[j];

			assert_true(s->family & cases[i].mask);
			assert_string_equal(s->name, "localhost");
			assert_int_equal(port_of(s), 5300);
			for (size_t k = 0; k < j; k++)
				assert_string_not_equal(
				    s->addr_text, t->servers[k].addr_text);
			if (s->family == CONF_IPV4)
				assert_int_equal(
				    strncmp(s->addr_text, "127.", 4), 0);
		}
		loaded_free(&l);
	}
	freeaddrinfo(res);
}

/* ---- ad hoc ----------------------------------------------------------------
 */

struct adhoc_case {
	const char *name;
	const char *servers[3];
	const char *queries[3];
	const char *transport;
	int rc;
	const char *msg; /* error, when rc != 0 */
	size_t n_servers;
	const char *addr0;
	uint16_t port0;
	unsigned transports;
	size_t n_queries; /* with the two identity queries */
	uint16_t type0;
};

static const struct adhoc_case adhoc_cases[] = {
    {"ipv4",
     {"192.0.2.1"},
     {NULL},
     NULL,
     0,
     NULL,
     1,
     "192.0.2.1",
     53,
     CONF_UDP,
     3,
     DNSMSG_TYPE_SOA},
    {"ipv4 port",
     {"192.0.2.1#5353"},
     {NULL},
     "tcp",
     0,
     NULL,
     1,
     "192.0.2.1",
     5353,
     CONF_TCP,
     3,
     DNSMSG_TYPE_SOA},
    {"ipv6 port",
     {"2001:db8::1#53000", "192.0.2.2"},
     {"example.se NS"},
     "udp tcp",
     0,
     NULL,
     2,
     "2001:db8::1",
     53000,
     CONF_UDP | CONF_TCP,
     3,
     2},
    {"two queries",
     {"::1"},
     {"a.example TXT CH", "b.example A"},
     "udp",
     0,
     NULL,
     1,
     "::1",
     53,
     CONF_UDP,
     4,
     DNSMSG_TYPE_TXT},
    {"localhost",
     {"localhost#5301"},
     {NULL},
     NULL,
     0,
     NULL,
     0,
     NULL,
     5301,
     CONF_UDP,
     3,
     DNSMSG_TYPE_SOA},
    {"no server",
     {NULL},
     {NULL},
     NULL,
     -EINVAL,
     "anycast-probe: no server given",
     0,
     NULL,
     0,
     0,
     0,
     0},
    {"bad port",
     {"192.0.2.1#0"},
     {NULL},
     NULL,
     -EINVAL,
     "anycast-probe: bad port in '192.0.2.1#0'",
     0,
     NULL,
     0,
     0,
     0,
     0},
    {"bad port text",
     {"192.0.2.1#x"},
     {NULL},
     NULL,
     -EINVAL,
     "anycast-probe: bad port",
     0,
     NULL,
     0,
     0,
     0,
     0},
    {"bad address",
     {"192.0.2.999"},
     {NULL},
     NULL,
     -EINVAL,
     "anycast-probe: bad IPv4 address '192.0.2.999'",
     0,
     NULL,
     0,
     0,
     0,
     0},
    {"bad query",
     {"192.0.2.1"},
     {"example.se XYZ"},
     NULL,
     -EINVAL,
     "anycast-probe: bad query type 'XYZ'",
     0,
     NULL,
     0,
     0,
     0,
     0},
    {"bad transport",
     {"192.0.2.1"},
     {NULL},
     "sctp",
     -EINVAL,
     "anycast-probe: bad transport 'sctp'",
     0,
     NULL,
     0,
     0,
     0,
     0},
};

static void test_adhoc(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof adhoc_cases / sizeof adhoc_cases[0];
	     i++) {
		const struct adhoc_case *a = &adhoc_cases[i];
		struct conf_adhoc ad = {.servers = (const char **)a->servers,
		                        .queries = (const char **)a->queries,
		                        .transport = a->transport};
		struct conf *c = NULL;
		char *text = NULL;
		size_t size = 0;
		FILE *err = open_memstream(&text, &size);
		const struct conf_target *t;
		int rc;

		while (ad.n_servers < 3 && a->servers[ad.n_servers])
			ad.n_servers++;
		while (ad.n_queries < 3 && a->queries[ad.n_queries])
			ad.n_queries++;
		rc = conf_adhoc(&c, &ad, err);
		fclose(err);
		if (rc != a->rc)
			fail_msg("case '%s': rc %d:\n%s", a->name, rc, text);
		if (rc) {
			assert_null(c);
			if (strncmp(text, a->msg, strlen(a->msg)))
				fail_msg("case '%s': got '%s'", a->name, text);
			free(text);
			continue;
		}
		assert_string_equal(text, "");
		assert_null(c->path);
		assert_int_equal(c->n_targets, 1);
		t = &c->targets[0];
		assert_string_equal(t->name, "adhoc");
		assert_int_equal(t->line, 0);
		if (a->addr0) {
			assert_int_equal(t->n_servers, a->n_servers);
			assert_string_equal(t->servers[0].addr_text, a->addr0);
			assert_null(t->servers[0].name);
		} else {
			assert_true(t->n_servers >= 1);
			assert_string_equal(t->servers[0].name, "localhost");
		}
		assert_int_equal(port_of(&t->servers[0]), a->port0);
		assert_int_equal(t->transports, a->transports);
		assert_int_equal(t->n_queries, a->n_queries);
		assert_int_equal(t->queries[0].type, a->type0);
		if (!ad.n_queries) {
			assert_string_equal(t->queries[0].name, ".");
			assert_int_equal(t->queries[0].class, DNSMSG_CLASS_IN);
		}
		assert_true(t->queries[t->n_queries - 1].identity);
		assert_int_equal(t->timeout_ns, CONF_DEFAULT_TIMEOUT_NS);
		assert_int_equal(t->edns_size, CONF_DEFAULT_EDNS_SIZE);
		assert_true(t->nsid);
		conf_free(c);
		free(text);
	}
}

/* ---- conf_select and the v2 ad-hoc options ------------------------------ */

static void test_select(void **state)
{
	struct loaded l;
	const char *keep[] = {"c", "a"};
	const char *bad[] = {"a", "nope", "zz"};
	char *text = NULL;
	size_t size = 0;
	FILE *err;

	(void)state;
	load_text(&l,
	          "[target a]\nserver = 192.0.2.1\nquery = x\n"
	          "[target b]\nserver = 192.0.2.2\nquery = x\n"
	          "[target c]\nserver = 192.0.2.3\nquery = x\n",
	          0);
	expect_ok(&l, "select");
	err = open_memstream(&text, &size);
	assert_int_equal(conf_select(l.conf, bad, 3, err), -EINVAL);
	fclose(err);
	assert_int_equal(l.conf->n_targets, 3); /* unchanged */
	{
		char want[256];

		snprintf(want, sizeof(want),
		         "%s: no [target nope]\n%s: no [target zz]\n", l.path,
		         l.path);
		assert_string_equal(text, want);
	}
	free(text);
	assert_int_equal(conf_select(l.conf, keep, 0, NULL), 0);
	assert_int_equal(l.conf->n_targets, 3);
	assert_int_equal(conf_select(l.conf, keep, 2, stderr), 0);
	assert_int_equal(l.conf->n_targets, 2);
	assert_string_equal(l.conf->targets[0].name, "a"); /* config order */
	assert_string_equal(l.conf->targets[1].name, "c");
	assert_string_equal(l.conf->targets[1].servers[0].addr_text,
	                    "192.0.2.3");
	loaded_free(&l);
}

static int adhoc_run(const struct conf_adhoc *ad, struct conf **c, char **text)
{
	size_t size = 0;
	FILE *err = open_memstream(text, &size);
	int rc = conf_adhoc(c, ad, err);

	fclose(err);
	return rc;
}

static void test_adhoc_v2(void **state)
{
	const char *servers[] = {"127.0.0.1", "::1#5300"};
	struct conf_adhoc ad = {.servers = servers,
	                        .n_servers = 2,
	                        .timeout = "500ms",
	                        .retries = "0",
	                        .port = "5353",
	                        .source = "127.0.0.1 ::1",
	                        .no_identity = true,
	                        .no_nsid = true,
	                        .dnssec = true,
	                        .interval = "1s"};
	const char *two[] = {"127.0.0.1 ::1"};
	const char *mapped[] = {"::ffff:127.0.0.1"};
	struct conf *c = NULL;
	char *text = NULL;
	const struct conf_target *t;

	(void)state;
	assert_int_equal(adhoc_run(&ad, &c, &text), 0);
	assert_string_equal(text, "");
	free(text);
	t = &c->targets[0];
	assert_int_equal(c->timeout_ns, 500LL * 1000 * 1000);
	assert_int_equal(t->timeout_ns, 500LL * 1000 * 1000);
	assert_int_equal(t->retries, 0);
	assert_int_equal(c->interval_ns, 1000LL * 1000 * 1000);
	assert_false(t->nsid);
	assert_true(t->dnssec);
	assert_int_equal(t->n_queries, 1); /* no identity queries */
	assert_int_equal(t->port, 5353);
	assert_int_equal(port_of(&t->servers[0]), 5353);
	assert_int_equal(t->servers[0].port, 0);
	assert_int_equal(port_of(&t->servers[1]), 5300);
	assert_int_equal(t->servers[1].port, 5300);
	assert_int_equal(t->source4.ss_family, AF_INET);
	conf_free(c);

	/* A port of its own is that server's only: the next one without
	 * gets -p's, or 53. */
	ad.port = NULL;
	{
		const char *mix[] = {"::1#5300", "127.0.0.1"};

		ad.servers = mix;
		ad.n_servers = 2;
		text = NULL;
		assert_int_equal(adhoc_run(&ad, &c, &text), 0);
		free(text);
	}
	t = &c->targets[0];
	assert_int_equal(port_of(&t->servers[0]), 5300);
	assert_int_equal(port_of(&t->servers[1]), 53);
	assert_int_equal(t->port, 53);
	assert_int_equal(t->source6.ss_family, AF_INET6);
	conf_free(c);

	const struct {
		const char *what;
		struct conf_adhoc ad;
		const char *msg;
	} bad[] = {
	    {"-4 with an IPv6 literal",
	     {.servers = servers + 1, .n_servers = 1, .family = CONF_IPV4},
	     "anycast-probe: ::1 is IPv6, but -4 was given"},
	    {"-6 with an IPv4 literal",
	     {.servers = servers, .n_servers = 1, .family = CONF_IPV6},
	     "anycast-probe: 127.0.0.1 is IPv4, but -6 was given"},
	    {"-i too short",
	     {.servers = servers, .n_servers = 1, .interval = "10ms"},
	     "anycast-probe: bad interval '10ms'"},
	    {"--timeout",
	     {.servers = servers, .n_servers = 1, .timeout = "0"},
	     "anycast-probe: bad timeout '0'"},
	    {"--retries",
	     {.servers = servers, .n_servers = 1, .retries = "x"},
	     "anycast-probe: bad retries 'x'"},
	    {"-p",
	     {.servers = servers, .n_servers = 1, .port = "0"},
	     "anycast-probe: bad port '0'"},
	    {"-b not local",
	     {.servers = servers, .n_servers = 1, .source = "192.0.2.77"},
	     "anycast-probe: source '192.0.2.77' is not an address of this "
	     "machine"},
	    {"-b two of a family",
	     {.servers = servers,
	      .n_servers = 1,
	      .source = "127.0.0.1 "
	                "127.0.0.2"},
	     "anycast-probe: two IPv4 source addresses"},
	    {"-s with two addresses",
	     {.servers = two, .n_servers = 1},
	     "anycast-probe: bad server '127.0.0.1 ::1': one address per -s"},
	    {"-s IPv4-mapped",
	     {.servers = mapped, .n_servers = 1},
	     "anycast-probe: bad server '::ffff:127.0.0.1': an IPv4-mapped"},
	    {"-b garbage",
	     {.servers = servers, .n_servers = 1, .source = "nope"},
	     "anycast-probe: bad source 'nope'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = NULL;
		text = NULL;
		if (adhoc_run(&bad[i].ad, &c, &text) != -EINVAL || c ||
		    strncmp(text, bad[i].msg, strlen(bad[i].msg)))
			fail_msg("case '%s': got '%s'", bad[i].what, text);
		free(text);
	}
}

/* ---- conf_print ------------------------------------------------------------
 */

/* Cut every line at its ';' (comments), in place. */
static void strip_comments(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (*r == ';') {
			while (*r && *r != '\n')
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

static void test_print(void **state)
{
	struct loaded l;
	char *text = NULL;
	size_t size = 0;
	FILE *out;

	(void)state;
	load_text(&l, every_key, 0);
	expect_ok(&l, "print");
	out = open_memstream(&text, &size);
	conf_print(l.conf, out);
	fclose(out);
	for (size_t i = 0; i < l.conf->n_targets; i++) {
		const struct conf_target *t = &l.conf->targets[i];
		char want[512], tb[16], cb[16];

		snprintf(want, sizeof(want), "\n[target %s]", t->name);
		if (!strstr(text, want))
			fail_msg("no '%s' in:\n%s", want, text);
		for (size_t j = 0; j < t->n_servers; j++) {
			snprintf(
			    want, sizeof(want), "server = %s\t; %s port %u\n",
			    t->servers[j].addr_text,
			    t->servers[j].family == CONF_IPV4 ? "ipv4" : "ipv6",
			    port_of(&t->servers[j]));
			if (!strstr(text, want))
				fail_msg("no '%s' in:\n%s", want, text);
		}
		for (size_t j = 0; j < t->n_queries; j++) {
			const struct conf_query *q = &t->queries[j];

			snprintf(want, sizeof(want), "%squery = %s %s %s%s\n",
			         q->identity ? "; " : "", q->name,
			         dnsmsg_type_name(q->type, tb, sizeof(tb)),
			         dnsmsg_class_name(q->class, cb, sizeof(cb)),
			         q->identity ? " (from identity)" : "");
			if (!strstr(text, want))
				fail_msg("no '%s' in:\n%s", want, text);
		}
	}
	assert_non_null(strstr(text, "; 3 target(s), 4 address(es), "
	                             "23 queries per round\n"));
	assert_non_null(strstr(text, "[probe]\ntimeout = 1500ms\nretries = 3\n"
	                             "interval = 10s\nrate = 500\n"));
	assert_non_null(strstr(text, "identity = id.server\n"));
	assert_non_null(strstr(text, "self_metrics = yes\n"));
	assert_non_null(strstr(text, "[tags]\ndc = dc-1\nsite = sto\n"));
	assert_non_null(strstr(text, "tag.operator = cira\n"));
	assert_non_null(strstr(text, "transport = udp tcp\nfamily = ipv4\n"));
	assert_non_null(strstr(text, "timeout = 3s\nretries = 0\nnsid = yes\n"
	                             "edns_size = 1232\n"));

	/* The output is a config: it loads back and prints the same (but for
	 * comments, which name lines and files). */
	struct loaded again;
	char *text2 = NULL;
	size_t size2 = 0;
	FILE *out2;

	load_text(&again, text, 0);
	expect_ok(&again, "print round trip");
	out2 = open_memstream(&text2, &size2);
	conf_print(again.conf, out2);
	fclose(out2);
	strip_comments(text);
	strip_comments(text2);
	assert_string_equal(text, text2);
	free(text2);
	loaded_free(&again);
	free(text);
	loaded_free(&l);

	/* A host name shows where its addresses came from. */
	load_text(&l, "[target lo]\nserver = localhost\nquery = .\n", 0);
	expect_ok(&l, "print localhost");
	text = NULL;
	out = open_memstream(&text, &size);
	conf_print(l.conf, out);
	fclose(out);
	/* Printed back as the name, its addresses in the comment. */
	assert_non_null(strstr(text, "server = localhost\t; 127.0.0.1 ipv4 "
	                             "port 53"));
	assert_null(strstr(text, "server = 127.0.0.1"));
	free(text);
	loaded_free(&l);
}

/* ---- Version 2 keys ------------------------------------------------------ */

static const char every_v2_key[] =
    "[probe]\n"
    "interval = 100ms\n"
    "dnssec = yes\n"
    "cookies = no\n"
    "identity_timeout = 500ms\n"
    "instance_map = ^([a-z]{3})[0-9]*\\..*$ <\\1>\n"
    "[tags]\n"
    "long = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    "[target v2]\n"
    "server = 192.0.2.53#5353\n"
    "server = [2001:db8::53]:5354\n"
    "server = 198.51.100.9\n"
    "source = 127.0.0.1\n"
    "resolve_interval = 1h\n"
    "zone = example.se.\n"
    "reference = 198.51.100.1#5300\n"
    "trust_anchor = /dev/null\n"
    "tls_port = 8853\n"
    "https_port = 8443\n"
    "https_path = /q\n"
    "https_method = GET\n"
    "tls_name = ns.example.se\n"
    "tls_ca = /dev/null\n"
    "tls_verify = no\n"
    "query = example.se SOA\n"
    "query = nx.example.se A rcode=NXDOMAIN,NOERROR\n"
    "query = example.se DNSKEY\n"
    "port = 5300\n"
    "timeout = 1s\n"
    "retries = 2\n"
    "nsid = no\n"
    "identity = hostname.bind\n"
    "edns_size = 4096\n"
    "dnssec = no\n"
    "cookies = yes\n"
    "identity_timeout = 2s\n"
    "[target inherit]\n"
    "server = 192.0.2.1\n"
    "query = se SOA\n"
    "trust_anchor = /dev/null\n"
    "reference = 2001:db8::1\n";

static void test_every_v2_key(void **state)
{
	struct loaded l;
	const struct conf *c;
	const struct conf_target *t;
	uint16_t dnskey;

	(void)state;
	assert_int_equal(dnsmsg_parse_type("DNSKEY", &dnskey), 0);
	load_text(&l, every_v2_key, 0);
	expect_ok(&l, "every v2 key");
	c = l.conf;
	assert_int_equal(c->interval_ns, 100LL * 1000 * 1000);
	assert_true(c->dnssec);
	assert_false(c->cookies);
	assert_int_equal(c->identity_timeout_ns, 500LL * 1000 * 1000);
	assert_string_equal(c->instance_map_re, "^([a-z]{3})[0-9]*\\..*$");
	assert_string_equal(c->instance_map_repl, "<\\1>");
	assert_int_equal(strlen(c->tags[0].value), 256);

	t = &c->targets[0];
	assert_int_equal(t->n_servers, 3);
	assert_int_equal(t->servers[0].port, 5353);
	assert_int_equal(port_of(&t->servers[0]), 5353);
	assert_int_equal(t->servers[0].line, 10);
	assert_string_equal(t->servers[1].addr_text, "2001:db8::53");
	assert_int_equal(t->servers[1].port, 5354);
	assert_int_equal(port_of(&t->servers[1]), 5354);
	assert_int_equal(t->servers[2].port, 0);
	assert_int_equal(port_of(&t->servers[2]), 5300);
	assert_int_equal(t->servers[2].line, 12);
	assert_int_equal(t->port, 5300);
	for (size_t i = 0; i < transport_count; i++) {
		uint16_t want =
		    !strcmp(transport_table[i].port_key, "port")       ? 5300
		    : !strcmp(transport_table[i].port_key, "tls_port") ? 8853
		                                                       : 8443;

		assert_int_equal(t->ports[i], want);
	}
	assert_int_equal(t->source4.ss_family, AF_INET);
	assert_int_equal(t->source6.ss_family, 0);
	assert_int_equal(t->resolve_interval_ns, 3600LL * 1000 * 1000 * 1000);
	assert_string_equal(t->zone, "example.se");
	assert_non_null(t->reference);
	assert_string_equal(t->reference->addr_text, "198.51.100.1");
	assert_int_equal(t->reference->port, 5300);
	assert_int_equal(port_of(t->reference), 5300);
	assert_string_equal(t->trust_anchor, "/dev/null");
	assert_string_equal(t->https_path, "/q");
	assert_true(t->https_get);
	assert_string_equal(t->tls_name, "ns.example.se");
	assert_string_equal(t->tls_ca, "/dev/null");
	assert_false(t->tls_verify);
	/* Configured queries, then identity; the configured DNSKEY query is
	 * the trust anchor's (not added twice). */
	assert_int_equal(t->n_queries, 4);
	assert_int_equal(t->queries[0].expect_rcodes, 1);
	assert_int_equal(t->queries[0].line, 25);
	assert_int_equal(t->queries[1].expect_rcodes, (1u << 3) | 1u);
	assert_int_equal(t->queries[2].type, dnskey);
	assert_true(t->queries[2].dnskey);
	assert_int_equal(t->queries[2].line, 27);
	assert_true(t->queries[3].identity);
	assert_string_equal(t->queries[3].name, "hostname.bind");
	assert_int_equal(t->timeout_ns, 1000LL * 1000 * 1000);
	assert_int_equal(t->retries, 2);
	assert_false(t->nsid);
	assert_int_equal(t->edns_size, 4096);
	assert_false(t->dnssec);
	assert_true(t->cookies);
	assert_int_equal(t->identity_timeout_ns, 2000LL * 1000 * 1000);

	/* inherit: the [probe] values and the defaults. */
	t = &c->targets[1];
	assert_true(t->dnssec);
	assert_false(t->cookies);
	assert_int_equal(t->identity_timeout_ns, 500LL * 1000 * 1000);
	assert_true(t->tls_verify);
	assert_false(t->https_get);
	assert_string_equal(t->https_path, "/dns-query");
	assert_null(t->tls_name);
	assert_null(t->tls_ca);
	assert_int_equal(t->resolve_interval_ns, 0);
	assert_string_equal(t->zone, "se"); /* the first SOA query's name */
	assert_int_equal(t->reference->family, CONF_IPV6);
	assert_int_equal(t->reference->port, 0);
	assert_int_equal(port_of(t->reference), 53);
	for (size_t i = 0; i < transport_count; i++)
		assert_int_equal(t->ports[i], transport_table[i].default_port);
	assert_int_equal(t->n_identity, 2);
	/* se SOA, hostname.bind, id.server, then se DNSKEY. */
	assert_int_equal(t->n_queries, 4);
	assert_true(t->queries[1].identity && t->queries[2].identity);
	assert_true(t->queries[3].dnskey);
	assert_int_equal(t->queries[3].type, dnskey);
	assert_string_equal(t->queries[3].name, "se");
	assert_int_equal(t->queries[3].line, 0);
	loaded_free(&l);
}

/* The printed config loads back as the same config (v2 keys included). */
static void test_round_trip_v2(void **state)
{
	struct loaded l, again;
	char *text = NULL, *text2 = NULL;
	size_t size = 0, size2 = 0;
	FILE *out;

	(void)state;
	load_text(&l, every_v2_key, 0);
	expect_ok(&l, "v2 round trip");
	out = open_memstream(&text, &size);
	conf_print(l.conf, out);
	fclose(out);
	assert_non_null(strstr(text, "server = 192.0.2.53#5353\t"));
	assert_non_null(strstr(text, "server = [2001:db8::53]:5354\t"));
	assert_non_null(strstr(text, "reference = 198.51.100.1#5300\n"));
	assert_non_null(strstr(text, "query = nx.example.se A IN "
	                             "rcode=NOERROR,NXDOMAIN\n"));
	assert_non_null(strstr(text, "; query = se DNSKEY IN (from "
	                             "trust_anchor)\n"));
	assert_non_null(strstr(text, "instance_map = ^([a-z]{3})[0-9]*\\..*$ "
	                             "<\\1>\n"));
	assert_non_null(strstr(text, "https_method = get\n"));
	assert_non_null(strstr(text, "tls_port = 8853\nhttps_port = 8443\n"));
	load_text(&again, text, 0);
	expect_ok(&again, "v2 round trip, loaded again");
	out = open_memstream(&text2, &size2);
	conf_print(again.conf, out);
	fclose(out);
	strip_comments(text);
	strip_comments(text2);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	loaded_free(&again);
	loaded_free(&l);
}

/* ---- reader limits (issue 10) ------------------------------------------ */

static void test_limits(void **state)
{
	struct loaded l;
	char *text;
	size_t n;
	struct conf *c = NULL;
	char *err = NULL;
	size_t esize = 0;
	FILE *ef;

	(void)state;
	/* A line of 64 KiB is read; one byte more is an error on its line,
	 * and the next line keeps its number. */
	text = malloc(160 * 1024);
	assert_non_null(text);
	n = (size_t)snprintf(text, 160 * 1024, T "; ");
	memset(text + n, 'c', 64 * 1024 - 2);
	n += 64 * 1024 - 2;
	n += (size_t)snprintf(text + n, 200, "\n; x");
	memset(text + n, 'c', 64 * 1024 - 2);
	n += 64 * 1024 - 2;
	n += (size_t)snprintf(text + n, 200, "\nport = 0\n");
	load_text(&l, text, n);
	assert_int_equal(l.nerr, 2);
	expect_error(&l, "long line", 5, "line longer than 64 KiB");
	expect_error(&l, "after the long line", 6, "bad port '0'");
	loaded_free(&l);

	/* 150 bad lines: 100 printed, the lowest lines, then a count. */
	n = (size_t)snprintf(text, 80 * 1024, T);
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(text + n, 80 * 1024 - n, "bad %d\n", i);
	load_text(&l, text, n);
	assert_int_equal(l.rc, -EINVAL);
	assert_int_equal(l.nerr, 101);
	expect_error(&l, "first", 4, "expected KEY = VALUE");
	expect_error(&l, "100th", 103, "expected KEY = VALUE");
	expect_error(&l, "count", 0, "... and 50 more errors");
	loaded_free(&l);
	free(text);

	/* /dev/zero: one endless line of NULs. Read as a stream up to the
	 * file limit, then a whole-file error. */
	ef = open_memstream(&err, &esize);
	assert_int_equal(conf_load(&c, "/dev/zero", ef), -EINVAL);
	fclose(ef);
	assert_null(c);
	assert_string_equal(err,
	                    "/dev/zero: file larger than 16 MiB: not read\n");
	free(err);
}

/* The DNSSEC module's hook sees the file and the zone; its reason is
 * reported at the trust_anchor line. */
static int anchor_calls;

static int fake_anchor(const char *path, const char *zone, char *msg,
                       size_t len)
{
	anchor_calls++;
	assert_string_equal(path, "/dev/null");
	assert_string_equal(zone, "example.se");
	snprintf(msg, len, "no DS or DNSKEY record for %s", zone);
	return -1;
}

static void test_trust_anchor_hook(void **state)
{
	struct loaded l;

	(void)state;
	conf_trust_anchor_check = fake_anchor;
	load_text(&l, T "trust_anchor = /dev/null\n", 0);
	conf_trust_anchor_check = NULL;
	assert_int_equal(anchor_calls, 1);
	assert_int_equal(l.rc, -EINVAL);
	assert_int_equal(l.nerr, 1);
	expect_error(&l, "anchor hook", 4,
	             "trust_anchor '/dev/null': no DS or DNSKEY record for "
	             "example.se");
	loaded_free(&l);
}

/* Every transport of the table is known by name; one without ops (not
 * built yet) is refused. */
static void test_transports(void **state)
{
	(void)state;
	for (size_t i = 0; i < transport_count; i++) {
		char text[256];
		struct loaded l;
		bool built = transport_table[i].ops != NULL;

		snprintf(text, sizeof(text), T "transport = %s\n",
		         transport_table[i].name);
		load_text(&l, text, 0);
		if (built) {
			expect_ok(&l, transport_table[i].name);
			assert_int_equal(l.conf->targets[0].transports,
			                 1u << i);
		} else {
			assert_int_equal(l.rc, -EINVAL);
			expect_error(&l, transport_table[i].name, 4,
			             "transport '");
			assert_non_null(strstr(l.err, "is not built into this "
			                              "version"));
		}
		loaded_free(&l);
	}
}

/* ---- re-resolution: conf_host_names and conf_target_refresh ------------- */

static struct sockaddr_storage ss_of(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text,
	                   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

static void test_refresh(void **state)
{
	struct loaded l;
	const char **names = NULL;
	size_t n = 0;
	struct conf_target *t;
	struct sockaddr_storage addrs[4];
	struct resolve_host host = {
	    .name = "LOCALHOST", .addrs = addrs, .n_addrs = 4};
	struct resolve_host failed = {.name = "localhost", .err = EAI_AGAIN};
	bool changed = false;

	(void)state;
	load_text(&l,
	          "[target a]\nserver = 192.0.2.1\nserver = localhost#5300\n"
	          "query = x\nresolve_interval = 1h\nfamily = ipv4\n"
	          "[target b]\nserver = localhost\nquery = x\n"
	          "resolve_interval = 60s\n"
	          "[target c]\nserver = localhost\nquery = x\n",
	          0);
	expect_ok(&l, "refresh");
	t = &l.conf->targets[0];
	assert_int_equal(t->n_hosts, 1);
	assert_string_equal(t->hosts[0].name, "localhost");
	assert_int_equal(t->hosts[0].port, 5300);
	assert_int_equal(t->hosts[0].line, 3);
	assert_int_equal(conf_host_names(l.conf, &names, &n), 0);
	assert_int_equal(n, 1); /* a and b share it; c looks up once */
	assert_string_equal(names[0], "localhost");
	free(names);

	/* New addresses: 127.0.0.2, 192.0.2.1 and 192.0.2.9 (ipv4 only);
	 * 192.0.2.1 on the name's port 5300 is not the literal's port 53. */
	addrs[0] = ss_of("127.0.0.2");
	addrs[1] = ss_of("::1");
	addrs[2] = ss_of("192.0.2.1");
	addrs[3] = ss_of("192.0.2.9");
	assert_int_equal(conf_target_refresh(t, &host, 1, &changed), 0);
	assert_true(changed);
	assert_int_equal(t->n_servers, 4);
	assert_string_equal(t->servers[0].addr_text, "192.0.2.1");
	assert_null(t->servers[0].name);
	assert_int_equal(port_of(&t->servers[0]), 53);
	assert_string_equal(t->servers[1].addr_text, "127.0.0.2");
	assert_string_equal(t->servers[1].name, "localhost");
	assert_int_equal(port_of(&t->servers[1]), 5300);
	assert_int_equal(t->servers[1].port, 5300);
	assert_int_equal(t->servers[1].line, 3);
	assert_string_equal(t->servers[2].addr_text, "192.0.2.1");
	assert_int_equal(port_of(&t->servers[2]), 5300);
	assert_string_equal(t->servers[3].addr_text, "192.0.2.9");

	/* The same again: no change. A failed look-up keeps the addresses. */
	assert_int_equal(conf_target_refresh(t, &host, 1, &changed), 0);
	assert_false(changed);
	assert_int_equal(conf_target_refresh(t, &failed, 1, &changed), 0);
	assert_false(changed);
	assert_int_equal(t->n_servers, 4);
	assert_int_equal(conf_target_refresh(t, NULL, 0, &changed), 0);
	assert_false(changed);
	assert_int_equal(t->n_servers, 4);

	/* The name now has no IPv4 address: its servers go, the literal
	 * stays. */
	host.n_addrs = 2;
	addrs[0] = ss_of("::2");
	assert_int_equal(conf_target_refresh(t, &host, 1, &changed), 0);
	assert_true(changed);
	assert_int_equal(t->n_servers, 1);
	assert_string_equal(t->servers[0].addr_text, "192.0.2.1");
	loaded_free(&l);
}

/* ---- shipped examples
 * -------------------------------------------------------- */

static void test_shipped(void **state)
{
	struct conf *c = NULL;
	int rc;

	(void)state;
	rc = conf_load(&c, FIXTURES "/../../conf/anycast-probe.conf", stderr);
	assert_int_equal(rc, 0);
	assert_true(c->n_targets >= 1);
	conf_free(c);

	rc = conf_load(&c, FIXTURES "/../../conf/root-servers.conf", stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(c->n_targets, 13);
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct conf_target *t = &c->targets[i];
		char want[64];

		snprintf(want, sizeof(want), "%c.root-servers.net",
		         (char)('a' + i));
		assert_string_equal(t->name, want);
		assert_int_equal(t->n_servers, 2);
		assert_int_equal(t->servers[0].family | t->servers[1].family,
		                 CONF_IPV4 | CONF_IPV6);
		assert_true(t->nsid);
		assert_int_equal(t->n_queries, 2);
		assert_string_equal(t->queries[0].name, ".");
		assert_int_equal(t->queries[0].type, DNSMSG_TYPE_SOA);
		assert_string_equal(t->queries[1].name, "hostname.bind");
		assert_true(t->queries[1].identity);
	}
	conf_free(c);
}

/* The system resolver is not on loopback here: a look-up of any other name
 * would send a query off the machine. Such a test is a bug: stop at once. */
static int only_localhost(const char *node, const char *service,
                          const struct addrinfo *hints, struct addrinfo **res)
{
	if (node == NULL || strcmp(node, "localhost") != 0) {
		fprintf(stderr, "test_conf: refusing to resolve '%s'\n",
		        node ? node : "(null)");
		abort();
	}
	return getaddrinfo(node, service, hints, res);
}

int main(void)
{
	conf_resolver = only_localhost;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_bools),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_localhost),
	    cmocka_unit_test(test_adhoc),
	    cmocka_unit_test(test_select),
	    cmocka_unit_test(test_every_v2_key),
	    cmocka_unit_test(test_round_trip_v2),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_refresh),
	    cmocka_unit_test(test_transports),
	    cmocka_unit_test(test_trust_anchor_hook),
	    cmocka_unit_test(test_adhoc_v2),
	    cmocka_unit_test(test_print),
	    cmocka_unit_test(test_shipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
