/*
 * tr_tcp: DNS over TCP, the transport behind the `tcp` row. Owns the TCP
 * connections: one per attempt, like a client that asks once (the row's
 * connect_ms is that attempt's handshake). Connect, write the framed query
 * in one call, read the two-byte length and the message (frame.h), match
 * ID and question, close.
 *
 * System calls per query are kept to socket, connect, epoll_ctl (add),
 * sendmsg, recv and close: the descriptor is edge-triggered for both
 * directions from the start (no epoll_ctl to switch), the connect result
 * is read from the event itself (SO_ERROR only on failure), close() takes
 * it out of the epoll set, and the reply is read into a shared 64 KiB
 * buffer in one recv() when it has arrived whole (a connection copies to a
 * buffer of its own only when a reply comes in pieces).
 *
 * At the descriptor limit a send is refused (TR_BLOCKED) and the scheduler
 * waits for unblocked(), called when a connection closes: queries queue
 * instead of failing, and UDP queries are not held behind them.
 */
#include "transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena.h"
#include "clock.h"
#include "cookie.h"
#include "conf.h"
#include "dnsmsg.h"
#include "frame.h"
#include "loop.h"
#include "net.h"
#include "result.h"
#include "rnd.h"

#define QUERY_MAX 640 /* a framed query: 255-byte name, EDNS, NSID, COOKIE */
#define FD_RESERVE 64 /* descriptors kept for everything that is not TCP */

enum phase { FREE, CONNECTING, SENDING, READING };

struct tcp_conn {
	struct loop_handler h;
	struct tr *tr;
	int fd;
	uint32_t index;
	uint32_t job;
	enum phase phase;
	uint16_t id;
	uint16_t written; /* bytes of msg written */
	uint16_t msg_len; /* the framed query: length, ID, template, COOKIE */
	const struct dnsmsg_query *tmpl;
	struct cookie_state *cookie; /* the server's, when a COOKIE was sent */
	uint8_t cookie_len;          /* the COOKIE option sent */
	int64_t start_ns; /* connect started */
	int64_t send_ns;  /* query written */
	struct tr_conn_info *info;
	struct frame_reader fr; /* fr.buf: NULL, or own (a partial reply) */
	uint8_t *own;
	uint8_t msg[QUERY_MAX];
};

struct tr {
	struct tr_env env;
	struct tcp_conn **conns; /* by index */
	size_t n_conns;
	uint32_t *free_idx; /* indexes of FREE conns */
	size_t n_free;
	size_t open, max;
	bool blocked;     /* a send was refused: say so when one closes */
	uint8_t *scratch; /* FRAME_MAX */
	struct arena infos; /* this round's tr_conn_info */
};

static void tcp_event(struct loop_handler *h, uint32_t events);

static struct tr_conn_info *info_new(struct tr *tr)
{
	struct tr_conn_info *i = arena_alloc(&tr->infos, sizeof(*i));

	if (i != NULL)
		*i = (struct tr_conn_info){.connect_ns = -1,
		                           .tls_handshake_ns = -1};
	return i;
}

static struct tcp_conn *conn_get(struct tr *tr)
{
	if (tr->n_free == 0) {
		size_t old = tr->n_conns;
		size_t cap = old ? old * 2 : 64;
		struct tcp_conn **conns =
		    realloc(tr->conns, cap * sizeof(*conns));
		uint32_t *fi;

		if (conns == NULL)
			return NULL;
		tr->conns = conns;
		fi = realloc(tr->free_idx, cap * sizeof(*fi));
		if (fi == NULL)
			return NULL;
		tr->free_idx = fi;
		for (size_t i = tr->n_conns; i < cap; i++) {
			struct tcp_conn *c = calloc(1, sizeof(*c));

			if (c == NULL)
				break;
			c->tr = tr;
			c->index = (uint32_t)i;
			c->fd = -1;
			c->h.fn = tcp_event;
			conns[i] = c;
			tr->n_conns = i + 1;
		}
		/* The new ones are free; lowest index out first. */
		for (size_t i = tr->n_conns; i-- > old;)
			tr->free_idx[tr->n_free++] = (uint32_t)i;
		if (tr->n_free == 0)
			return NULL;
	}
	return tr->conns[tr->free_idx[--tr->n_free]];
}

/* Close C and make it free. Stale events for it are ignored (FREE). */
static void conn_close(struct tr *tr, struct tcp_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		tr->open--;
	}
	free(c->own);
	c->own = NULL;
	c->fr.buf = NULL;
	c->phase = FREE;
	tr->free_idx[tr->n_free++] = c->index;
	if (tr->blocked) {
		tr->blocked = false;
		tr->env.unblocked(tr->env.sched, tr->env.index);
	}
}

static void finish(struct tr *tr, struct tcp_conn *c, struct tr_done *d)
{
	uint32_t job = c->job;

	d->conn = c->info;
	conn_close(tr, c);
	tr->env.done(tr->env.sched, job, d);
}

static void conn_fail(struct tr *tr, struct tcp_conn *c, int err,
                      const char *why)
{
	struct tr_done d = {.err = err < 0 ? err : -err,
	                    .error = why ? why : net_strerror(err),
	                    .rtt_ns = -1,
	                    .hop_limit = -1};

	finish(tr, c, &d);
}

/* ---- set-up ----------------------------------------------------------- */

static void tcp_destroy(struct tr *tr)
{
	if (tr == NULL)
		return;
	for (size_t i = 0; i < tr->n_conns; i++) {
		if (tr->conns[i]->fd >= 0)
			close(tr->conns[i]->fd);
		free(tr->conns[i]->own);
		free(tr->conns[i]);
	}
	arena_clear(&tr->infos);
	free(tr->conns);
	free(tr->free_idx);
	free(tr->scratch);
	free(tr);
}

static int tcp_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));
	long limit = net_raise_fd_limit() - FD_RESERVE;

	if (tr == NULL)
		return -ENOMEM;
	tr->env = *env;
	tr->max = limit < 16 ? 16 : (size_t)limit;
	tr->scratch = malloc(FRAME_MAX);
	if (tr->scratch == NULL) {
		free(tr);
		return -ENOMEM;
	}
	*out = tr;
	return 0;
}

static void tcp_round_begin(struct tr *tr)
{
	arena_reset(&tr->infos);
}

/* ---- sending ---------------------------------------------------------- */

/* Build the framed query once per attempt: [length][ID][template], with
 * the server's COOKIE option when cookies are on. Returns 0 or -EMSGSIZE. */
static int build_query(struct tr *tr, struct tcp_conn *c,
                       const struct sockaddr_storage *to)
{
	struct iovec iov[DNSMSG_QUERY_IOV];
	struct dnsmsg_patch patch;
	uint8_t opt[DNSMSG_COOKIE_OPT_MAX];
	size_t opt_len, n, len = 2;

	opt_len = tr_cookie_option(tr->env.cookies, c->tmpl, to, &c->cookie, opt);
	n = dnsmsg_query_iov(c->tmpl, c->id, opt, opt_len, &patch, iov);
	if (n == 0) {
		c->cookie = NULL;
		n = dnsmsg_query_iov(c->tmpl, c->id, NULL, 0, &patch, iov);
	} else if (opt_len == 0) {
		c->cookie = NULL;
	}
	c->cookie_len = c->cookie ? (uint8_t)opt_len : 0;
	for (size_t i = 0; i < n; i++) {
		if (len + iov[i].iov_len > sizeof(c->msg))
			return -EMSGSIZE;
		memcpy(c->msg + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	frame_prefix(c->msg, len - 2);
	c->msg_len = (uint16_t)len;
	return 0;
}

static enum tr_send_result send_one(struct tr *tr, struct tr_query *q)
{
	struct sockaddr_storage to = q->server->addr;
	const struct conf_target *t = q->key->target;
	const struct sockaddr_storage *src =
	    q->server->family == CONF_IPV6 ? &t->source6 : &t->source4;
	struct tcp_conn *c;
	int fd;

	if (tr->open >= tr->max) {
		tr->blocked = true;
		return TR_BLOCKED;
	}
	net_addr_with_port(&to, q->key->port);
	fd = net_tcp_connect((const struct sockaddr *)&to, q->server->addrlen,
	                     src->ss_family ? src : NULL);
	if ((fd == -EMFILE || fd == -ENFILE) && tr->open > 0) {
		/* The real limit is lower than we thought: wait for a
		 * connection to close. */
		tr->max = tr->open;
		tr->blocked = true;
		return TR_BLOCKED;
	}
	if (fd >= 0 && (c = conn_get(tr)) == NULL) {
		close(fd);
		fd = -ENOMEM;
	}
	if (fd < 0) {
		struct tr_done d = {.err = fd,
		                    .error = net_strerror(fd),
		                    .rtt_ns = -1,
		                    .hop_limit = -1};

		tr->env.done(tr->env.sched, q->job, &d);
		return TR_FAILED;
	}
	c->fd = fd;
	tr->open++;
	c->job = q->job;
	c->tmpl = q->tmpl;
	c->id = rnd_u16();
	c->written = 0;
	c->start_ns = clock_mono_ns();
	c->info = build_query(tr, c, &to) < 0 ? NULL : info_new(tr);
	c->fr = (struct frame_reader){0};
	c->phase = CONNECTING;
	if (c->info == NULL ||
	    loop_add(tr->env.loop, fd,
	             EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->h) < 0) {
		uint32_t job = c->job;
		struct tr_done d = {.err = -ENOMEM,
		                    .error = "out of buffer space",
		                    .rtt_ns = -1,
		                    .hop_limit = -1};

		conn_close(tr, c);
		tr->env.done(tr->env.sched, job, &d);
		return TR_FAILED;
	}
	q->slot->v = c->index + 1;
	return TR_SENT;
}

static size_t tcp_send(struct tr *tr, struct tr_query *q, size_t n,
                       enum tr_send_result *res)
{
	return tr_send_each(tr, q, n, res, send_one);
}

static const char *tcp_cancel(struct tr *tr, uint32_t job, struct tr_slot *slot)
{
	struct tcp_conn *c;

	if (slot->v == 0 || slot->v > tr->n_conns)
		return NULL;
	c = tr->conns[slot->v - 1];
	slot->v = 0;
	if (c->phase == FREE || c->job != job)
		return NULL;
	conn_close(tr, c);
	return NULL;
}

static size_t tcp_pending(const struct tr *tr)
{
	return tr->open;
}

/* ---- the connection --------------------------------------------------- */

/* Write what is left of the framed query. */
static void write_query(struct tr *tr, struct tcp_conn *c)
{
	ssize_t n;

	if (c->written == 0)
		c->send_ns = clock_mono_ns();
	n = send(c->fd, c->msg + c->written, c->msg_len - c->written,
	         MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->phase = SENDING;
			return; /* EPOLLOUT again (edge) when there is room */
		}
		conn_fail(tr, c, errno, NULL);
		return;
	}
	c->written = (uint16_t)(c->written + n);
	c->phase = c->written < c->msg_len ? SENDING : READING;
}

static void got_reply(struct tr *tr, struct tcp_conn *c, const uint8_t *msg,
                      size_t len)
{
	struct dnsmsg_reply reply;
	struct tr_done d = {.hop_limit = -1};
	int64_t now = clock_mono_ns();

	if (dnsmsg_reply_parse(msg, len, &reply) < 0) {
		conn_fail(tr, c, EBADMSG, "malformed response");
		return;
	}
	if (reply.id != c->id || !dnsmsg_question_matches(c->tmpl, &reply) ||
	    !tr_cookie_check(c->cookie, c->cookie_len, &reply, &d)) {
		tr->env.dropped(tr->env.sched, tr->env.index);
		conn_fail(tr, c, EBADMSG, "mismatched response");
		return;
	}
	d.reply = &reply;
	d.wire = msg;
	d.wire_len = len;
	d.rtt_ns = now - c->send_ns;
	finish(tr, c, &d);
}

/* Read until the reply is whole or the socket says EAGAIN (the descriptor
 * is edge-triggered). A connection carries one query, so reading more
 * than the reply's length is harmless. */
static void read_reply(struct tr *tr, struct tcp_conn *c)
{
	for (;;) {
		uint8_t *buf = c->own ? c->own : tr->scratch;
		ssize_t n;
		int rc;

		c->fr.buf = buf;
		n = recv(c->fd, buf + c->fr.have, FRAME_MAX - c->fr.have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_fail(tr, c, n == 0 ? EPIPE : errno,
			          n == 0 ? "connection closed" : NULL);
			return;
		}
		rc = frame_got(&c->fr, (size_t)n);
		if (rc < 0) {
			conn_fail(tr, c, EBADMSG, "malformed response");
			return;
		}
		if (rc == 1) {
			got_reply(tr, c, buf + 2, frame_len(&c->fr));
			return;
		}
		if (buf == tr->scratch) {
			/* The reply comes in pieces and the scratch buffer is
			 * shared: keep what came in a buffer of our own. */
			c->own = malloc(FRAME_MAX);
			if (c->own == NULL) {
				conn_fail(tr, c, ENOMEM, NULL);
				return;
			}
			memcpy(c->own, tr->scratch, c->fr.have);
		}
	}
}

static void tcp_event(struct loop_handler *h, uint32_t events)
{
	struct tcp_conn *c = (struct tcp_conn *)h;
	struct tr *tr = c->tr;

	switch (c->phase) {
	case FREE:
		return; /* an event queued before it closed */
	case CONNECTING: {
		int rc;

		if (events & (EPOLLERR | EPOLLHUP)) {
			rc = net_tcp_connect_result(c->fd);
			conn_fail(tr, c, rc < 0 ? rc : -ECONNRESET, NULL);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->info->connect_ns = clock_mono_ns() - c->start_ns;
		write_query(tr, c);
		return;
	}
	case SENDING:
		if (events & (EPOLLERR | EPOLLHUP)) {
			int rc = net_tcp_connect_result(c->fd);

			conn_fail(tr, c, rc < 0 ? rc : -EPIPE, NULL);
			return;
		}
		write_query(tr, c);
		return;
	case READING:
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			read_reply(tr, c);
		return;
	}
}

const struct tr_ops tr_tcp_ops = {
    .create = tcp_create,
    .destroy = tcp_destroy,
    .send = tcp_send,
    .cancel = tcp_cancel,
    .pending = tcp_pending,
    .round_begin = tcp_round_begin,
};
