/*
 * paced: the machine's own price of running paced, for bench.sh's low-rate
 * target. Does N units of fixed work (one UDP datagram sent over loopback
 * to a socket of its own and read back: a sendto and a recv, as a probe
 * query costs the least) at RATE units a second, woken every millisecond
 * (clock_nanosleep to absolute times, as the probe's pacer wakes at most
 * once a millisecond) doing the units that fell due, and prints its CPU
 * time (user + system, CLOCK_PROCESS_CPUTIME_ID) per unit in microseconds.
 * The same N at two rates gives the ratio any paced program pays on this
 * machine for sleeping between bursts (cold caches after each sleep): the
 * baseline for the probe's CPU at 2,000 q/s against 20,000 q/s.
 *
 *   paced N RATE
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static long long ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	char buf[64];
	long n, rate, done = 0;
	long long start, cpu0, next;
	int s;

	if (argc != 3 || (n = atol(argv[1])) <= 0 || (rate = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: paced N RATE\n");
		return 2;
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &al) < 0) {
		perror("paced: socket");
		return 1;
	}
	memset(buf, 'q', sizeof(buf));
	cpu0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	start = next = ns(CLOCK_MONOTONIC);
	while (done < n) {
		long long now = ns(CLOCK_MONOTONIC);
		long due = (long)((now - start) * rate / 1000000000LL) + 1;
		struct timespec ts;

		for (; done < due && done < n; done++) {
			if (sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&a,
			           sizeof(a)) < 0 ||
			    recv(s, buf, sizeof(buf), 0) < 0) {
				perror("paced: io");
				return 1;
			}
		}
		next += 1000000; /* the next millisecond */
		if (next < now)
			next = now;
		ts.tv_sec = next / 1000000000LL;
		ts.tv_nsec = next % 1000000000LL;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	printf("%.3f\n", (ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / 1e3 / n);
	return 0;
}
