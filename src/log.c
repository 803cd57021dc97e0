/* log: see include/log.h. Each line goes to out, which writes it whole
 * (directly before the loop runs, from the loop's queue after). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "out.h"

static enum log_level max_level = LOG_INFO;

void log_set_level(enum log_level max)
{
	max_level = max;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char prefix[] = "EWID";
	char line[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	line[0] = prefix[level];
	line[1] = '!';
	line[2] = ' ';
	va_start(ap, fmt);
	n = vsnprintf(line + 3, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 3;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* One diagnostic is one line, whatever the message held. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	out_log_line(line, (size_t)n);
}
