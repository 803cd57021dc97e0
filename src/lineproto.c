/*
 * lineproto: InfluxDB line protocol written into one growing buffer.
 *
 * Owns escaping and sanitising; knows nothing of DNS or of the SPEC's names
 * (report owns those). Every token goes through two steps:
 *
 *  1. sanitise: C0 controls (NUL, CR, LF, TAB, ESC ...), DEL, C1 controls
 *     and every ill-formed UTF-8 subpart (stray continuation bytes, overlong
 *     forms, surrogates, code points above U+10FFFF, truncated sequences)
 *     become U+FFFD, one per maximal ill-formed subpart as Unicode
 *     recommends. Valid multibyte characters are kept. The result is cut on
 *     a character boundary: untrusted tag values at LINEPROTO_TAG_MAX bytes,
 *     string fields at STRING_MAX bytes. Since no control byte survives, no
 *     token can end the line.
 *  2. escape: the measurement escapes ',' and ' '; tag keys, tag values and
 *     field keys escape ',', '=' and ' '; string fields are quoted with '"'
 *     and '\' escaped.
 *
 * InfluxDB 1.x does not unescape "\\" outside string fields, and reads a
 * '\' as escaping whatever byte follows it. So a literal backslash in a
 * name or tag value that would stand before ',', ' ', '=', '"' or at the
 * end of the token cannot be written unambiguously (checked against
 * InfluxDB 1.6: `t=a\\,u=b` is rejected, `t=a\ f=1i` swallows the space).
 * Such a backslash becomes U+FFFD as part of step 1 (within the cut); any
 * other backslash is kept as is. A measurement starting with '#' would make
 * the line a comment, so a leading '#' there becomes U+FFFD too.
 *
 * Memory: the only allocation is the buffer's amortised doubling; a token
 * is sanitised into scratch space past the end of the line and escaped
 * from there into place.
 */
#include "lineproto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a string field value after sanitising (before escaping). A TXT
 * answer is at most DNSMSG_MAX_TXT = 1024 raw bytes; an NSID in hex fits. */
#define STRING_MAX 1024

static const uint8_t REPLACEMENT[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

/* "00" .. "99": two digits per division (timestamps have 19). */
static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

enum token { TOKEN_MEASUREMENT, TOKEN_NAME, TOKEN_STRING };

void lineproto_init(struct lineproto *lp)
{
	memset(lp, 0, sizeof(*lp));
}

void lineproto_reset(struct lineproto *lp)
{
	lp->len = 0;
	lp->line_start = 0;
	lp->n_fields = 0;
	lp->error = 0;
	if (lp->data)
		lp->data[0] = '\0';
}

void lineproto_clear(struct lineproto *lp)
{
	if (!lp)
		return;
	free(lp->data);
	lineproto_init(lp);
}

/* Make room for EXTRA more bytes plus a NUL. False (and the sticky error
 * set) when that fails or an earlier allocation failed. */
static bool reserve(struct lineproto *lp, size_t extra)
{
	if (lp->error)
		return false;
	if (lp->cap > lp->len && extra < lp->cap - lp->len)
		return true;
	if (extra > SIZE_MAX / 4 - lp->len) {
		lp->error = -ENOMEM;
		return false;
	}
	size_t cap = lp->cap ? lp->cap : 256;
	while (cap - lp->len <= extra)
		cap *= 2;
	char *data = realloc(lp->data, cap);
	if (!data) {
		lp->error = -ENOMEM;
		return false;
	}
	lp->data = data;
	lp->cap = cap;
	return true;
}

static void put(struct lineproto *lp, const void *bytes, size_t n)
{
	/* the common case without a call: room enough, no error */
	if (!(lp->cap > lp->len && n < lp->cap - lp->len && !lp->error) &&
	    !reserve(lp, n))
		return;
	memcpy(lp->data + lp->len, bytes, n);
	lp->len += n;
	lp->data[lp->len] = '\0';
}

static void put_char(struct lineproto *lp, char c)
{
	put(lp, &c, 1);
}

/*
 * The character at S[0..N), N >= 1. Returns its length when it is a valid,
 * non-control character, else 0. *SKIP gets how many bytes it spans: the
 * character, or the maximal ill-formed subpart that one U+FFFD replaces.
 */
static size_t utf8_char(const uint8_t *s, size_t n, size_t *skip)
{
	uint8_t c = s[0];
	uint8_t lo = 0x80, hi = 0xBF;
	size_t need;

	*skip = 1;
	if (c < 0x80)
		return (c < 0x20 || c == 0x7F) ? 0 : 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c == 0xE0) {
		need = 2;
		lo = 0xA0; /* overlong below */
	} else if (c >= 0xE1 && c <= 0xEF) {
		need = 2;
		if (c == 0xED)
			hi = 0x9F; /* surrogates above */
	} else if (c == 0xF0) {
		need = 3;
		lo = 0x90; /* overlong below */
	} else if (c >= 0xF1 && c <= 0xF3) {
		need = 3;
	} else if (c == 0xF4) {
		need = 3;
		hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, C0, C1, F5..FF */
	}
	size_t i;
	for (i = 1; i <= need && i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			break;
		lo = 0x80;
		hi = 0xBF;
	}
	*skip = i;
	if (i <= need)
		return 0;
	if (c == 0xC2 && s[1] < 0xA0)
		return 0; /* C1 control U+0080..U+009F */
	return i;
}

/* Sanitise SRC into DST, at most MAX bytes, cut on a character boundary.
 * DST must hold min(MAX, 3 * LEN) bytes. Returns bytes written. */
static size_t sanitize(uint8_t *dst, const uint8_t *src, size_t len, size_t max)
{
	size_t out = 0, i = 0;

	while (i < len) {
		size_t skip;
		size_t n = utf8_char(src + i, len - i, &skip);
		const uint8_t *piece = n ? src + i : REPLACEMENT;
		if (!n)
			n = sizeof(REPLACEMENT);
		if (n > max - out)
			break;
		memcpy(dst + out, piece, n);
		out += n;
		i += skip;
	}
	return out;
}

size_t lineproto_sanitize(char *dst, size_t dst_size, const uint8_t *src,
                          size_t len, size_t max)
{
	if (!dst || dst_size == 0)
		return 0;
	if (!src)
		len = 0;
	if (max > dst_size - 1)
		max = dst_size - 1;
	size_t n = sanitize((uint8_t *)dst, src, len, max);
	dst[n] = '\0';
	return n;
}

/* A '\' before one of these (or at the end) would be read as an escape. */
static bool after_backslash_special(uint8_t c)
{
	return c == ',' || c == ' ' || c == '=' || c == '"';
}

static bool bad_backslash(const uint8_t *s, size_t n, size_t i)
{
	return s[i] == '\\' &&
	       (i + 1 == n || after_backslash_special(s[i + 1]));
}

/* Bytes S[0..N) take once unrepresentable backslashes (and, for the
 * measurement, a leading '#') become U+FFFD. */
static size_t fixed_len(const uint8_t *s, size_t n, enum token kind)
{
	size_t total = 0;

	for (size_t i = 0; i < n; i++) {
		bool bad = bad_backslash(s, n, i) ||
		           (kind == TOKEN_MEASUREMENT && i == 0 && s[0] == '#');
		total += bad ? sizeof(REPLACEMENT) : 1;
	}
	return total;
}

/* Start of the last character of S[0..N), N > 0 (S is valid UTF-8). */
static size_t last_char_start(const uint8_t *s, size_t n)
{
	size_t i = n - 1;

	while (i > 0 && (s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static bool needs_escape(uint8_t c, enum token kind)
{
	switch (kind) {
	case TOKEN_MEASUREMENT:
		return c == ',' || c == ' ';
	case TOKEN_NAME:
		return c == ',' || c == ' ' || c == '=';
	case TOKEN_STRING:
		return c == '"' || c == '\\';
	}
	return false;
}

/*
 * Sanitise, cut at MAX bytes, and escape SRC[0..LEN) onto the buffer.
 * Returns the sanitised length (0: nothing written, the caller skips the
 * tag or field), or 0 with lp->error set.
 */
/* True when S[0..N) goes out as it is: printable ASCII with nothing to
 * escape, replace or cut. Most tokens (our own keys, config values, ASCII
 * NSIDs) are, and skip the sanitising copy. */
static bool plain_token(const uint8_t *s, size_t n, size_t max, enum token kind)
{
	/* bit KIND of PLAIN[c]: c goes out as it is in a token of KIND (filled
	 * on first use; the probe has one thread) */
	static uint8_t plain[256];
	static bool ready;

	if (!ready) {
		for (unsigned c = 0x21; c < 0x7F; c++)
			for (unsigned k = TOKEN_MEASUREMENT; k <= TOKEN_STRING;
			     k++)
				if (c != '\\' && !needs_escape((uint8_t)c, k))
					plain[c] |= (uint8_t)(1u << k);
		ready = true;
	}
	if (n == 0 || n > max || (kind == TOKEN_MEASUREMENT && s[0] == '#'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(plain[s[i]] & (1u << kind)))
			return false;
	return true;
}

static size_t put_token(struct lineproto *lp, const uint8_t *src, size_t len,
                        size_t max, enum token kind)
{
	if (!src)
		len = 0;
	if (plain_token(src, len, max, kind)) {
		put(lp, src, len);
		return lp->error ? 0 : len;
	}
	if (len > SIZE_MAX / 16) {
		lp->error = -ENOMEM;
		return 0;
	}
	size_t bound = 3 * len < max ? 3 * len : max;
	/* Escaped output takes at most 3 bytes per sanitised byte; the
	 * sanitised copy sits after that, so escaping never overtakes it. */
	if (!reserve(lp, 4 * bound))
		return 0;
	uint8_t *out = (uint8_t *)lp->data + lp->len;
	uint8_t *tmp = out + 3 * bound;
	size_t n = sanitize(tmp, src, len, bound);

	if (kind != TOKEN_STRING) {
		/* Backslash fixing may grow the value past MAX: drop whole
		 * characters until it fits (a drop can make the backslash
		 * before it trailing, hence the loop; MAX is small when it
		 * matters). */
		while (n > 0 && fixed_len(tmp, n, kind) > max)
			n = last_char_start(tmp, n);
	}
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = tmp[i];
		if (kind != TOKEN_STRING &&
		    (bad_backslash(tmp, n, i) ||
		     (kind == TOKEN_MEASUREMENT && i == 0 && c == '#'))) {
			memcpy(out + w, REPLACEMENT, sizeof(REPLACEMENT));
			w += sizeof(REPLACEMENT);
			continue;
		}
		if (needs_escape(c, kind))
			out[w++] = '\\';
		out[w++] = c;
	}
	lp->len += w;
	lp->data[lp->len] = '\0';
	return n;
}

static size_t put_name(struct lineproto *lp, const char *s)
{
	return put_token(lp, (const uint8_t *)s, s ? strlen(s) : 0, SIZE_MAX,
	                 TOKEN_NAME);
}

void lineproto_begin(struct lineproto *lp, const char *measurement)
{
	lp->line_start = lp->len;
	lp->n_fields = 0;
	size_t n = put_token(lp, (const uint8_t *)measurement,
	                     measurement ? strlen(measurement) : 0, SIZE_MAX,
	                     TOKEN_MEASUREMENT);
	if (n == 0) /* a line needs a measurement: mark the gap */
		put(lp, REPLACEMENT, sizeof(REPLACEMENT));
}

static void tag(struct lineproto *lp, const char *key, const uint8_t *value,
                size_t len, size_t max)
{
	size_t mark = lp->len;

	if (lp->n_fields > 0) /* tags after fields: a caller bug, ignored */
		return;
	put_char(lp, ',');
	if (put_name(lp, key) == 0)
		goto skip;
	put_char(lp, '=');
	if (put_token(lp, value, len, max, TOKEN_NAME) == 0)
		goto skip;
	return;
skip:
	if (!lp->error) {
		lp->len = mark;
		lp->data[mark] = '\0';
	}
}

void lineproto_tag(struct lineproto *lp, const char *key, const char *value)
{
	tag(lp, key, (const uint8_t *)value, value ? strlen(value) : 0,
	    SIZE_MAX);
}

void lineproto_tag_untrusted(struct lineproto *lp, const char *key,
                             const uint8_t *value, size_t len)
{
	tag(lp, key, value, len, LINEPROTO_TAG_MAX);
}

/* Writes the separator and "key=". False when the key is empty. */
static bool field_key(struct lineproto *lp, const char *key)
{
	size_t mark = lp->len;

	put_char(lp, lp->n_fields ? ',' : ' ');
	if (put_name(lp, key) == 0) {
		if (!lp->error) {
			lp->len = mark;
			lp->data[mark] = '\0';
		}
		return false;
	}
	put_char(lp, '=');
	return true;
}

static void field_done(struct lineproto *lp)
{
	if (!lp->error)
		lp->n_fields++;
}

void lineproto_field_float(struct lineproto *lp, const char *key, double v)
{
	char num[512]; /* %.3f of DBL_MAX is 313 bytes */

	if (!isfinite(v)) /* line protocol has no NaN or infinity */
		return;
	/* Three decimals: the floats we write are milliseconds, so this keeps
	 * microseconds and prints "11.482" rather than "11.482000000000001". */
	int n = snprintf(num, sizeof(num), "%.3f", v);
	if (n < 0 || (size_t)n >= sizeof(num))
		return;
	if (!field_key(lp, key))
		return;
	put(lp, num, (size_t)n);
	field_done(lp);
}

void lineproto_field_int(struct lineproto *lp, const char *key, int64_t v)
{
	/* By hand: snprintf() was a quarter of the probe's user time. */
	char num[24];
	size_t n = sizeof(num);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	num[--n] = 'i';
	do {
		num[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		num[--n] = '-';
	if (!field_key(lp, key))
		return;
	put(lp, num + n, sizeof(num) - n);
	field_done(lp);
}

void lineproto_field_bool(struct lineproto *lp, const char *key, bool v)
{
	if (!field_key(lp, key))
		return;
	put(lp, v ? "true" : "false", v ? 4 : 5);
	field_done(lp);
}

void lineproto_field_string(struct lineproto *lp, const char *key,
                            const uint8_t *value, size_t len)
{
	if (!field_key(lp, key))
		return;
	put_char(lp, '"');
	put_token(lp, value, len, STRING_MAX, TOKEN_STRING);
	put_char(lp, '"');
	field_done(lp);
}

/* The timestamp in decimal: the seconds from the last line's when they
 * are the same (they are, within a round), then nine digits of ns. */
static char *put_timestamp(struct lineproto *lp, char *p, int64_t ts)
{
	int64_t sec = ts / 1000000000;
	uint32_t ns = (uint32_t)(ts % 1000000000);

	if (ts < 1000000000)
		return lineproto_put_dec(p, ts);
	if (lp->ts_len == 0 || sec != lp->ts_sec) {
		lp->ts_sec = sec;
		lp->ts_len = (unsigned)(lineproto_put_dec(lp->ts_text, sec) -
		                        lp->ts_text);
	}
	memcpy(p, lp->ts_text, lp->ts_len);
	p += lp->ts_len;
	for (int i = 8; i >= 0; i -= 2) {
		if (i == 0) {
			p[0] = (char)('0' + ns);
			break;
		}
		unsigned d = (ns % 100) * 2;

		ns /= 100;
		p[i] = DIGITS2[d + 1];
		p[i - 1] = DIGITS2[d];
	}
	return p + 9;
}

int lineproto_end(struct lineproto *lp, int64_t timestamp_ns)
{
	if (!lp->error && lp->n_fields > 0 && reserve(lp, 24)) {
		char *p = lp->data + lp->len;

		*p++ = ' ';
		p = put_timestamp(lp, p, timestamp_ns);
		*p++ = '\n';
		lp->len = (size_t)(p - lp->data);
		lp->data[lp->len] = '\0';
	}
	if (lp->error || lp->n_fields == 0) {
		/* drop the unfinished line; the buffer stays valid */
		lp->len = lp->line_start;
		if (lp->data)
			lp->data[lp->len] = '\0';
	}
	lp->line_start = lp->len;
	lp->n_fields = 0;
	return lp->error;
}

/* ---- the hot path ------------------------------------------------------ */

void lineproto_begin_raw(struct lineproto *lp, const char *text, size_t len)
{
	lp->line_start = lp->len;
	lp->n_fields = 0;
	put(lp, text, len);
}

void lineproto_append_raw(struct lineproto *lp, const char *text, size_t len)
{
	if (lp->n_fields > 0) /* tags after fields: a caller bug, ignored */
		return;
	put(lp, text, len);
}

char *lineproto_room(struct lineproto *lp, size_t n)
{
	return reserve(lp, n) ? lp->data + lp->len : NULL;
}

void lineproto_wrote(struct lineproto *lp, char *end, unsigned fields)
{
	if (lp->error || !end)
		return;
	lp->len = (size_t)(end - lp->data);
	lp->data[lp->len] = '\0';
	lp->n_fields = fields;
}

char *lineproto_put_dec(char *p, int64_t v)
{
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	uint64_t t = u;
	size_t n = 1;
	char *end;

	if (v < 0)
		*p++ = '-';
	while (t >= 100) {
		t /= 100;
		n += 2;
	}
	n += t >= 10;
	end = p + n;
	/* from the last digit back, two at a time */
	while (u >= 100) {
		unsigned d = (unsigned)(u % 100) * 2;

		u /= 100;
		*--end = DIGITS2[d + 1];
		*--end = DIGITS2[d];
	}
	if (u >= 10) {
		*--end = DIGITS2[u * 2 + 1];
		*--end = DIGITS2[u * 2];
	} else {
		*--end = (char)('0' + u);
	}
	return p + n;
}

/*
 * NS / 1e6 with three decimals. "%.3f" rounds the double nearest NS / 1e6;
 * that double is within 2^-53 of the true quotient, far closer than the
 * 1 ns (1e-6 ms) that separates a rounding midpoint from any other value
 * of NS while NS < 1e15 (11 days). So rounding the integer gives the same
 * digits, except at an exact midpoint (NS % 1000 == 500), where the double
 * may fall either side: those, negative and huge values go to snprintf.
 */
char *lineproto_put_ms(char *p, int64_t ns)
{
	if (ns < 0 || ns >= 1000000000000000LL || ns % 1000 == 500) {
		int n = snprintf(p, LINEPROTO_MS_MAX, "%.3f", (double)ns / 1e6);
		return p + (n > 0 && n < LINEPROTO_MS_MAX ? n : 0);
	}
	int64_t us = ns / 1000 + (ns % 1000 > 500);
	int64_t frac = us % 1000;

	p = lineproto_put_dec(p, us / 1000);
	*p++ = '.';
	*p++ = (char)('0' + frac / 100);
	*p++ = (char)('0' + frac / 10 % 10);
	*p++ = (char)('0' + frac % 10);
	return p;
}
