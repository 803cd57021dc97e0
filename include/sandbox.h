/*
 * sandbox: the seccomp filter the probe seals itself in after start-up
 * (libseccomp). Set up everything first (config, sockets that open early,
 * signalfd, epoll, CA stores and libraries), then sandbox_enter(): from
 * then on only the system calls of the table in sandbox.c are allowed,
 * socket(2) only for AF_INET/AF_INET6 with SOCK_DGRAM/SOCK_STREAM, and no
 * execve, no open of a file (but see SANDBOX_RESOLVER). PR_SET_NO_NEW_PRIVS is
 * set first (and is what lets an unprivileged process load a filter).
 */
#ifndef ANYCAST_PROBE_SANDBOX_H
#define ANYCAST_PROBE_SANDBOX_H

enum sandbox_mode {
	SANDBOX_OFF = 0, /* --no-sandbox: nothing is filtered */
	SANDBOX_KILL,    /* default: a call not allowed kills the process
	                  * (SIGSYS, as seen by the parent) */
	SANDBOX_TRAP,    /* --sandbox-debug: same, but a SIGSYS handler first
	                  * writes "E! sandbox: system call N not allowed"
	                  * on stderr, then the process exits 70 */
};

/* What the filter must allow beyond the loop's own calls. */
#define SANDBOX_RESOLVER                                                       \
	1u /* resolve_interval: getaddrinfo() in a thread                      \
	    * at run time (threads, read-only opens of                         \
	    * /etc/hosts and friends, poll). A gap until                       \
	    * resolving moves into a helper process                            \
	    * started before sealing. */

/* Seal the process. NEEDS: SANDBOX_* bits. Returns 0 (also for
 * SANDBOX_OFF) or -errno; on an error nothing was applied (the caller
 * decides whether to go on). */
int sandbox_enter(enum sandbox_mode mode, unsigned needs);

/* Test hook: when the environment has ANYCAST_PROBE_SANDBOX_TEST set to
 * "execve", "socket" (an AF_UNIX socket), "open" (read-only) or
 * "open-write" (/dev/null for writing), make that forbidden
 * call now (after sandbox_enter()), so a test can see it killed. Does
 * nothing otherwise. */
void sandbox_test_hook(void);

#endif
