/*
 * cli: the command line; see include/cli.h. getopt_long runs with
 * opterr = 0 so that every message is ours and has one prefix; option
 * values that describe the target (--timeout, -p, -b ...) are handed to
 * conf as text (conf_adhoc checks them like config keys), -i and --count
 * are checked here since they also go with -c.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "0.0.0"
#endif

#define PREFIX "anycast-probe: "

enum {
	OPT_ONCE = 256,
	OPT_FORMAT,
	OPT_CHECK,
	OPT_COUNT,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_NO_IDENTITY,
	OPT_NO_NSID,
	OPT_DNSSEC,
	OPT_TARGET,
	OPT_NO_SANDBOX,
	OPT_SANDBOX_DEBUG,
};

static const struct option OPTIONS[] = {
    {"config", required_argument, NULL, 'c'},
    {"once", no_argument, NULL, OPT_ONCE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"server", required_argument, NULL, 's'},
    {"query", required_argument, NULL, 'q'},
    {"transport", required_argument, NULL, 't'},
    {"interval", required_argument, NULL, 'i'},
    {"count", required_argument, NULL, OPT_COUNT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"ipv4", no_argument, NULL, '4'},
    {"ipv6", no_argument, NULL, '6'},
    {"port", required_argument, NULL, 'p'},
    {"source", required_argument, NULL, 'b'},
    {"no-identity", no_argument, NULL, OPT_NO_IDENTITY},
    {"no-nsid", no_argument, NULL, OPT_NO_NSID},
    {"dnssec", no_argument, NULL, OPT_DNSSEC},
    {"target", required_argument, NULL, OPT_TARGET},
    {"no-sandbox", no_argument, NULL, OPT_NO_SANDBOX},
    {"sandbox-debug", no_argument, NULL, OPT_SANDBOX_DEBUG},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
/* Leading ':' : a missing argument is reported as ':', not '?'. */
static const char SHORT[] = ":c:s:q:t:i:46p:b:vhV";

void cli_usage(FILE *f)
{
	fputs(
	    "usage: anycast-probe [-c FILE] [--target NAME ...] [--once | -i "
	    "INTERVAL [--count N]]\n"
	    "                     [--format influx|text] [--check-config]\n"
	    "       anycast-probe -s ADDR[#PORT] [-s ...] [-q 'NAME [TYPE "
	    "[CLASS]]' ...]\n"
	    "                     [-t udp|tcp|tls|https ...] [--once | -i "
	    "INTERVAL [--count N]]\n"
	    "                     [--timeout D] [--retries N] [-4|-6] [-p "
	    "PORT] [-b SRCADDR]\n"
	    "                     [--no-identity] [--no-nsid] [--dnssec]\n"
	    "\n"
	    "Config file:\n"
	    "  -c, --config FILE   INI config (default " CONF_DEFAULT_PATH ")\n"
	    "      --target NAME   only this [target NAME] (repeatable)\n"
	    "Ad-hoc target (instead of -c, like dig):\n"
	    "  -s, --server ADDR[#PORT]\n"
	    "                      server address or host name (repeatable;\n"
	    "                      also [IPV6]:PORT, IPV4:PORT)\n"
	    "  -q, --query Q       'NAME [TYPE [CLASS]]', default '. SOA IN'\n"
	    "                      (repeatable)\n"
	    "  -t, --transport T   udp (default), tcp, tls, https; repeat it,\n"
	    "                      or 'udp tcp', for several\n"
	    "      --timeout D     per attempt, e.g. 500ms, 2s (default 2s)\n"
	    "      --retries N     extra attempts after a timeout (default 1)\n"
	    "  -4, --ipv4          only IPv4 addresses of host names\n"
	    "  -6, --ipv6          only IPv6 addresses of host names\n"
	    "  -p, --port PORT     port for servers given without one\n"
	    "  -b, --source ADDR   source address (repeatable: one per family)\n"
	    "      --no-identity   no hostname.bind/id.server queries\n"
	    "      --no-nsid       no EDNS NSID option\n"
	    "      --dnssec        DO bit on every query\n"
	    "Running:\n"
	    "      --once          run one round, print it, exit (0 every query\n"
	    "                      got a DNS response, whatever its rcode; 1\n"
	    "                      some got none: timeout, network error)\n"
	    "  -i, --interval D    a round every D (at least 100ms) until\n"
	    "                      Ctrl-C, then a summary per server and\n"
	    "                      transport on stderr; stdin is not read\n"
	    "      --count N       stop after N rounds (-i 1s unless given);\n"
	    "                      exit 0 when every query got a response, 1\n"
	    "                      when any got none\n"
	    "      --format F      influx (line protocol, default) or text\n"
	    "                      (a table per round, with its time)\n"
	    "      --check-config  validate, print the effective config, exit\n"
	    "  -v, --verbose       debug lines (D!) on stderr\n"
	    "      --no-sandbox    run without the seccomp filter (debugging)\n"
	    "      --sandbox-debug a call the filter forbids is named on\n"
	    "                      stderr (exit 70) instead of killing\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       version\n"
	    "\n"
	    "Without --once or -i a round runs per line on stdin, per SIGHUP/\n"
	    "SIGUSR1/SIGUSR2 and per `interval`; stdin EOF or SIGTERM ends it\n"
	    "(Telegraf inputs.execd). Exit codes: 0 ok, 1 a query got no\n"
	    "response (--once, --count), 2 usage or config error. Example\n"
	    "configs: conf/ in the source tree, or share/doc/anycast-probe/\n"
	    "where installed.\n",
	    f);
}

__attribute__((format(printf, 2, 3))) static int
usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs(PREFIX, err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputs("\n" PREFIX "try 'anycast-probe -h' for the options\n", err);
	return CLI_EXIT_USAGE;
}

/* Append WORD to the space-separated list BUF. */
static bool append_word(char *buf, size_t size, const char *word)
{
	size_t used = strlen(buf);
	int n =
	    snprintf(buf + used, size - used, "%s%s", used ? " " : "", word);

	return n >= 0 && (size_t)n < size - used;
}

/* Remember that an ad-hoc-only option was given (its name for -c). */
static void adhoc_only(struct cli *cli, const char *name)
{
	if (cli->adhoc_only_given)
		return;
	cli->adhoc_only_given = true;
	snprintf(cli->adhoc_only_name, sizeof(cli->adhoc_only_name), "%s",
	         name);
}

/* The option as the user wrote it, for messages: "--count" or "-p". */
static const char *opt_name(char *buf, size_t size, int c, int longidx)
{
	if (longidx >= 0)
		snprintf(buf, size, "--%s", OPTIONS[longidx].name);
	else
		snprintf(buf, size, "-%c", c);
	return buf;
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One option; -1 to go on, else the exit code. */
static int option(struct cli *cli, int c, int longidx, FILE *out, FILE *err)
{
	char name[40];
	size_t *n;

	switch (c) {
	case 'c':
		cli->config = optarg;
		break;
	case OPT_ONCE:
		cli->once = true;
		break;
	case OPT_FORMAT:
		if (strcmp(optarg, "text") == 0)
			cli->text = true;
		else if (strcmp(optarg, "influx") == 0)
			cli->text = false;
		else
			return usage_error(
			    err, "--format takes influx or text, not '%s'",
			    optarg);
		break;
	case OPT_CHECK:
		cli->check = true;
		break;
	case 's':
	case 'q':
		n = c == 's' ? &cli->adhoc.n_servers : &cli->adhoc.n_queries;
		if (*n >= CLI_MAX)
			return usage_error(
			    err, "too many %s (at most 256)",
			    opt_name(name, sizeof(name), c, longidx));
		(c == 's' ? cli->servers : cli->queries)[(*n)++] = optarg;
		if (c == 'q')
			adhoc_only(cli, "-q");
		break;
	case 't':
		if (!append_word(cli->transports, sizeof(cli->transports),
		                 optarg))
			return usage_error(err, "too many -t");
		cli->adhoc.transport = cli->transports;
		adhoc_only(cli, "-t");
		break;
	case 'b':
		if (!append_word(cli->sources, sizeof(cli->sources), optarg))
			return usage_error(err, "too many -b");
		cli->adhoc.source = cli->sources;
		adhoc_only(cli, "-b");
		break;
	case 'i':
		if (conf_parse_duration(optarg, &cli->interval_ns) < 0 ||
		    cli->interval_ns < CLI_MIN_INTERVAL_NS)
			return usage_error(err,
			                   "-i takes a duration of at least "
			                   "100ms (500ms, 2s, 1m), not '%s'",
			                   optarg);
		cli->interval_text = optarg;
		cli->continuous = true;
		break;
	case OPT_COUNT:
		if (parse_count(optarg, &cli->count) < 0)
			return usage_error(err,
			                   "--count takes a number of rounds "
			                   "(1 or more), not '%s'",
			                   optarg);
		cli->continuous = true;
		break;
	case OPT_TIMEOUT:
		cli->adhoc.timeout = optarg;
		adhoc_only(cli, "--timeout");
		break;
	case OPT_RETRIES:
		cli->adhoc.retries = optarg;
		adhoc_only(cli, "--retries");
		break;
	case '4':
	case '6':
		if (cli->adhoc.family &&
		    cli->adhoc.family != (c == '4' ? CONF_IPV4 : CONF_IPV6))
			return usage_error(err,
			                   "-4 and -6 do not mix: leave both "
			                   "out for both families");
		cli->adhoc.family = c == '4' ? CONF_IPV4 : CONF_IPV6;
		adhoc_only(cli, c == '4' ? "-4" : "-6");
		break;
	case 'p':
		cli->adhoc.port = optarg;
		adhoc_only(cli, "-p");
		break;
	case OPT_NO_IDENTITY:
		cli->adhoc.no_identity = true;
		adhoc_only(cli, "--no-identity");
		break;
	case OPT_NO_NSID:
		cli->adhoc.no_nsid = true;
		adhoc_only(cli, "--no-nsid");
		break;
	case OPT_DNSSEC:
		cli->adhoc.dnssec = true;
		adhoc_only(cli, "--dnssec");
		break;
	case OPT_TARGET:
		if (cli->n_targets >= CLI_MAX)
			return usage_error(err,
			                   "too many --target (at most 256)");
		cli->targets[cli->n_targets++] = optarg;
		break;
	case 'v':
		cli->verbose = true;
		break;
	case OPT_NO_SANDBOX:
		cli->no_sandbox = true;
		break;
	case OPT_SANDBOX_DEBUG:
		cli->sandbox_debug = true;
		break;
	case 'h':
		cli_usage(out);
		return 0;
	case 'V':
		fprintf(out, "anycast-probe " VERSION "\n");
		return 0;
	case ':':
		return -3; /* a value is missing: the caller names it */
	default:
		return -2; /* unknown: the caller names it */
	}
	return -1;
}

/* How the options combine; -1 when they do, else 2. */
static int check_mix(struct cli *cli, FILE *err)
{
	if (cli->adhoc.n_servers > 0 && cli->config)
		return usage_error(err, "-c and -s do not mix: use one or the "
		                        "other");
	if (cli->adhoc.n_servers > 0 && cli->n_targets > 0)
		return usage_error(err, "--target picks targets of a config "
		                        "file (-c); -s is one ad-hoc target");
	if (cli->adhoc.n_servers == 0 && cli->adhoc_only_given)
		return usage_error(err,
		                   "%s is for an ad-hoc target (-s ADDR); in a "
		                   "config file it is a key of the target",
		                   cli->adhoc_only_name);
	if (cli->once && cli->continuous)
		return usage_error(err, "--once and -i/--count do not mix "
		                        "(--count 1 is one round, with a "
		                        "summary)");
	if (cli->continuous && cli->interval_ns == 0)
		cli->interval_ns = CLI_DEFAULT_INTERVAL_NS;
	if (cli->adhoc.n_servers > 0 && cli->interval_text)
		cli->adhoc.interval = cli->interval_text;
	return -1;
}

int cli_parse(struct cli *cli, int argc, char **argv, FILE *out, FILE *err)
{
	int c, rc;

	memset(cli, 0, sizeof(*cli));
	cli->adhoc.servers = cli->servers;
	cli->adhoc.queries = cli->queries;
	opterr = 0;
	optind = 1; /* callable more than once (the unit tests) */
	for (;;) {
		int longidx = -1;

		c = getopt_long(argc, argv, SHORT, OPTIONS, &longidx);
		if (c == -1)
			break;
		rc = option(cli, c, longidx, out, err);
		if (rc == -3)
			return usage_error(err, "%s needs a value",
			                   argv[optind - 1]);
		if (rc == -2) {
			/* optopt is the letter of an unknown short option,
			 * 0 for an unknown long one (argv names it). */
			char buf[4] = {'-', (char)optopt, '\0', '\0'};

			return usage_error(err, "unknown option '%s'",
			                   optopt ? buf : argv[optind - 1]);
		}
		if (rc >= 0)
			return rc;
	}
	if (optind < argc)
		return usage_error(err, "unexpected argument '%s'",
		                   argv[optind]);
	return check_mix(cli, err);
}

int cli_conf(const struct cli *cli, struct conf **conf, FILE *err)
{
	const char *path = cli->config;
	int rc;

	*conf = NULL;
	if (cli->adhoc.n_servers > 0) {
		rc = conf_adhoc(conf, &cli->adhoc, err);
	} else {
		if (!path && access(CONF_DEFAULT_PATH, F_OK) != 0) {
			fprintf(err,
			        PREFIX "no config: %s does not exist and no "
			               "-c or -s was given.\n" PREFIX
			               "Start from conf/anycast-probe.conf "
			               "(the example config in the source "
			               "tree, or share/doc/anycast-probe/ "
			               "where installed), or try -s ADDR for "
			               "an ad-hoc probe.\n",
			        CONF_DEFAULT_PATH);
			return CLI_EXIT_USAGE;
		}
		rc = conf_load(conf, path ? path : CONF_DEFAULT_PATH, err);
	}
	if (rc < 0)
		return CLI_EXIT_USAGE;
	if (cli->n_targets > 0) {
		rc = conf_select(*conf, cli->targets, cli->n_targets, err);
		if (rc < 0) {
			conf_free(*conf);
			*conf = NULL;
			return CLI_EXIT_USAGE;
		}
	}
	if (cli->interval_ns > 0)
		(*conf)->interval_ns = cli->interval_ns;
	return 0;
}
