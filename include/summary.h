/*
 * summary: what the continuous mode (-i, --count) prints at its end: per
 * target, server address, port and transport, the queries sent, how many
 * got a DNS response, the loss, min/median/max RTT and the instances seen.
 *
 * Memory is bounded per (target, server, port, transport), whatever the
 * number of rounds: the median comes from a histogram of 1,152 buckets
 * (exact below 64 ns, then 32 buckets per power of two up to 2^40 ns:
 * within 1.6 % of the true median; min and max are exact), and at most
 * SUMMARY_MAX_INSTANCES instance names are kept (with a count each; the
 * rest are counted as "others").
 */
#ifndef ANYCAST_PROBE_SUMMARY_H
#define ANYCAST_PROBE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "result.h"

#define SUMMARY_MAX_INSTANCES 8

struct summary;

struct summary_instance {
	char name[65]; /* sanitised, cut at 64 bytes */
	uint64_t rows;
};

/* One (target, server, port, transport), as summary_row() reports it. */
struct summary_row {
	const char *target;
	const char *server; /* address text */
	uint16_t port;
	unsigned transport; /* index in transport_table */
	uint64_t sent;      /* queries (a retried query counts once) */
	uint64_t answered;  /* with a DNS response, whatever its rcode */
	int64_t min_ns, median_ns, max_ns; /* -1 when none answered */
	struct summary_instance instances[SUMMARY_MAX_INSTANCES];
	size_t n_instances;
	uint64_t other_instance_rows; /* rows of instances not kept */
};

int summary_new(struct summary **out);
void summary_free(struct summary *s); /* NULL is fine */

/* Add a round's N results. Returns 0 or -ENOMEM (the round's rows that
 * found no room are left out). */
int summary_add(struct summary *s, const struct result *r, size_t n);

/* Rounds added so far. */
uint64_t summary_rounds(const struct summary *s);

/* Rows in first-seen order: 0..summary_count()-1. */
size_t summary_count(const struct summary *s);
int summary_row(const struct summary *s, size_t i, struct summary_row *out);

/* The summary as an aligned table, every line prefixed "I! " (stderr is
 * Telegraf's log format): a title with the rounds, then one line per row:
 * target, server, transport, port (when not the default), sent, answered,
 * loss %, min/median/max ms, instances seen. */
void summary_print(const struct summary *s, FILE *out);

#endif
