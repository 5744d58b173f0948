/*
 * json.h -- a strict JSON (RFC 8259) reader into a flat token array, for
 * the request path: one pass, no allocation per value, strings unescaped
 * only when they hold an escape. It replaced jansson on the decision path
 * (jansson built a tree of malloc'd nodes per request, then we copied out
 * of it); the rules are jansson's, so answers did not change:
 *  - the document is an object or an array, with nothing but white space
 *    after it;
 *  - strings are valid UTF-8 (no overlong forms, no surrogates, nothing
 *    above U+10FFFF), control characters must be escaped, and \u0000 is
 *    refused (a NUL would cut C strings short downstream);
 *  - a duplicate key in any object is an error (the gateway and the PDP
 *    must not read different values);
 *  - an integer must fit in int64, a real must not overflow a double;
 *  - a raw NUL byte anywhere is refused (the one place it is stricter than
 *    jansson 2.14, which loads [0\0,1]: found by tests/fuzz/json_fuzz.c).
 *
 * Layout: a value is one token; an object is followed by its members as
 * key, value, key, value...; an array by its elements; `next` is the index
 * just past the value's whole subtree, so siblings are reached in O(1).
 */
#ifndef PDP_JSON_H
#define PDP_JSON_H

#include <stdint.h>

#include "pdp/arena.h"
#include "pdp/buf.h"

enum pdp_jtype {
	PDP_J_OBJECT,
	PDP_J_ARRAY,
	PDP_J_STRING,
	PDP_J_INT,
	PDP_J_REAL,
	PDP_J_TRUE,
	PDP_J_FALSE,
	PDP_J_NULL,
};

typedef struct pdp_jtok {
	enum pdp_jtype type;
	uint32_t next;     /* the index after this value's subtree */
	uint32_t n;        /* members of an object, elements of an array */
	pdp_str s;         /* a string, unescaped (input or arena); a number's text */
	int64_t i;         /* an integer */
} pdp_jtok;

typedef struct pdp_jdoc {
	pdp_jtok *t;       /* owned: pdp_json_done frees it */
	uint32_t n, cap;
} pdp_jdoc;

/* Reads json[0..len); unescaped strings go to a. On error, returns
 * PDP_E_PARSE with "invalid JSON at line L column C: ..." in errmsg, or
 * PDP_E_LIMIT when nested deeper than max_depth. */
PDP_MUST_USE enum pdp_err pdp_json_parse(const char *json, size_t len, size_t max_depth, pdp_arena *a,
					 pdp_jdoc *ret, pdp_buf *errmsg);
void pdp_json_done(pdp_jdoc *d);

/* The value of key in the object at index obj, or 0 (index 0 is the root,
 * never a member) when absent. */
uint32_t pdp_json_get(const pdp_jdoc *d, uint32_t obj, const char *key);

/* Walking children: the first is x + 1; in an array the one after element
 * e is t[e].next; in an object the key after key k is t[k + 1].next (the
 * value of key k is k + 1). Count with t[x].n. */
static inline uint32_t pdp_json_next_elem(const pdp_jdoc *d, uint32_t e)
{
	return d->t[e].next;
}

static inline uint32_t pdp_json_next_key(const pdp_jdoc *d, uint32_t k)
{
	return d->t[k + 1].next;
}

#endif
