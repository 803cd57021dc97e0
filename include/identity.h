/*
 * identity: the analysis after a round that says who answered. Owns the
 * SPEC's instance rule (the response's own NSID; else, on a hostname.bind
 * or id.server row, its TXT answer; else the same round's identity answer
 * of the same group, hostname.bind first, then id.server), `instance_map`
 * (a POSIX extended regex and replacement applied to every instance value,
 * to cap cardinality), and `instance_changed` against history kept in
 * each row (result.inst_hist) and carried over a rebuilt plan by row
 * content (plan_row_hash, identity_replan). Linear in the round
 * size: a group's rows are adjacent, so one scan per group finds its
 * identity answers.
 */
#ifndef ANYCAST_PROBE_IDENTITY_H
#define ANYCAST_PROBE_IDENTITY_H

#include <stddef.h>

#include "conf.h"
#include "plan.h"
#include "result.h"

struct identity;

/* Returns 0, -ENOMEM, or -EINVAL when conf's instance_map does not
 * compile (conf checks it first, so that is a bug). */
int identity_new(struct identity **out, const struct conf *conf);
void identity_free(struct identity *id); /* NULL is fine */

/* A round starts: mapped instance strings of the last one are gone. */
void identity_begin(struct identity *id);
/* Fill instance, instance_len, instance_source and instance_changed of the
 * N finished rows ROWS (plan order, whole groups, a group's rows adjacent;
 * rows dropped by an aborted round are already taken out). A round's rows
 * may come in several calls (probe hands over each group as it ends).
 * Mapped instance strings live in ID's storage until identity_begin(). */
void identity_rows(struct identity *id, struct result *rows, size_t n);
/* The plan was rebuilt: carry each row's history (inst_hist) from
 * OLD_ROWS (N_OLD rows of OLD_PLAN, each at its plan position) to the rows
 * of NEW_ROWS with the same content (plan_row_hash); rows that left wait
 * HISTORY_TTL rounds for their address to come back. 0 or -ENOMEM (then
 * the new rows start without history). */
int identity_replan(struct identity *id, const struct plan *old_plan,
                    const struct result *old_rows, size_t n_old,
                    const struct plan *new_plan, struct result *new_rows,
                    size_t n_new);
/* identity_begin() and identity_rows() of a whole round. */
void identity_round(struct identity *id, struct result *rows, size_t n);

/* Apply the map to BUF (LEN bytes): the replacement on a match, else the
 * bytes unchanged. Writes at most CAP bytes to OUT, returns the length.
 * Exposed for tests. */
size_t identity_map(const struct identity *id, const uint8_t *buf, size_t len,
                    uint8_t *out, size_t cap);

#endif
