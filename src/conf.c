/*
 * conf: the probe's configuration. Reads the INI file through libinih (or
 * builds the ad-hoc config from -s/-q/-t), checks every value once, resolves
 * host names into addresses, and prints the effective configuration. It
 * opens no sockets and builds no DNS messages: names, types and classes are
 * checked with dnsmsg's helpers, host names go to getaddrinfo().
 *
 * Reading lines. Debian's libinih cuts lines at 200 bytes and parses the rest
 * as a new line, gives the handler no line number, cuts section names at 50
 * bytes and reports only the first syntax error. So our reader (read_line)
 * hands inih one physical line at a time, counts lines, and
 *  - strips leading white space first, so inih never sees a continuation
 *    line: indentation is ignored and multi-line values are not supported;
 *  - reports a line that is not blank, a comment, a [section] or KEY = VALUE
 *    itself (with its own line number) and hands inih an empty line instead;
 *  - parses [section] headers itself (inih never calls the handler for them);
 *  - hands inih the placeholder "@long = 1" when a KEY = VALUE line does not
 *    fit inih's buffer; the handler then splits the real line itself, the
 *    way inih does (first '=' or ':', " ;" starts an inline comment).
 *
 * Choices where SPEC.md is silent: a query is NAME [TYPE [CLASS]] with TYPE
 * SOA and CLASS IN by default; a trailing dot is dropped ("." stays). The
 * `family` key only filters host-name expansion; a literal address is always
 * used. Defaults: transport udp, family ipv4 ipv6, nsid yes (effective only
 * when edns_size > 0), identity "hostname.bind id.server". Tag keys may not
 * repeat a built-in tag name nor a [tags] key. timeout is in (0, 1h],
 * interval in [0, 1d]. Durations may have a fraction ("0.5s"). Host names
 * are looked up once with AF_UNSPEC (AI_ADDRCONFIG off) and filtered by
 * `family`; equal addresses in a target are kept once. Errors are collected
 * and printed sorted by line when loading ends.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "dnsmsg.h"
#include "net.h"

#define NS_PER_S NS_PER_SEC
#define MAX_TIMEOUT_NS (3600 * NS_PER_S)
#define MAX_INTERVAL_NS (86400 * NS_PER_S)
#define MIN_INTERVAL_NS (100 * NS_PER_MS)
#define DEFAULT_IDENTITY_TIMEOUT_NS (1 * NS_PER_S)
#define MAX_RETRIES 10
#define MAX_RATE 1000000
#define LONG_KEY "@long"

int (*conf_resolver)(const char *node, const char *service,
                     const struct addrinfo *hints,
                     struct addrinfo **res) = getaddrinfo;

static const char *const default_identity[] = {"hostname.bind", "id.server"};

/* Tags the output writes itself, and what InfluxDB reserves. */
static const char *const reserved_tags[] = {
    "target",   "server",          "server_name", "family",       "transport",
    "domain",   "record_type",     "class",       "result",       "rcode",
    "instance", "instance_source", "time",        "_measurement", "_field",
    "_start",   "_stop",           "_time",       "_value",
};

bool conf_tag_reserved(const char *key)
{
	for (size_t i = 0; i < sizeof reserved_tags / sizeof reserved_tags[0];
	     i++)
		if (strcmp(key, reserved_tags[i]) == 0)
			return true;
	return false;
}

enum section { SEC_NONE, SEC_PROBE, SEC_TAGS, SEC_TARGET, SEC_BAD };

struct pending_server {
	char *text;
	int line;
};

/* What a [target] said beyond struct conf_target: key lines (0 = not set),
 * overrides, and servers still to be resolved once port/family are known. */
struct target_state {
	int server_line, query_line, port_line, transport_line, family_line;
	int timeout_line, retries_line, nsid_line, identity_line, edns_line;
	int64_t timeout_ns;
	unsigned retries;
	bool nsid;
	uint16_t edns_size;
	char **identity;
	size_t n_identity;
	struct pending_server *servers;
	size_t n_servers;
	int *tag_lines; /* parallel to conf_target.tags */
};

struct probe_state {
	int timeout_line, retries_line, interval_line, rate_line, edns_line;
	int nsid_line, identity_line, measurement_line, self_metrics_line;
};

/* An error message, kept to print all of them sorted by line. */
struct message {
	int line;
	char *text;
};

struct parser {
	const char *path; /* NULL in ad-hoc mode */
	FILE *err;
	FILE *in;
	int errors;
	struct message *msgs;
	size_t n_msgs;
	bool oom;
	int lineno;
	char *buf; /* getline() buffer: the current physical line */
	size_t cap;
	const char *text; /* the current line, white space stripped */
	bool long_pending;
	enum section sec;
	size_t target; /* index in conf->targets while sec == SEC_TARGET */
	struct conf *conf;
	struct target_state *ts; /* parallel to conf->targets */
	size_t *names;    /* hash set of target names: index + 1, 0 empty */
	size_t names_cap; /* a power of two, at least twice the targets */
	struct probe_state ps;
};

__attribute__((format(printf, 3, 4))) static void
perr(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	struct message *m;
	int n;

	p->errors++;
	if (!p->err)
		return;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	m = n < 0 ? NULL : realloc(p->msgs, (p->n_msgs + 1) * sizeof(*p->msgs));
	if (!m) { /* no memory: print it now, unsorted */
		free(n < 0 ? NULL : text);
		if (p->path)
			fprintf(p->err, "%s:%d: ", p->path, line);
		fputs(p->path ? "out of memory\n"
		              : "anycast-probe: out of memory\n",
		      p->err);
		return;
	}
	p->msgs = m;
	p->msgs[p->n_msgs].line = line;
	p->msgs[p->n_msgs++].text = text;
}

/* Print the errors sorted by line, in the order found within a line. */
static void flush_messages(struct parser *p)
{
	/* Insertion sort: stable, and error lists are short. */
	for (size_t i = 1; i < p->n_msgs; i++) {
		struct message m = p->msgs[i];
		size_t j = i;

		while (j > 0 && p->msgs[j - 1].line > m.line) {
			p->msgs[j] = p->msgs[j - 1];
			j--;
		}
		p->msgs[j] = m;
	}
	for (size_t i = 0; i < p->n_msgs; i++) {
		if (p->path)
			fprintf(p->err, "%s:%d: %s\n", p->path, p->msgs[i].line,
			        p->msgs[i].text);
		else
			fprintf(p->err, "anycast-probe: %s\n", p->msgs[i].text);
		free(p->msgs[i].text);
	}
	free(p->msgs);
	p->msgs = NULL;
	p->n_msgs = 0;
}

static void nomem(struct parser *p, int line)
{
	if (!p->oom)
		perr(p, line, "out of memory");
	p->oom = true;
}

static char *dup_n(struct parser *p, const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		nomem(p, p->lineno);
	return d;
}

static char *dup_s(struct parser *p, const char *s)
{
	return dup_n(p, s, strlen(s));
}

/* Make room for one more element of SIZE bytes in *ARR holding N. */
/* Make room for element N of *ARR (zeroed). Capacities go 4, 8, 16, ...,
 * so it is known from N alone and a config of 10,000 targets is not
 * copied 10,000 times. */
static int grow(struct parser *p, void **arr, size_t n, size_t size)
{
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 4 : 2 * n;
		void *a =
		    cap > SIZE_MAX / size ? NULL : realloc(*arr, cap * size);

		if (!a) {
			nomem(p, p->lineno);
			return -ENOMEM;
		}
		*arr = a;
	}
	memset((char *)*arr + n * size, 0, size);
	return 0;
}

static uint64_t hash_name(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

/* The next word of a list separated by white space and commas. */
static bool next_word(const char **cur, const char **w, size_t *len)
{
	const char *s = *cur;

	while (*s && (is_space(*s) || *s == ','))
		s++;
	if (!*s)
		return false;
	*w = s;
	while (*s && !is_space(*s) && *s != ',')
		s++;
	*len = (size_t)(s - *w);
	*cur = s;
	return true;
}

static bool word_is(const char *w, size_t len, const char *lit)
{
	return strlen(lit) == len && strncmp(w, lit, len) == 0;
}

/* ---- values ---------------------------------------------------------- */

int conf_parse_duration(const char *text, int64_t *out_ns)
{
	const char *s = text;
	int64_t whole = 0, frac = 0, scale = 1, mult, ns;

	if (!text || !out_ns || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		if (whole > (INT64_MAX - 9) / 10)
			return -EINVAL;
		whole = whole * 10 + (*s - '0');
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		for (; isdigit((unsigned char)*s); s++) {
			if (scale >= NS_PER_S) /* finer than a nanosecond */
				return -EINVAL;
			frac = frac * 10 + (*s - '0');
			scale *= 10;
		}
	}
	if (*s == '\0' || streq(s, "s"))
		mult = NS_PER_S;
	else if (streq(s, "ms"))
		mult = NS_PER_MS;
	else
		return -EINVAL;
	if (whole > INT64_MAX / mult)
		return -EINVAL;
	ns = whole * mult;
	/* frac < 1e9 and mult <= 1e9: the product fits in int64_t. */
	frac = frac * mult / scale;
	if (ns > INT64_MAX - frac)
		return -EINVAL;
	*out_ns = ns + frac;
	return 0;
}

static int parse_uint(const char *text, long long min, long long max,
                      long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcasecmp(text, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Record that KEY is set on this line; false (and an error) when it was
 * set before in the same section. */
static bool once(struct parser *p, int *line, const char *key)
{
	if (*line) {
		perr(p, p->lineno, "duplicate key '%s' (first set on line %d)",
		     key, *line);
		return false;
	}
	*line = p->lineno;
	return true;
}

static void set_timeout(struct parser *p, const char *val, int64_t *out)
{
	int64_t ns;

	if (conf_parse_duration(val, &ns) || ns <= 0 || ns > MAX_TIMEOUT_NS)
		perr(p, p->lineno,
		     "bad timeout '%s': want a duration like 2s or 1500ms, "
		     "more than 0 and at most 1h",
		     val);
	else
		*out = ns;
}

static void set_interval(struct parser *p, const char *val, int64_t *out)
{
	int64_t ns;

	if (conf_parse_duration(val, &ns) || ns > MAX_INTERVAL_NS ||
	    (ns > 0 && ns < MIN_INTERVAL_NS))
		perr(p, p->lineno,
		     "bad interval '%s': want 0 or a duration like 10s, "
		     "at least 100ms and at most 1d",
		     val);
	else
		*out = ns;
}

static void set_retries(struct parser *p, const char *val, unsigned *out)
{
	long long v;

	if (parse_uint(val, 0, MAX_RETRIES, &v))
		perr(p, p->lineno, "bad retries '%s': want 0..%d", val,
		     MAX_RETRIES);
	else
		*out = (unsigned)v;
}

static void set_edns(struct parser *p, const char *val, uint16_t *out)
{
	long long v;

	if (parse_uint(val, 0, 65535, &v) || (v > 0 && v < 512))
		perr(p, p->lineno,
		     "bad edns_size '%s': want 0 (no EDNS) or 512..65535", val);
	else
		*out = (uint16_t)v;
}

static void set_bool(struct parser *p, const char *key, const char *val,
                     bool *out)
{
	if (parse_bool(val, out))
		perr(p, p->lineno, "bad %s '%s': want yes or no", key, val);
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Copy NAME (LEN bytes) without a trailing dot unless it is the root. */
static char *dup_name(struct parser *p, const char *name, size_t len)
{
	if (len > 1 && name[len - 1] == '.')
		len--;
	return dup_n(p, name, len);
}

/* "hostname.bind id.server" -> list; "" -> empty list. */
static void set_identity(struct parser *p, const char *val, char ***list,
                         size_t *n)
{
	char **l = NULL;
	size_t k = 0;
	const char *cur = val, *w;
	size_t len;
	bool bad = false;

	while (next_word(&cur, &w, &len)) {
		char *name = dup_name(p, w, len);

		if (!name || grow(p, (void **)&l, k, sizeof(*l))) {
			free(name);
			bad = true;
			break;
		}
		l[k++] = name;
		if (dnsmsg_check_name(name)) {
			perr(p, p->lineno, "bad identity name '%s'", name);
			bad = true;
			continue;
		}
		for (size_t i = 0; i + 1 < k; i++) {
			if (!strcasecmp(l[i], name)) {
				perr(p, p->lineno,
				     "identity name '%s' listed twice", name);
				bad = true;
			}
		}
	}
	if (bad) {
		free_list(l, k);
		return;
	}
	free_list(*list, *n);
	*list = l;
	*n = k;
}

static void set_transports(struct parser *p, const char *val, unsigned *out)
{
	const char *cur = val, *w;
	size_t len;
	unsigned mask = 0;

	while (next_word(&cur, &w, &len)) {
		if (word_is(w, len, "udp")) {
			mask |= CONF_UDP;
		} else if (word_is(w, len, "tcp")) {
			mask |= CONF_TCP;
		} else {
			perr(p, p->lineno,
			     "bad transport '%.*s': want udp and/or tcp",
			     (int)len, w);
			return;
		}
	}
	if (!mask)
		perr(p, p->lineno, "empty transport: want udp and/or tcp");
	else
		*out = mask;
}

static void set_families(struct parser *p, const char *val, unsigned *out)
{
	const char *cur = val, *w;
	size_t len;
	unsigned mask = 0;

	while (next_word(&cur, &w, &len)) {
		if (word_is(w, len, "ipv4")) {
			mask |= CONF_IPV4;
		} else if (word_is(w, len, "ipv6")) {
			mask |= CONF_IPV6;
		} else {
			perr(p, p->lineno,
			     "bad family '%.*s': want ipv4 and/or ipv6",
			     (int)len, w);
			return;
		}
	}
	if (!mask)
		perr(p, p->lineno, "empty family: want ipv4 and/or ipv6");
	else
		*out = mask;
}

/* "NAME [TYPE [CLASS]]" -> Q (Q->name allocated). Returns 0 or -EINVAL. */
static int parse_query(struct parser *p, int line, const char *text,
                       struct conf_query *q)
{
	const char *cur = text, *w[4];
	size_t len[4], n = 0;
	char tok[32];

	while (n < 4 && next_word(&cur, &w[n], &len[n]))
		n++;
	if (n == 0 || n > 3) {
		perr(p, line, "bad query '%s': want NAME [TYPE [CLASS]]", text);
		return -EINVAL;
	}
	*q = (struct conf_query){.type = DNSMSG_TYPE_SOA,
	                         .class = DNSMSG_CLASS_IN,
	                         .expect_rcodes = 1,
	                         .line = line};
	if (n >= 2) {
		snprintf(tok, sizeof(tok), "%.*s", (int)len[1], w[1]);
		if (len[1] >= sizeof(tok) || dnsmsg_parse_type(tok, &q->type)) {
			perr(p, line, "bad query type '%.*s'", (int)len[1],
			     w[1]);
			return -EINVAL;
		}
	}
	if (n == 3) {
		snprintf(tok, sizeof(tok), "%.*s", (int)len[2], w[2]);
		if (len[2] >= sizeof(tok) ||
		    dnsmsg_parse_class(tok, &q->class)) {
			perr(p, line, "bad query class '%.*s'", (int)len[2],
			     w[2]);
			return -EINVAL;
		}
	}
	q->name = dup_name(p, w[0], len[0]);
	if (!q->name)
		return -ENOMEM;
	if (dnsmsg_check_name(q->name)) {
		perr(p, line, "bad query name '%.*s'", (int)len[0], w[0]);
		free(q->name);
		q->name = NULL;
		return -EINVAL;
	}
	return 0;
}

static bool same_query(const struct conf_query *a, const struct conf_query *b)
{
	return a->type == b->type && a->class == b->class &&
	       strcasecmp(a->name, b->name) == 0;
}

/* Check a tag key/value pair; KIND names it in messages. */
static bool tag_ok(struct parser *p, const char *kind, const char *key,
                   const char *val)
{
	if (!*key) {
		perr(p, p->lineno, "empty %s key", kind);
		return false;
	}
	if (has_ctrl(key)) {
		perr(p, p->lineno, "%s key has a control character", kind);
		return false;
	}
	if (conf_tag_reserved(key)) {
		perr(p, p->lineno, "%s key '%s' is a reserved tag name", kind,
		     key);
		return false;
	}
	if (!*val) {
		perr(p, p->lineno, "empty value for %s '%s'", kind, key);
		return false;
	}
	if (has_ctrl(val)) {
		perr(p, p->lineno, "value of %s '%s' has a control character",
		     kind, key);
		return false;
	}
	return true;
}

/* Append KEY=VAL to *TAGS unless KEY is there already. Returns the index
 * or -1. */
static long add_tag(struct parser *p, struct conf_tag **tags, size_t *n,
                    const char *kind, const char *key, const char *val)
{
	struct conf_tag *t;

	for (size_t i = 0; i < *n; i++) {
		if (streq((*tags)[i].key, key)) {
			perr(p, p->lineno, "duplicate %s '%s'", kind, key);
			return -1;
		}
	}
	if (grow(p, (void **)tags, *n, sizeof(**tags)))
		return -1;
	t = &(*tags)[*n];
	t->key = dup_s(p, key);
	t->value = dup_s(p, val);
	if (!t->key || !t->value) {
		free(t->key);
		free(t->value);
		return -1;
	}
	return (long)(*n)++;
}

/* ---- servers --------------------------------------------------------- */

static bool only_digits_dots(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != '.')
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
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static void add_addr(struct parser *p, struct conf_target *t,
                     const struct sockaddr *sa, uint16_t port, const char *name)
{
	struct conf_server s;
	const void *bytes;

	memset(&s, 0, sizeof(s));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&s.addr;

		memcpy(in, sa, sizeof(*in));
		in->sin_port = htons(port);
		s.addrlen = sizeof(*in);
		s.family = CONF_IPV4;
		bytes = &in->sin_addr;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s.addr;

		memcpy(in6, sa, sizeof(*in6));
		in6->sin6_port = htons(port);
		s.addrlen = sizeof(*in6);
		s.family = CONF_IPV6;
		bytes = &in6->sin6_addr;
	}
	for (size_t i = 0; i < t->n_servers; i++)
		if (t->servers[i].addrlen == s.addrlen &&
		    !memcmp(&t->servers[i].addr, &s.addr, s.addrlen))
			return; /* duplicate */
	if (!inet_ntop(sa->sa_family, bytes, s.addr_text,
	               sizeof(s.addr_text))) {
		perr(p, p->lineno, "cannot format address: %s",
		     strerror(errno));
		return;
	}
	if (name && !(s.name = dup_s(p, name)))
		return;
	if (grow(p, (void **)&t->servers, t->n_servers, sizeof(s))) {
		free(s.name);
		return;
	}
	t->servers[t->n_servers++] = s;
}

static const char *family_names(unsigned families)
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

/* Add TEXT (a literal address or a host name) to T, with PORT. Host names
 * expand to every address of FAMILIES. Errors are reported on LINE. */
static void add_server(struct parser *p, struct conf_target *t,
                       const char *text, int line, uint16_t port,
                       unsigned families)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct addrinfo hints, *res, *ai;
	size_t matched = 0;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&in6, 0, sizeof(in6));
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
		add_addr(p, t, (struct sockaddr *)&in, port, NULL);
		return;
	}
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		add_addr(p, t, (struct sockaddr *)&in6, port, NULL);
		return;
	}
	if (!*text) {
		perr(p, line, "empty server");
		return;
	}
	/* The usual ways of writing a port, with a hint to the right one. */
	if (text[0] == '[' || strchr(text, '#') || ipv4_with_port(text)) {
		perr(p, line,
		     "bad server '%s': write the address alone, IPv6 "
		     "without brackets, and %s",
		     text,
		     p->path ? "the port with 'port = N'"
		             : "the port as ADDR#PORT");
		return;
	}
	if (strchr(text, ':')) {
		perr(p, line, "bad IPv6 address '%s'", text);
		return;
	}
	if (only_digits_dots(text)) {
		perr(p, line, "bad IPv4 address '%s'", text);
		return;
	}
	if (!valid_hostname(text)) {
		perr(p, line, "bad server '%s': not an address or host name",
		     text);
		return;
	}
	/* One AF_UNSPEC look-up, filtered here: with AI_ADDRCONFIG off we
	 * want both families even on a host without IPv6. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = conf_resolver(text, NULL, &hints, &res);
	if (rc) {
		perr(p, line, "cannot resolve '%s': %s", text,
		     rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET && (families & CONF_IPV4)) ||
		    (ai->ai_family == AF_INET6 && (families & CONF_IPV6))) {
			add_addr(p, t, ai->ai_addr, port, text);
			matched++;
		}
	}
	freeaddrinfo(res);
	if (!matched)
		perr(p, line, "'%s' has no address in family %s", text,
		     family_names(families));
}

/* "ADDR [ADDR]": at most one address per family, each one this machine
 * has (a bind() test, nothing is sent). */
static void set_source(struct parser *p, int line, const char *val,
                       struct conf_target *t)
{
	const char *cur = val, *w;
	size_t len;
	struct sockaddr_storage s4, s6;
	bool any = false;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	while (next_word(&cur, &w, &len)) {
		char text[INET6_ADDRSTRLEN + 1];
		struct sockaddr_in *in = (struct sockaddr_in *)&s4;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s6;
		struct sockaddr_storage *ss;
		int rc;

		any = true;
		if (len >= sizeof(text)) {
			perr(p, line,
			     "bad source '%.*s': want an IPv4 or "
			     "IPv6 address",
			     (int)len, w);
			return;
		}
		memcpy(text, w, len);
		text[len] = '\0';
		if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
			if (s4.ss_family) {
				perr(p, line,
				     "two IPv4 source addresses: "
				     "want one per family");
				return;
			}
			s4.ss_family = AF_INET;
			ss = &s4;
		} else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
			if (s6.ss_family) {
				perr(p, line,
				     "two IPv6 source addresses: "
				     "want one per family");
				return;
			}
			if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
				perr(p, line,
				     "source '%s' is an IPv4-mapped "
				     "IPv6 address: write the IPv4 address",
				     text);
				return;
			}
			s6.ss_family = AF_INET6;
			ss = &s6;
		} else {
			perr(p, line,
			     "bad source '%s': want an IPv4 or IPv6 "
			     "address",
			     text);
			return;
		}
		rc = net_addr_is_local((struct sockaddr *)ss,
		                       ss == &s4 ? sizeof(*in) : sizeof(*in6));
		if (rc) {
			perr(p, line,
			     "source '%s' is not an address of this "
			     "machine: %s",
			     text, strerror(-rc));
			return;
		}
	}
	if (!any) {
		perr(p, line, "empty source: want an IPv4 and/or IPv6 address");
		return;
	}
	t->source4 = s4;
	t->source6 = s6;
}

/* ---- sections and keys ------------------------------------------------ */

/* Room in the name set for N targets, at most half full. */
static int names_reserve(struct parser *p, size_t n)
{
	const struct conf *c = p->conf;
	size_t cap = p->names_cap ? p->names_cap : 16;
	size_t *names;

	if (2 * n <= p->names_cap)
		return 0;
	while (2 * n > cap)
		cap *= 2;
	names = calloc(cap, sizeof(*names));
	if (!names) {
		nomem(p, p->lineno);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const char *name = c->targets[i].name;
		size_t slot = hash_name(name, strlen(name)) & (cap - 1);

		while (names[slot])
			slot = (slot + 1) & (cap - 1);
		names[slot] = i + 1;
	}
	free(p->names);
	p->names = names;
	p->names_cap = cap;
	return 0;
}

static void section_begin(struct parser *p, const char *name, size_t len)
{
	struct conf *c = p->conf;
	struct conf_target *t;
	const char *tn;
	size_t tlen;

	while (len && is_space(name[len - 1]))
		len--;
	while (len && is_space(*name)) {
		name++;
		len--;
	}
	p->sec = SEC_BAD;
	if (word_is(name, len, "probe")) {
		p->sec = SEC_PROBE;
		return;
	}
	if (word_is(name, len, "tags")) {
		p->sec = SEC_TAGS;
		return;
	}
	if (len < 6 || strncmp(name, "target", 6) ||
	    (len > 6 && !is_space(name[6]))) {
		perr(p, p->lineno, "unknown section [%.*s]", (int)len, name);
		return;
	}
	tn = name + 6;
	tlen = len - 6;
	while (tlen && is_space(*tn)) {
		tn++;
		tlen--;
	}
	if (!tlen) {
		perr(p, p->lineno, "[target] needs a name: [target NAME]");
		return;
	}
	for (size_t i = 0; i < tlen; i++) {
		if ((unsigned char)tn[i] < 0x20 || tn[i] == 0x7f) {
			perr(p, p->lineno,
			     "target name has a control character");
			return;
		}
	}
	/* A duplicate is reported but still parsed, so that the errors in
	 * its keys are reported too. */
	size_t slot;

	if (names_reserve(p, c->n_targets + 1) < 0)
		return;
	slot = hash_name(tn, tlen) & (p->names_cap - 1);
	for (; p->names[slot]; slot = (slot + 1) & (p->names_cap - 1)) {
		const struct conf_target *o = &c->targets[p->names[slot] - 1];

		if (word_is(tn, tlen, o->name)) {
			perr(p, p->lineno,
			     "duplicate [target %.*s] (first on line %d)",
			     (int)tlen, tn, o->line);
			break;
		}
	}
	if (grow(p, (void **)&c->targets, c->n_targets, sizeof(*t)) ||
	    grow(p, (void **)&p->ts, c->n_targets, sizeof(*p->ts)))
		return;
	t = &c->targets[c->n_targets];
	t->name = dup_n(p, tn, tlen);
	if (!t->name)
		return;
	if (!p->names[slot])
		p->names[slot] = c->n_targets + 1;
	t->line = p->lineno;
	t->port = CONF_DEFAULT_PORT;
	t->transports = CONF_UDP;
	t->families = CONF_IPV4 | CONF_IPV6;
	p->target = c->n_targets++;
	p->sec = SEC_TARGET;
}

static void probe_key(struct parser *p, const char *key, const char *val)
{
	struct conf *c = p->conf;
	struct probe_state *ps = &p->ps;
	long long v;

	if (streq(key, "timeout")) {
		if (once(p, &ps->timeout_line, key))
			set_timeout(p, val, &c->timeout_ns);
	} else if (streq(key, "retries")) {
		if (once(p, &ps->retries_line, key))
			set_retries(p, val, &c->retries);
	} else if (streq(key, "interval")) {
		if (once(p, &ps->interval_line, key))
			set_interval(p, val, &c->interval_ns);
	} else if (streq(key, "rate")) {
		if (!once(p, &ps->rate_line, key))
			return;
		if (parse_uint(val, 1, MAX_RATE, &v))
			perr(p, p->lineno, "bad rate '%s': want 1..%d", val,
			     MAX_RATE);
		else
			c->rate = (unsigned)v;
	} else if (streq(key, "edns_size")) {
		if (once(p, &ps->edns_line, key))
			set_edns(p, val, &c->edns_size);
	} else if (streq(key, "nsid")) {
		if (once(p, &ps->nsid_line, key))
			set_bool(p, key, val, &c->nsid);
	} else if (streq(key, "self_metrics")) {
		if (once(p, &ps->self_metrics_line, key))
			set_bool(p, key, val, &c->self_metrics);
	} else if (streq(key, "identity")) {
		if (once(p, &ps->identity_line, key))
			set_identity(p, val, &c->identity, &c->n_identity);
	} else if (streq(key, "measurement")) {
		char *m;

		if (!once(p, &ps->measurement_line, key))
			return;
		if (!*val || has_ctrl(val)) {
			perr(p, p->lineno, "bad measurement '%s'", val);
			return;
		}
		if ((m = dup_s(p, val))) {
			free(c->measurement);
			c->measurement = m;
		}
	} else {
		perr(p, p->lineno, "unknown key '%s' in [probe]", key);
	}
}

static void target_key(struct parser *p, const char *key, const char *val)
{
	struct conf_target *t = &p->conf->targets[p->target];
	struct target_state *ts = &p->ts[p->target];
	long long v;

	if (streq(key, "server")) {
		struct pending_server *s;

		if (!ts->server_line)
			ts->server_line = p->lineno;
		if (!*val) {
			perr(p, p->lineno, "empty server");
			return;
		}
		if (grow(p, (void **)&ts->servers, ts->n_servers,
		         sizeof(*ts->servers)))
			return;
		s = &ts->servers[ts->n_servers];
		s->line = p->lineno;
		if ((s->text = dup_s(p, val)))
			ts->n_servers++;
	} else if (streq(key, "query")) {
		struct conf_query q;

		if (!ts->query_line)
			ts->query_line = p->lineno;
		if (parse_query(p, p->lineno, val, &q))
			return;
		for (size_t i = 0; i < t->n_queries; i++) {
			if (same_query(&t->queries[i], &q)) {
				perr(p, p->lineno, "duplicate query '%s'", val);
				free(q.name);
				return;
			}
		}
		if (grow(p, (void **)&t->queries, t->n_queries, sizeof(q))) {
			free(q.name);
			return;
		}
		t->queries[t->n_queries++] = q;
	} else if (streq(key, "port")) {
		if (!once(p, &ts->port_line, key))
			return;
		if (parse_uint(val, 1, 65535, &v))
			perr(p, p->lineno, "bad port '%s': want 1..65535", val);
		else
			t->port = (uint16_t)v;
	} else if (streq(key, "transport")) {
		if (once(p, &ts->transport_line, key))
			set_transports(p, val, &t->transports);
	} else if (streq(key, "family")) {
		if (once(p, &ts->family_line, key))
			set_families(p, val, &t->families);
	} else if (!strncmp(key, "tag.", 4)) {
		long i;

		if (!tag_ok(p, "tag", key + 4, val))
			return;
		i = add_tag(p, &t->tags, &t->n_tags, "tag", key + 4, val);
		if (i < 0)
			return;
		if (grow(p, (void **)&ts->tag_lines, (size_t)i,
		         sizeof(*ts->tag_lines)))
			return;
		ts->tag_lines[i] = p->lineno;
	} else if (streq(key, "timeout")) {
		if (once(p, &ts->timeout_line, key))
			set_timeout(p, val, &ts->timeout_ns);
	} else if (streq(key, "retries")) {
		if (once(p, &ts->retries_line, key))
			set_retries(p, val, &ts->retries);
	} else if (streq(key, "nsid")) {
		if (once(p, &ts->nsid_line, key))
			set_bool(p, key, val, &ts->nsid);
	} else if (streq(key, "identity")) {
		if (once(p, &ts->identity_line, key))
			set_identity(p, val, &ts->identity, &ts->n_identity);
	} else if (streq(key, "edns_size")) {
		if (once(p, &ts->edns_line, key))
			set_edns(p, val, &ts->edns_size);
	} else {
		perr(p, p->lineno, "unknown key '%s' in [target %s]", key,
		     t->name);
	}
}

/* inih's inline comment rule: ';' after white space ends the text. Stops
 * also at any of CHARS. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !(chars && strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = is_space(*s);
		s++;
	}
	return s;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value)
{
	struct parser *p = user;
	char *key = NULL, *val = NULL;

	(void)section; /* tracked by read_line(): inih cuts it at 50 bytes */
	if (p->long_pending && streq(name, LONG_KEY)) {
		/* The line inih could not hold: split it as inih would. */
		const char *eq = find_chars_or_comment(p->text, "=:");
		const char *v = eq + 1, *end;
		size_t klen = (size_t)(eq - p->text);

		p->long_pending = false;
		while (klen && is_space(p->text[klen - 1]))
			klen--;
		end = find_chars_or_comment(v, NULL);
		while (v < end && is_space(*v))
			v++;
		while (end > v && is_space(end[-1]))
			end--;
		key = dup_n(p, p->text, klen);
		val = dup_n(p, v, (size_t)(end - v));
		if (!key || !val)
			goto out;
		name = key;
		value = val;
	}
	switch (p->sec) {
	case SEC_NONE:
		perr(p, p->lineno, "key '%s' outside of a section", name);
		break;
	case SEC_PROBE:
		probe_key(p, name, value);
		break;
	case SEC_TAGS:
		if (tag_ok(p, "tag", name, value))
			add_tag(p, &p->conf->tags, &p->conf->n_tags, "tag",
			        name, value);
		break;
	case SEC_TARGET:
		target_key(p, name, value);
		break;
	case SEC_BAD:
		break; /* the section header was reported */
	}
out:
	free(key);
	free(val);
	return 1; /* errors are counted in the parser, never stop inih */
}

/* Copy S (LEN bytes) into inih's buffer of NUM bytes. */
static char *give(char *str, int num, const char *s, size_t len)
{
	if (num <= 0)
		return NULL;
	if (len >= (size_t)num)
		len = (size_t)num - 1;
	memcpy(str, s, len);
	str[len] = '\0';
	return str;
}

/* inih's reader: one physical line per call; see the top of the file. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t n = getline(&p->buf, &p->cap, p->in);
	char *s, *e;
	const char *end;
	size_t len;

	if (n < 0) {
		if (ferror(p->in))
			perr(p, p->lineno + 1, "read error: %s",
			     strerror(errno));
		return NULL;
	}
	p->lineno++;
	p->long_pending = false;
	s = p->buf;
	if (memchr(s, '\0', (size_t)n)) {
		perr(p, p->lineno, "line contains a NUL byte");
		return give(str, num, "", 0);
	}
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		e--;
	*e = '\0';
	len = (size_t)(e - s);
	p->text = s;
	if (!*s || *s == ';' || *s == '#')
		return give(str, num, "", 0);
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end != ']') {
			perr(p, p->lineno, "section header without ']'");
			p->sec = SEC_BAD;
			return give(str, num, "", 0);
		}
		section_begin(p, s + 1, (size_t)(end - s - 1));
		end++;
		while (is_space(*end))
			end++;
		if (*end && *end != ';')
			perr(p, p->lineno, "unexpected text after ']'");
		if (len < (size_t)num && end - s < 50)
			return give(str, num, s, len);
		return give(str, num, "[@long]", 7);
	}
	end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':') {
		perr(p, p->lineno, "expected KEY = VALUE or [section]");
		return give(str, num, "", 0);
	}
	if (len < (size_t)num)
		return give(str, num, s, len);
	p->long_pending = true;
	return give(str, num, LONG_KEY " = 1", strlen(LONG_KEY " = 1"));
}

/* ---- building the result --------------------------------------------- */

static int conf_init(struct parser *p, struct conf **out)
{
	struct conf *c = calloc(1, sizeof(*c));
	size_t n = sizeof default_identity / sizeof default_identity[0];

	*out = c;
	if (!c) {
		nomem(p, 0);
		return -ENOMEM;
	}
	p->conf = c;
	c->timeout_ns = CONF_DEFAULT_TIMEOUT_NS;
	c->retries = CONF_DEFAULT_RETRIES;
	c->rate = CONF_DEFAULT_RATE;
	c->edns_size = CONF_DEFAULT_EDNS_SIZE;
	c->nsid = true;
	c->cookies = true;
	c->identity_timeout_ns = DEFAULT_IDENTITY_TIMEOUT_NS;
	c->measurement = dup_s(p, CONF_DEFAULT_MEASUREMENT);
	c->identity = calloc(n, sizeof(*c->identity));
	if (!c->measurement || !c->identity) {
		nomem(p, 0);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(c->identity[i] = dup_s(p, default_identity[i])))
			return -ENOMEM;
		c->n_identity++;
	}
	return 0;
}

/* Append identity queries; a configured query equal to one is marked
 * instead of being sent twice. */
static void add_identity(struct parser *p, struct conf_target *t, char **names,
                         size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct conf_query q = {.name = names[i],
		                       .type = DNSMSG_TYPE_TXT,
		                       .class = DNSMSG_CLASS_CH,
		                       .identity = true};
		bool found = false;

		for (size_t j = 0; j < t->n_queries; j++) {
			if (same_query(&t->queries[j], &q)) {
				t->queries[j].identity = true;
				found = true;
			}
		}
		if (found)
			continue;
		if (!(q.name = dup_s(p, names[i])) ||
		    grow(p, (void **)&t->queries, t->n_queries, sizeof(q))) {
			free(q.name);
			return;
		}
		t->queries[t->n_queries++] = q;
	}
}

/* Everything that needs the whole file: effective values, servers (port
 * and family may follow them), identity queries, required keys. */
static void finish(struct parser *p)
{
	struct conf *c = p->conf;

	if (!c->n_targets && !p->errors)
		perr(p, 0, "no [target NAME] section");
	for (size_t i = 0; i < c->n_targets; i++) {
		struct conf_target *t = &c->targets[i];
		struct target_state *ts = &p->ts[i];

		t->timeout_ns =
		    ts->timeout_line ? ts->timeout_ns : c->timeout_ns;
		t->retries = ts->retries_line ? ts->retries : c->retries;
		t->edns_size = ts->edns_line ? ts->edns_size : c->edns_size;
		t->nsid = (ts->nsid_line ? ts->nsid : c->nsid) && t->edns_size;
		if (!ts->server_line)
			perr(p, t->line, "[target %s] has no server", t->name);
		if (!ts->query_line)
			perr(p, t->line, "[target %s] has no query", t->name);
		for (size_t j = 0; j < ts->n_servers; j++) {
			p->lineno = ts->servers[j].line;
			add_server(p, t, ts->servers[j].text,
			           ts->servers[j].line, t->port, t->families);
		}
		if (ts->identity_line)
			add_identity(p, t, ts->identity, ts->n_identity);
		else
			add_identity(p, t, c->identity, c->n_identity);
		for (size_t j = 0; j < t->n_tags; j++) {
			for (size_t k = 0; k < c->n_tags; k++) {
				if (streq(t->tags[j].key, c->tags[k].key))
					perr(p, ts->tag_lines[j],
					     "tag.%s repeats a [tags] key",
					     t->tags[j].key);
			}
		}
	}
}

static void parser_clear(struct parser *p)
{
	size_t n = p->conf ? p->conf->n_targets : 0;

	for (size_t i = 0; p->ts && i < n; i++) {
		struct target_state *ts = &p->ts[i];

		free_list(ts->identity, ts->n_identity);
		for (size_t j = 0; j < ts->n_servers; j++)
			free(ts->servers[j].text);
		free(ts->servers);
		free(ts->tag_lines);
	}
	free(p->ts);
	free(p->names);
	free(p->buf);
}

/* Hand the conf out, or free it when anything went wrong. */
static int conf_finish(struct parser *p, struct conf **out, int fail)
{
	if (p->oom) {
		fail = -ENOMEM;
	} else if (p->errors && !fail) {
		fail = -EINVAL;
	}
	parser_clear(p);
	flush_messages(p);
	if (fail) {
		conf_free(p->conf);
		*out = NULL;
		return fail;
	}
	*out = p->conf;
	return 0;
}

int conf_load(struct conf **out, const char *path, FILE *err)
{
	struct parser p;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err;
	p.path = path ? path : "(null)";
	if (!path) {
		perr(&p, 0, "no config file given");
		flush_messages(&p);
		return -EINVAL;
	}
	if (conf_init(&p, out))
		return conf_finish(&p, out, -ENOMEM);
	p.conf->path = dup_s(&p, path);
	p.in = fopen(path, "r");
	if (!p.in) {
		int e = errno;

		perr(&p, 0, "cannot open: %s", strerror(e));
		return conf_finish(&p, out, e == ENOENT ? -ENOENT : -EINVAL);
	}
	rc = ini_parse_stream(read_line, &p, handler, &p);
	fclose(p.in);
	if (rc < 0)
		nomem(&p, 0); /* -2: inih could not allocate */
	else if (rc > 0 && !p.errors)
		perr(&p, rc, "syntax error");
	finish(&p);
	return conf_finish(&p, out, 0);
}

/* ---- ad hoc ------------------------------------------------------------ */

int conf_adhoc(struct conf **out, const struct conf_adhoc *adhoc, FILE *err)
{
	struct parser p;
	struct conf_target *t;
	struct conf *c;
	static const char *const default_query[] = {". SOA IN"};
	const char *const *queries;
	size_t n_queries;
	long long dport = CONF_DEFAULT_PORT;

	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (!adhoc) {
		perr(&p, 0, "no ad-hoc targets given");
		flush_messages(&p);
		return -EINVAL;
	}
	if (conf_init(&p, out) ||
	    grow(&p, (void **)&p.conf->targets, 0, sizeof(*t)))
		return conf_finish(&p, out, -ENOMEM);
	c = p.conf;
	t = &c->targets[0];
	c->n_targets = 1;
	if (adhoc->timeout)
		set_timeout(&p, adhoc->timeout, &c->timeout_ns);
	if (adhoc->retries)
		set_retries(&p, adhoc->retries, &c->retries);
	if (adhoc->interval)
		set_interval(&p, adhoc->interval, &c->interval_ns);
	if (adhoc->no_nsid)
		c->nsid = false;
	if (adhoc->dnssec)
		c->dnssec = true;
	if (adhoc->no_identity) {
		free_list(c->identity, c->n_identity);
		c->identity = NULL;
		c->n_identity = 0;
	}
	if (adhoc->port && parse_uint(adhoc->port, 1, 65535, &dport))
		perr(&p, 0, "bad port '%s': want 1..65535", adhoc->port);
	t->port = (uint16_t)dport;
	t->transports = CONF_UDP;
	t->families = CONF_IPV4 | CONF_IPV6;
	if (adhoc->family == CONF_IPV4 || adhoc->family == CONF_IPV6)
		t->families = (unsigned)adhoc->family;
	t->timeout_ns = c->timeout_ns;
	t->retries = c->retries;
	t->edns_size = c->edns_size;
	t->nsid = c->nsid;
	t->dnssec = c->dnssec;
	t->cookies = c->cookies;
	t->identity_timeout_ns = c->identity_timeout_ns;
	if (!(t->name = dup_s(&p, "adhoc")))
		return conf_finish(&p, out, -ENOMEM);
	if (adhoc->transport)
		set_transports(&p, adhoc->transport, &t->transports);
	if (adhoc->source)
		set_source(&p, 0, adhoc->source, t);

	queries = adhoc->n_queries ? adhoc->queries : default_query;
	n_queries = adhoc->n_queries ? adhoc->n_queries : 1;
	for (size_t i = 0; i < n_queries; i++) {
		struct conf_query q;

		if (parse_query(&p, 0, queries[i], &q))
			continue;
		if (grow(&p, (void **)&t->queries, t->n_queries, sizeof(q))) {
			free(q.name);
			break;
		}
		t->queries[t->n_queries++] = q;
	}

	if (!adhoc->n_servers)
		perr(&p, 0, "no server given (-s ADDR[#PORT])");
	for (size_t i = 0; i < adhoc->n_servers; i++) {
		const char *s = adhoc->servers[i], *hash = strrchr(s, '#');
		const char *start = s, *end;
		long long port = dport;
		char *host;
		size_t before = t->n_servers;

		/* ADDR#PORT as SPEC has it; also [IPV6], [IPV6]:PORT and
		 * IPV4:PORT, as people write them elsewhere. */
		if (s[0] == '[' && (end = strchr(s, ']')) != NULL &&
		    (end[1] == '\0' || end[1] == '#' || end[1] == ':')) {
			start = s + 1;
			hash = end[1] ? end + 1 : NULL;
		} else if (!hash && ipv4_with_port(s)) {
			hash = strchr(s, ':');
			end = hash;
		} else {
			end = hash ? hash : s + strlen(s);
		}
		if (hash && parse_uint(hash + 1, 1, 65535, &port)) {
			perr(&p, 0, "bad port in '%s': want ADDR#1..65535", s);
			continue;
		}
		host = dup_n(&p, start, (size_t)(end - start));
		if (!host)
			break;
		if (i == 0 && !adhoc->port)
			t->port = (uint16_t)port;
		add_server(&p, t, host, 0, (uint16_t)port, t->families);
		for (size_t j = before; j < t->n_servers; j++) {
			if (hash)
				t->servers[j].port = (uint16_t)port;
			if (!(t->servers[j].family & t->families)) {
				perr(&p, 0, "%s is %s, but %s was given", host,
				     t->servers[j].family == CONF_IPV4 ? "IPv4"
				                                       : "IPv6",
				     t->families == CONF_IPV4 ? "-4" : "-6");
				break;
			}
		}
		free(host);
	}
	add_identity(&p, t, c->identity, c->n_identity);
	return conf_finish(&p, out, 0);
}

/* ---- printing and freeing --------------------------------------------- */

static void print_duration(FILE *out, int64_t ns)
{
	if (ns % NS_PER_S == 0)
		fprintf(out, "%llds", (long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		fprintf(out, "%lldms", (long long)(ns / NS_PER_MS));
	else
		fprintf(out, "%lld.%06lldms", (long long)(ns / NS_PER_MS),
		        (long long)(ns % NS_PER_MS));
}

static void print_list(FILE *out, char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s", list[i]);
	fputc('\n', out);
}

static const char *yesno(bool b)
{
	return b ? "yes" : "no";
}

static void print_target(const struct conf_target *t, FILE *out)
{
	char tb[16], cb[16];

	fprintf(out, "\n[target %s]", t->name);
	if (t->line)
		fprintf(out, "\t; line %d", t->line);
	fputc('\n', out);
	for (size_t i = 0; i < t->n_servers; i++) {
		const struct conf_server *s = &t->servers[i];
		const struct sockaddr_in *in = (const void *)&s->addr;
		const struct sockaddr_in6 *in6 = (const void *)&s->addr;
		unsigned port = ntohs(s->family == CONF_IPV4 ? in->sin_port
		                                             : in6->sin6_port);

		fprintf(out, "server = %s\t; %s port %u", s->addr_text,
		        s->family == CONF_IPV4 ? "ipv4" : "ipv6", port);
		if (s->name)
			fprintf(out, " from %s", s->name);
		fputc('\n', out);
	}
	fprintf(out, "port = %u\n", (unsigned)t->port);
	fprintf(out, "transport = %s%s%s\n",
	        (t->transports & CONF_UDP) ? "udp" : "",
	        t->transports == (CONF_UDP | CONF_TCP) ? " " : "",
	        (t->transports & CONF_TCP) ? "tcp" : "");
	fprintf(out, "family = %s\n", family_names(t->families));
	/* The identity queries come from the identity line: shown as
	 * comments, so that this output loads back as the same config. */
	for (size_t i = 0; i < t->n_queries; i++) {
		const struct conf_query *q = &t->queries[i];

		fprintf(out, "%squery = %s %s %s%s\n", q->identity ? "; " : "",
		        q->name, dnsmsg_type_name(q->type, tb, sizeof(tb)),
		        dnsmsg_class_name(q->class, cb, sizeof(cb)),
		        q->identity ? " (from identity)" : "");
	}
	fputs("identity =", out);
	for (size_t i = 0; i < t->n_queries; i++)
		if (t->queries[i].identity)
			fprintf(out, " %s", t->queries[i].name);
	fputc('\n', out);
	for (size_t i = 0; i < t->n_tags; i++)
		fprintf(out, "tag.%s = %s\n", t->tags[i].key, t->tags[i].value);
	fputs("timeout = ", out);
	print_duration(out, t->timeout_ns);
	fprintf(out, "\nretries = %u\n", t->retries);
	fprintf(out, "nsid = %s\n", yesno(t->nsid));
	fprintf(out, "edns_size = %u\n", (unsigned)t->edns_size);
}

void conf_print(const struct conf *conf, FILE *out)
{
	size_t addrs = 0, per_round = 0;

	if (!conf || !out)
		return;
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];
		size_t tr = (t->transports & CONF_UDP ? 1 : 0) +
		            (t->transports & CONF_TCP ? 1 : 0);

		addrs += t->n_servers;
		per_round += t->n_servers * tr * t->n_queries;
	}
	fprintf(out, "; effective configuration of %s\n",
	        conf->path ? conf->path : "the command line");
	fprintf(out,
	        "; %zu target(s), %zu address(es), %zu queries per round\n",
	        conf->n_targets, addrs, per_round);
	fputs("\n[probe]\ntimeout = ", out);
	print_duration(out, conf->timeout_ns);
	fprintf(out, "\nretries = %u\ninterval = ", conf->retries);
	print_duration(out, conf->interval_ns);
	fprintf(out, "\nrate = %u\n", conf->rate);
	fprintf(out, "edns_size = %u\n", (unsigned)conf->edns_size);
	fprintf(out, "nsid = %s\n", yesno(conf->nsid));
	fputs("identity =", out);
	print_list(out, conf->identity, conf->n_identity);
	fprintf(out, "measurement = %s\n", conf->measurement);
	fprintf(out, "self_metrics = %s\n", yesno(conf->self_metrics));
	if (conf->n_tags) {
		fputs("\n[tags]\n", out);
		for (size_t i = 0; i < conf->n_tags; i++)
			fprintf(out, "%s = %s\n", conf->tags[i].key,
			        conf->tags[i].value);
	}
	for (size_t i = 0; i < conf->n_targets; i++)
		print_target(&conf->targets[i], out);
}

static void free_tags(struct conf_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

static void free_target(struct conf_target *t)
{
	free(t->name);
	for (size_t j = 0; j < t->n_servers; j++)
		free(t->servers[j].name);
	free(t->servers);
	for (size_t j = 0; j < t->n_queries; j++)
		free(t->queries[j].name);
	free(t->queries);
	free_tags(t->tags, t->n_tags);
}

int conf_select(struct conf *conf, const char *const *names, size_t n,
                FILE *err)
{
	size_t kept = 0;
	int bad = 0;

	if (!conf || (n && !names))
		return -EINVAL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t j = 0; j < conf->n_targets && !found; j++)
			found = streq(conf->targets[j].name, names[i]);
		if (!found) {
			if (err)
				fprintf(err, "%s: no [target %s]\n",
				        conf->path ? conf->path
				                   : "anycast-probe",
				        names[i]);
			bad = -EINVAL;
		}
	}
	if (bad)
		return bad;
	for (size_t j = 0; j < conf->n_targets; j++) {
		bool keep = false;

		for (size_t i = 0; i < n && !keep; i++)
			keep = streq(conf->targets[j].name, names[i]);
		if (keep)
			conf->targets[kept++] = conf->targets[j];
		else
			free_target(&conf->targets[j]);
	}
	conf->n_targets = kept;
	return 0;
}

void conf_free(struct conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->n_targets; i++)
		free_target(&conf->targets[i]);
	free(conf->targets);
	free_tags(conf->tags, conf->n_tags);
	free_list(conf->identity, conf->n_identity);
	free(conf->measurement);
	free(conf->path);
	free(conf);
}
