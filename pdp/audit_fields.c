/*
 * audit_fields.c -- payload builders for the records the server submits:
 * `decision`, `refused` and `reload` (docs/audit-log-format.md §10).
 *
 * Design: each builder writes canonical JSON directly (keys in byte order,
 * canonical strings), so pdp_audit_submit takes its fast path and does not
 * re-parse the object on the worker thread. The key order is fixed in the
 * code and checked by PDP_BUG_ON in obj_key, so a new field in the wrong
 * place fails the first test that builds it.
 *
 * Ownership: builders append to the caller's pdp_buf and borrow all inputs.
 */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "pdp/eval.h"

struct obj {
	pdp_buf *b;
	const char *last;       /* previous key, for the order check */
};

/* One byte, in place when it fits (the buffer's bound: cap <= max + 1). */
static inline enum pdp_err addc(pdp_buf *b, char c)
{
	if (b->len + 1 >= b->cap)
		return pdp_buf_addc(b, c);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return PDP_OK;
}

static enum pdp_err obj_open(struct obj *o, pdp_buf *b)
{
	o->b = b;
	o->last = NULL;
	return addc(b, '{');
}

/* Keys are literals in this file: plain ASCII, written without escaping
 * as `,"k":`. */
static enum pdp_err obj_key(struct obj *o, const char *k)
{
	size_t n = strlen(k);
	PDP_BUG_ON(o->last && strcmp(o->last, k) >= 0);
	PDP_TRY(pdp_buf_reserve(o->b, n + 4));
	char *p = o->b->data + o->b->len;
	if (o->last)
		*p++ = ',';
	*p++ = '"';
	memcpy(p, k, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	*p = '\0';
	o->b->len = (size_t)(p - o->b->data);
	o->last = k;
	return PDP_OK;
}

static enum pdp_err obj_str(struct obj *o, const char *k, pdp_str v)
{
	PDP_TRY(obj_key(o, k));
	return pdp_audit_add_str(o->b, v.p ? v.p : "", v.len);
}

static enum pdp_err obj_cstr(struct obj *o, const char *k, const char *v)
{
	if (!v)
		return PDP_OK; /* optional: omitted */
	return obj_str(o, k, pdp_str_c(v));
}

static enum pdp_err obj_close(struct obj *o)
{
	return addc(o->b, '}');
}

static enum pdp_err str_array(pdp_buf *b, const pdp_str *v, size_t n)
{
	PDP_TRY(addc(b, '['));
	for (size_t i = 0; i < n; i++) {
		if (i)
			PDP_TRY(addc(b, ','));
		PDP_TRY(pdp_audit_add_str(b, v[i].p ? v[i].p : "", v[i].len));
	}
	return addc(b, ']');
}

static int col_cmp(const void *x, const void *y)
{
	const pdp_col_result *a = *(const pdp_col_result *const *)x;
	const pdp_col_result *b = *(const pdp_col_result *const *)y;
	return pdp_str_cmp(a->name, b->name);
}

static enum pdp_err outcome(pdp_buf *b, const pdp_col_result *c)
{
	switch (c->access) {
	case PDP_ACCESS_ALLOW:
		return pdp_buf_adds(b, "\"allow\"");
	case PDP_ACCESS_DENY:
		return pdp_buf_adds(b, "\"deny\"");
	case PDP_ACCESS_MASK:
		PDP_TRY(pdp_buf_adds(b, "\"mask:"));
		PDP_TRY(pdp_buf_adds(b, pdp_mask_name(c->mask)));
		return addc(b, '"');
	default:
		PDP_BAIL(PDP_E_INVALID);
	}
}

/* Sorts column results by name: insertion sort for the usual few, qsort
 * beyond. */
static void sort_cols(const pdp_col_result **v, size_t n)
{
	if (n > 16) {
		qsort(v, n, sizeof(*v), col_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		const pdp_col_result *x = v[i];
		size_t j = i;
		for (; j > 0 && pdp_str_cmp(v[j - 1]->name, x->name) > 0; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

static enum pdp_err columns_sorted(pdp_buf *b, const pdp_col_result **v, size_t n)
{
	PDP_TRY(addc(b, '{'));
	for (size_t i = 0; i < n; i++) {
		if (i && pdp_str_eq(v[i]->name, v[i - 1]->name))
			continue; /* asked twice: one outcome */
		if (i)
			PDP_TRY(addc(b, ','));
		PDP_TRY(pdp_audit_add_str(b, v[i]->name.p ? v[i]->name.p : "", v[i]->name.len));
		PDP_TRY(addc(b, ':'));
		PDP_TRY(outcome(b, v[i]));
	}
	return addc(b, '}');
}

/* {"<column>":"allow"|"deny"|"mask:<mask>",...} in byte order, unique. */
static enum pdp_err columns(pdp_buf *b, const pdp_decision *dec)
{
	const pdp_col_result *stack[32];
	const pdp_col_result **heap PDP_CLEANUP(pdp_freep) =
		dec->ncols > 32 ? pdp_xcalloc(dec->ncols, sizeof(*heap)) : NULL;
	const pdp_col_result **v = heap ? heap : stack;
	for (size_t i = 0; i < dec->ncols; i++)
		v[i] = &dec->cols[i];
	sort_cols(v, dec->ncols);
	return columns_sorted(b, v, dec->ncols);
}

static enum pdp_err subject(pdp_audit *a, pdp_buf *b, const pdp_request *req)
{
	struct obj o;
	char hmac[65];
	PDP_TRY(obj_open(&o, b));
	if (req->has_domain)
		PDP_TRY(obj_str(&o, "domain", req->subject_domain));
	PDP_TRY(obj_key(&o, "groups"));
	PDP_TRY(str_array(b, req->groups, req->ngroups));
	if (a && pdp_audit_pseudonym(a, req->subject_id.p ? req->subject_id.p : "", req->subject_id.len, hmac))
		PDP_TRY(obj_cstr(&o, "id_hmac", hmac));
	else
		PDP_TRY(obj_str(&o, "id", req->subject_id));
	return obj_close(&o);
}

enum pdp_err pdp_audit_fields_decision(pdp_audit *a, const char *decision_id, const char *caller,
				       const pdp_request *req, const pdp_decision *dec, pdp_buf *out)
{
	struct obj o;
	PDP_TRY(obj_open(&o, out));
	PDP_TRY(obj_cstr(&o, "action", pdp_action_name(req->action)));
	PDP_TRY(obj_str(&o, "caller", pdp_str_c(caller ? caller : "")));
	PDP_TRY(obj_key(&o, "columns"));
	PDP_TRY(columns(out, dec));
	PDP_TRY(obj_key(&o, "columns_asked"));
	if (req->has_columns)
		PDP_TRY(str_array(out, req->columns, req->ncolumns));
	else
		PDP_TRY(pdp_buf_adds(out, "null"));
	PDP_TRY(obj_cstr(&o, "decision", dec->allow ? "allow" : "deny"));
	PDP_TRY(obj_cstr(&o, "decision_id", decision_id));
	PDP_TRY(obj_cstr(&o, "policy_revision", dec->revision));
	PDP_TRY(obj_str(&o, "product", req->product));
	if (req->has_purpose)
		PDP_TRY(obj_str(&o, "purpose", req->purpose));
	PDP_TRY(obj_key(&o, "reasons"));
	PDP_TRY(str_array(out, dec->reasons, dec->nreasons));
	if (req->request_id.len)
		PDP_TRY(obj_str(&o, "request_id", req->request_id));
	if (dec->has_row_filter)
		PDP_TRY(obj_str(&o, "row_filter", dec->row_filter));
	PDP_TRY(obj_key(&o, "subject"));
	PDP_TRY(subject(a, out, req));
	return obj_close(&o);
}

enum pdp_err pdp_audit_fields_refused(const char *caller, const char *reason, int status,
				      const char *method, const char *path, const char *request_id,
				      const char *message, pdp_buf *out)
{
	struct obj o;
	PDP_TRY(obj_open(&o, out));
	PDP_TRY(obj_cstr(&o, "caller", caller));
	PDP_TRY(obj_cstr(&o, "message", message));
	PDP_TRY(obj_cstr(&o, "method", method));
	PDP_TRY(obj_cstr(&o, "path", path));
	PDP_TRY(obj_cstr(&o, "reason", reason ? reason : "refused"));
	PDP_TRY(obj_cstr(&o, "request_id", request_id));
	PDP_TRY(obj_key(&o, "status"));
	PDP_TRY(pdp_buf_add_i64(out, status));
	return obj_close(&o);
}

enum pdp_err pdp_audit_fields_reload(bool ok, const char *trigger, const char *caller,
				     const char *old_revision, const char *new_revision,
				     const char *error, pdp_buf *out)
{
	struct obj o;
	PDP_TRY(obj_open(&o, out));
	PDP_TRY(obj_cstr(&o, "caller", caller));
	PDP_TRY(obj_cstr(&o, "error", error));
	PDP_TRY(obj_cstr(&o, "new_revision", new_revision));
	PDP_TRY(obj_key(&o, "ok"));
	PDP_TRY(pdp_buf_adds(out, ok ? "true" : "false"));
	PDP_TRY(obj_cstr(&o, "old_revision", old_revision));
	PDP_TRY(obj_cstr(&o, "trigger", trigger ? trigger : "unknown"));
	return obj_close(&o);
}
