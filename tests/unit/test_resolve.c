/*
 * Unit tests of resolve: the synchronous look-up (order kept, duplicates
 * dropped, failures as err), and the background look-ups for
 * resolve_interval: resolve_start() returns at once while the resolver is
 * blocked, the descriptor polls readable only when the batch is done,
 * resolve_collect() gives every name's result in order and clears the
 * readiness, one batch at a time, and resolve_free() does not wait for a
 * resolver that hangs. The resolver is conf_resolver, set here to a fake
 * that knows a few .test names: nothing is looked up for real.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "resolve.h"

/* "slow.test" waits until a byte arrives on gate[0]; then says so on
 * finished[1]. */
static int gate[2] = {-1, -1}, finished[2] = {-1, -1};

static struct addrinfo *ai_new(int family, const char *text,
                               struct addrinfo *next)
{
	/* One block for the node and its address, as glibc makes them:
	 * resolve.c frees the list with the real freeaddrinfo(). */
	struct addrinfo *ai =
	    calloc(1, sizeof(*ai) + sizeof(struct sockaddr_storage));
	struct sockaddr_storage *ss = (struct sockaddr_storage *)(ai + 1);

	assert_non_null(ai);
	ai->ai_family = family;
	ai->ai_socktype = SOCK_DGRAM;
	ai->ai_addr = (struct sockaddr *)ss;
	ss->ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		ai->ai_addrlen = sizeof(struct sockaddr_in);
		inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr);
	} else {
		ai->ai_addrlen = sizeof(struct sockaddr_in6);
		inet_pton(AF_INET6, text,
		          &((struct sockaddr_in6 *)ss)->sin6_addr);
	}
	ai->ai_next = next;
	return ai;
}

static int fake(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
	char c;

	(void)service;
	assert_int_equal(hints->ai_family, AF_UNSPEC);
	if (!strcmp(node, "a.test")) {
		*res = ai_new(AF_INET, "192.0.2.1",
		              ai_new(AF_INET6, "2001:db8::1",
		                     ai_new(AF_INET, "192.0.2.1", NULL)));
		return 0;
	}
	if (!strcmp(node, "slow.test")) {
		if (read(gate[0], &c, 1) != 1)
			return EAI_AGAIN;
		*res = ai_new(AF_INET, "198.51.100.7", NULL);
		if (write(finished[1], "x", 1) != 1)
			return EAI_AGAIN;
		return 0;
	}
	return EAI_NONAME;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void addr_is(const struct sockaddr_storage *ss, const char *want)
{
	char text[INET6_ADDRSTRLEN];
	const void *b =
	    ss->ss_family == AF_INET
	        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
	        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	assert_non_null(inet_ntop(ss->ss_family, b, text, sizeof(text)));
	assert_string_equal(text, want);
}

static void test_sync(void **state)
{
	struct resolve_host h;

	(void)state;
	assert_int_equal(resolve_name("a.test", &h), 0);
	assert_int_equal(h.err, 0);
	assert_null(h.error_text);
	assert_string_equal(h.name, "a.test");
	assert_int_equal(h.n_addrs, 2); /* the repeated 192.0.2.1 once */
	addr_is(&h.addrs[0], "192.0.2.1");
	addr_is(&h.addrs[1], "2001:db8::1");
	resolve_host_clear(&h);

	assert_int_equal(resolve_name("none.test", &h), 0);
	assert_int_equal(h.err, EAI_NONAME);
	assert_non_null(h.error_text);
	assert_int_equal(h.n_addrs, 0);
	resolve_host_clear(&h);
	resolve_hosts_free(NULL, 0);
}

static void test_async(void **state)
{
	const char *names[] = {"slow.test", "a.test", "none.test"};
	struct resolve *r = NULL;
	struct resolve_host *hosts = NULL;
	size_t n = 0;
	int64_t t0;
	char c;

	(void)state;
	assert_int_equal(resolve_new(&r), 0);
	assert_true(resolve_fd(r) >= 0);
	assert_int_equal(resolve_collect(r, &hosts, &n), -EAGAIN);
	assert_false(readable(resolve_fd(r), 0));

	t0 = now_ms();
	assert_int_equal(resolve_start(r, names, 3), 0);
	/* The resolver is blocked on the gate: start came back anyway. */
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(resolve_start(r, names, 3), -EBUSY);
	assert_false(readable(resolve_fd(r), 50));
	assert_int_equal(resolve_collect(r, &hosts, &n), -EAGAIN);

	assert_int_equal(write(gate[1], "g", 1), 1);
	assert_true(readable(resolve_fd(r), 5000));
	assert_int_equal(read(finished[0], &c, 1), 1);
	assert_int_equal(resolve_collect(r, &hosts, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(hosts[0].name, "slow.test");
	assert_int_equal(hosts[0].n_addrs, 1);
	addr_is(&hosts[0].addrs[0], "198.51.100.7");
	assert_string_equal(hosts[1].name, "a.test");
	assert_int_equal(hosts[1].n_addrs, 2);
	assert_string_equal(hosts[2].name, "none.test");
	assert_int_equal(hosts[2].err, EAI_NONAME);
	assert_int_equal(hosts[2].n_addrs, 0);
	resolve_hosts_free(hosts, n);
	/* Collected: not readable any more, nothing more to collect. */
	assert_false(readable(resolve_fd(r), 0));
	assert_int_equal(resolve_collect(r, &hosts, &n), -EAGAIN);

	/* The next batch. */
	assert_int_equal(resolve_start(r, names + 1, 1), 0);
	assert_true(readable(resolve_fd(r), 5000));
	assert_int_equal(resolve_collect(r, &hosts, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hosts[0].n_addrs, 2);
	resolve_hosts_free(hosts, n);

	/* An empty batch is done at once. */
	assert_int_equal(resolve_start(r, NULL, 0), 0);
	assert_true(readable(resolve_fd(r), 5000));
	assert_int_equal(resolve_collect(r, &hosts, &n), 0);
	assert_int_equal(n, 0);
	resolve_hosts_free(hosts, n);
	resolve_free(r);
}

/* Freeing while the resolver hangs neither waits nor breaks the thread,
 * which finishes on its own later. */
static void test_free_while_running(void **state)
{
	const char *names[] = {"slow.test"};
	struct resolve *r = NULL;
	int64_t t0;
	char c;

	(void)state;
	assert_int_equal(resolve_new(&r), 0);
	assert_int_equal(resolve_start(r, names, 1), 0);
	t0 = now_ms();
	resolve_free(r);
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(write(gate[1], "g", 1), 1);
	assert_true(readable(finished[0], 5000));
	assert_int_equal(read(finished[0], &c, 1), 1);
	/* Give the detached thread its last instructions (free, exit) so
	 * that a leak checker at exit sees them done. */
	usleep(100 * 1000);
	resolve_free(NULL);
	assert_int_equal(resolve_start(NULL, names, 1), -EINVAL);
	assert_int_equal(resolve_new(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sync),
	    cmocka_unit_test(test_async),
	    cmocka_unit_test(test_free_while_running),
	};

	conf_resolver = fake;
	if (pipe(gate) || pipe(finished))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
