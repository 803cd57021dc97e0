/*
 * A small, strict InfluxDB 1.x line-protocol parser for tests: shared by
 * tests/unit/test_lineproto.c, test_report.c and tests/fuzz/fuzz_lineproto.c.
 * It is written from the InfluxDB 1.x rules (models/points.go), not from
 * src/lineproto.c, so that a round trip through it checks the writer:
 *
 *  - a '\' makes the scanner skip the next byte, whatever it is;
 *  - measurement and field keys unescape "\," "\ " "\=" "\""; tag keys and
 *    values unescape "\," "\ " "\="; any other '\' stays literal;
 *  - string fields unescape "\\" and "\"";
 *  - an unescaped '=' in a tag value, an empty key or tag value, a line
 *    starting with '#', a missing timestamp or trailing bytes are errors.
 *
 * Stricter than InfluxDB: the line must be exactly one '\n'-terminated
 * line of valid UTF-8 without control characters.
 * Header-only (static inline functions) so each test binary stays one file.
 */
#ifndef TESTS_LINEPROTO_PARSE_H
#define TESTS_LINEPROTO_PARSE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LPP_MAX 64

struct lpp_pair {
	char *key;
	char *value; /* unescaped, NUL-terminated (string fields: len bytes) */
	size_t len;
	char type; /* 't' tag; fields: 's' string, 'i' int, 'f' float, 'b' bool
	            */
	int64_t i;
	double f;
	bool b;
};

struct lpp_line {
	char *buf; /* owned copy, tokens point into it */
	char *measurement;
	struct lpp_pair tags[LPP_MAX];
	size_t n_tags;
	struct lpp_pair fields[LPP_MAX];
	size_t n_fields;
	int64_t timestamp;
	const char *why; /* what was wrong, on error */
};

static inline void lpp_free(struct lpp_line *l)
{
	free(l->buf);
	l->buf = NULL;
}

/* Valid UTF-8, no C0/DEL/C1 controls. Independent of src/lineproto.c. */
static inline bool lpp_clean_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return false;
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			need = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[need] || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp < 0xA0))
			return false;
		i += need + 1;
	}
	return true;
}

/* Scan from *I to the first unescaped byte in STOPS (or the end). */
static inline size_t lpp_scan(const char *s, size_t n, size_t *i,
                              const char *stops)
{
	size_t start = *i;

	while (*i < n) {
		if (s[*i] == '\\' && *i + 1 < n) {
			*i += 2;
			continue;
		}
		if (strchr(stops, s[*i]))
			break;
		(*i)++;
	}
	return *i - start;
}

/* Unescape S[0..N) in place: "\c" becomes c for c in CODES. */
static inline size_t lpp_unescape(char *s, size_t n, const char *codes)
{
	size_t w = 0;

	for (size_t r = 0; r < n; r++) {
		if (s[r] == '\\' && r + 1 < n && strchr(codes, s[r + 1]) &&
		    s[r + 1] != '\0')
			r++;
		s[w++] = s[r];
	}
	s[w] = '\0';
	return w;
}

static inline int lpp_fail(struct lpp_line *l, const char *why)
{
	l->why = why;
	lpp_free(l);
	return -EBADMSG;
}

/* Parse exactly one line (with its '\n') from DATA[0..LEN). */
static inline int lpp_parse(struct lpp_line *l, const char *data, size_t len)
{
	memset(l, 0, sizeof(*l));
	if (len == 0 || data[len - 1] != '\n')
		return lpp_fail(l, "no final newline");
	size_t n = len - 1;
	if (memchr(data, '\n', n))
		return lpp_fail(l, "more than one line");
	if (!lpp_clean_utf8((const unsigned char *)data, n))
		return lpp_fail(l, "control byte or invalid UTF-8");
	l->buf = malloc(n + 1);
	if (!l->buf)
		return lpp_fail(l, "out of memory");
	memcpy(l->buf, data, n);
	l->buf[n] = '\0';
	char *s = l->buf;
	size_t i = 0, k;

	if (s[0] == '#')
		return lpp_fail(l, "comment line");
	k = lpp_scan(s, n, &i, ", ");
	if (k == 0 || i >= n)
		return lpp_fail(l, "bad measurement");
	l->measurement = s;
	char sep = s[i];
	s[i] = '\0';
	lpp_unescape(s, k, ", =\"");
	while (sep == ',') {
		if (l->n_tags == LPP_MAX)
			return lpp_fail(l, "too many tags");
		struct lpp_pair *t = &l->tags[l->n_tags++];
		size_t start = ++i;
		k = lpp_scan(s, n, &i, "=, ");
		if (k == 0 || i >= n || s[i] != '=')
			return lpp_fail(l, "bad tag key");
		s[i] = '\0';
		t->key = s + start;
		lpp_unescape(t->key, k, ", =");
		start = ++i;
		k = lpp_scan(s, n, &i, "=, ");
		if (k == 0 || i >= n || s[i] == '=')
			return lpp_fail(l, "bad tag value");
		sep = s[i];
		s[i] = '\0';
		t->value = s + start;
		t->len = lpp_unescape(t->value, k, ", =");
		t->type = 't';
	}
	/* sep == ' ': fields */
	do {
		if (l->n_fields == LPP_MAX)
			return lpp_fail(l, "too many fields");
		struct lpp_pair *f = &l->fields[l->n_fields++];
		size_t start = ++i;
		k = lpp_scan(s, n, &i, "=, ");
		if (k == 0 || i >= n || s[i] != '=')
			return lpp_fail(l, "bad field key");
		s[i] = '\0';
		f->key = s + start;
		lpp_unescape(f->key, k, ", =\"");
		start = ++i;
		if (i < n && s[i] == '"') {
			start = ++i;
			k = lpp_scan(s, n, &i, "\"");
			if (i >= n)
				return lpp_fail(l, "unterminated string");
			s[i++] = '\0';
			f->value = s + start;
			/* "\\" and "\"" only; a lone '\' stays */
			size_t w = 0;
			for (size_t r = 0; r < k; r++) {
				if (f->value[r] == '\\' && r + 1 < k &&
				    (f->value[r + 1] == '\\' ||
				     f->value[r + 1] == '"'))
					r++;
				f->value[w++] = f->value[r];
			}
			f->value[w] = '\0';
			f->len = w;
			f->type = 's';
			if (i >= n || (s[i] != ',' && s[i] != ' '))
				return lpp_fail(l, "junk after string");
		} else {
			k = lpp_scan(s, n, &i, ", ");
			if (k == 0 || i >= n)
				return lpp_fail(l, "bad field value");
			f->value = s + start;
			f->len = k;
			char end = s[i];
			s[i] = '\0';
			char *e;
			if (!strcmp(f->value, "true") ||
			    !strcmp(f->value, "false")) {
				f->type = 'b';
				f->b = f->value[0] == 't';
			} else if (f->value[k - 1] == 'i') {
				errno = 0;
				f->type = 'i';
				f->i = strtoll(f->value, &e, 10);
				if (errno || e != f->value + k - 1 ||
				    e == f->value)
					return lpp_fail(l, "bad int");
			} else {
				errno = 0;
				f->type = 'f';
				f->f = strtod(f->value, &e);
				if (errno || *e || e == f->value ||
				    strchr(f->value, 'n') ||
				    strchr(f->value, 'N'))
					return lpp_fail(l, "bad float");
			}
			s[i] = end;
		}
		sep = s[i];
	} while (sep == ',');
	/* timestamp */
	size_t start = ++i;
	if (start >= n)
		return lpp_fail(l, "no timestamp");
	char *e;
	errno = 0;
	l->timestamp = strtoll(s + start, &e, 10);
	if (errno || *e || e == s + start || s[start] == '+' || s[start] == ' ')
		return lpp_fail(l, "bad timestamp");
	return 0;
}

static inline const struct lpp_pair *lpp_find(const struct lpp_pair *p,
                                              size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].key, key))
			return &p[i];
	return NULL;
}

#endif
