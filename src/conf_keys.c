/*
 * conf_keys: the table of config keys (cf_keys: name, scope, kind,
 * offsets, parser, printer) and applying one KEY = VALUE to [probe] or a
 * target (cf_set_key): duplicate keys, tag.* keys, and the port keys that
 * come from the transport table (`port`, `tls_port`, `https_port`).
 * A new key is one row here and its field in conf.h; a per-target
 * override of a [probe] key is scope CF_BOTH.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_impl.h"
#include "dnsmsg.h"

/* ---- the table ------------------------------------------------------------
 */

/* Printers and parsers that take two adjacent fields. */
_Static_assert(offsetof(struct conf, n_identity) ==
                   offsetof(struct conf, identity) + sizeof(char **),
               "identity list");
_Static_assert(offsetof(struct conf_target, n_identity) ==
                   offsetof(struct conf_target, identity) + sizeof(char **),
               "identity list");
_Static_assert(offsetof(struct conf, instance_map_repl) ==
                   offsetof(struct conf, instance_map_re) + sizeof(char *),
               "instance_map");
_Static_assert(offsetof(struct conf_target, source6) ==
                   offsetof(struct conf_target, source4) +
                       sizeof(struct sockaddr_storage),
               "source");

#define P(f) offsetof(struct conf, f)
#define T(f) offsetof(struct conf_target, f)
#define SZ(f) sizeof(((struct conf *)0)->f)

/* Order: what --check-config prints, target keys first (see conf_print). */
const struct cf_key cf_keys[] = {
    {.name = "server",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .parse = cf_parse_server,
     .repeat = true},
    {.name = "transport",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(transports),
     .parse = cf_parse_transport,
     .print = cf_print_transport},
    {.name = "family",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(families),
     .parse = cf_parse_family,
     .print = cf_print_family},
    {.name = "query",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .parse = cf_parse_query_key,
     .repeat = true},
    {.name = "source",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(source4),
     .parse = cf_parse_source,
     .print = cf_print_source},
    {.name = "resolve_interval",
     .scope = CF_TARGET,
     .kind = CF_DURATION,
     .target_off = T(resolve_interval_ns),
     .min = NS_PER_S,
     .max = CF_MAX_INTERVAL_NS,
     .zero_ok = true,
     .want = "0 (look up once) or a duration like 1h, at least 1s and "
             "at most 1d"},
    {.name = "zone",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(zone),
     .parse = cf_parse_zone,
     .print = cf_print_string},
    {.name = "reference",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(reference),
     .parse = cf_parse_reference,
     .print = cf_print_reference},
    {.name = "trust_anchor",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(trust_anchor),
     .parse = cf_parse_file,
     .print = cf_print_string},
    {.name = "tls_name",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(tls_name),
     .parse = cf_parse_tls_name,
     .print = cf_print_string},
    {.name = "tls_ca",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(tls_ca),
     .parse = cf_parse_file,
     .print = cf_print_string},
    {.name = "tls_verify",
     .scope = CF_TARGET,
     .kind = CF_BOOL,
     .target_off = T(tls_verify),
     .want = "yes or no"},
    {.name = "https_path",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(https_path),
     .parse = cf_parse_https_path,
     .print = cf_print_string},
    {.name = "https_method",
     .scope = CF_TARGET,
     .kind = CF_CUSTOM,
     .target_off = T(https_get),
     .parse = cf_parse_https_method,
     .print = cf_print_https_method},
    /* [probe] keys; CF_BOTH ones may be overridden per target. */
    {.name = "timeout",
     .scope = CF_BOTH,
     .kind = CF_DURATION,
     .probe_off = P(timeout_ns),
     .target_off = T(timeout_ns),
     .size = SZ(timeout_ns),
     .min = 1,
     .max = CF_MAX_TIMEOUT_NS,
     .want = "a duration like 2s or 1500ms, more than 0 and at most 1h"},
    {.name = "retries",
     .scope = CF_BOTH,
     .kind = CF_UINT,
     .probe_off = P(retries),
     .target_off = T(retries),
     .size = SZ(retries),
     .min = 0,
     .max = CF_MAX_RETRIES,
     .want = "0..10"},
    {.name = "interval",
     .scope = CF_PROBE,
     .kind = CF_DURATION,
     .probe_off = P(interval_ns),
     .min = CF_MIN_INTERVAL_NS,
     .max = CF_MAX_INTERVAL_NS,
     .zero_ok = true,
     .want = "0 or a duration like 10s, at least 100ms and at most 1d"},
    {.name = "rate",
     .scope = CF_PROBE,
     .kind = CF_UINT,
     .probe_off = P(rate),
     .min = 1,
     .max = CF_MAX_RATE,
     .want = "1..1000000"},
    {.name = "nsid",
     .scope = CF_BOTH,
     .kind = CF_BOOL,
     .probe_off = P(nsid),
     .target_off = T(nsid),
     .size = SZ(nsid),
     .want = "yes or no"},
    {.name = "edns_size",
     .scope = CF_BOTH,
     .kind = CF_U16,
     .probe_off = P(edns_size),
     .target_off = T(edns_size),
     .size = SZ(edns_size),
     .min = 512,
     .max = 65535,
     .zero_ok = true,
     .want = "0 (no EDNS) or 512..65535"},
    {.name = "identity",
     .scope = CF_BOTH,
     .kind = CF_CUSTOM,
     .probe_off = P(identity),
     .target_off = T(identity),
     .parse = cf_parse_identity,
     .print = cf_print_identity,
     .inherit = cf_inherit_identity},
    {.name = "measurement",
     .scope = CF_PROBE,
     .kind = CF_CUSTOM,
     .probe_off = P(measurement),
     .parse = cf_parse_measurement,
     .print = cf_print_string},
    {.name = "self_metrics",
     .scope = CF_PROBE,
     .kind = CF_BOOL,
     .probe_off = P(self_metrics),
     .want = "yes or no"},
    {.name = "dnssec",
     .scope = CF_BOTH,
     .kind = CF_BOOL,
     .probe_off = P(dnssec),
     .target_off = T(dnssec),
     .size = SZ(dnssec),
     .want = "yes or no"},
    {.name = "cookies",
     .scope = CF_BOTH,
     .kind = CF_BOOL,
     .probe_off = P(cookies),
     .target_off = T(cookies),
     .size = SZ(cookies),
     .want = "yes or no"},
    {.name = "identity_timeout",
     .scope = CF_BOTH,
     .kind = CF_DURATION,
     .probe_off = P(identity_timeout_ns),
     .target_off = T(identity_timeout_ns),
     .size = SZ(identity_timeout_ns),
     .min = 1,
     .max = CF_MAX_TIMEOUT_NS,
     .want = "a duration like 1s or 500ms, more than 0 and at most 1h"},
    {.name = "instance_map",
     .scope = CF_PROBE,
     .kind = CF_CUSTOM,
     .probe_off = P(instance_map_re),
     .parse = cf_parse_instance_map,
     .print = cf_print_instance_map},
};

const size_t cf_n_keys = sizeof cf_keys / sizeof cf_keys[0];

_Static_assert(sizeof cf_keys / sizeof cf_keys[0] <= CF_MAX_KEYS,
               "raise CF_MAX_KEYS");

int cf_key_find(const char *key, enum cf_scope scope)
{
	for (size_t i = 0; i < cf_n_keys; i++)
		if ((cf_keys[i].scope & scope) &&
		    cf_streq(cf_keys[i].name, key))
			return (int)i;
	return -1;
}

/* Port keys come from the transport table: `port` sets every transport
 * whose port_key it is (udp and tcp), `tls_port` the tls row, ... */
static bool port_key(struct cf_parser *p, const char *key, const char *val,
                     struct conf_target *t)
{
	struct cf_target_state *ts = &p->ts[p->target];
	int first = -1;
	long long v;

	for (size_t i = 0; i < transport_count; i++) {
		if (!cf_streq(transport_table[i].port_key, key))
			continue;
		if (first < 0) {
			first = (int)i;
			if (ts->port_lines[i]) {
				cf_err(p, p->lineno,
				       "duplicate key '%s' (first set on line "
				       "%d)",
				       key, ts->port_lines[i]);
				return true;
			}
			ts->port_lines[i] = p->lineno;
			if (cf_parse_uint(val, 1, 65535, &v)) {
				cf_err(p, p->lineno,
				       "bad %s '%s': want 1..65535", key, val);
				return true;
			}
		}
		t->ports[i] = (uint16_t)v;
		if ((1u << i) & CONF_UDP)
			t->port = (uint16_t)v;
	}
	return first >= 0;
}

static bool tag_ok(struct cf_parser *p, const char *key, const char *val)
{
	if (!*key) {
		cf_err(p, p->lineno, "empty tag key");
		return false;
	}
	if (cf_has_ctrl(key)) {
		cf_err(p, p->lineno, "tag key has a control character");
		return false;
	}
	if (conf_field_name(key)) {
		cf_err(p, p->lineno,
		       "tag key '%s' is a field name (InfluxDB would store a "
		       "tag and a field of one name)",
		       key);
		return false;
	}
	if (conf_tag_reserved(key)) {
		cf_err(p, p->lineno, "tag key '%s' is a reserved tag name",
		       key);
		return false;
	}
	if (!*val) {
		cf_err(p, p->lineno, "empty value for tag '%s'", key);
		return false;
	}
	if (cf_has_ctrl(val)) {
		cf_err(p, p->lineno,
		       "value of tag '%s' has a control character", key);
		return false;
	}
	if (strlen(val) > CF_MAX_TAG_VALUE) {
		cf_err(p, p->lineno,
		       "value of tag '%s' is %zu bytes: at most %d", key,
		       strlen(val), CF_MAX_TAG_VALUE);
		return false;
	}
	return true;
}

/* Append KEY=VAL to *TAGS unless KEY is there already. Returns the index
 * or -1. */
long cf_add_tag(struct cf_parser *p, struct conf_tag **tags, size_t *n,
                const char *key, const char *val)
{
	struct conf_tag *t;

	if (!tag_ok(p, key, val))
		return -1;
	for (size_t i = 0; i < *n; i++) {
		if (cf_streq((*tags)[i].key, key)) {
			cf_err(p, p->lineno, "duplicate tag '%s'", key);
			return -1;
		}
	}
	if (cf_grow(p, (void **)tags, *n, sizeof(**tags)))
		return -1;
	t = &(*tags)[*n];
	t->key = cf_dup(p, key);
	t->value = cf_dup(p, val);
	if (!t->key || !t->value) {
		free(t->key);
		free(t->value);
		return -1;
	}
	return (long)(*n)++;
}

void cf_set_key(struct cf_parser *p, const char *key, const char *val,
                struct conf_target *t)
{
	enum cf_scope scope = t ? CF_TARGET : CF_PROBE;
	int i = cf_key_find(key, scope);
	int *lines = t ? p->ts[p->target].lines : p->probe_lines;
	const struct cf_key *k;
	void *field;

	if (i < 0) {
		if (t && !strncmp(key, "tag.", 4)) {
			struct cf_target_state *ts = &p->ts[p->target];
			long j =
			    cf_add_tag(p, &t->tags, &t->n_tags, key + 4, val);

			if (j >= 0 && !cf_grow(p, (void **)&ts->tag_lines,
			                       (size_t)j, sizeof(int)))
				ts->tag_lines[j] = p->lineno;
			return;
		}
		if (t && port_key(p, key, val, t))
			return;
		if (t)
			cf_err(p, p->lineno, "unknown key '%s' in [target %s]",
			       key, t->name);
		else
			cf_err(p, p->lineno, "unknown key '%s' in [probe]",
			       key);
		return;
	}
	k = &cf_keys[i];
	if (lines[i] && !k->repeat) {
		cf_err(p, p->lineno,
		       "duplicate key '%s' (first set on line %d)", key,
		       lines[i]);
		return;
	}
	if (!lines[i])
		lines[i] = p->lineno ? p->lineno : -1;
	field = t ? (char *)t + k->target_off : (char *)p->conf + k->probe_off;
	if (k->kind == CF_CUSTOM)
		k->parse(p, k, val, field);
	else
		cf_parse_plain(p, k, val, field);
}
