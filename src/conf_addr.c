/*
 * conf_addr: parsers and printers of values that are addresses or
 * questions: `server` lines (ADDR, ADDR#PORT, [IPV6]:PORT, IPV4:PORT; host
 * names are kept for conf_check to expand), `source` (one address per
 * family, one this machine has), `reference` (ADDR[#PORT]) and `query`
 * (NAME [TYPE [CLASS]] [rcode=LIST]). IPv4-mapped IPv6 addresses are
 * refused everywhere: they would be IPv4 traffic tagged ipv6.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "dnsmsg.h"
#include "net.h"

/* ---- addresses ---------------------------------------------------------- */

/* "192.0.2.1:53": an IPv4 address with a port, as URLs write it. */
static bool ipv4_with_port(const char *text)
{
	const char *colon = strchr(text, ':');
	struct in_addr a;
	char v4[INET_ADDRSTRLEN];
	size_t n;

	if (!colon || strchr(colon + 1, ':') || !colon[1])
		return false;
	n = (size_t)(colon - text);
	if (n >= sizeof(v4))
		return false;
	memcpy(v4, text, n);
	v4[n] = '\0';
	for (const char *d = colon + 1; *d; d++)
		if (*d < '0' || *d > '9')
			return false;
	return inet_pton(AF_INET, v4, &a) == 1;
}

int cf_split_server(struct cf_parser *p, int line, const char *text,
                    char **host, uint16_t *port)
{
	const char *hash = strrchr(text, '#'), *start = text, *end;
	long long v = 0;

	*host = NULL;
	*port = 0;
	if (text[0] == '[' && (end = strchr(text, ']')) != NULL &&
	    (end[1] == '\0' || end[1] == '#' || end[1] == ':')) {
		start = text + 1;
		hash = end[1] ? end + 1 : NULL;
	} else if (!hash && ipv4_with_port(text)) {
		hash = strchr(text, ':');
		end = hash;
	} else {
		end = hash ? hash : text + strlen(text);
	}
	if (hash && cf_parse_uint(hash + 1, 1, 65535, &v)) {
		cf_err(p, line, "bad port in '%s': want ADDR#1..65535", text);
		return -EINVAL;
	}
	*host = cf_dup_n(p, start, (size_t)(end - start));
	*port = (uint16_t)v;
	return *host ? 0 : -ENOMEM;
}

void cf_parse_server(struct cf_parser *p, const struct cf_key *k,
                     const char *val, void *field)
{
	struct cf_target_state *ts = &p->ts[p->target];
	struct cf_server_line *s;
	char *host;
	uint16_t port;

	(void)k, (void)field;
	if (!*val) {
		cf_err(p, p->lineno, "empty server");
		return;
	}
	if (strpbrk(val, " \t,")) {
		cf_err(p, p->lineno,
		       "bad server '%s': one address per line (repeat "
		       "'server =')",
		       val);
		return;
	}
	if (cf_split_server(p, p->lineno, val, &host, &port))
		return;
	if (cf_grow(p, (void **)&ts->servers, ts->n_servers,
	            sizeof(*ts->servers))) {
		free(host);
		return;
	}
	s = &ts->servers[ts->n_servers++];
	s->text = host;
	s->port = port;
	s->line = p->lineno;
}

/* An address literal (no host names) into SS; false when it is none. */
static bool parse_addr(const char *text, struct sockaddr_storage *ss,
                       socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		*len = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

void cf_set_source(struct cf_parser *p, int line, const char *val,
                   struct conf_target *t)
{
	const char *cur = val, *w;
	size_t len;
	struct sockaddr_storage s4, s6;
	bool any = false;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	while (cf_next_word(&cur, &w, &len)) {
		char text[INET6_ADDRSTRLEN + 1];
		struct sockaddr_storage ss;
		socklen_t sl;
		int rc;

		any = true;
		snprintf(text, sizeof(text), "%.*s", (int)len, w);
		if (len >= sizeof(text) || !parse_addr(text, &ss, &sl)) {
			cf_err(p, line,
			       "bad source '%s': want an IPv4 or IPv6 address",
			       text);
			return;
		}
		if (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(
		        &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
			cf_err(p, line,
			       "source '%s' is an IPv4-mapped IPv6 address: "
			       "write the IPv4 address",
			       text);
			return;
		}
		if ((ss.ss_family == AF_INET ? s4 : s6).ss_family) {
			cf_err(p, line,
			       "two %s source addresses: want one per family",
			       ss.ss_family == AF_INET ? "IPv4" : "IPv6");
			return;
		}
		rc = net_addr_is_local((struct sockaddr *)&ss, sl);
		if (rc) {
			cf_err(p, line,
			       "source '%s' is not an address of this "
			       "machine: %s",
			       text, strerror(-rc));
			return;
		}
		if (ss.ss_family == AF_INET)
			s4 = ss;
		else
			s6 = ss;
	}
	if (!any) {
		cf_err(p, line,
		       "empty source: want an IPv4 and/or IPv6 address");
		return;
	}
	t->source4 = s4;
	t->source6 = s6;
}

void cf_parse_source(struct cf_parser *p, const struct cf_key *k,
                     const char *val, void *field)
{
	(void)k, (void)field;
	cf_set_source(p, p->lineno, val, &p->conf->targets[p->target]);
}

static void print_addr(FILE *out, const struct sockaddr_storage *ss)
{
	char text[INET6_ADDRSTRLEN];
	const void *bytes =
	    ss->ss_family == AF_INET
	        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
	        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (inet_ntop(ss->ss_family, bytes, text, sizeof(text)))
		fprintf(out, " %s", text);
}

void cf_print_source(FILE *out, const struct cf_key *k, const void *field)
{
	const struct sockaddr_storage *s4 = field, *s6 = s4 + 1;

	if (!s4->ss_family && !s6->ss_family)
		return;
	fprintf(out, "%s =", k->name);
	if (s4->ss_family)
		print_addr(out, s4);
	if (s6->ss_family)
		print_addr(out, s6);
	fputc('\n', out);
}

void cf_parse_reference(struct cf_parser *p, const struct cf_key *k,
                        const char *val, void *field)
{
	struct conf_server **ref = field, *s;
	char *host;
	uint16_t port;
	socklen_t len;

	if (cf_split_server(p, p->lineno, val, &host, &port))
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		cf_nomem(p, p->lineno);
		free(host);
		return;
	}
	if (!parse_addr(host, &s->addr, &len) ||
	    (s->addr.ss_family == AF_INET6 &&
	     IN6_IS_ADDR_V4MAPPED(
	         &((struct sockaddr_in6 *)&s->addr)->sin6_addr))) {
		cf_err(p, p->lineno,
		       "bad %s '%s': want ADDR[#PORT] (an IPv4 or IPv6 "
		       "address)",
		       k->name, val);
		free(host);
		free(s);
		return;
	}
	s->addrlen = len;
	s->family = s->addr.ss_family == AF_INET ? CONF_IPV4 : CONF_IPV6;
	s->port = port;
	if (s->family == CONF_IPV4)
		((struct sockaddr_in *)&s->addr)->sin_port =
		    htons(port ? port : CONF_DEFAULT_PORT);
	else
		((struct sockaddr_in6 *)&s->addr)->sin6_port =
		    htons(port ? port : CONF_DEFAULT_PORT);
	snprintf(s->addr_text, sizeof(s->addr_text), "%s", host);
	s->line = p->lineno;
	free(host);
	if (*ref)
		free(*ref);
	*ref = s;
}

void cf_print_reference(FILE *out, const struct cf_key *k, const void *field)
{
	const struct conf_server *s = *(const struct conf_server *const *)field;
	char text[INET6_ADDRSTRLEN];
	const void *bytes;

	if (!s)
		return;
	bytes = s->family == CONF_IPV4
	            ? (const void *)&((const struct sockaddr_in *)&s->addr)
	                  ->sin_addr
	            : (const void *)&((const struct sockaddr_in6 *)&s->addr)
	                  ->sin6_addr;
	if (!inet_ntop(s->addr.ss_family, bytes, text, sizeof(text)))
		return;
	fprintf(out, "%s = %s", k->name, text);
	if (s->port)
		fprintf(out, "#%u", (unsigned)s->port);
	fputc('\n', out);
}

/* ---- queries ------------------------------------------------------------ */

/* "NXDOMAIN,NOERROR" -> bit mask; rcode names as dnsmsg prints them. */
static int parse_rcodes(const char *text, size_t len, uint32_t *out)
{
	uint32_t mask = 0;
	const char *s = text, *e = text + len;

	while (s < e) {
		const char *comma = memchr(s, ',', (size_t)(e - s));
		size_t n = (size_t)((comma ? comma : e) - s);
		bool found = false;

		for (int r = 0; r < 32 && !found; r++) {
			char name[16];

			dnsmsg_rcode_name(r, name, sizeof(name));
			if (strlen(name) == n && !strncasecmp(name, s, n)) {
				mask |= 1u << r;
				found = true;
			}
		}
		if (!found)
			return -EINVAL;
		s += n + (comma ? 1 : 0);
	}
	if (!mask)
		return -EINVAL;
	*out = mask;
	return 0;
}

int cf_parse_query(struct cf_parser *p, int line, const char *text,
                   struct conf_query *q)
{
	const char *cur = text, *w[4];
	size_t len[4], n = 0, wl;
	const char *word;
	char tok[32];

	memset(q, 0, sizeof(*q));
	q->expect_rcodes = 1u << 0; /* NOERROR */
	q->line = line;
	while (cf_next_word(&cur, &word, &wl)) {
		if (wl > 6 && !strncasecmp(word, "rcode=", 6)) {
			/* The list runs to the next white space. */
			size_t l = strcspn(word, " \t");

			if (parse_rcodes(word + 6, l - 6, &q->expect_rcodes)) {
				cf_err(
				    p, line,
				    "bad rcode list '%.*s': want rcode names "
				    "like NOERROR,NXDOMAIN",
				    (int)(l - 6), word + 6);
				return -EINVAL;
			}
			cur = word + l;
			continue;
		}
		if (n == 4)
			break;
		w[n] = word;
		len[n++] = wl;
	}
	if (n == 0 || n > 3) {
		cf_err(p, line,
		       "bad query '%s': want NAME [TYPE [CLASS]] "
		       "[rcode=LIST]",
		       text);
		return -EINVAL;
	}
	q->type = DNSMSG_TYPE_SOA;
	q->class = DNSMSG_CLASS_IN;
	if (n >= 2) {
		snprintf(tok, sizeof(tok), "%.*s", (int)len[1], w[1]);
		if (len[1] >= sizeof(tok) || dnsmsg_parse_type(tok, &q->type)) {
			cf_err(p, line, "bad query type '%.*s'", (int)len[1],
			       w[1]);
			return -EINVAL;
		}
	}
	if (n == 3) {
		snprintf(tok, sizeof(tok), "%.*s", (int)len[2], w[2]);
		if (len[2] >= sizeof(tok) ||
		    dnsmsg_parse_class(tok, &q->class)) {
			cf_err(p, line, "bad query class '%.*s'", (int)len[2],
			       w[2]);
			return -EINVAL;
		}
	}
	q->name = cf_dup_name(p, w[0], len[0]);
	if (!q->name)
		return -ENOMEM;
	if (dnsmsg_check_name(q->name)) {
		cf_err(p, line, "bad query name '%.*s'", (int)len[0], w[0]);
		free(q->name);
		q->name = NULL;
		return -EINVAL;
	}
	return 0;
}

void cf_parse_query_key(struct cf_parser *p, const struct cf_key *k,
                        const char *val, void *field)
{
	struct conf_target *t = &p->conf->targets[p->target];
	struct conf_query q;

	(void)k, (void)field;
	if (cf_parse_query(p, p->lineno, val, &q))
		return;
	for (size_t i = 0; i < t->n_queries; i++) {
		if (cf_same_query(&t->queries[i], &q)) {
			cf_err(p, p->lineno,
			       "duplicate query '%s' (first on line %d)", val,
			       t->queries[i].line);
			free(q.name);
			return;
		}
	}
	if (cf_grow(p, (void **)&t->queries, t->n_queries, sizeof(q))) {
		free(q.name);
		return;
	}
	t->queries[t->n_queries++] = q;
}
