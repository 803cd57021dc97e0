/*
 * doh: the HTTP/2 session layer of DNS over HTTPS; see include/doh.h. The
 * nghttp2 callbacks run inside nghttp2_session_send() (frames into the TLS
 * connection's write buffer, as far as it has room) and
 * nghttp2_session_mem_recv() (headers, bodies, stream ends), both called
 * by tr_https.c; a stream's end is checked here and handed to the owner
 * through doh_client.ended. Nothing here reads or writes a socket.
 */
#include "doh.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "tls.h"
#include "transport.h"

/* GET's :path is built here, one request at a time (one thread). */
static char get_path[2048];

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

static uint8_t *buf_get(struct doh_client *dc)
{
	if (dc->n_bufs > 0)
		return dc->bufs[--dc->n_bufs];
	return malloc(DOH_BODY);
}

void doh_body_put(struct doh_client *dc, uint8_t *b)
{
	if (b == NULL)
		return;
	if (dc->n_bufs == dc->cap_bufs) {
		size_t cap = dc->cap_bufs ? dc->cap_bufs * 2 : 16;
		uint8_t **n = realloc(dc->bufs, cap * sizeof(*n));

		if (n == NULL) {
			free(b);
			return;
		}
		dc->bufs = n;
		dc->cap_bufs = cap;
	}
	dc->bufs[dc->n_bufs++] = b;
}

static void flight_fail(struct doh_conn *c, struct doh_flight *f, int err,
                        const char *error)
{
	struct tr_done d = {.err = err, .error = error};

	c->client->ended(c, f, &d);
}

/* ---- requests ---------------------------------------------------------- */

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

int doh_submit(struct doh_conn *c, struct doh_flight *f)
{
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
		    pl + 6 + (f->tmpl->len * 4 + 2) / 3 + 1 > sizeof(get_path))
			return -EMSGSIZE;
		memcpy(wire, f->tmpl->wire, f->tmpl->len);
		dnsmsg_set_id(wire, 0);
		memcpy(get_path, path, pl);
		memcpy(get_path + pl, strchr(path, '?') ? "&dns=" : "?dns=", 5);
		b64url(wire, f->tmpl->len, get_path + pl + 5);
		path = get_path;
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
	if (f->body == NULL && (f->body = buf_get(c->client)) == NULL) {
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

		/* The owner gives f->body back: keep it for the call. */
		f->body = NULL;
		c->client->ended(c, f, &d);
		doh_body_put(c->client, body);
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
	return 0;
}

/* ---- set-up ------------------------------------------------------------ */

int doh_session_start(struct doh_conn *c)
{
	nghttp2_settings_entry set[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
	};

	if (nghttp2_session_client_new2(&c->h2, c->client->cbs, c,
	                                c->client->opt) != 0)
		return -EPROTO;
	c->goaway = false;
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, set, 2);
	return 0;
}

void doh_client_clear(struct doh_client *dc)
{
	while (dc->n_bufs > 0)
		free(dc->bufs[--dc->n_bufs]);
	free(dc->bufs);
	dc->bufs = NULL;
	dc->cap_bufs = 0;
	if (dc->cbs != NULL)
		nghttp2_session_callbacks_del(dc->cbs);
	dc->cbs = NULL;
	if (dc->opt != NULL)
		nghttp2_option_del(dc->opt);
	dc->opt = NULL;
}

int doh_client_init(struct doh_client *dc,
                    void (*ended)(struct doh_conn *c, struct doh_flight *f,
                                  struct tr_done *d))
{
	nghttp2_session_callbacks *cbs;

	memset(dc, 0, sizeof(*dc));
	dc->ended = ended;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -ENOMEM;
	dc->cbs = cbs;
	if (nghttp2_option_new(&dc->opt) != 0) {
		doh_client_clear(dc);
		return -ENOMEM;
	}
	/* Until the server's SETTINGS arrive, nghttp2 would open any number
	 * of streams at once (a lower limit in them still counts). */
	nghttp2_option_set_peer_max_concurrent_streams(dc->opt, DOH_SLOTS);
	nghttp2_session_callbacks_set_send_callback(cbs, cb_send);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
	                                                     cb_frame_send);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	                                                     cb_frame_recv);
	nghttp2_session_callbacks_set_on_header_callback(cbs, cb_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cb_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cb_close);
	return 0;
}
