/*
 * tls: the OpenSSL client side shared by the tls (DNS over TLS) and https
 * (DNS over HTTPS) transports. It owns
 *  - struct tls_client: one SSL_CTX (CA store from tls_ca or the system
 *    store, tls_verify, the ALPN list, the client session cache), made in a
 *    transport's create(), before the sandbox seals: nothing here opens a
 *    file after that;
 *  - struct tls_conn: one nonblocking TCP + TLS connection to one server,
 *    driven by the loop: connect (timed: connect_ns), handshake (timed:
 *    tls_handshake_ns; SNI and name or IP verification as tls_name says),
 *    a write buffer flushed as the socket takes it, and reads. The
 *    connection's last session is kept in the tls_conn when it closes, so
 *    the next connection (the next round) resumes it.
 * It knows nothing of DNS: tr_tls.c frames DNS messages on it, tr_https.c
 * runs HTTP/2 on it. It does not own the per-server bookkeeping both keep
 * their connections in (keys, table, contexts per target, per-round
 * details): that is tls_pool.h.
 *
 * Bytes buffered inside OpenSSL (a record read whole but handed out only in
 * part: SSL_pending) are invisible to epoll. A connection's reader is told
 * to read until tls_conn_read() says -EAGAIN; when it stops earlier (its
 * budget per event ran out) and OpenSSL still holds bytes, the connection
 * arms a timer due at once, so that the loop's next turn calls the reader
 * again without waiting for the socket (loop.h fires due timers first and
 * then does not block). That timer is the loop's whole knowledge of TLS.
 */
#ifndef ANYCAST_PROBE_TLS_H
#define ANYCAST_PROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "loop.h"
#include "transport.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

struct tls_client {
	SSL_CTX *ctx;
	bool verify;
	bool resume; /* keep sessions and offer them again */
};

/* A client context. CA_FILE: a PEM bundle (NULL: the system store).
 * VERIFY: check the chain and the name (tls_verify). ALPN: the protocol
 * list in wire form ("\x03dot", "\x02h2"), or NULL. RESUME: offer the last
 * session when reconnecting. Returns 0 or -errno; on an unreadable CA file
 * -ENOENT or -EINVAL, with the cause in ERR (ERRLEN bytes). */
int tls_client_init(struct tls_client *c, const char *ca_file, bool verify,
                    const unsigned char *alpn, size_t alpn_len, bool resume,
                    char *err, size_t errlen);
void tls_client_clear(struct tls_client *c); /* safe twice */

/* True unless the environment says ANYCAST_PROBE_TLS_RESUME=no (the bench
 * compares full handshakes with resumed ones). */
bool tls_resume_wanted(void);

enum tls_state {
	TLS_IDLE = 0,   /* no connection */
	TLS_CONNECTING, /* TCP handshake */
	TLS_HANDSHAKE,  /* TLS handshake */
	TLS_OPEN,       /* application data flows */
};

struct tls_conn;

/* What a connection tells its owner, from the loop's handlers (never from
 * inside a tls_conn_* call the owner made). ARG is tls_conn.arg. */
struct tls_conn_ops {
	void (*open)(struct tls_conn *c);     /* handshake done */
	void (*readable)(struct tls_conn *c); /* call tls_conn_read() */
	/* The write buffer took bytes out: tls_conn.written grew. */
	void (*written)(struct tls_conn *c);
	/* The connection failed or was closed by the peer; it is closed
	 * already (state TLS_IDLE). ERR is -errno style; ERROR the short
	 * static cause for the `error` field. */
	void (*failed)(struct tls_conn *c, int err, const char *error);
};

#define TLS_WBUF 16384 /* write buffer bytes */

struct tls_conn {
	/* Set by the owner before tls_conn_start(). */
	const struct tls_client *client;
	struct loop *loop;
	const struct tls_conn_ops *ops;
	void *arg;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const struct sockaddr_storage *src; /* `source`; NULL: any */
	const char *name;    /* SNI and verification name; NULL: verify IP */
	const char *ip_text; /* the address as text, for IP verification */
	/* State. */
	enum tls_state state;
	int fd;
	SSL *ssl;
	SSL_SESSION *session;      /* the last one the server gave; kept */
	struct tr_conn_info *info; /* this connection's, filled in here */
	int64_t start_ns;          /* connect() or SSL_connect() began */
	uint64_t written;          /* bytes taken by SSL_write, ever */
	uint64_t queued;           /* bytes put into the write buffer, ever */
	uint8_t wbuf[TLS_WBUF];
	size_t wlen;
	uint32_t events;    /* what epoll waits for now */
	bool read_blocked;  /* SSL_read wants the socket writable */
	bool write_blocked; /* SSL_write wants the socket readable */
	bool hs_want_write; /* the handshake wants the socket writable */
	struct loop_handler h;
	struct loop_timer pending; /* bytes inside OpenSSL: read again */
};

/* Start connecting to c->addr; INFO (the round's entry for this
 * connection) is filled in as the connection goes. Returns 0 (under way:
 * ops->open or ops->failed follows from the loop) or -errno (nothing
 * started; state stays TLS_IDLE). */
int tls_conn_start(struct tls_conn *c, struct tr_conn_info *info);

/* Read application data. Returns bytes (> 0), -EAGAIN (nothing more now),
 * or another -errno: the connection broke, and the caller should call
 * tls_conn_fail() with it (0 is never returned; a clean close is
 * -EPIPE). */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len);

/* Room left in the write buffer. */
static inline size_t tls_conn_room(const struct tls_conn *c)
{
	return sizeof(c->wbuf) - c->wlen;
}

/* Append LEN bytes (at most tls_conn_room()) to the write buffer, to be
 * written once the handshake is done. Returns 0 or -ENOBUFS. */
int tls_conn_queue(struct tls_conn *c, const void *buf, size_t len);

/* Write what the buffer holds as far as the socket takes it now (only
 * when open). Returns 0 or -errno (then the caller fails the connection). */
int tls_conn_flush(struct tls_conn *c);

/* Close the connection (a close_notify if open, without waiting), keep
 * the session. No callback follows. */
void tls_conn_close(struct tls_conn *c);

/* Close and call ops->failed with ERR and ERROR. */
void tls_conn_fail(struct tls_conn *c, int err, const char *error);

/* tls_conn_close() and drop the session too. */
void tls_conn_clear(struct tls_conn *c);

/* The negotiated ALPN protocol is PROTO (LEN bytes). */
bool tls_conn_alpn_is(const struct tls_conn *c, const char *proto, size_t len);

#endif
