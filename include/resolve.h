/*
 * resolve: host names to addresses, the probe's only look-ups. Once,
 * synchronously, while the config is loaded (resolve_name), and again in
 * the background every `resolve_interval` (resolve_start/resolve_collect):
 * a thread does the look-ups and wakes a pollable descriptor when it is
 * done, so the event loop never waits on DNS resolution.
 *
 * Every look-up goes through conf_resolver (conf.h): getaddrinfo() unless
 * a test or fuzzer that must never send a query sets its own. It is asked
 * with AF_UNSPEC, SOCK_DGRAM and no AI_ADDRCONFIG, so that both families
 * come back even on a host without IPv6; filtering by family is the
 * caller's.
 */
#ifndef ANYCAST_PROBE_RESOLVE_H
#define ANYCAST_PROBE_RESOLVE_H

#include <stddef.h>
#include <sys/socket.h>

/* The addresses of one host name. */
struct resolve_host {
	char *name;
	/* 0, or the getaddrinfo() error (EAI_*) of the look-up; then
	 * n_addrs is 0. error_text says it in words. */
	int err;
	const char *error_text;         /* static storage; NULL when err == 0 */
	struct sockaddr_storage *addrs; /* port 0, in the resolver's order,
	                                 * duplicates removed */
	size_t n_addrs;
};

/* Look NAME up now (blocking). Returns 0 and fills *HOST (free it with
 * resolve_host_clear()), or -ENOMEM. A failed look-up is not an error of
 * the call: it is host->err. */
int resolve_name(const char *name, struct resolve_host *host);
void resolve_host_clear(struct resolve_host *host);
void resolve_hosts_free(struct resolve_host *hosts, size_t n); /* NULL ok */

/* Background look-ups. */
struct resolve;

int resolve_new(struct resolve **out); /* 0 or -errno */
/* NULL is fine. A look-up still running is abandoned: its thread ends on
 * its own and frees what it holds; nothing waits for it. */
void resolve_free(struct resolve *r);

/* Start looking up NAMES[0..N) (copied). Returns 0, -EBUSY while a
 * previous batch is still running or not collected, -EINVAL, or -errno
 * (thread or memory). Never blocks on the network. */
int resolve_start(struct resolve *r, const char *const *names, size_t n);

/* A descriptor that polls readable (EPOLLIN) when a batch is done. */
int resolve_fd(const struct resolve *r);

/* Take the results of the finished batch: *HOSTS (N entries, in the order
 * given to resolve_start; the caller frees them with resolve_hosts_free).
 * Returns 0, or -EAGAIN when no batch is finished (nothing started, or
 * still running). Reading clears the descriptor's readiness. */
int resolve_collect(struct resolve *r, struct resolve_host **hosts, size_t *n);

#endif
