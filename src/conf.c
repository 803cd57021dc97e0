/*
 * conf: the public API of the configuration (conf_load, conf_adhoc,
 * conf_select, conf_free, conf_tag_reserved, conf_parse_duration) and the
 * helpers the conf*.c files share: error collection, memory, words and
 * numbers. Parsing is conf_parse.c, checks that need the whole file are
 * conf_check.c, --check-config output is conf_print.c; host names are
 * looked up by resolve.c. conf itself opens no sockets and sends nothing
 * (the source-address check binds a UDP socket through net.c and sends
 * nothing either).
 *
 * Errors are collected while reading and printed sorted by line when
 * loading ends: at most CF_MAX_ERRORS of them (the lowest lines), then one
 * "... and N more errors" line, so that a file of 5 million bad lines
 * neither floods the terminal nor keeps 5 million messages in memory.
 * An error tied to no line is printed "FILE: message".
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "dnsmsg.h"

static const char *const default_identity[] = {"hostname.bind", "id.server"};

/* Tags the output writes itself (v1 and v2), and what InfluxDB reserves. */
static const char *const reserved_tags[] = {
    "target",   "server",          "server_name", "family", "transport",
    "domain",   "record_type",     "class",       "result", "rcode",
    "instance", "instance_source", "port",        "dnssec", "reference",
    "time",     "_measurement",    "_field",      "_start", "_stop",
    "_time",    "_value",
};

/* Field names (SPEC v1 and v2): a tag of one of these names would make
 * InfluxDB store a tag and a field of one name. */
static const char *const field_names[] = {
    "query_time_ms",
    "result_code",
    "rcode_value",
    "attempts",
    "answers",
    "response_bytes",
    "aa",
    "tc",
    "nsid",
    "identity",
    "serial",
    "hop_limit",
    "connect_ms",
    "instance_changed",
    "error",
    "tls_handshake_ms",
    "tls_version",
    "tls_resumed",
    "cert_expires_in_s",
    "http_status",
    "rrsig_expires_in_s",
    "dnssec_error",
    "dnskey_tags",
    "serial_lag",
    "serial_stale_s",
    "cookie",
};

static bool in_list(const char *key, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

bool conf_field_name(const char *key)
{
	return key && in_list(key, field_names,
	                      sizeof field_names / sizeof *field_names);
}

bool conf_tag_reserved(const char *key)
{
	return key && (in_list(key, reserved_tags,
	                       sizeof reserved_tags / sizeof *reserved_tags) ||
	               conf_field_name(key));
}

/* ---- errors ------------------------------------------------------------ */

static void print_one(struct cf_parser *p, int line, const char *text)
{
	if (!p->path)
		fprintf(p->err, "anycast-probe: %s\n", text);
	else if (line > 0)
		fprintf(p->err, "%s:%d: %s\n", p->path, line, text);
	else
		fprintf(p->err, "%s: %s\n", p->path, text);
}

static void find_max(struct cf_parser *p)
{
	p->max_msg = 0;
	for (size_t i = 1; i < p->n_msgs; i++)
		if (p->msgs[i].line >= p->msgs[p->max_msg].line)
			p->max_msg = i;
}

void cf_err(struct cf_parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	struct cf_message *m;
	size_t at;
	int n;

	p->errors++;
	if (!p->err)
		return;
	/* Full: keep the lowest lines. Lines mostly grow, so this is the
	 * cheap case and nothing is formatted. */
	if (p->n_msgs == CF_MAX_ERRORS && line >= p->msgs[p->max_msg].line)
		return;
	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		print_one(p, line, "out of memory");
		return;
	}
	if (p->n_msgs == CF_MAX_ERRORS) {
		at = p->max_msg;
		free(p->msgs[at].text);
		/* Keep the order found among equal lines: the newcomer has
		 * a lower line than the one it replaces; shift it into its
		 * place after the sort (stable on line). */
	} else {
		m = realloc(p->msgs, (p->n_msgs + 1) * sizeof(*p->msgs));
		if (!m) {
			print_one(p, line, text);
			free(text);
			return;
		}
		p->msgs = m;
		at = p->n_msgs++;
	}
	p->msgs[at].line = line;
	p->msgs[at].text = text;
	if (p->n_msgs == CF_MAX_ERRORS)
		find_max(p);
}

void cf_flush(struct cf_parser *p)
{
	int shown = 0;

	/* Insertion sort: stable, and at most CF_MAX_ERRORS entries. */
	for (size_t i = 1; i < p->n_msgs; i++) {
		struct cf_message m = p->msgs[i];
		size_t j = i;

		while (j > 0 && p->msgs[j - 1].line > m.line) {
			p->msgs[j] = p->msgs[j - 1];
			j--;
		}
		p->msgs[j] = m;
	}
	for (size_t i = 0; i < p->n_msgs; i++) {
		print_one(p, p->msgs[i].line, p->msgs[i].text);
		free(p->msgs[i].text);
		shown++;
	}
	if (p->err && p->errors > shown) {
		char more[64];

		snprintf(more, sizeof(more), "... and %d more errors",
		         p->errors - shown);
		print_one(p, 0, more);
	}
	free(p->msgs);
	p->msgs = NULL;
	p->n_msgs = 0;
}

void cf_nomem(struct cf_parser *p, int line)
{
	if (!p->oom)
		cf_err(p, line, "out of memory");
	p->oom = true;
}

/* ---- memory and words -------------------------------------------------- */

char *cf_dup_n(struct cf_parser *p, const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		cf_nomem(p, p->lineno);
	return d;
}

char *cf_dup(struct cf_parser *p, const char *s)
{
	return cf_dup_n(p, s, strlen(s));
}

/* Copy NAME (LEN bytes) without a trailing dot unless it is the root. */
char *cf_dup_name(struct cf_parser *p, const char *name, size_t len)
{
	if (len > 1 && name[len - 1] == '.')
		len--;
	return cf_dup_n(p, name, len);
}

/* Make room for element N of *ARR (zeroed). Capacities go 4, 8, 16, ...,
 * so it is known from N alone and a config of 10,000 targets is not
 * copied 10,000 times. */
int cf_grow(struct cf_parser *p, void **arr, size_t n, size_t size)
{
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 4 : 2 * n;
		void *a =
		    cap > SIZE_MAX / size ? NULL : realloc(*arr, cap * size);

		if (!a) {
			cf_nomem(p, p->lineno);
			return -ENOMEM;
		}
		*arr = a;
	}
	memset((char *)*arr + n * size, 0, size);
	return 0;
}

uint64_t cf_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

bool cf_streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

bool cf_has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

bool cf_is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

/* The next word of a list separated by white space and commas. */
bool cf_next_word(const char **cur, const char **w, size_t *len)
{
	const char *s = *cur;

	while (*s && (cf_is_space(*s) || *s == ','))
		s++;
	if (!*s)
		return false;
	*w = s;
	while (*s && !cf_is_space(*s) && *s != ',')
		s++;
	*len = (size_t)(s - *w);
	*cur = s;
	return true;
}

bool cf_word_is(const char *w, size_t len, const char *lit)
{
	return strlen(lit) == len && strncmp(w, lit, len) == 0;
}

void cf_free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* ---- numbers ----------------------------------------------------------- */

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
	if (*s == '\0' || cf_streq(s, "s"))
		mult = NS_PER_S;
	else if (cf_streq(s, "ms"))
		mult = NS_PER_MS;
	else if (cf_streq(s, "m"))
		return -EINVAL; /* minutes or milli? ambiguous: refuse */
	else if (cf_streq(s, "h"))
		mult = 3600 * NS_PER_S;
	else
		return -EINVAL;
	if (whole > INT64_MAX / mult)
		return -EINVAL;
	ns = whole * mult;
	/* frac < 1e9 and mult <= 3.6e12: frac * mult / scale stays below
	 * INT64_MAX when frac < scale <= 1e9 only if done in two steps. */
	frac = mult >= scale ? frac * (mult / scale) : frac * mult / scale;
	if (ns > INT64_MAX - frac)
		return -EINVAL;
	*out_ns = ns + frac;
	return 0;
}

int cf_parse_uint(const char *text, long long min, long long max,
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

int cf_parse_bool(const char *text, bool *out)
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

/* ---- building and freeing ---------------------------------------------- */

int cf_init(struct cf_parser *p, struct conf **out)
{
	struct conf *c = calloc(1, sizeof(*c));
	size_t n = sizeof default_identity / sizeof default_identity[0];

	*out = c;
	if (!c) {
		cf_nomem(p, 0);
		return -ENOMEM;
	}
	p->conf = c;
	c->timeout_ns = CONF_DEFAULT_TIMEOUT_NS;
	c->retries = CONF_DEFAULT_RETRIES;
	c->rate = CONF_DEFAULT_RATE;
	c->edns_size = CONF_DEFAULT_EDNS_SIZE;
	c->nsid = true;
	c->cookies = true;
	c->identity_timeout_ns = CF_DEFAULT_IDENTITY_TIMEOUT_NS;
	c->measurement = cf_dup(p, CONF_DEFAULT_MEASUREMENT);
	c->identity = calloc(n, sizeof(*c->identity));
	if (!c->measurement || !c->identity) {
		cf_nomem(p, 0);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(c->identity[i] = cf_dup(p, default_identity[i])))
			return -ENOMEM;
		c->n_identity++;
	}
	return 0;
}

/* Defaults of the target-only keys. */
void cf_target_defaults(struct conf_target *t)
{
	t->port = CONF_DEFAULT_PORT;
	t->transports = CONF_UDP;
	t->families = CONF_IPV4 | CONF_IPV6;
	t->tls_verify = true;
}

static void free_tags(struct conf_tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

static void free_server(struct conf_server *s)
{
	if (s)
		free(s->name);
}

static void free_target(struct conf_target *t)
{
	free(t->name);
	for (size_t j = 0; j < t->n_servers; j++)
		free_server(&t->servers[j]);
	free(t->servers);
	for (size_t j = 0; j < t->n_hosts; j++)
		free(t->hosts[j].name);
	free(t->hosts);
	for (size_t j = 0; j < t->n_queries; j++)
		free(t->queries[j].name);
	free(t->queries);
	free_tags(t->tags, t->n_tags);
	cf_free_list(t->identity, t->n_identity);
	free(t->zone);
	free_server(t->reference);
	free(t->reference);
	free(t->trust_anchor);
	free(t->tls_name);
	free(t->tls_ca);
	free(t->https_path);
}

static void parser_clear(struct cf_parser *p)
{
	size_t n = p->conf ? p->conf->n_targets : 0;

	for (size_t i = 0; p->ts && i < n; i++) {
		struct cf_target_state *ts = &p->ts[i];

		for (size_t j = 0; j < ts->n_servers; j++)
			free(ts->servers[j].text);
		free(ts->servers);
		free(ts->tag_lines);
	}
	free(p->ts);
	p->ts = NULL;
	free(p->names);
	p->names = NULL;
	free(p->buf);
	p->buf = NULL;
}

/* Hand the conf out, or free it when anything went wrong. */
int cf_finish_conf(struct cf_parser *p, struct conf **out, int fail)
{
	if (p->oom)
		fail = -ENOMEM;
	else if (p->errors && !fail)
		fail = -EINVAL;
	parser_clear(p);
	cf_flush(p);
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
	struct cf_parser p;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err;
	p.path = path ? path : "(null)";
	if (!path) {
		cf_err(&p, 0, "no config file given");
		cf_flush(&p);
		return -EINVAL;
	}
	if (cf_init(&p, out))
		return cf_finish_conf(&p, out, -ENOMEM);
	p.conf->path = cf_dup(&p, path);
	p.in = fopen(path, "r");
	if (!p.in) {
		int e = errno;

		cf_err(&p, 0, "cannot open: %s", strerror(e));
		return cf_finish_conf(&p, out, e == ENOENT ? -ENOENT : -EINVAL);
	}
	rc = ini_parse_stream(cf_read_line, &p, cf_handler, &p);
	fclose(p.in);
	if (rc < 0)
		cf_nomem(&p, 0); /* -2: inih could not allocate */
	else if (rc > 0 && !p.errors)
		cf_err(&p, rc, "syntax error");
	if (!p.stop)
		cf_check(&p);
	return cf_finish_conf(&p, out, 0);
}

/* ---- ad hoc ------------------------------------------------------------ */

/* The command line's values as if in [probe] and one target "adhoc". */
int conf_adhoc(struct conf **out, const struct conf_adhoc *adhoc, FILE *err)
{
	static const char *const default_query[] = {". SOA IN"};
	struct cf_parser p;
	struct conf_target *t;
	struct conf *c;
	const char *const *queries;
	size_t n_queries;
	long long dport = CONF_DEFAULT_PORT;

	if (!out)
		return -EINVAL;
	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (!adhoc) {
		cf_err(&p, 0, "no ad-hoc targets given");
		cf_flush(&p);
		return -EINVAL;
	}
	if (cf_init(&p, out) ||
	    cf_grow(&p, (void **)&p.conf->targets, 0, sizeof(*t)) ||
	    cf_grow(&p, (void **)&p.ts, 0, sizeof(*p.ts)))
		return cf_finish_conf(&p, out, -ENOMEM);
	c = p.conf;
	t = &c->targets[0];
	c->n_targets = 1;
	cf_target_defaults(t);
	if (!(t->name = cf_dup(&p, "adhoc")))
		return cf_finish_conf(&p, out, -ENOMEM);
	if (adhoc->timeout)
		cf_set_key(&p, "timeout", adhoc->timeout, NULL);
	if (adhoc->retries)
		cf_set_key(&p, "retries", adhoc->retries, NULL);
	if (adhoc->interval)
		cf_set_key(&p, "interval", adhoc->interval, NULL);
	if (adhoc->no_nsid)
		c->nsid = false;
	if (adhoc->dnssec)
		c->dnssec = true;
	if (adhoc->no_identity) {
		cf_free_list(c->identity, c->n_identity);
		c->identity = NULL;
		c->n_identity = 0;
	}
	if (adhoc->port && cf_parse_uint(adhoc->port, 1, 65535, &dport))
		cf_err(&p, 0, "bad port '%s': want 1..65535", adhoc->port);
	t->port = (uint16_t)dport;
	if (adhoc->family == CONF_IPV4 || adhoc->family == CONF_IPV6)
		t->families = (unsigned)adhoc->family;
	if (adhoc->transport)
		cf_set_transports(&p, adhoc->transport, &t->transports);
	if (adhoc->source)
		cf_set_source(&p, 0, adhoc->source, t);

	queries = adhoc->n_queries ? adhoc->queries : default_query;
	n_queries = adhoc->n_queries ? adhoc->n_queries : 1;
	for (size_t i = 0; i < n_queries; i++) {
		struct conf_query q;

		if (cf_parse_query(&p, 0, queries[i], &q))
			continue;
		if (cf_grow(&p, (void **)&t->queries, t->n_queries,
		            sizeof(q))) {
			free(q.name);
			break;
		}
		t->queries[t->n_queries++] = q;
	}

	if (!adhoc->n_servers)
		cf_err(&p, 0, "no server given (-s ADDR[#PORT])");
	for (size_t i = 0; i < adhoc->n_servers; i++) {
		struct cf_target_state *ts = &p.ts[0];
		struct cf_server_line *sl;
		char *host;
		uint16_t port;

		if (strpbrk(adhoc->servers[i], " \t,")) {
			cf_err(&p, 0, "bad server '%s': one address per -s",
			       adhoc->servers[i]);
			continue;
		}
		if (cf_split_server(&p, 0, adhoc->servers[i], &host, &port))
			continue;
		if (cf_grow(&p, (void **)&ts->servers, ts->n_servers,
		            sizeof(*sl))) {
			free(host);
			break;
		}
		sl = &ts->servers[ts->n_servers++];
		sl->text = host;
		sl->port = port;
	}
	cf_check(&p);
	return cf_finish_conf(&p, out, 0);
}

/* ---- selecting and freeing --------------------------------------------- */

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
			found = cf_streq(conf->targets[j].name, names[i]);
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
			keep = cf_streq(conf->targets[j].name, names[i]);
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
	cf_free_list(conf->identity, conf->n_identity);
	free(conf->measurement);
	free(conf->instance_map_re);
	free(conf->instance_map_repl);
	free(conf->path);
	free(conf);
}
