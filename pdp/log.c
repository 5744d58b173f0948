/*
 * log.c -- JSON lines: {"ts":...,"level":...,"event":...,"msg":...,...}.
 *
 * The minimum level is written once before threads start and only read
 * afterwards (documented server-wide setting, not mutable state).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pdp/buf.h"

static enum pdp_log_level min_level = PDP_LOG_INFO;
static const char *const names[] = { "debug", "info", "warn", "error" };

void pdp_log_set_level(enum pdp_log_level l)
{
	min_level = l;
}

int pdp_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int pdp_log_enabled(enum pdp_log_level l)
{
	return l >= min_level;
}

void pdp_log(enum pdp_log_level l, const char *event, const char *fields, const char *fmt, ...)
{
	if (l < min_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pdp_buf b;
	pdp_buf_init(&b, 8192);
	enum pdp_err e = pdp_buf_printf(&b, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\",\"msg\":",
					when, ts.tv_nsec / 1000000, names[l], event);
	if (e == PDP_OK)
		e = pdp_buf_add_json_str(&b, pdp_str_c(msg));
	if (e == PDP_OK && fields && *fields)
		e = pdp_buf_printf(&b, ",%s", fields);
	if (e == PDP_OK)
		e = pdp_buf_adds(&b, "}\n");
	if (e == PDP_OK && write(STDERR_FILENO, b.data, b.len) < 0) {
		/* nowhere left to report a failing stderr */
	}
	pdp_buf_done(&b);
}
