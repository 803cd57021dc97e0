/*
 * report: turns a round's results into output: InfluxDB line protocol (one
 * line per result, tags and fields exactly as SPEC.md names them) or the
 * aligned text table for people. Owns the SPEC's names; lineproto owns the
 * escaping. Also owns how NSID bytes are shown (text when printable, else
 * hex) and the `error` cause for rcode errors ("rcode REFUSED").
 *
 * The line-protocol hot path: report_new() builds, once, the escaped text
 * of every tag that is the same on every round: per (target, server,
 * transport) the measurement, target, server, server_name, family,
 * transport and port; per (target, query) domain, record_type and class;
 * per target its [tags] and tag.*. report_line() copies those and writes
 * only the per-row tags and the fields, numbers formatted by hand.
 */
#ifndef ANYCAST_PROBE_REPORT_H
#define ANYCAST_PROBE_REPORT_H

#include <stddef.h>

#include "conf.h"
#include "lineproto.h"
#include "result.h"

struct report;

/* Build the constant tag text of CONF, which must outlive the report.
 * Returns 0 or -ENOMEM (*out NULL then). */
int report_new(struct report **out, const struct conf *conf);
void report_free(struct report *rep); /* NULL is fine */

/* The job list was rebuilt (probe_rebuild): forget every key's tags; they
 * are built again from the new keys. */
void report_rebuilt(struct report *rep);

/* Append one line for R to LP. R's target, server and query are looked up
 * in the report's conf by position; a row whose pointers lie outside it
 * (a server list rebuilt since) gets the same line, built the slow way.
 * Tag order: target, server, server_name, family, transport, port, domain,
 * record_type, class, result, rcode, instance, instance_source, reference,
 * dnssec, [tags], tag.*. Fields: the SPEC's v1 fields in the SPEC's order,
 * then tls_handshake_ms, tls_version, tls_resumed, cert_expires_in_s,
 * http_status, rrsig_expires_in_s, dnssec_error, dnskey_tags, serial_lag,
 * serial_stale_s, cookie. Returns 0, -EINVAL or -ENOMEM. */
int report_line(struct report *rep, struct lineproto *lp,
                const struct result *r);

/* Append the text table for N results to LP's buffer: when WALL_NS > 0 a
 * title line "# YYYY-MM-DD HH:MM:SS.mmm UTC" (the round's start), then a
 * header line and one aligned row per result: target, server, family,
 * transport, port (the column only when some row's port is not its
 * transport's default), query, result, rcode, ms, serial, instance,
 * identity (the TXT answer of an identity row), flags (aa, tc, tries=N
 * when attempts > 1). */
int report_text(struct lineproto *lp, const struct result *results, size_t n,
                int64_t wall_ns);

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
