/*
 * main: wires the modules together and owns the process: the command line
 * (parsed by cli), the continuous mode's rounds and summary, the triggers
 * (stdin lines, SIGHUP/SIGUSR1/SIGUSR2, the own timer), the shutdown (stdin
 * EOF, SIGTERM, SIGINT) and writing each round to stdout. Only main exits: 0
 * ok, 1 a query failed (--once), 2 usage or config.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "conf.h"
#include "dnssec.h"
#include "lineproto.h"
#include "log.h"
#include "loop.h"
#include "out.h"
#include "probe.h"
#include "refresh.h"
#include "report.h"
#include "zone.h"
#include "sandbox.h"
#include "summary.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

#define EXIT_QUERY_FAILED CLI_EXIT_QUERY_FAILED
#define EXIT_USAGE CLI_EXIT_USAGE
/* Telegraf waits 5 s after closing stdin; we promise to be gone in 1 s:
 * a round still running is cut off after ROUND_GRACE, what the readers of
 * stdout and stderr have not taken by OUTPUT_GRACE is dropped. */
#define ROUND_GRACE_NS (600 * NS_PER_MS)
#define OUTPUT_GRACE_NS (800 * NS_PER_MS)
/* stdin that epoll cannot watch (a regular file, /dev/null, /dev/zero) is
 * read STDIN_READS x 4 KiB at a time, every STDIN_PERIOD: a file of lines
 * is read in a few turns, an endless one costs no CPU to speak of. */
#define STDIN_PERIOD_NS (10 * NS_PER_MS)
#define STDIN_READS 16
/* Lines go to the output queue in chunks of this size, as rows become
 * final, while less than EMIT_HIGH bytes wait for the reader, at most
 * EMIT_SLICE rows a loop turn while queries are in flight; a round that
 * begins while more than OUT_BACKLOG of earlier ones is unread is dropped
 * whole. */
#define OUT_CHUNK (32 * 1024)
#define EMIT_HIGH (64u << 10)
#define EMIT_SLICE 256
#define OUT_BACKLOG (4u << 20)

struct app {
	const struct conf *conf;
	struct refresh *refresh; /* resolve_interval; NULL: none */
	struct loop *loop;
	struct probe *probe;
	struct lineproto out;
	struct report *rep;
	bool text;
	/* -i/--count: rounds on our own timer, a summary at the end */
	struct summary *summary;
	uint64_t count; /* stop after this many rounds; 0: never */
	bool failed;    /* some row of some round got no response */
	enum sandbox_mode sandbox;
	bool pending; /* a trigger arrived during a round */
	bool quit;    /* stdin EOF or SIGTERM/SIGINT */
	int64_t quit_ns;
	int64_t quit_deadline_ns;
	uint64_t coalesced; /* triggers during the running round */
	uint64_t rounds;
	struct loop_handler stdin_h;
	struct loop_handler sig_h;
	struct loop_timer interval;
	struct loop_timer stdin_timer; /* stdin that cannot be polled */
	int sigfd;
	/* the lines of the last round started */
	bool emitting;       /* not all in the output queue yet */
	bool emit_drop;      /* dropped whole: the backlog when it began */
	size_t emit_backlog; /* that backlog, bytes */
	size_t emitted;      /* rows formatted so far */
	bool round_said;     /* its D! line is out */
};

/* Hand the whole lines in app->out to the output queue and empty it.
 * Returns false when stdout is gone. */
static bool queue_round(struct app *app, bool round_end)
{
	int rc = out_lines(app->out.data, app->out.len, round_end);

	lineproto_reset(&app->out);
	if (rc == -ENOBUFS)
		log_msg(LOG_WARN,
		        "round %llu dropped (%llu so far): stdout is not read "
		        "fast enough",
		        (unsigned long long)app->rounds,
		        (unsigned long long)out_rounds_dropped());
	return rc != -EPIPE;
}

/* At most one line per round about the triggers it coalesced. */
static void report_coalesced(struct app *app)
{
	if (app->coalesced == 0)
		return;
	log_msg(LOG_WARN,
	        "%llu trigger%s during round %llu coalesced into one "
	        "pending round: rounds take longer than the trigger interval",
	        (unsigned long long)app->coalesced,
	        app->coalesced == 1 ? "" : "s",
	        (unsigned long long)app->rounds);
	app->coalesced = 0;
}

/* The continuous mode's part of a finished round: the summary's totals and
 * whether every query got a response (the exit code of --count). */
static void continuous_round(struct app *app, const struct result *res,
                             size_t n)
{
	if (!app->summary)
		return;
	if (summary_add(app->summary, res, n) < 0)
		log_msg(LOG_WARN, "out of memory: the summary misses rows");
	for (size_t i = 0; i < n; i++)
		if (!res[i].has_reply)
			app->failed = true;
}

/* --count N reached: the last round is printed, stop. */
static bool continuous_done(const struct app *app)
{
	return app->count > 0 && summary_rounds(app->summary) >= app->count &&
	       !probe_round_running(app->probe);
}

/* As soon as the round ends (its lines may still wait for the reader),
 * once: the W! about triggers it coalesced, its counters on stderr (-v). */
static void round_said(struct app *app)
{
	const struct probe_stats *st = probe_stats(app->probe);

	if (app->round_said)
		return;
	app->round_said = true;
	report_coalesced(app);
	log_msg(
	    LOG_DEBUG,
	    "round %llu: %llu rows, %llu sent, %llu answered, "
	    "%llu timeouts, %llu errors, %llu replies dropped (matched no "
	    "query), %llu UDP answers timed without kernel stamps, %.3f ms, "
	    "worst send lag %.3f ms",
	    (unsigned long long)app->rounds, (unsigned long long)st->queries,
	    (unsigned long long)st->sent, (unsigned long long)st->answered,
	    (unsigned long long)st->timeouts, (unsigned long long)st->errors,
	    (unsigned long long)st->dropped,
	    (unsigned long long)st->clock_fallbacks,
	    (double)st->duration_ns / NS_PER_MS,
	    (double)st->send_lag_ns / NS_PER_MS);
}

/* The round's end, once its rows are all in the queue: the summary's
 * totals, the self_metrics line (or the whole text table), and the round
 * marked whole. Returns false when stdout is gone. */
static bool emit_end(struct app *app)
{
	size_t n;
	const struct result *res = probe_results(app->probe, &n);
	const struct probe_stats *st = probe_stats(app->probe);

	app->emitting = false;
	continuous_round(app, res, n);
	if (app->emit_drop) {
		log_msg(LOG_WARN,
		        "round %llu dropped whole: %zu bytes of earlier "
		        "rounds were still unread when it began",
		        (unsigned long long)app->rounds, app->emit_backlog);
		lineproto_reset(&app->out);
		return !out_stdout_gone();
	}
	if (app->text)
		report_text(&app->out, res, n, st->start_wall_ns);
	else if (app->conf->self_metrics)
		report_self(&app->out, app->conf, st, st->start_wall_ns);
	if (app->out.error) {
		log_msg(LOG_ERROR, "out of memory writing round %llu",
		        (unsigned long long)app->rounds);
		lineproto_reset(&app->out);
	}
	return queue_round(app, true);
}

/* Rows of the running round that are final but not formatted yet, and
 * room for them: the main loop should not sleep. */
static bool emit_ready(struct app *app)
{
	size_t n;

	if (!app->emitting || app->text || app->emit_drop)
		return false;
	probe_results(app->probe, &n);
	return app->emitted < n && out_stdout_queued() < EMIT_HIGH;
}

/* Write the round's lines as its rows become final (probe_rows_ready),
 * while the round still runs: at most EMIT_SLICE rows a turn while queries
 * are in flight (sends and replies wait meanwhile), and only while less
 * than EMIT_HIGH bytes wait for the reader, so memory is that, not a
 * round, and a round's lines are out soon after its last answer. FORCE:
 * every final row now, whatever the reader does (a round is due, or the
 * end). Once the round is over and its rows are out, emit_end(). A text
 * table, and a round dropped whole, wait for the round's end. Returns false
 * when stdout is gone. */
static bool emit_some(struct app *app, bool force)
{
	size_t n, stop;
	const struct result *res;
	bool running;

	if (!app->emitting)
		return true;
	probe_rows_ready(app->probe);
	running = probe_round_running(app->probe);
	res = probe_results(app->probe, &n);
	if (!running)
		round_said(app);
	if (app->text || app->emit_drop)
		return running ? true : emit_end(app);
	stop = n;
	if (!force && running && stop - app->emitted > EMIT_SLICE)
		stop = app->emitted + EMIT_SLICE;
	if (!force && out_stdout_queued() >= EMIT_HIGH)
		return true; /* the reader's turn */
	while (app->emitted < stop) {
		report_line(app->rep, &app->out, &res[app->emitted++]);
		/* Whole lines in chunks: memory stays a chunk. */
		if (app->out.len < OUT_CHUNK || app->out.error)
			continue;
		if (!queue_round(app, false))
			return false;
		if (!force && out_stdout_queued() >= EMIT_HIGH)
			return true;
	}
	if (!running && app->emitted == n)
		return emit_end(app);
	/* The rows final so far go to the reader now, not at the next
	 * chunk: the rest of the round may be seconds away. */
	if (app->out.len > 0 && !app->out.error && !queue_round(app, false))
		return false;
	return true;
}

static void start_round(struct app *app)
{
	app->pending = false;
	app->rounds++;
	/* A reader that has not taken the earlier rounds gets none of this
	 * one: rounds are dropped whole, not cut. */
	lineproto_reset(&app->out);
	app->emitting = true;
	app->round_said = false;
	app->emitted = 0;
	app->emit_backlog = out_stdout_queued();
	app->emit_drop = !app->text && app->emit_backlog > OUT_BACKLOG;
	/* Host names looked up again meanwhile: a new plan, between rounds. */
	if (refresh_apply(app->refresh)) {
		if (probe_rebuild(app->probe) < 0)
			log_msg(LOG_WARN,
			        "cannot rebuild the job list: out of memory");
		report_rebuilt(app->rep);
	}
	probe_round_start(app->probe);
}

/* Triggers only ask for a round; the main loop starts it once the last
 * round is written out, so no round is ever started over an unprinted one. */
static void trigger(struct app *app, const char *why)
{
	if (app->quit)
		return;
	/* Overload is said, not hidden, but once per round (a signal storm
	 * must not flood the log): report_coalesced() at the round's end. */
	if (probe_round_running(app->probe))
		app->coalesced++;
	else
		log_msg(LOG_DEBUG, "%s: round requested", why);
	app->pending = true;
}

static void begin_quit(struct app *app)
{
	if (app->quit)
		return;
	app->quit = true;
	app->quit_ns = clock_mono_ns();
	app->quit_deadline_ns = app->quit_ns + ROUND_GRACE_NS;
}

/* Read stdin once. A line is a '\n'; any number of lines read at once is
 * one trigger; NUL and other bytes are not lines (`< /dev/zero` never
 * triggers a round). Returns false at EOF or on a read error (then stdin
 * is done with and the probe quits). */
static bool stdin_read(struct app *app)
{
	char buf[4096];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		begin_quit(app);
		return false;
	}
	if (memchr(buf, '\n', (size_t)n) != NULL)
		trigger(app, "stdin line");
	return true;
}

static void on_stdin(struct loop_handler *h, uint32_t events)
{
	struct app *app =
	    (struct app *)((char *)h - offsetof(struct app, stdin_h));

	(void)events;
	if (!stdin_read(app))
		loop_del(app->loop, STDIN_FILENO);
}

/* stdin that epoll refuses is always "ready": read a bounded amount per
 * tick instead of spinning on it. */
static void on_stdin_tick(struct loop_timer *t)
{
	struct app *app =
	    (struct app *)((char *)t - offsetof(struct app, stdin_timer));

	for (int i = 0; i < STDIN_READS; i++)
		if (!stdin_read(app))
			return;
	loop_timer_set(app->loop, t, clock_mono_ns() + STDIN_PERIOD_NS);
}

static void on_signal(struct loop_handler *h, uint32_t events)
{
	struct app *app =
	    (struct app *)((char *)h - offsetof(struct app, sig_h));
	struct signalfd_siginfo si;

	(void)events;
	while (read(app->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_quit(app);
			break;
		default:
			trigger(app, "signal");
			break;
		}
	}
}

static void on_interval(struct loop_timer *t)
{
	struct app *app =
	    (struct app *)((char *)t - offsetof(struct app, interval));
	int64_t next = t->when_ns + app->conf->interval_ns;
	int64_t now = clock_mono_ns();

	/* Keep to the grid; after a stall skip the missed ticks. */
	if (next - now <= 0)
		next = now + app->conf->interval_ns;
	loop_timer_set(app->loop, t, next);
	trigger(app, "interval tick");
}

static int setup_triggers(struct app *app)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	app->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (app->sigfd < 0)
		return -errno;
	app->sig_h.fn = on_signal;
	if (loop_add(app->loop, app->sigfd, EPOLLIN, &app->sig_h) < 0)
		return -errno;

	app->stdin_h.fn = on_stdin;
	if (app->summary) {
		/* By hand (-i): stdin is the terminal's, not a trigger, and
		 * its end ends nothing; the first round starts now. */
		app->pending = true;
	} else if (loop_add(app->loop, STDIN_FILENO, EPOLLIN, &app->stdin_h) <
	           0) {
		if (errno == EPERM) {
			/* A regular file, /dev/null, /dev/zero: not
			 * pollable. Read now and then on a timer. */
			app->stdin_timer.fn = on_stdin_tick;
			on_stdin_tick(&app->stdin_timer);
		} else {
			log_msg(LOG_INFO, "no stdin: triggers are signals and "
			                  "the interval only");
		}
	}
	if (app->conf->interval_ns > 0) {
		app->interval.fn = on_interval;
		loop_timer_set(app->loop, &app->interval,
		               clock_mono_ns() + app->conf->interval_ns);
	}
	return 0;
}

/* The end: what the readers of stdout and stderr have not taken by the
 * output deadline is dropped (rounds whole), so that the process is gone
 * within 1 s of stdin EOF or SIGTERM whatever the readers do. */
static void finish_output(struct app *app)
{
	int64_t start = app->quit ? app->quit_ns : clock_mono_ns();

	if (out_stdout_gone())
		log_msg(LOG_INFO, "stdout closed: exiting");
	out_finish(start + OUTPUT_GRACE_NS);
	out_stop();
}

/* Everything is set up: seal the process (sandbox.h). Returns false when
 * the filter could not be loaded. */
static bool seal(struct app *app)
{
	int rc;

	/* Time zone data is read on first use (the text table's time, a
	 * certificate's dates): read it now, while files may be opened. */
	tzset();
	rc = sandbox_enter(app->sandbox,
	                   app->refresh != NULL ? SANDBOX_RESOLVER : 0);

	if (rc < 0) {
		log_msg(LOG_ERROR,
		        "cannot enter the seccomp sandbox: %s (--no-sandbox "
		        "runs without it)",
		        strerror(-rc));
		return false;
	}
	sandbox_test_hook();
	return true;
}

/* The long-running mode: returns the exit code. Each turn: print every
 * round that finished (seen by the probe's round counter, so a round that
 * starts and ends within one turn is printed too), start a requested one,
 * wait for the loop. */
static int run_service(struct app *app)
{
	int rc;

	if ((rc = out_start(app->loop)) < 0)
		log_msg(LOG_WARN, "stdout/stderr stay blocking: %s",
		        strerror(-rc));
	if (setup_triggers(app) < 0) {
		log_msg(LOG_ERROR, "cannot set up signals: %s",
		        strerror(errno));
		return 1;
	}
	if (!seal(app)) {
		finish_output(app);
		return 1;
	}
	if (app->summary)
		log_msg(LOG_INFO,
		        "anycast-probe " VERSION ": %zu queries a round, "
		        "a round every %.3f s%s",
		        probe_round_size(app->probe),
		        (double)app->conf->interval_ns / NS_PER_SEC,
		        app->count ? "" : "; Ctrl-C ends it");
	else
		log_msg(LOG_INFO,
		        "anycast-probe " VERSION " ready: %zu queries a round, "
		        "waiting for triggers",
		        probe_round_size(app->probe));
	for (;;) {
		int64_t wait = -1;
		bool idle;

		/* A round that is due, or the end, takes the last one's lines
		 * whatever the reader does (then rounds are dropped whole). */
		if (!emit_some(app, app->quit || (app->pending &&
		                                  !probe_round_running(
		                                      app->probe))))
			break;
		if (out_stdout_gone())
			break;
		idle = !probe_round_running(app->probe) && !app->emitting;
		if (app->summary && idle && continuous_done(app)) {
			finish_output(app);
			return app->failed ? EXIT_QUERY_FAILED : 0;
		}
		if (app->summary && app->quit)
			app->pending = false; /* Ctrl-C: no round after it */
		if (app->quit) {
			/* A round asked for before the end (the lines of a
			 * file on stdin) still runs, within the deadline. */
			if (app->pending && idle &&
			    app->quit_deadline_ns - clock_mono_ns() > 0) {
				start_round(app);
				continue;
			}
			if (idle)
				break;
			wait = app->quit_deadline_ns - clock_mono_ns();
			if (wait <= 0 && probe_round_running(app->probe)) {
				size_t lost = probe_round_abort(app->probe);

				log_msg(LOG_WARN,
				        "shutting down: %zu queries "
				        "still in flight were dropped",
				        lost);
				continue; /* print what the round has */
			}
			if (wait < 0)
				wait = 0;
		} else if (app->pending && idle) {
			start_round(app);
			continue; /* it may have ended at once */
		}
		if (emit_ready(app))
			wait = 0;
		loop_run_once(app->loop, wait);
	}
	finish_output(app);
	return 0;
}

static int run_once(struct app *app)
{
	size_t n;
	const struct result *res;
	int rc = 0;

	if (!seal(app))
		return 1;
	start_round(app);
	while (probe_round_running(app->probe))
		loop_run_once(app->loop, -1);
	/* Blocking writes here: the lines go out after the round. */
	if (!emit_some(app, true))
		return 1;
	res = probe_results(app->probe, &n);
	for (size_t i = 0; i < n; i++)
		if (!res[i].has_reply)
			rc = EXIT_QUERY_FAILED;
	return rc;
}

/* Telegraf's first Gather (a signal in the SIGHUP/SIGUSR1/SIGUSR2 modes)
 * comes right after it starts us: a trigger signal before the signalfd is
 * set up must stay pending (it is read then), not end the process by its
 * default action. A constructor runs before main, as early as we can. */
__attribute__((constructor)) static void hold_triggers(void)
{
	sigset_t triggers;

	sigemptyset(&triggers);
	sigaddset(&triggers, SIGHUP);
	sigaddset(&triggers, SIGUSR1);
	sigaddset(&triggers, SIGUSR2);
	sigprocmask(SIG_BLOCK, &triggers, NULL);
}

int main(int argc, char **argv)
{
	struct cli cli;
	struct app app = {.sigfd = -1, .sandbox = SANDBOX_KILL};
	struct conf *conf = NULL;
	int rc;

	if ((rc = cli_parse(&cli, argc, argv, stdout, stderr)) >= 0)
		return rc;
	if (cli.verbose)
		log_set_level(LOG_DEBUG);
	if (cli.no_sandbox)
		app.sandbox = SANDBOX_OFF;
	else if (cli.sandbox_debug)
		app.sandbox = SANDBOX_TRAP;
	/* conf checks each trust_anchor file with dnssec's rules and reports a
	 * bad one at its trust_anchor line. */
	conf_trust_anchor_check = dnssec_anchor_check;
	if ((rc = cli_conf(&cli, &conf, stderr)) != 0)
		return rc;
	/* Trust anchors are part of the config: FILE:LINE errors, exit 2,
	 * before any output (--check-config included). */
	struct dnssec *dnssec = NULL;
	struct zone *zone = NULL;
	if (dnssec_new(&dnssec, conf, stderr) < 0 ||
	    zone_new(&zone, conf) < 0) {
		dnssec_free(dnssec);
		conf_free(conf);
		return EXIT_USAGE;
	}
	if (cli.check) {
		conf_print(conf, stdout);
		dnssec_free(dnssec);
		zone_free(zone);
		conf_free(conf);
		return fflush(stdout) == 0 ? 0 : 1;
	}

	signal(SIGPIPE, SIG_IGN);
	app.conf = conf;
	app.text = cli.text;
	app.count = cli.count;
	lineproto_init(&app.out);
	if ((rc = loop_new(&app.loop)) < 0 ||
	    (rc = probe_new(&app.probe, conf, app.loop)) < 0 ||
	    (rc = probe_add_pass(app.probe, dnssec_begin, dnssec_pass, dnssec)) < 0 ||
	    (rc = probe_add_pass(app.probe, NULL, zone_pass, zone)) < 0 ||
	    (rc = refresh_new(&app.refresh, conf, app.loop)) < 0 ||
	    (rc = report_new(&app.rep, conf)) < 0 ||
	    (cli.continuous && (rc = summary_new(&app.summary)) < 0)) {
		log_msg(LOG_ERROR, "cannot start: %s", strerror(-rc));
		rc = 1;
	} else {
		rc = cli.once ? run_once(&app) : run_service(&app);
		if (app.summary) {
			/* at the end of --count, and on Ctrl-C / SIGTERM */
			summary_print(app.summary, stderr);
			fflush(stderr);
		}
	}
	summary_free(app.summary);
	report_free(app.rep);
	refresh_free(app.refresh);
	probe_free(app.probe);
	dnssec_free(dnssec);
	zone_free(zone);
	if (app.sigfd >= 0)
		close(app.sigfd);
	loop_free(app.loop);
	lineproto_clear(&app.out);
	conf_free(conf);
	return rc;
}
