/*
 * zone: serial_lag and serial_stale_s against each target's reference (see
 * zone.h for the meaning). One pass finds each target's reference serial,
 * a second sets the fields: O(rows + targets) per round, nothing
 * allocated after zone_new.
 */
#include "zone.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "conf.h"
#include "result.h"

struct seen {
	uint32_t serial;
	int64_t first_ns; /* when the reference first showed it */
};

struct target_state {
	struct seen hist[ZONE_HISTORY]; /* ring, oldest at `start` */
	size_t start, count;
	bool has_ref; /* this round's reference answered with a serial */
	uint32_t ref;
};

struct zone {
	const struct conf *conf;
	struct target_state *t; /* one per conf->targets[i] */
};

int64_t zone_serial_distance(uint32_t a, uint32_t b)
{
	uint32_t d = b - a;

	if (d == 0x80000000u)
		return INT64_MIN;
	return d < 0x80000000u ? (int64_t)d : -(int64_t)(uint32_t)(a - b);
}

int zone_new(struct zone **out, const struct conf *conf)
{
	struct zone *z;

	if (out == NULL || conf == NULL)
		return -EINVAL;
	*out = NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return -ENOMEM;
	z->conf = conf;
	z->t = calloc(conf->n_targets ? conf->n_targets : 1, sizeof(*z->t));
	if (z->t == NULL) {
		free(z);
		return -ENOMEM;
	}
	*out = z;
	return 0;
}

void zone_pass(void *ctx, struct result *rows, size_t n)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	zone_round(ctx, rows, n,
	           (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

void zone_free(struct zone *z)
{
	if (z == NULL)
		return;
	free(z->t);
	free(z);
}

static struct target_state *state_of(struct zone *z,
                                     const struct conf_target *t)
{
	const struct conf *c = z->conf;

	if (t == NULL || t < c->targets || t >= c->targets + c->n_targets ||
	    t->reference == NULL)
		return NULL;
	return &z->t[t - c->targets];
}

static struct seen *hist_at(struct target_state *s, size_t i)
{
	return &s->hist[(s->start + i) % ZONE_HISTORY];
}

/* The reference shows SERIAL at NOW: a new entry when it differs from the
 * last one (forgetting the oldest when full). */
static void hist_note(struct target_state *s, uint32_t serial, int64_t now)
{
	if (s->count > 0 && hist_at(s, s->count - 1)->serial == serial)
		return;
	if (s->count == ZONE_HISTORY) {
		s->start = (s->start + 1) % ZONE_HISTORY;
		s->count--;
	}
	*hist_at(s, s->count) = (struct seen){serial, now};
	s->count++;
}

/* When the reference first showed a serial newer than SERIAL. */
static int64_t stale_since(struct target_state *s, uint32_t serial)
{
	for (size_t i = 0; i < s->count; i++) {
		int64_t d = zone_serial_distance(serial, hist_at(s, i)->serial);
		if (d != INT64_MIN && d > 0)
			return hist_at(s, i)->first_ns;
	}
	return hist_at(s, 0)->first_ns; /* older than everything kept */
}

void zone_round(struct zone *z, struct result *rows, size_t n, int64_t now_ns)
{
	if (z == NULL || rows == NULL)
		return;
	for (size_t i = 0; i < z->conf->n_targets; i++)
		z->t[i].has_ref = false;
	for (size_t i = 0; i < n; i++) {
		const struct result *r = &rows[i];
		struct target_state *s =
		    r->key ? state_of(z, r->key->target) : NULL;

		if (s == NULL || !r->key->reference || s->has_ref ||
		    !r->has_reply || r->rcode != 0 || !r->has_serial)
			continue;
		s->has_ref = true;
		s->ref = r->serial;
		hist_note(s, r->serial, now_ns);
	}
	for (size_t i = 0; i < n; i++) {
		struct result *r = &rows[i];
		struct target_state *s =
		    r->key ? state_of(z, r->key->target) : NULL;

		if (s == NULL || !s->has_ref || !r->has_reply ||
		    !r->has_serial || r->ext == NULL)
			continue;
		int64_t lag = zone_serial_distance(r->serial, s->ref);
		if (lag == INT64_MIN)
			continue; /* RFC 1982: undefined; say nothing */
		int64_t stale =
		    lag > 0 ? (now_ns - stale_since(s, r->serial)) / 1000000000
		            : 0;
		r->ext->has_serial_lag = true;
		r->ext->serial_lag = (int32_t)lag;
		r->ext->serial_stale_s =
		    stale > INT32_MAX ? INT32_MAX : (int32_t)stale;
	}
}
