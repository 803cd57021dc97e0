/*
 * cookie: DNS COOKIE state of the client (RFC 7873). Owns the client
 * secret (16 random bytes, drawn once at start-up), the client cookie of
 * each server (address and port) derived from it, and the last server
 * cookie each server sent. It does no I/O and knows no wire format beyond
 * what dnsmsg parsed: dnsmsg builds the option and parses replies.
 *
 * Client cookie (RFC 7873 4.1): SipHash-2-4 keyed with the secret over the
 * server's family, address and port, so it is stable per server for the
 * life of the process, differs between servers (one server cannot track
 * the probe's queries to another), and cannot be guessed off-path.
 *
 * Use: at plan time cookie_get() the state of each server (the pointer
 * stays valid until cookie_jar_free()); per send, cookie_option() gives
 * the option bytes for dnsmsg_query_iov(); per reply, cookie_check():
 *   COOKIE_OK    our client cookie came back: cookie_learn() keeps the
 *                server cookie (also after rcode BADCOOKIE, RFC 7873 5.3,
 *                when the query may be resent with it);
 *   COOKIE_NONE  the reply has no COOKIE option (a server without cookie
 *                support, e.g. NSD 4.6): the `cookie` field is `none`;
 *   COOKIE_SPOOF a COOKIE option with another client cookie: not an answer
 *                to our query. The caller drops it (as a reply that
 *                matched no query) and counts it.
 */
#ifndef ANYCAST_PROBE_COOKIE_H
#define ANYCAST_PROBE_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dnsmsg.h"

struct cookie_jar;

struct cookie_state {
	uint8_t client[DNSMSG_COOKIE_CLIENT];
	uint8_t server[DNSMSG_COOKIE_SERVER_MAX];
	size_t server_len; /* 0: no server cookie known yet */
	uint64_t spoofs;   /* replies with a wrong client cookie */
};

enum cookie_verdict { COOKIE_NONE = 0, COOKIE_OK, COOKIE_SPOOF };

/* A jar with a fresh secret from getrandom(2). Returns 0, -ENOMEM or the
 * -errno of getrandom. */
int cookie_jar_new(struct cookie_jar **out);
/* A jar with a given secret (tests: known client cookies). */
int cookie_jar_new_secret(struct cookie_jar **out, const uint8_t secret[16]);
void cookie_jar_free(struct cookie_jar *jar); /* NULL is fine */

/* The state of the server at SA (AF_INET or AF_INET6; the port counts),
 * made on first use. Returns NULL for another family or out of memory.
 * The pointer is valid until cookie_jar_free(). */
struct cookie_state *cookie_get(struct cookie_jar *jar,
                                const struct sockaddr *sa);
/* Number of servers known. */
size_t cookie_jar_size(const struct cookie_jar *jar);

/* The COOKIE option to send to this server: client cookie and the last
 * server cookie. Returns its length (12, or 20..44). */
size_t cookie_option(const struct cookie_state *st,
                     uint8_t out[DNSMSG_COOKIE_OPT_MAX]);

/* What reply R (parsed by dnsmsg) says about our cookie. Counts spoofs in
 * st->spoofs. */
enum cookie_verdict cookie_check(struct cookie_state *st,
                                 const struct dnsmsg_reply *r);
/* Keep R's server cookie (call after COOKIE_OK only). */
void cookie_learn(struct cookie_state *st, const struct dnsmsg_reply *r);

/* SipHash-2-4 of DATA with KEY (exposed for its unit test vectors). */
uint64_t cookie_siphash(const uint8_t key[16], const uint8_t *data, size_t len);

#endif
