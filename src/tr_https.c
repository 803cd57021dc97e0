/*
 * tr_https: DNS over HTTPS (RFC 8484), the `https` transport: the ops,
 * connections, and the table that maps streams to the scheduler's queries.
 * Connections as in tr_tls.c (tls.c: one per target, server and round, the
 * TLS session kept across rounds; ALPN h2); on each, one HTTP/2 session
 * (doh.c: callbacks, requests, response checks) and one stream per query:
 * POST or GET as https_method says. The message ID is 0 (RFC 8484 4.1:
 * HTTP matches answers to queries), so a reply is its stream's; doh.c
 * still checks its question is the query's.
 *
 * A row's error, when the stream did not bring a DNS answer: doh.h's
 * stream errors, or
 *   http protocol error the connection broke HTTP/2 (or ALPN was not h2)
 *   http goaway         the connection closed after a GOAWAY
 * and the connection's own errors (tls.c) as for tr_tls.
 *
 * In flight per connection: DOH_SLOTS entries, each the stream's user
 * data; a full table makes send() answer TR_BLOCKED. Bodies go into 64 KiB
 * buffers from doh.c's free list, taken at a stream's first DATA and given
 * back when it closes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "doh.h"
#include "loop.h"
#include "net.h"
#include "result.h"
#include "tls.h"
#include "tls_pool.h"
#include "transport.h"

#define DOH_READS 64
#define DOH_RBUF 16384

struct tr {
	struct tr_env env;
	struct tls_clients clients;
	struct tls_table conns;
	struct doh_client h2; /* nghttp2 set-up, body buffers */
	size_t pending;
};

/* slot->v: (connection index + 1) << 14 | the entry's use count (6 bits)
 * << 8 | the entry. 0: nothing in flight. */
#define SLOT_V(conn, i, gen)                                                   \
	((uint32_t)((conn) + 1) << 14 | (uint32_t)((gen)&0x3f) << 8 |          \
	 (uint32_t)(i))

static void flight_free(struct doh_conn *c, struct doh_flight *f)
{
	if (f->sent_ns == 0 && f->end_queued && c->unwritten > 0)
		c->unwritten--;
	if (f->stream > 0 && c->h2 != NULL)
		nghttp2_session_set_stream_user_data(c->h2, f->stream, NULL);
	doh_body_put(&c->tr->h2, f->body);
	f->body = NULL;
	f->state = DOH_FREE;
	f->stream = 0;
	c->n_flight--;
	c->tr->pending--;
}

static void maybe_unblock(struct doh_conn *c)
{
	if (c->blocked && c->n_flight < DOH_SLOTS) {
		c->blocked = false;
		c->tr->env.unblocked(c->tr->env.sched, c->tr->env.index);
	}
}

static void flight_done(struct doh_conn *c, struct doh_flight *f,
                        struct tr_done *d)
{
	struct tr *tr = c->tr;
	uint32_t job = f->job;

	d->hop_limit = -1;
	d->http_status = f->status;
	d->conn = c->infos.cur;
	if (d->err != 0)
		d->rtt_ns = -1;
	flight_free(c, f);
	tr->env.done(tr->env.sched, job, d);
}

static void flight_fail(struct doh_conn *c, struct doh_flight *f, int err,
                        const char *error)
{
	struct tr_done d = {.err = err, .error = error};

	flight_done(c, f, &d);
}

/* doh.c's news of a stream that ended. */
static void stream_ended(struct doh_conn *c, struct doh_flight *f,
                         struct tr_done *d)
{
	flight_done(c, f, d);
	maybe_unblock(c);
}

static void fail_all(struct doh_conn *c, int err, const char *error)
{
	for (unsigned i = 0; i < DOH_SLOTS && c->n_flight > 0; i++)
		if (c->fl[i].state != DOH_FREE)
			flight_fail(c, &c->fl[i], err < 0 ? err : -EIO, error);
	c->unwritten = 0;
	maybe_unblock(c);
}

static void h2_close(struct doh_conn *c)
{
	if (c->h2 != NULL) {
		nghttp2_session_del(c->h2);
		c->h2 = NULL;
	}
	for (unsigned i = 0; i < DOH_SLOTS; i++)
		c->fl[i].stream = 0; /* its session is gone */
}

static void mark_written(struct doh_conn *c)
{
	int64_t now;

	if (c->unwritten == 0)
		return;
	now = clock_mono_ns();
	for (unsigned i = 0; i < DOH_SLOTS && c->unwritten > 0; i++) {
		struct doh_flight *f = &c->fl[i];

		if (f->state == DOH_SUBMITTED && f->end_queued &&
		    f->sent_ns == 0 && f->end <= c->tc.written) {
			f->sent_ns = now;
			c->unwritten--;
		}
	}
}

static void conn_fail(struct doh_conn *c, int err, const char *error)
{
	tls_conn_close(&c->tc);
	h2_close(c);
	fail_all(c, err, error);
}

/* Hand nghttp2's frames to the connection and write them. */
static void pump(struct doh_conn *c)
{
	int rc;

	if (c->busy || c->h2 == NULL || c->tc.state != TLS_OPEN)
		return;
	c->busy = true; /* callbacks inside may finish streams */
	rc = nghttp2_session_send(c->h2);
	c->busy = false;
	if (rc != 0) {
		conn_fail(c, -EPROTO, "http protocol error");
		return;
	}
	rc = tls_conn_flush(&c->tc);
	if (rc < 0) {
		conn_fail(c, rc, net_strerror(rc));
		return;
	}
	mark_written(c);
	if (!nghttp2_session_want_read(c->h2) &&
	    !nghttp2_session_want_write(c->h2)) {
		/* GOAWAY seen and every stream closed: the next query of the
		 * round opens a new connection. */
		tls_conn_close(&c->tc);
		h2_close(c);
		fail_all(c, -ECONNRESET,
		         c->goaway ? "http goaway" : "connection closed");
	}
}

/* ---- the TLS connection's callbacks ------------------------------------ */

/* The HTTP/2 session of a connection whose handshake is done: our
 * SETTINGS, then every query queued meanwhile. Returns 0 or -EPROTO. */
static int h2_start(struct doh_conn *c)
{
	if (doh_session_start(c) < 0)
		return -EPROTO;
	for (unsigned i = 0; i < DOH_SLOTS; i++)
		if (c->fl[i].state == DOH_QUEUED &&
		    doh_submit(c, &c->fl[i]) < 0)
			flight_fail(c, &c->fl[i], -EMSGSIZE,
			            net_strerror(EMSGSIZE));
	return 0;
}

static void on_open(struct tls_conn *tc)
{
	struct doh_conn *c = (struct doh_conn *)tc;

	if (!tls_conn_alpn_is(tc, "h2", 2) || h2_start(c) < 0) {
		conn_fail(c, -EPROTO, "http protocol error");
		return;
	}
	pump(c);
}

static void on_written(struct tls_conn *tc)
{
	struct doh_conn *c = (struct doh_conn *)tc;

	mark_written(c);
	pump(c); /* nghttp2 may have more than the buffer took */
}

static void on_failed(struct tls_conn *tc, int err, const char *error)
{
	struct doh_conn *c = (struct doh_conn *)tc;

	h2_close(c);
	fail_all(c, err, error);
}

static void on_readable(struct tls_conn *tc)
{
	struct doh_conn *c = (struct doh_conn *)tc;
	uint8_t buf[DOH_RBUF];

	for (int reads = 0; reads < DOH_READS; reads++) {
		ssize_t n = tls_conn_read(tc, buf, sizeof(buf));
		ssize_t used;

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			conn_fail(c, (int)n,
			          c->goaway ? "http goaway"
			                    : net_strerror((int)n));
			return;
		}
		if (c->h2 == NULL)
			return;
		c->busy = true;
		used = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
		c->busy = false;
		if (used < 0) {
			conn_fail(c, -EPROTO, "http protocol error");
			return;
		}
		if (tc->state != TLS_OPEN)
			return;
	}
	pump(c); /* WINDOW_UPDATE, SETTINGS ACK, requests sent meanwhile */
}

static const struct tls_conn_ops doh_ops = {
    .open = on_open,
    .readable = on_readable,
    .written = on_written,
    .failed = on_failed,
};

/* ---- ops ---------------------------------------------------------------- */

static void conn_free(void *p)
{
	struct doh_conn *c = p;

	tls_conn_clear(&c->tc);
	h2_close(c);
	free(c->name);
	free(c);
}

static struct doh_conn *conn_get(struct tr *tr, const struct tr_query *q)
{
	struct tls_key key;
	struct doh_conn *c;
	struct tls_client *cl;
	uint16_t port;
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
	if (tls_conn_setup(&c->tc, &key, q->key->target, q->server, &c->name,
	                   c->ip_text, sizeof(c->ip_text)) < 0 ||
	    (rc = tls_table_add(&tr->conns, &key, c)) < 0) {
		free(c->name);
		free(c);
		return NULL;
	}
	c->index = (size_t)rc;
	c->tr = tr;
	c->client = &tr->h2;
	c->target = q->key->target;
	c->tc.client = cl;
	c->tc.loop = tr->env.loop;
	c->tc.ops = &doh_ops;
	c->tc.arg = c;
	port = q->key->port;
	if (c->name != NULL)
		snprintf(c->authority, sizeof(c->authority), "%s", c->name);
	else if (key.addr.ss_family == AF_INET6)
		snprintf(c->authority, sizeof(c->authority), "[%s]",
		         c->ip_text);
	else
		snprintf(c->authority, sizeof(c->authority), "%s", c->ip_text);
	if (port != 443) {
		size_t l = strlen(c->authority);

		snprintf(c->authority + l, sizeof(c->authority) - l, ":%u",
		         port);
	}
	return c;
}

static enum tr_send_result send_one(struct tr *tr, struct tr_query *q)
{
	struct doh_conn *c = conn_get(tr, q);
	struct doh_flight *f;
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
	if (c->n_flight >= DOH_SLOTS) {
		c->blocked = true;
		return TR_BLOCKED;
	}
	for (i = c->cursor;; i = (i + 1) % DOH_SLOTS)
		if (c->fl[i].state == DOH_FREE)
			break;
	c->cursor = (i + 1) % DOH_SLOTS;
	f = &c->fl[i];
	memset(f, 0, offsetof(struct doh_flight, gen));
	f->gen++;
	f->state = DOH_QUEUED;
	f->ctype_ok = f->too_big = f->end_queued = false;
	f->conn = c;
	f->job = q->job;
	f->tmpl = q->tmpl;
	c->n_flight++;
	tr->pending++;
	q->slot->v = SLOT_V(c->index, i, f->gen);
	if (c->tc.state == TLS_IDLE) {
		h2_close(c);
		rc = tls_conn_start(&c->tc, tls_infos_next(&c->infos));
		if (rc < 0) {
			fail_all(c, rc, net_strerror(rc));
			return TR_FAILED;
		}
	} else if (c->tc.state == TLS_OPEN && c->h2 != NULL) {
		if (doh_submit(c, f) < 0) {
			flight_fail(c, f, -EMSGSIZE, net_strerror(EMSGSIZE));
			return TR_FAILED;
		}
		pump(c);
		if (f->state == DOH_FREE) /* the connection failed */
			return TR_FAILED;
	}
	return TR_SENT;
}

static size_t doh_send(struct tr *tr, struct tr_query *q, size_t n,
                       enum tr_send_result *res)
{
	for (size_t i = 0; i < n; i++) {
		res[i] = send_one(tr, &q[i]);
		if (res[i] == TR_BLOCKED)
			return i + 1;
	}
	return n;
}

static const char *doh_cancel(struct tr *tr, uint32_t job, struct tr_slot *slot)
{
	struct doh_conn *c;
	struct doh_flight *f;

	size_t ci = slot->v >> 14;

	if (ci == 0 || ci > tr->conns.n || (slot->v & 0xff) >= DOH_SLOTS)
		return NULL;
	c = tr->conns.items[ci - 1];
	f = &c->fl[slot->v & 0xff];
	if (f->state == DOH_FREE || f->job != job ||
	    (f->gen & 0x3f) != (slot->v >> 8 & 0x3f))
		return NULL;
	if (f->stream > 0 && c->h2 != NULL)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, f->stream,
		                          NGHTTP2_CANCEL);
	flight_free(c, f);
	slot->v = 0;
	pump(c);
	maybe_unblock(c);
	return NULL; /* a stream's answer ends it: nothing is kept */
}

static size_t doh_pending(const struct tr *tr)
{
	return tr->pending;
}

/* Read what has arrived on every connection with queries in flight. */
static void doh_drain(struct tr *tr)
{
	if (tr->pending == 0)
		return;
	for (size_t i = 0; i < tr->conns.n; i++) {
		struct doh_conn *c = tr->conns.items[i];

		if (c->n_flight > 0 && c->tc.state == TLS_OPEN)
			on_readable(&c->tc);
	}
}

static void doh_round_begin(struct tr *tr)
{
	for (size_t i = 0; i < tr->conns.n; i++) {
		struct doh_conn *c = tr->conns.items[i];

		if (c->h2 != NULL && c->tc.state == TLS_OPEN) {
			/* A polite GOAWAY before the close_notify. */
			nghttp2_session_terminate_session(c->h2,
			                                  NGHTTP2_NO_ERROR);
			pump(c);
		}
		tls_conn_close(&c->tc); /* the session stays */
		h2_close(c);
		for (unsigned k = 0; k < DOH_SLOTS; k++)
			if (c->fl[k].state != DOH_FREE)
				flight_free(c, &c->fl[k]);
		c->unwritten = 0;
		c->blocked = false;
		tls_infos_reset(&c->infos);
	}
}

static void doh_destroy(struct tr *tr)
{
	if (tr == NULL)
		return;
	tls_table_clear(&tr->conns, conn_free);
	tls_clients_clear(&tr->clients);
	doh_client_clear(&tr->h2);
	free(tr);
}

static int doh_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));
	int rc;

	if (tr == NULL)
		return -ENOMEM;
	tr->env = *env;
	rc = doh_client_init(&tr->h2, stream_ended);
	if (rc < 0) {
		free(tr);
		return rc;
	}
	rc = tls_clients_init(&tr->clients, env->conf, env->index,
	                      (const unsigned char *)"\x02h2", 3);
	if (rc < 0) {
		doh_destroy(tr);
		return rc;
	}
	*out = tr;
	return 0;
}

const struct tr_ops tr_https_ops = {
    .create = doh_create,
    .destroy = doh_destroy,
    .send = doh_send,
    .cancel = doh_cancel,
    .pending = doh_pending,
    .drain = doh_drain,
    .round_begin = doh_round_begin,
};
