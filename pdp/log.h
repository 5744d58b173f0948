/*
 * log.h -- JSON-lines logging on stderr (pdp/ only; policy/ never logs).
 * The level is checked before anything is formatted; each line is written
 * with one write(2), so lines from several threads never interleave.
 */
#ifndef PDP_LOG_H
#define PDP_LOG_H

enum pdp_log_level { PDP_LOG_DEBUG, PDP_LOG_INFO, PDP_LOG_WARN, PDP_LOG_ERROR };

/* Set once at start-up, before any thread exists. */
void pdp_log_set_level(enum pdp_log_level l);
int pdp_log_parse_level(const char *s); /* -1 if unknown */
/* `event` is a short machine-readable name; fmt makes the "msg" field;
 * optional extra JSON fields (already encoded, without braces) in `fields`. */
void pdp_log(enum pdp_log_level l, const char *event, const char *fields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define pdp_log_on(l) (pdp_log_enabled(l))
int pdp_log_enabled(enum pdp_log_level l);

#endif
