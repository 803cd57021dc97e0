/*
 * tr_tls: DNS over TLS (RFC 7858), the `tls` transport. One connection per
 * (target, server) and round, opened by the first query of the round and
 * closed at round_end; every query of that server in the round is
 * pipelined on it (RFC 7858 3.3: several in flight, answers matched by
 * message ID and question, in any order). The TLS session outlives the
 * connection, so the next round resumes it (tls_resumed).
 *
 * Messages carry TCP's two-byte length prefix (RFC 1035 4.2.2), read with
 * frame.h's reader as tr_tcp.c does: SSL_read() up to the end of the
 * current message, so a record holding several answers stays inside
 * OpenSSL (SSL_pending) between reads; tls.c brings the reader back for
 * those bytes when the per-event budget runs out.
 *
 * In flight per connection: a table of DOT_SLOTS entries; a query's
 * message ID is its entry index in the low byte and the entry's use count
 * in the high byte, so a reply finds its entry in O(1) and a late reply to
 * a cancelled query (old count) matches nothing. A full table or write
 * buffer makes send() answer TR_BLOCKED, and unblocked() follows when an
 * entry or buffer space frees up.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "frame.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "result.h"
#include "tls.h"
#include "tls_pool.h"
#include "transport.h"

#define DOT_SLOTS 256
#define DOT_READS 64 /* reads per event before yielding */

struct dot_flight {
	const struct dnsmsg_query *tmpl;
	uint64_t end;    /* tls_conn.queued after this query's last byte */
	int64_t sent_ns; /* when SSL_write took it; 0: not yet */
	uint32_t job;
	uint8_t gen;
	bool used;
};

struct dot_conn {
	struct tls_conn tc; /* first: callbacks cast back */
	struct tr *tr;
	struct tls_key key;
	size_t index; /* in tr->conns: what slot->v names */
	char ip_text[64];
	char *name; /* tls_name or the server's host name; NULL: the IP */
	struct tls_infos infos;
	struct dot_flight fl[DOT_SLOTS];
	unsigned n_flight;
	unsigned unwritten;     /* entries not yet taken by SSL_write */
	unsigned cursor;        /* where the search for a free entry starts */
	bool blocked;           /* send() said TR_BLOCKED */
	struct frame_reader fr; /* FRAME_MAX bytes */
};

struct tr {
	struct tr_env env;
	struct tls_clients clients;
	struct tls_table conns; /* struct dot_conn by key */
	size_t pending;
};

/* slot->v: (connection index + 1) << 14 | the entry's use count (6 bits)
 * << 8 | the entry. 0: nothing in flight. */
#define SLOT_V(conn, i, gen)                                                   \
	((uint32_t)((conn) + 1) << 14 | (uint32_t)((gen)&0x3f) << 8 |          \
	 (uint32_t)(i))

static void conn_done(struct dot_conn *c, unsigned i, const struct tr_done *d)
{
	struct tr *tr = c->tr;
	uint32_t job = c->fl[i].job;

	if (c->fl[i].sent_ns == 0 && c->unwritten > 0)
		c->unwritten--;
	c->fl[i].used = false;
	c->n_flight--;
	tr->pending--;
	tr->env.done(tr->env.sched, job, d);
}

static void maybe_unblock(struct dot_conn *c)
{
	if (c->blocked && c->n_flight < DOT_SLOTS &&
	    tls_conn_room(&c->tc) >= 2 + 512) {
		c->blocked = false;
		c->tr->env.unblocked(c->tr->env.sched, c->tr->env.index);
	}
}

static void fail_all(struct dot_conn *c, int err, const char *error)
{
	struct tr_done d = {.err = err < 0 ? err : -EIO,
	                    .error = error,
	                    .rtt_ns = -1,
	                    .hop_limit = -1,
	                    .conn = c->infos.cur};

	for (unsigned i = 0; i < DOT_SLOTS && c->n_flight > 0; i++)
		if (c->fl[i].used)
			conn_done(c, i, &d);
	c->unwritten = 0;
	maybe_unblock(c);
}

static void mark_written(struct dot_conn *c)
{
	int64_t now;

	if (c->unwritten == 0)
		return;
	now = clock_mono_ns();
	for (unsigned i = 0; i < DOT_SLOTS && c->unwritten > 0; i++) {
		struct dot_flight *f = &c->fl[i];

		if (f->used && f->sent_ns == 0 && f->end <= c->tc.written) {
			f->sent_ns = now;
			c->unwritten--;
		}
	}
}

static void on_open(struct tls_conn *tc)
{
	(void)tc; /* the connection flushes what was queued */
}

static void on_written(struct tls_conn *tc)
{
	struct dot_conn *c = (struct dot_conn *)tc;

	mark_written(c);
	maybe_unblock(c);
}

static void on_failed(struct tls_conn *tc, int err, const char *error)
{
	fail_all((struct dot_conn *)tc, err, error);
}

/* One whole message of LEN bytes at MSG. */
static void on_message(struct dot_conn *c, const uint8_t *msg, size_t len,
                       int64_t now)
{
	struct tr *tr = c->tr;
	struct dnsmsg_reply reply;
	struct dot_flight *f;
	uint16_t id;
	unsigned i;
	int rc;

	rc = dnsmsg_reply_parse(msg, len, &reply);
	id = len >= 2 ? dnsmsg_get_id(msg) : 0;
	i = id & 0xff;
	f = &c->fl[i];
	if (len < 2 || !f->used || f->gen != id >> 8 || f->sent_ns == 0 ||
	    (rc == 0 && !dnsmsg_question_matches(f->tmpl, &reply))) {
		tr->env.dropped(tr->env.sched, tr->env.index);
		return;
	}
	if (rc < 0) {
		struct tr_done d = {.err = -EBADMSG,
		                    .error = "malformed response",
		                    .rtt_ns = -1,
		                    .hop_limit = -1,
		                    .conn = c->infos.cur};

		conn_done(c, i, &d);
	} else {
		struct tr_done d = {.reply = &reply,
		                    .wire = msg,
		                    .wire_len = len,
		                    .rtt_ns = now - f->sent_ns,
		                    .hop_limit = -1,
		                    .conn = c->infos.cur};

		conn_done(c, i, &d);
	}
	maybe_unblock(c);
}

static void on_readable(struct tls_conn *tc)
{
	struct dot_conn *c = (struct dot_conn *)tc;

	for (int reads = 0; reads < DOT_READS; reads++) {
		ssize_t n = tls_conn_read(tc, c->fr.buf + c->fr.have,
		                          frame_room(&c->fr));
		int rc;

		if (n == -EAGAIN)
			return;
		if (n < 0) {
			tls_conn_fail(tc, (int)n, net_strerror((int)n));
			return;
		}
		rc = frame_got(&c->fr, (size_t)n);
		if (rc < 0) {
			tls_conn_fail(tc, -EBADMSG, "malformed response");
			return;
		}
		if (rc == 0)
			continue;
		c->fr.have = 0;
		on_message(c, c->fr.buf + 2, frame_len(&c->fr),
		           clock_mono_ns());
		if (tc->state != TLS_OPEN)
			return;
	}
	/* Budget spent: tls.c comes back at once if OpenSSL holds bytes. */
}

static const struct tls_conn_ops dot_ops = {
    .open = on_open,
    .readable = on_readable,
    .written = on_written,
    .failed = on_failed,
};

static void conn_free(void *p)
{
	struct dot_conn *c = p;

	tls_conn_clear(&c->tc);
	free(c->fr.buf);
	free(c->name);
	free(c);
}

static struct dot_conn *conn_get(struct tr *tr, const struct tr_query *q)
{
	struct tls_key key;
	struct dot_conn *c;
	struct tls_client *cl;
	int rc;

	tls_key_make(&key, q->key);
	c = tls_table_find(&tr->conns, &key);
	if (c != NULL)
		return c;
	cl = tls_clients_get(&tr->clients, tr->env.conf, q->key->target);
	if (cl == NULL)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fr.buf = malloc(FRAME_MAX);
	if (c->fr.buf == NULL ||
	    tls_conn_setup(&c->tc, &key, q->key->target, q->server, &c->name,
	                   c->ip_text, sizeof(c->ip_text)) < 0 ||
	    (rc = tls_table_add(&tr->conns, &key, c)) < 0) {
		free(c->fr.buf);
		free(c->name);
		free(c);
		return NULL;
	}
	c->index = (size_t)rc;
	c->key = key;
	c->tr = tr;
	c->tc.client = cl;
	c->tc.loop = tr->env.loop;
	c->tc.ops = &dot_ops;
	c->tc.arg = c;
	return c;
}

static enum tr_send_result send_one(struct tr *tr, struct tr_query *q)
{
	const struct dnsmsg_query *t = q->tmpl;
	struct dot_conn *c = conn_get(tr, q);
	uint8_t frame[2 + 2];
	struct dot_flight *f;
	unsigned i;
	int rc;

	if (c == NULL) {
		struct tr_done d = {.err = -ENOMEM,
		                    .error = net_strerror(ENOMEM),
		                    .rtt_ns = -1,
		                    .hop_limit = -1};

		tr->env.done(tr->env.sched, q->job, &d);
		return TR_FAILED;
	}
	if (c->n_flight >= DOT_SLOTS || tls_conn_room(&c->tc) < 2 + t->len) {
		c->blocked = true;
		return TR_BLOCKED;
	}
	for (i = c->cursor;; i = (i + 1) % DOT_SLOTS)
		if (!c->fl[i].used)
			break;
	c->cursor = (i + 1) % DOT_SLOTS;
	f = &c->fl[i];
	f->used = true;
	f->gen++;
	f->job = q->job;
	f->tmpl = t;
	f->sent_ns = 0;
	frame_prefix(frame, t->len);
	frame[2] = f->gen;
	frame[3] = (uint8_t)i;
	/* The prefix and the ID, then the rest of the template. */
	tls_conn_queue(&c->tc, frame, sizeof(frame));
	tls_conn_queue(&c->tc, t->wire + 2, t->len - 2);
	f->end = c->tc.queued;
	c->n_flight++;
	c->unwritten++;
	tr->pending++;
	q->slot->v = SLOT_V(c->index, i, f->gen);
	if (c->tc.state == TLS_IDLE) {
		rc = tls_conn_start(&c->tc, tls_infos_next(&c->infos));
		if (rc < 0) {
			fail_all(c, rc, net_strerror(rc));
			return TR_FAILED;
		}
	} else if (c->tc.state == TLS_OPEN) {
		rc = tls_conn_flush(&c->tc);
		if (rc < 0) {
			/* This query's row and the others on the connection. */
			tls_conn_fail(&c->tc, rc, net_strerror(rc));
			return TR_FAILED;
		}
		mark_written(c);
	}
	return TR_SENT;
}

static size_t dot_send(struct tr *tr, struct tr_query *q, size_t n,
                       enum tr_send_result *res)
{
	for (size_t i = 0; i < n; i++) {
		res[i] = send_one(tr, &q[i]);
		if (res[i] == TR_BLOCKED)
			return i + 1;
	}
	return n;
}

static const char *dot_cancel(struct tr *tr, uint32_t job, struct tr_slot *slot)
{
	struct dot_conn *c;
	struct dot_flight *f;

	size_t ci = slot->v >> 14;

	if (ci == 0 || ci > tr->conns.n)
		return NULL;
	c = tr->conns.items[ci - 1];
	f = &c->fl[slot->v & 0xff];
	if (!f->used || f->job != job ||
	    (f->gen & 0x3f) != (slot->v >> 8 & 0x3f))
		return NULL;
	if (f->sent_ns == 0 && c->unwritten > 0)
		c->unwritten--;
	f->used = false;
	c->n_flight--;
	tr->pending--;
	slot->v = 0;
	maybe_unblock(c);
	return NULL; /* a mismatched answer is dropped (counted), not kept */
}

static size_t dot_pending(const struct tr *tr)
{
	return tr->pending;
}

/* Read what has arrived on every connection with queries in flight. */
static void dot_drain(struct tr *tr)
{
	if (tr->pending == 0)
		return;
	for (size_t i = 0; i < tr->conns.n; i++) {
		struct dot_conn *c = tr->conns.items[i];

		if (c->n_flight > 0 && c->tc.state == TLS_OPEN)
			on_readable(&c->tc);
	}
}

static void dot_round_begin(struct tr *tr)
{
	for (size_t i = 0; i < tr->conns.n; i++) {
		struct dot_conn *c = tr->conns.items[i];

		tls_conn_close(&c->tc); /* the session stays */
		for (unsigned k = 0; k < DOT_SLOTS; k++)
			c->fl[k].used = false;
		tr->pending -= c->n_flight;
		c->n_flight = c->unwritten = 0;
		c->fr.have = 0;
		c->blocked = false;
		tls_infos_reset(&c->infos);
	}
}

static void dot_destroy(struct tr *tr)
{
	if (tr == NULL)
		return;
	tls_table_clear(&tr->conns, conn_free);
	tls_clients_clear(&tr->clients);
	free(tr);
}

static int dot_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));
	int rc;

	if (tr == NULL)
		return -ENOMEM;
	tr->env = *env;
	rc = tls_clients_init(&tr->clients, env->conf, env->index,
	                      (const unsigned char *)"\x03"
	                                             "dot",
	                      4);
	if (rc < 0) {
		dot_destroy(tr);
		return rc;
	}
	*out = tr;
	return 0;
}

const struct tr_ops tr_tls_ops = {
    .create = dot_create,
    .destroy = dot_destroy,
    .send = dot_send,
    .cancel = dot_cancel,
    .pending = dot_pending,
    .drain = dot_drain,
    .round_begin = dot_round_begin,
};
