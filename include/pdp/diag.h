/*
 * diag.h -- the diagnostics sink: problems for *users*, with positions.
 *
 * Checking never stops at the first problem: each one is added here and the
 * caller prints them all at once as `file:line:col: error: message` (or
 * `warning:`). Positions are 1-based; line 0 means "the whole file".
 * The sink owns copies of every string it is given.
 */
#ifndef PDP_DIAG_H
#define PDP_DIAG_H

#include <stdarg.h>
#include <stdio.h>

#include "pdp/buf.h"

enum pdp_diag_level { PDP_DIAG_ERROR, PDP_DIAG_WARNING };

typedef struct pdp_diag_item {
	char *file;
	int line;
	int col;
	enum pdp_diag_level level;
	char *msg;
} pdp_diag_item;

typedef struct pdp_diag {
	pdp_diag_item *items;
	size_t n, cap;
	size_t errors, warnings;
	size_t max_items; /* further items are counted but not kept */
} pdp_diag;

void pdp_diag_init(pdp_diag *d);
void pdp_diag_done(pdp_diag *d);
void pdp_diag_add(pdp_diag *d, enum pdp_diag_level lvl, const char *file,
		  int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void pdp_diag_vadd(pdp_diag *d, enum pdp_diag_level lvl, const char *file,
		   int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
#define pdp_diag_error(d, f, l, c, ...) \
	pdp_diag_add((d), PDP_DIAG_ERROR, (f), (l), (c), __VA_ARGS__)
#define pdp_diag_warn(d, f, l, c, ...) \
	pdp_diag_add((d), PDP_DIAG_WARNING, (f), (l), (c), __VA_ARGS__)
/* Sorts by file, line, column (stable), then writes one line per item. */
void pdp_diag_print(pdp_diag *d, FILE *out);
/* First item whose message contains `needle` (tests), or NULL. */
const pdp_diag_item *pdp_diag_find(const pdp_diag *d, const char *needle);

#endif
