/*
 * tr_udp: DNS over UDP, the transport behind the `udp` row. Owns the UDP
 * sockets, the matching of replies and ICMP errors to queries, and the
 * kernel timestamps that time them. It knows DNS only through dnsmsg.
 *
 * Source ports are the first defence against off-path spoofing (RFC 5452):
 * every (family, source address) has a pool of POOL_SOCKS unconnected
 * sockets bound to random ports, a query leaves from a random one, and a
 * socket is retired after SOCK_USES queries (closed once its last query
 * has ended), so an attacker who learns one port from a query to a server
 * he controls has learnt nothing about the next query. A reply counts only
 * when it comes to the socket the query left from, from the server's
 * address and port, with the query's ID and question. An ICMP error ends a
 * query only when the packet it quotes carries that ID and question.
 *
 * Each socket's queries live in its own small table (SOCK_USES entries, one
 * per datagram sent on it, in sending order): the entry index is also the
 * kernel's SOF_TIMESTAMPING_OPT_ID key of the datagram, so a TX timestamp
 * finds its query without a search, and a reply's ID is looked up among at
 * most SOCK_USES entries. The job keeps (socket index, entry index) in its
 * tr_slot.
 *
 * Sockets sit in an epoll set of their own. While the pacer wakes often the
 * scheduler drains that set itself (watch off), so a reply or a TX stamp
 * costs no wake-up of its own; otherwise the set is in the main loop.
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

#define POOL_SOCKS 64
#define SOCK_USES 100 /* < 128: the entry index has 7 bits in the slot */
#define ERR_BUF 512 /* an ICMP error's copy of our query: ours are smaller */
#define MIN_RBUF 4096
#define TX_STAMP_SLACK_NS (50 * NS_PER_MS)
#define PORT_TRIES 8
#define EVENTS 64

struct udp_entry {
	const struct conf_server *server;
	const struct dnsmsg_query *tmpl;
	const char *seen_error; /* a bad reply that did not end the query */
	int64_t send_ns;        /* monotonic */
	int64_t send_wall_ns;   /* to vet the TX stamp */
	int64_t tx_stamp_ns;    /* kernel TX stamp (realtime); 0: none */
	uint32_t job;
	uint16_t id;
	uint16_t port;
	bool live;
};

struct udp_pool;

struct udp_sock {
	struct udp_pool *pool;
	int fd;
	uint32_t index; /* in tr->socks */
	uint8_t sent;   /* entries used, = the next datagram's TX key */
	uint8_t live;   /* entries in flight */
	bool stamps;    /* the kernel stamps our datagrams */
	bool retired;   /* no new queries; closed when live reaches 0 */
	struct udp_entry e[SOCK_USES];
};

struct udp_pool {
	int family; /* AF_INET, AF_INET6 */
	struct sockaddr_storage src; /* ss_family 0: any address */
	struct udp_sock *active[POOL_SOCKS];
};

struct tr {
	struct tr_env env;
	struct loop_handler h; /* the socket set in the main loop */
	int epfd;
	bool watching;
	struct udp_pool *pools;
	size_t n_pools;
	struct udp_sock **socks; /* by index; NULL: free */
	size_t n_socks;
	size_t pending;
	uint8_t *rbuf; /* NET_BATCH datagrams of rcap */
	size_t rcap;
	uint8_t *ebuf; /* NET_BATCH error-queue payloads of ERR_BUF */
	bool warned;
};

static void udp_wake(struct loop_handler *h, uint32_t events);
static void udp_drain(struct tr *tr);

/* ---- sockets ---------------------------------------------------------- */

static int sock_family(int conf_family)
{
	return conf_family == CONF_IPV6 ? AF_INET6 : AF_INET;
}

static const struct sockaddr_storage *target_source(const struct conf_target *t,
                                                    int family)
{
	const struct sockaddr_storage *s =
	    family == AF_INET6 ? &t->source6 : &t->source4;

	return s->ss_family == family ? s : NULL;
}

static struct udp_sock *sock_open(struct tr *tr, struct udp_pool *pool)
{
	struct udp_sock *s;
	size_t idx = tr->n_socks;
	int fd = -EADDRINUSE;
	bool stamps = false;
	const struct sockaddr_storage *src =
	    pool->src.ss_family ? &pool->src : NULL;

	for (size_t i = 0; i < tr->n_socks; i++) {
		if (tr->socks[i] == NULL) {
			idx = i;
			break;
		}
	}
	if (idx == tr->n_socks) {
		size_t cap = tr->n_socks ? tr->n_socks * 2 : 2 * POOL_SOCKS;
		struct udp_sock **n = realloc(tr->socks, cap * sizeof(*n));

		if (n == NULL)
			return NULL;
		memset(n + tr->n_socks, 0, (cap - tr->n_socks) * sizeof(*n));
		tr->socks = n;
		tr->n_socks = cap;
	}
	/* A random port of our own choosing, not only the kernel's: the
	 * port is half of what an off-path attacker must guess. */
	for (int i = 0; i < PORT_TRIES && fd == -EADDRINUSE; i++)
		fd = net_udp_open(pool->family, src,
		                  (uint16_t)(1024 + rnd_below(65536 - 1024)),
		                  &stamps);
	if (fd == -EADDRINUSE)
		fd = net_udp_open(pool->family, src, 0, &stamps);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	s->pool = pool;
	s->fd = fd;
	s->index = (uint32_t)idx;
	s->stamps = stamps;
	{
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};

		if (epoll_ctl(tr->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int err = errno;

			close(fd);
			free(s);
			errno = err;
			return NULL;
		}
	}
	tr->socks[idx] = s;
	return s;
}

static void sock_close(struct tr *tr, struct udp_sock *s)
{
	/* close() takes it out of the epoll set. */
	close(s->fd);
	tr->socks[s->index] = NULL;
	free(s);
}

/* Retire S: no more queries on it; closed once nothing is in flight. */
static void sock_retire(struct tr *tr, struct udp_sock *s)
{
	s->retired = true;
	if (s->live == 0)
		sock_close(tr, s);
}

static struct udp_pool *pool_for(struct tr *tr, int family,
                                 const struct sockaddr_storage *src)
{
	for (size_t i = 0; i < tr->n_pools; i++) {
		struct udp_pool *p = &tr->pools[i];

		if (p->family != family)
			continue;
		if (src == NULL ? p->src.ss_family == 0
		                : (p->src.ss_family != 0 &&
		                   net_addr_equal(&p->src, src)))
			return p;
	}
	return NULL;
}

/* A socket of POOL with room for one more query, or NULL (errno set). */
static struct udp_sock *pool_pick(struct tr *tr, struct udp_pool *pool)
{
	uint32_t r = rnd_below(POOL_SOCKS);
	struct udp_sock *s = pool->active[r];
	int err = 0;

	if (s != NULL && s->sent < SOCK_USES)
		return s;
	{
		struct udp_sock *fresh = sock_open(tr, pool);

		if (fresh != NULL) {
			if (s != NULL)
				sock_retire(tr, s);
			pool->active[r] = fresh;
			return fresh;
		}
		err = errno;
	}
	if (!tr->warned) {
		tr->warned = true;
		log_msg(LOG_WARN,
		        "cannot open a new UDP socket (%s): queries use "
		        "the remaining ones of the pool",
		        strerror(err));
	}
	for (uint32_t i = 1; i < POOL_SOCKS; i++) {
		s = pool->active[(r + i) % POOL_SOCKS];
		if (s != NULL && s->sent < SOCK_USES)
			return s;
	}
	errno = err;
	return NULL;
}

/* ---- set-up ----------------------------------------------------------- */

static int add_pool(struct tr *tr, int family,
                    const struct sockaddr_storage *src)
{
	struct udp_pool *pools, *p;

	if (pool_for(tr, family, src) != NULL)
		return 0;
	pools = realloc(tr->pools, (tr->n_pools + 1) * sizeof(*pools));
	if (pools == NULL)
		return -ENOMEM;
	/* Sockets point at their pool: fix them up after the move. */
	for (size_t i = 0; i < tr->n_socks; i++)
		if (tr->socks[i] != NULL)
			tr->socks[i]->pool =
			    pools + (tr->socks[i]->pool - tr->pools);
	tr->pools = pools;
	p = &pools[tr->n_pools++];
	memset(p, 0, sizeof(*p));
	p->family = family;
	if (src != NULL)
		p->src = *src;
	/* Open the whole pool now: before the sandbox, and so that the
	 * kernel has RX timestamps on (it turns them on asynchronously)
	 * before the first round. */
	for (size_t i = 0; i < POOL_SOCKS; i++) {
		p->active[i] = sock_open(tr, p);
		if (p->active[i] != NULL)
			continue;
		/* At a low descriptor limit the pool is smaller, said once;
		 * without a single socket the family cannot be probed. */
		if (i == 0)
			return -errno;
		log_msg(LOG_WARN, "only %zu of %d UDP sockets open (%s): "
		                  "fewer source ports to guess",
		        i, POOL_SOCKS, strerror(errno));
		tr->warned = true;
		break;
	}
	return 0;
}

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
	tr->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (tr->epfd < 0) {
		rc = -errno;
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
			int f = sock_family(t->servers[s].family);

			rc = add_pool(tr, f, target_source(t, f));
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
		rc = add_pool(tr, sock_family(t->reference->family),
		              target_source(t,
		                            sock_family(t->reference->family)));
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
	rc = loop_add(env->loop, tr->epfd, EPOLLIN, &tr->h);
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
		loop_del(tr->env.loop, tr->epfd);
	for (size_t i = 0; i < tr->n_socks; i++)
		if (tr->socks[i] != NULL)
			sock_close(tr, tr->socks[i]);
	close(tr->epfd);
	free(tr->socks);
	free(tr->pools);
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
	int family = sock_family(q->server->family);
	struct udp_pool *pool =
	    pool_for(tr, family, target_source(q->key->target, family));
	struct sockaddr_storage to = q->server->addr;
	struct udp_sock *s;
	struct udp_entry *e;
	struct iovec iov[2];
	uint8_t idbuf[2];
	uint16_t id;
	int rc;

	if (pool == NULL) {
		/* A family or source that re-resolved host names brought. */
		int err = add_pool(tr, family,
		                   target_source(q->key->target, family));

		pool = pool_for(tr, family, target_source(q->key->target, family));
		if (err < 0 && pool == NULL) {
			fail(tr, q->job, err);
			return TR_FAILED;
		}
	}
	if ((s = pool_pick(tr, pool)) == NULL) {
		fail(tr, q->job, errno);
		return TR_FAILED;
	}
	do
		id = rnd_u16();
	while (id_live(s, id));
	/* The ID is the query's own; the rest is the shared template. */
	dnsmsg_set_id(idbuf, id);
	iov[0] = (struct iovec){.iov_base = idbuf, .iov_len = 2};
	iov[1] = (struct iovec){.iov_base = q->tmpl->wire + 2,
	                        .iov_len = q->tmpl->len - 2};
	net_addr_with_port(&to, q->key->port);
	e = &s->e[s->sent];
	e->send_ns = clock_mono_ns();
	rc = net_udp_sendv(s->fd, (const struct sockaddr *)&to,
	                   q->server->addrlen, iov, 2);
	if (rc == -EAGAIN)
		return TR_BLOCKED;
	if (rc < 0) {
		fail(tr, q->job, rc);
		return TR_FAILED;
	}
	e->server = q->server;
	e->tmpl = q->tmpl;
	e->seen_error = NULL;
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
	for (size_t i = 0; i < n; i++) {
		res[i] = send_one(tr, &q[i]);
		if (res[i] == TR_BLOCKED)
			return i + 1;
	}
	return n;
}

/* End entry E of S (answered, failed or cancelled). */
static void entry_end(struct tr *tr, struct udp_sock *s, struct udp_entry *e)
{
	e->live = false;
	s->live--;
	tr->pending--;
}

static const char *udp_cancel(struct tr *tr, uint32_t job,
                              struct tr_slot *slot)
{
	struct udp_sock *s;
	struct udp_entry *e;
	const char *seen;

	uint32_t idx = (slot->v >> 7) - 1, ent = slot->v & 127;

	if (slot->v == 0 || idx >= tr->n_socks ||
	    (s = tr->socks[idx]) == NULL || ent >= s->sent)
		return NULL;
	e = &s->e[ent];
	if (!e->live || e->job != job)
		return NULL;
	seen = e->seen_error;
	entry_end(tr, s, e);
	slot->v = 0;
	if (s->retired && s->live == 0)
		sock_close(tr, s);
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
		if (loop_add(tr->env.loop, tr->epfd, EPOLLIN, &tr->h) < 0)
			return;
	} else {
		loop_del(tr->env.loop, tr->epfd);
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
	if (m->len < 12 || (e = entry_by_id(s, dnsmsg_get_id(m->buf))) == NULL ||
	    !from_server(m, e)) {
		dropped(tr);
		return;
	}
	qlen = e->tmpl->qname_len + 4;
	if (m->len < 12 + qlen || memcmp(m->buf + 12, e->tmpl->wire + 12, qlen)) {
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
	if (m->stamp_ns && e->tx_stamp_ns &&
	    m->stamp_ns - e->tx_stamp_ns > 0 &&
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
	if (s->retired && s->live == 0) {
		sock_close(tr, s);
		return true;
	}
	return false;
}

static void udp_drain(struct tr *tr)
{
	struct epoll_event ev[EVENTS];
	int n;

	do {
		n = epoll_wait(tr->epfd, ev, EVENTS, 0);
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
