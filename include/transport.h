/*
 * transport: how a DNS message travels between the probe and a server.
 * One row per transport in transport_table[] (tr_udp.c, tr_tcp.c, and later
 * tr_tls.c, tr_https.c): its name, default port, the config key that sets
 * its port, and its ops. conf, report and main find transports by name or
 * index in this table and never name one.
 *
 * A transport frames, handshakes, and matches replies to queries itself
 * (source address and port, message ID or stream, question), and hands the
 * scheduler only whole parsed DNS messages, failures and timings, through
 * tr_env.done. It owns its sockets and connections. It never schedules:
 * probe decides when an attempt is sent and when it times out (then it
 * calls cancel).
 *
 * Attempt state that must live with the job (a UDP socket and ID, a TCP
 * connection slot) is kept in the job's struct tr_slot, which the scheduler
 * stores and hands back untouched; a transport keeps no per-job arrays of
 * its own, so memory per query is the scheduler's to budget.
 */
#ifndef ANYCAST_PROBE_TRANSPORT_H
#define ANYCAST_PROBE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conf;
struct conf_server;
struct conf_target;
struct dnsmsg_query;
struct dnsmsg_reply;
struct loop;
struct cookie_jar;
struct cookie_state;
struct result_key;

#define TR_MAX 8 /* transports a conf_target's bit mask can name */

/* A transport instance's private state (one per transport per probe). */
struct tr;

/* The per-attempt word a transport keeps in the job (a socket and entry,
 * a connection, a connection and stream, packed); opaque to probe, 0 when
 * nothing is in flight. 32 bits: the job is the probe's memory per query. */
struct tr_slot {
	uint32_t v;
};

/* One attempt handed to a transport. */
struct tr_query {
	uint32_t job; /* the scheduler's job index, given back in done() */
	const struct result_key *key;     /* target, server, port, transport */
	const struct conf_server *server; /* key->server: address, family;
	                                   * send to port key->port */
	const struct dnsmsg_query *tmpl;  /* wire form; the transport puts the
	                                   * ID in (its own copy or an iovec) */
	struct tr_slot *slot;             /* the job's, zeroed before send */
};

/* Details of the connection an attempt used (stream transports), one per
 * connection made in a round; a row points at its connection's entry,
 * which the transport keeps until its next round_begin(). */
struct tr_conn_info {
	int64_t connect_ns;       /* TCP handshake; -1: none */
	int64_t tls_handshake_ns; /* -1: no TLS */
	int64_t cert_expires_s;   /* notAfter - now; valid when has_cert */
	bool has_cert;
	bool tls_resumed;
	uint8_t tls_version; /* 0: none, 12: TLSv1.2, 13: TLSv1.3 */
};

/* How an attempt ended. */
struct tr_done {
	/* 0: a matching response is in reply. Else the attempt failed: err
	 * is a negative errno-style code and error its short cause for the
	 * `error` field ("connection refused", "tls handshake failed"),
	 * static storage. */
	int err;
	const char *error;
	const struct dnsmsg_reply *reply; /* valid during the callback only */
	const uint8_t *wire;              /* the raw response, same lifetime */
	size_t wire_len;
	int64_t rtt_ns;      /* query written -> response; -1 on failure */
	int hop_limit;       /* -1: not known (stream transports) */
	bool clock_fallback; /* datagram timed by our clock, not the kernel */
	int http_status;     /* 0: none */
	uint8_t cookie;      /* enum result_cookie */
	/* BADCOOKIE with our client cookie: the server cookie is learnt now;
	 * send the query once more (RFC 7873 5.3) rather than end it. */
	bool resend;
	const struct tr_conn_info *conn; /* NULL: none (datagrams) */
};

/* What a transport is given at start-up. */
struct tr_env {
	const struct conf *conf;
	struct loop *loop;
	void *sched; /* first argument of the callbacks */
	/* An attempt ended. May be called from inside send() (a failure at
	 * once) and from the loop's handlers. Not called after cancel(). */
	void (*done)(void *sched, uint32_t job, const struct tr_done *d);
	/* A transport that refused a send (TR_BLOCKED) can take more now. */
	void (*unblocked)(void *sched, size_t transport);
	/* A reply that matched no query in flight (dropped, counted). */
	void (*dropped)(void *sched, size_t transport);
	size_t index; /* this transport's index in transport_table */
	/* DNS COOKIE state of every server (cookie.h); NULL when no target
	 * sends cookies. A transport adds the option to queries whose
	 * template asks for it (dnsmsg_query.cookie), checks replies with
	 * tr_cookie_check(), and drops a reply with another client cookie
	 * as a spoof. */
	struct cookie_jar *cookies;
};

enum tr_send_result {
	TR_SENT = 0,    /* in flight; done() will follow, or cancel() */
	TR_FAILED = 1,  /* done() was called with the failure already */
	TR_BLOCKED = 2, /* not taken (buffer, IDs, descriptors): keep the
	                 * query queued; unblocked() or a retry later */
};

struct tr_ops {
	/* Set everything up that can be set up before the sandbox (sockets
	 * that open early, CA stores, libraries). Returns 0 or -errno. */
	int (*create)(struct tr **out, const struct tr_env *env);
	void (*destroy)(struct tr *tr); /* NULL is fine */
	/* Send up to N attempts. Stores per query in RES[i] what became of
	 * it, and returns how many were looked at: the first BLOCKED one
	 * stops the batch (the rest stay queued). */
	size_t (*send)(struct tr *tr, struct tr_query *q, size_t n,
	               enum tr_send_result *res);
	/* Forget an attempt in flight (timeout, or the round aborted): its
	 * ID or stream is released, no done() follows. Returns the short
	 * cause of a bad reply seen during the attempt that did not end it
	 * ("malformed response", "question mismatch": a spoofer must not be
	 * able to end a query), or NULL. */
	const char *(*cancel)(struct tr *tr, uint32_t job,
	                      struct tr_slot *slot);
	/* Attempts in flight. */
	size_t (*pending)(const struct tr *tr);
	/* Optional (NULL): read whatever has arrived, without waiting. The
	 * scheduler calls it on every pacer wake-up and before it times
	 * attempts out, so replies are not mistaken for timeouts. */
	void (*drain)(struct tr *tr);
	/* Optional (NULL): ON false while the pacer wakes often (it drains
	 * then: the transport need not wake the loop for arrivals, kernel
	 * timestamps keep RTTs exact); true otherwise. */
	void (*watch)(struct tr *tr, bool on);
	/* A new round begins: the last round's rows are printed, so its
	 * tr_conn_info storage may be reused; close what is not kept across
	 * rounds (TLS sessions and connections may be kept). May be NULL. */
	void (*round_begin)(struct tr *tr);
};

struct transport {
	const char *name;      /* "udp": config, -t, the `transport` tag */
	uint16_t default_port; /* the `port` tag is written when not this */
	const char *port_key;  /* target key that sets its port ("port") */
	bool datagram;         /* rows carry hop_limit */
	const struct tr_ops *ops;
};

extern const struct transport transport_table[];
extern const size_t transport_count;

/* For a transport that sends one query at a time: ops->send() over
 * SEND_ONE, stopping after the first TR_BLOCKED. */
static inline size_t tr_send_each(struct tr *tr, struct tr_query *q, size_t n,
                                  enum tr_send_result *res,
                                  enum tr_send_result (*send_one)(
                                      struct tr *, struct tr_query *))
{
	for (size_t i = 0; i < n; i++) {
		res[i] = send_one(tr, &q[i]);
		if (res[i] == TR_BLOCKED)
			return i + 1;
	}
	return n;
}

/* The COOKIE option for a query to TO (into OPT, DNSMSG_COOKIE_OPT_MAX
 * bytes): its length, 0 when the query sends none (*ST NULL). */
size_t tr_cookie_option(struct cookie_jar *jar, const struct dnsmsg_query *q,
                        const struct sockaddr_storage *to,
                        struct cookie_state **st, uint8_t *opt);
/* What reply R says of ST's cookie, for a query that went out with an
 * option of SENT_LEN bytes: fills D's cookie and resend, learns the server
 * cookie. Returns false for a spoof (another client cookie): the caller
 * drops the reply. ST NULL: no cookie sent, always true. */
bool tr_cookie_check(struct cookie_state *st, size_t sent_len,
                     const struct dnsmsg_reply *r, struct tr_done *d);

/* Index of the transport named NAME (LEN bytes), or -1. */
int transport_find(const char *name, size_t len);

#endif
