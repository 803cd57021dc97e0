/*
 * lineproto: InfluxDB line protocol, written into a growing buffer.
 * Owns escaping (measurement, tag keys/values, field keys, string fields)
 * and the sanitising of untrusted bytes: control characters and invalid
 * UTF-8 become U+FFFD, tag values from the network are cut at 64 bytes on
 * a character boundary. Nothing it writes can end a line early, add a tag
 * or add a field, whatever bytes it is given.
 *
 * Usage: lineproto_begin(), any tags, any fields (at least one), then
 * lineproto_end(). The buffer is reused: lineproto_reset() between rounds.
 */
#ifndef ANYCAST_PROBE_LINEPROTO_H
#define ANYCAST_PROBE_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINEPROTO_TAG_MAX 64 /* bytes of an untrusted tag value */

struct lineproto {
	char *data;
	size_t len, cap;
	int error; /* sticky: -ENOMEM once an allocation failed */
	/* state of the line being written */
	size_t line_start;
	unsigned n_fields;
	/* the seconds of the last timestamp written, as text: a round's
	 * lines share them (ts_len 0: none yet) */
	int64_t ts_sec;
	char ts_text[24];
	unsigned ts_len;
};

void lineproto_init(struct lineproto *lp);
void lineproto_reset(struct lineproto *lp); /* empty, keeps the memory */
void lineproto_clear(struct lineproto *lp); /* frees */

void lineproto_begin(struct lineproto *lp, const char *measurement);
/* A tag from our own config: escaped, not cut. Empty values are skipped. */
void lineproto_tag(struct lineproto *lp, const char *key, const char *value);
/* A tag from the network: sanitised, escaped, cut at LINEPROTO_TAG_MAX. */
void lineproto_tag_untrusted(struct lineproto *lp, const char *key,
                             const uint8_t *value, size_t len);
void lineproto_field_float(struct lineproto *lp, const char *key, double v);
void lineproto_field_int(struct lineproto *lp, const char *key, int64_t v);
void lineproto_field_bool(struct lineproto *lp, const char *key, bool v);
/* A string field; bytes are sanitised and escaped. */
void lineproto_field_string(struct lineproto *lp, const char *key,
                            const uint8_t *value, size_t len);
/* Ends the line with the timestamp and '\n'. A line with no field is
 * dropped (line protocol requires one). Returns 0 or lp->error. */
int lineproto_end(struct lineproto *lp, int64_t timestamp_ns);

/* ---- the hot path: text escaped once, numbers formatted by hand ----
 * report builds each row's constant tags once with the functions above
 * (into a scratch lineproto) and then writes every line from those bytes.
 */
/* Start a line with LEN bytes of measurement and tags already escaped. */
void lineproto_begin_raw(struct lineproto *lp, const char *text, size_t len);
/* Append LEN bytes of escaped tags (",k=v,k2=v2"); before any field. */
void lineproto_append_raw(struct lineproto *lp, const char *text, size_t len);
/* Room for N more bytes: where to write them (lp->data + lp->len), or NULL
 * once an allocation failed (the error is sticky). */
char *lineproto_room(struct lineproto *lp, size_t n);
/* The caller wrote up to END within the room; the line now has FIELDS
 * fields in all (lp->n_fields before the write plus those written). */
void lineproto_wrote(struct lineproto *lp, char *end, unsigned fields);
/* Write V in decimal at P (at most 20 bytes, no suffix); returns the end. */
char *lineproto_put_dec(char *p, int64_t v);
/* Write NS nanoseconds as milliseconds with three decimals at P, exactly
 * as lineproto_field_float(NS / 1e6) would (at most LINEPROTO_MS_MAX
 * bytes); returns the end. */
#define LINEPROTO_MS_MAX 32
char *lineproto_put_ms(char *p, int64_t ns);

/* Sanitise untrusted bytes into DST (always NUL-terminated): control
 * characters and invalid UTF-8 sequences become U+FFFD, at most MAX bytes
 * of output (cut on a character boundary). Returns bytes written. */
size_t lineproto_sanitize(char *dst, size_t dst_size, const uint8_t *src,
                          size_t len, size_t max);

#endif
