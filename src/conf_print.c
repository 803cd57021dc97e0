/*
 * conf_print: --check-config's output, the effective configuration. It is
 * itself a config: it loads back as the same configuration (comments name
 * lines, files and what host names resolved to; the queries that identity
 * and trust_anchor add are comments, since those keys add them again).
 * Keys are printed from the key table (cf_keys) in its order, so a new
 * key with a printer is printed without a change here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "conf_impl.h"
#include "dnsmsg.h"

void cf_print_duration(FILE *out, int64_t ns)
{
	if (ns % NS_PER_S == 0)
		fprintf(out, "%llds", (long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		fprintf(out, "%lldms", (long long)(ns / NS_PER_MS));
	else
		fprintf(out, "%lld.%06lldms", (long long)(ns / NS_PER_MS),
		        (long long)(ns % NS_PER_MS));
}

static void print_key(FILE *out, const struct cf_key *k, const void *field)
{
	if (k->print)
		k->print(out, k, field);
	else if (k->kind != CF_CUSTOM)
		/* The plain kinds print as KEY = VALUE. */
		cf_print_plain(out, k, field);
}

static unsigned server_port(const struct conf_server *s)
{
	const struct sockaddr_in *in = (const void *)&s->addr;
	const struct sockaddr_in6 *in6 = (const void *)&s->addr;

	return ntohs(s->family == CONF_IPV4 ? in->sin_port : in6->sin6_port);
}

/* One `server =` per config line: a literal as ADDR or ADDR#PORT (IPv6
 * with a port as [IPV6]:PORT), a host name once, with its addresses in
 * the comment. */
static void print_servers(const struct conf_target *t, FILE *out)
{
	for (size_t i = 0; i < t->n_servers; i++) {
		const struct conf_server *s = &t->servers[i];

		if (s->name) {
			bool first = true;

			if (i > 0 && t->servers[i - 1].name &&
			    t->servers[i - 1].line == s->line &&
			    !strcmp(t->servers[i - 1].name, s->name))
				continue; /* printed with the first address */
			fprintf(out, "server = %s", s->name);
			if (s->port)
				fprintf(out, "#%u", (unsigned)s->port);
			fputs("\t;", out);
			for (size_t j = i; j < t->n_servers; j++) {
				const struct conf_server *a = &t->servers[j];

				if (!a->name || strcmp(a->name, s->name) ||
				    a->line != s->line)
					continue;
				fprintf(out, "%s %s %s port %u",
				        first ? "" : ",", a->addr_text,
				        a->family == CONF_IPV4 ? "ipv4"
				                               : "ipv6",
				        server_port(a));
				first = false;
			}
			fputc('\n', out);
			continue;
		}
		if (s->port && s->family == CONF_IPV6)
			fprintf(out, "server = [%s]:%u", s->addr_text,
			        (unsigned)s->port);
		else if (s->port)
			fprintf(out, "server = %s#%u", s->addr_text,
			        (unsigned)s->port);
		else
			fprintf(out, "server = %s", s->addr_text);
		fprintf(out, "\t; %s port %u\n",
		        s->family == CONF_IPV4 ? "ipv4" : "ipv6",
		        server_port(s));
	}
}

static void print_query(const struct conf_query *q, FILE *out)
{
	char tb[16], cb[16], rb[16];
	bool added = (q->identity || q->dnskey) && !q->line;

	fprintf(out, "%squery = %s %s %s", added || q->identity ? "; " : "",
	        q->name, dnsmsg_type_name(q->type, tb, sizeof(tb)),
	        dnsmsg_class_name(q->class, cb, sizeof(cb)));
	if (q->expect_rcodes != 1) {
		const char *sep = " rcode=";

		for (int r = 0; r < 32; r++) {
			if (!(q->expect_rcodes & (1u << r)))
				continue;
			fprintf(out, "%s%s", sep,
			        dnsmsg_rcode_name(r, rb, sizeof(rb)));
			sep = ",";
		}
	}
	if (q->identity)
		fputs(" (from identity)", out);
	else if (q->dnskey && !q->line)
		fputs(" (from trust_anchor)", out);
	fputc('\n', out);
}

static void print_target(const struct conf_target *t, FILE *out)
{
	fprintf(out, "\n[target %s]", t->name);
	if (t->line)
		fprintf(out, "\t; line %d", t->line);
	fputc('\n', out);
	print_servers(t, out);
	/* Port keys, each once, from the transport table. */
	for (size_t i = 0; i < transport_count; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(transport_table[j].port_key,
			               transport_table[i].port_key);
		if (!seen)
			fprintf(out, "%s = %u\n", transport_table[i].port_key,
			        (unsigned)t->ports[i]);
	}
	for (size_t k = 0; k < cf_n_keys; k++) {
		const struct cf_key *key = &cf_keys[k];

		if (key->scope != CF_TARGET)
			continue;
		if (!strcmp(key->name, "query")) {
			for (size_t i = 0; i < t->n_queries; i++)
				print_query(&t->queries[i], out);
			continue;
		}
		print_key(out, key, (const char *)t + key->target_off);
	}
	for (size_t i = 0; i < t->n_tags; i++)
		fprintf(out, "tag.%s = %s\n", t->tags[i].key, t->tags[i].value);
	for (size_t k = 0; k < cf_n_keys; k++) {
		const struct cf_key *key = &cf_keys[k];

		if (key->scope == CF_BOTH)
			print_key(out, key, (const char *)t + key->target_off);
	}
}

void conf_print(const struct conf *conf, FILE *out)
{
	size_t addrs = 0, per_round = 0;

	if (!conf || !out)
		return;
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];
		size_t tr = (size_t)__builtin_popcount(t->transports);

		addrs += t->n_servers;
		per_round += t->n_servers * tr * t->n_queries;
	}
	fprintf(out, "; effective configuration of %s\n",
	        conf->path ? conf->path : "the command line");
	fprintf(out,
	        "; %zu target(s), %zu address(es), %zu queries per round\n",
	        conf->n_targets, addrs, per_round);
	fputs("\n[probe]\n", out);
	for (size_t k = 0; k < cf_n_keys; k++) {
		const struct cf_key *key = &cf_keys[k];

		if (key->scope & CF_PROBE)
			print_key(out, key,
			          (const char *)conf + key->probe_off);
	}
	if (conf->n_tags) {
		fputs("\n[tags]\n", out);
		for (size_t i = 0; i < conf->n_tags; i++)
			fprintf(out, "%s = %s\n", conf->tags[i].key,
			        conf->tags[i].value);
	}
	for (size_t i = 0; i < conf->n_targets; i++)
		print_target(&conf->targets[i], out);
}
