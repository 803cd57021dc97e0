/*
 * probe: a round of queries; see include/probe.h. It owns the jobs, the
 * pacing, the table of queries in flight and the matching of replies. It
 * does not parse DNS (dnsmsg), own socket details (net) or print (report).
 *
 * The work list is fixed at start-up: one job per target x address x
 * transport x query, in that order, so the jobs of one address and
 * transport (a "group") stand side by side and the identity queries of a
 * group are found without a search. A round runs like this:
 *
 *   round_start: every job joins the send queue (a ring of job pointers,
 *       each job in it at most once).
 *   pacer: sends from the queue head as long as the round is not ahead of
 *       `rate` (sent <= elapsed * rate), then sleeps on its timer until the
 *       next send is due. A send arms the job's timeout timer.
 *   UDP: datagrams go out of a few shared unconnected sockets per family;
 *       each socket has a table indexed by message ID holding the job in
 *       flight with that ID. A reply counts only when the ID finds a job,
 *       the source address and port are the job's server, and the question
 *       is the job's; anything else is dropped and counted. ICMP errors come
 *       back on the socket's error queue with the query attached, and are
 *       matched the same way (destination + ID).
 *   TCP: a connection per attempt: connect (timed: connect_ms), write the
 *       framed query, read the two-byte length and the message.
 *   timeout: a job whose timer fires is sent again (back of the queue) while
 *       retries are left, else it ends as a timeout.
 *   round_finish: when every job has ended, `instance` and
 *       `instance_changed` are resolved over the whole round.
 *
 * Nothing is allocated per query: jobs, the ring, the ID tables and the
 * string arena are set up once and reused; TCP read buffers come from a free
 * list that only grows to the number of connections open at once.
 */
#include "probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "dnsmsg.h"
#include "log.h"
#include "net.h"
#include "transport.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UDP_IDS 65536
#define UDP_MAX_INFLIGHT 16384 /* per socket: keeps random IDs easy to find */
#define UDP_BUF 65536
#define ERR_BUF 512 /* an ICMP error's copy of our query: the ID is enough */
#define TCP_BUF 65537
#define SEND_BATCH 64 /* sends per pacer turn before yielding */
#define ARENA_CHUNK 65536
#define TX_STAMP_SLACK_NS (50 * NS_PER_MS)
#define PACE_MAX_DEBT_NS (2 * NS_PER_MS)
#define PACE_QUANTUM_NS (200 * 1000)

enum job_state { JOB_IDLE, JOB_QUEUED, JOB_INFLIGHT, JOB_DONE };
enum tcp_phase { TCP_CONNECTING, TCP_SENDING, TCP_READING };

struct udpsock {
	struct loop_handler h;
	struct probe *probe;
	int fd;
	int family;
	unsigned inflight;
	struct job **by_id;  /* UDP_IDS slots */
	bool stamps;         /* the kernel stamps our datagrams */
	uint32_t tx_next;    /* OPT_ID key of the next datagram sent */
	struct job **by_key; /* UDP_IDS slots, by tx key modulo UDP_IDS */
};

struct job {
	struct loop_handler h; /* TCP socket events */
	struct loop_timer timer;
	struct probe *probe;
	const struct conf_target *target;
	const struct conf_server *server;
	const struct conf_query *query;
	const struct dnsmsg_query *tmpl;
	unsigned transport;
	size_t group; /* index of the group's first job */
	enum job_state state;
	unsigned attempts;
	uint16_t id;
	struct udpsock *sock; /* UDP attempt in flight */
	int fd;               /* TCP attempt in flight, else -1 */
	enum tcp_phase phase;
	size_t io_done;
	uint8_t lenbuf[2];
	uint8_t *rbuf;
	size_t rneed;
	int64_t start_ns;     /* attempt start (monotonic) */
	int64_t send_ns;      /* query written (monotonic) */
	int64_t send_wall_ns; /* the same, realtime (to vet TX stamps) */
	int64_t tx_stamp_ns;  /* kernel TX timestamp (realtime); 0: none */
	uint32_t tx_key;
	int64_t first_wall_ns;  /* first attempt, for the timestamp */
	const char *seen_error; /* a bad reply seen during the attempt */
	struct tr_conn_info conn;
	struct result res;
	bool has_prev; /* previous round's instance, as a hash */
	uint64_t prev_hash;
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	uint8_t data[ARENA_CHUNK];
};

struct probe {
	const struct conf *conf;
	struct loop *loop;
	struct dnsmsg_query *tmpls; /* per target x query */
	size_t n_tmpls;
	struct job *jobs;
	size_t n_jobs;
	struct result_key *keys;
	size_t n_keys;
	/* send queue: ring of n_jobs slots */
	struct job **ring;
	size_t head, count;
	struct loop_timer pacer;
	/* UDP sockets per family: [0] IPv4, [1] IPv6 */
	struct udpsock **socks[2];
	size_t n_socks[2];
	uint8_t *udp_buf;   /* NET_BATCH datagrams of UDP_BUF */
	uint8_t *err_buf;   /* NET_BATCH error-queue payloads of ERR_BUF */
	uint8_t **tcp_free; /* free TCP buffers */
	size_t n_tcp_free, cap_tcp_free;
	long tcp_open, tcp_max;
	/* round */
	bool running;
	uint64_t rounds_done;
	size_t done;
	int64_t round_start_ns;
	int64_t pace_offset_ns; /* pacing debt forgiven after stalls */
	uint64_t sent;
	struct probe_stats stats;
	struct result *results;
	size_t n_results;
	struct arena_chunk *arena, *arena_cur;
};

static void pacer_fire(struct loop_timer *t);
static void job_timeout(struct loop_timer *t);
static void tcp_event(struct loop_handler *h, uint32_t events);
static void udp_event(struct loop_handler *h, uint32_t events);
static struct udpsock *udp_socket_for(struct probe *p, int family);

/* ---- small helpers ---------------------------------------------------- */

static void *(*volatile touch)(void *, int, size_t) = memset;

static int fam_index(int family)
{
	return family == CONF_IPV6 ? 1 : 0;
}

/* Copy bytes into the round's arena; NULL when out of memory. */
static const uint8_t *arena_copy(struct probe *p, const uint8_t *src,
                                 size_t len)
{
	struct arena_chunk *c = p->arena_cur;
	uint8_t *dst;

	if (len > ARENA_CHUNK)
		len = ARENA_CHUNK;
	if (c == NULL || c->used + len > ARENA_CHUNK) {
		struct arena_chunk *next = c ? c->next : p->arena;

		if (next == NULL) {
			next = malloc(sizeof(*next));
			if (next == NULL)
				return NULL;
			next->next = NULL;
			if (c)
				c->next = next;
			else
				p->arena = next;
		}
		next->used = 0;
		c = p->arena_cur = next;
	}
	dst = c->data + c->used;
	memcpy(dst, src, len);
	c->used += len;
	return dst;
}

static void arena_reset(struct probe *p)
{
	p->arena_cur = NULL;
}

static uint64_t hash_bytes(const uint8_t *b, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint8_t *tcp_buf_get(struct probe *p)
{
	if (p->n_tcp_free > 0)
		return p->tcp_free[--p->n_tcp_free];
	return malloc(TCP_BUF);
}

static void tcp_buf_put(struct probe *p, uint8_t *buf)
{
	if (buf == NULL)
		return;
	if (p->n_tcp_free == p->cap_tcp_free) {
		size_t cap = p->cap_tcp_free ? p->cap_tcp_free * 2 : 16;
		uint8_t **f = realloc(p->tcp_free, cap * sizeof(*f));

		if (f == NULL) {
			free(buf);
			return;
		}
		p->tcp_free = f;
		p->cap_tcp_free = cap;
	}
	p->tcp_free[p->n_tcp_free++] = buf;
}

/* ---- set-up ----------------------------------------------------------- */

int probe_new(struct probe **out, const struct conf *conf, struct loop *loop)
{
	struct probe *p = calloc(1, sizeof(*p));
	size_t n = 0, n_tmpls = 0, t_off = 0;
	int rc = -ENOMEM;

	if (p == NULL)
		return -ENOMEM;
	p->conf = conf;
	p->loop = loop;
	p->pacer.fn = pacer_fire;
	/* Keep a reserve of descriptors for everything that is not TCP. */
	p->tcp_max = net_raise_fd_limit() - 64;
	if (p->tcp_max < 16)
		p->tcp_max = 16;

	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];
		unsigned nt = __builtin_popcount(t->transports);

		n_tmpls += t->n_queries;
		n += t->n_servers * nt * t->n_queries;
	}
	p->tmpls = calloc(n_tmpls ? n_tmpls : 1, sizeof(*p->tmpls));
	if (p->tmpls)
		p->n_tmpls = n_tmpls;
	p->jobs = calloc(n ? n : 1, sizeof(*p->jobs));
	p->ring = calloc(n ? n : 1, sizeof(*p->ring));
	p->keys = calloc(n ? n : 1, sizeof(*p->keys));
	p->results = calloc(n ? n : 1, sizeof(*p->results));
	p->udp_buf = malloc(NET_BATCH * UDP_BUF);
	p->err_buf = malloc(NET_BATCH * ERR_BUF);
	if (!p->tmpls || !p->jobs || !p->ring || !p->keys || !p->results || !p->udp_buf ||
	    !p->err_buf)
		goto fail;
	/* A timer per job and the pacer: arming one can then never fail. */
	rc = loop_timer_reserve(loop, n + 1);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;

	for (size_t i = 0; i < conf->n_targets; i++) {
		const struct conf_target *t = &conf->targets[i];

		for (size_t q = 0; q < t->n_queries; q++) {
			rc = dnsmsg_query_build(
			    &p->tmpls[t_off + q], t->queries[q].name,
			    t->queries[q].type, t->queries[q].class,
			    t->edns_size, t->nsid);
			if (rc < 0) {
				log_msg(LOG_ERROR, "cannot build query %s: %s",
				        t->queries[q].name, strerror(-rc));
				goto fail;
			}
		}
		for (size_t s = 0; s < t->n_servers; s++) {
			for (unsigned tr = 0; tr <= 1; tr++) {
				size_t group = p->n_jobs;
				struct result_key *key;

				if (!(t->transports & (1u << tr)))
					continue;
				key = &p->keys[p->n_keys];
				key->index = (uint32_t)p->n_keys++;
				key->target = t;
				key->server = &t->servers[s];
				key->transport = (uint8_t)tr;
				key->port = t->port;
				for (size_t q = 0; q < t->n_queries; q++) {
					struct job *j = &p->jobs[p->n_jobs++];

					j->probe = p;
					j->target = t;
					j->server = &t->servers[s];
					j->query = &t->queries[q];
					j->tmpl = &p->tmpls[t_off + q];
					j->transport = tr;
					j->res.key = key;
					j->group = group;
					j->fd = -1;
					j->h.fn = tcp_event;
					j->timer.fn = job_timeout;
				}
			}
		}
		t_off += t->n_queries;
	}
	/* Open the UDP sockets now: the kernel turns RX timestamps on
	 * asynchronously, and the first round should already have them. */
	for (size_t i = 0; i < p->n_jobs; i++) {
		const struct job *j = &p->jobs[i];

		if (j->transport == 0 &&
		    p->n_socks[fam_index(j->server->family)] == 0 &&
		    udp_socket_for(p, j->server->family) == NULL)
			log_msg(LOG_WARN, "cannot open a UDP socket for %s: %s",
			        j->server->addr_text, strerror(errno));
	}
	*out = p;
	return 0;
fail:
	probe_free(p);
	return rc;
}

static void job_release(struct job *j);

void probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_jobs; i++)
		job_release(&p->jobs[i]);
	loop_timer_cancel(p->loop, &p->pacer);
	for (int f = 0; f < 2; f++) {
		for (size_t i = 0; i < p->n_socks[f]; i++) {
			loop_del(p->loop, p->socks[f][i]->fd);
			close(p->socks[f][i]->fd);
			free(p->socks[f][i]->by_id);
			free(p->socks[f][i]->by_key);
			free(p->socks[f][i]);
		}
		free(p->socks[f]);
	}
	for (size_t i = 0; i < p->n_tmpls; i++)
		dnsmsg_query_clear(&p->tmpls[i]);
	while (p->n_tcp_free > 0)
		free(p->tcp_free[--p->n_tcp_free]);
	while (p->arena) {
		struct arena_chunk *next = p->arena->next;

		free(p->arena);
		p->arena = next;
	}
	free(p->tcp_free);
	free(p->tmpls);
	free(p->jobs);
	free(p->ring);
	free(p->keys);
	free(p->results);
	free(p->udp_buf);
	free(p->err_buf);
	free(p);
}

size_t probe_round_size(const struct probe *p)
{
	return p->n_jobs;
}

bool probe_round_running(const struct probe *p)
{
	return p->running;
}

uint64_t probe_rounds_done(const struct probe *p)
{
	return p->rounds_done;
}

const struct result *probe_results(const struct probe *p, size_t *n)
{
	*n = p->n_results;
	return p->results;
}

const struct probe_stats *probe_stats(const struct probe *p)
{
	return &p->stats;
}

/* ---- the queue -------------------------------------------------------- */

static void queue_push(struct probe *p, struct job *j)
{
	p->ring[(p->head + p->count) % p->n_jobs] = j;
	p->count++;
	j->state = JOB_QUEUED;
}

static void queue_push_front(struct probe *p, struct job *j)
{
	p->head = (p->head + p->n_jobs - 1) % p->n_jobs;
	p->ring[p->head] = j;
	p->count++;
	j->state = JOB_QUEUED;
}

static struct job *queue_pop(struct probe *p)
{
	struct job *j = p->ring[p->head];

	p->head = (p->head + 1) % p->n_jobs;
	p->count--;
	return j;
}

/* ---- ending a job ----------------------------------------------------- */

/* Close what the attempt in flight holds. */
static void job_release(struct job *j)
{
	struct probe *p = j->probe;

	loop_timer_cancel(p->loop, &j->timer);
	if (j->sock) {
		if (j->sock->by_id[j->id] == j) {
			j->sock->by_id[j->id] = NULL;
			j->sock->inflight--;
		}
		if (j->sock->by_key[j->tx_key % UDP_IDS] == j)
			j->sock->by_key[j->tx_key % UDP_IDS] = NULL;
		j->sock = NULL;
	}
	if (j->fd >= 0) {
		loop_del(p->loop, j->fd);
		close(j->fd);
		j->fd = -1;
		p->tcp_open--;
		/* The pacer may be parked on the descriptor limit. */
		if (p->count > 0 && p->running && !loop_timer_armed(&p->pacer))
			loop_timer_set(p->loop, &p->pacer, clock_mono_ns());
	}
	tcp_buf_put(p, j->rbuf);
	j->rbuf = NULL;
}

static void round_finish(struct probe *p);

static void job_done(struct job *j, enum result_kind kind, const char *error)
{
	struct probe *p = j->probe;

	job_release(j);
	j->res.kind = (uint8_t)kind;
	j->res.attempts = (uint8_t)j->attempts;
	j->res.timestamp_ns = j->first_wall_ns;
	j->res.error = kind == RESULT_ERROR ? error : NULL;
	j->state = JOB_DONE;
	p->done++;
	if (p->done == p->n_jobs)
		round_finish(p);
}

/* A response that matched: fill the result from it. */
static void job_answered(struct job *j, const struct dnsmsg_reply *r,
                         int64_t now, int hop_limit, int64_t rx_stamp_ns)
{
	struct probe *p = j->probe;
	struct result *res = &j->res;
	int64_t rtt = now - j->send_ns;

	/* Timed to the wire when the kernel stamped both ends; the stamps
	 * leave out our own scheduling delays, so they are never longer than
	 * the clock's view (a little slack for the two clocks' reading). */
	if (rx_stamp_ns && j->tx_stamp_ns && rx_stamp_ns - j->tx_stamp_ns > 0 &&
	    rx_stamp_ns - j->tx_stamp_ns <= rtt + NS_PER_MS)
		rtt = rx_stamp_ns - j->tx_stamp_ns;
	else if (j->transport == 0)
		p->stats.clock_fallbacks++;
	res->has_reply = true;
	res->rtt_ns = rtt;
	res->rcode = (uint16_t)r->rcode;
	res->aa = r->aa;
	res->tc = r->tc;
	res->answers = (uint16_t)r->ancount;
	res->response_bytes = (uint16_t)r->size;
	res->has_serial = r->has_serial;
	res->serial = r->serial;
	res->hop_limit = (int16_t)hop_limit;
	if (r->has_nsid) {
		res->nsid = arena_copy(p, r->nsid, r->nsid_len);
		res->nsid_len = res->nsid ? (uint16_t)r->nsid_len : 0;
	}
	if (j->query->identity && r->has_txt && r->rcode == 0) {
		res->identity = arena_copy(p, r->txt, r->txt_len);
		res->identity_len = res->identity ? (uint16_t)r->txt_len : 0;
	}
	job_done(j, r->rcode == 0 ? RESULT_SUCCESS : RESULT_ERROR, NULL);
}

/* ---- sending ---------------------------------------------------------- */

static struct udpsock *udp_socket_for(struct probe *p, int family)
{
	int f = fam_index(family);
	struct udpsock *s, **socks;
	bool stamps;
	int fd;

	for (size_t i = 0; i < p->n_socks[f]; i++)
		if (p->socks[f][i]->inflight < UDP_MAX_INFLIGHT)
			return p->socks[f][i];
	socks = realloc(p->socks[f], (p->n_socks[f] + 1) * sizeof(*socks));
	if (socks == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->socks[f] = socks;
	fd = net_udp_open(family == CONF_IPV6 ? AF_INET6 : AF_INET, &stamps);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL ||
	    (s->by_id = malloc(UDP_IDS * sizeof(*s->by_id))) == NULL ||
	    (s->by_key = malloc(UDP_IDS * sizeof(*s->by_key))) == NULL)
		goto fail;
	/* Touched now, not page by page as random IDs reach them: memory
	 * use is flat from the first round on. (Through a volatile pointer:
	 * compilers turn malloc + memset into a lazily backed calloc.) */
	touch(s->by_id, 0, UDP_IDS * sizeof(*s->by_id));
	touch(s->by_key, 0, UDP_IDS * sizeof(*s->by_key));
	s->stamps = stamps;
	s->h.fn = udp_event;
	s->probe = p;
	s->fd = fd;
	s->family = family;
	if (loop_add(p->loop, fd, EPOLLIN, &s->h) < 0)
		goto fail;
	socks[p->n_socks[f]++] = s;
	return s;
fail:
	if (s) {
		free(s->by_id);
		free(s->by_key);
	}
	free(s);
	close(fd);
	errno = ENOMEM;
	return NULL;
}

/* Message IDs come from the kernel's CSPRNG, fetched a few thousand at a
 * time: glibc's arc4random() here is one getrandom() syscall per call,
 * which cost more than the sendto() itself. */
static uint16_t random_id(void)
{
	static uint16_t pool[4096];
	static size_t left;

	if (left == 0) {
		size_t got = 0;

		while (got < sizeof(pool)) {
			ssize_t n = getrandom((char *)pool + got,
			                      sizeof(pool) - got, 0);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				/* Not on Linux >= 3.17. Unpredictable enough
				 * for a probe, never the same twice in a row.
				 */
				uint64_t x = (uint64_t)clock_wall_ns() ^
				             (uint64_t)clock_mono_ns() << 17;

				for (size_t i = 0; i < ARRAY_SIZE(pool); i++) {
					x += 0x9e3779b97f4a7c15ULL;
					uint64_t z = x;

					z = (z ^ (z >> 30)) *
					    0xbf58476d1ce4e5b9ULL;
					z = (z ^ (z >> 27)) *
					    0x94d049bb133111ebULL;
					pool[i] = (uint16_t)(z ^ (z >> 31));
				}
				break;
			}
			got += (size_t)n;
		}
		left = ARRAY_SIZE(pool);
	}
	return pool[--left];
}

static int udp_pick_id(struct udpsock *s, uint16_t *id)
{
	for (int i = 0; i < 64; i++) {
		uint16_t cand = random_id();

		if (s->by_id[cand] == NULL) {
			*id = cand;
			return 0;
		}
	}
	return -EBUSY;
}

/* Send one attempt. Returns 1 when it went out, 0 when the job must wait
 * (requeued at the front), or -1 when the job ended with an error. */
static int job_send_udp(struct job *j, int64_t now)
{
	struct probe *p = j->probe;
	struct udpsock *s = udp_socket_for(p, j->server->family);
	uint8_t *wire = j->tmpl->wire;
	int rc;

	if (s == NULL) {
		job_done(j, RESULT_ERROR, net_strerror(errno));
		return -1;
	}
	if (udp_pick_id(s, &j->id) < 0) {
		queue_push_front(p, j);
		return 0;
	}
	/* The template is shared; patching the ID in place is safe because
	 * sendto() copies it before returning. */
	dnsmsg_set_id(wire, j->id);
	j->start_ns = j->send_ns = now;
	rc = net_udp_send(s->fd, (const struct sockaddr *)&j->server->addr,
	                  j->server->addrlen, wire, j->tmpl->len);
	if (rc == -EAGAIN) {
		queue_push_front(p, j);
		return 0;
	}
	p->sent++;
	if (rc < 0) {
		job_done(j, RESULT_ERROR, net_strerror(rc));
		return -1;
	}
	s->by_id[j->id] = j;
	s->inflight++;
	j->sock = s;
	j->tx_stamp_ns = 0;
	if (s->stamps) {
		j->tx_key = s->tx_next++;
		j->send_wall_ns = clock_wall_ns();
		s->by_key[j->tx_key % UDP_IDS] = j;
	}
	j->state = JOB_INFLIGHT;
	loop_timer_set(p->loop, &j->timer, now + j->target->timeout_ns);
	return 1;
}

static int job_send_tcp(struct job *j, int64_t now)
{
	struct probe *p = j->probe;
	int fd;

	if (p->tcp_open >= p->tcp_max) {
		queue_push_front(p, j);
		return 0;
	}
	j->start_ns = now;
	fd = net_tcp_connect((const struct sockaddr *)&j->server->addr,
	                     j->server->addrlen);
	p->sent++;
	if (fd < 0) {
		job_done(j, RESULT_ERROR, net_strerror(fd));
		return -1;
	}
	if (loop_add(p->loop, fd, EPOLLOUT, &j->h) < 0) {
		close(fd);
		job_done(j, RESULT_ERROR, "out of buffer space");
		return -1;
	}
	p->tcp_open++;
	j->fd = fd;
	j->phase = TCP_CONNECTING;
	j->io_done = 0;
	j->id = random_id();
	j->state = JOB_INFLIGHT;
	loop_timer_set(p->loop, &j->timer, now + j->target->timeout_ns);
	return 1;
}

static void pacer_fire(struct loop_timer *t)
{
	struct probe *p =
	    (struct probe *)((char *)t - offsetof(struct probe, pacer));
	int64_t now = clock_mono_ns();
	unsigned rate = p->conf->rate;
	int batch = 0;

	while (p->count > 0 && p->running) {
		/* Due time of the next send under the pacing. */
		int64_t due = p->round_start_ns + p->pace_offset_ns +
		              (int64_t)(p->sent * (uint64_t)NS_PER_SEC / rate);
		struct job *j;
		int rc;

		if (due - now > 0) {
			/* At high rates, wake at most every PACE_QUANTUM_NS and
			 * send what fell due meanwhile: a handful of queries
			 * per wake-up instead of one, which halves the CPU per
			 * query; the kernel's timestamps keep the RTTs exact.
			 */
			if (due - now < PACE_QUANTUM_NS)
				due = now + PACE_QUANTUM_NS;
			loop_timer_set(p->loop, &p->pacer, due);
			return;
		}
		if (now - due > p->stats.send_lag_ns)
			p->stats.send_lag_ns = now - due;
		/* After a stall, catch up at most PACE_MAX_DEBT_NS worth of
		 * sends at once: a burst would overrun the server (and our
		 * own receive buffer) and make timeouts of our own. */
		if (now - due > PACE_MAX_DEBT_NS)
			p->pace_offset_ns += now - due - PACE_MAX_DEBT_NS;
		if (++batch > SEND_BATCH) {
			/* Let replies in before sending on. */
			loop_timer_set(p->loop, &p->pacer, now);
			return;
		}
		j = queue_pop(p);
		if (j->attempts == 0)
			j->first_wall_ns = clock_wall_ns();
		j->attempts++;
		j->seen_error = NULL;
		if (j->transport == 0)
			rc = job_send_udp(j, now);
		else
			rc = job_send_tcp(j, now);
		if (rc == 0) {
			/* Blocked (socket buffer, IDs, descriptors): retry
			 * soon, or when a TCP connection closes. */
			j->attempts--;
			if (j->transport == 0 || p->tcp_open == 0)
				loop_timer_set(p->loop, &p->pacer,
				               now + NS_PER_MS);
			return;
		}
		now = clock_mono_ns();
	}
}

/* ---- receiving -------------------------------------------------------- */

static void udp_error_entry(struct udpsock *s, const struct net_msg *m)
{
	struct job *j;

	if (m->tx_stamp) {
		j = s->by_key[m->tx_key % UDP_IDS];
		/* A stamp is believed only for the send it belongs to: same
		 * key, and taken close to our own clock's time. */
		if (j != NULL && j->tx_key == m->tx_key && m->stamp_ns &&
		    llabs(m->stamp_ns - j->send_wall_ns) < TX_STAMP_SLACK_NS)
			j->tx_stamp_ns = m->stamp_ns;
		return;
	}
	if (m->len < 2)
		return;
	j = s->by_id[dnsmsg_get_id(m->buf)];
	if (j == NULL || !net_addr_equal(&m->peer, &j->server->addr))
		return;
	job_done(j, RESULT_ERROR, net_strerror(m->error));
}

/* TX stamps and ICMP errors, a batch per system call. */
static void udp_error_queue(struct udpsock *s)
{
	struct probe *p = s->probe;
	struct net_msg m[NET_BATCH];
	int n;

	for (unsigned i = 0; i < NET_BATCH; i++)
		m[i] = (struct net_msg){.buf = p->err_buf + i * ERR_BUF,
		                        .cap = ERR_BUF};
	do {
		n = net_udp_recv_error(s->fd, m, NET_BATCH);
		for (int i = 0; i < n; i++)
			udp_error_entry(s, &m[i]);
	} while (n == NET_BATCH);
}

static void udp_datagram(struct udpsock *s, const struct net_msg *m,
                         int64_t now)
{
	struct probe *p = s->probe;
	struct dnsmsg_reply reply;
	struct job *j;

	if (m->len < 12 || m->truncated ||
	    (j = s->by_id[dnsmsg_get_id(m->buf)]) == NULL ||
	    !net_addr_equal(&m->peer, &j->server->addr)) {
		p->stats.dropped++;
		return;
	}
	if (dnsmsg_reply_parse(m->buf, m->len, &reply) < 0) {
		/* Not an answer: a spoofer must not be able to end the query;
		 * it ends as an error only if nothing better arrives before
		 * the timeout. */
		j->seen_error = "malformed response";
		p->stats.dropped++;
		return;
	}
	if (!dnsmsg_question_matches(j->tmpl, &reply)) {
		j->seen_error = "question mismatch";
		p->stats.dropped++;
		return;
	}
	if (m->stamp_ns && j->tx_stamp_ns == 0 && s->stamps) {
		/* The TX stamp was queued before the reply came, but may not
		 * have been read yet. */
		udp_error_queue(s);
		if (j->state != JOB_INFLIGHT)
			return;
	}
	job_answered(j, &reply, now, m->hop_limit, m->stamp_ns);
}

static void udp_event(struct loop_handler *h, uint32_t events)
{
	struct udpsock *s = (struct udpsock *)h;
	struct probe *p = s->probe;
	struct net_msg m[NET_BATCH];
	int errors = 0;

	if (events & EPOLLERR)
		udp_error_queue(s);
	for (unsigned i = 0; i < NET_BATCH; i++)
		m[i] = (struct net_msg){.buf = p->udp_buf + i * UDP_BUF,
		                        .cap = UDP_BUF};
	for (;;) {
		int n = net_udp_recv(s->fd, m, NET_BATCH);
		int64_t now = clock_mono_ns();

		if (n == -EAGAIN)
			break;
		if (n < 0) {
			/* A pending ICMP error surfaces here once; the error
			 * queue says which query it belongs to. */
			udp_error_queue(s);
			if (++errors > 8)
				break; /* level-triggered: back next turn */
			continue;
		}
		for (int i = 0; i < n; i++)
			udp_datagram(s, &m[i], now);
		if (n < NET_BATCH)
			break; /* drained, without a call that says EAGAIN */
	}
}

static void tcp_fail(struct job *j, int err)
{
	job_done(j, RESULT_ERROR, net_strerror(err));
}

static void tcp_write_query(struct job *j)
{
	/* The longest query (a 255-byte name, EDNS with NSID) is under 300
	 * bytes. */
	uint8_t buf[2 + 512];
	const struct dnsmsg_query *q = j->tmpl;
	size_t len = q->len + 2;
	ssize_t n;

	if (len > sizeof(buf)) {
		tcp_fail(j, EMSGSIZE);
		return;
	}
	buf[0] = (uint8_t)(q->len >> 8);
	buf[1] = (uint8_t)q->len;
	memcpy(buf + 2, q->wire, q->len);
	dnsmsg_set_id(buf + 2, j->id);
	if (j->io_done == 0)
		j->send_ns = clock_mono_ns();
	n = send(j->fd, buf + j->io_done, len - j->io_done, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			j->phase = TCP_SENDING;
			return;
		}
		tcp_fail(j, errno);
		return;
	}
	j->io_done += (size_t)n;
	if (j->io_done < len) {
		j->phase = TCP_SENDING;
		return;
	}
	j->phase = TCP_READING;
	j->io_done = 0;
	j->rneed = 0;
	loop_mod(j->probe->loop, j->fd, EPOLLIN, &j->h);
}

static void tcp_read_reply(struct job *j)
{
	struct dnsmsg_reply reply;
	int64_t now;

	for (;;) {
		uint8_t *dst;
		size_t want;
		ssize_t n;

		if (j->rneed == 0) {
			dst = j->lenbuf + j->io_done;
			want = 2 - j->io_done;
		} else {
			dst = j->rbuf + j->io_done;
			want = j->rneed - j->io_done;
		}
		n = recv(j->fd, dst, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			tcp_fail(j, errno);
			return;
		}
		if (n == 0) {
			job_done(j, RESULT_ERROR, "connection closed");
			return;
		}
		j->io_done += (size_t)n;
		if (j->rneed == 0) {
			if (j->io_done < 2)
				continue;
			j->rneed = (size_t)j->lenbuf[0] << 8 | j->lenbuf[1];
			j->io_done = 0;
			if (j->rneed < 12) {
				job_done(j, RESULT_ERROR, "malformed response");
				return;
			}
			if (j->rbuf == NULL &&
			    (j->rbuf = tcp_buf_get(j->probe)) == NULL) {
				tcp_fail(j, ENOMEM);
				return;
			}
			continue;
		}
		if (j->io_done < j->rneed)
			continue;
		break;
	}
	now = clock_mono_ns();
	if (dnsmsg_reply_parse(j->rbuf, j->rneed, &reply) < 0) {
		job_done(j, RESULT_ERROR, "malformed response");
		return;
	}
	if (reply.id != j->id || !dnsmsg_question_matches(j->tmpl, &reply)) {
		j->probe->stats.dropped++;
		job_done(j, RESULT_ERROR, "mismatched response");
		return;
	}
	job_answered(j, &reply, now, -1, 0);
}

static void tcp_event(struct loop_handler *h, uint32_t events)
{
	struct job *j = (struct job *)h;
	int rc;

	if (j->state != JOB_INFLIGHT || j->fd < 0)
		return;
	switch (j->phase) {
	case TCP_CONNECTING:
		rc = net_tcp_connect_result(j->fd);
		if (rc < 0) {
			tcp_fail(j, -rc);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		j->conn.connect_ns = clock_mono_ns() - j->start_ns;
		j->conn.tls_handshake_ns = -1;
		j->res.conn = &j->conn;
		tcp_write_query(j);
		return;
	case TCP_SENDING:
		if (events & (EPOLLERR | EPOLLHUP)) {
			tcp_fail(j, -net_tcp_connect_result(j->fd));
			return;
		}
		tcp_write_query(j);
		return;
	case TCP_READING:
		tcp_read_reply(j);
		return;
	}
}

/* ---- timeouts --------------------------------------------------------- */

static void job_timeout(struct loop_timer *t)
{
	struct job *j = (struct job *)((char *)t - offsetof(struct job, timer));
	struct probe *p = j->probe;

	job_release(j);
	if (j->attempts <= j->target->retries) {
		j->res.conn = NULL;
		queue_push(p, j);
		if (!loop_timer_armed(&p->pacer))
			loop_timer_set(p->loop, &p->pacer, clock_mono_ns());
		return;
	}
	if (j->seen_error)
		job_done(j, RESULT_ERROR, j->seen_error);
	else
		job_done(j, RESULT_TIMEOUT, NULL);
}

/* ---- rounds ----------------------------------------------------------- */

int probe_round_start(struct probe *p)
{
	if (p->running)
		return -EBUSY;
	arena_reset(p);
	memset(&p->stats, 0, sizeof(p->stats));
	p->n_results = 0;
	p->head = p->count = 0;
	p->done = 0;
	p->sent = 0;
	p->running = true;
	p->round_start_ns = clock_mono_ns();
	p->pace_offset_ns = 0;
	p->stats.start_wall_ns = clock_wall_ns();
	for (size_t i = 0; i < p->n_jobs; i++) {
		struct job *j = &p->jobs[i];

		const struct result_key *key = j->res.key;

		memset(&j->res, 0, sizeof(j->res));
		j->res.key = key;
		j->res.query = j->query;
		j->res.rtt_ns = -1;
		j->res.hop_limit = -1;
		j->res.instance_changed = -1;
		j->attempts = 0;
		queue_push(p, j);
	}
	if (p->n_jobs == 0) {
		round_finish(p);
		return 0;
	}
	loop_timer_set(p->loop, &p->pacer, p->round_start_ns);
	return 0;
}

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

/* The group's identity answer of the given kind, if the round has one. */
static const struct job *group_identity(const struct probe *p,
                                        const struct job *j,
                                        enum result_source want)
{
	for (size_t i = j->group; i < p->n_jobs && p->jobs[i].group == j->group;
	     i++) {
		const struct job *o = &p->jobs[i];

		if (o->state == JOB_DONE && o->res.identity != NULL &&
		    o->res.identity_len > 0 &&
		    identity_source(o->query) == want)
			return o;
	}
	return NULL;
}

/* SPEC: the response's own NSID; else, on an identity row, its own TXT
 * answer; else the same round's identity answer from the same address and
 * transport, hostname.bind first, then id.server. */
static void resolve_instance(const struct probe *p, struct job *j)
{
	struct result *r = &j->res;
	enum result_source own = identity_source(j->query);
	const struct job *o;

	if (r->nsid != NULL && r->nsid_len > 0) {
		r->instance = r->nsid;
		r->instance_len = r->nsid_len;
		r->instance_source = SOURCE_NSID;
	} else if (own != SOURCE_NONE && r->identity && r->identity_len > 0) {
		r->instance = r->identity;
		r->instance_len = r->identity_len;
		r->instance_source = own;
	} else if ((o = group_identity(p, j, SOURCE_HOSTNAME_BIND)) != NULL ||
	           (o = group_identity(p, j, SOURCE_ID_SERVER)) != NULL) {
		r->instance = o->res.identity;
		r->instance_len = o->res.identity_len;
		r->instance_source = identity_source(o->query);
	}
	if (r->instance == NULL)
		return; /* unknown: no field, and the last known one stays */
	uint64_t h = hash_bytes(r->instance, r->instance_len);

	r->instance_changed = j->has_prev && j->prev_hash != h;
	j->has_prev = true;
	j->prev_hash = h;
}

static void round_finish(struct probe *p)
{
	p->stats.duration_ns = clock_mono_ns() - p->round_start_ns;
	p->stats.sent = p->sent;
	for (size_t i = 0; i < p->n_jobs; i++) {
		struct job *j = &p->jobs[i];

		if (j->state == JOB_DONE)
			resolve_instance(p, j);
	}
	for (size_t i = 0; i < p->n_jobs; i++) {
		struct job *j = &p->jobs[i];

		if (j->state != JOB_DONE)
			continue;
		p->stats.queries++;
		if (j->res.has_reply)
			p->stats.answered++;
		if (j->res.kind == RESULT_TIMEOUT)
			p->stats.timeouts++;
		else if (j->res.kind == RESULT_ERROR)
			p->stats.errors++;
		p->results[p->n_results++] = j->res;
		j->state = JOB_IDLE;
	}
	loop_timer_cancel(p->loop, &p->pacer);
	p->count = 0;
	p->running = false;
	p->rounds_done++;
}

size_t probe_round_abort(struct probe *p)
{
	size_t dropped = 0;

	if (!p->running)
		return 0;
	for (size_t i = 0; i < p->n_jobs; i++) {
		struct job *j = &p->jobs[i];

		if (j->state == JOB_DONE)
			continue;
		job_release(j);
		j->state = JOB_IDLE;
		dropped++;
	}
	round_finish(p);
	return dropped;
}
