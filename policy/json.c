/*
 * json.c -- the strict JSON reader (see json.h for the rules).
 *
 * Recursive descent over the bytes; depth is bounded by the caller's
 * max_depth, so the C stack is too. A string is scanned once to find its
 * end and validate it; only a string with an escape is decoded, into the
 * arena (never longer than its encoding).
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
	const char *p, *start, *end;
	pdp_arena *a;
	pdp_jdoc *d;
	size_t max_depth;
	const char *err_at;
	const char *err;
	bool limit;
};

static bool fail(struct jp *j, const char *at, const char *msg)
{
	if (!j->err) {
		j->err_at = at;
		j->err = msg;
	}
	return false;
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool push(struct jp *j, enum pdp_jtype type, uint32_t *ret)
{
	pdp_jdoc *d = j->d;
	if (d->n == d->cap) {
		if (d->cap >= UINT32_MAX / 2)
			return fail(j, j->p, "too many values");
		d->cap = d->cap ? d->cap * 2 : 32;
		d->t = pdp_xrealloc(d->t, d->cap * sizeof(*d->t));
	}
	d->t[d->n] = (pdp_jtok){ .type = type };
	*ret = d->n++;
	return true;
}

/* ---- strings ------------------------------------------------------------- */

static int hex4(const char *p, const char *end)
{
	if (end - p < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* A \u escape at p (after the backslash and 'u'); the code point, with a
 * surrogate pair joined; *used is the bytes consumed; -1 if invalid. */
static long unicode_escape(struct jp *j, const char *p, size_t *used)
{
	int hi = hex4(p, j->end);
	if (hi < 0)
		return fail(j, p, "invalid \\u escape"), -1;
	*used = 4;
	if (hi == 0)
		return fail(j, p, "\\u0000 is not allowed"), -1;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return fail(j, p, "invalid Unicode (a lone low surrogate)"), -1;
	if (hi < 0xD800 || hi > 0xDBFF)
		return hi;
	int lo = j->end - p >= 6 && p[4] == '\\' && p[5] == 'u' ? hex4(p + 6, j->end) : -1;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return fail(j, p, "invalid Unicode (a lone high surrogate)"), -1;
	*used = 10;
	return 0x10000 + ((long)(hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* Scans the string at j->p (on the opening quote) to its end. */
static bool scan_string(struct jp *j, const char **ret_end, bool *ret_escaped)
{
	const char *p = j->p + 1;
	*ret_escaped = false;
	while (p < j->end) {
		unsigned char c = (unsigned char)*p;
		if (c == '"') {
			*ret_end = p;
			return true;
		}
		if (c < 0x20)
			return fail(j, p, "control character in a string (escape it)");
		if (c == '\\') {
			*ret_escaped = true;
			if (p + 1 >= j->end)
				break;
			char e = p[1];
			size_t used = 0;
			if (e == 'u') {
				if (unicode_escape(j, p + 2, &used) < 0)
					return false;
			} else if (!e || !strchr("\"\\/bfnrt", e)) {
				return fail(j, p, "invalid escape");
			}
			p += 2 + used;
			continue;
		}
		const unsigned char *u = (const unsigned char *)p;
		size_t n = c < 0x80 ? 1 : pdp_utf8_seq(u, (const unsigned char *)j->end);
		if (!n)
			return fail(j, p, "invalid UTF-8 in a string");
		p += n;
	}
	return fail(j, j->end, "unterminated string");
}

static size_t put_utf8(char *o, long cp)
{
	if (cp < 0x80)
		return o[0] = (char)cp, 1;
	if (cp < 0x800)
		return o[0] = (char)(0xC0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3F)), 2;
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static char unescape_one(char e)
{
	switch (e) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return e; /* " \ / */
	}
}

/* Decodes the (already validated) string body [p, end) into the arena. */
static pdp_str decode(struct jp *j, const char *p, const char *end)
{
	char *o = pdp_arena_alloc(j->a, (size_t)(end - p) + 1);
	size_t n = 0;
	while (p < end) {
		if (*p != '\\') {
			o[n++] = *p++;
			continue;
		}
		if (p[1] != 'u') {
			o[n++] = unescape_one(p[1]);
			p += 2;
			continue;
		}
		size_t used = 0;
		long cp = unicode_escape(j, p + 2, &used);
		n += put_utf8(o + n, cp);
		p += 2 + used;
	}
	o[n] = '\0';
	return (pdp_str){ o, n };
}

static bool parse_string(struct jp *j, pdp_str *ret)
{
	const char *end;
	bool escaped;
	if (!scan_string(j, &end, &escaped))
		return false;
	*ret = escaped ? decode(j, j->p + 1, end) : (pdp_str){ j->p + 1, (size_t)(end - j->p - 1) };
	j->p = end + 1;
	return true;
}

/* ---- numbers and literals -------------------------------------------- */

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

static bool int_value(pdp_str s, int64_t *ret)
{
	bool neg = s.p[0] == '-';
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (size_t i = neg; i < s.len; i++) {
		uint64_t d = (uint64_t)(s.p[i] - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	return true;
}

static bool real_ok(struct jp *j, pdp_str s)
{
	char small[64];
	char *z = s.len < sizeof(small) ? small : pdp_arena_alloc(j->a, s.len + 1);
	memcpy(z, s.p, s.len);
	z[s.len] = '\0';
	errno = 0;
	double v = strtod(z, NULL);
	return !(errno == ERANGE && isinf(v));
}

static bool parse_number(struct jp *j, pdp_jtok *t)
{
	const char *p = j->p, *s = p;
	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return fail(j, s, "invalid token");
	p = *p == '0' ? p + 1 : digits(p, j->end);
	bool real = false;
	if (p < j->end && *p == '.') {
		const char *f = digits(p + 1, j->end);
		if (f == p + 1)
			return fail(j, s, "invalid number");
		p = f, real = true;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		const char *e = digits(p, j->end);
		if (e == p)
			return fail(j, s, "invalid number");
		p = e, real = true;
	}
	t->s = (pdp_str){ s, (size_t)(p - s) };
	t->type = real ? PDP_J_REAL : PDP_J_INT;
	if (!real && !int_value(t->s, &t->i))
		return fail(j, s, "too big integer");
	if (real && !real_ok(j, t->s))
		return fail(j, s, "real number overflow");
	j->p = p;
	return true;
}

static bool parse_literal(struct jp *j, pdp_jtok *t)
{
	static const struct { const char *w; enum pdp_jtype type; } lits[] = {
		{ "true", PDP_J_TRUE }, { "false", PDP_J_FALSE }, { "null", PDP_J_NULL },
	};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(lits[i].w);
		if ((size_t)(j->end - j->p) >= n && !memcmp(j->p, lits[i].w, n)) {
			t->type = lits[i].type;
			j->p += n;
			return true;
		}
	}
	return fail(j, j->p, "invalid token");
}

/* ---- objects and arrays ------------------------------------------------- */

static bool parse_value(struct jp *j, size_t depth);

static int str_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(*(const pdp_str *)a, *(const pdp_str *)b);
}

/* Small objects (the request's own) compare pairwise in place; large ones
 * (attributes can be anything) sort their keys: never quadratic. */
static bool duplicate_keys(struct jp *j, uint32_t obj)
{
	const pdp_jtok *t = j->d->t;
	uint32_t n = t[obj].n;
	if (n <= 16) {
		for (uint32_t a = obj + 1, i = 0; i < n; i++, a = t[a + 1].next)
			for (uint32_t b = t[a + 1].next, k = i + 1; k < n; k++, b = t[b + 1].next)
				if (pdp_str_eq(t[a].s, t[b].s))
					return true;
		return false;
	}
	pdp_str *keys = pdp_arena_array(j->a, n, sizeof(*keys));
	for (uint32_t k = obj + 1, i = 0; i < n; i++, k = t[k + 1].next)
		keys[i] = t[k].s;
	qsort(keys, n, sizeof(*keys), str_cmp);
	for (uint32_t a = 1; a < n; a++)
		if (pdp_str_eq(keys[a - 1], keys[a]))
			return true;
	return false;
}

/* After a member or element: 1 on ',' (another follows), 0 on the
 * closing bracket (consumed), -1 on anything else. */
static int after_item(struct jp *j, char close, const char *expected)
{
	skip_ws(j);
	if (j->p < j->end && (*j->p == ',' || *j->p == close))
		return *j->p++ == ',';
	fail(j, j->p, expected);
	return -1;
}

static bool parse_members(struct jp *j, uint32_t obj, size_t depth)
{
	const char *open = j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}')
		return j->p++, true;
	for (;;) {
		uint32_t k;
		skip_ws(j);
		if (j->p >= j->end || *j->p != '"')
			return fail(j, j->p, "string or '}' expected");
		if (!push(j, PDP_J_STRING, &k) || !parse_string(j, &j->d->t[k].s))
			return false;
		j->d->t[k].next = j->d->n;
		skip_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return fail(j, j->p, "':' expected");
		j->p++;
		if (!parse_value(j, depth))
			return false;
		j->d->t[obj].n++;
		int more = after_item(j, '}', "',' or '}' expected");
		if (more < 0)
			return false;
		if (!more)
			break;
	}
	return !duplicate_keys(j, obj) || fail(j, open, "duplicate object key");
}

static bool parse_elements(struct jp *j, uint32_t arr, size_t depth)
{
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == ']')
		return j->p++, true;
	for (;;) {
		if (!parse_value(j, depth))
			return false;
		j->d->t[arr].n++;
		int more = after_item(j, ']', "',' or ']' expected");
		if (more <= 0)
			return more == 0;
	}
}

static bool parse_value(struct jp *j, size_t depth)
{
	skip_ws(j);
	if (j->p >= j->end)
		return fail(j, j->p, "unexpected end of input");
	uint32_t i;
	char c = *j->p;
	enum pdp_jtype type = c == '{' ? PDP_J_OBJECT : c == '[' ? PDP_J_ARRAY : c == '"' ? PDP_J_STRING : PDP_J_NULL;
	if (!push(j, type, &i))
		return false;
	bool ok;
	if (type == PDP_J_OBJECT || type == PDP_J_ARRAY) {
		if (depth + 1 > j->max_depth) {
			j->limit = true;
			return fail(j, j->p, "nested too deeply");
		}
		ok = type == PDP_J_OBJECT ? parse_members(j, i, depth + 1) : parse_elements(j, i, depth + 1);
	} else if (type == PDP_J_STRING) {
		ok = parse_string(j, &j->d->t[i].s);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		ok = parse_number(j, &j->d->t[i]);
	} else {
		ok = parse_literal(j, &j->d->t[i]);
	}
	j->d->t[i].next = j->d->n;
	return ok;
}

static void error_message(const struct jp *j, pdp_buf *errmsg)
{
	int line = 1, col = 1;
	for (const char *p = j->start; p < j->err_at && p < j->end; p++, col++)
		if (*p == '\n')
			line++, col = 0;
	if (j->limit)
		pdp_buf_errf(errmsg, "JSON nested deeper than %zu levels (line %d column %d)", j->max_depth, line, col);
	else
		pdp_buf_errf(errmsg, "invalid JSON at line %d column %d: %s", line, col, j->err);
}

enum pdp_err pdp_json_parse(const char *json, size_t len, size_t max_depth, pdp_arena *a, pdp_jdoc *ret,
			    pdp_buf *errmsg)
{
	struct jp j = { .p = json, .start = json, .end = json + len, .a = a, .d = ret, .max_depth = max_depth };
	*ret = (pdp_jdoc){ 0 };
	skip_ws(&j);
	bool ok;
	if (j.p >= j.end || (*j.p != '{' && *j.p != '['))
		ok = fail(&j, j.p, "'[' or '{' expected");
	else
		ok = parse_value(&j, 0);
	skip_ws(&j);
	if (ok && j.p != j.end)
		ok = fail(&j, j.p, "end of file expected");
	if (ok)
		return PDP_OK;
	error_message(&j, errmsg);
	pdp_json_done(ret);
	return j.limit ? PDP_E_LIMIT : PDP_E_PARSE;
}

void pdp_json_done(pdp_jdoc *d)
{
	free(d->t);
	*d = (pdp_jdoc){ 0 };
}

uint32_t pdp_json_get(const pdp_jdoc *d, uint32_t obj, const char *key)
{
	const pdp_jtok *t = d->t;
	uint32_t k = obj + 1;
	for (uint32_t i = 0; i < t[obj].n; i++, k = t[k + 1].next)
		if (pdp_str_eq_c(t[k].s, key))
			return k + 1;
	return 0;
}
