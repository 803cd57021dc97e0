/*
 * main: wires the modules together and owns the process: the command line,
 * the triggers (stdin lines, SIGHUP/SIGUSR1/SIGUSR2, the own timer), the
 * shutdown (stdin EOF, SIGTERM, SIGINT) and writing each round to stdout.
 * Only main exits: 0 ok, 1 a query failed (--once), 2 usage or config.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "lineproto.h"
#include "log.h"
#include "loop.h"
#include "out.h"
#include "probe.h"
#include "refresh.h"
#include "report.h"
#include "sandbox.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

#define EXIT_QUERY_FAILED 1
#define EXIT_USAGE 2
/* Telegraf waits 5 s after closing stdin; we promise to be gone in 1 s:
 * a round still running is cut off after ROUND_GRACE, what the readers of
 * stdout and stderr have not taken by OUTPUT_GRACE is dropped. */
#define ROUND_GRACE_NS (600 * NS_PER_MS)
#define OUTPUT_GRACE_NS (800 * NS_PER_MS)
#define MAX_ADHOC 256
/* stdin that epoll cannot watch (a regular file, /dev/null, /dev/zero) is
 * read STDIN_READS x 4 KiB at a time, every STDIN_PERIOD: a file of lines
 * is read in a few turns, an endless one costs no CPU to speak of. */
#define STDIN_PERIOD_NS (10 * NS_PER_MS)
#define STDIN_READS 16

struct app {
	const struct conf *conf;
	struct refresh *refresh; /* resolve_interval; NULL: none */
	struct loop *loop;
	struct probe *probe;
	struct lineproto out;
	bool text;
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
};

static void usage(FILE *f)
{
	fputs(
	    "usage: anycast-probe [-c FILE] [--once] [--format influx|text] "
	    "[--check-config]\n"
	    "       anycast-probe [--once] -s ADDR[#PORT] [-s ...] "
	    "[-q 'NAME [TYPE [CLASS]]' ...] [-t udp|tcp]\n"
	    "\n"
	    "  -c, --config FILE   INI config (default " CONF_DEFAULT_PATH ")\n"
	    "  -s, --server ADDR[#PORT]\n"
	    "                      ad-hoc target (repeatable; also [IPV6]:PORT)\n"
	    "  -q, --query Q       ad-hoc query, default '. SOA IN' (repeatable)\n"
	    "  -t, --transport T   ad-hoc transport, udp (default) or tcp;\n"
	    "                      repeat it, or 'udp tcp', for both\n"
	    "      --once          run one round, print it, exit (0 every query\n"
	    "                      got a DNS response, whatever its rcode; 1\n"
	    "                      some got none: timeout, network error)\n"
	    "      --format F      influx (line protocol, default) or text\n"
	    "      --check-config  validate, print the effective config, exit\n"
	    "  -v, --verbose       debug lines (D!) on stderr\n"
	    "      --no-sandbox    run without the seccomp filter (debugging)\n"
	    "      --sandbox-debug a call the filter forbids is named on\n"
	    "                      stderr (exit 70) instead of killing\n"
	    "  -h, --help          this text\n"
	    "  -V, --version       version\n"
	    "\n"
	    "Without --once a round runs per line on stdin, per SIGHUP/SIGUSR1/\n"
	    "SIGUSR2 and per `interval`; stdin EOF or SIGTERM ends it (Telegraf\n"
	    "inputs.execd). Example configs: conf/ in the source tree, or\n"
	    "share/doc/anycast-probe/ where installed.\n",
	    f);
}

/* Hand the round in app->out to the output queue, whole. Returns false
 * when stdout is gone. */
static bool queue_round(struct app *app)
{
	int rc = out_round(app->out.data, app->out.len);

	if (rc == -ENOBUFS)
		log_msg(LOG_WARN,
		        "round %llu dropped whole (%llu rounds so far): "
		        "stdout is not read fast enough",
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

/* Print the finished round; returns false when stdout is gone. */
static bool emit_round(struct app *app)
{
	size_t n;
	const struct result *res = probe_results(app->probe, &n);
	const struct probe_stats *st = probe_stats(app->probe);

	lineproto_reset(&app->out);
	if (app->text) {
		report_text(&app->out, res, n);
	} else {
		for (size_t i = 0; i < n; i++)
			report_line(&app->out, app->conf, &res[i]);
		if (app->conf->self_metrics)
			report_self(&app->out, app->conf, st,
			            st->start_wall_ns);
	}
	if (app->out.error) {
		log_msg(LOG_ERROR, "out of memory writing round %llu",
		        (unsigned long long)app->rounds);
		return true;
	}
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
	return queue_round(app);
}

static void start_round(struct app *app)
{
	app->pending = false;
	app->rounds++;
	/* Host names looked up again meanwhile: a new plan, between rounds. */
	if (refresh_apply(app->refresh) && probe_rebuild(app->probe) < 0)
		log_msg(LOG_WARN, "cannot rebuild the job list: out of memory");
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
	if (loop_add(app->loop, STDIN_FILENO, EPOLLIN, &app->stdin_h) < 0) {
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
	int rc = sandbox_enter(app->sandbox,
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
	uint64_t printed = 0;
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
	log_msg(LOG_INFO,
	        "anycast-probe " VERSION " ready: %zu queries a round, "
	        "waiting for triggers",
	        probe_round_size(app->probe));
	for (;;) {
		int64_t wait = -1;

		if (probe_rounds_done(app->probe) != printed) {
			printed = probe_rounds_done(app->probe);
			report_coalesced(app);
			if (!emit_round(app))
				break;
		}
		if (out_stdout_gone())
			break;
		if (app->quit) {
			/* A round asked for before the end (the lines of a
			 * file on stdin) still runs, within the deadline. */
			if (app->pending && !probe_round_running(app->probe) &&
			    app->quit_deadline_ns - clock_mono_ns() > 0) {
				start_round(app);
				continue;
			}
			if (!probe_round_running(app->probe))
				break;
			wait = app->quit_deadline_ns - clock_mono_ns();
			if (wait <= 0) {
				size_t lost = probe_round_abort(app->probe);

				log_msg(LOG_WARN,
				        "shutting down: %zu queries "
				        "still in flight were dropped",
				        lost);
				continue; /* print what the round has */
			}
		} else if (app->pending && !probe_round_running(app->probe)) {
			start_round(app);
			continue; /* it may have ended at once */
		}
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
	if (!emit_round(app))
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
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"once", no_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"server", required_argument, NULL, 's'},
	    {"query", required_argument, NULL, 'q'},
	    {"transport", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"no-sandbox", no_argument, NULL, 'S'},
	    {"sandbox-debug", no_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const char *servers[MAX_ADHOC], *queries[MAX_ADHOC];
	char transports[64] = "";
	struct conf_adhoc adhoc = {.servers = servers, .queries = queries};
	const char *path = NULL;
	bool once = false, check = false;
	struct app app = {.sigfd = -1, .sandbox = SANDBOX_KILL};
	struct conf *conf = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:s:q:t:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'f':
			if (strcmp(optarg, "text") == 0) {
				app.text = true;
			} else if (strcmp(optarg, "influx") != 0) {
				fprintf(stderr,
				        "anycast-probe: --format takes "
				        "influx or text, not '%s'\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'k':
			check = true;
			break;
		case 's':
		case 'q':
			if ((c == 's' ? adhoc.n_servers : adhoc.n_queries) >=
			    MAX_ADHOC) {
				fprintf(stderr,
				        "anycast-probe: at most %d -%c\n",
				        MAX_ADHOC, c);
				return EXIT_USAGE;
			}
			if (c == 's')
				servers[adhoc.n_servers++] = optarg;
			else
				queries[adhoc.n_queries++] = optarg;
			break;
		case 't': { /* repeatable: -t udp -t tcp is both */
			size_t used = strlen(transports);
			int n = snprintf(transports + used,
			                 sizeof(transports) - used, "%s%s",
			                 used ? " " : "", optarg);

			if (n < 0 || (size_t)n >= sizeof(transports) - used) {
				fprintf(stderr, "anycast-probe: too many -t\n");
				return EXIT_USAGE;
			}
			adhoc.transport = transports;
			break;
		}
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'S':
			app.sandbox = SANDBOX_OFF;
			break;
		case 'D':
			if (app.sandbox != SANDBOX_OFF)
				app.sandbox = SANDBOX_TRAP;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("anycast-probe " VERSION "\n");
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "anycast-probe: unexpected argument '%s'\n",
		        argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (adhoc.n_servers > 0) {
		if (path != NULL) {
			fprintf(stderr, "anycast-probe: -c and -s do not mix: "
			                "use one or the other\n");
			return EXIT_USAGE;
		}
		rc = conf_adhoc(&conf, &adhoc, stderr);
	} else if (adhoc.n_queries > 0 || adhoc.transport != NULL) {
		fprintf(stderr, "anycast-probe: -q and -t need -s\n");
		return EXIT_USAGE;
	} else {
		if (path == NULL && access(CONF_DEFAULT_PATH, F_OK) != 0) {
			fprintf(
			    stderr,
			    "anycast-probe: no config: %s does not exist "
			    "and no -c or -s was given.\n"
			    "Start from conf/anycast-probe.conf (the example "
			    "config in the source tree, or share/doc/"
			    "anycast-probe/ where installed), or try "
			    "-s ADDR for an ad-hoc probe.\n",
			    CONF_DEFAULT_PATH);
			return EXIT_USAGE;
		}
		rc = conf_load(&conf, path ? path : CONF_DEFAULT_PATH, stderr);
	}
	if (rc < 0)
		return EXIT_USAGE;
	if (check) {
		conf_print(conf, stdout);
		conf_free(conf);
		return fflush(stdout) == 0 ? 0 : 1;
	}

	signal(SIGPIPE, SIG_IGN);
	app.conf = conf;
	lineproto_init(&app.out);
	if ((rc = loop_new(&app.loop)) < 0 ||
	    (rc = probe_new(&app.probe, conf, app.loop)) < 0 ||
	    (rc = refresh_new(&app.refresh, conf, app.loop)) < 0) {
		log_msg(LOG_ERROR, "cannot start: %s", strerror(-rc));
		rc = 1;
	} else {
		rc = once ? run_once(&app) : run_service(&app);
	}
	refresh_free(app.refresh);
	probe_free(app.probe);
	if (app.sigfd >= 0)
		close(app.sigfd);
	loop_free(app.loop);
	lineproto_clear(&app.out);
	conf_free(conf);
	return rc;
}
