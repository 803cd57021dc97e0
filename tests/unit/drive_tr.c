/*
 * drive_tr: drives one stream transport (tls or https) directly through its
 * ops, without the scheduler, the way probe will: a struct tr_env whose
 * callbacks record the results, the real loop, real sockets. The .t tests
 * (tests/integration/tr_tls.t) run it against BIND and the lying server
 * and check what it prints: one line per query and round,
 *   round=R q=I err=E error="..." rcode=N id=ID nsid="..." txt="..."
 *   serial=N rtt_ns=N connect_ns=N tls_handshake_ns=N tls_version=N
 *   tls_resumed=0|1 has_cert=0|1 cert_expires_s=N http_status=N
 * and a last line "dropped=N blocked=N pending=N".
 *
 * usage: drive_tr -t tls|https -s ADDR -p PORT [-n TLS_NAME] [-c CA_FILE]
 *        [-k] (tls_verify = no) [-g] (https_method = get) [-P PATH]
 *        [-r ROUNDS] [-x COPIES] [-T TIMEOUT_MS] QUERY...
 * QUERY is "NAME TYPE CLASS" (one argument); COPIES sends each query that
 * many times per round (pipelining). Exit 0 when it ran (whatever the
 * results), 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "dnsmsg.h"
#include "loop.h"
#include "result.h"
#include "transport.h"

struct job {
	struct tr_slot slot;
	int q;
	bool sent, done;
};

struct drv {
	struct job *jobs;
	size_t n_jobs, n_done, next;
	int round;
	unsigned long dropped, blocked, unblocked;
	bool can_send;
	struct dnsmsg_query *queries;
};

static void print_str(const char *key, const uint8_t *p, size_t n)
{
	printf(" %s=\"", key);
	for (size_t i = 0; i < n; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ? p[i]
		                                                   : '?');
	putchar('"');
}

static void on_done(void *sched, uint32_t job, const struct tr_done *d)
{
	struct drv *drv = sched;
	struct job *j = &drv->jobs[job];

	if (j->done) {
		printf("round=%d q=%u DOUBLE DONE\n", drv->round, job);
		return;
	}
	j->done = true;
	drv->n_done++;
	printf("round=%d q=%u err=%d error=\"%s\"", drv->round, job, d->err,
	       d->error ? d->error : "");
	if (d->reply != NULL) {
		printf(" rcode=%d id=%u", d->reply->rcode, d->reply->id);
		if (d->reply->has_nsid)
			print_str("nsid", d->reply->nsid, d->reply->nsid_len);
		if (d->reply->has_txt)
			print_str("txt", d->reply->txt, d->reply->txt_len);
		if (d->reply->has_serial)
			printf(" serial=%u", d->reply->serial);
		printf(" wire_len=%zu", d->wire_len);
	}
	printf(" rtt_ns=%lld", (long long)d->rtt_ns);
	if (d->conn != NULL)
		printf(" connect_ns=%lld tls_handshake_ns=%lld tls_version=%u "
		       "tls_resumed=%d has_cert=%d cert_expires_s=%lld",
		       (long long)d->conn->connect_ns,
		       (long long)d->conn->tls_handshake_ns,
		       d->conn->tls_version, d->conn->tls_resumed,
		       d->conn->has_cert, (long long)d->conn->cert_expires_s);
	printf(" http_status=%d\n", d->http_status);
}

static void on_unblocked(void *sched, size_t transport)
{
	struct drv *drv = sched;

	(void)transport;
	drv->unblocked++;
	drv->can_send = true;
}

static void on_dropped(void *sched, size_t transport)
{
	struct drv *drv = sched;

	(void)transport;
	drv->dropped++;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: drive_tr -t tls|https -s ADDR -p PORT [-n NAME] "
	        "[-c CA] [-k] [-g] [-P PATH] [-r ROUNDS] [-x COPIES] "
	        "[-T MS] QUERY...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct conf conf = {0};
	struct conf_target t = {0};
	struct conf_server s = {0};
	struct result_key key = {0};
	struct drv drv = {0};
	const char *tname = "tls", *addr = NULL;
	long port = 0, rounds = 1, copies = 1, timeout_ms = 2000;
	const struct transport *tp;
	struct loop *loop;
	struct tr *tr;
	struct tr_env env;
	size_t n_q;
	int idx, opt;

	t.tls_verify = true;
	t.https_path = "/dns-query";
	while ((opt = getopt(argc, argv, "t:s:p:n:c:kgP:r:x:T:")) != -1) {
		switch (opt) {
		case 't':
			tname = optarg;
			break;
		case 's':
			addr = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'n':
			t.tls_name = optarg;
			break;
		case 'c':
			t.tls_ca = optarg;
			break;
		case 'k':
			t.tls_verify = false;
			break;
		case 'g':
			t.https_get = true;
			break;
		case 'P':
			t.https_path = optarg;
			break;
		case 'r':
			rounds = strtol(optarg, NULL, 10);
			break;
		case 'x':
			copies = strtol(optarg, NULL, 10);
			break;
		case 'T':
			timeout_ms = strtol(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	idx = transport_find(tname, strlen(tname));
	if (addr == NULL || idx < 0 || optind >= argc || copies < 1 ||
	    transport_table[idx].ops == NULL)
		return usage();
	tp = &transport_table[idx];
	if (inet_pton(AF_INET, addr,
	              &((struct sockaddr_in *)&s.addr)->sin_addr) == 1) {
		s.addr.ss_family = AF_INET;
		s.addrlen = sizeof(struct sockaddr_in);
		s.family = CONF_IPV4;
	} else if (inet_pton(AF_INET6, addr,
	                     &((struct sockaddr_in6 *)&s.addr)->sin6_addr) ==
	           1) {
		s.addr.ss_family = AF_INET6;
		s.addrlen = sizeof(struct sockaddr_in6);
		s.family = CONF_IPV6;
	} else {
		return usage();
	}
	snprintf(s.addr_text, sizeof(s.addr_text), "%s", addr);
	t.name = "drive";
	t.servers = &s;
	t.n_servers = 1;
	t.transports = 1u << idx;
	t.ports[idx] = (uint16_t)port;
	conf.targets = &t;
	conf.n_targets = 1;
	key.target = &t;
	key.server = &s;
	key.port = (uint16_t)(port ? port : tp->default_port);
	key.transport = (uint8_t)idx;
	n_q = (size_t)(argc - optind);
	drv.queries = calloc(n_q, sizeof(*drv.queries));
	drv.n_jobs = n_q * (size_t)copies;
	drv.jobs = calloc(drv.n_jobs, sizeof(*drv.jobs));
	for (size_t i = 0; i < n_q; i++) {
		char name[256], type[16] = "SOA", class[16] = "IN";
		uint16_t ty, cl;

		if (sscanf(argv[optind + (int)i], "%255s %15s %15s", name, type,
		           class) < 1 ||
		    dnsmsg_parse_type(type, &ty) < 0 ||
		    dnsmsg_parse_class(class, &cl) < 0 ||
		    dnsmsg_query_build(&drv.queries[i], name, ty, cl, 1232,
		                       true, false) < 0)
			return usage();
	}
	if (loop_new(&loop) < 0)
		return 1;
	env = (struct tr_env){.conf = &conf,
	                      .loop = loop,
	                      .sched = &drv,
	                      .done = on_done,
	                      .unblocked = on_unblocked,
	                      .dropped = on_dropped,
	                      .index = (size_t)idx};
	if (tp->ops->create(&tr, &env) < 0) {
		fprintf(stderr, "drive_tr: create failed\n");
		return 1;
	}
	for (drv.round = 1; drv.round <= rounds; drv.round++) {
		int64_t deadline = clock_mono_ns() + timeout_ms * NS_PER_MS;

		if (drv.round > 1 && tp->ops->round_begin != NULL)
			tp->ops->round_begin(tr);
		drv.n_done = 0;
		drv.next = 0;
		for (size_t i = 0; i < drv.n_jobs; i++)
			drv.jobs[i] = (struct job){.q = (int)(i % n_q)};
		drv.can_send = true;
		while (drv.n_done < drv.n_jobs &&
		       clock_mono_ns() - deadline < 0) {
			while (drv.can_send && drv.next < drv.n_jobs) {
				struct job *j = &drv.jobs[drv.next];
				struct tr_query q = {.job = (uint32_t)drv.next,
				                     .key = &key,
				                     .server = &s,
				                     .tmpl = &drv.queries[j->q],
				                     .slot = &j->slot};
				enum tr_send_result res;

				memset(&j->slot, 0, sizeof(j->slot));
				tp->ops->send(tr, &q, 1, &res);
				if (res == TR_BLOCKED) {
					drv.blocked++;
					drv.can_send = false;
					break;
				}
				j->sent = true;
				drv.next++;
			}
			loop_run_once(loop, 10 * NS_PER_MS);
		}
		for (size_t i = 0; i < drv.n_jobs; i++) {
			struct job *j = &drv.jobs[i];

			if (j->sent && !j->done) {
				tp->ops->cancel(tr, (uint32_t)i, &j->slot);
				printf("round=%d q=%zu timeout\n", drv.round,
				       i);
			} else if (!j->sent) {
				printf("round=%d q=%zu unsent\n", drv.round, i);
			}
		}
		printf("round=%d pending=%zu\n", drv.round,
		       tp->ops->pending(tr));
	}
	printf("dropped=%lu blocked=%lu unblocked=%lu pending=%zu\n",
	       drv.dropped, drv.blocked, drv.unblocked, tp->ops->pending(tr));
	tp->ops->destroy(tr);
	loop_free(loop);
	for (size_t i = 0; i < n_q; i++)
		dnsmsg_query_clear(&drv.queries[i]);
	free(drv.queries);
	free(drv.jobs);
	return 0;
}
