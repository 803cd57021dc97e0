/*
 * Unit tests for src/lineproto.c: tables of hostile strings for each kind of
 * token with the exact bytes expected on the line, each line also parsed
 * back (tests/unit/lineproto_parse.h) to the value InfluxDB would store.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lineproto.h"
#include "lineproto_parse.h"

#define FFFD "\xef\xbf\xbd"
#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* A run of C repeated N times, in a static pool (tests only). */
static const char *rep(char c, size_t n)
{
	static char pool[32][4096]; /* more than any one test uses */
	static unsigned next;
	char *p = pool[next++ % 32];

	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static char *cat(const char *a, const char *b)
{
	static char pool[32][4096]; /* more than any one test uses */
	static unsigned next;
	char *p = pool[next++ % 32];

	snprintf(p, 4096, "%s%s", a, b);
	return p;
}

/* ---- lineproto_sanitize ---- */

struct sanitize_case {
	const char *name;
	const uint8_t *in;
	size_t len;
	size_t max;
	const char *want;
};

static void test_sanitize(void **state)
{
	(void)state;
	const struct sanitize_case cases[] = {
	    {"ascii", S("ARN1"), 64, "ARN1"},
	    {"NUL", S("a\0b"), 64, "a" FFFD "b"},
	    {"CR LF", S("a\r\nb"), 64, "a" FFFD FFFD "b"},
	    {"tab", S("\t"), 64, FFFD},
	    {"ESC sequence", S("\x1b[31mred\x1b[0m"), 64,
	     FFFD "[31mred" FFFD "[0m"},
	    {"DEL", S("\x7f"), 64, FFFD},
	    {"C1 NEL is one char", S("\xc2\x85"), 64, FFFD},
	    {"C1 last", S("\xc2\x9f"), 64, FFFD},
	    {"NBSP kept", S("\xc2\xa0"), 64, "\xc2\xa0"},
	    {"multibyte kept", S("Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9d\x84\x9e"),
	     64, "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9d\x84\x9e"},
	    {"lone continuation", S("\x80"), 64, FFFD},
	    {"FF", S("\xff\xfe"), 64, FFFD FFFD},
	    {"truncated 2-byte at end", S("a\xc3"), 64, "a" FFFD},
	    {"truncated 2-byte then ascii", S("\xc3("), 64, FFFD "("},
	    {"truncated 4-byte is one subpart", S("\xf0\x9f\x98!"), 64,
	     FFFD "!"},
	    {"overlong slash", S("\xc0\xaf"), 64, FFFD FFFD},
	    {"overlong 3-byte", S("\xe0\x80\xaf"), 64, FFFD FFFD FFFD},
	    {"overlong 4-byte", S("\xf0\x80\x80\xaf"), 64, FFFD FFFD FFFD FFFD},
	    {"surrogate", S("\xed\xa0\x80"), 64, FFFD FFFD FFFD},
	    {"above U+10FFFF", S("\xf4\x90\x80\x80"), 64, FFFD FFFD FFFD FFFD},
	    {"U+10FFFF kept", S("\xf4\x8f\xbf\xbf"), 64, "\xf4\x8f\xbf\xbf"},
	    {"cut at max", (const uint8_t *)rep('x', 300), 300, 64,
	     rep('x', 64)},
	    {"cut before multibyte",
	     (const uint8_t *)cat(rep('x', 63), "\xc3\xa9"), 65, 64,
	     rep('x', 63)},
	    {"multibyte fits exactly",
	     (const uint8_t *)cat(rep('x', 62), "\xc3\xa9"), 64, 64,
	     cat(rep('x', 62), "\xc3\xa9")},
	    {"cut before replacement", (const uint8_t *)cat(rep('x', 62), "\n"),
	     63, 64, rep('x', 62)},
	    {"empty", (const uint8_t *)"", 0, 64, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sanitize_case *c = &cases[i];
		char out[4096];
		size_t n =
		    lineproto_sanitize(out, sizeof(out), c->in, c->len, c->max);
		if (n != strlen(c->want) || memcmp(out, c->want, n) != 0)
			fail_msg("sanitize case '%s': got '%s' (%zu bytes)",
			         c->name, out, n);
		assert_int_equal(out[n], '\0');
	}
}

static void test_sanitize_small_dst(void **state)
{
	(void)state;
	char out[4] = "zzz";

	/* 3 bytes of room: "ab" + a 2-byte char would not fit */
	assert_int_equal(
	    lineproto_sanitize(out, sizeof(out), S("ab\xc3\xa9"), 64), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(lineproto_sanitize(out, 0, S("ab"), 64), 0);
	assert_string_equal(out, "ab"); /* untouched */
	assert_int_equal(lineproto_sanitize(out, 1, S("ab"), 64), 0);
	assert_string_equal(out, "");
}

/* ---- tokens on a line ---- */

enum where {
	UNTRUSTED_TAG,
	TRUSTED_TAG,
	STRING_FIELD,
	FIELD_KEY,
	TAG_KEY,
	MEASUREMENT
};

struct token_case {
	const char *name;
	enum where where;
	const uint8_t *in;
	size_t len;
	const char *line;  /* the whole line expected */
	const char *value; /* what InfluxDB stores; NULL: token left out */
};

/* Write the line for C: measurement m, one token, field f=1i, time 7. */
static void write_case(struct lineproto *lp, const struct token_case *c)
{
	char z[4096];

	/* trusted strings are C strings: copy the bytes NUL-terminated */
	snprintf(z, sizeof(z), "%.*s", (int)c->len, (const char *)c->in);
	lineproto_begin(lp, c->where == MEASUREMENT ? z : "m");
	switch (c->where) {
	case UNTRUSTED_TAG:
		lineproto_tag_untrusted(lp, "k", c->in, c->len);
		break;
	case TRUSTED_TAG:
		lineproto_tag(lp, "k", z);
		break;
	case TAG_KEY:
		lineproto_tag(lp, z, "v");
		break;
	case STRING_FIELD:
		lineproto_field_string(lp, "s", c->in, c->len);
		break;
	case FIELD_KEY:
		lineproto_field_int(lp, z, 2);
		break;
	case MEASUREMENT:
		break;
	}
	lineproto_field_int(lp, "f", 1);
	assert_int_equal(lineproto_end(lp, 7), 0);
}

static void check_round_trip(const struct token_case *c, const char *line)
{
	struct lpp_line l;

	if (lpp_parse(&l, line, strlen(line)) != 0)
		fail_msg("case '%s': line does not parse (%s): %s", c->name,
		         l.why, line);
	assert_int_equal(l.timestamp, 7);
	const struct lpp_pair *f = lpp_find(l.fields, l.n_fields, "f");
	assert_non_null(f);
	assert_int_equal(f->i, 1);
	const char *got = NULL;
	size_t want_tags = 0, want_fields = 1;
	switch (c->where) {
	case UNTRUSTED_TAG:
	case TRUSTED_TAG:
		want_tags = c->value != NULL;
		if (l.n_tags)
			got = l.tags[0].value;
		break;
	case TAG_KEY:
		want_tags = c->value != NULL;
		if (l.n_tags)
			got = l.tags[0].key;
		break;
	case STRING_FIELD:
		want_fields = 2;
		got = l.fields[0].value;
		assert_int_equal(l.fields[0].type, 's');
		break;
	case FIELD_KEY:
		want_fields = 1 + (c->value != NULL);
		if (l.n_fields == 2)
			got = l.fields[0].key;
		break;
	case MEASUREMENT:
		got = l.measurement;
		break;
	}
	if (l.n_tags != want_tags || l.n_fields != want_fields)
		fail_msg("case '%s': %zu tags, %zu fields", c->name, l.n_tags,
		         l.n_fields);
	if (c->value && (!got || strcmp(got, c->value) != 0))
		fail_msg("case '%s': stored '%s', want '%s'", c->name,
		         got ? got : "(none)", c->value);
	lpp_free(&l);
}

static void test_tokens(void **state)
{
	(void)state;
	/* 62 'x', used to put things right at the 64-byte cut */
	const char *x62 = rep('x', 62), *x63 = rep('x', 63);
	char *buf[8];
	for (size_t i = 0; i < 8; i++)
		buf[i] = calloc(1, 8192);
	assert_non_null(buf[7]);
	/* 300 commas: cut to 64, each escaped */
	size_t at = (size_t)snprintf(buf[0], 8192, "m,k=");
	for (int i = 0; i < 64; i++)
		at += (size_t)snprintf(buf[0] + at, 8192 - at, "\\,");
	snprintf(buf[0] + at, 8192 - at, " f=1i 7\n");
	snprintf(buf[1], 8192, "m,k=%s f=1i 7\n", rep('x', 64));
	snprintf(buf[2], 8192, "m s=\"%s\",f=1i 7\n", rep('y', 1024));
	snprintf(buf[3], 8192, "m,k=%s f=1i 7\n", x63);
	snprintf(buf[4], 8192, "m,k=%s f=1i 7\n", x62);
	snprintf(buf[5], 8192, "m,k=%s\xc3\xa9 f=1i 7\n", x62);
	snprintf(buf[6], 8192, "m,k=%s" FFFD " f=1i 7\n", rep('x', 61));

	const struct token_case cases[] = {
	    /* untrusted tag values */
	    {"plain", UNTRUSTED_TAG, S("ARN1"), "m,k=ARN1 f=1i 7\n", "ARN1"},
	    {"space", UNTRUSTED_TAG, S("a b"), "m,k=a\\ b f=1i 7\n", "a b"},
	    {"comma", UNTRUSTED_TAG, S("a,b"), "m,k=a\\,b f=1i 7\n", "a,b"},
	    {"equals", UNTRUSTED_TAG, S("a=b"), "m,k=a\\=b f=1i 7\n", "a=b"},
	    {"injection", UNTRUSTED_TAG, S("x,evil=1 hacked=1i"),
	     "m,k=x\\,evil\\=1\\ hacked\\=1i f=1i 7\n", "x,evil=1 hacked=1i"},
	    {"quote", UNTRUSTED_TAG, S("a\"b"), "m,k=a\"b f=1i 7\n", "a\"b"},
	    {"inner backslash kept", UNTRUSTED_TAG, S("a\\b"),
	     "m,k=a\\b f=1i 7\n", "a\\b"},
	    {"trailing backslash", UNTRUSTED_TAG, S("a\\"),
	     "m,k=a" FFFD " f=1i 7\n", "a" FFFD},
	    {"only a backslash", UNTRUSTED_TAG, S("\\"),
	     "m,k=" FFFD " f=1i 7\n", FFFD},
	    {"two trailing backslashes", UNTRUSTED_TAG, S("a\\\\"),
	     "m,k=a\\" FFFD " f=1i 7\n", "a\\" FFFD},
	    {"backslash comma", UNTRUSTED_TAG, S("a\\,b"),
	     "m,k=a" FFFD "\\,b f=1i 7\n", "a" FFFD ",b"},
	    {"backslash space", UNTRUSTED_TAG, S("a\\ b"),
	     "m,k=a" FFFD "\\ b f=1i 7\n", "a" FFFD " b"},
	    {"backslash equals", UNTRUSTED_TAG, S("a\\=b"),
	     "m,k=a" FFFD "\\=b f=1i 7\n", "a" FFFD "=b"},
	    {"backslash quote", UNTRUSTED_TAG, S("a\\\"b"),
	     "m,k=a" FFFD "\"b f=1i 7\n", "a" FFFD "\"b"},
	    {"backslash multibyte", UNTRUSTED_TAG, S("a\\\xc3\xa9"),
	     "m,k=a\\\xc3\xa9 f=1i 7\n", "a\\\xc3\xa9"},
	    {"newline", UNTRUSTED_TAG, S("a\nb"), "m,k=a" FFFD "b f=1i 7\n",
	     "a" FFFD "b"},
	    {"CR", UNTRUSTED_TAG, S("a\r"), "m,k=a" FFFD " f=1i 7\n", "a" FFFD},
	    {"NUL", UNTRUSTED_TAG, S("a\0b"), "m,k=a" FFFD "b f=1i 7\n",
	     "a" FFFD "b"},
	    {"ESC", UNTRUSTED_TAG, S("\x1b[2J"), "m,k=" FFFD "[2J f=1i 7\n",
	     FFFD "[2J"},
	    {"invalid UTF-8", UNTRUSTED_TAG, S("\xff"), "m,k=" FFFD " f=1i 7\n",
	     FFFD},
	    {"overlong space", UNTRUSTED_TAG, S("\xc0\xa0"),
	     "m,k=" FFFD FFFD " f=1i 7\n", FFFD FFFD},
	    {"surrogate", UNTRUSTED_TAG, S("\xed\xbf\xbf"),
	     "m,k=" FFFD FFFD FFFD " f=1i 7\n", FFFD FFFD FFFD},
	    {"empty is skipped", UNTRUSTED_TAG, S(""), "m f=1i 7\n", NULL},
	    {"300 bytes cut at 64", UNTRUSTED_TAG,
	     (const uint8_t *)rep('x', 300), 300, buf[1], rep('x', 64)},
	    {"300 commas cut at 64 then escaped", UNTRUSTED_TAG,
	     (const uint8_t *)rep(',', 300), 300, buf[0], rep(',', 64)},
	    {"multibyte crossing the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(x63, "\xc3\xa9"), 65, buf[3], x63},
	    {"multibyte ending at the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(x62, "\xc3\xa9z"), 65, buf[5],
	     cat(x62, "\xc3\xa9")},
	    {"replacement crossing the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(x62, "\n"), 63, buf[4], x62},
	    {"replacement ending at the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(rep('x', 61), "\nz"), 63, buf[6],
	     cat(rep('x', 61), FFFD)},
	    {"backslash made trailing by the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(x63, "\\y"), 65, buf[3], x63},
	    {"backslashes made trailing by the cut", UNTRUSTED_TAG,
	     (const uint8_t *)cat(x62, "\\\\yy"), 66, buf[4], x62},
	    /* trusted tags: same escaping, no cut */
	    {"trusted plain", TRUSTED_TAG, S("datacenter-1"),
	     "m,k=datacenter-1 f=1i 7\n", "datacenter-1"},
	    {"trusted hostile", TRUSTED_TAG, S("a b,c=d\\"),
	     "m,k=a\\ b\\,c\\=d" FFFD " f=1i 7\n", "a b,c=d" FFFD},
	    {"trusted empty skipped", TRUSTED_TAG, S(""), "m f=1i 7\n", NULL},
	    {"trusted newline", TRUSTED_TAG, S("a\n"), "m,k=a" FFFD " f=1i 7\n",
	     "a" FFFD},
	    /* tag keys */
	    {"tag key hostile", TAG_KEY, S("k ey,x="),
	     "m,k\\ ey\\,x\\==v f=1i 7\n", "k ey,x="},
	    {"tag key empty skipped", TAG_KEY, S(""), "m f=1i 7\n", NULL},
	    /* string fields */
	    {"string plain", STRING_FIELD, S("ns1.example"),
	     "m s=\"ns1.example\",f=1i 7\n", "ns1.example"},
	    {"string quotes", STRING_FIELD, S("say \"hi\""),
	     "m s=\"say \\\"hi\\\"\",f=1i 7\n", "say \"hi\""},
	    {"string trailing backslash", STRING_FIELD, S("C:\\dir\\"),
	     "m s=\"C:\\\\dir\\\\\",f=1i 7\n", "C:\\dir\\"},
	    {"string backslash quote", STRING_FIELD, S("\\\""),
	     "m s=\"\\\\\\\"\",f=1i 7\n", "\\\""},
	    {"string separators kept", STRING_FIELD, S("a,b c=d"),
	     "m s=\"a,b c=d\",f=1i 7\n", "a,b c=d"},
	    {"string injection", STRING_FIELD, S("x\" evil=1i\n"),
	     "m s=\"x\\\" evil=1i" FFFD "\",f=1i 7\n", "x\" evil=1i" FFFD},
	    {"string controls", STRING_FIELD, S("\0\r\x7f"),
	     "m s=\"" FFFD FFFD FFFD "\",f=1i 7\n", FFFD FFFD FFFD},
	    {"string empty", STRING_FIELD, S(""), "m s=\"\",f=1i 7\n", ""},
	    {"string cut at 1024", STRING_FIELD,
	     (const uint8_t *)rep('y', 2000), 2000, buf[2], rep('y', 1024)},
	    /* field keys */
	    {"field key hostile", FIELD_KEY, S("a b,c=d\\"),
	     "m a\\ b\\,c\\=d" FFFD "=2i,f=1i 7\n", "a b,c=d" FFFD},
	    {"field key empty skipped", FIELD_KEY, S(""), "m f=1i 7\n", NULL},
	    /* measurement */
	    {"measurement plain", MEASUREMENT, S("dns_anycast"),
	     "dns_anycast f=1i 7\n", "dns_anycast"},
	    {"measurement escapes", MEASUREMENT, S("dns any,cast=x"),
	     "dns\\ any\\,cast=x f=1i 7\n", "dns any,cast=x"},
	    {"measurement comment", MEASUREMENT, S("#m"), FFFD "m f=1i 7\n",
	     FFFD "m"},
	    {"measurement backslash", MEASUREMENT, S("m\\"),
	     "m" FFFD " f=1i 7\n", "m" FFFD},
	    {"measurement empty", MEASUREMENT, S(""), FFFD " f=1i 7\n", FFFD},
	};
	struct lineproto lp;

	lineproto_init(&lp);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct token_case *c = &cases[i];
		lineproto_reset(&lp);
		write_case(&lp, c);
		if (lp.len != strlen(c->line) ||
		    memcmp(lp.data, c->line, lp.len))
			fail_msg("case '%s':\n got  %s want %s", c->name,
			         lp.data, c->line);
		check_round_trip(c, lp.data);
	}
	lineproto_clear(&lp);
	for (size_t i = 0; i < 8; i++)
		free(buf[i]);
}

/* ---- numbers, bools, line structure ---- */

struct value_case {
	const char *name;
	char type; /* 'f', 'i', 'b' */
	double f;
	int64_t i;
	const char *line;
};

static void test_values(void **state)
{
	(void)state;
	const struct value_case cases[] = {
	    {"ms", 'f', 11.482, 0, "m v=11.482 1\n"},
	    {"us rounding", 'f', 11482123 / 1e6, 0, "m v=11.482 1\n"},
	    {"sub-us", 'f', 0.0004, 0, "m v=0.000 1\n"},
	    {"big", 'f', 1e6, 0, "m v=1000000.000 1\n"},
	    {"negative", 'f', -2.5, 0, "m v=-2.500 1\n"},
	    {"NaN skipped", 'f', NAN, 0, ""},
	    {"inf skipped", 'f', INFINITY, 0, ""},
	    {"int", 'i', 0, 2017011501, "m v=2017011501i 1\n"},
	    {"int zero", 'i', 0, 0, "m v=0i 1\n"},
	    {"int min", 'i', 0, INT64_MIN, "m v=-9223372036854775808i 1\n"},
	    {"int max", 'i', 0, INT64_MAX, "m v=9223372036854775807i 1\n"},
	    {"true", 'b', 0, 1, "m v=true 1\n"},
	    {"false", 'b', 0, 0, "m v=false 1\n"},
	};
	struct lineproto lp;

	lineproto_init(&lp);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct value_case *c = &cases[i];
		lineproto_reset(&lp);
		lineproto_begin(&lp, "m");
		if (c->type == 'f')
			lineproto_field_float(&lp, "v", c->f);
		else if (c->type == 'i')
			lineproto_field_int(&lp, "v", c->i);
		else
			lineproto_field_bool(&lp, "v", c->i != 0);
		assert_int_equal(lineproto_end(&lp, 1), 0);
		if (lp.len != strlen(c->line) ||
		    (lp.len && memcmp(lp.data, c->line, lp.len)))
			fail_msg("case '%s': got '%.*s' want '%s'", c->name,
			         (int)lp.len, lp.data ? lp.data : "", c->line);
		if (lp.len) {
			struct lpp_line l;
			assert_int_equal(lpp_parse(&l, lp.data, lp.len), 0);
			assert_int_equal(l.fields[0].type, c->type);
			if (c->type == 'i')
				assert_true(l.fields[0].i == c->i);
			lpp_free(&l);
		}
	}
	lineproto_clear(&lp);
}

static void test_lines(void **state)
{
	(void)state;
	struct lineproto lp;

	lineproto_init(&lp);
	/* a line without fields is dropped; the one before stays */
	lineproto_begin(&lp, "m");
	lineproto_tag(&lp, "t", "a");
	lineproto_field_int(&lp, "f", 1);
	assert_int_equal(lineproto_end(&lp, 1), 0);
	lineproto_begin(&lp, "m");
	lineproto_tag(&lp, "t", "b");
	assert_int_equal(lineproto_end(&lp, 2), 0);
	assert_string_equal(lp.data, "m,t=a f=1i 1\n");
	/* a tag after a field is ignored; several fields; negative time */
	lineproto_begin(&lp, "m");
	lineproto_field_int(&lp, "f", 1);
	lineproto_tag(&lp, "late", "x");
	lineproto_field_bool(&lp, "g", true);
	assert_int_equal(lineproto_end(&lp, -5), 0);
	assert_string_equal(lp.data, "m,t=a f=1i 1\nm f=1i,g=true -5\n");
	assert_int_equal(lp.line_start, lp.len);
	/* reset keeps the memory, empties the buffer */
	char *mem = lp.data;
	lineproto_reset(&lp);
	assert_int_equal(lp.len, 0);
	assert_ptr_equal(lp.data, mem);
	/* growth: many lines, all intact */
	for (int i = 0; i < 2000; i++) {
		lineproto_begin(&lp, "m");
		lineproto_tag_untrusted(&lp, "k", S("v\n"));
		lineproto_field_int(&lp, "i", i);
		assert_int_equal(lineproto_end(&lp, i), 0);
	}
	size_t lines = 0, off = 0;
	while (off < lp.len) {
		const char *nl = memchr(lp.data + off, '\n', lp.len - off);
		assert_non_null(nl);
		size_t n = (size_t)(nl - (lp.data + off)) + 1;
		struct lpp_line l;
		assert_int_equal(lpp_parse(&l, lp.data + off, n), 0);
		assert_int_equal(l.fields[0].i, (int64_t)lines);
		assert_string_equal(l.tags[0].value, "v" FFFD);
		lpp_free(&l);
		lines++;
		off += n;
	}
	assert_int_equal(lines, 2000);
	assert_true(lp.cap >= lp.len + 1);
	lineproto_clear(&lp);
	assert_null(lp.data);
	lineproto_clear(&lp); /* twice is fine */
	lineproto_clear(NULL);
}

/* The hand-written numbers equal snprintf's, digit for digit: put_dec at
 * the extremes, put_ms against "%.3f" of ns / 1e6 on every value near the
 * rounding midpoints (where the double may fall either side) and across
 * the range. */
static void test_numbers(void **state)
{
	(void)state;
	char got[LINEPROTO_MS_MAX + 1], want[64];
	static const int64_t decs[] = {
	    0,         1,          -1,
	    9,         10,         99,
	    100,       -100,       1234567890,
	    INT64_MAX, INT64_MIN,  INT64_MIN + 1,
	    999999999, 1000000000, 1485100800000000000};

	for (size_t i = 0; i < sizeof(decs) / sizeof(decs[0]); i++) {
		*lineproto_put_dec(got, decs[i]) = '\0';
		snprintf(want, sizeof(want), "%lld", (long long)decs[i]);
		assert_string_equal(got, want);
	}
	uint64_t x = 88172645463325252ULL; /* xorshift: many magnitudes */
	for (long i = 0; i < 200000; i++) {
		int64_t ns;

		if (i < 40000) {
			/* around midpoints: k * 1000 + 495 .. 505 */
			ns = (i / 11) * 1000 + 495 + i % 11;
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			ns = (int64_t)(x >> (1 + x % 62));
		}
		if (i % 97 == 0)
			ns = -ns;
		*lineproto_put_ms(got, ns) = '\0';
		snprintf(want, sizeof(want), "%.3f", (double)ns / 1e6);
		if (strcmp(got, want))
			fail_msg("ns %lld: got %s, want %s", (long long)ns, got,
			         want);
	}
}

/* Timestamps as snprintf writes them, whether their seconds repeat the
 * last line's (the cached part) or not. */
static void test_timestamps(void **state)
{
	(void)state;
	struct lineproto lp;
	char want[64];
	static const int64_t ts[] = {1485100800000000000,
	                             1485100800000000001,
	                             1485100800999999999,
	                             1485100801000000000,
	                             1485100801000000000,
	                             1485100801000050000,
	                             999999999,
	                             1000000000,
	                             -1,
	                             0,
	                             1485100801000000009,
	                             INT64_MAX,
	                             1485100801123456789};

	lineproto_init(&lp);
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		lineproto_reset(&lp);
		lineproto_begin(&lp, "m");
		lineproto_field_int(&lp, "f", 1);
		assert_int_equal(lineproto_end(&lp, ts[i]), 0);
		snprintf(want, sizeof(want), "m f=1i %lld\n", (long long)ts[i]);
		assert_string_equal(lp.data, want);
	}
	lineproto_clear(&lp);
}

/* The raw writers: a line from prebuilt text plus hand-written fields
 * equals the same line written token by token. */
static void test_raw(void **state)
{
	(void)state;
	struct lineproto a, b;

	lineproto_init(&a);
	lineproto_init(&b);
	lineproto_begin(&a, "m x");
	lineproto_tag(&a, "t", "a,b");
	lineproto_field_int(&a, "f", -12);
	lineproto_field_string(&a, "s", S("q\""));
	assert_int_equal(lineproto_end(&a, 7), 0);

	lineproto_begin_raw(&b, "m\\ x", 4);
	lineproto_append_raw(&b, ",t=a\\,b", 7);
	char *p = lineproto_room(&b, 32);
	assert_non_null(p);
	memcpy(p, " f=", 3);
	p = lineproto_put_dec(p + 3, -12);
	*p++ = 'i';
	lineproto_wrote(&b, p, 1);
	lineproto_append_raw(&b, ",late=1", 7); /* after a field: ignored */
	lineproto_field_string(&b, "s", S("q\""));
	assert_int_equal(lineproto_end(&b, 7), 0);
	assert_string_equal(a.data, b.data);
	lineproto_clear(&a);
	lineproto_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_timestamps),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_sanitize_small_dst),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
