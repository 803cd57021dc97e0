/*
 * transport: the table of transports; see include/transport.h. A new
 * transport is a file of its own (tr_NAME.c with its ops) and a row here.
 * A row whose ops are NULL is known by name but not built yet: conf rejects
 * it with a clear message.
 */
#include "transport.h"

#include <string.h>

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
