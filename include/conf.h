/*
 * conf: the probe's configuration. Reads the INI file through libinih (or
 * builds an ad-hoc config from -s/-q/-t), checks every value once, expands
 * host names into addresses, and prints the effective configuration for
 * --check-config. It owns no sockets and sends nothing but the system
 * resolver's look-ups of configured host names.
 *
 * Errors are printed to the given stream as "FILE:LINE: message", every one
 * of them (not only the first); a config with any error is rejected whole.
 */
#ifndef ANYCAST_PROBE_CONF_H
#define ANYCAST_PROBE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_DEFAULT_PATH "/etc/anycast-probe.conf"
#define CONF_DEFAULT_TIMEOUT_NS (2000LL * 1000 * 1000)
#define CONF_DEFAULT_RETRIES 1
#define CONF_DEFAULT_RATE 2000
#define CONF_DEFAULT_EDNS_SIZE 1232
#define CONF_DEFAULT_MEASUREMENT "dns_anycast"
#define CONF_DEFAULT_PORT 53

/* Bit masks. */
enum conf_transport { CONF_UDP = 1, CONF_TCP = 2 };
enum conf_family { CONF_IPV4 = 1, CONF_IPV6 = 2 };

struct conf_tag {
	char *key;
	char *value;
};

/* One question: name in presentation form ("example.se", "." for the root,
 * no trailing dot needed), numeric type and class. */
struct conf_query {
	char *name;
	uint16_t type;
	uint16_t class;
	bool identity; /* a CHAOS identity query added from `identity` */
};

/* One address to query. */
struct conf_server {
	struct sockaddr_storage addr; /* port filled in from the target */
	socklen_t addrlen;
	int family;         /* CONF_IPV4 or CONF_IPV6 */
	char addr_text[64]; /* "192.0.2.53", "2001:db8::53" (no brackets) */
	char *name;         /* host name it came from; NULL for a literal */
};

struct conf_target {
	char *name; /* [target NAME]; "adhoc" for -s mode */
	int line;   /* line of the section header, 0 for ad hoc */
	struct conf_server *servers;
	size_t n_servers;
	uint16_t port;
	unsigned transports; /* CONF_UDP | CONF_TCP */
	unsigned families; /* CONF_IPV4 | CONF_IPV6, for host name expansion */
	/* Configured queries first, then one CH TXT query per identity name
	 * (identity = true), in the order `identity` lists them. */
	struct conf_query *queries;
	size_t n_queries;
	struct conf_tag *tags; /* tag.* of this target */
	size_t n_tags;
	/* Effective values: the [probe] value unless overridden here. */
	int64_t timeout_ns;
	unsigned retries;
	bool nsid;
	uint16_t edns_size;
};

struct conf {
	char *path; /* file read, NULL for ad hoc */
	int64_t timeout_ns;
	unsigned retries;
	int64_t interval_ns; /* 0: only stdin/signal triggers */
	unsigned rate;       /* queries per second, > 0 */
	uint16_t edns_size;
	bool nsid;
	bool self_metrics; /* [probe] self_metrics = yes */
	char **identity;   /* [probe] identity names, e.g. "hostname.bind" */
	size_t n_identity;
	char *measurement;
	struct conf_tag *tags; /* [tags] */
	size_t n_tags;
	struct conf_target *targets;
	size_t n_targets;
};

/* Ad-hoc mode: what -s/-q/-t gave. */
struct conf_adhoc {
	const char *
	    *servers; /* "ADDR" or "ADDR#PORT" (IPv6 without brackets) */
	size_t n_servers;
	const char **queries; /* "NAME [TYPE [CLASS]]"; none: ". SOA IN" */
	size_t n_queries;
	const char *transport; /* "udp", "tcp", "udp tcp"; NULL: udp */
};

/* Parse and check PATH. On success *out owns a new conf and 0 is returned.
 * On any error every problem is printed to ERR as "PATH:LINE: message"
 * (LINE 0 when not tied to a line, e.g. the file cannot be opened),
 * *out is NULL, and -EINVAL (or -ENOENT when the file does not exist) is
 * returned. Host names are resolved here (getaddrinfo, per `family`). */
int conf_load(struct conf **out, const char *path, FILE *err);

/* Same for ad-hoc mode; errors are printed as "anycast-probe: message". */
int conf_adhoc(struct conf **out, const struct conf_adhoc *adhoc, FILE *err);

/* Print the effective configuration (every target, address, transport,
 * query and effective option) in a readable form. */
void conf_print(const struct conf *conf, FILE *out);

/* Helpers shared with other modules. */
/* "2s", "1500ms", "0", "250ms" -> ns; returns 0 or -EINVAL. Bare number = s. */
int conf_parse_duration(const char *text, int64_t *out_ns);
/* Type and class names are dnsmsg's (dnsmsg_parse_type() and friends). */

/* True for a tag key the output writes itself or InfluxDB reserves
 * ("time"; "_measurement", "_field", ... in InfluxDB 2): [tags] and tag.*
 * may not use it. The one list both conf and report check. */
bool conf_tag_reserved(const char *key);

void conf_free(struct conf *conf); /* NULL is fine */

/* The look-up conf_load() uses for host names: getaddrinfo() unless a test
 * or fuzzer that must never send a query sets its own. */
struct addrinfo;
extern int (*conf_resolver)(const char *node, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res);

#endif
