/*
 * udp_pool: source-port pools; see include/udp_pool.h.
 */
#include "udp_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "rnd.h"

#define PORT_TRIES 8

int udp_family(int conf_family)
{
	return conf_family == CONF_IPV6 ? AF_INET6 : AF_INET;
}

const struct sockaddr_storage *udp_source(const struct conf_target *t,
                                          int family)
{
	const struct sockaddr_storage *s =
	    family == AF_INET6 ? &t->source6 : &t->source4;

	return s->ss_family == family ? s : NULL;
}

static struct udp_sock *sock_open(struct udp_pools *tr, struct udp_pool *pool)
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

static void sock_close(struct udp_pools *tr, struct udp_sock *s)
{
	/* close() takes it out of the epoll set. */
	close(s->fd);
	tr->socks[s->index] = NULL;
	free(s);
}

/* Retire S: no more queries on it; closed once nothing is in flight. */
static void sock_retire(struct udp_pools *tr, struct udp_sock *s)
{
	s->retired = true;
	if (s->live == 0)
		sock_close(tr, s);
}

struct udp_pool *udp_pool_find(struct udp_pools *tr, int family,
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

struct udp_sock *udp_pool_pick(struct udp_pools *tr, struct udp_pool *pool)
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

int udp_pool_add(struct udp_pools *tr, int family,
                 const struct sockaddr_storage *src)
{
	struct udp_pool *pools, *p;

	if (udp_pool_find(tr, family, src) != NULL)
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
		log_msg(LOG_WARN,
		        "only %zu of %d UDP sockets open (%s): "
		        "fewer source ports to guess",
		        i, POOL_SOCKS, strerror(errno));
		tr->warned = true;
		break;
	}
	return 0;
}

bool udp_sock_idle(struct udp_pools *up, struct udp_sock *s)
{
	if (!s->retired || s->live > 0)
		return false;
	sock_close(up, s);
	return true;
}

int udp_pools_init(struct udp_pools *up)
{
	memset(up, 0, sizeof(*up));
	up->epfd = epoll_create1(EPOLL_CLOEXEC);
	return up->epfd < 0 ? -errno : 0;
}

void udp_pools_clear(struct udp_pools *up)
{
	for (size_t i = 0; i < up->n_socks; i++)
		if (up->socks[i] != NULL)
			sock_close(up, up->socks[i]);
	if (up->epfd >= 0)
		close(up->epfd);
	free(up->socks);
	free(up->pools);
	memset(up, 0, sizeof(*up));
	up->epfd = -1;
}
