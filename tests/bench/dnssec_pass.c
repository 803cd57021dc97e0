/*
 * dnssec_pass FIXTURES_DIR [GROUPS [ROUNDS [cold]]] -- CPU of the DNSSEC pass
 * alone (dnssec_round) per row, on replies captured from the lab
 * (tests/fixtures/dnssec: valid-dnskey.bin, valid-soa.bin,
 * valid-nxdomain.bin, ECDSA P-256 signatures). Each group is one address
 * and transport: its DNSKEY row, an SOA row and an NXDOMAIN row, the shape
 * of a target with `query = ZONE SOA` and a negative probe. With "cold",
 * each round starts from a new dnssec object (nothing remembered), so its
 * first group verifies every signature. Prints "rows cpu_us_per_row
 * cpu_us_per_group". Built by tests/bench/dnssec.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "dnsmsg.h"
#include "dnssec.h"
#include "result.h"

#define SIGN_NOW 1767225600LL /* make-dnssec-replies.sh */

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static size_t load(const char *dir, const char *name, uint8_t *buf)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	size_t n = fread(buf, 1, 4096, f);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t wire[3][4096];
	static const char *const files[3] = {
	    "valid-dnskey.bin", "valid-soa.bin", "valid-nxdomain.bin"};
	struct conf_query q[3] = {
	    {.name = "example.test", .type = 48, .class = 1, .dnskey = true},
	    {.name = "example.test", .type = 6, .class = 1},
	    {.name = "nx.example.test", .type = 1, .class = 1},
	};
	struct conf_server server = {0};
	char anchor[1024];
	struct conf_target t = {.name = "bench",
	                        .zone = "example.test",
	                        .servers = &server,
	                        .n_servers = 1};
	struct conf c = {.targets = &t, .n_targets = 1};
	struct dnssec *d = NULL;
	size_t len[3];

	if (argc < 2) {
		fprintf(stderr, "usage: %s FIXTURES_DIR [GROUPS [ROUNDS]]\n",
		        argv[0]);
		return 2;
	}
	long groups = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
	long rounds = argc > 3 ? strtol(argv[3], NULL, 10) : 20;
	int cold = argc > 4 && strcmp(argv[4], "cold") == 0;
	if (groups < 1 || rounds < 1)
		return 2;
	snprintf(anchor, sizeof(anchor), "%s/ds", argv[1]);
	t.trust_anchor = anchor;
	if (dnssec_new(&d, &c, stderr) < 0)
		return 2;
	for (int i = 0; i < 3; i++)
		len[i] = load(argv[1], files[i], wire[i]);

	size_t n = (size_t)groups * 3;
	struct result *rows = calloc(n, sizeof(*rows));
	struct result_ext *ext = calloc(n, sizeof(*ext));
	struct result_key *keys = calloc((size_t)groups, sizeof(*keys));
	if (rows == NULL || ext == NULL || keys == NULL)
		return 2;
	double spent = 0;
	for (long r = 0; r < rounds; r++) {
		for (long g = 0; g < groups; g++) {
			keys[g] = (struct result_key){.target = &t,
			                              .server = &server};
			for (int i = 0; i < 3; i++) {
				struct result *row = &rows[g * 3 + i];
				struct dnsmsg_reply rep;
				dnsmsg_reply_parse(wire[i], len[i], &rep);
				*row = (struct result){.key = &keys[g],
				                       .query = &q[i],
				                       .has_reply = true,
				                       .rcode =
				                           (uint16_t)rep.rcode,
				                       .ext = &ext[g * 3 + i]};
				ext[g * 3 + i] = (struct result_ext){
				    .wire = wire[i],
				    .wire_len = (uint32_t)len[i]};
			}
		}
		if (cold) {
			dnssec_free(d);
			if (dnssec_new(&d, &c, stderr) < 0)
				return 2;
		}
		double t0 = cpu_us();
		dnssec_round(d, rows, n, (SIGN_NOW + 86400) * 1000000000LL);
		spent += cpu_us() - t0;
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].dnssec != RESULT_DNSSEC_SECURE) {
			fprintf(stderr, "row %zu not secure\n", i);
			return 1;
		}
	printf("%zu %.1f %.1f\n", n, spent / (double)(n * (size_t)rounds),
	       spent / (double)(groups * rounds));
	dnssec_free(d);
	free(rows);
	free(ext);
	free(keys);
	return 0;
}
