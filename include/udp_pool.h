/*
 * udp_pool: the source-port pools of tr_udp (RFC 5452). Every (family,
 * source address) has POOL_SOCKS unconnected UDP sockets bound to random
 * ports; a query leaves from a random one, and a socket is retired after
 * SOCK_USES queries and closed once its last query has ended, so a port
 * learnt from one query says nothing about the next. Each socket's queries
 * live in its own table (struct udp_entry), one entry per datagram sent on
 * it, in sending order: the entry index is also the kernel's OPT_ID key of
 * the datagram's TX timestamp. All sockets sit in one epoll set (epfd) that
 * tr_udp drains. It matches nothing and sends nothing: tr_udp does.
 */
#ifndef ANYCAST_PROBE_UDP_POOL_H
#define ANYCAST_PROBE_UDP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define POOL_SOCKS 64
#define SOCK_USES 100 /* < 128: the entry index has 7 bits in the slot */

struct conf_server;
struct conf_target;
struct dnsmsg_query;
struct cookie_state;

struct udp_entry {
	const struct conf_server *server;
	const struct dnsmsg_query *tmpl;
	const char *seen_error; /* a bad reply that did not end the query */
	struct cookie_state *cookie; /* the server's, when a COOKIE was sent */
	int64_t send_ns;        /* monotonic */
	int64_t send_wall_ns;   /* to vet the TX stamp */
	int64_t tx_stamp_ns;    /* kernel TX stamp (realtime); 0: none */
	uint32_t job;
	uint16_t id;
	uint16_t port;
	uint8_t cookie_len; /* the COOKIE option sent */
	bool live;
};

struct udp_pool;

struct udp_sock {
	struct udp_pool *pool;
	int fd;
	uint32_t index; /* in udp_pools.socks */
	uint8_t sent;   /* entries used, = the next datagram's TX key */
	uint8_t live;   /* entries in flight */
	bool stamps;    /* the kernel stamps our datagrams */
	bool retired;   /* no new queries; closed when live reaches 0 */
	struct udp_entry e[SOCK_USES];
};

struct udp_pool {
	int family;                  /* AF_INET, AF_INET6 */
	struct sockaddr_storage src; /* ss_family 0: any address */
	struct udp_sock *active[POOL_SOCKS];
};

struct udp_pools {
	int epfd; /* every socket, EPOLLIN, data.ptr the udp_sock */
	struct udp_pool *pools;
	size_t n_pools;
	struct udp_sock **socks; /* by index; NULL: free */
	size_t n_socks;
	bool warned; /* a socket could not be opened: said once */
};

/* Returns 0 or -errno (epoll_create1). */
int udp_pools_init(struct udp_pools *up);
void udp_pools_clear(struct udp_pools *up); /* closes every socket */

/* The pool of FAMILY (AF_INET, AF_INET6) and SRC (NULL: any address). */
struct udp_pool *udp_pool_find(struct udp_pools *up, int family,
                               const struct sockaddr_storage *src);
/* Add that pool with its sockets opened now (before the sandbox, and so the
 * kernel has RX timestamps on before the first round); fewer sockets at a
 * low descriptor limit (a W! line), none: -errno. 0 when it exists. */
int udp_pool_add(struct udp_pools *up, int family,
                 const struct sockaddr_storage *src);
/* A random socket of POOL with room for one more query (a retired one is
 * replaced by a fresh socket), or NULL with errno set. */
struct udp_sock *udp_pool_pick(struct udp_pools *up, struct udp_pool *pool);
/* S after its last query ended: closed when retired. True when closed. */
bool udp_sock_idle(struct udp_pools *up, struct udp_sock *s);

/* AF_INET / AF_INET6 of a conf family; a target's source of that family
 * (NULL: none). */
int udp_family(int conf_family);
const struct sockaddr_storage *udp_source(const struct conf_target *t,
                                          int family);

#endif
