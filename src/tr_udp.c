/*
 * tr_udp: DNS over UDP, the transport behind the `udp` row. Owns sending,
 * the matching of replies and ICMP errors to queries, and the kernel
 * timestamps that time them; the sockets are udp_pool's (a pool of random
 * source ports per family and source address, RFC 5452). It knows DNS only
 * through dnsmsg.
 *
 * A reply counts only when it comes to the socket the query left from,
 * from the server's address and port, with the query's ID and question. An
 * ICMP error ends a query only when the packet it quotes carries that ID
 * and question. A TX timestamp finds its query by the datagram's OPT_ID key
 * (the entry index), a reply's ID is looked up among the socket's at most
 * SOCK_USES entries. The job keeps (socket index, entry index) in its
 * tr_slot.
 *
 * While the pacer wakes often the scheduler drains the sockets itself
 * (watch off), so a reply or a TX stamp costs no wake-up of its own;
 * otherwise the pools' epoll set is in the main loop.
 */
#include "transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "result.h"
#include "rnd.h"
#include "udp_pool.h"

#define ERR_BUF 512 /* an ICMP error's copy of our query: ours are smaller */
#define MIN_RBUF 4096
#define TX_STAMP_SLACK_NS (50 * NS_PER_MS)
#define EVENTS 64

struct tr {
	struct tr_env env;
	struct loop_handler h; /* the pools' socket set in the main loop */
	struct udp_pools up;
	bool watching;
	size_t pending;
	uint8_t *rbuf; /* NET_BATCH datagrams of rcap */
	size_t rcap;
	uint8_t *ebuf; /* NET_BATCH error-queue payloads of ERR_BUF */
};

static void udp_wake(struct loop_handler *h, uint32_t events);
static void udp_drain(struct tr *tr);

static void udp_destroy(struct tr *tr);

static int udp_create(struct tr **out, const struct tr_env *env)
{
	struct tr *tr = calloc(1, sizeof(*tr));
	const struct conf *conf = env->conf;
	size_t edns = MIN_RBUF;
	int rc = -ENOMEM;

	if (tr == NULL)
		return -ENOMEM;
	tr->env = *env;
	tr->h.fn = udp_wake;
	rc = udp_pools_init(&tr->up);
	if (rc < 0) {
		free(tr);
		return rc;
	}
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];

		if (!(t->transports & (1u << env->index)))
			continue;
		if (t->edns_size > edns)
			edns = t->edns_size;
		for (size_t s = 0; s < t->n_servers; s++) {
			int f = udp_family(t->servers[s].family);

			rc = udp_pool_add(&tr->up, f, udp_source(t, f));
			if (rc < 0)
				goto fail;
		}
	}
	/* The reference is asked over the target's first transport. */
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];

		if (t->reference == NULL ||
		    (t->transports & ((1u << env->index) - 1)) ||
		    !(t->transports & (1u << env->index)))
			continue;
		rc = udp_pool_add(
		    &tr->up, udp_family(t->reference->family),
		    udp_source(t, udp_family(t->reference->family)));
		if (rc < 0)
			goto fail;
	}
	/* Replies larger than any EDNS size we offer are not ours to read. */
	tr->rcap = edns + 512;
	rc = -ENOMEM;
	tr->rbuf = malloc(NET_BATCH * tr->rcap);
	tr->ebuf = malloc(NET_BATCH * ERR_BUF);
	if (tr->rbuf == NULL || tr->ebuf == NULL)
		goto fail;
	rc = loop_add(env->loop, tr->up.epfd, EPOLLIN, &tr->h);
	if (rc < 0)
		goto fail;
	tr->watching = true;
	*out = tr;
	return 0;
fail:
	udp_destroy(tr);
	return rc;
}

static void udp_destroy(struct tr *tr)
{
	if (tr == NULL)
		return;
	if (tr->watching)
		loop_del(tr->env.loop, tr->up.epfd);
	udp_pools_clear(&tr->up);
	free(tr->rbuf);
	free(tr->ebuf);
	free(tr);
}

/* ---- sending ---------------------------------------------------------- */

/* The job's slot: socket index + 1 above 7 bits of entry index. */
static uint32_t slot_pack(uint32_t sock, unsigned entry)
{
	return (sock + 1) << 7 | entry;
}

static bool id_live(const struct udp_sock *s, uint16_t id)
{
	for (unsigned i = 0; i < s->sent; i++)
		if (s->e[i].live && s->e[i].id == id)
			return true;
	return false;
}

static void fail(struct tr *tr, uint32_t job, int err)
{
	struct tr_done d = {.err = err < 0 ? err : -err,
	                    .error = net_strerror(err),
	                    .rtt_ns = -1,
	                    .hop_limit = -1};

	tr->env.done(tr->env.sched, job, &d);
}

static enum tr_send_result send_one(struct tr *tr, struct tr_query *q)
{
	int family = udp_family(q->server->family);
	struct udp_pool *pool =
	    udp_pool_find(&tr->up, family, udp_source(q->key->target, family));
	struct sockaddr_storage to = q->server->addr;
	struct udp_sock *s;
	struct udp_entry *e;
	struct iovec iov[DNSMSG_QUERY_IOV];
	struct dnsmsg_patch patch;
	struct cookie_state *ck;
	uint8_t opt[DNSMSG_COOKIE_OPT_MAX];
	size_t opt_len, n_iov;
	uint16_t id;
	int rc;

	if (pool == NULL) {
		/* A family or source that re-resolved host names brought. */
		int err = udp_pool_add(&tr->up, family,
		                       udp_source(q->key->target, family));

		pool = udp_pool_find(&tr->up, family,
		                     udp_source(q->key->target, family));
		if (err < 0 && pool == NULL) {
			fail(tr, q->job, err);
			return TR_FAILED;
		}
	}
	if ((s = udp_pool_pick(&tr->up, pool)) == NULL) {
		fail(tr, q->job, errno);
		return TR_FAILED;
	}
	do
		id = rnd_u16();
	while (id_live(s, id));
	/* The ID is the query's own, the COOKIE option the server's; the
	 * rest is the shared template. */
	net_addr_with_port(&to, q->key->port);
	opt_len = tr_cookie_option(tr->env.cookies, q->tmpl, &to, &ck, opt);
	n_iov = dnsmsg_query_iov(q->tmpl, id, opt, opt_len, &patch, iov);
	if (n_iov == 0)
		n_iov = dnsmsg_query_iov(q->tmpl, id, NULL, 0, &patch, iov);
	e = &s->e[s->sent];
	e->send_ns = clock_mono_ns();
	rc = net_udp_sendv(s->fd, (const struct sockaddr *)&to,
	                   q->server->addrlen, iov, n_iov);
	if (rc == -EAGAIN)
		return TR_BLOCKED;
	if (rc < 0) {
		fail(tr, q->job, rc);
		return TR_FAILED;
	}
	e->server = q->server;
	e->tmpl = q->tmpl;
	e->seen_error = NULL;
	e->cookie = opt_len ? ck : NULL;
	e->cookie_len = (uint8_t)opt_len;
	e->send_wall_ns = s->stamps ? clock_wall_ns() : 0;
	e->tx_stamp_ns = 0;
	e->job = q->job;
	e->id = id;
	e->port = q->key->port;
	e->live = true;
	q->slot->v = slot_pack(s->index, s->sent);
	s->sent++;
	s->live++;
	tr->pending++;
	return TR_SENT;
}

static size_t udp_send(struct tr *tr, struct tr_query *q, size_t n,
                       enum tr_send_result *res)
{
	return tr_send_each(tr, q, n, res, send_one);
}

/* End entry E of S (answered, failed or cancelled). */
static void entry_end(struct tr *tr, struct udp_sock *s, struct udp_entry *e)
{
	e->live = false;
	s->live--;
	tr->pending--;
}

static const char *udp_cancel(struct tr *tr, uint32_t job, struct tr_slot *slot)
{
	struct udp_sock *s;
	struct udp_entry *e;
	const char *seen;

	uint32_t idx = (slot->v >> 7) - 1, ent = slot->v & 127;

	if (slot->v == 0 || idx >= tr->up.n_socks ||
	    (s = tr->up.socks[idx]) == NULL || ent >= s->sent)
		return NULL;
	e = &s->e[ent];
	if (!e->live || e->job != job)
		return NULL;
	seen = e->seen_error;
	entry_end(tr, s, e);
	slot->v = 0;
	udp_sock_idle(&tr->up, s);
	return seen;
}

static size_t udp_pending(const struct tr *tr)
{
	return tr->pending;
}

static void udp_watch(struct tr *tr, bool on)
{
	if (on == tr->watching)
		return;
	if (on) {
		if (loop_add(tr->env.loop, tr->up.epfd, EPOLLIN, &tr->h) < 0)
			return;
	} else {
		loop_del(tr->env.loop, tr->up.epfd);
	}
	tr->watching = on;
}

/* ---- receiving -------------------------------------------------------- */

static struct udp_entry *entry_by_id(struct udp_sock *s, uint16_t id)
{
	for (unsigned i = 0; i < s->sent; i++)
		if (s->e[i].live && s->e[i].id == id)
			return &s->e[i];
	return NULL;
}

static bool from_server(const struct net_msg *m, const struct udp_entry *e)
{
	struct sockaddr_storage want = e->server->addr;

	net_addr_with_port(&want, e->port);
	return net_addr_equal(&m->peer, &want);
}

static void dropped(struct tr *tr)
{
	tr->env.dropped(tr->env.sched, tr->env.index);
}

static void errq_entry(struct tr *tr, struct udp_sock *s,
                       const struct net_msg *m)
{
	struct udp_entry *e;
	size_t qlen;

	if (m->tx_stamp) {
		/* A stamp is believed only for the send it belongs to: same
		 * key, and taken close to our own clock's time. */
		if (m->tx_key < s->sent) {
			e = &s->e[m->tx_key];
			if (e->live && m->stamp_ns &&
			    llabs(m->stamp_ns - e->send_wall_ns) <
			        TX_STAMP_SLACK_NS)
				e->tx_stamp_ns = m->stamp_ns;
		}
		return;
	}
	/* An ICMP error quoting our datagram: it must carry the ID and
	 * the question of a query in flight to that destination. */
	if (m->len < 12 ||
	    (e = entry_by_id(s, dnsmsg_get_id(m->buf))) == NULL ||
	    !from_server(m, e)) {
		dropped(tr);
		return;
	}
	qlen = e->tmpl->qname_len + 4;
	if (m->len < 12 + qlen ||
	    memcmp(m->buf + 12, e->tmpl->wire + 12, qlen)) {
		dropped(tr);
		return;
	}
	{
		uint32_t job = e->job;

		entry_end(tr, s, e);
		fail(tr, job, m->error);
	}
}

static void read_errq(struct tr *tr, struct udp_sock *s)
{
	struct net_msg m[NET_BATCH];
	int n;

	for (unsigned i = 0; i < NET_BATCH; i++)
		m[i] = (struct net_msg){.buf = tr->ebuf + i * ERR_BUF,
		                        .cap = ERR_BUF};
	do {
		n = net_udp_recv_error(s->fd, m, NET_BATCH);
		for (int i = 0; i < n; i++)
			errq_entry(tr, s, &m[i]);
	} while (n == NET_BATCH);
}

static void datagram(struct tr *tr, struct udp_sock *s, const struct net_msg *m,
                     int64_t now)
{
	struct dnsmsg_reply reply;
	struct udp_entry *e;
	struct tr_done d = {.hop_limit = -1};
	int64_t rtt;
	uint32_t job;

	if (m->len < 12 || m->truncated ||
	    (e = entry_by_id(s, dnsmsg_get_id(m->buf))) == NULL ||
	    !from_server(m, e)) {
		dropped(tr);
		return;
	}
	if (dnsmsg_reply_parse(m->buf, m->len, &reply) < 0) {
		/* Not an answer: a spoofer must not be able to end the query;
		 * it ends as an error only if nothing better arrives before
		 * the timeout. */
		e->seen_error = "malformed response";
		dropped(tr);
		return;
	}
	if (!dnsmsg_question_matches(e->tmpl, &reply)) {
		e->seen_error = "question mismatch";
		dropped(tr);
		return;
	}
	if (!tr_cookie_check(e->cookie, e->cookie_len, &reply, &d)) {
		/* Another client cookie: not an answer to this query. */
		dropped(tr);
		return;
	}
	if (m->stamp_ns && e->tx_stamp_ns == 0 && s->stamps) {
		/* The TX stamp was queued before the reply came, but may not
		 * have been read yet. */
		read_errq(tr, s);
		if (!e->live)
			return;
	}
	rtt = now - e->send_ns;
	/* Timed to the wire when the kernel stamped both ends; the stamps
	 * leave out our own scheduling delays, so they are never longer than
	 * the clock's view (a little slack for the two clocks' reading). */
	if (m->stamp_ns && e->tx_stamp_ns && m->stamp_ns - e->tx_stamp_ns > 0 &&
	    m->stamp_ns - e->tx_stamp_ns <= rtt + NS_PER_MS)
		rtt = m->stamp_ns - e->tx_stamp_ns;
	else
		d.clock_fallback = true;
	job = e->job;
	entry_end(tr, s, e);
	d.reply = &reply;
	d.wire = m->buf;
	d.wire_len = m->len;
	d.rtt_ns = rtt;
	d.hop_limit = m->hop_limit;
	tr->env.done(tr->env.sched, job, &d);
}

/* Everything queued on S; true when S was closed (retired and empty). */
static bool sock_drain(struct tr *tr, struct udp_sock *s, uint32_t events)
{
	struct net_msg m[NET_BATCH];
	int errors = 0;

	if (events & EPOLLERR)
		read_errq(tr, s);
	for (unsigned i = 0; i < NET_BATCH; i++)
		m[i] = (struct net_msg){.buf = tr->rbuf + i * tr->rcap,
		                        .cap = tr->rcap};
	while (events & EPOLLIN) {
		int n = net_udp_recv(s->fd, m, NET_BATCH);
		int64_t now = clock_mono_ns();

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			/* A pending ICMP error surfaces here once; the error
			 * queue says which query it belongs to. */
			read_errq(tr, s);
			if (++errors > 8)
				break; /* level-triggered: back next turn */
			continue;
		}
		for (int i = 0; i < n; i++)
			datagram(tr, s, &m[i], now);
		if (n < NET_BATCH)
			break; /* drained, without a call that says EAGAIN */
	}
	return udp_sock_idle(&tr->up, s);
}

static void udp_drain(struct tr *tr)
{
	struct epoll_event ev[EVENTS];
	int n;

	do {
		n = epoll_wait(tr->up.epfd, ev, EVENTS, 0);
		for (int i = 0; i < n; i++)
			sock_drain(tr, ev[i].data.ptr, ev[i].events);
	} while (n == EVENTS);
}

static void udp_wake(struct loop_handler *h, uint32_t events)
{
	struct tr *tr = (struct tr *)((char *)h - offsetof(struct tr, h));

	(void)events;
	udp_drain(tr);
}

const struct tr_ops tr_udp_ops = {
    .create = udp_create,
    .destroy = udp_destroy,
    .send = udp_send,
    .cancel = udp_cancel,
    .pending = udp_pending,
    .drain = udp_drain,
    .watch = udp_watch,
};
