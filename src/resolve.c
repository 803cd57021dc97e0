/*
 * resolve: host-name look-ups; see include/resolve.h. Owns conf_resolver
 * (the hook), the synchronous look-up conf uses at load time, and the
 * background look-ups for `resolve_interval`.
 *
 * Background design: resolve_start() copies the names into a job and
 * starts a detached thread for it. The thread resolves the names one after
 * another, stores the results in the job, marks it done and writes to the
 * job's own duplicate of an eventfd, then drops its reference. The loop
 * polls the eventfd; resolve_collect() takes the results. The job is
 * shared by the thread and the struct resolve under a mutex with a
 * reference count, so resolve_free() never waits for a slow resolver: the
 * last one to let go frees the job. One batch at a time (a second start
 * while one runs is -EBUSY), which also bounds the threads to one.
 */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "conf.h"
#include "net.h"

int (*conf_resolver)(const char *node, const char *service,
                     const struct addrinfo *hints,
                     struct addrinfo **res) = getaddrinfo;

void resolve_host_clear(struct resolve_host *host)
{
	if (!host)
		return;
	free(host->name);
	free(host->addrs);
	memset(host, 0, sizeof(*host));
}

void resolve_hosts_free(struct resolve_host *hosts, size_t n)
{
	for (size_t i = 0; hosts && i < n; i++)
		resolve_host_clear(&hosts[i]);
	free(hosts);
}

static bool seen(const struct resolve_host *h, const struct sockaddr_storage *a)
{
	for (size_t i = 0; i < h->n_addrs; i++)
		if (net_addr_equal(&h->addrs[i], a))
			return true;
	return false;
}

int resolve_name(const char *name, struct resolve_host *host)
{
	struct addrinfo hints, *res = NULL, *ai;
	size_t n = 0;
	int rc;

	memset(host, 0, sizeof(*host));
	if (!name || !(host->name = strdup(name)))
		return -ENOMEM;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	rc = conf_resolver(name, NULL, &hints, &res);
	if (rc) {
		host->err = rc;
		host->error_text =
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
		return 0;
	}
	for (ai = res; ai; ai = ai->ai_next)
		n++;
	host->addrs = calloc(n ? n : 1, sizeof(*host->addrs));
	if (!host->addrs) {
		freeaddrinfo(res);
		resolve_host_clear(host);
		return -ENOMEM;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct sockaddr_storage a;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(a))
			continue;
		memset(&a, 0, sizeof(a));
		memcpy(&a, ai->ai_addr, ai->ai_addrlen);
		if (!seen(host, &a))
			host->addrs[host->n_addrs++] = a;
	}
	freeaddrinfo(res);
	return 0;
}

/* ---- background ---------------------------------------------------------- */

struct job {
	pthread_mutex_t lock;
	int refs; /* the thread and the struct resolve */
	int fd;   /* the job's own duplicate of the eventfd */
	bool done;
	char **names;
	struct resolve_host *hosts;
	size_t n;
};

struct resolve {
	int efd;
	struct job *job; /* the batch started and not collected, or NULL */
};

static void job_unref(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&j->lock);
	if (j->fd >= 0)
		close(j->fd);
	for (size_t i = 0; i < j->n; i++)
		free(j->names[i]);
	free(j->names);
	resolve_hosts_free(j->hosts, j->n);
	free(j);
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	uint64_t one = 1;

	for (size_t i = 0; i < j->n; i++) {
		if (resolve_name(j->names[i], &j->hosts[i]) < 0) {
			/* Out of memory: a failed look-up, said so. */
			j->hosts[i].name = NULL;
			j->hosts[i].err = EAI_MEMORY;
			j->hosts[i].error_text = gai_strerror(EAI_MEMORY);
		}
	}
	/* Done and the wake-up under one lock, so that collect sees both or
	 * neither. An eventfd write of 1 cannot block (the counter is far
	 * from its maximum); should it fail, the next collect still finds
	 * the batch. */
	pthread_mutex_lock(&j->lock);
	j->done = true;
	if (write(j->fd, &one, sizeof(one)) < 0)
		j->done = true;
	pthread_mutex_unlock(&j->lock);
	job_unref(j);
	return NULL;
}

int resolve_new(struct resolve **out)
{
	struct resolve *r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		int e = -errno;

		free(r);
		return e;
	}
	*out = r;
	return 0;
}

void resolve_free(struct resolve *r)
{
	if (!r)
		return;
	if (r->job)
		job_unref(r->job);
	close(r->efd);
	free(r);
}

int resolve_fd(const struct resolve *r)
{
	return r ? r->efd : -1;
}

int resolve_start(struct resolve *r, const char *const *names, size_t n)
{
	struct job *j;
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t all, old;
	int rc;

	if (!r || (n && !names))
		return -EINVAL;
	if (r->job)
		return -EBUSY;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fd = -1;
	j->names = calloc(n ? n : 1, sizeof(*j->names));
	j->hosts = calloc(n ? n : 1, sizeof(*j->hosts));
	if (!j->names || !j->hosts)
		goto nomem;
	for (; j->n < n; j->n++)
		if (!(j->names[j->n] = strdup(names[j->n])))
			goto nomem;
	j->fd = fcntl(r->efd, F_DUPFD_CLOEXEC, 0);
	if (j->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (pthread_mutex_init(&j->lock, NULL)) {
		rc = -ENOMEM;
		goto fail;
	}
	j->refs = 2;
	/* The thread takes no signals: they stay the loop's (signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = -pthread_create(&tid, &attr, job_run, j);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		j->refs = 1;
		job_unref(j);
		return rc;
	}
	r->job = j;
	return 0;
nomem:
	rc = -ENOMEM;
fail:
	for (size_t i = 0; j->names && i < j->n; i++)
		free(j->names[i]);
	free(j->names);
	free(j->hosts);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
	return rc;
}

int resolve_collect(struct resolve *r, struct resolve_host **hosts, size_t *n)
{
	struct job *j;
	uint64_t v;
	bool done;

	if (!r || !hosts || !n)
		return -EINVAL;
	j = r->job;
	if (!j)
		return -EAGAIN;
	pthread_mutex_lock(&j->lock);
	done = j->done;
	/* Clear the readiness (the thread wrote under this lock). */
	if (done && read(r->efd, &v, sizeof(v)) < 0)
		v = 0;
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return -EAGAIN;
	*hosts = j->hosts;
	*n = j->n;
	j->hosts = NULL;
	r->job = NULL;
	job_unref(j);
	return 0;
}
