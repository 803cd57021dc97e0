/*
 * report_int: the names report.c and report_text.c share (result, source,
 * transport, family, domain, the instance as shown). Not a module
 * interface: only those two files include it.
 */
#ifndef ANYCAST_PROBE_REPORT_INT_H
#define ANYCAST_PROBE_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "dnsmsg.h"
#include "result.h"

/* Room for an NSID shown as text or hex. */
#define NSID_TEXT_SIZE (2 * DNSMSG_MAX_NSID + 1)

const char *report_result_name(enum result_kind kind);
const char *report_source_name(enum result_source source);
const char *report_transport_name(unsigned transport);
const char *report_family_name(int family);
/* The root is "." whatever way it was configured. */
const char *report_domain_name(const struct conf_query *q);
/* The instance as shown: NSID rendered as text, TXT bytes as they are.
 * Returns its length in bytes, *out points at it; 0 when unknown. */
size_t report_instance_bytes(const struct result *r, char *buf, size_t size,
                             const uint8_t **out);

#endif
