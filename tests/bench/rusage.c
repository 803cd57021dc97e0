/*
 * rusage [-x] [-e NAME=ID ...] [-r ROUNDS -R FILE -m MARKER] OUT ERR CMD
 * [ARGS...]
 *
 * Runs CMD with stdout to OUT and stderr to ERR, then prints one line:
 *   "wall_s cpu_us maxrss_kib exit_code"
 * and, with -x or any -e, on the same line " nvcsw nivcsw COUNT...",
 * where nvcsw/nivcsw are the voluntary (the process slept and was woken:
 * a wake-up) and involuntary context switches, and one COUNT per -e: how
 * often tracepoint ID (for example raw_syscalls:sys_enter, every system
 * call) fired in CMD and its threads and children, "nan" when the kernel
 * would not count it (or ID is 0: unknown). Tracepoint IDs come from the caller
 * (tracefs is not mounted inside "ip netns exec"); counting starts at exec, so
 * nothing of this wrapper is counted.
 *
 * With -r, CMD runs in service mode: its stdin is a pipe and its stdout a
 * pipe read here (and copied to OUT). For each of ROUNDS rounds this writes
 * one newline to CMD's stdin (a trigger) and reads until a whole line that
 * starts with MARKER has arrived (the probe's self_metrics line, the
 * round's last), then appends to FILE:
 *   "round rss_kib hwm_kib trigger_ns done_ns"
 * with VmRSS and VmHWM from /proc/PID/status at that moment and the
 * CLOCK_REALTIME of the trigger and of the read() that returned the
 * round's last byte (realtime, so it compares with pcap timestamps). Then
 * it closes CMD's stdin and waits for it to exit.
 *
 * Why not GNU time: it prints CPU with 10 ms resolution, too coarse for a
 * 50 ms round. wait4(2) gives user+sys to the microsecond (the kernel's
 * total is exact; only its user/sys split is sampled). Why not Perl: the
 * peak RSS reported for a child includes what the forked parent had mapped
 * before exec (Linux keeps the old mm's high-water mark), so the parent must
 * be small. This one is a few hundred KiB, well under anything measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 32
#define ROUND_WAIT_MS 300000 /* give up on a round after 5 minutes */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: rusage [-x] [-e NAME=ID ...] [-r ROUNDS -R FILE "
	        "-m MARKER] OUT ERR CMD [ARGS...]\n");
	return 2;
}

/* Counts tracepoint ID in pid and everything it starts, from its exec on. */
static int tracepoint_open(pid_t pid, unsigned long long id)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = id;
	a.disabled = 1;
	a.enable_on_exec = 1;
	a.inherit = 1;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1,
	                    PERF_FLAG_FD_CLOEXEC);
}

/* VmRSS and VmHWM of pid in KiB, -1 when unknown. */
static void proc_rss(pid_t pid, long *rss, long *hwm)
{
	char path[64], line[256];
	FILE *f;

	*rss = *hwm = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Service mode: the rounds, reading CMD's stdout from rd and copying it to
 * out. A line is the round's last when it starts with marker; at_bol and
 * match track that across reads.
 */
static void drive_rounds(pid_t pid, int wr, int rd, int out, int rounds,
                         FILE *log, const char *marker)
{
	size_t mlen = strlen(marker), match = 0;
	int at_bol = 1;
	static char buf[1 << 16];

	for (int r = 1; r <= rounds; r++) {
		long long trig = wall_ns();
		int done = 0;
		long rss, hwm;

		if (write_all(wr, "\n", 1) < 0)
			return;
		while (!done) {
			struct pollfd pfd = {.fd = rd, .events = POLLIN};
			ssize_t n;

			if (poll(&pfd, 1, ROUND_WAIT_MS) <= 0)
				return;
			n = read(rd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;
			for (ssize_t i = 0; i < n; i++) {
				char c = buf[i];

				if (at_bol) {
					at_bol = 0;
					match = 0;
				}
				if (match < mlen && match != SIZE_MAX)
					match = c == marker[match] ? match + 1
					                           : SIZE_MAX;
				if (c == '\n') {
					if (match == mlen)
						done = 1;
					at_bol = 1;
				}
			}
			if (done) {
				long long t = wall_ns();

				proc_rss(pid, &rss, &hwm);
				fprintf(log, "%d %ld %ld %lld %lld\n", r, rss,
				        hwm, trig, t);
				fflush(log);
			}
			if (write_all(out, buf, (size_t)n) < 0)
				return;
		}
	}
}

int main(int argc, char **argv)
{
	const char *ev_name[MAX_EVENTS], *marker = NULL, *rfile = NULL;
	unsigned long long ev_id[MAX_EVENTS];
	int ev_fd[MAX_EVENTS], n_ev = 0, rounds = 0, extended = 0, opt;
	int sync_p[2], in_p[2] = {-1, -1}, out_p[2] = {-1, -1};
	struct rusage ru;
	double t0, t1;
	int status, rc;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+xe:r:R:m:")) != -1) {
		char *eq, *end;

		switch (opt) {
		case 'e':
			eq = strchr(optarg, '=');
			if (n_ev == MAX_EVENTS || eq == NULL)
				return usage();
			errno = 0;
			ev_id[n_ev] = strtoull(eq + 1, &end, 10);
			if (errno || *end)
				return usage();
			ev_name[n_ev++] = optarg;
			break;
		case 'x':
			extended = 1;
			break;
		case 'r':
			rounds = (int)strtol(optarg, &end, 10);
			if (*end || rounds <= 0)
				return usage();
			break;
		case 'R':
			rfile = optarg;
			break;
		case 'm':
			marker = optarg;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || (rounds && (rfile == NULL || marker == NULL)))
		return usage();
	(void)ev_name;
	if (pipe2(sync_p, O_CLOEXEC) < 0 ||
	    (rounds &&
	     (pipe2(in_p, O_CLOEXEC) < 0 || pipe2(out_p, O_CLOEXEC) < 0))) {
		perror("rusage: pipe");
		return 2;
	}
	t0 = now_s();
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 2;
	}
	if (pid == 0) {
		int o = rounds
		            ? out_p[1]
		            : open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char c;

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		if (rounds && dup2(in_p[0], 0) < 0)
			_exit(127);
		/* Wait until the counters are attached. */
		close(sync_p[1]);
		while (read(sync_p[0], &c, 1) < 0 && errno == EINTR)
			;
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(sync_p[0]);
	for (int i = 0; i < n_ev; i++)
		ev_fd[i] = ev_id[i] ? tracepoint_open(pid, ev_id[i]) : -1;
	close(sync_p[1]); /* the child execs now */
	if (rounds) {
		int out = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		FILE *log = fopen(rfile, "w");
		ssize_t n;
		char buf[1 << 14];

		close(in_p[0]);
		close(out_p[1]);
		if (out < 0 || log == NULL) {
			perror("rusage: output");
			return 2;
		}
		drive_rounds(pid, in_p[1], out_p[0], out, rounds, log, marker);
		close(in_p[1]); /* EOF: the probe finishes and exits */
		while ((n = read(out_p[0], buf, sizeof(buf))) > 0 ||
		       (n < 0 && errno == EINTR))
			if (n > 0 && write_all(out, buf, (size_t)n) < 0)
				break;
		fclose(log);
		close(out);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("rusage: wait4");
		return 2;
	}
	t1 = now_s();
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	printf("%.6f %lld %ld %d", t1 - t0,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
	       ru.ru_maxrss, rc);
	if (extended || n_ev > 0)
		printf(" %ld %ld", ru.ru_nvcsw, ru.ru_nivcsw);
	for (int i = 0; i < n_ev; i++) {
		uint64_t v;

		if (ev_fd[i] >= 0 && read(ev_fd[i], &v, sizeof(v)) == sizeof(v))
			printf(" %llu", (unsigned long long)v);
		else
			printf(" nan");
	}
	printf("\n");
	return 0;
}
