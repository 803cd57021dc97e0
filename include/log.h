/*
 * log: diagnostics on stderr, one line each, prefixed the way Telegraf's
 * execd maps them to log levels: "E! ", "W! ", "I! ", "D! ". Never stdout.
 */
#ifndef ANYCAST_PROBE_LOG_H
#define ANYCAST_PROBE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Lines above this level are not printed (default LOG_INFO; -v: LOG_DEBUG). */
void log_set_level(enum log_level max);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
