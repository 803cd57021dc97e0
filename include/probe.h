/*
 * probe: the scheduler. Runs rounds of the plan's queries (plan.h) through
 * the transports (transport.h): pacing by `rate`, a send queue per
 * transport, attempts, timeouts and retries, the round's counters. As soon
 * as every query of a unit (a group: a target's address over one transport;
 * a target with a `reference` as a whole) has ended, and every unit before
 * it too, it runs the passes on the unit's rows (the instance rule of
 * identity.h first, then those added with probe_add_pass()): those rows are
 * final, so main can print a round's lines while the round still runs. It
 * does not print: main hands the results to report.
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

/* The same with OPS[i] (when not NULL) instead of transport_table[i].ops:
 * tests drive the scheduler with a fake transport. */
struct tr_ops;
int probe_new_ops(struct probe **out, const struct conf *conf,
                  struct loop *loop, const struct tr_ops *const *ops);

/* Start a round; -EBUSY when one is running. */
int probe_round_start(struct probe *probe);
bool probe_round_running(const struct probe *probe);
/* Rounds finished so far (aborted ones included): a round that starts and
 * ends within one turn of the loop is still seen. */
uint64_t probe_rounds_done(const struct probe *probe);

/* End the running round now: queries still in flight are dropped (no row),
 * the rest is resolved as at a normal end. Returns how many were dropped. */
size_t probe_round_abort(struct probe *probe);

/* The round's final rows so far, in config order (target, address,
 * transport, query): all of them once the round has finished. Valid until
 * the next probe_round_start(). */
const struct result *probe_results(const struct probe *probe, size_t *n);
/* Make final the units that have ended (in order; no unit overtakes an
 * earlier one) and return how many rows are final now (probe_results). Call
 * it from the main loop, not from inside a transport's callback. */
size_t probe_rows_ready(struct probe *probe);
const struct probe_stats *probe_stats(const struct probe *probe);

/* Number of rows a full round yields. */
size_t probe_round_size(const struct probe *probe);

/* Build the plan again from the config (its targets' servers changed:
 * refresh.h), between rounds: the last round's results are gone. History
 * (instance_changed) is kept for rows that stay. Returns 0, -EBUSY during a
 * round, -ENOMEM; on error the old plan stays. */
int probe_rebuild(struct probe *probe);

/* Run BEGIN(CTX) (when not NULL) as each round starts and FN(CTX, rows, n)
 * on each unit's final rows (whole units, in plan order, several calls a
 * round), after the instance rule, in the order added (DNSSEC, zone
 * freshness). At most 8. Returns 0, -EINVAL or -ENOSPC. */
int probe_add_pass(struct probe *probe, void (*begin)(void *ctx),
                   void (*fn)(void *ctx, struct result *rows, size_t n),
                   void *ctx);

/* The plan the probe runs (keys, templates, content hashes). */
struct plan;
const struct plan *probe_plan(const struct probe *probe);

#endif
