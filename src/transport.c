/*
 * transport: the table of transports; see include/transport.h. A new
 * transport is a file of its own (tr_NAME.c with its ops) and a row here.
 * A row whose ops are NULL is known by name but not built yet: conf rejects
 * it with a clear message.
 */
#include "transport.h"

#include <string.h>

#include "cookie.h"
#include "dnsmsg.h"
#include "result.h"

extern const struct tr_ops tr_udp_ops;
extern const struct tr_ops tr_tcp_ops;
extern const struct tr_ops tr_tls_ops;
extern const struct tr_ops tr_https_ops;

const struct transport transport_table[] = {
    {.name = "udp", .default_port = 53, .port_key = "port", .datagram = true,
     .ops = &tr_udp_ops},
    {.name = "tcp", .default_port = 53, .port_key = "port", .ops = &tr_tcp_ops},
    {.name = "tls", .default_port = 853, .port_key = "tls_port",
     .ops = &tr_tls_ops},
    {.name = "https", .default_port = 443, .port_key = "https_port",
     .ops = &tr_https_ops},
};

const size_t transport_count =
    sizeof(transport_table) / sizeof(transport_table[0]);

int transport_find(const char *name, size_t len)
{
	for (size_t i = 0; i < transport_count; i++)
		if (strlen(transport_table[i].name) == len &&
		    memcmp(transport_table[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

size_t tr_cookie_option(struct cookie_jar *jar, const struct dnsmsg_query *q,
                        const struct sockaddr_storage *to,
                        struct cookie_state **st, uint8_t *opt)
{
	*st = NULL;
	if (jar == NULL || !q->cookie)
		return 0;
	*st = cookie_get(jar, (const struct sockaddr *)to);
	return *st ? cookie_option(*st, opt) : 0;
}

bool tr_cookie_check(struct cookie_state *st, size_t sent_len,
                     const struct dnsmsg_reply *r, struct tr_done *d)
{
	/* 4 bytes of header and 8 of client cookie: no server cookie. */
	bool had_server = sent_len > 4 + DNSMSG_COOKIE_CLIENT;

	if (st == NULL)
		return true;
	switch (cookie_check(st, r)) {
	case COOKIE_SPOOF:
		return false;
	case COOKIE_NONE:
		d->cookie = RESULT_COOKIE_NONE;
		return true;
	case COOKIE_OK:
		break;
	}
	cookie_learn(st, r);
	d->cookie = RESULT_COOKIE_OK;
	/* BADCOOKIE (23) to a query without the server cookie: ask again
	 * with the one just learnt. */
	d->resend = r->rcode == 23 && !had_server && st->server_len > 0;
	return true;
}
