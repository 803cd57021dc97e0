/*
 * report: turns a round's results into output: InfluxDB line protocol (one
 * line per result, tags and fields exactly as SPEC.md names them) or the
 * aligned text table for people. Owns the SPEC's names; lineproto owns the
 * escaping. Also owns how NSID bytes are shown (text when printable, else
 * hex) and the `error` cause for rcode errors ("rcode REFUSED").
 */
#ifndef ANYCAST_PROBE_REPORT_H
#define ANYCAST_PROBE_REPORT_H

#include <stddef.h>

#include "conf.h"
#include "lineproto.h"
#include "result.h"

/* Append one line for R to LP. Returns 0 or -ENOMEM. */
int report_line(struct lineproto *lp, const struct conf *conf,
                const struct result *r);

/* Append the text table for N results (a header line, then one aligned
 * row per result: target, server, transport, query, result, rcode, ms,
 * instance, with a marker on changed instances) to LP's buffer. */
int report_text(struct lineproto *lp, const struct result *results, size_t n);

/* The self_metrics line: measurement "<measurement>_probe" (dns_anycast_probe),
 * the [tags], and the round's counters as fields. Returns 0 or -ENOMEM. */
int report_self(struct lineproto *lp, const struct conf *conf,
                const struct probe_stats *st, int64_t timestamp_ns);

/* NSID as shown in the `nsid` field and in `instance`: the bytes when every
 * one is printable ASCII, else lower-case hex. Writes into BUF (always
 * NUL-terminated), returns its length. */
size_t report_nsid_text(char *buf, size_t size, const uint8_t *nsid,
                        size_t len);

#endif
