/*
 * cmd_test.c -- `pdp test POLICY_DIR CASES...`: data-driven policy tests
 * (jq's test triplets, unbound's replay): each case is a request and the
 * decision expected for it (docs/policy-tests.md). The policy is compiled to
 * bundle bytes and loaded from them, as a server would. Prints each failure
 * with what differed, then `N passed, N failed`; exit 1 if any failed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd.h"
#include "pdp/eval.h"
#include "pdp/yaml.h"

static const char usage[] =
	"usage: pdp test POLICY_DIR CASES.yaml...\n"
	"\n"
	"Runs YAML policy test cases against the compiled policy. Each case has a\n"
	"name, an optional time, a request and the expected decision, columns,\n"
	"row_filter and reasons (only the keys given are compared), or\n"
	"`error: true` for a request that must be rejected. See\n"
	"docs/policy-tests.md. Prints every failing case with what differed and\n"
	"ends with `N passed, N failed`. Exit 0 if all passed, 1 otherwise.\n";

struct run {
	const pdp_policy *p;
	pdp_arena *scratch;
	size_t passed, failed;
};

/* YAML node → JSON value (plain true/false/integers become JSON's). */
static json_t *to_json(const pdp_ynode *n)
{
	switch (n->type) {
	case PDP_Y_NULL:
		return json_null();
	case PDP_Y_SEQ: {
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++)
			json_array_append_new(a, to_json(n->items[i]));
		return a;
	}
	case PDP_Y_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; i < n->n; i++) {
			const pdp_ynode *k = pdp_ymap_key(n, i);
			json_object_setn_new(o, k->str.p, k->str.len, to_json(pdp_ymap_val(n, i)));
		}
		return o;
	}
	default:
		break;
	}
	if (!n->quoted && (pdp_str_eq_c(n->str, "true") || pdp_str_eq_c(n->str, "false")))
		return json_boolean(pdp_str_eq_c(n->str, "true"));
	char *end = NULL;
	long long v = n->quoted || !n->str.len ? 0 : strtoll(n->str.p, &end, 10);
	if (end && *end == '\0')
		return json_integer(v);
	return json_stringn(n->str.p, n->str.len);
}

static void fail_head(struct run *r, const pdp_ynode *c, pdp_str name, bool *first)
{
	if (!*first)
		return;
	*first = false;
	r->failed++;
	printf("FAIL %s:%d: %.*s\n", c->file, c->line, (int)name.len, name.p);
}

static const char *col_value(const pdp_col_result *c)
{
	return c->access == PDP_ACCESS_MASK ? pdp_mask_name(c->mask) : pdp_access_name(c->access);
}

static const pdp_col_result *find_col(const pdp_decision *d, pdp_str name)
{
	for (size_t i = 0; i < d->ncols; i++)
		if (pdp_str_eq(d->cols[i].name, name))
			return &d->cols[i];
	return NULL;
}

static void check_columns(struct run *r, const pdp_ynode *c, pdp_str name, const pdp_ynode *exp,
			  const pdp_decision *d, bool *first)
{
	size_t matched = 0;
	for (size_t i = 0; exp->type == PDP_Y_MAP && i < exp->n; i++) {
		pdp_str col = pdp_ymap_key(exp, i)->str, want = pdp_ymap_val(exp, i)->str;
		const pdp_col_result *got = find_col(d, col);
		matched += got != NULL;
		if (got && pdp_str_eq_c(want, col_value(got)))
			continue;
		fail_head(r, c, name, first);
		printf("  column %.*s: expected %.*s, got %s\n", (int)col.len, col.p, (int)want.len,
		       want.p, got ? col_value(got) : "(not in the response)");
	}
	for (size_t i = 0; matched != d->ncols && i < d->ncols; i++) {
		if (pdp_ymap_get(exp, d->cols[i].name.p))
			continue;
		fail_head(r, c, name, first);
		printf("  column %.*s: not expected, got %s\n", (int)d->cols[i].name.len,
		       d->cols[i].name.p, col_value(&d->cols[i]));
	}
}

static int str_cmp(const void *a, const void *b)
{
	return pdp_str_cmp(*(const pdp_str *)a, *(const pdp_str *)b);
}

static void print_list(const char *label, const pdp_str *v, size_t n)
{
	printf("  %s [", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%.*s", i ? ", " : "", (int)v[i].len, v[i].p);
	puts("]");
}

static void check_reasons(struct run *r, const pdp_ynode *c, pdp_str name, const pdp_ynode *exp,
			  const pdp_decision *d, bool *first)
{
	size_t n = exp->type == PDP_Y_SEQ ? exp->n : 0;
	pdp_str *want = pdp_arena_array(r->scratch, n + 1, sizeof(*want));
	for (size_t i = 0; i < n; i++)
		want[i] = exp->items[i]->str;
	qsort(want, n, sizeof(*want), str_cmp);
	bool same = n == d->nreasons;
	for (size_t i = 0; same && i < n; i++)
		same = pdp_str_eq(want[i], d->reasons[i]);
	if (same)
		return;
	fail_head(r, c, name, first);
	print_list("reasons expected", want, n);
	print_list("reasons got     ", d->reasons, d->nreasons);
}

static void check_row_filter(struct run *r, const pdp_ynode *c, pdp_str name, const pdp_ynode *exp,
			     const pdp_decision *d, bool *first)
{
	bool want_none = exp->type == PDP_Y_NULL;
	if (want_none ? !d->has_row_filter : d->has_row_filter && pdp_str_eq(exp->str, d->row_filter))
		return;
	fail_head(r, c, name, first);
	printf("  row_filter: expected %.*s, got %.*s\n", (int)(want_none ? 4 : exp->str.len),
	       want_none ? "null" : exp->str.p, (int)(d->has_row_filter ? d->row_filter.len : 4),
	       d->has_row_filter ? d->row_filter.p : "null");
}

static void check_decision(struct run *r, const pdp_ynode *c, pdp_str name, const pdp_ynode *expect,
			   const pdp_decision *d)
{
	bool first = true;
	const pdp_ynode *v = pdp_ymap_get(expect, "decision");
	if (v && !pdp_str_eq_c(v->str, d->allow ? "allow" : "deny")) {
		fail_head(r, c, name, &first);
		printf("  decision: expected %.*s, got %s\n", (int)v->str.len, v->str.p, d->allow ? "allow" : "deny");
	}
	if ((v = pdp_ymap_get(expect, "columns")))
		check_columns(r, c, name, v, d, &first);
	if ((v = pdp_ymap_get(expect, "row_filter")))
		check_row_filter(r, c, name, v, d, &first);
	if ((v = pdp_ymap_get(expect, "reasons")))
		check_reasons(r, c, name, v, d, &first);
	if (pdp_ymap_get(expect, "error")) {
		fail_head(r, c, name, &first);
		puts("  expected the request to be rejected, it was answered");
	}
	r->passed += first;
}

/* Decides one request; returns the error (if any) and fills *d. */
/* Time: the case's own `time`, else context.time, else the file's `time`,
 * else the clock. */
static enum pdp_err decide(struct run *r, const pdp_ynode *request, int64_t case_t, int64_t file_t,
			   pdp_decision *d, pdp_buf *msg)
{
	json_t *j = to_json(request);
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	pdp_request req;
	enum pdp_err e = text ? pdp_request_parse(text, strlen(text), NULL, r->scratch, &req, msg) : PDP_E_NOMEM;
	free(text);
	if (e != PDP_OK)
		return e;
	if (case_t != INT64_MIN)
		req.time = case_t;
	else if (!req.has_time)
		req.time = file_t != INT64_MIN ? file_t : (int64_t)time(NULL);
	return pdp_eval_decide(r->p, &req, r->scratch, d, msg);
}

static bool case_time(const pdp_ynode *n, int64_t *t)
{
	return n->type == PDP_Y_SCALAR && pdp_parse_time(n->str, t);
}

static void run_case(struct run *r, const pdp_ynode *c, int64_t file_time, pdp_diag *diag)
{
	static const pdp_ykey keys[] = {
		{ "name", PDP_Y_SCALAR, PDP_YK_REQUIRED }, { "time", PDP_Y_SCALAR, 0 },
		{ "request", PDP_Y_MAP, PDP_YK_REQUIRED }, { "expect", PDP_Y_MAP, PDP_YK_REQUIRED },
		{ "description", PDP_Y_SCALAR, 0 },
	};
	pdp_ynode *v[5];
	int64_t t = INT64_MIN;
	if (!pdp_ymap_read(c, keys, 5, "case", diag, v))
		return;
	if (v[1] && !case_time(v[1], &t)) {
		pdp_diag_error(diag, v[1]->file, v[1]->line, v[1]->col, "case.time: not a date or RFC 3339 time");
		return;
	}
	pdp_decision d;
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	enum pdp_err e = decide(r, v[2], t, file_time, &d, &msg);
	bool want_error = pdp_ymap_get(v[3], "error") != NULL;
	if (e == PDP_OK) {
		check_decision(r, c, v[0]->str, v[3], &d);
	} else if (want_error) {
		r->passed++;
	} else {
		bool first = true;
		fail_head(r, c, v[0]->str, &first);
		printf("  request rejected: %s\n", msg.data ? msg.data : pdp_err_str(e));
	}
	pdp_buf_done(&msg);
	pdp_arena_reset(r->scratch);
}

static void run_file(struct run *r, const char *path, pdp_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	if (pdp_file_read(path, 64u << 20, &data, &len) != PDP_OK) {
		pdp_diag_error(diag, path, 0, 0, "cannot read the test file");
		return;
	}
	pdp_arena *a = pdp_arena_new(1 << 16);
	pdp_ynode *root = NULL;
	static const pdp_ykey keys[] = { { "time", PDP_Y_SCALAR, 0 }, { "cases", PDP_Y_SEQ, PDP_YK_REQUIRED } };
	pdp_ynode *v[2];
	int64_t t = INT64_MIN;
	if (pdp_yaml_parse(path, data, len, a, diag, &root) == PDP_OK &&
	    pdp_ymap_read(root, keys, 2, "test file", diag, v)) {
		if (v[0] && !case_time(v[0], &t))
			pdp_diag_error(diag, path, v[0]->line, v[0]->col, "time: not a date or RFC 3339 time");
		for (size_t i = 0; v[1] && i < v[1]->n; i++)
			run_case(r, v[1]->items[i], t, diag);
	}
	pdp_arena_free(a);
	free(data);
}

int pdp_cmd_test(int argc, char **argv)
{
	if (pdp_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 3) {
		fputs(usage, stderr);
		return 2;
	}
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_policy *p = NULL;
	if (pdp_policy_from_dir(argv[1], &d, &p) != PDP_OK) {
		pdp_diag_print(&d, stderr);
		fprintf(stderr, "pdp test: the policy does not compile\n");
		pdp_diag_done(&d);
		return 1;
	}
	pdp_diag_done(&d);
	pdp_diag_init(&d);
	struct run r = { .p = p, .scratch = pdp_arena_new(1 << 16) };
	for (int i = 2; i < argc; i++)
		run_file(&r, argv[i], &d);
	pdp_diag_print(&d, stdout);
	size_t bad = r.failed + d.errors;
	printf("%zu passed, %zu failed\n", r.passed, bad);
	pdp_arena_free(r.scratch);
	pdp_diag_done(&d);
	pdp_policy_unref(p);
	return bad ? 1 : 0;
}
