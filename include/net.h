/*
 * net: the probe's own sockets. Nonblocking UDP and TCP over IPv4 and IPv6,
 * TCP's two-byte length framing, the reply's hop limit (IP_RECVTTL /
 * IPV6_RECVHOPLIMIT) and ICMP errors on unconnected UDP sockets (IP_RECVERR
 * / IPV6_RECVERR, read from the error queue). It knows nothing of DNS
 * beyond the framing, and does not wait: loop does.
 */
#ifndef ANYCAST_PROBE_NET_H
#define ANYCAST_PROBE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A received UDP datagram or error-queue entry. */
struct net_msg {
	uint8_t *buf; /* caller's buffer */
	size_t cap;   /* its size */
	size_t len; /* bytes received (the datagram may have been cut at cap) */
	bool truncated; /* longer than cap */
	struct sockaddr_storage
	    peer; /* source; for an error, the original destination */
	socklen_t peerlen;
	int hop_limit; /* -1 when the kernel gave none */
	int error; /* error-queue entries: the errno the ICMP error maps to */
	/* Kernel software timestamp (CLOCK_REALTIME ns), 0 when none: of the
	 * arrival for a datagram, of the departure for a TX stamp entry. */
	int64_t stamp_ns;
	bool tx_stamp;   /* error-queue entry that is a TX timestamp */
	uint32_t tx_key; /* its SOF_TIMESTAMPING_OPT_ID key: the socket's send
	                  * counter at that datagram (0 for the first send) */
};

/* A UDP socket of FAMILY (AF_INET, AF_INET6), nonblocking, close-on-exec,
 * asking for hop limits, ICMP errors and software RX/TX timestamps (TX ones
 * on the error queue, keyed by a per-socket send counter), bound to SRC
 * (when its family is FAMILY; NULL: any) and PORT (0: the kernel's choice).
 * Returns the fd or -errno (-EADDRINUSE: try another port). *stamps is set
 * to whether the kernel took the timestamp request. */
int net_udp_open(int family, const struct sockaddr_storage *src,
                 uint16_t port, bool *stamps);

/* Send one datagram from N iovecs (the message ID and the shared
 * template). Returns 0, -EAGAIN (buffer full: try later) or -errno. */
struct iovec;
int net_udp_sendv(int fd, const struct sockaddr *to, socklen_t tolen,
                  const struct iovec *iov, size_t n);

/* Most datagrams one call returns. */
#define NET_BATCH 16

/* Receive up to N (<= NET_BATCH) datagrams into M[0..N) in one system call
 * (each M[i].buf/cap set by the caller). Returns how many, -EAGAIN when
 * none is queued, or -errno (a pending ICMP error may surface here: read
 * the error queue). Fewer than N means the queue was drained. */
int net_udp_recv(int fd, struct net_msg *m, unsigned n);

/* The same for the error queue. Each entry is either a TX timestamp
 * (tx_stamp, tx_key, stamp_ns) or an ICMP error: buf gets the offending
 * packet's payload as far as the kernel kept it, peer its destination,
 * error the errno. */
int net_udp_recv_error(int fd, struct net_msg *m, unsigned n);

/* Start a nonblocking TCP connection from SRC (when its family is TO's;
 * NULL: any). Returns the fd (connection under way or done: wait for
 * EPOLLOUT) or -errno for an immediate failure. */
int net_tcp_connect(const struct sockaddr *to, socklen_t tolen,
                    const struct sockaddr_storage *src);

/* After EPOLLOUT: 0 when connected, else -errno of the failed connect. */
int net_tcp_connect_result(int fd);

/* Set the port of A (IPv4 or IPv6). */
void net_addr_with_port(struct sockaddr_storage *a, uint16_t port);

/* Same address and port (IPv4 or IPv6; IPv6 compares scope too). */
bool net_addr_equal(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b);

/* Short lower-case cause for an errno, for the `error` field:
 * "connection refused", "network unreachable", ... */
const char *net_strerror(int err);

/* Whether this machine has ADDR (the port is ignored): binds a UDP socket
 * to it and closes it, sending nothing. Returns 0 when it has, else -errno
 * of the bind (-EADDRNOTAVAIL: not an address of this machine). */
int net_addr_is_local(const struct sockaddr *addr, socklen_t len);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the limit. */
long net_raise_fd_limit(void);

#endif
