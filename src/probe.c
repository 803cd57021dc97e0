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
 *   end: when every job has ended, the passes run (identity first), and the
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
#include "dnsmsg.h"
#include "identity.h"
#include "log.h"
#include "plan.h"
#include "transport.h"

#define NONE 0x3fffffffu /* no next job: links are 30 bits */
#define SEND_BATCH 64 /* sends per pacer turn before yielding */
#define ARENA_CHUNK 65536
#define PACE_MAX_DEBT_NS (2 * NS_PER_MS)
#define PACE_QUANTUM_NS NS_PER_MS /* 2 sends a wake-up at 2,000/s */
#define PACE_QUIET_NS (2 * NS_PER_MS) /* wakes this often: drain ourselves */
#define BLOCKED_RETRY_NS NS_PER_MS
#define MAX_FIFOS 16
#define MAX_PASSES 8

enum job_state { JOB_IDLE, JOB_QUEUED, JOB_INFLIGHT, JOB_DONE };

/* 8 bytes: the transport's word, and the link (send queue or timeout FIFO,
 * 30 bits) with the state in the top 2 bits. What is the same for every
 * query of a target (the FIFO, the attempt limit) is in struct tprops. */
struct job {
	struct tr_slot slot;
	uint32_t link;
};

/* Per target, [0] for its queries, [1] for its identity queries. */
struct tprops {
	uint8_t fifo[2];
	uint8_t max_attempts[2]; /* 1 + retries, capped for identity */
};

struct fifo {
	struct loop_timer timer; /* first: the timer finds the FIFO */
	struct probe *probe;
	int64_t timeout_ns;
	uint32_t head, tail;
};

struct tqueue {
	uint32_t head, tail;
	bool blocked;       /* the transport refused a send */
	int64_t retry_ns;   /* when blocked: try again then; 0: on unblocked() */
	struct tr *tr;      /* NULL: not used by this config */
	const struct tr_ops *ops;
};

struct pass {
	void (*fn)(void *ctx, struct result *rows, size_t n);
	void *ctx;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	uint8_t data[ARENA_CHUNK];
};

struct probe {
	const struct conf *conf;
	struct loop *loop;
	struct plan *plan;
	struct identity *identity;
	struct result *rows;
	struct job *jobs;
	struct tprops *tprops; /* per conf target */
	size_t n;
	struct tqueue q[TR_MAX];
	struct fifo fifos[MAX_FIFOS];
	size_t n_fifos;
	struct loop_timer pacer;
	struct pass passes[MAX_PASSES];
	size_t n_passes;
	struct arena_chunk *arena, *arena_cur;
	/* round */
	bool running;
	bool busy; /* inside the pacer or a FIFO: the round ends after */
	bool pacer_idle;
	uint64_t rounds_done;
	size_t done;
	size_t n_results;
	uint64_t sent;
	int64_t round_start_ns;
	int64_t pace_anchor_ns; /* schedule origin, with stalls forgiven */
	int64_t lag_anchor_ns;  /* the same without forgiveness: the truth */
	struct probe_stats stats;
};

static void pacer_fire(struct loop_timer *t);
static void fifo_fire(struct loop_timer *t);

/* ---- small helpers ---------------------------------------------------- */

static void *arena_alloc(struct probe *p, size_t len)
{
	struct arena_chunk *c = p->arena_cur;

	len = (len + 7) & ~(size_t)7;
	if (len > ARENA_CHUNK)
		return NULL;
	if (c == NULL || c->used + len > ARENA_CHUNK) {
		struct arena_chunk *next = c ? c->next : p->arena;

		if (next == NULL) {
			next = malloc(sizeof(*next));
			if (next == NULL)
				return NULL;
			next->next = NULL;
			if (c)
				c->next = next;
			else
				p->arena = next;
		}
		next->used = 0;
		c = p->arena_cur = next;
	}
	c->used += len;
	return c->data + c->used - len;
}

static const uint8_t *arena_copy(struct probe *p, const uint8_t *src,
                                 size_t len)
{
	uint8_t *dst = arena_alloc(p, len ? len : 1);

	if (dst != NULL)
		memcpy(dst, src, len);
	return dst;
}

static inline enum job_state st(const struct probe *p, uint32_t j)
{
	return (enum job_state)(p->jobs[j].link >> 30);
}

static inline void set_st(struct probe *p, uint32_t j, enum job_state s)
{
	p->jobs[j].link = (p->jobs[j].link & NONE) | (uint32_t)s << 30;
}

static inline uint32_t nxt(const struct probe *p, uint32_t j)
{
	return p->jobs[j].link & NONE;
}

static inline void set_nxt(struct probe *p, uint32_t j, uint32_t next)
{
	p->jobs[j].link = (p->jobs[j].link & ~NONE) | next;
}

static inline const struct tprops *props(const struct probe *p, uint32_t j)
{
	return &p->tprops[p->rows[j].key->target - p->conf->targets];
}

static inline uint8_t job_fifo(const struct probe *p, uint32_t j)
{
	return props(p, j)->fifo[p->rows[j].query->identity];
}

static inline unsigned job_max_attempts(const struct probe *p, uint32_t j)
{
	return props(p, j)->max_attempts[p->rows[j].query->identity];
}

static bool rcode_expected(const struct conf_query *q, int rcode)
{
	uint32_t expect = q->expect_rcodes ? q->expect_rcodes : 1;

	return rcode >= 0 && rcode < 32 && (expect >> rcode) & 1;
}

static bool target_has_ext(const struct conf_target *t)
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
	p->fifos[p->n_fifos] = (struct fifo){.timer.fn = fifo_fire,
	                                     .probe = p,
	                                     .timeout_ns = timeout_ns,
	                                     .head = NONE,
	                                     .tail = NONE};
	*out = (uint8_t)p->n_fifos++;
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
	p->pacer.fn = pacer_fire;
	rc = plan_new(&p->plan, conf);
	if (rc < 0)
		goto fail;
	rc = identity_new(&p->identity, conf);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	p->n = p->plan->n_rows;
	p->rows = calloc(p->n ? p->n : 1, sizeof(*p->rows));
	p->jobs = calloc(p->n ? p->n : 1, sizeof(*p->jobs));
	p->tprops = calloc(conf->n_targets ? conf->n_targets : 1,
	                   sizeof(*p->tprops));
	if (p->rows == NULL || p->jobs == NULL || p->tprops == NULL)
		goto fail;
	if (p->n >= NONE) {
		rc = -E2BIG;
		goto fail;
	}
	plan_rows_init(p->plan, p->rows);
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
		                     .index = t};

		p->q[t].head = p->q[t].tail = NONE;
		if (!(used & (1u << t)))
			continue;
		p->q[t].ops = ops && ops[t] ? ops[t] : transport_table[t].ops;
		if (p->q[t].ops == NULL) {
			log_msg(LOG_ERROR, "transport %s is not available in "
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
	while (p->arena) {
		struct arena_chunk *next = p->arena->next;

		free(p->arena);
		p->arena = next;
	}
	identity_free(p->identity);
	plan_free(p->plan);
	free(p->rows);
	free(p->jobs);
	free(p->tprops);
	free(p);
}

int probe_add_pass(struct probe *p,
                   void (*fn)(void *ctx, struct result *rows, size_t n),
                   void *ctx)
{
	if (p == NULL || fn == NULL)
		return -EINVAL;
	if (p->n_passes == MAX_PASSES)
		return -ENOSPC;
	p->passes[p->n_passes++] = (struct pass){.fn = fn, .ctx = ctx};
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

const struct probe_stats *probe_stats(const struct probe *p)
{
	return &p->stats;
}

const struct plan *probe_plan(const struct probe *p)
{
	return p->plan;
}

/* ---- queues ----------------------------------------------------------- */

static void queue_push(struct probe *p, uint32_t j)
{
	struct tqueue *q = &p->q[p->rows[j].key->transport];

	p->jobs[j].link = NONE | (uint32_t)JOB_QUEUED << 30;
	if (q->tail == NONE)
		q->head = j;
	else
		set_nxt(p, q->tail, j);
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

static void watch_all(struct probe *p, bool on)
{
	for (size_t t = 0; t < TR_MAX; t++)
		if (p->q[t].tr && p->q[t].ops->watch)
			p->q[t].ops->watch(p->q[t].tr, on);
}

static void pacer_kick(struct probe *p)
{
	if (p->running && !loop_timer_armed(&p->pacer))
		loop_timer_set(p->loop, &p->pacer, clock_mono_ns());
}

/* ---- ending a job ----------------------------------------------------- */

static void round_finish(struct probe *p);

static void maybe_finish(struct probe *p)
{
	if (p->running && !p->busy && p->done == p->n)
		round_finish(p);
}

static void job_done(struct probe *p, uint32_t j, enum result_kind kind,
                     const char *error)
{
	struct result *r = &p->rows[j];

	r->kind = (uint8_t)kind;
	r->attempts = (uint8_t)(r->attempts);
	if (kind != RESULT_SUCCESS && !r->has_reply)
		r->rtt_ns = -1;
	if (kind == RESULT_ERROR && !r->has_reply)
		r->error = error;
	set_st(p, j, JOB_DONE);
	p->done++;
	maybe_finish(p);
}

/* A transport says how an attempt ended. */
static void tr_done_cb(void *sched, uint32_t j, const struct tr_done *d)
{
	struct probe *p = sched;
	struct result *r;
	const struct dnsmsg_reply *m;

	if (j >= p->n || st(p, j) != JOB_INFLIGHT)
		return;
	r = &p->rows[j];
	if (d->conn != NULL) {
		if (r->ext == NULL && (r->ext = arena_alloc(p, sizeof(*r->ext))))
			memset(r->ext, 0, sizeof(*r->ext));
		if (r->ext != NULL)
			r->ext->conn = d->conn;
	}
	if (d->err != 0 || d->reply == NULL) {
		r->hop_limit = -1;
		job_done(p, j, RESULT_ERROR,
		         d->error ? d->error : "network error");
		return;
	}
	m = d->reply;
	if (d->clock_fallback)
		p->stats.clock_fallbacks++;
	r->has_reply = true;
	r->rtt_ns = d->rtt_ns;
	r->rcode = (uint16_t)m->rcode;
	r->aa = m->aa;
	r->tc = m->tc;
	r->answers = (uint16_t)(m->ancount > 65535 ? 65535 : m->ancount);
	r->response_bytes =
	    (uint16_t)(m->size > 65535 ? 65535 : (uint16_t)m->size);
	r->has_serial = m->has_serial;
	r->serial = m->serial;
	r->hop_limit = (int16_t)d->hop_limit;
	r->http_status = (uint16_t)d->http_status;
	if (m->has_nsid) {
		r->nsid = arena_copy(p, m->nsid, m->nsid_len);
		r->nsid_len = r->nsid ? (uint16_t)m->nsid_len : 0;
	}
	if (r->query->identity && m->has_txt && m->rcode == 0) {
		r->identity = arena_copy(p, m->txt, m->txt_len);
		r->identity_len = r->identity ? (uint16_t)m->txt_len : 0;
	}
	if (r->ext != NULL && r->key->target->trust_anchor != NULL &&
	    d->wire != NULL) {
		r->ext->wire = arena_copy(p, d->wire, d->wire_len);
		r->ext->wire_len = r->ext->wire ? (uint32_t)d->wire_len : 0;
	}
	job_done(p, j,
	         rcode_expected(r->query, m->rcode) ? RESULT_SUCCESS
	                                            : RESULT_ERROR,
	         NULL);
}

static void tr_unblocked_cb(void *sched, size_t t)
{
	struct probe *p = sched;

	if (t < TR_MAX && p->q[t].blocked) {
		p->q[t].blocked = false;
		pacer_kick(p);
	}
}

static void tr_dropped_cb(void *sched, size_t t)
{
	struct probe *p = sched;

	(void)t;
	p->stats.dropped++;
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

static void pacer_fire(struct loop_timer *t)
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
		int64_t truth = p->lag_anchor_ns +
		                (int64_t)(p->sent * (uint64_t)NS_PER_SEC / rate);
		struct tqueue *q;
		size_t n_due;

		if (queues_empty(p)) {
			p->pacer_idle = true;
			watch_all(p, true);
			break;
		}
		q = next_queue(p, now);
		if (q == NULL) {
			int64_t when = blocked_retry(p);

			if (when != 0)
				loop_timer_set(p->loop, &p->pacer, when);
			watch_all(p, true);
			break;
		}
		if (due - now > 0) {
			/* At high rates wake at most every PACE_QUANTUM_NS and
			 * send what fell due meanwhile. */
			if (due - now < PACE_QUANTUM_NS)
				due = now + PACE_QUANTUM_NS;
			loop_timer_set(p->loop, &p->pacer, due);
			watch_all(p, due - now > PACE_QUIET_NS);
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
	maybe_finish(p);
}

/* ---- timeouts --------------------------------------------------------- */

static void job_timeout(struct probe *p, uint32_t j)
{
	struct tqueue *q = &p->q[p->rows[j].key->transport];
	const char *seen = q->ops->cancel(q->tr, j, &p->jobs[j].slot);

	if (p->rows[j].attempts < job_max_attempts(p, j)) {
		queue_push(p, j);
		pacer_kick(p);
		return;
	}
	p->rows[j].hop_limit = -1;
	if (seen)
		job_done(p, j, RESULT_ERROR, seen);
	else
		job_done(p, j, RESULT_TIMEOUT, NULL);
}

static void fifo_fire(struct loop_timer *t)
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
	maybe_finish(p);
}

/* ---- rounds ----------------------------------------------------------- */

int probe_round_start(struct probe *p)
{
	int64_t now;

	if (p->running)
		return -EBUSY;
	p->arena_cur = NULL;
	memset(&p->stats, 0, sizeof(p->stats));
	p->n_results = 0;
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
		if (target_has_ext(r->key->target)) {
			r->ext = arena_alloc(p, sizeof(*r->ext));
			if (r->ext)
				memset(r->ext, 0, sizeof(*r->ext));
		}
		queue_push(p, (uint32_t)i);
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
	watch_all(p, true);
	/* Rows of an aborted round that never ended are left out; the rest
	 * keep plan order (a group's rows stay adjacent). */
	for (size_t i = 0; i < p->n; i++) {
		if (st(p, (uint32_t)i) != JOB_DONE)
			continue;
		if (kept != i)
			p->rows[kept] = p->rows[i];
		kept++;
	}
	p->n_results = kept;
	identity_round(p->identity, p->plan, p->rows, kept);
	for (size_t i = 0; i < p->n_passes; i++)
		p->passes[i].fn(p->passes[i].ctx, p->rows, kept);
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
