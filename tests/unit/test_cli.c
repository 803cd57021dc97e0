/*
 * Unit tests for src/cli.c: a table of command lines with the exit code
 * and message each must give (every error one "anycast-probe: " line and
 * a hint, nothing on stdout), and what the accepted ones fill in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

#define MAX_ARGS 16

struct parsed {
	int rc;
	char *out, *err;
};

static struct parsed parse(struct cli *cli, const char *const *args)
{
	char *argv[MAX_ARGS + 2] = {"anycast-probe"};
	int argc = 1;
	struct parsed p;
	size_t lo, le;
	FILE *out, *err;

	for (; args[argc - 1]; argc++) {
		assert_true(argc <= MAX_ARGS);
		argv[argc] = (char *)args[argc - 1];
	}
	out = open_memstream(&p.out, &lo);
	err = open_memstream(&p.err, &le);
	assert_non_null(out);
	assert_non_null(err);
	p.rc = cli_parse(cli, argc, argv, out, err);
	fclose(out);
	fclose(err);
	return p;
}

struct bad_case {
	const char *args[MAX_ARGS];
	const char *message; /* in the first stderr line */
};

static const struct bad_case BAD[] = {
    {{"--no-such-option"}, "unknown option '--no-such-option'"},
    {{"-x"}, "unknown option '-x'"},
    {{"-s", "127.0.0.1", "-Z"}, "unknown option '-Z'"},
    {{"-c"}, "-c needs a value"},
    {{"--count"}, "--count needs a value"},
    {{"-s", "127.0.0.1", "--timeout"}, "--timeout needs a value"},
    {{"--format", "json"}, "--format takes influx or text, not 'json'"},
    {{"extra"}, "unexpected argument 'extra'"},
    {{"-c", "a.conf", "-s", "127.0.0.1"}, "-c and -s do not mix"},
    {{"-s", "127.0.0.1", "--target", "x"}, "--target picks targets"},
    {{"-q", ". SOA"}, "-q is for an ad-hoc target"},
    {{"-t", "tcp"}, "-t is for an ad-hoc target"},
    {{"-c", "a.conf", "--timeout", "1s"}, "--timeout is for an ad-hoc"},
    {{"-c", "a.conf", "--retries", "2"}, "--retries is for an ad-hoc"},
    {{"-c", "a.conf", "-4"}, "-4 is for an ad-hoc"},
    {{"-c", "a.conf", "-p", "53"}, "-p is for an ad-hoc"},
    {{"-c", "a.conf", "-b", "127.0.0.1"}, "-b is for an ad-hoc"},
    {{"-c", "a.conf", "--no-identity"}, "--no-identity is for an ad-hoc"},
    {{"-c", "a.conf", "--no-nsid"}, "--no-nsid is for an ad-hoc"},
    {{"-c", "a.conf", "--dnssec"}, "--dnssec is for an ad-hoc"},
    {{"-s", "::1", "-4", "-6"}, "-4 and -6 do not mix"},
    {{"-s", "::1", "-i", "50ms"}, "-i takes a duration of at least 100ms"},
    {{"-s", "::1", "-i", "0"}, "-i takes a duration"},
    {{"-s", "::1", "-i", "soon"}, "-i takes a duration"},
    {{"-s", "::1", "--count", "0"}, "--count takes a number of rounds"},
    {{"-s", "::1", "--count", "-3"}, "--count takes a number"},
    {{"-s", "::1", "--count", "3x"}, "--count takes a number"},
    {{"-s", "::1", "--once", "-i", "1s"}, "--once and -i/--count do not mix"},
    {{"-s", "::1", "--once", "--count", "2"}, "--once and -i/--count"},
};

static void test_bad(void **state)
{
	(void)state;
	struct cli cli;

	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		struct parsed p = parse(&cli, BAD[i].args);
		char *nl = strchr(p.err, '\n');

		if (p.rc != 2 || strncmp(p.err, "anycast-probe: ", 15) || !nl ||
		    !strstr(p.err, BAD[i].message) ||
		    strstr(nl, BAD[i].message) || p.out[0])
			fail_msg(
			    "case %zu (%s): rc %d, stdout '%s', stderr '%s'", i,
			    BAD[i].message, p.rc, p.out, p.err);
		/* the second line is the hint, with the same prefix */
		assert_non_null(strstr(nl + 1, "anycast-probe: try "));
		free(p.out);
		free(p.err);
	}
}

static void test_help_version(void **state)
{
	(void)state;
	struct cli cli;
	static const char *const OPTS[] = {"--config",
	                                   "--target",
	                                   "--server",
	                                   "--query",
	                                   "--transport",
	                                   "--timeout",
	                                   "--retries",
	                                   "--ipv4",
	                                   "--ipv6",
	                                   "--port",
	                                   "--source",
	                                   "--no-identity",
	                                   "--no-nsid",
	                                   "--dnssec",
	                                   "--once",
	                                   "--interval",
	                                   "--count",
	                                   "--format",
	                                   "--check-config",
	                                   "--verbose",
	                                   "--help",
	                                   "--version",
	                                   "tls",
	                                   "https",
	                                   "-4",
	                                   "-6",
	                                   "-b",
	                                   "-i",
	                                   "-p"};

	const char *h[] = {"-h", NULL};
	struct parsed p = parse(&cli, h);
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.err, "");
	for (size_t i = 0; i < sizeof(OPTS) / sizeof(OPTS[0]); i++)
		if (!strstr(p.out, OPTS[i]))
			fail_msg("-h does not list %s", OPTS[i]);
	free(p.out);
	free(p.err);
	const char *v[] = {"--version", NULL};
	p = parse(&cli, v);
	assert_int_equal(p.rc, 0);
	assert_non_null(strstr(p.out, "anycast-probe "));
	free(p.out);
	free(p.err);
}

static void test_good(void **state)
{
	(void)state;
	struct cli cli;

	const char *a[] = {"-s",       "192.0.2.1",    "-s", "[::1]:5353",
	                   "-q",       "example.se A", "-t", "udp",
	                   "-t",       "tcp",          "-b", "127.0.0.1",
	                   "--source", "::1",          NULL};
	struct parsed p = parse(&cli, a);
	assert_int_equal(p.rc, -1);
	assert_int_equal(cli.adhoc.n_servers, 2);
	assert_string_equal(cli.adhoc.servers[1], "[::1]:5353");
	assert_int_equal(cli.adhoc.n_queries, 1);
	assert_string_equal(cli.adhoc.transport, "udp tcp");
	assert_string_equal(cli.adhoc.source, "127.0.0.1 ::1");
	assert_false(cli.continuous);
	free(p.out);
	free(p.err);

	const char *b[] = {
	    "-s",        "::1",      "--timeout", "300ms", "--retries",
	    "0",         "-6",       "-p",        "5300",  "--no-identity",
	    "--no-nsid", "--dnssec", "-i",        "250ms", NULL};
	p = parse(&cli, b);
	assert_int_equal(p.rc, -1);
	assert_string_equal(cli.adhoc.timeout, "300ms");
	assert_string_equal(cli.adhoc.retries, "0");
	assert_int_equal(cli.adhoc.family, CONF_IPV6);
	assert_string_equal(cli.adhoc.port, "5300");
	assert_true(cli.adhoc.no_identity && cli.adhoc.no_nsid &&
	            cli.adhoc.dnssec);
	assert_true(cli.continuous);
	assert_int_equal(cli.interval_ns, 250 * 1000000LL);
	assert_string_equal(cli.adhoc.interval, "250ms");
	assert_int_equal(cli.count, 0);
	free(p.out);
	free(p.err);

	/* --count alone: a round a second; with -c and --target */
	const char *c[] = {"-c",       "x.conf", "--count",  "3",
	                   "--target", "a",      "--target", "b",
	                   "--format", "text",   "-v",       NULL};
	p = parse(&cli, c);
	assert_int_equal(p.rc, -1);
	assert_true(cli.continuous);
	assert_int_equal(cli.count, 3);
	assert_int_equal(cli.interval_ns, CLI_DEFAULT_INTERVAL_NS);
	assert_int_equal(cli.n_targets, 2);
	assert_string_equal(cli.targets[1], "b");
	assert_true(cli.text && cli.verbose);
	assert_string_equal(cli.config, "x.conf");
	assert_null(cli.adhoc.interval); /* -c: cli sets it, not conf */
	free(p.out);
	free(p.err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_help_version),
	    cmocka_unit_test(test_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
