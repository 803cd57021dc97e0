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

struct result {
	const struct conf_target *target;
	const struct conf_server *server;
	const struct conf_query *query;
	unsigned transport; /* index in transport_table (transport.h) */
	enum result_kind kind;
	unsigned attempts;    /* 1 + retries used */
	int64_t timestamp_ns; /* CLOCK_REALTIME at send of the first attempt */
	int64_t rtt_ns;       /* answered attempt, send to receive; -1: none */
	int64_t connect_ns;   /* TCP handshake of the last attempt; -1: none */
	const char *error;    /* short cause when kind == RESULT_ERROR and no
	                       * rcode explains it ("connection refused");
	                       * NULL otherwise. Static storage. */
	/* A DNS response arrived: */
	bool has_reply;
	int rcode;
	bool aa, tc;
	unsigned answers;
	unsigned response_bytes;
	bool has_serial;
	uint32_t serial;
	int hop_limit;       /* -1: unknown (TCP rows, or no ancillary data) */
	const uint8_t *nsid; /* NULL: the reply had no NSID option */
	size_t nsid_len;
	const uint8_t
	    *identity; /* TXT answer of a CHAOS identity query; NULL */
	size_t identity_len;
	/* Filled in at the end of the round by the SPEC rule: */
	const uint8_t *instance; /* NULL: unknown */
	size_t instance_len;
	enum result_source instance_source;
	int instance_changed; /* -1: absent, 0 false, 1 true */
	/* Version 2. Each is absent from the row unless its has_/non-zero
	 * marker says otherwise. */
	const struct tr_conn_info *conn; /* stream transports: connect_ms,
	                                  * tls_*, cert_expires_in_s */
	int http_status;                 /* 0: absent */
	enum result_cookie cookie;
	bool reference; /* the reference server's SOA row: tag reference=true */
	enum result_dnssec dnssec;
	const char *dnssec_error; /* with RESULT_DNSSEC_BOGUS; static */
	bool has_rrsig_expiry;
	int64_t rrsig_expires_in_s;
	const char *dnskey_tags; /* DNSKEY row: "20326 38696"; NULL */
	/* The raw response, kept (in the round's arena) only for rows of
	 * targets with a trust_anchor, for the DNSSEC pass; NULL otherwise. */
	const uint8_t *wire;
	size_t wire_len;
	bool has_serial_lag;
	int64_t serial_lag;     /* RFC 1982 distance, reference - ours */
	int64_t serial_stale_s; /* with has_serial_lag */
};

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
