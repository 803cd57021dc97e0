/*
 * probe: one round of queries. Owns the per-round work list built once from
 * the config (a job per target x address x transport x query, identity
 * queries included), pacing by `rate`, attempts, timeouts and retries,
 * matching replies to queries, and the results with `instance` and
 * `instance_changed` resolved when the round ends. It does not print:
 * main hands the results to report.
 */
#ifndef ANYCAST_PROBE_PROBE_H
#define ANYCAST_PROBE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "loop.h"
#include "result.h"

struct probe;

/* Builds every query's wire form and the work list. CONF and LOOP must
 * outlive the probe. Returns 0, -ENOMEM or -EINVAL (a name dnsmsg rejects). */
int probe_new(struct probe **out, const struct conf *conf, struct loop *loop);
void probe_free(struct probe *probe); /* NULL is fine */

/* Start a round; -EBUSY when one is running. */
int probe_round_start(struct probe *probe);
bool probe_round_running(const struct probe *probe);
/* Rounds finished so far (aborted ones included): a round that starts and
 * ends within one turn of the loop is still seen. */
uint64_t probe_rounds_done(const struct probe *probe);

/* End the running round now: queries still in flight are dropped (no row),
 * the rest is resolved as at a normal end. Returns how many were dropped. */
size_t probe_round_abort(struct probe *probe);

/* The last finished round's results, in config order (target, address,
 * transport, query). Valid until the next probe_round_start(). */
const struct result *probe_results(const struct probe *probe, size_t *n);
const struct probe_stats *probe_stats(const struct probe *probe);

/* Number of rows a full round yields. */
size_t probe_round_size(const struct probe *probe);

#endif
