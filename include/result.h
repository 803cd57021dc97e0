/*
 * result: what one finished query says, the record that probe fills and
 * report turns into a line. Plain data, no functions.
 *
 * Strings that came from the network (nsid, identity, instance) are raw
 * bytes as received: pointers into the probe's per-round storage, valid
 * until the next round starts. Whoever prints them must sanitise them.
 */
#ifndef ANYCAST_PROBE_RESULT_H
#define ANYCAST_PROBE_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Values of the `result_code` field, as inputs.dns_query has them. */
enum result_kind { RESULT_SUCCESS = 0, RESULT_TIMEOUT = 1, RESULT_ERROR = 2 };

/* Where `instance` came from. */
enum result_source {
	SOURCE_NONE = 0,
	SOURCE_NSID,
	SOURCE_HOSTNAME_BIND,
	SOURCE_ID_SERVER
};

/* The `cookie` field. */
enum result_cookie {
	RESULT_COOKIE_ABSENT = 0, /* cookies off, or no reply */
	RESULT_COOKIE_OK,         /* our client cookie came back */
	RESULT_COOKIE_NONE        /* the server sent none */
};

/* The `dnssec` tag. */
enum result_dnssec {
	RESULT_DNSSEC_ABSENT = 0, /* no trust anchor */
	RESULT_DNSSEC_SECURE,
	RESULT_DNSSEC_BOGUS,
	RESULT_DNSSEC_INSECURE
};

struct tr_conn_info;

/* What the rows of one group share: a target's address over one transport
 * (or the target's reference server). Built once by the plan; rows point
 * at it, so a row carries no copy of it. */
struct result_key {
	const struct conf_target *target;
	const struct conf_server *server; /* the reference when reference */
	uint32_t index;    /* 0 .. number of keys - 1: for per-key caches */
	uint16_t port;     /* the port queried */
	uint8_t transport; /* index in transport_table (transport.h) */
	bool reference;    /* the target's reference server: tag
	                    * reference=true */
};

/* Details only some rows have (the connection of stream rows, DNSSEC,
 * zone freshness), in the round's arena; result.ext is NULL for datagram
 * rows of targets without dnssec, a trust anchor or a reference. Read the
 * connection with result_conn(). */
struct result_ext {
	/* Stream transports: connect_ms, tls_*, cert_expires_in_s; NULL. */
	const struct tr_conn_info *conn;
	const char *dnssec_error; /* with RESULT_DNSSEC_BOGUS; static */
	const char *dnskey_tags;  /* DNSKEY row: "20326 38696"; NULL */
	/* The raw response (trust-anchor targets only), for the DNSSEC pass. */
	const uint8_t *wire;
	uint32_t wire_len;
	int32_t rrsig_expires_in_s; /* with has_rrsig_expiry */
	int32_t serial_lag;         /* RFC 1982 distance, reference - ours */
	int32_t serial_stale_s;     /* with has_serial_lag */
	bool has_rrsig_expiry;
	bool has_serial_lag;
};

/* One row. About 100 bytes: the round's rows are the probe's largest
 * memory, so fields are as narrow as their values allow. */
struct result {
	const struct result_key *key;
	const struct conf_query *query;
	int64_t timestamp_ns; /* CLOCK_REALTIME at send of the first attempt */
	int64_t rtt_ns;       /* answered attempt, send to receive; -1: none */
	const uint8_t *nsid;  /* NULL: the reply had no NSID option */
	const uint8_t *identity; /* TXT answer of a CHAOS identity query */
	/* Filled in at the end of the round by the SPEC rule: */
	const uint8_t *instance; /* NULL: unknown */
	struct result_ext *ext;  /* NULL: none */
	uint32_t serial;
	/* The history of instance_changed, in the row itself: a hash of the
	 * instance this row's content (plan_row_hash) showed in an earlier
	 * round; 0: none yet. plan_rows_init() keeps it, identity reads and
	 * writes it, probe carries it over a rebuilt plan (identity_replan). */
	uint32_t inst_hist;
	uint16_t nsid_len;
	uint16_t identity_len;
	uint16_t instance_len;
	uint16_t rcode;
	uint16_t answers;
	uint16_t response_bytes;
	uint16_t http_status; /* 0: absent */
	int16_t hop_limit;    /* -1: unknown (stream rows, no ancillary data) */
	uint8_t kind;         /* enum result_kind */
	uint8_t attempts;     /* 1 + retries used */
	uint8_t instance_source; /* enum result_source */
	uint8_t cookie;          /* enum result_cookie */
	uint8_t dnssec;          /* enum result_dnssec */
	/* The `error` text: a short cause when kind == RESULT_ERROR and no
	 * rcode explains it ("connection refused"), as an index into the
	 * round's table of texts (result_error()); 0: none. One byte, not a
	 * pointer: rows are the probe's largest memory. */
	uint8_t error_id;
	int8_t instance_changed; /* -1: absent, 0 false, 1 true */
	bool has_reply : 1;      /* a DNS response arrived: */
	bool aa : 1;
	bool tc : 1;
	bool has_serial : 1;
};

/* The texts behind result.error_id: static, or storage that lives as long
 * as the round's rows. Filled by result_set_error(), emptied by
 * result_errors_reset() as a round starts (row.c). */
#define RESULT_ERRORS 256
extern const char *result_error_texts[RESULT_ERRORS];

/* R's `error` text; NULL: none. */
static inline const char *result_error(const struct result *r)
{
	return r->error_id ? result_error_texts[r->error_id] : NULL;
}

/* Set R's `error` text (NULL: none). The same text is stored once a round;
 * past 254 distinct texts in one round, the rest read "other error". */
void result_set_error(struct result *r, const char *text);
void result_errors_reset(void);

static inline const struct tr_conn_info *result_conn(const struct result *r)
{
	return r->ext ? r->ext->conn : NULL;
}

/* Counters of one round: what probe counts and the self_metrics line shows. */
struct probe_stats {
	uint64_t queries;  /* rows */
	uint64_t sent;     /* datagrams and connections, retries included */
	uint64_t answered; /* rows with a DNS response */
	uint64_t timeouts;
	uint64_t errors;  /* result=error rows */
	uint64_t dropped; /* replies that matched no query */
	uint64_t
	    clock_fallbacks; /* answers timed by our clock, not the kernel's */
	int64_t start_wall_ns; /* CLOCK_REALTIME at the round's start */
	int64_t duration_ns;   /* first send to last result */
	int64_t send_lag_ns;   /* worst lateness of a send against the pacing */
};

#endif
