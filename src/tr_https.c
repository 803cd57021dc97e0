/*
 * tr_https: DNS over HTTPS (RFC 8484) over HTTP/2 (libnghttp2), the `https`
 * transport. Connections as in tr_tls.c (tls.c: one per target, server and
 * round, the TLS session kept across rounds); on each, one HTTP/2 session
 * and one stream per query: POST with the message as body, or GET with
 * ?dns= and the message in base64url without padding (https_method). The
 * message ID is 0 (RFC 8484 4.1: HTTP matches answers to queries), so a
 * reply is its stream's; its question must still be the query's.
 *
 * A row's error, when the stream did not bring a DNS answer:
 *   http status N       a :status other than 200 (http_status = N)
 *   http content type   200, but not application/dns-message
 *   http stream reset   the server reset the stream (RST_STREAM)
 *   http goaway         the server sent GOAWAY before answering the stream
 *   http protocol error the connection broke HTTP/2 (or ALPN was not h2)
 *   malformed response  the body is not a DNS message (or over 65535 bytes)
 *   mismatched response the answer is for another question
 * and the connection's own errors (tls.c) as for tr_tls.
 *
 * In flight per connection: DOH_SLOTS entries, each the stream's user
 * data; a full table makes send() answer TR_BLOCKED. Bodies go into 64 KiB
 * buffers from a free list, taken at a stream's first DATA and given back
 * when it closes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "loop.h"
#include "net.h"
#include "result.h"
#include "tls.h"
#include "tls_pool.h"
#include "transport.h"

/* Streams in flight per connection. BIND 9.18.49 advertises 100 but closes
 * the connection when about 60 requests arrive at once (measured with
 * drive_tr -x: 57 fine, 58 all lost); 32 is well under that, and more
 * queries wait in the scheduler (TR_BLOCKED), where their timeout has not
 * started. */
#define DOH_SLOTS 32
#define DOH_BODY 65535
#define DOH_READS 64
#define DOH_RBUF 16384

enum doh_state { DOH_FREE = 0, DOH_QUEUED, DOH_SUBMITTED };

struct doh_flight {
	const struct dnsmsg_query *tmpl;
	struct doh_conn *conn;
	uint8_t *body;
	size_t body_len;
	size_t sent_off; /* request body bytes given to nghttp2 */
	uint64_t end;    /* tls_conn.queued after the request's last byte */
	int64_t sent_ns; /* when SSL_write took it; 0: not yet */
	int32_t stream;  /* 0: not submitted yet */
	uint32_t job;
	int status; /* :status; 0: none yet */
	uint8_t gen;
	enum doh_state state;
	bool ctype_ok;
	bool too_big;
	bool end_queued; /* the last frame went into the buffer */
};

struct doh_conn {
	struct tls_conn tc; /* first: callbacks cast back */
	struct tr *tr;
	size_t index;
	nghttp2_session *h2;
	char ip_text[64];
	char *name;
	char authority[300];
	struct tls_infos infos;
	struct doh_flight fl[DOH_SLOTS];
	unsigned n_flight;
	unsigned unwritten;
	unsigned cursor;
	bool blocked;
	bool goaway;
	bool busy; /* inside nghttp2: no session_send() now */
	const struct conf_target *target;
};

struct tr {
	struct tr_env env;
	struct tls_clients clients;
	struct tls_table conns;
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	uint8_t **bufs; /* free body buffers */
	size_t n_bufs, cap_bufs;
	size_t pending;
	char get_path[2048]; /* scratch for GET's :path */
};

/* slot->v: (connection index + 1) << 14 | the entry's use count (6 bits)
 * << 8 | the entry. 0: nothing in flight. */
#define SLOT_V(conn, i, gen)                                                   \
	((uint32_t)((conn) + 1) << 14 | (uint32_t)((gen)&0x3f) << 8 |          \
	 (uint32_t)(i))

/* "http status N" for every N (static: the `error` field keeps it). */
static const char *status_error(int status)
{
	static char text[1000][20];

	if (status < 0 || status > 999)
		return "http status";
	if (text[status][0] == '\0')
		snprintf(text[status], sizeof(text[0]), "http status %d",
		         status);
	return text[status];
}

static uint8_t *buf_get(struct tr *tr)
{
	if (tr->n_bufs > 0)
		return tr->bufs[--tr->n_bufs];
	return malloc(DOH_BODY);
}

static void buf_put(struct tr *tr, uint8_t *b)
{
	if (b == NULL)
		return;
	if (tr->n_bufs == tr->cap_bufs) {
		size_t cap = tr->cap_bufs ? tr->cap_bufs * 2 : 16;
		uint8_t **n = realloc(tr->bufs, cap * sizeof(*n));

		if (n == NULL) {
			free(b);
			return;
		}
		tr->bufs = n;
		tr->cap_bufs = cap;
	}
	tr->bufs[tr->n_bufs++] = b;
}

static void flight_free(struct doh_conn *c, struct doh_flight *f)
{
	if (f->sent_ns == 0 && f->end_queued && c->unwritten > 0)
		c->unwritten--;
	if (f->stream > 0 && c->h2 != NULL)
		nghttp2_session_set_stream_user_data(c->h2, f->stream, NULL);
	buf_put(c->tr, f->body);
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

static void b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	    "vwxyz0123456789-_";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		*out++ = a[v >> 18];
		*out++ = a[v >> 12 & 63];
		*out++ = a[v >> 6 & 63];
		*out++ = a[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		*out++ = a[v >> 18];
		*out++ = a[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8;

		*out++ = a[v >> 18];
		*out++ = a[v >> 12 & 63];
		*out++ = a[v >> 6 & 63];
	}
	*out = '\0';
}

/* The request body: the template with ID 0. */
static ssize_t body_read(nghttp2_session *s, int32_t stream, uint8_t *buf,
                         size_t len, uint32_t *flags, nghttp2_data_source *src,
                         void *user)
{
	struct doh_flight *f = src->ptr;
	const struct dnsmsg_query *t = f->tmpl;
	size_t n = t->len - f->sent_off;

	(void)s;
	(void)stream;
	(void)user;
	if (n > len)
		n = len;
	memcpy(buf, t->wire + f->sent_off, n);
	for (size_t i = f->sent_off; i < 2 && i - f->sent_off < n; i++)
		buf[i - f->sent_off] = 0;
	f->sent_off += n;
	if (f->sent_off == t->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

#define NV(n, v, vlen)                                                         \
	{                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, (vlen),         \
		    NGHTTP2_NV_FLAG_NONE                                       \
	}

static int submit(struct doh_conn *c, struct doh_flight *f)
{
	struct tr *tr = c->tr;
	const struct conf_target *t = c->target;
	const char *path = t->https_path ? t->https_path : "/dns-query";
	char clen[16];
	nghttp2_data_provider prov = {.source.ptr = f,
	                              .read_callback = body_read};
	int32_t id;

	snprintf(clen, sizeof(clen), "%zu", f->tmpl->len);
	if (t->https_get) {
		uint8_t wire[DNSMSG_MAX_NAME + 600];
		size_t pl = strlen(path);

		if (f->tmpl->len > sizeof(wire) ||
		    pl + 6 + (f->tmpl->len * 4 + 2) / 3 + 1 >
		        sizeof(tr->get_path))
			return -EMSGSIZE;
		memcpy(wire, f->tmpl->wire, f->tmpl->len);
		dnsmsg_set_id(wire, 0);
		memcpy(tr->get_path, path, pl);
		memcpy(tr->get_path + pl,
		       strchr(path, '?') ? "&dns=" : "?dns=", 5);
		b64url(wire, f->tmpl->len, tr->get_path + pl + 5);
		path = tr->get_path;
	}
	{
		nghttp2_nv get[] = {
		    NV(":method", "GET", 3),
		    NV(":scheme", "https", 5),
		    NV(":authority", c->authority, strlen(c->authority)),
		    NV(":path", path, strlen(path)),
		    NV("accept", "application/dns-message", 23),
		};
		nghttp2_nv post[] = {
		    NV(":method", "POST", 4),
		    NV(":scheme", "https", 5),
		    NV(":authority", c->authority, strlen(c->authority)),
		    NV(":path", path, strlen(path)),
		    NV("accept", "application/dns-message", 23),
		    NV("content-type", "application/dns-message", 23),
		    NV("content-length", clen, strlen(clen)),
		};

		if (t->https_get)
			id = nghttp2_submit_request(c->h2, NULL, get, 5, NULL,
			                            f);
		else
			id = nghttp2_submit_request(c->h2, NULL, post, 7, &prov,
			                            f);
	}
	if (id < 0)
		return -EPROTO;
	f->stream = id;
	f->state = DOH_SUBMITTED;
	return 0;
}

/* ---- nghttp2 callbacks ------------------------------------------------- */

static ssize_t cb_send(nghttp2_session *s, const uint8_t *data, size_t len,
                       int flags, void *user)
{
	struct doh_conn *c = user;
	size_t n = tls_conn_room(&c->tc);

	(void)s;
	(void)flags;
	if (n == 0)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (n > len)
		n = len;
	tls_conn_queue(&c->tc, data, n);
	return (ssize_t)n;
}

static int cb_frame_send(nghttp2_session *s, const nghttp2_frame *fr,
                         void *user)
{
	struct doh_conn *c = user;
	struct doh_flight *f;

	if (!(fr->hd.flags & NGHTTP2_FLAG_END_STREAM) ||
	    (fr->hd.type != NGHTTP2_HEADERS && fr->hd.type != NGHTTP2_DATA))
		return 0;
	f = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (f == NULL || f->end_queued)
		return 0;
	f->end_queued = true;
	f->end = c->tc.queued;
	c->unwritten++;
	return 0;
}

static int cb_header(nghttp2_session *s, const nghttp2_frame *fr,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen, uint8_t flags, void *user)
{
	struct doh_flight *f;

	(void)flags;
	(void)user;
	if (fr->hd.type != NGHTTP2_HEADERS)
		return 0;
	f = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (f == NULL)
		return 0;
	if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
		int st = 0;

		for (size_t i = 0; i < vlen && i < 3; i++) {
			if (value[i] < '0' || value[i] > '9')
				return 0;
			st = st * 10 + (value[i] - '0');
		}
		if (vlen == 3 && f->status == 0)
			f->status = st;
		else if (vlen == 3 && st >= 200)
			f->status = st; /* after 1xx */
	} else if (nlen == 12 && memcmp(name, "content-type", 12) == 0) {
		/* application/dns-message, parameters allowed */
		f->ctype_ok =
		    vlen >= 23 &&
		    strncasecmp((const char *)value, "application/dns-message",
		                23) == 0 &&
		    (vlen == 23 || value[23] == ';' || value[23] == ' ');
	}
	return 0;
}

static int cb_data(nghttp2_session *s, uint8_t flags, int32_t stream,
                   const uint8_t *data, size_t len, void *user)
{
	struct doh_conn *c = user;
	struct doh_flight *f = nghttp2_session_get_stream_user_data(s, stream);

	(void)flags;
	if (f == NULL || f->too_big)
		return 0;
	if (f->body == NULL && (f->body = buf_get(c->tr)) == NULL) {
		f->too_big = true;
		return 0;
	}
	if (len > DOH_BODY - f->body_len) {
		f->too_big = true;
		nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream,
		                          NGHTTP2_CANCEL);
		return 0;
	}
	memcpy(f->body + f->body_len, data, len);
	f->body_len += len;
	return 0;
}

static int cb_frame_recv(nghttp2_session *s, const nghttp2_frame *fr,
                         void *user)
{
	struct doh_conn *c = user;

	(void)s;
	if (fr->hd.type == NGHTTP2_GOAWAY)
		c->goaway = true;
	return 0;
}

static void stream_closed(struct doh_conn *c, struct doh_flight *f,
                          uint32_t code)
{
	int64_t now = clock_mono_ns();
	struct dnsmsg_reply reply;

	if (f->too_big) {
		flight_fail(c, f, -EBADMSG, "malformed response");
		return;
	}
	if (code != NGHTTP2_NO_ERROR && f->status == 0) {
		flight_fail(c, f, -ECONNRESET,
		            c->goaway ? "http goaway" : "http stream reset");
		return;
	}
	if (f->status != 200) {
		flight_fail(c, f, -EPROTO,
		            f->status ? status_error(f->status)
		                      : "http stream reset");
		return;
	}
	if (!f->ctype_ok) {
		flight_fail(c, f, -EPROTO, "http content type");
		return;
	}
	if (code != NGHTTP2_NO_ERROR) {
		flight_fail(c, f, -ECONNRESET, "http stream reset");
		return;
	}
	if (f->body == NULL ||
	    dnsmsg_reply_parse(f->body, f->body_len, &reply) < 0) {
		flight_fail(c, f, -EBADMSG, "malformed response");
		return;
	}
	if (!dnsmsg_question_matches(f->tmpl, &reply)) {
		flight_fail(c, f, -EBADMSG, "mismatched response");
		return;
	}
	{
		struct tr_done d = {.reply = &reply,
		                    .wire = f->body,
		                    .wire_len = f->body_len,
		                    .rtt_ns =
		                        f->sent_ns ? now - f->sent_ns : -1};
		uint8_t *body = f->body;

		/* flight_done() gives the buffer back: keep it for the call. */
		f->body = NULL;
		flight_done(c, f, &d);
		buf_put(c->tr, body);
	}
}

static int cb_close(nghttp2_session *s, int32_t stream, uint32_t code,
                    void *user)
{
	struct doh_conn *c = user;
	struct doh_flight *f = nghttp2_session_get_stream_user_data(s, stream);

	if (f == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(s, stream, NULL);
	f->stream = 0;
	stream_closed(c, f, code);
	maybe_unblock(c);
	return 0;
}

/* ---- the TLS connection's callbacks ------------------------------------ */

/* The HTTP/2 session of a connection whose handshake is done: our
 * SETTINGS, then every query queued meanwhile. Returns 0 or -EPROTO. */
static int h2_start(struct doh_conn *c)
{
	nghttp2_settings_entry set[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
	};

	if (nghttp2_session_client_new2(&c->h2, c->tr->cbs, c, c->tr->opt) != 0)
		return -EPROTO;
	c->goaway = false;
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, set, 2);
	for (unsigned i = 0; i < DOH_SLOTS; i++)
		if (c->fl[i].state == DOH_QUEUED && submit(c, &c->fl[i]) < 0)
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
		if (submit(c, f) < 0) {
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
	while (tr->n_bufs > 0)
		free(tr->bufs[--tr->n_bufs]);
	free(tr->bufs);
	if (tr->cbs != NULL)
		nghttp2_session_callbacks_del(tr->cbs);
	if (tr->opt != NULL)
		nghttp2_option_del(tr->opt);
	free(tr);
}

static int doh_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));
	nghttp2_session_callbacks *cbs;
	int rc;

	if (tr == NULL)
		return -ENOMEM;
	tr->env = *env;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		free(tr);
		return -ENOMEM;
	}
	tr->cbs = cbs;
	if (nghttp2_option_new(&tr->opt) != 0) {
		doh_destroy(tr);
		return -ENOMEM;
	}
	/* Until the server's SETTINGS arrive, nghttp2 would open any number
	 * of streams at once (a lower limit in them still counts). */
	nghttp2_option_set_peer_max_concurrent_streams(tr->opt, DOH_SLOTS);
	nghttp2_session_callbacks_set_send_callback(cbs, cb_send);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
	                                                     cb_frame_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	                                                     cb_frame_recv);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_close);
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
