/*
 * cli: the command line. Parses every option (getopt_long with its own
 * messages, all prefixed "anycast-probe: "), checks how they combine, and
 * loads the config they name (a file with -c, or the ad-hoc target of
 * -s/-q/-t and friends). It prints usage and version; it never exits:
 * main does, with the code cli returns.
 *
 * Which options go with which mode:
 *  - everywhere: --once, --format, --check-config, -i, --count, -v,
 *    --no-sandbox, --sandbox-debug;
 *  - with a config file only: -c, --target;
 *  - ad hoc only (they describe the target; a config says them as keys):
 *    -s, -q, -t, --timeout, --retries, -4, -6, -p, -b, --no-identity,
 *    --no-nsid, --dnssec.
 */
#ifndef ANYCAST_PROBE_CLI_H
#define ANYCAST_PROBE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

#define CLI_MAX 256 /* -s, -q, --target each at most this often */
#define CLI_EXIT_QUERY_FAILED 1
#define CLI_EXIT_USAGE 2
#define CLI_DEFAULT_INTERVAL_NS (1000LL * 1000 * 1000) /* --count alone */
#define CLI_MIN_INTERVAL_NS (100LL * 1000 * 1000)

struct cli {
	const char *config; /* -c; NULL: CONF_DEFAULT_PATH unless -s */
	bool once, check, text, verbose;
	/* The seccomp sandbox (trustio's sandbox.h): --no-sandbox turns it
	 * off and wins over --sandbox-debug (name a forbidden call). */
	bool no_sandbox, sandbox_debug;
	/* The continuous mode by hand (-i, --count): a round every
	 * interval_ns from the start, stdin is neither a trigger nor an end,
	 * a summary on stderr at the end and on SIGINT/SIGTERM. */
	bool continuous;
	int64_t interval_ns; /* -i; CLI_DEFAULT_INTERVAL_NS for --count alone */
	uint64_t count;      /* --count; 0: until stopped */
	struct conf_adhoc adhoc; /* -s ... --dnssec; its arrays point here: */
	const char *servers[CLI_MAX], *queries[CLI_MAX];
	char transports[64]; /* "-t udp -t tcp" -> "udp tcp" */
	char sources[256];   /* "-b A -b B" -> "A B" */
	const char *interval_text;
	const char *targets[CLI_MAX]; /* --target */
	size_t n_targets;
	bool adhoc_only_given;    /* some option of the ad-hoc-only list */
	char adhoc_only_name[32]; /* the first of them, for the message */
};

/* Parse ARGV. Returns -1 when the program goes on with CLI filled in;
 * else the exit code: 0 after -h (usage on OUT) or -V, 2 on a usage error
 * (one "anycast-probe: ..." line and a hint on ERR). */
int cli_parse(struct cli *cli, int argc, char **argv, FILE *out, FILE *err);

/* Load the configuration CLI names and apply the options that override
 * it (-i, --target). Returns 0 with *CONF owned by the caller, or the exit
 * code (2) with every error printed to ERR and *CONF NULL. */
int cli_conf(const struct cli *cli, struct conf **conf, FILE *err);

/* The -h text. */
void cli_usage(FILE *f);

#endif
