/*
 * conf_values: parsers and printers of config values that are not
 * addresses: the plain kinds of the key table (durations, numbers,
 * booleans), lists (identity, transport, family) and strings (measurement,
 * zone, files, tls_name, https_path, https_method, instance_map). Each
 * checks one value alone and reports "bad KEY 'VALUE': want ...".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "dnsmsg.h"
#include <regex.h>
#include <unistd.h>

/* ---- generic kinds ------------------------------------------------------ */

static void bad(struct cf_parser *p, const struct cf_key *k, const char *val)
{
	cf_err(p, p->lineno, "bad %s '%s': want %s", k->name, val, k->want);
}

void cf_parse_plain(struct cf_parser *p, const struct cf_key *k,
                    const char *val, void *field)
{
	long long v;
	int64_t ns;
	bool b;

	switch (k->kind) {
	case CF_DURATION:
		if (conf_parse_duration(val, &ns) ||
		    !((ns >= k->min && ns <= k->max) || (k->zero_ok && !ns)))
			bad(p, k, val);
		else
			*(int64_t *)field = ns;
		break;
	case CF_UINT:
	case CF_U16:
		if (cf_parse_uint(val, 0, k->max, &v) ||
		    !(v >= k->min || (k->zero_ok && v == 0)))
			bad(p, k, val);
		else if (k->kind == CF_UINT)
			*(unsigned *)field = (unsigned)v;
		else
			*(uint16_t *)field = (uint16_t)v;
		break;
	case CF_BOOL:
		if (cf_parse_bool(val, &b))
			bad(p, k, val);
		else
			*(bool *)field = b;
		break;
	case CF_CUSTOM:
		break;
	}
}

void cf_print_plain(FILE *out, const struct cf_key *k, const void *field)
{
	fprintf(out, "%s = ", k->name);
	switch (k->kind) {
	case CF_DURATION:
		cf_print_duration(out, *(const int64_t *)field);
		break;
	case CF_UINT:
		fprintf(out, "%u", *(const unsigned *)field);
		break;
	case CF_U16:
		fprintf(out, "%u", (unsigned)*(const uint16_t *)field);
		break;
	case CF_BOOL:
		fputs(*(const bool *)field ? "yes" : "no", out);
		break;
	case CF_CUSTOM:
		break;
	}
	fputc('\n', out);
}

void cf_print_string(FILE *out, const struct cf_key *k, const void *field)
{
	const char *s = *(char *const *)field;

	if (s)
		fprintf(out, "%s = %s\n", k->name, s);
}

/* ---- lists: identity, transport, family --------------------------------- */

void cf_parse_identity(struct cf_parser *p, const struct cf_key *k,
                       const char *val, void *field)
{
	char ***list = field;
	size_t *n = (size_t *)((char *)field + sizeof(char **));
	char **l = NULL;
	size_t m = 0, len;
	const char *cur = val, *w;
	bool failed = false;

	(void)k;
	while (cf_next_word(&cur, &w, &len)) {
		char *name = cf_dup_name(p, w, len);

		if (!name || cf_grow(p, (void **)&l, m, sizeof(*l))) {
			free(name);
			failed = true;
			break;
		}
		l[m++] = name;
		if (dnsmsg_check_name(name)) {
			cf_err(p, p->lineno, "bad identity name '%s'", name);
			failed = true;
			continue;
		}
		for (size_t i = 0; i + 1 < m; i++) {
			if (!strcasecmp(l[i], name)) {
				cf_err(p, p->lineno,
				       "identity name '%s' listed twice", name);
				failed = true;
			}
		}
	}
	if (failed) {
		cf_free_list(l, m);
		return;
	}
	cf_free_list(*list, *n);
	*list = l;
	*n = m;
}

void cf_inherit_identity(struct cf_parser *p, void *dst, const void *src)
{
	char **const *from = src;
	const size_t *n = (const size_t *)((const char *)src + sizeof(char **));
	char ***to = dst;
	size_t *tn = (size_t *)((char *)dst + sizeof(char **));

	*to = NULL;
	*tn = 0;
	for (size_t i = 0; i < *n; i++) {
		char *d = cf_dup(p, (*from)[i]);

		if (!d || cf_grow(p, (void **)to, *tn, sizeof(char *))) {
			free(d);
			return;
		}
		(*to)[(*tn)++] = d;
	}
}

void cf_print_identity(FILE *out, const struct cf_key *k, const void *field)
{
	char *const *list = *(char **const *)field;
	size_t n = *(const size_t *)((const char *)field + sizeof(char **));

	fprintf(out, "%s =", k->name);
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s", list[i]);
	fputc('\n', out);
}

/* A transport is usable once its row has ops (transport.c). */
static bool transport_built(size_t i)
{
	return transport_table[i].ops != NULL;
}

static void want_transports(char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < transport_count && used < size; i++) {
		int n = snprintf(
		    buf + used, size - used, "%s%s",
		    i ? (i + 1 == transport_count ? " and/or " : ", ") : "",
		    transport_table[i].name);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void cf_set_transports(struct cf_parser *p, const char *val, unsigned *out)
{
	const char *cur = val, *w;
	size_t len;
	unsigned mask = 0;
	char want[128];

	want_transports(want, sizeof(want));
	while (cf_next_word(&cur, &w, &len)) {
		int i = transport_find(w, len);

		if (i < 0) {
			cf_err(p, p->lineno, "bad transport '%.*s': want %s",
			       (int)len, w, want);
			return;
		}
		if (!transport_built((size_t)i)) {
			cf_err(p, p->lineno,
			       "transport '%.*s' is not built into this "
			       "version",
			       (int)len, w);
			return;
		}
		mask |= 1u << i;
	}
	if (!mask)
		cf_err(p, p->lineno, "empty transport: want %s", want);
	else
		*out = mask;
}

void cf_parse_transport(struct cf_parser *p, const struct cf_key *k,
                        const char *val, void *field)
{
	(void)k;
	cf_set_transports(p, val, field);
}

void cf_print_transport(FILE *out, const struct cf_key *k, const void *field)
{
	unsigned mask = *(const unsigned *)field;
	const char *sep = "";

	fprintf(out, "%s = ", k->name);
	for (size_t i = 0; i < transport_count; i++) {
		if (mask & (1u << i)) {
			fprintf(out, "%s%s", sep, transport_table[i].name);
			sep = " ";
		}
	}
	fputc('\n', out);
}

void cf_parse_family(struct cf_parser *p, const struct cf_key *k,
                     const char *val, void *field)
{
	const char *cur = val, *w;
	size_t len;
	unsigned mask = 0;

	(void)k;
	while (cf_next_word(&cur, &w, &len)) {
		if (cf_word_is(w, len, "ipv4")) {
			mask |= CONF_IPV4;
		} else if (cf_word_is(w, len, "ipv6")) {
			mask |= CONF_IPV6;
		} else {
			cf_err(p, p->lineno,
			       "bad family '%.*s': want ipv4 and/or ipv6",
			       (int)len, w);
			return;
		}
	}
	if (!mask)
		cf_err(p, p->lineno, "empty family: want ipv4 and/or ipv6");
	else
		*(unsigned *)field = mask;
}

void cf_print_family(FILE *out, const struct cf_key *k, const void *field)
{
	fprintf(out, "%s = %s\n", k->name,
	        cf_family_names(*(const unsigned *)field));
}

/* ---- strings ------------------------------------------------------------- */

static void set_string(struct cf_parser *p, char **field, const char *val)
{
	char *d = cf_dup(p, val);

	if (d) {
		free(*field);
		*field = d;
	}
}

void cf_parse_measurement(struct cf_parser *p, const struct cf_key *k,
                          const char *val, void *field)
{
	(void)k;
	if (!*val || cf_has_ctrl(val))
		cf_err(p, p->lineno, "bad measurement '%s'", val);
	else
		set_string(p, field, val);
}

void cf_parse_zone(struct cf_parser *p, const struct cf_key *k, const char *val,
                   void *field)
{
	char *name = cf_dup_name(p, val, strlen(val));

	if (!name)
		return;
	if (!*val || strpbrk(val, " \t") || dnsmsg_check_name(name)) {
		cf_err(p, p->lineno, "bad %s '%s': want a domain name", k->name,
		       val);
		free(name);
		return;
	}
	free(*(char **)field);
	*(char **)field = name;
}

/* A file the probe must read at start-up. */
void cf_parse_file(struct cf_parser *p, const struct cf_key *k, const char *val,
                   void *field)
{
	if (!*val) {
		cf_err(p, p->lineno, "empty %s: want a file name", k->name);
		return;
	}
	if (access(val, R_OK) != 0) {
		cf_err(p, p->lineno, "%s '%s' cannot be read: %s", k->name, val,
		       strerror(errno));
		return;
	}
	set_string(p, field, val);
}

void cf_parse_tls_name(struct cf_parser *p, const struct cf_key *k,
                       const char *val, void *field)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (*val && (inet_pton(AF_INET, val, &a4) == 1 ||
	             inet_pton(AF_INET6, val, &a6) == 1 ||
	             (!strpbrk(val, " \t") && !dnsmsg_check_name(val) &&
	              strcmp(val, ".") != 0))) {
		set_string(p, field, val);
		return;
	}
	cf_err(p, p->lineno, "bad %s '%s': want a host name or an address",
	       k->name, val);
}

void cf_parse_https_path(struct cf_parser *p, const struct cf_key *k,
                         const char *val, void *field)
{
	if (val[0] != '/' || cf_has_ctrl(val) || strpbrk(val, " \t#?")) {
		cf_err(p, p->lineno,
		       "bad %s '%s': want a path that starts with '/' (no "
		       "spaces, '?' or '#')",
		       k->name, val);
		return;
	}
	set_string(p, field, val);
}

void cf_parse_https_method(struct cf_parser *p, const struct cf_key *k,
                           const char *val, void *field)
{
	if (!strcasecmp(val, "post"))
		*(bool *)field = false;
	else if (!strcasecmp(val, "get"))
		*(bool *)field = true;
	else
		cf_err(p, p->lineno, "bad %s '%s': want post or get", k->name,
		       val);
}

void cf_print_https_method(FILE *out, const struct cf_key *k, const void *field)
{
	fprintf(out, "%s = %s\n", k->name,
	        *(const bool *)field ? "get" : "post");
}

/* "REGEX REPLACEMENT": the replacement is the last word. */
void cf_parse_instance_map(struct cf_parser *p, const struct cf_key *k,
                           const char *val, void *field)
{
	struct conf *c = p->conf;
	const char *sp = NULL, *repl;
	char *re_text = NULL;
	regex_t re;
	int rc;

	(void)field;
	for (const char *s = val; *s; s++)
		if (cf_is_space(*s))
			sp = s;
	if (!sp || sp == val) {
		cf_err(p, p->lineno,
		       "bad %s '%s': want REGEX REPLACEMENT (e.g. "
		       "'^([a-z]{3})[0-9]*\\..*$ \\1')",
		       k->name, val);
		return;
	}
	repl = sp + 1;
	while (sp > val && cf_is_space(sp[-1]))
		sp--;
	if (!(re_text = cf_dup_n(p, val, (size_t)(sp - val))))
		return;
	rc = regcomp(&re, re_text, REG_EXTENDED);
	if (rc) {
		char msg[128];

		regerror(rc, &re, msg, sizeof(msg));
		cf_err(p, p->lineno, "bad %s regex '%s': %s", k->name, re_text,
		       msg);
		free(re_text);
		return;
	}
	for (const char *s = repl; *s; s++) {
		if (*s != '\\')
			continue;
		if (s[1] >= '0' && s[1] <= '9' &&
		    (size_t)(s[1] - '0') > re.re_nsub) {
			cf_err(p, p->lineno,
			       "bad %s replacement '%s': \\%c but the regex "
			       "has %zu group(s)",
			       k->name, repl, s[1], re.re_nsub);
			regfree(&re);
			free(re_text);
			return;
		}
		if (s[1])
			s++;
	}
	regfree(&re);
	free(c->instance_map_re);
	free(c->instance_map_repl);
	c->instance_map_re = re_text;
	c->instance_map_repl = cf_dup(p, repl);
}

void cf_print_instance_map(FILE *out, const struct cf_key *k, const void *field)
{
	const char *const *re = field;
	const char *const *repl =
	    (const char *const *)((const char *)field + sizeof(char *));

	if (*re)
		fprintf(out, "%s = %s %s\n", k->name, *re, *repl);
}
