/*
 * net: nonblocking sockets; see include/net.h. The probe's UDP sockets are
 * unconnected (one socket serves many servers), so ICMP errors arrive only
 * through IP_RECVERR's error queue, with the original query attached: that
 * is how an unreachable or refused UDP query becomes an error at once.
 */
#include "net.h"

#include "clock.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

static int setopt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

/* Bind FD to SRC (any address of the family when NULL or unset) and
 * PORT (0: the kernel's choice). */
static int bind_to(int fd, int family, const struct sockaddr_storage *src,
                   uint16_t port)
{
	struct sockaddr_storage a;
	socklen_t len;

	if (src != NULL && src->ss_family == family) {
		a = *src;
	} else {
		memset(&a, 0, sizeof(a));
		a.ss_family = (sa_family_t)family;
	}
	if (family == AF_INET6) {
		((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&a)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	}
	return bind(fd, (struct sockaddr *)&a, len) < 0 ? -errno : 0;
}

int net_udp_open(int family, const struct sockaddr_storage *src,
                 uint16_t port, bool *stamps)
{
	const int ts_flags =
	    SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_TX_SOFTWARE |
	    SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID |
	    SOF_TIMESTAMPING_OPT_TSONLY;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ok, rc;

	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		ok = setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) == 0 &&
		     setopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) == 0 &&
		     setopt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1) == 0;
	} else {
		ok = setopt(fd, IPPROTO_IP, IP_RECVTTL, 1) == 0 &&
		     setopt(fd, IPPROTO_IP, IP_RECVERR, 1) == 0;
	}
	if (!ok) {
		int err = -errno;

		close(fd);
		return err;
	}
	if ((port != 0 || (src != NULL && src->ss_family == family)) &&
	    (rc = bind_to(fd, family, src, port)) < 0) {
		close(fd);
		return rc;
	}
	/* Many replies may land between two turns of the loop. */
	(void)setopt(fd, SOL_SOCKET, SO_RCVBUF, 1 << 20);
	/* Without stamps the probe times with its own clock. */
	*stamps = setopt(fd, SOL_SOCKET, SO_TIMESTAMPING, ts_flags) == 0;
	return fd;
}

int net_udp_sendv(int fd, const struct sockaddr *to, socklen_t tolen,
                  const struct iovec *iov, size_t n)
{
	struct msghdr mh = {.msg_name = (void *)to,
	                    .msg_namelen = tolen,
	                    .msg_iov = (struct iovec *)iov,
	                    .msg_iovlen = n};
	bool again = true;

	for (;;) {
		if (sendmsg(fd, &mh, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		/* With IP_RECVERR an ICMP error for an earlier datagram to
		 * another server leaves a pending socket error that the next
		 * send reports (and clears). It belongs to that other query
		 * (the error queue says which): send once more, and only an
		 * error that repeats is this datagram's own. */
		if (again) {
			again = false;
			continue;
		}
		return -errno;
	}
}

static void read_cmsgs(struct msghdr *mh, struct net_msg *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
	     c = CMSG_NXTHDR(mh, c)) {
		int v;

		if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
		    (c->cmsg_level == IPPROTO_IPV6 &&
		     c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			m->hop_limit = v;
		} else if ((c->cmsg_level == IPPROTO_IP &&
		            c->cmsg_type == IP_RECVERR) ||
		           (c->cmsg_level == IPPROTO_IPV6 &&
		            c->cmsg_type == IPV6_RECVERR)) {
			struct sock_extended_err ee;

			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
				m->tx_stamp = true;
				m->tx_key = ee.ee_data;
			} else {
				m->error = (int)ee.ee_errno;
			}
		} else if (c->cmsg_level == SOL_SOCKET &&
		           c->cmsg_type == SCM_TIMESTAMPING) {
			struct scm_timestamping st;

			memcpy(&st, CMSG_DATA(c), sizeof(st));
			m->stamp_ns = clock_ts_ns(&st.ts[0]);
		}
	}
}

#define CONTROL_SIZE 256 /* TTL + timestamping + extended error */

/* Up to N datagrams (or error-queue entries) in one recvmmsg(). */
static int recv_batch(int fd, struct net_msg *m, unsigned n, int flags)
{
	struct mmsghdr mh[NET_BATCH];
	struct iovec iov[NET_BATCH];
	union {
		struct cmsghdr align;
		uint8_t buf[CONTROL_SIZE];
	} control[NET_BATCH];
	int got;

	if (n > NET_BATCH)
		n = NET_BATCH;
	for (unsigned i = 0; i < n; i++) {
		iov[i] =
		    (struct iovec){.iov_base = m[i].buf, .iov_len = m[i].cap};
		mh[i].msg_hdr = (struct msghdr){
		    .msg_name = &m[i].peer,
		    .msg_namelen = sizeof(m[i].peer),
		    .msg_iov = &iov[i],
		    .msg_iovlen = 1,
		    .msg_control = control[i].buf,
		    .msg_controllen = sizeof(control[i].buf),
		};
	}
	do
		got = recvmmsg(fd, mh, n, flags | MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (int i = 0; i < got; i++) {
		m[i].len = mh[i].msg_len;
		m[i].truncated = (mh[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
		m[i].peerlen = mh[i].msg_hdr.msg_namelen;
		m[i].hop_limit = -1;
		m[i].error = 0;
		m[i].stamp_ns = 0;
		m[i].tx_stamp = false;
		m[i].tx_key = 0;
		read_cmsgs(&mh[i].msg_hdr, &m[i]);
		if ((flags & MSG_ERRQUEUE) && m[i].error == 0 && !m[i].tx_stamp)
			m[i].error = EIO;
	}
	return got;
}

int net_udp_recv(int fd, struct net_msg *m, unsigned n)
{
	return recv_batch(fd, m, n, 0);
}

int net_udp_recv_error(int fd, struct net_msg *m, unsigned n)
{
	return recv_batch(fd, m, n, MSG_ERRQUEUE);
}

int net_tcp_connect(const struct sockaddr *to, socklen_t tolen,
                    const struct sockaddr_storage *src)
{
	int fd = socket(to->sa_family,
	                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return -errno;
	/* No TCP_NODELAY: the query is one write, and Nagle never holds the
	 * first segment back. One system call less per query. */
	if (src != NULL && src->ss_family == to->sa_family &&
	    (rc = bind_to(fd, to->sa_family, src, 0)) < 0) {
		close(fd);
		return rc;
	}
	if (connect(fd, to, tolen) < 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int net_tcp_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

void net_addr_with_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
	else if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
}

bool net_addr_equal(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
		                         *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
		                          *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
		       (x->sin6_scope_id == y->sin6_scope_id ||
		        x->sin6_scope_id == 0 || y->sin6_scope_id == 0);
	}
	return false;
}

const char *net_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case ECONNREFUSED:
		return "connection refused";
	case ENETUNREACH:
		return "network unreachable";
	case EHOSTUNREACH:
		return "host unreachable";
	case ECONNRESET:
		return "connection reset";
	case EPIPE:
		return "connection closed";
	case ETIMEDOUT:
		return "timed out";
	case EADDRNOTAVAIL:
		return "address not available";
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
		return "address family not supported";
	case EACCES:
	case EPERM:
		return "permission denied";
	case EMFILE:
	case ENFILE:
		return "too many open files";
	case ENOBUFS:
	case ENOMEM:
		return "out of buffer space";
	case EMSGSIZE:
		return "message too long";
	case EPROTO:
		return "protocol error";
	default:
		return "network error";
	}
}

long net_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > 1L << 20 ? 1L << 20 : (long)rl.rlim_cur;
}

int net_addr_is_local(const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_storage a;
	int fd, rc = 0;

	if (!addr || len > sizeof(a) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
		return -EINVAL;
	memcpy(&a, addr, len);
	if (a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
	fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
