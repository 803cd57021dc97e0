/*
 * probe: the scheduler of a round; see include/probe.h. It owns when each
 * query is sent (pacing by `rate`), when an attempt times out, retries, the
 * round's counters, and the order in which the passes after a round run.
 * It makes no system calls of its own beyond the clock, knows no socket, no
 * DNS wire format and no SPEC name: transports (transport.h) send and
 * match, the plan (plan.h) says what to ask, identity and the other passes
 * analyse, report prints.
 *
 * A round, for N rows of the plan (rows[i] is the result, jobs[i] the
 * scheduling state of the same query: the mapping is the index):
 *
 *   start: every job joins the send queue of its transport, in plan order.
 *       One queue per transport, so a transport that cannot take more (TCP
 *       at the descriptor limit) holds back only its own queries.
 *   pacer: a timer. It sends, from the queue whose head comes first in
 *       plan order, as long as the round is not ahead of `rate` (sent <=
 *       elapsed * rate), in batches handed to the transport, then sleeps
 *       until the next send is due (at high rates at least PACE_QUANTUM_NS,
 *       sending what fell due meanwhile). While it wakes that often it also
 *       drains the transports itself, so replies cost no wake-ups of their
 *       own; the kernel's timestamps keep their RTTs exact.
 *   timeouts: every attempt of a job has the same timeout as all others
 *       in its FIFO (one FIFO per distinct timeout: the targets' `timeout`
 *       and the identity queries' cap), and attempts enter a FIFO in the
 *       order they are sent, so its head is always the next to expire: no
 *       timer per job, no heap. Answered jobs leave their FIFO lazily.
 *   units: rows that become final together (a group; a target with a
 *       reference as a whole), each with a count of its jobs not ended.
 *       probe_rows_ready() runs the passes (identity first) on each unit
 *       whose count reached 0, in plan order, so rows [0, n_results) are
 *       final while the round still runs, and main prints them then.
 *   end: when every job has ended, the last units are made final, and the
 *       rows are the round's results, in plan order, until the next start.
 *
 * Memory per query is the row (struct result, about 100 bytes) and an
 * 8-byte job; nothing is allocated per query. While an attempt is in
 * flight its row's rtt_ns holds the attempt's send time (monotonic): the
 * FIFO deadline is that plus the FIFO's timeout.
 */
#include "probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cookie.h"
#include "log.h"
#include "probe_int.h"
#include "row.h"

    static bool
    target_has_ext(const struct conf_target *t)
{
	return t->dnssec || t->trust_anchor != NULL || t->reference != NULL;
}

/* ---- set-up ----------------------------------------------------------- */

static void tr_done_cb(void *sched, uint32_t job, const struct tr_done *d);
static void tr_unblocked_cb(void *sched, size_t transport);
static void tr_dropped_cb(void *sched, size_t transport);

static int fifo_for(struct probe *p, int64_t timeout_ns, uint8_t *out)
{
	for (size_t i = 0; i < p->n_fifos; i++) {
		if (p->fifos[i].timeout_ns == timeout_ns) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	if (p->n_fifos == MAX_FIFOS)
		return -ENOSPC;
	p->fifos[p->n_fifos] = (struct fifo){.timer.fn = pace_fifo_fire,
	                                     .probe = p,
	                                     .timeout_ns = timeout_ns,
	                                     .head = NONE,
	                                     .tail = NONE};
	*out = (uint8_t)p->n_fifos++;
	return 0;
}

/* The units of PLAN (probe_int.h) into *UNITS and *KEY_UNIT. */
static int units_build(const struct plan *plan, struct unit **units,
                       uint32_t **key_unit, size_t *n_units)
{
	size_t nk = plan->n_keys, n = 0, row = 0;
	struct unit *u = calloc(nk ? nk : 1, sizeof(*u));
	uint32_t *ku = calloc(nk ? nk : 1, sizeof(*ku));

	if (u == NULL || ku == NULL) {
		free(u);
		free(ku);
		return -ENOMEM;
	}
	for (size_t k = 0; k < nk; k++) {
		const struct result_key *key = &plan->keys[k];
		const struct conf_target *t = key->target;
		bool with_ref = t->reference != NULL && t->zone != NULL;

		row += key->reference ? 1 : t->n_queries;
		ku[k] = (uint32_t)n;
		/* A target with a reference is one unit: it ends with the
		 * target's last key (the reference's). */
		if (!with_ref || k + 1 == nk || plan->keys[k + 1].target != t) {
			u[n].end = (uint32_t)row;
			n++;
		}
	}
	free(*units);
	free(*key_unit);
	*units = u;
	*key_unit = ku;
	*n_units = n;
	return 0;
}

/* Each target's timeout FIFOs and attempt limits. */
static int tprops_init(struct probe *p)
{
	for (size_t i = 0; i < p->conf->n_targets; i++) {
		const struct conf_target *t = &p->conf->targets[i];
		struct tprops *tp = &p->tprops[i];

		for (int id = 0; id < 2; id++) {
			int64_t timeout = t->timeout_ns;
			unsigned attempts = 1 + t->retries;

			if (id && t->identity_timeout_ns > 0) {
				/* Identity queries never hold a round longer
				 * than identity_timeout, retries included. */
				int64_t cap = t->identity_timeout_ns;

				if (timeout > cap)
					timeout = cap;
				if ((int64_t)attempts * timeout > cap)
					attempts = (unsigned)(cap / timeout);
				if (attempts < 1)
					attempts = 1;
			}
			if (attempts > 255)
				attempts = 255;
			if (fifo_for(p, timeout, &tp->fifo[id]) < 0)
				return -ENOSPC;
			tp->max_attempts[id] = (uint8_t)attempts;
		}
	}
	return 0;
}

int probe_new(struct probe **out, const struct conf *conf, struct loop *loop)
{
	return probe_new_ops(out, conf, loop, NULL);
}

int probe_new_ops(struct probe **out, const struct conf *conf,
                  struct loop *loop, const struct tr_ops *const *ops)
{
	struct probe *p = calloc(1, sizeof(*p));
	unsigned used = 0;
	int rc;

	if (p == NULL)
		return -ENOMEM;
	p->conf = conf;
	p->loop = loop;
	p->pacer.fn = pace_fire;
	rc = plan_new(&p->plan, conf);
	if (rc < 0)
		goto fail;
	rc = identity_new(&p->identity, conf);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < conf->n_targets && p->cookies == NULL; i++) {
		if (conf->targets[i].cookies && conf->targets[i].edns_size > 0 &&
		    (rc = cookie_jar_new(&p->cookies)) < 0)
			goto fail;
	}
	rc = -ENOMEM;
	p->n = p->plan->n_rows;
	p->rows = calloc(p->n ? p->n : 1, sizeof(*p->rows));
	p->jobs = calloc(p->n ? p->n : 1, sizeof(*p->jobs));
	p->tprops =
	    calloc(conf->n_targets ? conf->n_targets : 1, sizeof(*p->tprops));
	if (p->rows == NULL || p->jobs == NULL || p->tprops == NULL)
		goto fail;
	if (p->n >= NONE) {
		rc = -E2BIG;
		goto fail;
	}
	plan_rows_init(p->plan, p->rows);
	rc = units_build(p->plan, &p->units, &p->key_unit, &p->n_units);
	if (rc < 0)
		goto fail;
	rc = tprops_init(p);
	if (rc < 0) {
		log_msg(LOG_ERROR, "more than %d distinct timeouts", MAX_FIFOS);
		goto fail;
	}
	/* The pacer, the FIFOs and main's own: arming never fails then. */
	rc = loop_timer_reserve(loop, MAX_FIFOS + 16);
	if (rc < 0)
		goto fail;
	for (size_t k = 0; k < p->plan->n_keys; k++)
		used |= 1u << p->plan->keys[k].transport;
	for (size_t t = 0; t < transport_count && t < TR_MAX; t++) {
		struct tr_env env = {.conf = conf,
		                     .loop = loop,
		                     .sched = p,
		                     .done = tr_done_cb,
		                     .unblocked = tr_unblocked_cb,
		                     .dropped = tr_dropped_cb,
		                     .index = t,
		                     .cookies = p->cookies};

		p->q[t].head = p->q[t].tail = NONE;
		if (!(used & (1u << t)))
			continue;
		p->q[t].ops = ops && ops[t] ? ops[t] : transport_table[t].ops;
		if (p->q[t].ops == NULL) {
			log_msg(LOG_ERROR,
			        "transport %s is not available in "
			        "this build",
			        transport_table[t].name);
			rc = -ENOTSUP;
			goto fail;
		}
		rc = p->q[t].ops->create(&p->q[t].tr, &env);
		if (rc < 0) {
			log_msg(LOG_ERROR, "cannot set up %s: %s",
			        transport_table[t].name, strerror(-rc));
			goto fail;
		}
	}
	*out = p;
	return 0;
fail:
	probe_free(p);
	return rc;
}

void probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	if (p->running)
		probe_round_abort(p);
	loop_timer_cancel(p->loop, &p->pacer);
	for (size_t i = 0; i < p->n_fifos; i++)
		loop_timer_cancel(p->loop, &p->fifos[i].timer);
	for (size_t t = 0; t < TR_MAX; t++)
		if (p->q[t].ops && p->q[t].tr)
			p->q[t].ops->destroy(p->q[t].tr);
	arena_clear(&p->arena);
	identity_free(p->identity);
	cookie_jar_free(p->cookies);
	plan_free(p->plan);
	free(p->rows);
	free(p->jobs);
	free(p->tprops);
	free(p->units);
	free(p->key_unit);
	free(p);
}

/* After an aborted round, rows stand where compaction moved them: put
 * each row's history (inst_hist) back at its plan position. Descending, a
 * row only moves up (its place is at or after where it stands), so no
 * value is read after being overwritten. A dropped row whose place a moved
 * row took loses its history. */
static void uncompact(struct probe *p)
{
	if (!p->compacted)
		return;
	for (size_t i = p->n_results; i-- > 0;) {
		size_t pos = plan_row_pos(p->plan, &p->rows[i]);
		uint32_t h = p->rows[i].inst_hist;

		if (pos == i)
			continue;
		p->rows[i].inst_hist = 0;
		p->rows[pos].inst_hist = h;
	}
	p->compacted = false;
}

int probe_rebuild(struct probe *p)
{
	struct plan *plan;
	struct result *rows;
	struct job *jobs;
	int rc;

	if (p->running)
		return -EBUSY;
	rc = plan_new(&plan, p->conf);
	if (rc < 0)
		return rc;
	struct unit *units = NULL;
	uint32_t *key_unit = NULL;
	size_t n_units = 0;

	rows = calloc(plan->n_rows ? plan->n_rows : 1, sizeof(*rows));
	jobs = calloc(plan->n_rows ? plan->n_rows : 1, sizeof(*jobs));
	if (rows == NULL || jobs == NULL || plan->n_rows >= NONE ||
	    units_build(plan, &units, &key_unit, &n_units) < 0) {
		bool big = rows && jobs && plan->n_rows >= NONE;

		free(rows);
		free(jobs);
		free(units);
		free(key_unit);
		plan_free(plan);
		return big ? -E2BIG : -ENOMEM;
	}
	free(p->units);
	free(p->key_unit);
	p->units = units;
	p->key_unit = key_unit;
	p->n_units = n_units;
	p->next_unit = n_units;
	/* instance_changed history follows the rows' content: the old rows
	 * back in their places first. */
	uncompact(p);
	plan_rows_init(p->plan, p->rows);
	plan_rows_init(plan, rows);
	if (identity_replan(p->identity, p->plan, p->rows, p->n, plan, rows,
	                    plan->n_rows) < 0)
		log_msg(LOG_WARN, "out of memory: instance_changed history "
		                  "starts again");
	plan_free(p->plan);
	free(p->rows);
	free(p->jobs);
	p->plan = plan;
	p->rows = rows;
	p->jobs = jobs;
	p->n = plan->n_rows;
	p->n_results = 0;
	return 0;
}

int probe_add_pass(struct probe *p, void (*begin)(void *ctx),
                   void (*fn)(void *ctx, struct result *rows, size_t n),
                   void *ctx)
{
	if (p == NULL || fn == NULL)
		return -EINVAL;
	if (p->n_passes == MAX_PASSES)
		return -ENOSPC;
	p->passes[p->n_passes++] =
	    (struct pass){.begin = begin, .fn = fn, .ctx = ctx};
	return 0;
}

size_t probe_round_size(const struct probe *p)
{
	return p->n;
}

bool probe_round_running(const struct probe *p)
{
	return p->running;
}

uint64_t probe_rounds_done(const struct probe *p)
{
	return p->rounds_done;
}

const struct result *probe_results(const struct probe *p, size_t *n)
{
	*n = p->n_results;
	return p->rows;
}

/* Rows FROM..TO are final: the instance rule and the passes, in order. */
static void finalize(struct probe *p, size_t from, size_t to)
{
	if (to <= from)
		return;
	identity_rows(p->identity, p->rows + from, to - from);
	for (size_t i = 0; i < p->n_passes; i++)
		p->passes[i].fn(p->passes[i].ctx, p->rows + from, to - from);
	p->n_results = to;
}

size_t probe_rows_ready(struct probe *p)
{
	while (p->running && p->next_unit < p->n_units &&
	       p->units[p->next_unit].left == 0) {
		finalize(p, p->n_results, p->units[p->next_unit].end);
		p->next_unit++;
	}
	return p->n_results;
}

const struct probe_stats *probe_stats(const struct probe *p)
{
	return &p->stats;
}

const struct plan *probe_plan(const struct probe *p)
{
	return p->plan;
}

/* ---- ending a job ----------------------------------------------------- */

static void round_finish(struct probe *p);

void probe_maybe_finish(struct probe *p)
{
	if (p->running && !p->busy && p->done == p->n)
		round_finish(p);
}

void probe_job_done(struct probe *p, uint32_t j, enum result_kind kind,
                    const char *error)
{
	struct result *r = &p->rows[j];

	r->kind = (uint8_t)kind;
	if (!r->has_reply)
		r->cookie = RESULT_COOKIE_ABSENT; /* the resend mark */
	if (kind != RESULT_SUCCESS && !r->has_reply)
		r->rtt_ns = -1;
	if (kind == RESULT_ERROR && !r->has_reply && error != NULL)
		result_set_error(r, error); /* else row_fill set it */
	set_st(p, j, JOB_DONE);
	p->done++;
	p->units[p->key_unit[r->key->index]].left--;
	probe_maybe_finish(p);
}

/* A transport says how an attempt ended. */
static void tr_done_cb(void *sched, uint32_t j, const struct tr_done *d)
{
	struct probe *p = sched;
	enum result_kind kind;

	if (j >= p->n || st(p, j) != JOB_INFLIGHT)
		return;
	if (d->clock_fallback)
		p->stats.clock_fallbacks++;
	if (d->resend && p->rows[j].cookie != RESULT_COOKIE_OK) {
		/* BADCOOKIE: once more at once, with the server cookie now
		 * known (the row's cookie marks that it was resent). */
		p->rows[j].cookie = RESULT_COOKIE_OK;
		pace_queue_push_front(p, j);
		pace_kick(p);
		return;
	}
	kind = row_fill(&p->rows[j], d, &p->arena, &p->row_cache);
	probe_job_done(p, j, kind, NULL);
}

static void tr_unblocked_cb(void *sched, size_t t)
{
	struct probe *p = sched;

	if (t < TR_MAX && p->q[t].blocked) {
		p->q[t].blocked = false;
		pace_kick(p);
	}
}

static void tr_dropped_cb(void *sched, size_t t)
{
	struct probe *p = sched;

	(void)t;
	p->stats.dropped++;
}

/* ---- rounds ----------------------------------------------------------- */

int probe_round_start(struct probe *p)
{
	int64_t now;

	if (p->running)
		return -EBUSY;
	uncompact(p); /* before n_results is reset: it reads the last round */
	arena_reset(&p->arena);
	result_errors_reset();
	memset(&p->row_cache, 0, sizeof(p->row_cache));
	memset(&p->stats, 0, sizeof(p->stats));
	p->n_results = 0;
	p->next_unit = 0;
	for (size_t u = 0, start = 0; u < p->n_units; u++) {
		p->units[u].left = (uint32_t)(p->units[u].end - start);
		start = p->units[u].end;
	}
	identity_begin(p->identity);
	for (size_t i = 0; i < p->n_passes; i++)
		if (p->passes[i].begin)
			p->passes[i].begin(p->passes[i].ctx);
	p->done = 0;
	p->sent = 0;
	p->running = true;
	p->pacer_idle = false;
	for (size_t t = 0; t < TR_MAX; t++) {
		p->q[t].head = p->q[t].tail = NONE;
		p->q[t].blocked = false;
		if (p->q[t].tr && p->q[t].ops->round_begin)
			p->q[t].ops->round_begin(p->q[t].tr);
	}
	for (size_t i = 0; i < p->n_fifos; i++) {
		p->fifos[i].head = p->fifos[i].tail = NONE;
		loop_timer_cancel(p->loop, &p->fifos[i].timer);
	}
	plan_rows_init(p->plan, p->rows);
	for (size_t i = 0; i < p->n; i++) {
		struct result *r = &p->rows[i];

		r->rtt_ns = -1;
		r->hop_limit = -1;
		r->instance_changed = -1;
		if (target_has_ext(r->key->target))
			row_ext(r, &p->arena);
		pace_queue_push(p, (uint32_t)i);
	}
	now = clock_mono_ns();
	p->round_start_ns = p->pace_anchor_ns = p->lag_anchor_ns = now;
	p->stats.start_wall_ns = clock_wall_ns();
	if (p->n == 0) {
		round_finish(p);
		return 0;
	}
	loop_timer_set(p->loop, &p->pacer, now);
	return 0;
}

static void round_finish(struct probe *p)
{
	size_t kept = 0;

	p->stats.duration_ns = clock_mono_ns() - p->round_start_ns;
	p->stats.sent = p->sent;
	loop_timer_cancel(p->loop, &p->pacer);
	for (size_t i = 0; i < p->n_fifos; i++)
		loop_timer_cancel(p->loop, &p->fifos[i].timer);
	pace_watch_all(p, true);
	/* The units whose jobs all ended, as during the round; then the
	 * rest of an aborted round: its rows that never ended are left out,
	 * the others keep plan order (a group's rows stay adjacent). */
	probe_rows_ready(p);
	kept = p->n_results;
	for (size_t i = p->n_results; i < p->n; i++) {
		if (st(p, (uint32_t)i) != JOB_DONE)
			continue;
		if (kept != i) {
			p->rows[kept] = p->rows[i];
			p->compacted = true;
		}
		kept++;
	}
	finalize(p, p->n_results, kept);
	p->next_unit = p->n_units;
	for (size_t i = 0; i < kept; i++) {
		const struct result *r = &p->rows[i];

		p->stats.queries++;
		if (r->has_reply)
			p->stats.answered++;
		if (r->kind == RESULT_TIMEOUT)
			p->stats.timeouts++;
		else if (r->kind == RESULT_ERROR)
			p->stats.errors++;
	}
	for (size_t i = 0; i < p->n; i++)
		set_st(p, (uint32_t)i, JOB_IDLE);
	p->running = false;
	p->rounds_done++;
}

size_t probe_round_abort(struct probe *p)
{
	size_t dropped = 0;

	if (!p->running)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		struct tqueue *q = &p->q[p->rows[i].key->transport];
		enum job_state s = st(p, (uint32_t)i);

		if (s == JOB_DONE)
			continue;
		if (s == JOB_INFLIGHT)
			q->ops->cancel(q->tr, (uint32_t)i, &p->jobs[i].slot);
		set_st(p, (uint32_t)i, JOB_IDLE);
		dropped++;
	}
	p->busy = false;
	round_finish(p);
	return dropped;
}
