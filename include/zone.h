/*
 * zone: freshness against a reference, the pass after a round. For every
 * target with a `reference`, the reference row's SOA serial (the row with
 * result.reference, which the scheduler adds per target) is the truth:
 * every row of that target with a serial gets
 *   serial_lag     = reference serial - row serial, RFC 1982 arithmetic
 *                    (0 current, > 0 behind, < 0 ahead of the reference);
 *   serial_stale_s = seconds since the reference first showed a serial
 *                    newer than the row's (RSSAC047's publication latency,
 *                    from this vantage point); 0 when not behind.
 * A round whose reference row has no serial (timeout, error, no SOA) leaves
 * both fields absent on every row of the target: never a guess.
 *
 * The only state is each target's reference timeline: the serials the
 * reference has shown and when each was first seen (the last
 * ZONE_HISTORY of them), kept per target for the life of the process, so
 * it does not depend on the rows' order or count (the plan may be
 * rebuilt). A row's stale clock follows from the timeline and the row's
 * own serial alone. Before the probe's first round nothing is known: a
 * serial the reference already had then counts from that first round; a
 * row older than every kept entry counts from the oldest one (a lower
 * bound). No ldns, no I/O.
 */
#ifndef ANYCAST_PROBE_ZONE_H
#define ANYCAST_PROBE_ZONE_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct result;
struct zone;

#define ZONE_HISTORY 32

/* Per-target state for CONF (which must outlive it). 0 or -ENOMEM. */
int zone_new(struct zone **out, const struct conf *conf);

/* The pass after a round over its N ROWS (any order; probe hands a target
 * with a reference over whole, its reference row included). Sets
 * ext->has_serial_lag, serial_lag and serial_stale_s (rows without an ext
 * are left alone; the reference row is found by key->reference). NOW_NS:
 * CLOCK_MONOTONIC at the round's end (the stale clock measures a duration). */
void zone_round(struct zone *z, struct result *rows, size_t n, int64_t now_ns);

/* zone_round() as a pass for probe_add_pass(): CTX is the struct zone, the
 * clock CLOCK_MONOTONIC now. */
void zone_pass(void *ctx, struct result *rows, size_t n);

/* RFC 1982 distance B - A for 32-bit serials, in [-2^31 + 1, 2^31 - 1];
 * INT64_MIN when undefined (they differ by exactly 2^31). */
int64_t zone_serial_distance(uint32_t a, uint32_t b);

void zone_free(struct zone *z); /* NULL is fine */

#endif
