/*
 * tls_pool: per-server TLS connections, shared by tr_tls.c and tr_https.c
 * (src/tls_pool.c). A transport keeps its connections in a tls_table by
 * tls_key (content, not the plan's position, so a rebuilt plan finds its
 * sessions again), makes its client contexts with tls_clients_init() in
 * create(), before the sandbox seals, and records each round's connection
 * details in a tls_infos. The connections themselves are tls.h's.
 */
#ifndef ANYCAST_PROBE_TLS_POOL_H
#define ANYCAST_PROBE_TLS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls.h"
#include "transport.h"

struct conf;
struct conf_server;
struct conf_target;

/* What a connection is kept by across rounds: the target (its tls_name,
 * tls_ca) and the address with the transport's port. Content, not the
 * plan's position, so a rebuilt plan finds its sessions again. */
struct tls_key {
	const struct conf_target *target;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

struct result_key;

/* Fill KEY for the scheduler's key RK: its target, its server's address
 * with the port RK names. */
void tls_key_make(struct tls_key *key, const struct result_key *rk);

/* Items (connections) by key. An item's index never changes (it is what a
 * tr_slot names); lookup is a hash. */
struct tls_table {
	void **items;
	struct tls_key *keys;
	size_t n, cap;
	uint32_t *hash; /* item index + 1; 0: empty */
	size_t hcap;    /* power of two */
};
void *tls_table_find(const struct tls_table *t, const struct tls_key *key);
/* Returns the new item's index, or -ENOMEM. */
int tls_table_add(struct tls_table *t, const struct tls_key *key, void *item);
void tls_table_clear(struct tls_table *t, void (*item_free)(void *));

/* One client context per target that uses the transport, made at start-up
 * (tls_ca read now). ALPN as tls_client_init() takes it. Returns 0 or
 * -errno after logging the cause. */
struct tls_clients {
	struct tls_client *c; /* per target index; ctx NULL: not used */
	size_t n;
};
int tls_clients_init(struct tls_clients *cs, const struct conf *conf,
                     size_t tr_index, const unsigned char *alpn,
                     size_t alpn_len);
struct tls_client *tls_clients_get(struct tls_clients *cs,
                                   const struct conf *conf,
                                   const struct conf_target *target);
void tls_clients_clear(struct tls_clients *cs);

/* Connection details of one server in one round: an entry per connection
 * made (TLS_INFOS; a fifth and later reuse the last). Rows point at them,
 * so they are reset only when the next round starts sending. */
#define TLS_INFOS 4
struct tls_infos {
	struct tr_conn_info e[TLS_INFOS];
	unsigned n;
	struct tr_conn_info *cur; /* the connection's now; NULL: none yet */
};
struct tr_conn_info *tls_infos_next(struct tls_infos *in);
void tls_infos_reset(struct tls_infos *in);

/* Set up C's address, source (the target's `source` of the server's
 * family), verification name (a copy in *NAME: tls_name, else the server's
 * host name, else NULL and the IP is verified) and IP text. */
int tls_conn_setup(struct tls_conn *c, const struct tls_key *key,
                   const struct conf_target *target,
                   const struct conf_server *server, char **name, char *ip_text,
                   size_t ip_len);

#endif
