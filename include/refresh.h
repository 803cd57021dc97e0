/*
 * refresh: host names in `server` looked up again every `resolve_interval`
 * (the shortest of the targets that set one), in the background
 * (resolve.h), never blocking the loop. Finished look-ups wait until the
 * caller applies them between rounds: the targets' server lists are
 * rebuilt (conf_target_refresh) and the caller rebuilds the probe's plan
 * (probe_rebuild). History is kept for addresses that stay: it is keyed by
 * content.
 */
#ifndef ANYCAST_PROBE_REFRESH_H
#define ANYCAST_PROBE_REFRESH_H

#include <stdbool.h>

#include "conf.h"
#include "loop.h"

struct refresh;

/* *OUT is NULL (and 0 returned) when no target asks for re-resolution.
 * CONF and LOOP must outlive it. Returns 0 or -errno. */
int refresh_new(struct refresh **out, struct conf *conf, struct loop *loop);
void refresh_free(struct refresh *r); /* NULL is fine */

/* Between rounds only: apply finished look-ups to CONF. Returns true when
 * the targets' servers were rebuilt (the caller must rebuild the plan
 * before the next round), false when nothing was pending. */
bool refresh_apply(struct refresh *r);

#endif
