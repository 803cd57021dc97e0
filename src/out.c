/*
 * out: see include/out.h. Two queues, one per stream, each a flat buffer
 * of whole lines: bytes [head, len) wait to be written. The buffer is
 * compacted (memmove) when room is needed at its end, and grown by
 * doubling up to the stream's bound. For stdout, the absolute end offsets
 * of the rounds still queued are kept, so that at shutdown what was not
 * written can be counted in rounds.
 *
 * Writing: q_flush() writes runs of whole lines (at most PIPE_BUF bytes a
 * write to a pipe or socket, 64 KiB otherwise) until the queue is empty
 * or the kernel says EAGAIN; then the descriptor is watched for EPOLLOUT
 * (and unwatched once empty). A descriptor that epoll refuses (a regular
 * file, /dev/null) never says EAGAIN: it is written at once.
 */
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define BATCH_OTHER (64 * 1024) /* a write to a file or tty */

struct q {
	int fd;
	char *buf;
	size_t head, len, cap, max;
	size_t batch;     /* largest write: PIPE_BUF for pipes */
	bool started;     /* non-blocking and queued */
	bool unpollable;  /* epoll said EPERM: write at once */
	bool watching;    /* EPOLLOUT registered */
	bool midline;     /* the last write ended inside a line */
	bool gone;        /* a write failed for good */
	int saved_flags;  /* -1: not changed */
	uint64_t written; /* bytes written since start (absolute offset) */
	uint64_t queued;  /* bytes queued since start */
	/* stdout: end offsets of queued rounds, a FIFO in ends[first..n) */
	uint64_t *ends;
	size_t first, n, ends_cap;
	uint64_t dropped;    /* rounds (stdout) or lines (stderr) dropped */
	uint64_t unreported; /* stderr: dropped lines not yet said */
	struct loop_handler h;
};

static struct q qs[2] = {
    {.fd = STDOUT_FILENO, .max = OUT_STDOUT_MAX, .saved_flags = -1},
    {.fd = STDERR_FILENO, .max = OUT_STDERR_MAX, .saved_flags = -1},
};
static struct loop *out_loop;

static struct q *q_of(struct loop_handler *h)
{
	return (struct q *)((char *)h - offsetof(struct q, h));
}

static void q_watch(struct q *q)
{
	bool want = q->head < q->len && !q->gone && !q->unpollable;

	if (want == q->watching || out_loop == NULL)
		return;
	if (want) {
		int rc = loop_add(out_loop, q->fd, EPOLLOUT, &q->h);

		if (rc == -EEXIST)
			rc = loop_mod(out_loop, q->fd, EPOLLOUT, &q->h);
		if (rc == -EPERM)
			q->unpollable = true;
		q->watching = rc == 0;
	} else {
		loop_del(out_loop, q->fd);
		q->watching = false;
	}
}

/* How many bytes from head the next write may take: the rest of a line
 * begun, else whole lines up to the batch size, else one long line. */
static size_t q_chunk(const struct q *q)
{
	const char *p = q->buf + q->head;
	size_t avail = q->len - q->head;
	const char *nl;

	if (q->midline) {
		nl = memchr(p, '\n', avail);
		return nl ? (size_t)(nl - p) + 1 : avail;
	}
	if (avail <= q->batch)
		return avail; /* the queue holds whole lines only */
	nl = memrchr(p, '\n', q->batch);
	if (nl != NULL)
		return (size_t)(nl - p) + 1;
	nl = memchr(p + q->batch, '\n', avail - q->batch);
	return nl ? (size_t)(nl - p) + 1 : avail;
}

static void q_drop_all(struct q *q)
{
	q->written += q->len - q->head; /* offsets stay consistent */
	q->head = q->len = 0;
	q->first = q->n = 0;
}

/* Write until empty or EAGAIN. */
static void q_flush(struct q *q)
{
	while (q->head < q->len && !q->gone) {
		size_t n = q_chunk(q);
		ssize_t w = write(q->fd, q->buf + q->head, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			q->gone = true;
			q_drop_all(q);
			break;
		}
		if (w == 0)
			break; /* nothing taken: wait for EPOLLOUT */
		q->head += (size_t)w;
		q->written += (uint64_t)w;
		q->midline = q->buf[q->head - 1] != '\n';
	}
	while (q->first < q->n && q->ends[q->first] <= q->written)
		q->first++;
	if (q->first == q->n)
		q->first = q->n = 0;
	if (q->head == q->len)
		q->head = q->len = 0;
	q_watch(q);
}

static void on_writable(struct loop_handler *h, uint32_t events)
{
	(void)events;
	q_flush(q_of(h));
}

/* Room for LEN more bytes within the bound; false when over it. */
static bool q_reserve(struct q *q, size_t len)
{
	size_t used = q->len - q->head;

	if (len > q->max || used > q->max - len)
		return false;
	if (q->cap - q->len >= len)
		return true;
	if (q->head > 0) {
		memmove(q->buf, q->buf + q->head, used);
		q->head = 0;
		q->len = used;
		if (q->cap - q->len >= len)
			return true;
	}
	size_t cap = q->cap ? q->cap : 4096;
	while (cap - used < len)
		cap *= 2;
	char *nb = realloc(q->buf, cap);
	if (nb == NULL)
		return false;
	q->buf = nb;
	q->cap = cap;
	return true;
}

static void q_append(struct q *q, const char *buf, size_t len)
{
	memcpy(q->buf + q->len, buf, len);
	q->len += len;
	q->queued += len;
}

/* Before out_start(): a plain blocking write of everything. */
static int write_direct(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int q_start(struct q *q)
{
	struct stat st;
	int fl = fcntl(q->fd, F_GETFL);

	if (fl < 0)
		return -errno;
	q->batch = BATCH_OTHER;
	if (fstat(q->fd, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		q->batch = PIPE_BUF;
	if (!(fl & O_NONBLOCK)) {
		if (fcntl(q->fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		q->saved_flags = fl;
	}
	q->h.fn = on_writable;
	q->started = true;
	return 0;
}

int out_start(struct loop *loop)
{
	int rc;

	if (loop == NULL)
		return -EINVAL;
	out_loop = loop;
	if ((rc = q_start(&qs[0])) < 0)
		return rc;
	if ((rc = q_start(&qs[1])) < 0) {
		out_stop();
		return rc;
	}
	return 0;
}

void out_stop(void)
{
	for (int i = 0; i < 2; i++) {
		struct q *q = &qs[i];

		if (q->watching && out_loop != NULL)
			loop_del(out_loop, q->fd);
		q->watching = false;
		if (q->saved_flags >= 0)
			(void)fcntl(q->fd, F_SETFL, q->saved_flags);
		q->saved_flags = -1;
		q->started = false;
		q_drop_all(q);
		free(q->buf);
		free(q->ends);
		q->buf = NULL;
		q->ends = NULL;
		q->cap = q->ends_cap = 0;
	}
	out_loop = NULL;
}

int out_round(const char *buf, size_t len)
{
	return out_lines(buf, len, true);
}

int out_lines(const char *buf, size_t len, bool round_end)
{
	struct q *q = &qs[0];

	if (q->gone)
		return -EPIPE;
	if (len == 0 && !round_end)
		return 0;
	if (!q->started) {
		if (write_direct(q->fd, buf, len) < 0) {
			q->gone = true;
			return -EPIPE;
		}
		return 0;
	}
	if (!round_end) {
		if (!q_reserve(q, len)) {
			q->dropped++;
			return -ENOBUFS;
		}
		q_append(q, buf, len);
		q_flush(q);
		return q->gone ? -EPIPE : 0;
	}
	if (q->n == q->ends_cap) {
		if (q->first > 0) {
			memmove(q->ends, q->ends + q->first,
			        (q->n - q->first) * sizeof(*q->ends));
			q->n -= q->first;
			q->first = 0;
		}
	}
	if (q->n == q->ends_cap) {
		size_t cap = q->ends_cap ? 2 * q->ends_cap : 8;
		uint64_t *ne = realloc(q->ends, cap * sizeof(*ne));
		if (ne == NULL) {
			q->dropped++;
			return -ENOBUFS;
		}
		q->ends = ne;
		q->ends_cap = cap;
	}
	if (!q_reserve(q, len)) {
		q->dropped++;
		return -ENOBUFS;
	}
	q_append(q, buf, len);
	q->ends[q->n++] = q->queued;
	q_flush(q);
	return q->gone ? -EPIPE : 0;
}

void out_log_line(const char *line, size_t len)
{
	struct q *q = &qs[1];
	char note[96];
	int nn = 0;

	if (q->gone || len == 0)
		return;
	if (!q->started) {
		(void)write_direct(q->fd, line, len);
		return;
	}
	if (q->unreported > 0) {
		nn = snprintf(note, sizeof(note),
		              "W! %llu diagnostics dropped: stderr was not "
		              "read\n",
		              (unsigned long long)q->unreported);
		if (nn < 0 || (size_t)nn >= sizeof(note))
			nn = 0;
	}
	if (!q_reserve(q, (size_t)nn + len)) {
		q->dropped++;
		q->unreported++;
		return;
	}
	if (nn > 0) {
		q_append(q, note, (size_t)nn);
		q->unreported = 0;
	}
	q_append(q, line, len);
	q_flush(q);
}

size_t out_stdout_queued(void)
{
	return qs[0].len - qs[0].head;
}

bool out_pending(void)
{
	return qs[0].head < qs[0].len || qs[1].head < qs[1].len;
}

bool out_stdout_gone(void)
{
	return qs[0].gone;
}

uint64_t out_rounds_dropped(void)
{
	return qs[0].dropped;
}

static uint64_t count_lines(const struct q *q)
{
	uint64_t n = 0;

	for (size_t i = q->head; i < q->len; i++)
		n += q->buf[i] == '\n';
	return n;
}

uint64_t out_finish(int64_t deadline_ns)
{
	struct q *o = &qs[0], *e = &qs[1];
	uint64_t rounds, lines, diags;

	for (;;) {
		q_flush(o);
		q_flush(e);
		if (!out_pending() || out_loop == NULL)
			break;
		int64_t left = deadline_ns - clock_mono_ns();
		if (left <= 0 || (!o->watching && !e->watching))
			break;
		loop_run_once(out_loop, left);
	}
	rounds = o->n - o->first;
	lines = count_lines(o);
	diags = count_lines(e) + e->unreported;
	o->dropped += rounds;
	q_drop_all(o);
	q_drop_all(e);
	if ((rounds > 0 || diags > 0) && !e->gone && !e->midline &&
	    e->started) {
		char msg[200];
		int n = snprintf(msg, sizeof(msg),
		                 "W! shutting down: %llu rounds (%llu lines) "
		                 "and %llu diagnostics not written: the reader "
		                 "did not take them within the deadline\n",
		                 (unsigned long long)rounds,
		                 (unsigned long long)lines,
		                 (unsigned long long)diags);
		if (n > 0 && (size_t)n < sizeof(msg) &&
		    write(e->fd, msg, (size_t)n) < 0) {
			/* one try: stderr cannot take it either */
		}
	}
	return rounds;
}
