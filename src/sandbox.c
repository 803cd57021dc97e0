/*
 * sandbox: see include/sandbox.h. One table of allowed system calls, in
 * groups, each with why the probe needs it; the lists were taken from
 * strace of --once and service mode (UDP and TCP, IPv4 and IPv6, rounds,
 * signals, shutdown) and widened by what the transports use or will
 * (sendmmsg, sendmsg, bind for the UDP port pool). Sanitizer builds
 * (ASan, UBSan) log calls outside the table instead of killing: their
 * runtimes (the leak checker stops the world with clone and ptrace) need
 * calls the probe never makes. execve is killed in every mode.
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <seccomp.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) ||                                        \
    __has_feature(undefined_behavior_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif

#define EXIT_SANDBOX 70 /* EX_SOFTWARE: a call the filter does not allow */

/* The allowed calls. Keep one group per reason; the TLS transport adds
 * its own group when it needs more. */
static const char *const allowed[] = {
    /* memory: malloc, ldns, realloc of queues */
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "madvise",
    "mprotect",
    /* the loop: epoll, the signalfd, descriptors */
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_ctl",
    "read",
    "readv",
    "write",
    "writev",
    "close",
    "fcntl",
    "fstat",
    "newfstatat",
    /* sockets at run time: TCP connections per query, the UDP port pool
     * (socket() itself is checked by family and type below) */
    "connect",
    "bind",
    "getsockname",
    "getpeername",
    "getsockopt",
    "setsockopt",
    "shutdown",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "recvfrom",
    "recvmsg",
    "recvmmsg",
    /* time and randomness (clock_gettime is vDSO; the syscalls are the
     * fallback), ports and IDs from getrandom */
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "clock_nanosleep",
    "nanosleep",
    "getrandom",
    /* signals: the mask around the signalfd, handlers, their return */
    "rt_sigprocmask",
    "rt_sigaction",
    "rt_sigreturn",
    "sigaltstack",
    "restart_syscall",
    /* the process: identity for logs, limits looked at, the end; abort()
     * on a failed assert, locks inside glibc */
    "getpid",
    "gettid",
    "tgkill",
    "prlimit64",
    "getrlimit",
    "futex",
    "sched_yield",
    "exit",
    "exit_group",
};

/* SANDBOX_RESOLVER: getaddrinfo() in resolve.c's thread. A thread is
 * made by clone3 (whose flags seccomp cannot see: it answers ENOSYS, so
 * glibc falls back to clone) or clone with CLONE_THREAD (rules below);
 * files are opened read-only only (rule below). */
static const char *const resolver[] = {
    /* a thread's start and end */
    "rseq",
    "set_robust_list",
    "madvise",
    "exit",
    /* reading /etc/hosts, nsswitch.conf, resolv.conf, gai.conf */
    "lseek",
    "pread64",
    "newfstatat",
    "fstat",
    "statx",
    /* a DNS look-up when the name is not in /etc/hosts */
    "poll",
    "ppoll",
    "sendmmsg",
    "recvfrom",
    "connect",
};

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[128];
	int n;

	(void)sig;
	(void)ctx;
	/* Async-signal-safe only: snprintf of integers does not allocate. */
	n = snprintf(msg, sizeof(msg),
	             "E! sandbox: system call %d (arch 0x%x) is not allowed; "
	             "run with --no-sandbox to go on without the filter\n",
	             si->si_syscall, si->si_arch);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
		/* nothing left to do */
	}
	_exit(EXIT_SANDBOX);
}

/* socket(2): the families and types the transports use, with any of
 * SOCK_NONBLOCK and SOCK_CLOEXEC. */
static int allow_sockets(scmp_filter_ctx ctx)
{
	static const int fams[] = {AF_INET, AF_INET6};
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
	const scmp_datum_t mask =
	    0xffffffffu & ~(scmp_datum_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);

	for (size_t f = 0; f < 2; f++) {
		for (size_t t = 0; t < 2; t++) {
			const struct scmp_arg_cmp cmp[2] = {
			    {.arg = 0,
			     .op = SCMP_CMP_EQ,
			     .datum_a = (scmp_datum_t)fams[f],
			     .datum_b = 0},
			    {.arg = 1,
			     .op = SCMP_CMP_MASKED_EQ,
			     .datum_a = mask,
			     .datum_b = (scmp_datum_t)types[t]},
			};
			int rc = seccomp_rule_add_array(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, cmp);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int add_names(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

static int allow_resolver(scmp_filter_ctx ctx)
{
	const struct scmp_arg_cmp thread = {.arg = 0,
	                                    .op = SCMP_CMP_MASKED_EQ,
	                                    .datum_a = CLONE_THREAD,
	                                    .datum_b = CLONE_THREAD};
	const struct scmp_arg_cmp rdonly = {.arg = 2,
	                                    .op = SCMP_CMP_MASKED_EQ,
	                                    .datum_a = O_ACCMODE | O_CREAT |
	                                               O_TRUNC | O_APPEND,
	                                    .datum_b = O_RDONLY};
	int rc = add_names(ctx, resolver, sizeof(resolver) / sizeof(*resolver));

	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
		                      SCMP_SYS(clone3), 0);
	if (rc == 0)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		                            SCMP_SYS(clone), 1, &thread);
	if (rc == 0)
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
		                            SCMP_SYS(openat), 1, &rdonly);
	return rc;
}

int sandbox_enter(enum sandbox_mode mode, unsigned needs)
{
	scmp_filter_ctx ctx;
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	int rc;

	if (mode == SANDBOX_OFF)
		return 0;
	if (mode == SANDBOX_TRAP) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return -errno;
		deflt = SCMP_ACT_TRAP;
	}
#ifdef SANITIZED_BUILD
	if (mode == SANDBOX_KILL)
		deflt = SCMP_ACT_LOG;
#endif
	ctx = seccomp_init(deflt);
	if (ctx == NULL)
		return -ENOMEM;
	/* libseccomp sets PR_SET_NO_NEW_PRIVS at load by default; say so
	 * rather than rely on it, and check it took. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (rc == 0)
		rc =
		    add_names(ctx, allowed, sizeof(allowed) / sizeof(*allowed));
	if (rc == 0)
		rc = allow_sockets(ctx);
	if (rc == 0 && (needs & SANDBOX_RESOLVER))
		rc = allow_resolver(ctx);
	/* Killed in every mode, sanitizers or not (libseccomp refuses a rule
	 * that repeats the default action). */
	if (rc == 0 && deflt != SCMP_ACT_KILL_PROCESS)
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		                      SCMP_SYS(execve), 0);
	if (rc == 0 && deflt != SCMP_ACT_KILL_PROCESS)
		rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS,
		                      SCMP_SYS(execveat), 0);
	if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		rc = -errno;
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc < 0 ? rc : 0;
}

void sandbox_test_hook(void)
{
	const char *what = getenv("ANYCAST_PROBE_SANDBOX_TEST");

	if (what == NULL)
		return;
	if (strcmp(what, "execve") == 0) {
		char *const argv[] = {(char *)"/bin/true", NULL};
		execve("/bin/true", argv, NULL);
	} else if (strcmp(what, "socket") == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0)
			close(fd);
	} else if (strcmp(what, "open-write") == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			close(fd);
	} else if (strcmp(what, "open") == 0) {
		int fd = open("/etc/hostname", O_RDONLY);
		if (fd >= 0)
			close(fd);
	}
}
