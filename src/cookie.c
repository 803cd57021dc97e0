/*
 * cookie: see include/cookie.h. The servers are kept in a hash table of
 * pointers (open addressing, linear probing, at most half full, doubled
 * when it would be more), the states themselves in blocks that never
 * move, so a state's address stays valid while the table grows.
 */
#include "cookie.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BLOCK 64

struct entry {
	struct cookie_state st; /* first: entry and state share an address */
	uint8_t key[19];        /* family, port (2), address (16) */
};

struct block {
	struct block *next;
	size_t used;
	struct entry e[BLOCK];
};

struct cookie_jar {
	uint8_t secret[16];
	struct entry **slots;
	size_t cap, n;
	struct block *blocks;
};

static uint64_t rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = rotl(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = rotl(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = rotl(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = rotl(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = rotl(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = rotl(v2, 32);                                             \
	} while (0)

uint64_t cookie_siphash(const uint8_t key[16], const uint8_t *data, size_t len)
{
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	size_t i = 0;
	uint64_t m;

	for (; i + 8 <= len; i += 8) {
		m = le64(data + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)(len & 0xff) << 56;
	for (size_t j = 0; i + j < len; j++)
		m |= (uint64_t)data[i + j] << (8 * j);
	v3 ^= m;
	SIPROUND;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int cookie_jar_new_secret(struct cookie_jar **out, const uint8_t secret[16])
{
	struct cookie_jar *j;

	if (out == NULL || secret == NULL)
		return -EINVAL;
	*out = NULL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return -ENOMEM;
	memcpy(j->secret, secret, sizeof(j->secret));
	j->cap = 64;
	j->slots = calloc(j->cap, sizeof(*j->slots));
	if (j->slots == NULL) {
		free(j);
		return -ENOMEM;
	}
	*out = j;
	return 0;
}

int cookie_jar_new(struct cookie_jar **out)
{
	uint8_t secret[16];
	size_t got = 0;

	while (got < sizeof(secret)) {
		ssize_t n = getrandom(secret + got, sizeof(secret) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	int rc = cookie_jar_new_secret(out, secret);
	memset(secret, 0, sizeof(secret));
	return rc;
}

void cookie_jar_free(struct cookie_jar *jar)
{
	if (jar == NULL)
		return;
	while (jar->blocks != NULL) {
		struct block *b = jar->blocks;
		jar->blocks = b->next;
		free(b);
	}
	free(jar->slots);
	memset(jar->secret, 0, sizeof(jar->secret));
	free(jar);
}

size_t cookie_jar_size(const struct cookie_jar *jar)
{
	return jar ? jar->n : 0;
}

/* KEY: family, port, address (IPv4 in the first 4 bytes, rest zero). */
static int make_key(const struct sockaddr *sa, uint8_t key[19])
{
	memset(key, 0, 19);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		key[0] = 4;
		memcpy(key + 1, &s4->sin_port, 2);
		memcpy(key + 3, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		key[0] = 6;
		memcpy(key + 1, &s6->sin6_port, 2);
		memcpy(key + 3, &s6->sin6_addr, 16);
		return 0;
	}
	return -EAFNOSUPPORT;
}

static size_t slot_of(const struct cookie_jar *j, const uint8_t key[19])
{
	/* The secret keys the table too: no one can aim collisions. */
	return (size_t)cookie_siphash(j->secret, key, 19) & (j->cap - 1);
}

static int grow(struct cookie_jar *j)
{
	size_t cap = j->cap * 2;
	struct entry **slots = calloc(cap, sizeof(*slots));
	struct entry **old = j->slots;
	size_t old_cap = j->cap;

	if (slots == NULL)
		return -ENOMEM;
	j->slots = slots;
	j->cap = cap;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i] == NULL)
			continue;
		size_t s = slot_of(j, old[i]->key);
		while (slots[s] != NULL)
			s = (s + 1) & (cap - 1);
		slots[s] = old[i];
	}
	free(old);
	return 0;
}

struct cookie_state *cookie_get(struct cookie_jar *jar,
                                const struct sockaddr *sa)
{
	uint8_t key[19];
	size_t s;

	if (jar == NULL || sa == NULL || make_key(sa, key) < 0)
		return NULL;
	s = slot_of(jar, key);
	while (jar->slots[s] != NULL) {
		if (memcmp(jar->slots[s]->key, key, sizeof(key)) == 0)
			return &jar->slots[s]->st;
		s = (s + 1) & (jar->cap - 1);
	}
	if (2 * (jar->n + 1) > jar->cap) {
		if (grow(jar) < 0)
			return NULL;
		return cookie_get(jar, sa); /* not there: adds it */
	}
	if (jar->blocks == NULL || jar->blocks->used == BLOCK) {
		struct block *b = calloc(1, sizeof(*b));
		if (b == NULL)
			return NULL;
		b->next = jar->blocks;
		jar->blocks = b;
	}
	struct entry *e = &jar->blocks->e[jar->blocks->used++];
	memcpy(e->key, key, sizeof(key));
	uint64_t c = cookie_siphash(jar->secret, key, sizeof(key));
	for (int i = 0; i < DNSMSG_COOKIE_CLIENT; i++)
		e->st.client[i] = (uint8_t)(c >> (8 * i));
	jar->slots[s] = e;
	jar->n++;
	return &e->st;
}

size_t cookie_option(const struct cookie_state *st,
                     uint8_t out[DNSMSG_COOKIE_OPT_MAX])
{
	if (st == NULL)
		return 0;
	return dnsmsg_cookie_option(out, st->client, st->server,
	                            st->server_len);
}

enum cookie_verdict cookie_check(struct cookie_state *st,
                                 const struct dnsmsg_reply *r)
{
	if (st == NULL || r == NULL || !r->has_cookie)
		return COOKIE_NONE;
	/* dnsmsg accepted only 16..40 bytes: the client part is there. */
	if (memcmp(r->cookie, st->client, DNSMSG_COOKIE_CLIENT) != 0) {
		st->spoofs++;
		return COOKIE_SPOOF;
	}
	return COOKIE_OK;
}

void cookie_learn(struct cookie_state *st, const struct dnsmsg_reply *r)
{
	if (st == NULL || r == NULL || !r->has_cookie ||
	    r->cookie_len < DNSMSG_COOKIE_CLIENT + DNSMSG_COOKIE_SERVER_MIN ||
	    r->cookie_len > DNSMSG_COOKIE_MAX)
		return;
	st->server_len = r->cookie_len - DNSMSG_COOKIE_CLIENT;
	memcpy(st->server, r->cookie + DNSMSG_COOKIE_CLIENT, st->server_len);
}
