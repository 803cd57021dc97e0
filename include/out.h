/*
 * out: stdout and stderr, written from the event loop. Owns one queue per
 * stream; main hands it whole rounds (stdout) and log hands it whole
 * diagnostic lines (stderr). Nothing here blocks: once out_start() ran,
 * both descriptors are O_NONBLOCK and bytes that the reader does not take
 * wait in the queue until the loop says the descriptor is writable
 * (EPOLLOUT). The original descriptor flags are put back by out_stop().
 *
 * Lines are written whole. A write to a pipe of at most PIPE_BUF bytes is
 * atomic, so for pipes each write(2) is a run of whole lines of at most
 * PIPE_BUF bytes (a longer line is one write of its own); when the kernel
 * takes only part of a write (ttys, sockets, a line > PIPE_BUF), the rest
 * of that line is written before anything else. The reader never sees a
 * line cut by us, only at most one line cut short when the process ends
 * in the middle of it (which, for pipes, cannot happen for lines up to
 * PIPE_BUF bytes).
 *
 * Bounds: a round is queued whole or dropped whole (counted) when the
 * stdout queue would exceed OUT_STDOUT_MAX; a log line that does not fit
 * the stderr queue (OUT_STDERR_MAX) is dropped and counted, and the count
 * is said in a "W! N diagnostics dropped" line once there is room again.
 * At shutdown out_finish() writes until a deadline, then drops what is
 * left (a round not yet begun is dropped whole) and says so on stderr if
 * stderr can take one more line.
 *
 * Before out_start() (start-up, config errors) and after out_stop(), lines
 * are written directly with blocking writes, as a plain program would.
 */
#ifndef ANYCAST_PROBE_OUT_H
#define ANYCAST_PROBE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

#define OUT_STDOUT_MAX (64u << 20) /* bytes of rounds waiting for a reader */
#define OUT_STDERR_MAX (64u << 10) /* bytes of diagnostics waiting */

/* Make stdout and stderr non-blocking and write them from LOOP from now on.
 * Returns 0 or -errno (then nothing changed). */
int out_start(struct loop *loop);
/* Forget the loop, put the descriptor flags back; what is still queued is
 * dropped (call out_finish() first). Safe without out_start(). */
void out_stop(void);

/* Queue one finished round: LEN bytes of whole lines (ending in '\n').
 * Returns 0 (queued, perhaps partly written already), -ENOBUFS (the queue
 * is full: the round is dropped whole and counted) or -EPIPE (stdout is
 * gone: the caller should end the process). */
int out_round(const char *buf, size_t len);

/* The same for a part of a round (whole lines); ROUND_END says it is the
 * last part (LEN may be 0 then). A round's parts are counted as one round
 * when dropped at the deadline. */
int out_lines(const char *buf, size_t len, bool round_end);
/* Queue one diagnostic line for stderr (LEN bytes ending in '\n'). Never
 * blocks once started; a line that does not fit is dropped and counted. */
void out_log_line(const char *line, size_t len);

/* Bytes of stdout waiting for the reader. */
size_t out_stdout_queued(void);
/* True while either queue holds bytes. */
bool out_pending(void);
/* True once a write to stdout failed for good (EPIPE, EBADF, ...). */
bool out_stdout_gone(void);

/* Write what is queued, running the loop, until both queues are empty or
 * DEADLINE_NS (CLOCK_MONOTONIC) passes; then drop the rest and report the
 * count on stderr (one try, non-blocking). Returns the number of rounds
 * that were dropped (not written whole). */
uint64_t out_finish(int64_t deadline_ns);

/* Rounds dropped so far because the stdout queue was full or at the
 * deadline. */
uint64_t out_rounds_dropped(void);

#endif
