/*
 * libFuzzer target for src/lineproto.c: whatever bytes go into an
 * untrusted tag value, a config tag value, a measurement, a field key and
 * a string field, the written line is exactly one line that the strict
 * parser in tests/unit/lineproto_parse.h reads back into exactly the tags
 * and fields written, holding the sanitised values.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Iinclude tests/fuzz/fuzz_lineproto.c src/lineproto.c \
 *     -o build/fuzz_lineproto && build/fuzz_lineproto -max_total_time=60
 *
 * Input: byte 0 picks where the rest splits into the "name" part (tag
 * value, and cut at its first NUL: measurement, config tag, field key)
 * and the string-field part.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"
#include "../unit/lineproto_parse.h"

#define STRING_MAX 1024 /* src/lineproto.c's cut for string fields */

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_lineproto: %s\n", what);
		abort();
	}
}

/* Is P[0..PN) what lineproto may store for the sanitised S[0..SN)?
 * Same characters, except that a '\' InfluxDB would read as an escape
 * (before , space = " or at the end) is U+FFFD, and, when FIRST_HASH, a
 * leading '#' is U+FFFD. P may stop early only when MAX cut it: then it is
 * at least MAX - 3 bytes (a 4-byte character did not fit). */
static void check_name(const char *p, size_t pn, const char *s, size_t sn,
                       size_t max, int first_hash)
{
	size_t i = 0, j = 0;

	check(pn <= max, "value longer than its limit");
	while (i < pn) {
		check(j < sn, "value has more than the input");
		int fffd = pn - i >= 3 && !memcmp(p + i, "\xef\xbf\xbd", 3);
		if (fffd && s[j] == '\\') {
			int end = j + 1 == sn || i + 3 == pn;
			check(end || strchr(", =\"", s[j + 1]) != NULL,
			      "backslash replaced for no reason");
			i += 3;
			j++;
		} else if (fffd && j == 0 && first_hash && s[0] == '#') {
			i += 3;
			j++;
		} else {
			check(p[i] == s[j],
			      "value differs from sanitised input");
			if (p[i] == '\\')
				check(i + 1 < pn && !strchr(", =\"", p[i + 1]),
				      "ambiguous backslash kept");
			check(!(first_hash && i == 0 && p[0] == '#'),
			      "leading # kept");
			i++;
			j++;
		}
	}
	if (j < sn)
		check(max != SIZE_MAX && pn + 3 >= max, "value cut too short");
}

static char sanitized[3 * 4096 + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t rest = size - 1;
	size_t split = rest ? data[0] % (rest + 1) : 0;
	const uint8_t *tag = data + 1, *str = data + 1 + split;
	size_t tag_len = split, str_len = rest - split;
	char cname[4097];
	snprintf(cname, sizeof(cname), "%.*s", (int)tag_len, (const char *)tag);
	size_t cname_len = strlen(cname);

	struct lineproto lp;
	lineproto_init(&lp);
	lineproto_begin(&lp, cname);
	lineproto_tag_untrusted(&lp, "k", tag, tag_len);
	lineproto_tag(&lp, "t", cname);
	lineproto_field_string(&lp, "s", str, str_len);
	lineproto_field_int(&lp, "n", (int64_t)size);
	lineproto_field_bool(&lp, cname, true);
	check(lineproto_end(&lp, (int64_t)size) == 0, "lineproto_end failed");

	struct lpp_line l;
	if (lpp_parse(&l, lp.data, lp.len) != 0) {
		fprintf(stderr, "unparsable (%s): %s", l.why, lp.data);
		abort();
	}
	check(l.timestamp == (int64_t)size, "timestamp");

	/* measurement: never empty */
	size_t n =
	    lineproto_sanitize(sanitized, sizeof(sanitized),
	                       (const uint8_t *)cname, cname_len, SIZE_MAX);
	if (n == 0)
		check(!strcmp(l.measurement, "\xef\xbf\xbd"),
		      "empty measurement");
	else
		check_name(l.measurement, strlen(l.measurement), sanitized, n,
		           SIZE_MAX, 1);

	/* tags: k when the input had bytes, t when the C string had any */
	size_t want_tags = (tag_len > 0) + (cname_len > 0), ti = 0;
	check(l.n_tags == want_tags, "wrong number of tags");
	if (tag_len > 0) {
		check(!strcmp(l.tags[ti].key, "k"), "tag k");
		n = lineproto_sanitize(sanitized, sizeof(sanitized), tag,
		                       tag_len, SIZE_MAX);
		check_name(l.tags[ti].value, l.tags[ti].len, sanitized, n,
		           LINEPROTO_TAG_MAX, 0);
		ti++;
	}
	if (cname_len > 0) {
		check(!strcmp(l.tags[ti].key, "t"), "tag t");
		n = lineproto_sanitize(sanitized, sizeof(sanitized),
		                       (const uint8_t *)cname, cname_len,
		                       SIZE_MAX);
		check_name(l.tags[ti].value, l.tags[ti].len, sanitized, n,
		           SIZE_MAX, 0);
	}

	/* fields: s, n, and the field keyed by the name part */
	check(l.n_fields == 2 + (cname_len > 0), "wrong number of fields");
	check(!strcmp(l.fields[0].key, "s") && l.fields[0].type == 's',
	      "field s");
	n = lineproto_sanitize(sanitized, sizeof(sanitized), str, str_len,
	                       STRING_MAX);
	check(l.fields[0].len == n && !memcmp(l.fields[0].value, sanitized, n),
	      "string field differs from sanitised input");
	check(!strcmp(l.fields[1].key, "n") && l.fields[1].type == 'i' &&
	          l.fields[1].i == (int64_t)size,
	      "field n");
	if (cname_len > 0) {
		check(l.fields[2].type == 'b' && l.fields[2].b,
		      "field key value");
		n = lineproto_sanitize(sanitized, sizeof(sanitized),
		                       (const uint8_t *)cname, cname_len,
		                       SIZE_MAX);
		check_name(l.fields[2].key, strlen(l.fields[2].key), sanitized,
		           n, SIZE_MAX, 0);
	}
	lpp_free(&l);
	lineproto_clear(&lp);
	return 0;
}
