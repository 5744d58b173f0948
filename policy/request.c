/*
 * request.c -- a decision request (SPEC 4, 3.1 "Request shape") from JSON.
 *
 * Design: the document is read in one pass by the strict reader of json.c,
 * which stops at the first level past max_depth (so a deeply nested body
 * costs no more than its first levels) and rejects duplicate keys (the
 * gateway and the PDP must not read different values); then each object is
 * read through a small key table. Strings are copied into the caller's arena, so the
 * tokens can be freed at once and the body need not outlive the call.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "pdp/eval.h"


/* A reader over one parsed document. */
struct rd {
	const pdp_jdoc *d;
	const pdp_request_limits *lim;
	pdp_arena *a;
	pdp_buf *errmsg;
};

static const pdp_jtok *tok(const struct rd *x, uint32_t i)
{
	return &x->d->t[i];
}

/* Unknown keys of an object are errors (the first, in document order). */
static bool keys_known(const struct rd *x, uint32_t o, const char *const *keys, const char *what)
{
	for (uint32_t k = o + 1, n = 0; n < tok(x, o)->n; n++, k = pdp_json_next_key(x->d, k)) {
		bool ok = false;
		for (size_t i = 0; keys[i] && !ok; i++)
			ok = pdp_str_eq_c(tok(x, k)->s, keys[i]);
		if (!ok) {
			pdp_buf_errf(x->errmsg, "unknown key '%.*s' in %s", (int)tok(x, k)->s.len, tok(x, k)->s.p, what);
			return false;
		}
	}
	return true;
}

static bool get_str(const struct rd *x, uint32_t o, const char *key, bool required, pdp_str *ret,
		    bool *ret_has, const char *what)
{
	uint32_t v = pdp_json_get(x->d, o, key);
	if (!v) {
		if (required)
			pdp_buf_errf(x->errmsg, "missing %s.%s", what, key);
		return !required;
	}
	if (tok(x, v)->type != PDP_J_STRING) {
		pdp_buf_errf(x->errmsg, "%s.%s must be a string", what, key);
		return false;
	}
	if (tok(x, v)->s.len > x->lim->max_string) {
		pdp_buf_errf(x->errmsg, "%s.%s is longer than %zu bytes", what, key, x->lim->max_string);
		return false;
	}
	*ret = pdp_arena_str(x->a, tok(x, v)->s);
	if (ret_has)
		*ret_has = true;
	return true;
}

static bool get_strlist(const struct rd *x, uint32_t v, size_t max, pdp_str **ret, size_t *ret_n,
			const char *what)
{
	if (tok(x, v)->type != PDP_J_ARRAY) {
		pdp_buf_errf(x->errmsg, "%s must be a list of strings", what);
		return false;
	}
	size_t n = tok(x, v)->n;
	if (n > max) {
		pdp_buf_errf(x->errmsg, "%s has more than %zu entries", what, max);
		return false;
	}
	pdp_str *out = pdp_arena_array(x->a, n + 1, sizeof(*out));
	uint32_t e = v + 1;
	for (size_t i = 0; i < n; i++, e = pdp_json_next_elem(x->d, e)) {
		if (tok(x, e)->type != PDP_J_STRING || tok(x, e)->s.len > x->lim->max_string) {
			pdp_buf_errf(x->errmsg, "%s[%zu] must be a string of at most %zu bytes", what, i,
				     x->lim->max_string);
			return false;
		}
		out[i] = pdp_arena_str(x->a, tok(x, e)->s);
	}
	*ret = out;
	*ret_n = n;
	return true;
}

static bool read_subject(const struct rd *x, uint32_t s, pdp_request *r)
{
	static const char *const keys[] = { "id", "domain", "groups", "attributes", NULL };
	if (tok(x, s)->type != PDP_J_OBJECT) {
		pdp_buf_errf(x->errmsg, "subject must be an object");
		return false;
	}
	if (!keys_known(x, s, keys, "subject") || !get_str(x, s, "id", true, &r->subject_id, NULL, "subject") ||
	    !get_str(x, s, "domain", false, &r->subject_domain, &r->has_domain, "subject"))
		return false;
	if (r->subject_id.len == 0) {
		pdp_buf_errf(x->errmsg, "subject.id must not be empty");
		return false;
	}
	uint32_t g = pdp_json_get(x->d, s, "groups");
	if (g && !get_strlist(x, g, x->lim->max_groups, &r->groups, &r->ngroups, "subject.groups"))
		return false;
	uint32_t at = pdp_json_get(x->d, s, "attributes");
	if (at && tok(x, at)->type != PDP_J_OBJECT) {
		pdp_buf_errf(x->errmsg, "subject.attributes must be an object");
		return false;
	}
	return true;
}

static bool read_resource(const struct rd *x, uint32_t o, pdp_request *r)
{
	static const char *const keys[] = { "product", "columns", NULL };
	if (tok(x, o)->type != PDP_J_OBJECT) {
		pdp_buf_errf(x->errmsg, "resource must be an object");
		return false;
	}
	if (!keys_known(x, o, keys, "resource") || !get_str(x, o, "product", true, &r->product, NULL, "resource"))
		return false;
	uint32_t c = pdp_json_get(x->d, o, "columns");
	if (!c)
		return true;
	if (!get_strlist(x, c, x->lim->max_columns, &r->columns, &r->ncolumns, "resource.columns"))
		return false;
	if (r->ncolumns == 0) {
		pdp_buf_errf(x->errmsg, "resource.columns must not be empty (omit it for all columns)");
		return false;
	}
	r->has_columns = true;
	return true;
}

static bool read_time(const struct rd *x, uint32_t t, pdp_request *r)
{
	const pdp_jtok *v = tok(x, t);
	if (v->type == PDP_J_INT && v->i >= 0) {
		r->time = v->i;
		r->has_time = true;
		return true;
	}
	if (v->type == PDP_J_STRING && pdp_parse_time(v->s, &r->time)) {
		r->has_time = true;
		return true;
	}
	pdp_buf_errf(x->errmsg, "context.time must be an RFC 3339 time (2026-06-01T12:00:00Z), a date or epoch seconds (>= 0)");
	return false;
}

static bool read_context(const struct rd *x, uint32_t o, pdp_request *r)
{
	if (tok(x, o)->type != PDP_J_OBJECT) {
		pdp_buf_errf(x->errmsg, "context must be an object");
		return false;
	}
	if (!get_str(x, o, "purpose", false, &r->purpose, &r->has_purpose, "context"))
		return false;
	pdp_str dialect = PDP_STR_NULL;
	bool has_dialect = false;
	if (!get_str(x, o, "dialect", false, &dialect, &has_dialect, "context"))
		return false;
	if (has_dialect && !pdp_dialect_parse(dialect, &r->dialect)) {
		pdp_buf_errf(x->errmsg, "context.dialect must be postgres, trino or spark");
		return false;
	}
	uint32_t t = pdp_json_get(x->d, o, "time");
	return !t || read_time(x, t, r);
}

/* The request at token i of a parsed document. */
static enum pdp_err read_request(const struct rd *x, uint32_t i, pdp_request *ret)
{
	static const char *const keys[] = { "subject", "action", "resource", "context", NULL };
	pdp_request r = { 0 };
	if (tok(x, i)->type != PDP_J_OBJECT) {
		pdp_buf_errf(x->errmsg, "a request must be a JSON object");
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(keys_known(x, i, keys, "request"), PDP_E_INVALID);
	uint32_t s = pdp_json_get(x->d, i, "subject"), res = pdp_json_get(x->d, i, "resource");
	uint32_t ctx = pdp_json_get(x->d, i, "context");
	if (!s || !res) {
		pdp_buf_errf(x->errmsg, "missing %s", !s ? "subject" : "resource");
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(read_subject(x, s, &r), PDP_E_INVALID);
	pdp_str action = PDP_STR_NULL;
	PDP_ENSURE(get_str(x, i, "action", true, &action, NULL, "request"), PDP_E_INVALID);
	r.action = pdp_action_parse(action);
	if (!r.action) {
		pdp_buf_errf(x->errmsg, "unknown action '%.*s' (describe, read or write)", (int)action.len, action.p);
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(read_resource(x, res, &r), PDP_E_INVALID);
	PDP_ENSURE(!ctx || read_context(x, ctx, &r), PDP_E_INVALID);
	*ret = r;
	return PDP_OK;
}

enum pdp_err pdp_request_parse(const char *json, size_t len, const pdp_request_limits *lim,
			       pdp_arena *a, pdp_request *ret, pdp_buf *errmsg)
{
	static const pdp_request_limits defaults = PDP_REQUEST_LIMITS_DEFAULT;
	lim = lim ? lim : &defaults;
	pdp_jdoc d;
	PDP_TRY(pdp_json_parse(json, len, lim->max_depth, a, &d, errmsg));
	struct rd x = { &d, lim, a, errmsg };
	enum pdp_err e = read_request(&x, 0, ret);
	pdp_json_done(&d);
	return e;
}

enum pdp_err pdp_request_parse_batch(const char *json, size_t len, const pdp_request_limits *lim,
				     size_t max_batch, pdp_arena *a, pdp_batch_fn fn, void *arg,
				     pdp_buf *errmsg)
{
	static const pdp_request_limits defaults = PDP_REQUEST_LIMITS_DEFAULT;
	lim = lim ? lim : &defaults;
	pdp_jdoc d;
	PDP_TRY(pdp_json_parse(json, len, lim->max_depth + 2, a, &d, errmsg));
	uint32_t reqs = pdp_json_get(&d, 0, "requests");
	enum pdp_err e = PDP_OK;
	if (d.t[0].type != PDP_J_OBJECT || d.t[0].n != 1 || !reqs || d.t[reqs].type != PDP_J_ARRAY) {
		pdp_buf_errf(errmsg, "expected {\"requests\": [...]}");
		e = PDP_E_INVALID;
	} else if (d.t[reqs].n == 0 || d.t[reqs].n > max_batch) {
		pdp_buf_errf(errmsg, "a batch holds 1 to max_batch requests");
		e = PDP_E_LIMIT;
	}
	for (uint32_t i = 0, item = reqs + 1; e == PDP_OK && i < d.t[reqs].n; i++, item = d.t[item].next) {
		pdp_buf msg;
		pdp_buf_init(&msg, 4096);
		struct rd x = { &d, lim, a, &msg };
		pdp_request r;
		enum pdp_err ie = read_request(&x, item, &r);
		e = fn(arg, ie, ie == PDP_OK ? &r : NULL, msg.data);
		pdp_buf_done(&msg);
	}
	pdp_json_done(&d);
	return e;
}

bool pdp_dialect_parse(pdp_str s, enum pdp_dialect *ret)
{
	static const char *const names[] = { "postgres", "trino", "spark" };
	for (int i = 0; i < 3; i++) {
		if (pdp_str_eq_c(s, names[i])) {
			*ret = (enum pdp_dialect)(i + 1);
			return true;
		}
	}
	return false;
}

const char *pdp_dialect_name(enum pdp_dialect d)
{
	switch (d) {
	case PDP_DIALECT_POSTGRES: return "postgres";
	case PDP_DIALECT_TRINO: return "trino";
	case PDP_DIALECT_SPARK: return "spark";
	default: return "none";
	}
}

static int two(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). */
bool pdp_parse_time(pdp_str s, int64_t *ret)
{
	int64_t day;
	if (s.len < 10 || !pdp_parse_date((pdp_str){ s.p, 10 }, &day))
		return false;
	if (s.len == 10) {
		*ret = day;
		return true;
	}
	if (s.len < 20 || (s.p[10] != 'T' && s.p[10] != 't') || s.p[13] != ':' || s.p[16] != ':')
		return false;
	int h = two(s.p + 11), m = two(s.p + 14), sec = two(s.p + 17);
	if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return false;
	size_t i = 19;
	if (s.p[i] == '.') { /* a fraction has at least one digit */
		size_t first = ++i;
		for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++)
			;
		if (i == first)
			return false;
	}
	int64_t off = 0;
	if (i + 1 == s.len && (s.p[i] == 'Z' || s.p[i] == 'z')) {
		off = 0;
	} else if (i + 6 == s.len && (s.p[i] == '+' || s.p[i] == '-') && s.p[i + 3] == ':') {
		int oh = two(s.p + i + 1), om = two(s.p + i + 4);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = (oh * 3600 + om * 60) * (s.p[i] == '+' ? 1 : -1);
	} else {
		return false;
	}
	*ret = day + h * 3600 + m * 60 + sec - off;
	return true;
}
