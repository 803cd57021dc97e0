/*
 * conf_check: everything that needs the whole file, run once it is read.
 * Effective values (a target inherits each [probe] key it does not set;
 * ports per transport), required keys, server lines expanded into
 * addresses (host names through resolve.c, filtered by `family`; equal
 * addresses kept once), identity queries, the DNSKEY query that
 * trust_anchor adds, the default zone, and the rules across keys:
 * nsid/dnssec/cookies need EDNS, trust_anchor and reference need a zone,
 * a target tag may not repeat a [tags] key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "dnsmsg.h"
#include "resolve.h"

int (*conf_trust_anchor_check)(const char *path, const char *zone, char *msg,
                               size_t msg_len) = NULL;

const char *cf_family_names(unsigned families)
{
	switch (families) {
	case CONF_IPV4:
		return "ipv4";
	case CONF_IPV6:
		return "ipv6";
	default:
		return "ipv4 ipv6";
	}
}

bool cf_same_query(const struct conf_query *a, const struct conf_query *b)
{
	return a->type == b->type && a->class == b->class &&
	       strcasecmp(a->name, b->name) == 0;
}

static bool only_digits_dots(const char *s)
{
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return false;
	return true;
}

static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 254 || (len == 254 && s[253] != '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* S for address SA with PORT in its sockaddr; 0 or -errno (inet_ntop). */
int cf_server_init(struct conf_server *s, const struct sockaddr_storage *sa,
                   uint16_t port)
{
	const void *bytes;

	memset(s, 0, sizeof(*s));
	memcpy(&s->addr, sa, sizeof(s->addr));
	if (sa->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&s->addr;

		in->sin_port = htons(port);
		s->addrlen = sizeof(*in);
		s->family = CONF_IPV4;
		bytes = &in->sin_addr;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s->addr;

		in6->sin6_port = htons(port);
		s->addrlen = sizeof(*in6);
		s->family = CONF_IPV6;
		bytes = &in6->sin6_addr;
	}
	if (!inet_ntop(sa->ss_family, bytes, s->addr_text,
	               sizeof(s->addr_text)))
		return -errno;
	return 0;
}

static void add_addr(struct cf_parser *p, struct conf_target *t,
                     const struct sockaddr_storage *sa, uint16_t port,
                     uint16_t own_port, const char *name, int line)
{
	struct conf_server s;

	if (cf_server_init(&s, sa, port) < 0) {
		cf_err(p, line, "cannot format address: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < t->n_servers; i++)
		if (t->servers[i].addrlen == s.addrlen &&
		    !memcmp(&t->servers[i].addr, &s.addr, s.addrlen))
			return; /* the same address from another name */
	s.port = own_port;
	s.line = line;
	if (name && !(s.name = cf_dup(p, name)))
		return;
	if (cf_grow(p, (void **)&t->servers, t->n_servers, sizeof(s))) {
		free(s.name);
		return;
	}
	t->servers[t->n_servers++] = s;
}

static bool v4_mapped(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(
	           &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* TEXT (an address or host name, without port) with OWN_PORT (0: the
 * target's) into T's servers. Host names expand to every address of the
 * target's families. */
void cf_add_server(struct cf_parser *p, struct conf_target *t, const char *text,
                   int line, uint16_t own_port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct resolve_host host;
	uint16_t port = own_port ? own_port : t->port;
	size_t matched = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (ss.ss_family) {
		if (v4_mapped(&ss)) {
			cf_err(p, line,
			       "bad server '%s': an IPv4-mapped IPv6 address "
			       "(write the IPv4 address)",
			       text);
			return;
		}
		if (!p->path &&
		    !((ss.ss_family == AF_INET ? CONF_IPV4 : CONF_IPV6) &
		      t->families)) {
			cf_err(p, line, "%s is %s, but %s was given", text,
			       ss.ss_family == AF_INET ? "IPv4" : "IPv6",
			       t->families == CONF_IPV4 ? "-4" : "-6");
			return;
		}
		add_addr(p, t, &ss, port, own_port, NULL, line);
		return;
	}
	if (!*text) {
		cf_err(p, line, "empty server");
		return;
	}
	if (strchr(text, '[') || strchr(text, ']')) {
		cf_err(p, line,
		       "bad server '%s': write ADDR, ADDR#PORT or "
		       "[IPV6]:PORT",
		       text);
		return;
	}
	if (strchr(text, ':')) {
		cf_err(p, line, "bad IPv6 address '%s'", text);
		return;
	}
	if (only_digits_dots(text)) {
		cf_err(p, line, "bad IPv4 address '%s'", text);
		return;
	}
	if (!valid_hostname(text)) {
		cf_err(p, line, "bad server '%s': not an address or host name",
		       text);
		return;
	}
	if (cf_grow(p, (void **)&t->hosts, t->n_hosts, sizeof(*t->hosts)))
		return;
	t->hosts[t->n_hosts].name = cf_dup(p, text);
	t->hosts[t->n_hosts].port = own_port;
	t->hosts[t->n_hosts].line = line;
	if (t->hosts[t->n_hosts].name)
		t->n_hosts++;
	if (resolve_name(text, &host) < 0) {
		cf_nomem(p, line);
		return;
	}
	if (host.err) {
		cf_err(p, line, "cannot resolve '%s': %s", text,
		       host.error_text);
		resolve_host_clear(&host);
		return;
	}
	for (size_t i = 0; i < host.n_addrs; i++) {
		const struct sockaddr_storage *a = &host.addrs[i];

		if (v4_mapped(a))
			continue; /* the IPv4 address comes as A as well */
		if ((a->ss_family == AF_INET && (t->families & CONF_IPV4)) ||
		    (a->ss_family == AF_INET6 && (t->families & CONF_IPV6))) {
			add_addr(p, t, a, port, own_port, text, line);
			matched++;
		}
	}
	resolve_host_clear(&host);
	if (!matched)
		cf_err(p, line, "'%s' has no address in family %s", text,
		       cf_family_names(t->families));
}

/* Append the identity queries; a configured query equal to one is marked
 * instead of being sent twice. */
void cf_add_identity(struct cf_parser *p, struct conf_target *t, char **names,
                     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct conf_query q = {.name = names[i],
		                       .type = DNSMSG_TYPE_TXT,
		                       .class = DNSMSG_CLASS_CH,
		                       .identity = true,
		                       .expect_rcodes = 1};
		bool found = false;

		for (size_t j = 0; j < t->n_queries; j++) {
			if (cf_same_query(&t->queries[j], &q)) {
				t->queries[j].identity = true;
				found = true;
			}
		}
		if (found)
			continue;
		if (!(q.name = cf_dup(p, names[i])) ||
		    cf_grow(p, (void **)&t->queries, t->n_queries, sizeof(q))) {
			free(q.name);
			return;
		}
		t->queries[t->n_queries++] = q;
	}
}

/* With a trust anchor: one ZONE DNSKEY IN query after the identity ones. */
static void add_dnskey(struct cf_parser *p, struct conf_target *t)
{
	struct conf_query q = {.name = t->zone,
	                       .class = DNSMSG_CLASS_IN,
	                       .dnskey = true,
	                       .expect_rcodes = 1};

	if (dnsmsg_parse_type("DNSKEY", &q.type))
		return;
	for (size_t j = 0; j < t->n_queries; j++) {
		if (cf_same_query(&t->queries[j], &q)) {
			t->queries[j].dnskey = true;
			return;
		}
	}
	if (!(q.name = cf_dup(p, t->zone)) ||
	    cf_grow(p, (void **)&t->queries, t->n_queries, sizeof(q))) {
		free(q.name);
		return;
	}
	t->queries[t->n_queries++] = q;
}

/* The line a key was set on for T: its own, else the [probe] one. */
static int key_line(const struct cf_parser *p, const struct cf_target_state *ts,
                    const char *name)
{
	int i = cf_key_find(name, CF_BOTH);

	if (i < 0)
		return 0;
	return ts->lines[i] ? ts->lines[i] : p->probe_lines[i];
}

/* nsid, dnssec and cookies are EDNS options: with edns_size = 0 one that
 * is set to yes is an error, one left at its default is off. */
static void check_edns(struct cf_parser *p, struct conf_target *t,
                       const struct cf_target_state *ts, bool *reported)
{
	static const char *const names[] = {"nsid", "dnssec", "cookies"};
	bool *fields[] = {&t->nsid, &t->dnssec, &t->cookies};
	int edns_line = key_line(p, ts, "edns_size");

	if (t->edns_size)
		return;
	for (size_t i = 0; i < 3; i++) {
		int line = key_line(p, ts, names[i]);
		int k = cf_key_find(names[i], CF_BOTH);
		bool probe = !ts->lines[k];

		if (*fields[i] && line > 0 && !(probe && reported[i])) {
			cf_err(p, line,
			       "%s = yes needs EDNS, but edns_size = 0%s",
			       names[i], edns_line > 0 ? "" : " nowhere");
			if (probe)
				reported[i] = true;
		}
		*fields[i] = false;
	}
}

static void check_target(struct cf_parser *p, size_t ti, bool *reported)
{
	struct conf *c = p->conf;
	struct conf_target *t = &c->targets[ti];
	struct cf_target_state *ts = &p->ts[ti];
	int si = cf_key_find("server", CF_TARGET);
	int qi = cf_key_find("query", CF_TARGET);
	int ai = cf_key_find("trust_anchor", CF_TARGET);
	int ri = cf_key_find("reference", CF_TARGET);

	for (size_t k = 0; k < cf_n_keys; k++) {
		const struct cf_key *key = &cf_keys[k];
		void *dst = (char *)t + key->target_off;
		const void *src = (const char *)c + key->probe_off;

		if (key->scope != CF_BOTH || ts->lines[k])
			continue;
		if (key->inherit)
			key->inherit(p, dst, src);
		else
			memcpy(dst, src, key->size);
	}
	for (size_t i = 0; i < transport_count; i++)
		if (!ts->port_lines[i])
			t->ports[i] = ((1u << i) & (CONF_UDP | CONF_TCP))
			                  ? t->port
			                  : transport_table[i].default_port;
	if (!t->https_path)
		t->https_path = cf_dup(p, CF_DEFAULT_HTTPS_PATH);
	check_edns(p, t, ts, reported);
	if (p->path && !ts->lines[si])
		cf_err(p, t->line, "[target %s] has no server", t->name);
	if (p->path && !ts->lines[qi])
		cf_err(p, t->line, "[target %s] has no query", t->name);
	for (size_t j = 0; j < ts->n_servers; j++) {
		const struct cf_server_line *s = &ts->servers[j];
		bool dup = false;

		for (size_t k = 0; k < j && !dup; k++) {
			if (ts->servers[k].port == s->port &&
			    !strcasecmp(ts->servers[k].text, s->text)) {
				cf_err(p, s->line,
				       "duplicate server '%s' (first on line "
				       "%d)",
				       s->text, ts->servers[k].line);
				dup = true;
			}
		}
		if (!dup)
			cf_add_server(p, t, s->text, s->line, s->port);
	}
	cf_add_identity(p, t, t->identity, t->n_identity);
	if (!t->zone) {
		for (size_t j = 0; j < t->n_queries; j++) {
			const struct conf_query *q = &t->queries[j];

			if (q->type == DNSMSG_TYPE_SOA && !q->identity) {
				t->zone = cf_dup(p, q->name);
				break;
			}
		}
	}
	if (t->trust_anchor) {
		if (!t->zone) {
			cf_err(p, ts->lines[ai],
			       "trust_anchor needs a zone: set zone = or "
			       "query the zone's SOA");
		} else {
			char msg[256] = "";

			if (conf_trust_anchor_check &&
			    conf_trust_anchor_check(t->trust_anchor, t->zone,
			                            msg, sizeof(msg)) < 0)
				cf_err(p, ts->lines[ai],
				       "trust_anchor '%s': %s", t->trust_anchor,
				       msg[0] ? msg
				              : "not a DS or DNSKEY file");
			add_dnskey(p, t);
		}
	}
	if (t->reference && !t->zone)
		cf_err(p, ts->lines[ri],
		       "reference needs a zone: set zone = or query the "
		       "zone's SOA");
	for (size_t j = 0; j < t->n_tags; j++) {
		for (size_t k = 0; k < c->n_tags; k++) {
			if (cf_streq(t->tags[j].key, c->tags[k].key))
				cf_err(p, ts->tag_lines ? ts->tag_lines[j] : 0,
				       "tag.%s repeats a [tags] key",
				       t->tags[j].key);
		}
	}
}

void cf_check(struct cf_parser *p)
{
	struct conf *c = p->conf;
	bool reported[3] = {false, false, false};

	if (p->path && !c->n_targets && !p->errors)
		cf_err(p, 0, "no [target NAME] section");
	for (size_t i = 0; i < c->n_targets && !p->oom; i++)
		check_target(p, i, reported);
}
