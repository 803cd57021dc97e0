/*
 * identity: who answered; see include/identity.h. It reads rows and the
 * plan and writes the instance fields; it sends nothing.
 *
 * History is in the rows themselves (result.inst_hist: the hash of the
 * row's last known instance), so it costs no memory and no look-up. When
 * the plan is rebuilt, identity_replan() carries it over by content
 * (plan_row_hash); rows that left the plan wait in an open-addressing hash
 * table (the away table) for HISTORY_TTL rounds, in case their address
 * comes back, so churn in re-resolved host names does not grow it for
 * ever.
 */
#include "identity.h"

#include "arena.h"
#include "hash.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HISTORY_TTL 64 /* rounds an entry outlives its last sighting */
#define MAP_MAX 1024   /* bytes of an instance value the map looks at */
#define MAP_GROUPS 10  /* \0 .. \9 */

/* 16 bytes: a 32-bit hash of the instance is enough to see a change (a
 * false "same" needs a collision between two consecutive values). */
struct hist {
	uint64_t key;  /* row content hash; 0: empty slot */
	uint32_t inst; /* hash of the last known instance */
	uint32_t seen; /* round number of the last sighting */
};

struct identity {
	struct hist *hist; /* the away table */
	size_t cap, used;  /* cap is a power of two */
	uint32_t round;
	bool has_map;
	regex_t re;
	const char *repl;
	struct arena store; /* mapped values of this round */
};

int identity_new(struct identity **out, const struct conf *conf)
{
	struct identity *id = calloc(1, sizeof(*id));

	if (id == NULL)
		return -ENOMEM;
	if (conf->instance_map_re) {
		if (regcomp(&id->re, conf->instance_map_re, REG_EXTENDED) !=
		    0) {
			free(id);
			return -EINVAL;
		}
		id->has_map = true;
		id->repl =
		    conf->instance_map_repl ? conf->instance_map_repl : "";
	}
	*out = id;
	return 0;
}

void identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	if (id->has_map)
		regfree(&id->re);
	arena_clear(&id->store);
	free(id->hist);
	free(id);
}

/* ---- mapped values ---------------------------------------------------- */

size_t identity_map(const struct identity *id, const uint8_t *buf, size_t len,
                    uint8_t *out, size_t cap)
{
	char in[MAP_MAX + 1];
	regmatch_t m[MAP_GROUPS];
	size_t o = 0;

	if (len > MAP_MAX)
		len = MAP_MAX;
	memcpy(in, buf, len);
	in[len] = '\0';
	/* REG_STARTEND: NUL bytes from the network are data, not the end. */
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	if (!id->has_map || regexec(&id->re, in, MAP_GROUPS, m, REG_STARTEND)) {
		if (len > cap)
			len = cap;
		memcpy(out, buf, len);
		return len;
	}
#define PUT(p, n)                                                              \
	do {                                                                   \
		size_t n_ = (n);                                               \
		if (n_ > cap - o)                                              \
			n_ = cap - o;                                          \
		memcpy(out + o, (p), n_);                                      \
		o += n_;                                                       \
	} while (0)
	PUT(in, (size_t)m[0].rm_so);
	for (const char *r = id->repl; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '9') {
			const regmatch_t *g = &m[r[1] - '0'];

			if (g->rm_so >= 0)
				PUT(in + g->rm_so,
				    (size_t)(g->rm_eo - g->rm_so));
			r++;
		} else if (r[0] == '\\' && r[1] == '\\') {
			PUT(r, 1);
			r++;
		} else {
			PUT(r, 1);
		}
	}
	PUT(in + m[0].rm_eo, len - (size_t)m[0].rm_eo);
#undef PUT
	return o;
}

/* ---- history ---------------------------------------------------------- */

/* The instance's 32-bit hash; never 0 (0 is "no history"). */
static uint32_t inst_hash(const uint8_t *inst, size_t len)
{
	uint64_t h64 = hash_fnv(HASH_FNV_OFFSET, inst, len);
	uint32_t h = (uint32_t)(h64 ^ (h64 >> 32));

	return h ? h : 1;
}

/* 1 changed, 0 same or first sighting; the row's history is H from now. */
static int changed(struct result *r, uint32_t h)
{
	int was = r->inst_hist != 0 && r->inst_hist != h;

	r->inst_hist = h;
	return was;
}

static struct hist *hist_slot(struct hist *tab, size_t cap, uint64_t key)
{
	size_t i = (size_t)key & (cap - 1);

	while (tab[i].key != 0 && tab[i].key != key)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* A table of at least N entries at most 80% full; NULL: no memory. */
static struct hist *table_new(size_t n, size_t *cap)
{
	size_t c = 16;

	while (c * 4 < (n + 1) * 5)
		c *= 2;
	*cap = c;
	return calloc(c, sizeof(struct hist));
}

/* Rebuild the away table with ROOM more entries; entries taken back
 * (inst 0) and those not seen for HISTORY_TTL rounds are dropped. */
static int away_grow(struct identity *id, size_t room)
{
	size_t cap, keep = 0;
	struct hist *tab;

	for (size_t i = 0; i < id->cap; i++)
		keep += id->hist[i].key != 0 && id->hist[i].inst != 0;
	tab = table_new(keep + room, &cap);
	if (tab == NULL)
		return -ENOMEM;
	id->used = 0;
	for (size_t i = 0; i < id->cap; i++) {
		const struct hist *h = &id->hist[i];

		if (h->key == 0 || h->inst == 0 ||
		    id->round - h->seen > HISTORY_TTL)
			continue;
		*hist_slot(tab, cap, h->key) = *h;
		id->used++;
	}
	free(id->hist);
	id->hist = tab;
	id->cap = cap;
	return 0;
}

int identity_replan(struct identity *id, const struct plan *old_plan,
                    const struct result *old_rows, size_t n_old,
                    const struct plan *new_plan, struct result *new_rows,
                    size_t n_new)
{
	size_t cap, left = 0;
	struct hist *old = table_new(n_old, &cap);

	if (old == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n_old; i++) {
		uint64_t key = plan_row_hash(old_plan, &old_rows[i]);

		if (old_rows[i].inst_hist == 0)
			continue;
		*hist_slot(old, cap, key ? key : 1) = (struct hist){
		    .key = key ? key : 1, .inst = old_rows[i].inst_hist};
		left++;
	}
	for (size_t i = 0; i < n_new; i++) {
		uint64_t key = plan_row_hash(new_plan, &new_rows[i]);
		struct hist *e;

		key = key ? key : 1;
		new_rows[i].inst_hist = 0;
		e = hist_slot(old, cap, key);
		if (e->key == 0 && id->cap > 0)
			e = hist_slot(id->hist, id->cap, key);
		if (e->key == key && e->inst != 0) {
			/* Taken back: from the old plan, or from the rows
			 * that left earlier (then it leaves the away
			 * table at its next rebuild). */
			new_rows[i].inst_hist = e->inst;
			if (e >= old && e < old + cap)
				left--;
			e->inst = 0;
		}
	}
	/* Rows that left the plan keep their history HISTORY_TTL rounds, in
	 * case their address comes back. */
	if (away_grow(id, left) < 0) {
		free(old);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cap; i++) {
		if (old[i].key == 0 || old[i].inst == 0)
			continue;
		old[i].seen = id->round;
		*hist_slot(id->hist, id->cap, old[i].key) = old[i];
		id->used++;
	}
	free(old);
	return 0;
}

/* ---- the rule --------------------------------------------------------- */

static enum result_source identity_source(const struct conf_query *q)
{
	if (!q->identity)
		return SOURCE_NONE;
	if (strcasecmp(q->name, "hostname.bind") == 0 ||
	    strcasecmp(q->name, "hostname.bind.") == 0)
		return SOURCE_HOSTNAME_BIND;
	if (strcasecmp(q->name, "id.server") == 0 ||
	    strcasecmp(q->name, "id.server.") == 0)
		return SOURCE_ID_SERVER;
	return SOURCE_NONE;
}

static bool has_identity(const struct result *r)
{
	return r->identity != NULL && r->identity_len > 0;
}

/* Map the row's instance (when a map is set) into the round's storage.
 * A group's rows mostly carry one value: the last mapping is reused. */
static void map_instance(struct identity *id, struct result *r,
                         const uint8_t **last_in, size_t *last_len,
                         const uint8_t **last_out, size_t *last_out_len)
{
	uint8_t buf[MAP_MAX];
	uint8_t *dst;
	size_t n;

	if (!id->has_map)
		return;
	if (*last_in && *last_len == r->instance_len &&
	    memcmp(*last_in, r->instance, r->instance_len) == 0) {
		r->instance = *last_out;
		r->instance_len = (uint16_t)*last_out_len;
		return;
	}
	n = identity_map(id, r->instance, r->instance_len, buf, sizeof(buf));
	dst = arena_alloc(&id->store, n ? n : 1);
	if (dst == NULL)
		return; /* unmapped rather than lost */
	memcpy(dst, buf, n);
	*last_in = r->instance;
	*last_len = r->instance_len;
	r->instance = dst;
	r->instance_len = (uint16_t)n;
	*last_out = dst;
	*last_out_len = n;
}

void identity_begin(struct identity *id)
{
	id->round++;
	arena_reset(&id->store);
}

void identity_round(struct identity *id, struct result *rows, size_t n)
{
	identity_begin(id);
	identity_rows(id, rows, n);
}

void identity_rows(struct identity *id, struct result *rows, size_t n)
{
	const uint8_t *last_in = NULL, *last_out = NULL, *last_hashed = NULL;
	size_t last_len = 0, last_out_len = 0, last_hashed_len = 0;
	uint32_t last_h = 0;

	for (size_t g = 0; g < n;) {
		const struct result_key *key = rows[g].key;
		const struct result *hb = NULL, *ids = NULL;
		size_t end = g;

		/* The group's identity answers, in one scan. */
		for (; end < n && rows[end].key == key; end++) {
			const struct result *o = &rows[end];
			enum result_source s = identity_source(o->query);

			if (!has_identity(o))
				continue;
			if (s == SOURCE_HOSTNAME_BIND && hb == NULL)
				hb = o;
			else if (s == SOURCE_ID_SERVER && ids == NULL)
				ids = o;
		}
		if (hb == NULL)
			hb = ids;
		for (size_t i = g; i < end; i++) {
			struct result *r = &rows[i];
			enum result_source own = identity_source(r->query);
			int c;

			r->instance = NULL;
			r->instance_len = 0;
			r->instance_source = SOURCE_NONE;
			r->instance_changed = -1;
			if (r->nsid != NULL && r->nsid_len > 0) {
				r->instance = r->nsid;
				r->instance_len = r->nsid_len;
				r->instance_source = SOURCE_NSID;
			} else if (own != SOURCE_NONE && has_identity(r)) {
				r->instance = r->identity;
				r->instance_len = r->identity_len;
				r->instance_source = (uint8_t)own;
			} else if (hb != NULL) {
				r->instance = hb->identity;
				r->instance_len = hb->identity_len;
				r->instance_source =
				    (uint8_t)identity_source(hb->query);
			}
			if (r->instance == NULL)
				continue; /* unknown: the last known one stays
				           */
			map_instance(id, r, &last_in, &last_len, &last_out,
			             &last_out_len);
			if (r->instance != last_hashed ||
			    r->instance_len != last_hashed_len) {
				last_hashed = r->instance;
				last_hashed_len = r->instance_len;
				last_h = inst_hash(r->instance, r->instance_len);
			}
			c = changed(r, last_h);
			r->instance_changed = (int8_t)c;
		}
		g = end;
	}
}
