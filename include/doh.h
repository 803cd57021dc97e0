/*
 * doh: the HTTP/2 session layer of DNS over HTTPS (RFC 8484) on one TLS
 * connection (src/doh.c, libnghttp2). It owns the nghttp2 callbacks and
 * options, building a request (POST with the message as body, or GET with
 * ?dns= and the message in base64url without padding; ID 0 either way),
 * the checks on a response (:status, content-type, size, the DNS parse and
 * the question) and the pool of response body buffers. It does not own
 * connections, the in-flight table or the scheduler's jobs: tr_https.c
 * does, and hears of every stream that ends through doh_client.ended.
 *
 * A stream's error, when it did not bring a DNS answer:
 *   http status N       a :status other than 200 (http_status = N)
 *   http content type   200, but not application/dns-message
 *   http stream reset   the server reset the stream (RST_STREAM)
 *   http goaway         the server sent GOAWAY before answering the stream
 *   malformed response  the body is not a DNS message (or over 65535 bytes)
 *   mismatched response the answer is for another question
 */
#ifndef ANYCAST_PROBE_DOH_H
#define ANYCAST_PROBE_DOH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"
#include "tls_pool.h"
#include "transport.h"

typedef struct nghttp2_session nghttp2_session;
typedef struct nghttp2_session_callbacks nghttp2_session_callbacks;
typedef struct nghttp2_option nghttp2_option;

/* Streams in flight per connection. BIND 9.18.49 advertises 100 but closes
 * the connection when about 60 requests arrive at once (measured with
 * drive_tr -x: 57 fine, 58 all lost); 32 is well under that, and more
 * queries wait in the scheduler (TR_BLOCKED), where their timeout has not
 * started. */
#define DOH_SLOTS 32
#define DOH_BODY 65535 /* a response body buffer's size */

enum doh_state { DOH_FREE = 0, DOH_QUEUED, DOH_SUBMITTED };

struct dnsmsg_query;
struct conf_target;
struct doh_conn;
struct tr;

/* One query in flight: an entry of doh_conn.fl, its stream's user data. */
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

/* What every connection of the transport shares. */
struct doh_client {
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	uint8_t **bufs; /* free body buffers */
	size_t n_bufs, cap_bufs;
	/* A stream ended (from inside nghttp2): D has the answer (err 0, its
	 * wire in f->body, valid during the call) or err and error. The
	 * owner ends F's job; F's body is the owner's to give back. */
	void (*ended)(struct doh_conn *c, struct doh_flight *f,
	              struct tr_done *d);
};

/* One connection: the TLS connection and its HTTP/2 session. */
struct doh_conn {
	struct tls_conn tc; /* first: callbacks cast back */
	struct tr *tr;
	struct doh_client *client;
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

/* Callbacks and options, at most DOH_SLOTS streams at once even before
 * the server's SETTINGS. ENDED as in struct doh_client. Returns 0 or
 * -ENOMEM (then nothing is left to clear). */
int doh_client_init(struct doh_client *dc,
                    void (*ended)(struct doh_conn *c, struct doh_flight *f,
                                  struct tr_done *d));
void doh_client_clear(struct doh_client *dc); /* safe twice */

/* Give a body buffer back to the pool (NULL: nothing). */
void doh_body_put(struct doh_client *dc, uint8_t *b);

/* A client session on C (handshake done, c->h2 NULL) and our SETTINGS,
 * not yet sent. Returns 0 or -EPROTO. */
int doh_session_start(struct doh_conn *c);

/* Submit F's request on C's session (state DOH_SUBMITTED, f->stream set).
 * Returns 0, -EMSGSIZE (a GET path too long) or -EPROTO. */
int doh_submit(struct doh_conn *c, struct doh_flight *f);

#endif
