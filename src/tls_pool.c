/*
 * tls_pool: the per-server connection bookkeeping that tr_tls.c and
 * tr_https.c share; see include/tls_pool.h. It owns the keys connections
 * are kept by across rounds (target, address and port), the table that
 * finds a connection by key, one client context per target that uses a
 * transport (made at start-up, before the sandbox), the per-round
 * connection details rows point at, and a connection's address, source
 * and verification name. It does no I/O: tls.c connects, handshakes,
 * reads and writes.
 */
#include "tls_pool.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "result.h"
#include "tls.h"

void tls_key_make(struct tls_key *key, const struct result_key *rk)
{
	const struct conf_server *server = rk->server;

	memset(key, 0, sizeof(*key));
	key->target = rk->target;
	memcpy(&key->addr, &server->addr, server->addrlen);
	key->addrlen = server->addrlen;
	if (key->addr.ss_family == AF_INET)
		((struct sockaddr_in *)&key->addr)->sin_port = htons(rk->port);
	else if (key->addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&key->addr)->sin6_port =
		    htons(rk->port);
}

static bool key_equal(const struct tls_key *a, const struct tls_key *b)
{
	return a->target == b->target && net_addr_equal(&a->addr, &b->addr);
}

static uint32_t key_hash(const struct tls_key *k)
{
	const unsigned char *p = (const unsigned char *)&k->addr;
	uint32_t h = 2166136261u;
	uintptr_t t = (uintptr_t)k->target;
	size_t n = k->addrlen;

	if (k->addr.ss_family == AF_INET6) /* skip flowinfo, scope hashed */
		n = sizeof(struct sockaddr_in6);
	for (size_t i = 0; i < sizeof(t); i++, t >>= 8)
		h = (h ^ (uint8_t)t) * 16777619u;
	if (k->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&k->addr;

		p = (const unsigned char *)&s->sin_addr;
		n = sizeof(s->sin_addr);
		h = (h ^ (uint8_t)s->sin_port) * 16777619u;
	} else if (k->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&k->addr;

		p = (const unsigned char *)&s->sin6_addr;
		n = sizeof(s->sin6_addr);
		h = (h ^ (uint8_t)s->sin6_port) * 16777619u;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void *tls_table_find(const struct tls_table *t, const struct tls_key *key)
{
	if (t->hcap == 0)
		return NULL;
	for (size_t i = key_hash(key) & (t->hcap - 1);;
	     i = (i + 1) & (t->hcap - 1)) {
		uint32_t v = t->hash[i];

		if (v == 0)
			return NULL;
		if (key_equal(&t->keys[v - 1], key))
			return t->items[v - 1];
	}
}

static void hash_put(uint32_t *hash, size_t hcap, uint32_t h, uint32_t v)
{
	size_t i = h & (hcap - 1);

	while (hash[i] != 0)
		i = (i + 1) & (hcap - 1);
	hash[i] = v;
}

int tls_table_add(struct tls_table *t, const struct tls_key *key, void *item)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void **items = realloc(t->items, cap * sizeof(*items));
		struct tls_key *keys;

		if (items == NULL)
			return -ENOMEM;
		t->items = items;
		keys = realloc(t->keys, cap * sizeof(*keys));
		if (keys == NULL)
			return -ENOMEM;
		t->keys = keys;
		t->cap = cap;
	}
	if ((t->n + 1) * 2 > t->hcap) {
		size_t hcap = t->hcap ? t->hcap * 2 : 32;
		uint32_t *hash = calloc(hcap, sizeof(*hash));

		if (hash == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < t->n; i++)
			hash_put(hash, hcap, key_hash(&t->keys[i]),
			         (uint32_t)i + 1);
		free(t->hash);
		t->hash = hash;
		t->hcap = hcap;
	}
	t->items[t->n] = item;
	t->keys[t->n] = *key;
	hash_put(t->hash, t->hcap, key_hash(key), (uint32_t)t->n + 1);
	return (int)t->n++;
}

void tls_table_clear(struct tls_table *t, void (*item_free)(void *))
{
	for (size_t i = 0; i < t->n; i++)
		item_free(t->items[i]);
	free(t->items);
	free(t->keys);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

int tls_clients_init(struct tls_clients *cs, const struct conf *conf,
                     size_t tr_index, const unsigned char *alpn,
                     size_t alpn_len)
{
	bool resume = tls_resume_wanted();

	/* Certificate times go through gmtime_r(), whose first call reads
	 * /etc/localtime: read it now, before the sandbox forbids opening
	 * files. */
	tzset();
	memset(cs, 0, sizeof(*cs));
	if (conf->n_targets == 0)
		return 0;
	cs->c = calloc(conf->n_targets, sizeof(*cs->c));
	if (cs->c == NULL)
		return -ENOMEM;
	cs->n = conf->n_targets;
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];
		char err[256];
		int rc;

		if (!(t->transports & (1u << tr_index)))
			continue;
		rc = tls_client_init(&cs->c[i], t->tls_ca, t->tls_verify, alpn,
		                     alpn_len, resume, err, sizeof(err));
		if (rc < 0) {
			log_msg(LOG_ERROR, "target %s: %s", t->name, err);
			tls_clients_clear(cs);
			return rc;
		}
	}
	return 0;
}

struct tls_client *tls_clients_get(struct tls_clients *cs,
                                   const struct conf *conf,
                                   const struct conf_target *target)
{
	size_t i = (size_t)(target - conf->targets);

	if (target < conf->targets || i >= cs->n || cs->c[i].ctx == NULL)
		return NULL;
	return &cs->c[i];
}

void tls_clients_clear(struct tls_clients *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		tls_client_clear(&cs->c[i]);
	free(cs->c);
	memset(cs, 0, sizeof(*cs));
}

struct tr_conn_info *tls_infos_next(struct tls_infos *in)
{
	in->cur = &in->e[in->n < TLS_INFOS ? in->n++ : TLS_INFOS - 1];
	return in->cur;
}

void tls_infos_reset(struct tls_infos *in)
{
	in->n = 0;
	in->cur = NULL;
}

int tls_conn_setup(struct tls_conn *c, const struct tls_key *key,
                   const struct conf_target *target,
                   const struct conf_server *server, char **name, char *ip_text,
                   size_t ip_len)
{
	const char *n = target->tls_name ? target->tls_name : server->name;

	const struct sockaddr_storage *src =
	    server->family == CONF_IPV6 ? &target->source6 : &target->source4;

	memcpy(&c->addr, &key->addr, sizeof(c->addr));
	c->addrlen = key->addrlen;
	c->src = src->ss_family != 0 ? src : NULL;
	c->fd = -1;
	snprintf(ip_text, ip_len, "%s", server->addr_text);
	*name = NULL;
	if (n != NULL && (*name = strdup(n)) == NULL)
		return -ENOMEM;
	c->name = *name;
	c->ip_text = ip_text;
	return 0;
}
