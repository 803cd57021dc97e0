/*
 * plan: the job list of a round, built from the config (and the addresses
 * its host names have now). One row per target x address x transport x
 * query, in that order, so the rows of one group (an address over one
 * transport: a struct result_key) stand side by side; then, per target
 * with a `reference`, one row for the reference's SOA of the zone. Each
 * query's wire form is built here once (dnsmsg) and shared by every row
 * that asks it. The plan is plain data: probe schedules it, passes read it,
 * and it can be built again between rounds (re-resolved host names).
 *
 * Rows are identified by content, not position: plan_row_hash() is a hash
 * of (target name, address and port, transport, query name, type, class),
 * so history (instance_changed, serial_stale_s) survives a rebuild.
 */
#ifndef ANYCAST_PROBE_PLAN_H
#define ANYCAST_PROBE_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "dnsmsg.h"
#include "result.h"

struct plan_target {
	const struct conf_target *target;
	struct dnsmsg_query *tmpls; /* one per target->queries[i] */
	uint64_t *query_hash;       /* the same, of (name, type, class) */
	struct conf_query zone_soa; /* the reference row's query */
	struct dnsmsg_query zone_tmpl;
	uint64_t zone_hash;
};

struct plan {
	const struct conf *conf;
	struct plan_target *targets; /* conf->n_targets */
	struct result_key *keys;
	uint64_t *key_hash; /* per key, of (target, address, port, transport) */
	size_t n_keys;
	uint32_t *key_row; /* per key, its first row */
	/* Per row: the key and the query. The rows' other fields are the
	 * scheduler's; it owns the array (plan_rows_init fills these two). */
	size_t n_rows;
};

/* Build the plan for CONF. Returns 0, -ENOMEM or -EINVAL (a query name
 * dnsmsg rejects; logged). CONF must outlive the plan. */
int plan_new(struct plan **out, const struct conf *conf);
void plan_free(struct plan *plan); /* NULL is fine */

/* Set key and query of each of the plan's n_rows rows in ROWS (all other
 * fields zeroed but inst_hist, the row's history across rounds). */
void plan_rows_init(const struct plan *plan, struct result *rows);

/* The row's place in the plan (where plan_rows_init puts its key and
 * query), wherever the row is now. */
size_t plan_row_pos(const struct plan *plan, const struct result *row);

/* The wire template of a row. */
const struct dnsmsg_query *plan_tmpl(const struct plan *plan,
                                     const struct result *row);

/* The row's content hash (see above). */
uint64_t plan_row_hash(const struct plan *plan, const struct result *row);

/* The port a group queries: the server's own (`ADDR#PORT`), else the
 * transport's port key, else the transport's default. */
uint16_t plan_port(const struct conf_target *t, const struct conf_server *s,
                   size_t transport);

#endif
