/*
 * conf: the probe's configuration. Reads the INI file through libinih (or
 * builds an ad-hoc config from the command line), checks every value once,
 * expands host names into addresses (looked up by resolve.c, conf does no
 * network I/O itself), and prints the effective configuration for
 * --check-config, which loads back as the same configuration.
 *
 * Errors are printed to the given stream as "FILE:LINE: message" ("FILE:
 * message" when tied to no line), up to 100 of them sorted by line, then
 * "... and N more errors"; a config with any error is rejected whole.
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

/* Bit masks. A target's `transports` has bit i for transport_table[i]
 * (transport.h); CONF_UDP and CONF_TCP are the first two rows' bits. */
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
	bool dnskey;   /* the ZONE DNSKEY query added for `trust_anchor` */
	/* Expected rcodes (`rcode=NXDOMAIN,NOERROR`): bit r for rcode r
	 * (0..31); default 1 (NOERROR). result=success when the rcode's bit
	 * is set. */
	uint32_t expect_rcodes;
	int line; /* config line, 0 when added or ad hoc */
};

/* A `server` line that names a host (its addresses are in servers[]). */
struct conf_host {
	char *name;
	uint16_t port; /* its own port (NAME#PORT), 0: the target's */
	int line;
};

/* One address to query. */
struct conf_server {
	struct sockaddr_storage addr; /* port filled in from the target */
	socklen_t addrlen;
	int family;         /* CONF_IPV4 or CONF_IPV6 */
	char addr_text[64]; /* "192.0.2.53", "2001:db8::53" (no brackets) */
	char *name;         /* host name it came from; NULL for a literal */
	uint16_t port;      /* `ADDR#PORT`/`[IPV6]:PORT`: for every transport of
	                     * the target; 0: the transport's port key */
	int line;           /* config line of its `server`, 0 ad hoc */
};

struct conf_target {
	char *name; /* [target NAME]; "adhoc" for -s mode */
	int line;   /* line of the section header, 0 for ad hoc */
	struct conf_server *servers;
	size_t n_servers;
	/* The host names among the server lines, in config order: what
	 * resolve_interval looks up again (conf_host_names(),
	 * conf_target_refresh()). */
	struct conf_host *hosts;
	size_t n_hosts;
	uint16_t port;
	unsigned transports; /* CONF_UDP | CONF_TCP */
	unsigned families; /* CONF_IPV4 | CONF_IPV6, for host name expansion */
	/* Configured queries first, then one CH TXT query per identity name
	 * (identity = true), in the order `identity` lists them. */
	struct conf_query *queries;
	size_t n_queries;
	struct conf_tag *tags; /* tag.* of this target */
	size_t n_tags;
	/* `identity` names of this target (its own or the [probe] list);
	 * the queries made of them are in queries[] with identity = true. */
	char **identity;
	size_t n_identity;
	/* Effective values: the [probe] value unless overridden here. */
	int64_t timeout_ns;
	unsigned retries;
	bool nsid;
	uint16_t edns_size;
	bool dnssec;                 /* DO bit on every query */
	bool cookies;                /* DNS COOKIE on every query */
	int64_t identity_timeout_ns; /* identity queries: per attempt cap */
	/* Version 2 per-target keys. */
	uint16_t ports[8]; /* per transport index (TR_MAX): `port` (udp and
	                    * tcp), `tls_port`, `https_port`; always filled:
	                    * the transport's default_port when not set */
	/* `source`: bind address per family; .ss_family 0 when unset. */
	struct sockaddr_storage source4, source6;
	int64_t resolve_interval_ns;   /* 0: host names looked up once */
	char *zone;                    /* presentation form; NULL: none */
	struct conf_server *reference; /* NULL: no reference */
	char *trust_anchor;            /* file path; NULL: none */
	char *tls_name;                /* NULL: server name or address */
	char *tls_ca;                  /* NULL: the system store */
	bool tls_verify;
	char *https_path; /* never NULL: "/dns-query" by default */
	bool https_get;   /* https_method = get */
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
	bool dnssec;
	bool cookies;
	int64_t identity_timeout_ns;
	/* instance_map: POSIX extended regex and replacement (\0..\9);
	 * NULL when unset. Compiled by whoever applies it. */
	char *instance_map_re;
	char *instance_map_repl;
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
	/* Version 2 (NULL / -1 / false: not given). */
	const char *timeout;  /* --timeout D */
	const char *retries;  /* --retries N */
	const char *port;     /* -p PORT */
	const char *source;   /* -b ADDR (repeatable as "A B") */
	int family;           /* -4: CONF_IPV4, -6: CONF_IPV6, 0: both */
	bool no_identity;     /* --no-identity */
	bool no_nsid;         /* --no-nsid */
	bool dnssec;          /* --dnssec */
	const char *interval; /* -i INTERVAL */
};

/* Parse and check PATH. On success *out owns a new conf and 0 is returned.
 * On any error the problems are printed to ERR as "PATH:LINE: message"
 * ("PATH: message" when not tied to a line, e.g. the file cannot be
 * opened), *out is NULL, and -EINVAL (or -ENOENT when the file does not
 * exist) is returned. Host names are looked up here (resolve_name(), per
 * `family`); `source` addresses are checked by a bind() (nothing sent). */
int conf_load(struct conf **out, const char *path, FILE *err);

/* Same for ad-hoc mode; errors are printed as "anycast-probe: message".
 * ADHOC's v2 fields follow the config keys' rules (interval 0 or >= 100ms,
 * source an address of this machine); -4/-6 with a literal server of the
 * other family is an error. */
int conf_adhoc(struct conf **out, const struct conf_adhoc *adhoc, FILE *err);

/* Keep only the targets named in NAMES[0..N) (--target NAME, repeatable),
 * in config order; N == 0 keeps all. A name that is no target is an error
 * printed to ERR as "FILE: no [target NAME]" (every unknown name), and
 * -EINVAL is returned with CONF unchanged. */
int conf_select(struct conf *conf, const char *const *names, size_t n,
                FILE *err);

/* Re-resolution (resolve_interval): the distinct host names of the
 * targets whose resolve_interval_ns > 0, for resolve_start(). *NAMES
 * points into CONF (valid while it lives and is not refreshed); the caller
 * frees the array. Returns 0 or -ENOMEM. */
int conf_host_names(const struct conf *conf, const char ***names, size_t *n);

struct resolve_host;
/* Rebuild T's servers from fresh look-ups HOSTS[0..N) (resolve_collect()
 * output): literal servers stay, first and in order; then for each host of
 * T, in config order, its new addresses of T's families with its port. A
 * host whose look-up failed, or that is not in HOSTS, keeps its addresses
 * (a resolver hiccup does not stop probing); one that now has no address
 * in the families has none. Equal addresses are kept once. *CHANGED says
 * whether the set of addresses differs. T->servers is a new array: pointers
 * into the old one (jobs) must be rebuilt. Returns 0, or -ENOMEM with T
 * unchanged. */
int conf_target_refresh(struct conf_target *t, const struct resolve_host *hosts,
                        size_t n, bool *changed);

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

/* True for a SPEC field name ("query_time_ms", "serial_lag", ...): a tag
 * of that name would make InfluxDB store a tag and a field of one name.
 * conf_tag_reserved() is true for these too. */
bool conf_field_name(const char *key);

/* Hook for the DNSSEC module: checks the content of a trust_anchor FILE
 * for ZONE (DS or DNSKEY records in zone-file format). Returns 0 when
 * usable, else -1 with a short reason in MSG (conf reports it at the
 * trust_anchor line). NULL (the default): conf checks only that the file
 * can be read. Set it before conf_load(). */
extern int (*conf_trust_anchor_check)(const char *path, const char *zone,
                                      char *msg, size_t msg_len);

void conf_free(struct conf *conf); /* NULL is fine */

/* The look-up conf_load() uses for host names: getaddrinfo() unless a test
 * or fuzzer that must never send a query sets its own. */
struct addrinfo;
extern int (*conf_resolver)(const char *node, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res);

#endif
