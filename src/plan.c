/*
 * plan: the rows of a round and their shared parts; see include/plan.h.
 * Owns the query templates, the result keys and the content hashes. It
 * schedules nothing and sends nothing.
 */
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "hash.h"
#include "log.h"
#include "transport.h"

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* The terminating NUL keeps "ab"+"c" apart from "a"+"bc". */
	return hash_fnv(h, s, strlen(s) + 1);
}

static uint64_t query_hash(const struct conf_query *q)
{
	uint64_t h = fnv_str(HASH_FNV_OFFSET, q->name);

	h = hash_fnv(h, &q->type, sizeof(q->type));
	return hash_fnv(h, &q->class, sizeof(q->class));
}

static uint64_t key_hash(const struct result_key *k)
{
	uint64_t h = fnv_str(HASH_FNV_OFFSET, k->target->name);
	uint8_t ref = k->reference;

	h = fnv_str(h, k->server->addr_text);
	h = hash_fnv(h, &k->port, sizeof(k->port));
	h = hash_fnv(h, &k->transport, sizeof(k->transport));
	return hash_fnv(h, &ref, 1);
}

static uint16_t sockaddr_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	return 0;
}

uint16_t plan_port(const struct conf_target *t, const struct conf_server *s,
                   size_t transport)
{
	if (s->port)
		return s->port;
	if (transport < TR_MAX && t->ports[transport])
		return t->ports[transport];
	/* The `port` key (and an ad-hoc -s ADDR#PORT) of version 1 is in
	 * the address itself. */
	if (transport < transport_count &&
	    strcmp(transport_table[transport].port_key, "port") == 0) {
		uint16_t in_addr = sockaddr_port(&s->addr);

		if (in_addr)
			return in_addr;
		if (t->port)
			return t->port;
	}
	return transport < transport_count
	           ? transport_table[transport].default_port
	           : 53;
}

static int build_tmpl(struct dnsmsg_query *q, const struct conf_target *t,
                      const struct conf_query *cq)
{
	int rc = dnsmsg_query_build(q, cq->name, cq->type, cq->class,
	                            t->edns_size, t->nsid, t->dnssec);

	if (rc == 0 && t->cookies && t->edns_size > 0)
		rc = dnsmsg_query_reserve_cookie(q);
	if (rc < 0)
		log_msg(LOG_ERROR, "cannot build query %s: %s", cq->name,
		        strerror(-rc));
	return rc;
}

static size_t lowest_transport(unsigned mask)
{
	for (size_t i = 0; i < transport_count; i++)
		if (mask & (1u << i))
			return i;
	return 0;
}

int plan_new(struct plan **out, const struct conf *conf)
{
	struct plan *p = calloc(1, sizeof(*p));
	size_t n_keys = 0;
	int rc = -ENOMEM;

	if (p == NULL)
		return -ENOMEM;
	p->conf = conf;
	p->targets =
	    calloc(conf->n_targets ? conf->n_targets : 1, sizeof(*p->targets));
	if (p->targets == NULL)
		goto fail;
	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];

		n_keys +=
		    t->n_servers * (size_t)__builtin_popcount(t->transports);
		if (t->reference && t->zone)
			n_keys++;
	}
	p->keys = calloc(n_keys ? n_keys : 1, sizeof(*p->keys));
	p->key_hash = calloc(n_keys ? n_keys : 1, sizeof(*p->key_hash));
	p->key_row = calloc(n_keys ? n_keys : 1, sizeof(*p->key_row));
	if (p->keys == NULL || p->key_hash == NULL || p->key_row == NULL)
		goto fail;

	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];
		struct plan_target *pt = &p->targets[i];

		pt->target = t;
		pt->tmpls =
		    calloc(t->n_queries ? t->n_queries : 1, sizeof(*pt->tmpls));
		pt->query_hash = calloc(t->n_queries ? t->n_queries : 1,
		                        sizeof(*pt->query_hash));
		if (pt->tmpls == NULL || pt->query_hash == NULL)
			goto fail;
		for (size_t q = 0; q < t->n_queries; q++) {
			rc = build_tmpl(&pt->tmpls[q], t, &t->queries[q]);
			if (rc < 0)
				goto fail;
			pt->query_hash[q] = query_hash(&t->queries[q]);
		}
		rc = -ENOMEM;
		for (size_t s = 0; s < t->n_servers; s++) {
			for (size_t tr = 0; tr < transport_count; tr++) {
				struct result_key *k = &p->keys[p->n_keys];

				if (!(t->transports & (1u << tr)))
					continue;
				k->target = t;
				k->server = &t->servers[s];
				k->transport = (uint8_t)tr;
				k->port = plan_port(t, k->server, tr);
				k->index = (uint32_t)p->n_keys;
				p->key_row[p->n_keys] = (uint32_t)p->n_rows;
				p->key_hash[p->n_keys++] = key_hash(k);
				p->n_rows += t->n_queries;
			}
		}
		if (t->reference && t->zone) {
			struct result_key *k = &p->keys[p->n_keys];
			size_t tr = lowest_transport(t->transports);

			pt->zone_soa = (struct conf_query){
			    .name = t->zone,
			    .type = DNSMSG_TYPE_SOA,
			    .class = DNSMSG_CLASS_IN,
			    .expect_rcodes = 1,
			};
			rc = build_tmpl(&pt->zone_tmpl, t, &pt->zone_soa);
			if (rc < 0)
				goto fail;
			rc = -ENOMEM;
			pt->zone_hash = query_hash(&pt->zone_soa);
			k->target = t;
			k->server = t->reference;
			k->transport = (uint8_t)tr;
			k->port = plan_port(t, k->server, tr);
			k->reference = true;
			k->index = (uint32_t)p->n_keys;
			p->key_row[p->n_keys] = (uint32_t)p->n_rows;
			p->key_hash[p->n_keys++] = key_hash(k);
			p->n_rows++;
		}
	}
	*out = p;
	return 0;
fail:
	plan_free(p);
	return rc;
}

void plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; p->targets && i < p->conf->n_targets; i++) {
		struct plan_target *pt = &p->targets[i];

		for (size_t q = 0; pt->tmpls && q < pt->target->n_queries; q++)
			dnsmsg_query_clear(&pt->tmpls[q]);
		dnsmsg_query_clear(&pt->zone_tmpl);
		free(pt->tmpls);
		free(pt->query_hash);
	}
	free(p->targets);
	free(p->keys);
	free(p->key_hash);
	free(p->key_row);
	free(p);
}

void plan_rows_init(const struct plan *p, struct result *rows)
{
	size_t r = 0;

	for (size_t k = 0; k < p->n_keys; k++) {
		const struct result_key *key = &p->keys[k];
		const struct plan_target *pt =
		    &p->targets[key->target - p->conf->targets];

		if (key->reference) {
			rows[r] = (struct result){.key = key,
			                          .query = &pt->zone_soa,
			                          .inst_hist = rows[r].inst_hist};
			r++;
			continue;
		}
		for (size_t q = 0; q < key->target->n_queries; q++, r++)
			rows[r] = (struct result){
			    .key = key,
			    .query = &key->target->queries[q],
			    .inst_hist = rows[r].inst_hist};
	}
}

size_t plan_row_pos(const struct plan *p, const struct result *row)
{
	const struct result_key *k = row->key;

	if (k->reference)
		return p->key_row[k->index];
	return p->key_row[k->index] + (size_t)(row->query - k->target->queries);
}

static const struct plan_target *target_of(const struct plan *p,
                                           const struct result *row)
{
	return &p->targets[row->key->target - p->conf->targets];
}

const struct dnsmsg_query *plan_tmpl(const struct plan *p,
                                     const struct result *row)
{
	const struct plan_target *pt = target_of(p, row);

	if (row->key->reference)
		return &pt->zone_tmpl;
	return &pt->tmpls[row->query - pt->target->queries];
}

uint64_t plan_row_hash(const struct plan *p, const struct result *row)
{
	const struct plan_target *pt = target_of(p, row);
	uint64_t q = row->key->reference
	                 ? pt->zone_hash
	                 : pt->query_hash[row->query - pt->target->queries];

	/* Mix the two (splitmix64's finaliser): keys and queries hash
	 * independently, a plain xor would make (a, b) equal (b, a). */
	uint64_t z = p->key_hash[row->key->index] + 0x9e3779b97f4a7c15ULL * q;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
