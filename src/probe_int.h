/*
 * probe_int: the scheduler's state, shared by probe.c (set-up, rounds, the
 * rows' ends) and pace.c (send queues, the pacer, timeout FIFOs). Not a
 * module interface: only those two files include it.
 */
#ifndef ANYCAST_PROBE_PROBE_INT_H
#define ANYCAST_PROBE_PROBE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "conf.h"
#include "identity.h"
#include "loop.h"
#include "plan.h"
#include "probe.h"
#include "result.h"
#include "row.h"
#include "transport.h"

#define NONE 0x3fffffffu /* no next job: links are 30 bits */
#define SEND_BATCH 64    /* sends per pacer turn before yielding */
#define PACE_MAX_DEBT_NS (2 * NS_PER_MS)
#define PACE_QUANTUM_NS NS_PER_MS     /* 2 sends a wake-up at 2,000/s */
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
	bool blocked;     /* the transport refused a send */
	int64_t retry_ns; /* when blocked: try again then; 0: on unblocked() */
	struct tr *tr;    /* NULL: not used by this config */
	const struct tr_ops *ops;
};

struct pass {
	void (*begin)(void *ctx); /* at a round's start; NULL: none */
	void (*fn)(void *ctx, struct result *rows, size_t n);
	void *ctx;
};

/* Rows that are final together: a group (a key's rows), or a whole target
 * with a reference (its groups and its reference row: serial_lag needs
 * both). Units are in plan order; rows [start of unit, end) are theirs. */
struct unit {
	uint32_t end;  /* one past the unit's last row */
	uint32_t left; /* jobs of the unit not ended this round */
};

struct probe {
	const struct conf *conf;
	struct loop *loop;
	struct plan *plan;
	struct identity *identity;
	struct cookie_jar *cookies; /* NULL: no target sends cookies */
	struct row_cache row_cache;
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
	struct unit *units;
	uint32_t *key_unit; /* per plan key: its unit */
	size_t n_units;
	size_t next_unit; /* the first unit not final yet */
	bool compacted;   /* an aborted round moved rows off their places */
	struct arena arena; /* the round's copied bytes and row details */
	/* round */
	bool running;
	bool busy; /* inside the pacer or a FIFO: the round ends after */
	bool pacer_idle;
	uint64_t rounds_done;
	size_t done;
	size_t n_results; /* rows [0, n_results) are final */
	uint64_t sent;
	int64_t round_start_ns;
	int64_t pace_anchor_ns; /* schedule origin, with stalls forgiven */
	int64_t lag_anchor_ns;  /* the same without forgiveness: the truth */
	struct probe_stats stats;
};

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

/* pace.c */
void pace_queue_push(struct probe *p, uint32_t j);
void pace_queue_push_front(struct probe *p, uint32_t j);
void pace_kick(struct probe *p);
void pace_watch_all(struct probe *p, bool on);
void pace_fire(struct loop_timer *t);
void pace_fifo_fire(struct loop_timer *t);

/* probe.c */
void probe_job_done(struct probe *p, uint32_t j, enum result_kind kind,
                    const char *error);
void probe_maybe_finish(struct probe *p);

#endif
