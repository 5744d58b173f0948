/*
 * diag.c -- collect positioned diagnostics, print them sorted.
 */
#include "pdp/diag.h"

#include <stdlib.h>
#include <string.h>

#define DIAG_DEFAULT_MAX 10000

void pdp_diag_init(pdp_diag *d)
{
	memset(d, 0, sizeof(*d));
	d->max_items = DIAG_DEFAULT_MAX;
}

void pdp_diag_done(pdp_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

void pdp_diag_vadd(pdp_diag *d, enum pdp_diag_level lvl, const char *file,
		   int line, int col, const char *fmt, va_list ap)
{
	if (lvl == PDP_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (d->n >= d->max_items)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->items = pdp_xrealloc(d->items, d->cap * sizeof(*d->items));
	}
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	if (pdp_buf_vprintf(&msg, fmt, ap) != PDP_OK)
		pdp_ignore(pdp_buf_adds(&msg, "(message too long)")); /* best effort */
	pdp_diag_item *it = &d->items[d->n++];
	it->file = file ? pdp_xstrndup(file, strlen(file)) : NULL;
	it->line = line;
	it->col = col;
	it->level = lvl;
	it->msg = pdp_buf_steal(&msg, NULL);
}

void pdp_diag_add(pdp_diag *d, enum pdp_diag_level lvl, const char *file,
		  int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pdp_diag_vadd(d, lvl, file, line, col, fmt, ap);
	va_end(ap);
}

static int item_cmp(const void *a, const void *b)
{
	const pdp_diag_item *x = a, *y = b;
	int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return (int)x->level - (int)y->level;
}

static void item_print(const pdp_diag_item *it, FILE *out)
{
	const char *lvl = it->level == PDP_DIAG_ERROR ? "error" : "warning";
	const char *file = it->file ? it->file : "<input>";
	if (it->line > 0)
		fprintf(out, "%s:%d:%d: %s: %s\n", file, it->line, it->col, lvl, it->msg);
	else
		fprintf(out, "%s: %s: %s\n", file, lvl, it->msg);
}

void pdp_diag_print(pdp_diag *d, FILE *out)
{
	/* insertion order breaks ties: mergesort-like stability via index */
	for (size_t i = 1; i < d->n; i++) {
		pdp_diag_item t = d->items[i];
		size_t j = i;
		while (j > 0 && item_cmp(&d->items[j - 1], &t) > 0) {
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = t;
	}
	for (size_t i = 0; i < d->n; i++)
		item_print(&d->items[i], out);
	if (d->n < d->errors + d->warnings)
		fprintf(out, "(%zu more diagnostics not shown)\n",
			d->errors + d->warnings - d->n);
}

const pdp_diag_item *pdp_diag_find(const pdp_diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->items[i].msg, needle))
			return &d->items[i];
	return NULL;
}
