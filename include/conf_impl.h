/*
 * conf_impl: what the conf*.c files share and nobody else uses. conf.c has
 * the public API and the shared helpers (errors, memory, words, numbers);
 * conf_parse.c the line reader, inih's handler and [section] headers;
 * conf_keys.c the key table and applying a key; conf_values.c and
 * conf_addr.c the value parsers and printers; conf_check.c what needs the
 * whole file (effective values, servers, identity and DNSKEY queries,
 * cross-key rules); conf_print.c --check-config's output. Not a public
 * interface: other modules include conf.h only.
 */
#ifndef ANYCAST_PROBE_CONF_IMPL_H
#define ANYCAST_PROBE_CONF_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "conf.h"
#include "transport.h"

#define NS_PER_S NS_PER_SEC
#define CF_MAX_TIMEOUT_NS (3600 * NS_PER_S)
#define CF_MAX_INTERVAL_NS (86400 * NS_PER_S)
#define CF_MIN_INTERVAL_NS (100 * NS_PER_MS)
#define CF_DEFAULT_IDENTITY_TIMEOUT_NS (1 * NS_PER_S)
#define CF_MAX_RETRIES 10
#define CF_MAX_RATE 1000000
#define CF_MAX_LINE (64 * 1024)        /* bytes, without the newline */
#define CF_MAX_FILE (16 * 1024 * 1024) /* bytes */
#define CF_MAX_ERRORS 100              /* printed; the rest counted */
#define CF_MAX_TAG_VALUE 256           /* bytes */
#define CF_MAX_KEYS 64                 /* rows in the key table */
#define CF_DEFAULT_HTTPS_PATH "/dns-query"

enum cf_section { SEC_NONE, SEC_PROBE, SEC_TAGS, SEC_TARGET, SEC_BAD };

/* Where a key may appear. */
enum cf_scope { CF_PROBE = 1, CF_TARGET = 2, CF_BOTH = 3 };

/* How a key's value is parsed and printed. The plain kinds are handled
 * generically (range in min/max, the message's wording in want); CF_CUSTOM
 * rows bring their own functions. */
enum cf_kind {
	CF_DURATION, /* int64_t ns in [min, max], 0 too when zero_ok */
	CF_UINT,     /* unsigned in [min, max] */
	CF_U16,      /* uint16_t in [min, max], 0 too when zero_ok */
	CF_BOOL,     /* bool */
	CF_CUSTOM,
};

struct cf_parser;
struct cf_key;

typedef void cf_parse_fn(struct cf_parser *p, const struct cf_key *k,
                         const char *val, void *field);
typedef void cf_print_fn(FILE *out, const struct cf_key *k, const void *field);

/*
 * One config key. A key of scope CF_BOTH has a field in struct conf (the
 * [probe] value) and one in struct conf_target (the effective value); a
 * target that does not set it inherits the [probe] value when the file
 * ends (memcpy of size bytes, or inherit() for what owns memory). So a
 * per-target override is one row, and a new key is one row and its field.
 */
struct cf_key {
	const char *name;
	enum cf_scope scope;
	enum cf_kind kind;
	size_t probe_off;  /* offsetof(struct conf, ...) */
	size_t target_off; /* offsetof(struct conf_target, ...) */
	size_t size;       /* the field's size, for inheriting */
	long long min, max;
	bool zero_ok;     /* 0 is allowed besides [min, max] */
	bool repeat;      /* may be given more than once (server, query) */
	const char *want; /* "bad KEY 'VALUE': want <want>" */
	cf_parse_fn *parse;
	cf_print_fn *print; /* NULL: not printed by the generic printer */
	/* Copy the [probe] value into a target (CF_BOTH rows that own
	 * memory). NULL: memcpy. */
	void (*inherit)(struct cf_parser *p, void *dst, const void *src);
};

extern const struct cf_key cf_keys[];
extern const size_t cf_n_keys;

/* Index of KEY in cf_keys for SCOPE, or -1. */
int cf_key_find(const char *key, enum cf_scope scope);

/* A server line before host names are looked up. */
struct cf_server_line {
	char *text;    /* the host name or address, without port or brackets */
	uint16_t port; /* ADDR#PORT; 0: the target's */
	int line;
};

/* What a [target] said beyond struct conf_target: the line each key was
 * set on (0: not set; the first one for repeatable keys), the port keys
 * (per transport index) and the server lines still to be expanded. */
struct cf_target_state {
	int lines[CF_MAX_KEYS];
	int port_lines[TR_MAX];
	struct cf_server_line *servers;
	size_t n_servers;
	int *tag_lines; /* parallel to conf_target.tags */
};

/* An error message, kept to print the first ones sorted by line. */
struct cf_message {
	int line;
	char *text;
};

struct cf_parser {
	const char *path; /* NULL in ad-hoc mode */
	FILE *err;
	FILE *in;
	int errors;
	struct cf_message *msgs; /* at most CF_MAX_ERRORS, lowest lines */
	size_t n_msgs;
	size_t max_msg; /* index of the message with the highest line */
	bool oom;
	int lineno;
	size_t bytes;     /* read so far */
	char *buf;        /* the current physical line */
	const char *text; /* the current line, white space stripped */
	bool long_pending;
	bool stop; /* the file is over its size limit: read no more */
	enum cf_section sec;
	size_t target; /* index in conf->targets while sec == SEC_TARGET */
	struct conf *conf;
	struct cf_target_state *ts; /* parallel to conf->targets */
	size_t *names;    /* hash set of target names: index + 1, 0 empty */
	size_t names_cap; /* a power of two, at least twice the targets */
	int probe_lines[CF_MAX_KEYS];
};

/* conf.c: errors, memory, words, numbers. */
__attribute__((format(printf, 3, 4))) void cf_err(struct cf_parser *p, int line,
                                                  const char *fmt, ...);
void cf_flush(struct cf_parser *p);
void cf_nomem(struct cf_parser *p, int line);
char *cf_dup_n(struct cf_parser *p, const char *s, size_t n);
char *cf_dup(struct cf_parser *p, const char *s);
char *cf_dup_name(struct cf_parser *p, const char *name, size_t len);
int cf_grow(struct cf_parser *p, void **arr, size_t n, size_t size);
uint64_t cf_hash(const char *s, size_t len);
bool cf_streq(const char *a, const char *b);
bool cf_has_ctrl(const char *s);
bool cf_is_space(char c);
bool cf_next_word(const char **cur, const char **w, size_t *len);
bool cf_word_is(const char *w, size_t len, const char *lit);
int cf_parse_uint(const char *text, long long min, long long max,
                  long long *out);
int cf_parse_bool(const char *text, bool *out);
void cf_free_list(char **list, size_t n);
int cf_init(struct cf_parser *p, struct conf **out);
int cf_finish_conf(struct cf_parser *p, struct conf **out, int fail);
void cf_target_defaults(struct conf_target *t);

/* conf_parse.c */
char *cf_read_line(char *str, int num, void *stream);
int cf_handler(void *user, const char *section, const char *name,
               const char *value);
/* Apply one key to the [probe] section (TARGET NULL) or a target. */
void cf_set_key(struct cf_parser *p, const char *key, const char *val,
                struct conf_target *target);
/* Append KEY=VAL to *TAGS (checked; unless KEY is there already).
 * Returns its index or -1. */
long cf_add_tag(struct cf_parser *p, struct conf_tag **tags, size_t *n,
                const char *key, const char *val);
int cf_parse_query(struct cf_parser *p, int line, const char *text,
                   struct conf_query *q);
void cf_set_transports(struct cf_parser *p, const char *val, unsigned *out);
void cf_set_source(struct cf_parser *p, int line, const char *val,
                   struct conf_target *t);
/* ADDR, ADDR#PORT, [IPV6], [IPV6]:PORT, [IPV6]#PORT, IPV4:PORT -> the
 * address text (allocated) and port (0 when none). Returns 0 or -EINVAL
 * (reported on LINE). */
int cf_split_server(struct cf_parser *p, int line, const char *text,
                    char **host, uint16_t *port);

/* conf_values.c and conf_addr.c: the table's parsers and printers. */
cf_parse_fn cf_parse_plain, cf_parse_identity, cf_parse_transport,
    cf_parse_family, cf_parse_measurement, cf_parse_zone, cf_parse_file,
    cf_parse_tls_name, cf_parse_https_path, cf_parse_https_method,
    cf_parse_instance_map, cf_parse_server, cf_parse_source, cf_parse_reference,
    cf_parse_query_key;
cf_print_fn cf_print_plain, cf_print_string, cf_print_identity,
    cf_print_transport, cf_print_family, cf_print_https_method,
    cf_print_instance_map, cf_print_source, cf_print_reference;
void cf_inherit_identity(struct cf_parser *p, void *dst, const void *src);

/* conf_check.c */
void cf_check(struct cf_parser *p);
/* Add the servers of TEXT (an address or host name) to T. */
void cf_add_server(struct cf_parser *p, struct conf_target *t, const char *text,
                   int line, uint16_t port);
int cf_server_init(struct conf_server *s, const struct sockaddr_storage *sa,
                   uint16_t port);
void cf_add_identity(struct cf_parser *p, struct conf_target *t, char **names,
                     size_t n);
const char *cf_family_names(unsigned families);
bool cf_same_query(const struct conf_query *a, const struct conf_query *b);

/* conf_print.c */
void cf_print_duration(FILE *out, int64_t ns);

#endif
