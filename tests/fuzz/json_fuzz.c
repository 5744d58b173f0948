/*
 * json_fuzz.c -- differential fuzz target for the strict JSON reader
 * (policy/json.c) against jansson, whose rules it keeps (json.h): on every
 * input both must accept, or both refuse (but for a raw NUL byte, which
 * ours always refuses). Accepted documents are walked to
 * check the token layout (every `next` inside the array, counts adding up).
 *
 * Target function: pdp_json_parse.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* Walks the value at i; returns the index after it, or traps. */
static uint32_t walk(const pdp_jdoc *d, uint32_t i)
{
	if (i >= d->n)
		__builtin_trap();
	const pdp_jtok *t = &d->t[i];
	uint32_t c = i + 1;
	for (uint32_t k = 0; k < t->n; k++) {
		if (t->type == PDP_J_OBJECT) {
			if (d->t[c].type != PDP_J_STRING)
				__builtin_trap();
			c++;
		}
		c = walk(d, c);
	}
	if ((t->type != PDP_J_OBJECT && t->type != PDP_J_ARRAY && t->n) || t->next != c)
		__builtin_trap();
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pdp_arena *a = pdp_arena_new(4096);
	pdp_jdoc d;
	enum pdp_err e = pdp_json_parse((const char *)data, size, 2048, a, &d, NULL);
	json_error_t jerr;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	/* jansson swallows a raw NUL right after a number ([0\0,1] loads):
	 * ours refuses a raw NUL anywhere, so that is the one difference */
	bool nul = memchr(data, 0, size) != NULL;
	if (nul ? e == PDP_OK : (e == PDP_OK) != (j != NULL))
		__builtin_trap(); /* the two readers disagree */
	if (e == PDP_OK && walk(&d, 0) != d.n)
		__builtin_trap();
	json_decref(j);
	pdp_json_done(&d);
	pdp_arena_free(a);
	return 0;
}
