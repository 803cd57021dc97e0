/*
 * libFuzzer target for the DNS over HTTPS response path of tr_https.c: any
 * bytes, as a hostile server might send them after the TLS handshake,
 * into the client's HTTP/2 session (nghttp2) with two streams open
 * (stream 1: example.test SOA IN, stream 3: hostname.bind TXT CH), through
 * tr_https.c's own callbacks: headers (:status, content-type), bodies,
 * resets, GOAWAY, and the DNS parse and question check at the end of a
 * stream. The seeds (tests/fuzz/corpus/doh, made by make-doh-seeds.py)
 * are whole server sides of such a connection, its SETTINGS first.
 *
 * Oracles: each query ends at most once; an ended query has either an
 * answer (err 0, a reply, wire inside the body buffer's size, a status of
 * 200) or an error text; what is left ends when the connection fails; the
 * transport's pending count is back to zero. ASan/UBSan do the rest.
 *
 * tr_https.c is included so that its static functions can be driven
 * without TLS; its ops table is renamed so as not to clash with the copy in
 * the library sources the fuzzer also links.
 */
#define tr_https_ops fuzz_tr_https_ops
#include "../../src/tr_https.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned ended[2];

static void on_done(void *sched, uint32_t job, const struct tr_done *d)
{
	(void)sched;
	if (job > 1 || ended[job]++ > 0)
		abort();
	if (d->err == 0) {
		if (d->reply == NULL || d->wire == NULL || d->wire_len == 0 ||
		    d->wire_len > DOH_BODY || d->http_status != 200 ||
		    d->error != NULL)
			abort();
	} else if (d->error == NULL || d->error[0] == '\0' || d->rtt_ns != -1) {
		abort();
	}
}

static void on_unblocked(void *sched, size_t transport)
{
	(void)sched;
	(void)transport;
}

static void on_dropped(void *sched, size_t transport)
{
	(void)sched;
	(void)transport;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dnsmsg_query q[2];
	static struct conf conf;
	static struct conf_target t;
	static struct conf_server s;
	static struct result_key key;
	static int ready;
	struct tr_env env = {.conf = &conf,
	                     .done = on_done,
	                     .unblocked = on_unblocked,
	                     .dropped = on_dropped,
	                     .index = 3};
	struct tr_slot slots[2] = {{0}};
	struct tr *tr;
	struct doh_conn *c;

	if (!ready) {
		struct sockaddr_in *a = (struct sockaddr_in *)&s.addr;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x7f000001);
		s.addrlen = sizeof(*a);
		snprintf(s.addr_text, sizeof(s.addr_text), "127.0.0.1");
		t.name = "fuzz";
		t.servers = &s;
		t.n_servers = 1;
		t.transports = 1u << 3;
		t.tls_verify = false;
		t.https_path = "/dns-query";
		conf.targets = &t;
		conf.n_targets = 1;
		key.target = &t;
		key.server = &s;
		key.port = 443;
		key.transport = 3;
		if (strcmp(transport_table[3].name, "https") != 0 ||
		    dnsmsg_query_build(&q[0], "example.test", DNSMSG_TYPE_SOA,
		                       DNSMSG_CLASS_IN, 1232, true,
		                       false) < 0 ||
		    dnsmsg_query_build(&q[1], "hostname.bind", DNSMSG_TYPE_TXT,
		                       DNSMSG_CLASS_CH, 1232, true, false) < 0)
			abort();
		ready = 1;
	}
	ended[0] = ended[1] = 0;
	/* No loop: nothing here connects (the connection stays TLS_IDLE, so
	 * pump() never writes; the session is made by hand). */
	if (doh_create(&tr, &env) < 0)
		abort();
	for (int i = 0; i < 2; i++) {
		struct tr_query tq = {.job = (uint32_t)i,
		                      .key = &key,
		                      .server = &s,
		                      .tmpl = &q[i],
		                      .slot = &slots[i]};
		struct doh_flight *f;

		c = conn_get(tr, &tq);
		if (c == NULL)
			abort();
		f = &c->fl[i];
		f->state = DOH_QUEUED;
		f->gen = 1;
		f->conn = c;
		f->job = (uint32_t)i;
		f->tmpl = &q[i];
		c->n_flight++;
		tr->pending++;
	}
	if (h2_start(c) < 0 || c->fl[0].stream != 1 || c->fl[1].stream != 3)
		abort();
	c->busy = true;
	nghttp2_session_send(c->h2); /* the frames go to the write buffer */
	c->tc.wlen = 0;
	nghttp2_session_mem_recv(c->h2, data, size);
	nghttp2_session_send(c->h2); /* WINDOW_UPDATE, RST_STREAM, ... */
	c->busy = false;
	/* Whatever is left fails with the connection. */
	h2_close(c);
	fail_all(c, -EPIPE, "connection closed");
	if (ended[0] != 1 || ended[1] != 1 || tr->pending != 0)
		abort();
	doh_destroy(tr);
	return 0;
}
