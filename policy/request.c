/*
 * request.c -- a decision request (SPEC 4, 3.1 "Request shape") from JSON.
 *
 * Design: the JSON nesting depth is checked on the raw bytes before jansson
 * builds anything (so a deeply nested body costs nothing), duplicate keys
 * are rejected (the gateway and the PDP must not read different values),
 * and each object is read through a small key table. Strings are copied into
 * the caller's arena, so the jansson tree can be freed at once.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pdp/eval.h"


bool pdp_json_depth_ok(const char *s, size_t len, size_t max)
{
	size_t depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (in_str) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_str = false;
			continue;
		}
		if (ch == '"')
			in_str = true;
		else if ((ch == '[' || ch == '{') && ++depth > max)
			return false;
		else if (ch == ']' || ch == '}')
			depth -= depth > 0;
	}
	return true;
}

/* Unknown keys of an object are errors. */
static bool keys_known(const json_t *o, const char *const *keys, const char *what, pdp_buf *errmsg)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;
		for (size_t i = 0; keys[i] && !ok; i++)
			ok = !strcmp(k, keys[i]);
		if (!ok) {
			pdp_buf_errf(errmsg, "unknown key '%s' in %s", k, what);
			return false;
		}
	}
	return true;
}

static bool get_str(const json_t *o, const char *key, bool required, const pdp_request_limits *lim,
		    pdp_arena *a, pdp_str *ret, bool *ret_has, const char *what, pdp_buf *errmsg)
{
	const json_t *v = json_object_get(o, key);
	if (!v) {
		if (required)
			pdp_buf_errf(errmsg, "missing %s.%s", what, key);
		return !required;
	}
	if (!json_is_string(v)) {
		pdp_buf_errf(errmsg, "%s.%s must be a string", what, key);
		return false;
	}
	size_t n = json_string_length(v);
	if (n > lim->max_string) {
		pdp_buf_errf(errmsg, "%s.%s is longer than %zu bytes", what, key, lim->max_string);
		return false;
	}
	*ret = pdp_arena_str(a, (pdp_str){ json_string_value(v), n });
	if (ret_has)
		*ret_has = true;
	return true;
}

static bool get_strlist(const json_t *v, size_t max, const pdp_request_limits *lim, pdp_arena *a,
			pdp_str **ret, size_t *ret_n, const char *what, pdp_buf *errmsg)
{
	if (!json_is_array(v)) {
		pdp_buf_errf(errmsg, "%s must be a list of strings", what);
		return false;
	}
	size_t n = json_array_size(v);
	if (n > max) {
		pdp_buf_errf(errmsg, "%s has more than %zu entries", what, max);
		return false;
	}
	pdp_str *out = pdp_arena_array(a, n + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(v, i);
		if (!json_is_string(s) || json_string_length(s) > lim->max_string) {
			pdp_buf_errf(errmsg, "%s[%zu] must be a string of at most %zu bytes", what, i, lim->max_string);
			return false;
		}
		out[i] = pdp_arena_str(a, (pdp_str){ json_string_value(s), json_string_length(s) });
	}
	*ret = out;
	*ret_n = n;
	return true;
}

static bool read_subject(const json_t *s, const pdp_request_limits *lim, pdp_arena *a,
			 pdp_request *r, pdp_buf *errmsg)
{
	static const char *const keys[] = { "id", "domain", "groups", "attributes", NULL };
	if (!json_is_object(s)) {
		pdp_buf_errf(errmsg, "subject must be an object");
		return false;
	}
	if (!keys_known(s, keys, "subject", errmsg) ||
	    !get_str(s, "id", true, lim, a, &r->subject_id, NULL, "subject", errmsg) ||
	    !get_str(s, "domain", false, lim, a, &r->subject_domain, &r->has_domain, "subject", errmsg))
		return false;
	if (r->subject_id.len == 0) {
		pdp_buf_errf(errmsg, "subject.id must not be empty");
		return false;
	}
	const json_t *g = json_object_get(s, "groups");
	if (g && !get_strlist(g, lim->max_groups, lim, a, &r->groups, &r->ngroups, "subject.groups", errmsg))
		return false;
	const json_t *at = json_object_get(s, "attributes");
	if (at && !json_is_object(at)) {
		pdp_buf_errf(errmsg, "subject.attributes must be an object");
		return false;
	}
	return true;
}

static bool read_resource(const json_t *o, const pdp_request_limits *lim, pdp_arena *a,
			  pdp_request *r, pdp_buf *errmsg)
{
	static const char *const keys[] = { "product", "columns", NULL };
	if (!json_is_object(o)) {
		pdp_buf_errf(errmsg, "resource must be an object");
		return false;
	}
	if (!keys_known(o, keys, "resource", errmsg) ||
	    !get_str(o, "product", true, lim, a, &r->product, NULL, "resource", errmsg))
		return false;
	const json_t *c = json_object_get(o, "columns");
	if (!c)
		return true;
	if (!get_strlist(c, lim->max_columns, lim, a, &r->columns, &r->ncolumns, "resource.columns", errmsg))
		return false;
	if (r->ncolumns == 0) {
		pdp_buf_errf(errmsg, "resource.columns must not be empty (omit it for all columns)");
		return false;
	}
	r->has_columns = true;
	return true;
}

static bool read_time(const json_t *t, pdp_request *r, pdp_buf *errmsg)
{
	if (json_is_integer(t) && json_integer_value(t) >= 0) {
		r->time = (int64_t)json_integer_value(t);
		r->has_time = true;
		return true;
	}
	if (json_is_string(t) &&
	    pdp_parse_time((pdp_str){ json_string_value(t), json_string_length(t) }, &r->time)) {
		r->has_time = true;
		return true;
	}
	pdp_buf_errf(errmsg, "context.time must be an RFC 3339 time (2026-06-01T12:00:00Z), a date or epoch seconds (>= 0)");
	return false;
}

static bool read_context(const json_t *o, const pdp_request_limits *lim, pdp_arena *a,
			 pdp_request *r, pdp_buf *errmsg)
{
	if (!json_is_object(o)) {
		pdp_buf_errf(errmsg, "context must be an object");
		return false;
	}
	if (!get_str(o, "purpose", false, lim, a, &r->purpose, &r->has_purpose, "context", errmsg))
		return false;
	pdp_str dialect = PDP_STR_NULL;
	bool has_dialect = false;
	if (!get_str(o, "dialect", false, lim, a, &dialect, &has_dialect, "context", errmsg))
		return false;
	if (has_dialect && !pdp_dialect_parse(dialect, &r->dialect)) {
		pdp_buf_errf(errmsg, "context.dialect must be postgres, trino or spark");
		return false;
	}
	const json_t *t = json_object_get(o, "time");
	return !t || read_time(t, r, errmsg);
}

enum pdp_err pdp_request_from_json(const json_t *obj, const pdp_request_limits *lim,
				   pdp_arena *a, pdp_request *ret, pdp_buf *errmsg)
{
	static const char *const keys[] = { "subject", "action", "resource", "context", NULL };
	static const pdp_request_limits defaults = PDP_REQUEST_LIMITS_DEFAULT;
	lim = lim ? lim : &defaults;
	pdp_request r = { 0 };
	if (!json_is_object(obj)) {
		pdp_buf_errf(errmsg, "a request must be a JSON object");
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(keys_known(obj, keys, "request", errmsg), PDP_E_INVALID);
	const json_t *s = json_object_get(obj, "subject"), *res = json_object_get(obj, "resource");
	const json_t *ctx = json_object_get(obj, "context");
	if (!s || !res) {
		pdp_buf_errf(errmsg, "missing %s", !s ? "subject" : "resource");
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(read_subject(s, lim, a, &r, errmsg), PDP_E_INVALID);
	pdp_str action = PDP_STR_NULL;
	PDP_ENSURE(get_str(obj, "action", true, lim, a, &action, NULL, "request", errmsg), PDP_E_INVALID);
	r.action = pdp_action_parse(action);
	if (!r.action) {
		pdp_buf_errf(errmsg, "unknown action '%.*s' (describe, read or write)", (int)action.len, action.p);
		PDP_BAIL(PDP_E_INVALID);
	}
	PDP_ENSURE(read_resource(res, lim, a, &r, errmsg), PDP_E_INVALID);
	PDP_ENSURE(!ctx || read_context(ctx, lim, a, &r, errmsg), PDP_E_INVALID);
	*ret = r;
	return PDP_OK;
}

enum pdp_err pdp_request_parse(const char *json, size_t len, const pdp_request_limits *lim,
			       pdp_arena *a, pdp_request *ret, pdp_buf *errmsg)
{
	static const pdp_request_limits defaults = PDP_REQUEST_LIMITS_DEFAULT;
	lim = lim ? lim : &defaults;
	if (!pdp_json_depth_ok(json, len, lim->max_depth)) {
		pdp_buf_errf(errmsg, "JSON nested deeper than %zu levels", lim->max_depth);
		PDP_BAIL(PDP_E_LIMIT);
	}
	json_error_t jerr;
	json_t *obj = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		pdp_buf_errf(errmsg, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		PDP_BAIL(PDP_E_PARSE);
	}
	enum pdp_err e = pdp_request_from_json(obj, lim, a, ret, errmsg);
	json_decref(obj);
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
