/*
 * tls: OpenSSL client contexts and nonblocking TLS connections; see
 * include/tls.h. Not the per-server bookkeeping the transports keep their
 * connections in (tls_pool.c). Verification failures become "certificate
 * verify failed: REASON" with OpenSSL's reason in lower case; every other
 * handshake failure is "tls handshake failed" (or the socket's own error).
 */
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "net.h"
#include "transport.h"

bool tls_resume_wanted(void)
{
	const char *v = getenv("ANYCAST_PROBE_TLS_RESUME");

	return v == NULL || strcmp(v, "no") != 0;
}

/* TLS 1.3 sends its tickets after the handshake, TLS 1.2 during it: either
 * way the newest session replaces the one kept. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	if (c == NULL || !c->client->resume)
		return 0;
	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	c->session = sess;
	return 1; /* we hold the reference */
}

int tls_client_init(struct tls_client *c, const char *ca_file, bool verify,
                    const unsigned char *alpn, size_t alpn_len, bool resume,
                    char *err, size_t errlen)
{
	const char *file = ca_file;

	memset(c, 0, sizeof(*c));
	c->verify = verify;
	c->resume = resume;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* A peer that closes without close_notify has closed the connection
	 * (DNS messages carry their own length: no truncation to detect). */
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(c->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
	                   NULL);
	/* The store is read whole now, before the sandbox: a hashed directory
	 * (the default path) would be opened lazily at verification time. */
	if (file == NULL) {
		file = getenv(X509_get_default_cert_file_env());
		if (file == NULL)
			file = X509_get_default_cert_file();
	}
	if (!verify && ca_file == NULL) {
		/* Nothing to verify against: the store is not read. */
	} else if (access(file, R_OK) != 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		tls_client_clear(c);
		return -ENOENT;
	} else if (SSL_CTX_load_verify_locations(c->ctx, file, NULL) != 1) {
		snprintf(err, errlen, "%s: no certificates could be read",
		         file);
		ERR_clear_error();
		tls_client_clear(c);
		return -EINVAL;
	}
	if (alpn != NULL &&
	    SSL_CTX_set_alpn_protos(c->ctx, alpn, (unsigned)alpn_len) != 0) {
		snprintf(err, errlen, "cannot set ALPN");
		tls_client_clear(c);
		return -EINVAL;
	}
	if (resume) {
		SSL_CTX_set_session_cache_mode(
		    c->ctx,
		    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(c->ctx, new_session);
	} else {
		SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	}
	return 0;
}

void tls_client_clear(struct tls_client *c)
{
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

/* "certificate verify failed: REASON", REASON as OpenSSL says it, in lower
 * case. Static storage per verify code (the `error` field keeps pointers). */
#define VERIFY_CODES 128
static const char *verify_error(long code)
{
	static char text[VERIFY_CODES][96];
	char *t;

	if (code < 0 || code >= VERIFY_CODES)
		return "certificate verify failed";
	t = text[code];
	if (t[0] == '\0') {
		snprintf(t, sizeof(text[0]), "certificate verify failed: %s",
		         X509_verify_cert_error_string(code));
		for (char *p = t; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	return t;
}

static void set_events(struct tls_conn *c)
{
	uint32_t ev = EPOLLIN;

	switch (c->state) {
	case TLS_IDLE:
		return;
	case TLS_CONNECTING:
		ev = EPOLLOUT;
		break;
	case TLS_HANDSHAKE:
		ev = c->hs_want_write ? EPOLLOUT : EPOLLIN;
		break;
	case TLS_OPEN:
		if ((c->wlen > 0 && !c->write_blocked) || c->read_blocked)
			ev |= EPOLLOUT;
		break;
	}
	if (ev != c->events && loop_mod(c->loop, c->fd, ev, &c->h) == 0)
		c->events = ev;
}

void tls_conn_close(struct tls_conn *c)
{
	if (c->state == TLS_IDLE)
		return;
	loop_timer_cancel(c->loop, &c->pending);
	loop_del(c->loop, c->fd);
	if (c->ssl != NULL) {
		if (c->state == TLS_OPEN) {
			ERR_clear_error();
			SSL_shutdown(c->ssl); /* close_notify, no waiting */
		}
		SSL_set_app_data(c->ssl, NULL);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	ERR_clear_error();
	close(c->fd);
	c->fd = -1;
	c->state = TLS_IDLE;
	c->queued -= c->wlen; /* what was never written is forgotten */
	c->wlen = 0;
	c->events = 0;
	c->read_blocked = c->write_blocked = c->hs_want_write = false;
}

void tls_conn_clear(struct tls_conn *c)
{
	tls_conn_close(c);
	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	c->session = NULL;
}

void tls_conn_fail(struct tls_conn *c, int err, const char *error)
{
	tls_conn_close(c);
	c->ops->failed(c, err, error);
}

static void handshake_done(struct tls_conn *c, int64_t now)
{
	struct tr_conn_info *info = c->info;
	const X509 *cert = SSL_get0_peer_certificate(c->ssl);

	info->tls_handshake_ns = now - c->start_ns;
	info->tls_resumed = SSL_session_reused(c->ssl) == 1;
	switch (SSL_version(c->ssl)) {
	case TLS1_3_VERSION:
		info->tls_version = 13;
		break;
	case TLS1_2_VERSION:
		info->tls_version = 12;
		break;
	default:
		info->tls_version = 0;
	}
	if (cert != NULL) {
		int days, secs;

		if (ASN1_TIME_diff(&days, &secs, NULL,
		                   X509_get0_notAfter(cert)) == 1) {
			info->cert_expires_s = (int64_t)days * 86400 + secs;
			info->has_cert = true;
		}
	}
	c->state = TLS_OPEN;
	set_events(c);
}

/* Returns 0 while under way or done, -1 when the connection failed (and
 * ops->failed was called). */
static int handshake(struct tls_conn *c)
{
	int r, e;
	long vr;

	ERR_clear_error();
	r = SSL_connect(c->ssl);
	if (r == 1) {
		handshake_done(c, clock_mono_ns());
		return 0;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		c->hs_want_write = e == SSL_ERROR_WANT_WRITE;
		set_events(c);
		return 0;
	}
	vr = SSL_get_verify_result(c->ssl);
	if (c->client->verify && vr != X509_V_OK) {
		tls_conn_fail(c, -EPROTO, verify_error(vr));
		return -1;
	}
	if (e == SSL_ERROR_SYSCALL && errno != 0 && errno != EAGAIN) {
		int err = errno;

		tls_conn_fail(c, -err, net_strerror(err));
		return -1;
	}
	tls_conn_fail(c, -EPROTO, "tls handshake failed");
	return -1;
}

static int start_tls(struct tls_conn *c, int64_t now)
{
	c->ssl = SSL_new(c->client->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -ENOMEM;
	SSL_set_app_data(c->ssl, c);
	SSL_set_connect_state(c->ssl);
	if (c->name != NULL) {
		/* SNI carries names only (RFC 6066), never an address. */
		if (SSL_set_tlsext_host_name(c->ssl, c->name) != 1)
			return -EINVAL;
		if (c->client->verify && SSL_set1_host(c->ssl, c->name) != 1)
			return -EINVAL;
	} else if (c->client->verify &&
	           X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
	                                         c->ip_text) != 1) {
		return -EINVAL;
	}
	if (c->session != NULL && c->client->resume)
		SSL_set_session(c->ssl, c->session);
	c->state = TLS_HANDSHAKE;
	c->start_ns = now;
	return 0;
}

static void pending_fired(struct loop_timer *t)
{
	struct tls_conn *c =
	    (struct tls_conn *)((char *)t - offsetof(struct tls_conn, pending));

	if (c->state == TLS_OPEN)
		c->ops->readable(c);
	if (c->state == TLS_OPEN && SSL_pending(c->ssl) > 0)
		loop_timer_set(c->loop, &c->pending, clock_mono_ns());
}

static void conn_event(struct loop_handler *h, uint32_t events)
{
	struct tls_conn *c =
	    (struct tls_conn *)((char *)h - offsetof(struct tls_conn, h));
	int64_t now = clock_mono_ns();
	int rc;

	switch (c->state) {
	case TLS_IDLE:
		return;
	case TLS_CONNECTING:
		rc = net_tcp_connect_result(c->fd);
		if (rc < 0) {
			tls_conn_fail(c, rc, net_strerror(rc));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->info->connect_ns = now - c->start_ns;
		rc = start_tls(c, now);
		if (rc < 0) {
			tls_conn_fail(c, rc, "tls handshake failed");
			return;
		}
		/* The ClientHello goes out now. */
		/* fall through */
	case TLS_HANDSHAKE:
		if (handshake(c) < 0 || c->state != TLS_OPEN)
			return;
		c->ops->open(c);
		if (c->state != TLS_OPEN)
			return;
		events |= EPOLLOUT; /* write what was queued */
		break;
	case TLS_OPEN:
		break;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		c->write_blocked = false; /* SSL_write may have wanted this */
		c->ops->readable(c);
		if (c->state != TLS_OPEN)
			return;
	}
	if ((events & EPOLLOUT) || c->wlen > 0) {
		uint64_t before = c->written;
		bool read_blocked = c->read_blocked;

		c->read_blocked = false;
		rc = tls_conn_flush(c);
		if (rc < 0) {
			tls_conn_fail(c, rc, net_strerror(rc));
			return;
		}
		if (c->written != before) {
			c->ops->written(c);
			if (c->state != TLS_OPEN)
				return;
		}
		/* SSL_read stopped for want of a writable socket. */
		if (read_blocked && (events & EPOLLOUT)) {
			c->ops->readable(c);
			if (c->state != TLS_OPEN)
				return;
		}
	}
	if (SSL_pending(c->ssl) > 0)
		loop_timer_set(c->loop, &c->pending, now);
	set_events(c);
}

int tls_conn_start(struct tls_conn *c, struct tr_conn_info *info)
{
	int fd;

	if (c->state != TLS_IDLE)
		return -EALREADY;
	info->connect_ns = -1;
	info->tls_handshake_ns = -1;
	info->has_cert = false;
	info->tls_resumed = false;
	info->tls_version = 0;
	info->cert_expires_s = 0;
	fd = net_tcp_connect((const struct sockaddr *)&c->addr, c->addrlen,
	                     c->src);
	if (fd < 0)
		return fd;
	/* Queries go out as soon as written: without this, Nagle holds a
	 * query written right after the handshake's last flight until the
	 * peer's delayed ACK (40 ms on Linux). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	c->fd = fd;
	c->h.fn = conn_event;
	c->pending.fn = pending_fired;
	c->info = info;
	c->start_ns = clock_mono_ns();
	c->state = TLS_CONNECTING;
	c->events = EPOLLOUT;
	if (loop_add(c->loop, fd, EPOLLOUT, &c->h) < 0) {
		int err = -errno;

		close(fd);
		c->fd = -1;
		c->state = TLS_IDLE;
		return err ? err : -ENOMEM;
	}
	return 0;
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t len)
{
	int r, e;

	if (c->state != TLS_OPEN)
		return -ENOTCONN;
	ERR_clear_error();
	errno = 0;
	r = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;

	e = SSL_get_error(c->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		/* Everything read: ACK it now. BIND 9.18 writes its session
		 * tickets and then the answer without TCP_NODELAY, so its
		 * Nagle holds the answer until our ACK of the tickets, which
		 * Linux delays by 40 ms: every first answer on a connection
		 * (kdig +tls shows it too) would carry our delayed ACK in
		 * query_time_ms. The kernel clears the flag again by itself,
		 * hence once per drained read. */
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1},
		           sizeof(int));
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		c->read_blocked = true;
		set_events(c);
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	case SSL_ERROR_SYSCALL:
		if (errno == EAGAIN)
			return -EAGAIN;
		return errno != 0 ? -errno : -EPIPE;
	default:
		return -EPROTO;
	}
}

int tls_conn_queue(struct tls_conn *c, const void *buf, size_t len)
{
	if (len > tls_conn_room(c))
		return -ENOBUFS;
	memcpy(c->wbuf + c->wlen, buf, len);
	c->wlen += len;
	c->queued += len;
	return 0;
}

int tls_conn_flush(struct tls_conn *c)
{
	if (c->state != TLS_OPEN)
		return 0;
	while (c->wlen > 0) {
		int r, e;

		ERR_clear_error();
		errno = 0;
		r = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
		if (r > 0) {
			c->wlen -= (size_t)r;
			memmove(c->wbuf, c->wbuf + r, c->wlen);
			c->written += (uint64_t)r;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_WANT_READ) {
			c->write_blocked = true;
			break;
		}
		if (e == SSL_ERROR_SYSCALL && errno == EAGAIN)
			break;
		if (e == SSL_ERROR_SYSCALL && errno != 0)
			return -errno;
		return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL
		           ? -EPIPE
		           : -EPROTO;
	}
	set_events(c);
	return 0;
}

bool tls_conn_alpn_is(const struct tls_conn *c, const char *proto, size_t len)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	if (c->ssl == NULL)
		return false;
	SSL_get0_alpn_selected(c->ssl, &p, &n);
	return n == len && memcmp(p, proto, len) == 0;
}
