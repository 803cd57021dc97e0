/*
 * pace: when queries go out and when attempts time out, for probe.c (see
 * the algorithm there): a send queue per transport in plan order, the
 * pacer that sends from them in batches at `rate` and drains the
 * transports while it wakes often, and the timeout FIFOs. No system calls
 * but the clock; the transports do the I/O.
 */
#include <errno.h>
#include <string.h>

#include "clock.h"
#include "probe_int.h"

/* ---- queues ----------------------------------------------------------- */

void pace_queue_push(struct probe *p, uint32_t j)
{
	struct tqueue *q = &p->q[p->rows[j].key->transport];

	p->jobs[j].link = NONE | (uint32_t)JOB_QUEUED << 30;
	if (q->tail == NONE)
		q->head = j;
	else
		set_nxt(p, q->tail, j);
	q->tail = j;
}

/* Before everything else of its transport (a BADCOOKIE resend). */
void pace_queue_push_front(struct probe *p, uint32_t j)
{
	struct tqueue *q = &p->q[p->rows[j].key->transport];

	p->jobs[j].link = q->head | (uint32_t)JOB_QUEUED << 30;
	q->head = j;
	if (q->tail == NONE)
		q->tail = j;
}

static uint32_t queue_pop(struct probe *p, struct tqueue *q)
{
	uint32_t j = q->head;

	q->head = nxt(p, j);
	if (q->head == NONE)
		q->tail = NONE;
	return j;
}

static bool queues_empty(const struct probe *p)
{
	for (size_t t = 0; t < TR_MAX; t++)
		if (p->q[t].head != NONE)
			return false;
	return true;
}

static void fifo_push(struct probe *p, uint32_t j)
{
	struct fifo *f = &p->fifos[job_fifo(p, j)];

	set_nxt(p, j, NONE);
	if (f->tail == NONE) {
		f->head = j;
		loop_timer_set(p->loop, &f->timer,
		               p->rows[j].rtt_ns + f->timeout_ns);
	} else {
		set_nxt(p, f->tail, j);
	}
	f->tail = j;
}

static void drain_all(struct probe *p)
{
	for (size_t t = 0; t < TR_MAX; t++)
		if (p->q[t].tr && p->q[t].ops->drain)
			p->q[t].ops->drain(p->q[t].tr);
}

void pace_watch_all(struct probe *p, bool on)
{
	for (size_t t = 0; t < TR_MAX; t++)
		if (p->q[t].tr && p->q[t].ops->watch)
			p->q[t].ops->watch(p->q[t].tr, on);
}

void pace_kick(struct probe *p)
{
	if (p->running && !loop_timer_armed(&p->pacer))
		loop_timer_set(p->loop, &p->pacer, clock_mono_ns());
}

/* ---- sending ---------------------------------------------------------- */

/* The unblocked queue whose head comes first in plan order. */
static struct tqueue *next_queue(struct probe *p, int64_t now)
{
	struct tqueue *best = NULL;

	for (size_t t = 0; t < TR_MAX; t++) {
		struct tqueue *q = &p->q[t];

		if (q->head == NONE)
			continue;
		if (q->blocked && q->retry_ns != 0 && q->retry_ns - now <= 0)
			q->blocked = false;
		if (q->blocked)
			continue;
		if (best == NULL || q->head < best->head)
			best = q;
	}
	return best;
}

/* When a blocked queue should be looked at again (0: on unblocked()). */
static int64_t blocked_retry(const struct probe *p)
{
	int64_t when = 0;

	for (size_t t = 0; t < TR_MAX; t++) {
		const struct tqueue *q = &p->q[t];

		if (q->head != NONE && q->blocked && q->retry_ns != 0 &&
		    (when == 0 || q->retry_ns - when < 0))
			when = q->retry_ns;
	}
	return when;
}

/* Send up to N due jobs from Q in one batch; returns how many left it. */
static size_t send_batch(struct probe *p, struct tqueue *q, size_t n,
                         int64_t now)
{
	struct tr_query tq[SEND_BATCH];
	enum tr_send_result res[SEND_BATCH];
	uint32_t ids[SEND_BATCH];
	size_t k = 0, looked, left = 0;
	uint32_t other = NONE;

	/* Stay in plan order: stop at the next head of another queue. */
	for (size_t t = 0; t < TR_MAX; t++)
		if (&p->q[t] != q && p->q[t].head != NONE && !p->q[t].blocked &&
		    p->q[t].head < other)
			other = p->q[t].head;
	while (k < n && q->head != NONE && (k == 0 || q->head < other)) {
		uint32_t j = queue_pop(p, q);
		struct result *r = &p->rows[j];

		if (r->attempts == 0)
			r->timestamp_ns = clock_wall_ns();
		r->attempts++;
		r->rtt_ns = now; /* the send time, while in flight */
		set_st(p, j, JOB_INFLIGHT);
		p->jobs[j].slot = (struct tr_slot){0};
		ids[k] = j;
		tq[k] = (struct tr_query){.job = j,
		                          .key = r->key,
		                          .server = r->key->server,
		                          .tmpl = plan_tmpl(p->plan, r),
		                          .slot = &p->jobs[j].slot};
		k++;
	}
	looked = q->ops->send(q->tr, tq, k, res);
	for (size_t i = 0; i < k; i++) {
		uint32_t j = ids[i];

		if (i >= looked || res[i] == TR_BLOCKED) {
			/* Not taken: back to the front, in order. */
			left++;
			continue;
		}
		p->sent++;
		if (res[i] == TR_SENT)
			fifo_push(p, j);
	}
	if (left > 0) {
		/* Put the untaken ones back at the head, keeping order. */
		for (size_t i = k; i-- > k - left;) {
			uint32_t j = ids[i];

			p->rows[j].attempts--;
			p->jobs[j].link = q->head | (uint32_t)JOB_QUEUED << 30;
			q->head = j;
			if (q->tail == NONE)
				q->tail = j;
		}
		q->blocked = true;
		/* A datagram transport is full for a moment; a stream
		 * transport says when a connection closes. */
		q->retry_ns = transport_table[q - p->q].datagram
		                  ? now + BLOCKED_RETRY_NS
		                  : 0;
	}
	return k - left;
}

void pace_fire(struct loop_timer *t)
{
	struct probe *p =
	    (struct probe *)((char *)t - offsetof(struct probe, pacer));
	unsigned rate = p->conf->rate ? p->conf->rate : 1;
	int64_t now;
	size_t batches = 0;

	if (!p->running)
		return;
	p->busy = true;
	drain_all(p);
	now = clock_mono_ns();
	if (p->pacer_idle) {
		/* Work after a pause (retries): the schedule restarts now,
		 * so the pause is not counted as lateness. */
		int64_t owed = (int64_t)(p->sent * (uint64_t)NS_PER_SEC / rate);

		p->pace_anchor_ns = p->lag_anchor_ns = now - owed;
		p->pacer_idle = false;
	}
	for (;;) {
		int64_t due = p->pace_anchor_ns +
		              (int64_t)(p->sent * (uint64_t)NS_PER_SEC / rate);
		int64_t truth =
		    p->lag_anchor_ns +
		    (int64_t)(p->sent * (uint64_t)NS_PER_SEC / rate);
		struct tqueue *q;
		size_t n_due;

		if (queues_empty(p)) {
			p->pacer_idle = true;
			pace_watch_all(p, true);
			break;
		}
		q = next_queue(p, now);
		if (q == NULL) {
			int64_t when = blocked_retry(p);

			if (when != 0)
				loop_timer_set(p->loop, &p->pacer, when);
			pace_watch_all(p, true);
			break;
		}
		if (due - now > 0) {
			/* At high rates wake at most every PACE_QUANTUM_NS and
			 * send what fell due meanwhile. */
			if (due - now < PACE_QUANTUM_NS)
				due = now + PACE_QUANTUM_NS;
			loop_timer_set(p->loop, &p->pacer, due);
			pace_watch_all(p, due - now > PACE_QUIET_NS);
			break;
		}
		/* Lateness against the schedule as asked: what the forgiven
		 * debt below hides from the pacing is kept here. */
		if (now - truth > p->stats.send_lag_ns)
			p->stats.send_lag_ns = now - truth;
		/* After a stall, catch up at most PACE_MAX_DEBT_NS worth of
		 * sends at once: a burst would overrun the server (and our
		 * own receive buffer) and make timeouts of our own. */
		if (now - due > PACE_MAX_DEBT_NS) {
			p->pace_anchor_ns += now - due - PACE_MAX_DEBT_NS;
			due = now - PACE_MAX_DEBT_NS;
		}
		if (++batches > 4) {
			/* Let replies in before sending on. */
			loop_timer_set(p->loop, &p->pacer, now);
			break;
		}
		n_due = (size_t)((now - due) * (int64_t)rate / NS_PER_SEC) + 1;
		if (n_due > SEND_BATCH)
			n_due = SEND_BATCH;
		send_batch(p, q, n_due, now);
		now = clock_mono_ns();
	}
	p->busy = false;
	probe_maybe_finish(p);
}

/* ---- timeouts --------------------------------------------------------- */

static void job_timeout(struct probe *p, uint32_t j)
{
	struct tqueue *q = &p->q[p->rows[j].key->transport];
	const char *seen = q->ops->cancel(q->tr, j, &p->jobs[j].slot);

	if (p->rows[j].attempts < job_max_attempts(p, j)) {
		pace_queue_push(p, j);
		pace_kick(p);
		return;
	}
	p->rows[j].hop_limit = -1;
	if (seen)
		probe_job_done(p, j, RESULT_ERROR, seen);
	else
		probe_job_done(p, j, RESULT_TIMEOUT, NULL);
}

void pace_fifo_fire(struct loop_timer *t)
{
	struct fifo *f = (struct fifo *)t;
	struct probe *p = f->probe;
	int64_t now;

	p->busy = true;
	/* What arrived before the deadline counts, even if the loop had not
	 * read it yet. */
	drain_all(p);
	now = clock_mono_ns();
	while (f->head != NONE) {
		uint32_t j = f->head;

		if (st(p, j) == JOB_INFLIGHT) {
			int64_t deadline = p->rows[j].rtt_ns + f->timeout_ns;

			if (deadline - now > 0) {
				loop_timer_set(p->loop, &f->timer, deadline);
				break;
			}
		}
		f->head = nxt(p, j);
		if (f->head == NONE)
			f->tail = NONE;
		if (st(p, j) == JOB_INFLIGHT)
			job_timeout(p, j);
	}
	p->busy = false;
	probe_maybe_finish(p);
}
