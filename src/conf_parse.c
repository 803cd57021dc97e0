/*
 * conf_parse: reading the INI file. Owns the line reader handed to libinih,
 * inih's handler and [section] headers (target names in a hash set); each
 * KEY = VALUE goes to cf_set_key() (conf_keys.c). What needs the whole
 * file is conf_check.c.
 *
 * Reading lines. Debian's libinih cuts lines at 200 bytes and parses the rest
 * as a new line, gives the handler no line number, cuts section names at 50
 * bytes and reports only the first syntax error. So our reader hands inih
 * one physical line at a time, counts lines, and
 *  - reads at most CF_MAX_LINE bytes of a line and CF_MAX_FILE bytes of a
 *    file, as a stream (getc), so /dev/zero ends quickly with an error;
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
 * SOA and CLASS IN by default, and rcode=LIST anywhere after the name; a
 * trailing dot is dropped ("." stays). Tag keys may not repeat a built-in
 * tag name, a field name, nor a [tags] key. timeout is in (0, 1h],
 * interval 0 or in [100ms, 1d]. Durations may have a fraction ("0.5s").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf_impl.h"

#define LONG_KEY "@long"

/* ---- sections, lines and inih's handler ---------------------------------- */

/* Room in the name set for N targets, at most half full. */
static int names_reserve(struct cf_parser *p, size_t n)
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
		cf_nomem(p, p->lineno);
		return -ENOMEM;
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const char *name = c->targets[i].name;
		size_t slot = cf_hash(name, strlen(name)) & (cap - 1);

		while (names[slot])
			slot = (slot + 1) & (cap - 1);
		names[slot] = i + 1;
	}
	free(p->names);
	p->names = names;
	p->names_cap = cap;
	return 0;
}

static void section_begin(struct cf_parser *p, const char *name, size_t len)
{
	struct conf *c = p->conf;
	struct conf_target *t;
	const char *tn;
	size_t tlen, slot;

	while (len && cf_is_space(name[len - 1]))
		len--;
	while (len && cf_is_space(*name)) {
		name++;
		len--;
	}
	p->sec = SEC_BAD;
	if (cf_word_is(name, len, "probe")) {
		p->sec = SEC_PROBE;
		return;
	}
	if (cf_word_is(name, len, "tags")) {
		p->sec = SEC_TAGS;
		return;
	}
	if (len < 6 || strncmp(name, "target", 6) ||
	    (len > 6 && !cf_is_space(name[6]))) {
		cf_err(p, p->lineno, "unknown section [%.*s]", (int)len, name);
		return;
	}
	tn = name + 6;
	tlen = len - 6;
	while (tlen && cf_is_space(*tn)) {
		tn++;
		tlen--;
	}
	if (!tlen) {
		cf_err(p, p->lineno, "[target] needs a name: [target NAME]");
		return;
	}
	for (size_t i = 0; i < tlen; i++) {
		if ((unsigned char)tn[i] < 0x20 || tn[i] == 0x7f) {
			cf_err(p, p->lineno,
			       "target name has a control character");
			return;
		}
	}
	/* A duplicate is reported but still parsed, so that the errors in
	 * its keys are reported too. */
	if (names_reserve(p, c->n_targets + 1) < 0)
		return;
	slot = cf_hash(tn, tlen) & (p->names_cap - 1);
	for (; p->names[slot]; slot = (slot + 1) & (p->names_cap - 1)) {
		const struct conf_target *o = &c->targets[p->names[slot] - 1];

		if (cf_word_is(tn, tlen, o->name)) {
			cf_err(p, p->lineno,
			       "duplicate [target %.*s] (first on line %d)",
			       (int)tlen, tn, o->line);
			break;
		}
	}
	if (cf_grow(p, (void **)&c->targets, c->n_targets, sizeof(*t)) ||
	    cf_grow(p, (void **)&p->ts, c->n_targets, sizeof(*p->ts)))
		return;
	t = &c->targets[c->n_targets];
	t->name = cf_dup_n(p, tn, tlen);
	if (!t->name)
		return;
	if (!p->names[slot])
		p->names[slot] = c->n_targets + 1;
	t->line = p->lineno;
	cf_target_defaults(t);
	p->target = c->n_targets++;
	p->sec = SEC_TARGET;
}

/* inih's inline comment rule: ';' after white space ends the text. Stops
 * also at any of CHARS. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !(chars && strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = cf_is_space(*s);
		s++;
	}
	return s;
}

int cf_handler(void *user, const char *section, const char *name,
               const char *value)
{
	struct cf_parser *p = user;
	char *key = NULL, *val = NULL;

	(void)section; /* tracked by cf_read_line(): inih cuts it at 50 */
	if (p->long_pending && cf_streq(name, LONG_KEY)) {
		/* The line inih could not hold: split it as inih would. */
		const char *eq = find_chars_or_comment(p->text, "=:");
		const char *v = eq + 1, *end;
		size_t klen = (size_t)(eq - p->text);

		p->long_pending = false;
		while (klen && cf_is_space(p->text[klen - 1]))
			klen--;
		end = find_chars_or_comment(v, NULL);
		while (v < end && cf_is_space(*v))
			v++;
		while (end > v && cf_is_space(end[-1]))
			end--;
		key = cf_dup_n(p, p->text, klen);
		val = cf_dup_n(p, v, (size_t)(end - v));
		if (!key || !val)
			goto out;
		name = key;
		value = val;
	}
	switch (p->sec) {
	case SEC_NONE:
		cf_err(p, p->lineno, "key '%s' outside of a section", name);
		break;
	case SEC_PROBE:
		cf_set_key(p, name, value, NULL);
		break;
	case SEC_TAGS:
		cf_add_tag(p, &p->conf->tags, &p->conf->n_tags, name, value);
		break;
	case SEC_TARGET:
		cf_set_key(p, name, value, &p->conf->targets[p->target]);
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

/* One physical line into p->buf, at most CF_MAX_LINE bytes kept. Returns
 * its length (without the newline), or -1 at the end of the file or when
 * the file is over CF_MAX_FILE (then p->stop). *LONG is set when the line
 * was longer than CF_MAX_LINE (the rest was skipped). */
static long get_line(struct cf_parser *p, bool *lng)
{
	size_t n = 0;
	int ch = EOF;

	*lng = false;
	if (!p->buf && !(p->buf = malloc(CF_MAX_LINE + 1))) {
		cf_nomem(p, p->lineno);
		return -1;
	}
	while ((ch = getc_unlocked(p->in)) != EOF) {
		if (++p->bytes > CF_MAX_FILE) {
			cf_err(p, 0, "file larger than %d MiB: not read",
			       CF_MAX_FILE >> 20);
			p->stop = true;
			return -1;
		}
		if (ch == '\n')
			break;
		if (n < CF_MAX_LINE)
			p->buf[n++] = (char)ch;
		else
			*lng = true;
	}
	if (ch == EOF && ferror(p->in)) {
		cf_err(p, p->lineno + 1, "read error: %s", strerror(errno));
		return -1;
	}
	if (ch == EOF && n == 0 && !*lng)
		return -1;
	p->buf[n] = '\0';
	return (long)n;
}

/* inih's reader: one physical line per call; see the top of the file. */
char *cf_read_line(char *str, int num, void *stream)
{
	struct cf_parser *p = stream;
	bool lng;
	long n = p->stop ? -1 : get_line(p, &lng);
	char *s, *e;
	const char *end;
	size_t len;

	if (n < 0)
		return NULL;
	p->lineno++;
	p->long_pending = false;
	s = p->buf;
	if (lng) {
		cf_err(p, p->lineno, "line longer than %d KiB",
		       CF_MAX_LINE >> 10);
		return give(str, num, "", 0);
	}
	if (memchr(s, '\0', (size_t)n)) {
		cf_err(p, p->lineno, "line contains a NUL byte");
		return give(str, num, "", 0);
	}
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (cf_is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && cf_is_space(e[-1]))
		e--;
	*e = '\0';
	len = (size_t)(e - s);
	p->text = s;
	if (!*s || *s == ';' || *s == '#')
		return give(str, num, "", 0);
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end != ']') {
			cf_err(p, p->lineno, "section header without ']'");
			p->sec = SEC_BAD;
			return give(str, num, "", 0);
		}
		section_begin(p, s + 1, (size_t)(end - s - 1));
		end++;
		while (cf_is_space(*end))
			end++;
		if (*end && *end != ';')
			cf_err(p, p->lineno, "unexpected text after ']'");
		if (len < (size_t)num && end - s < 50)
			return give(str, num, s, len);
		return give(str, num, "[@long]", 7);
	}
	end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':') {
		cf_err(p, p->lineno, "expected KEY = VALUE or [section]");
		return give(str, num, "", 0);
	}
	if (len < (size_t)num)
		return give(str, num, s, len);
	p->long_pending = true;
	return give(str, num, LONG_KEY " = 1", strlen(LONG_KEY " = 1"));
}
