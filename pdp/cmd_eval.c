/*
 * cmd_eval.c -- `pdp eval --bundle B [--explain] [--time T] [FILE|-]`:
 * decide offline. The input is one JSON request, or JSON lines (one request
 * per line, answered one response line each, in order). A request that is
 * rejected answers {"error":{...}} on its line and the exit status is 1.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd.h"
#include "pdp/eval.h"

static const char usage[] =
	"usage: pdp eval --bundle BUNDLE [--pubkey KEY.pem] [--explain] [--time T]\n"
	"                [--mask-salt S] [FILE|-]\n"
	"\n"
	"Reads one JSON request, or a JSON-lines stream of requests, from FILE or\n"
	"standard input and prints the SPEC 4 response for each (one line each).\n"
	"The decision time is --time (RFC 3339 or YYYY-MM-DD), else the request's\n"
	"context.time, else the clock. --explain writes why to standard error.\n"
	"--mask-salt is the secret mixed into hash masks (as the server's mask_salt).\n"
	"Exit 0 if every request was answered, 1 if any was rejected, 2 on usage\n"
	"or bundle errors.\n";

struct opts {
	const char *bundle, *pubkey, *input, *salt;
	bool explain, has_time;
	int64_t time;
};

static bool parse_args(int argc, char **argv, struct opts *o)
{
	o->input = "-";
	bool have_input = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (!strcmp(a, "--bundle") && has_val) {
			o->bundle = argv[++i];
		} else if (!strcmp(a, "--pubkey") && has_val) {
			o->pubkey = argv[++i];
		} else if (!strcmp(a, "--mask-salt") && has_val) {
			o->salt = argv[++i];
		} else if (!strcmp(a, "--explain")) {
			o->explain = true;
		} else if (!strcmp(a, "--time") && has_val) {
			if (!pdp_parse_time(pdp_str_c(argv[++i]), &o->time)) {
				fprintf(stderr, "pdp eval: --time: not an RFC 3339 time or a date: %s\n", argv[i]);
				return false;
			}
			o->has_time = true;
		} else if ((a[0] != '-' || !strcmp(a, "-")) && !have_input) {
			o->input = a;
			have_input = true;
		} else {
			return false;
		}
	}
	return o->bundle != NULL;
}

static void print_error(enum pdp_err e, const pdp_buf *msg)
{
	pdp_buf out;
	pdp_buf_init(&out, 0);
	const char *code = e == PDP_E_PARSE ? "bad_json" : e == PDP_E_LIMIT ? "limit" : "bad_request";
	pdp_ignore(pdp_buf_printf(&out, "{\"error\":{\"code\":\"%s\",\"message\":", code));
	pdp_ignore(pdp_buf_add_json_str(&out, (pdp_str){ msg->data ? msg->data : "", msg->len }));
	pdp_ignore(pdp_buf_adds(&out, "}}"));
	puts(out.data ? out.data : "");
	pdp_buf_done(&out);
}

/* Decides one request; returns false if it was rejected. */
static bool answer(const pdp_policy *p, const struct opts *o, const char *json, size_t len,
		   pdp_arena *a)
{
	pdp_request req;
	pdp_decision dec;
	pdp_buf msg, out;
	pdp_buf_init(&msg, 4096);
	pdp_buf_init(&out, 0);
	enum pdp_err e = pdp_request_parse(json, len, NULL, a, &req, &msg);
	if (e == PDP_OK) {
		if (o->has_time)
			req.time = o->time;
		else if (!req.has_time)
			req.time = (int64_t)time(NULL);
		e = pdp_eval_decide(p, &req, a, &dec, &msg);
	}
	if (e == PDP_OK)
		e = pdp_decision_to_json(&dec, &req, PDP_STR_NULL, -1, pdp_str_c(o->salt ? o->salt : ""), &out);
	if (e == PDP_OK && o->explain) {
		pdp_buf ex;
		pdp_buf_init(&ex, 0);
		if (pdp_eval_explain(p, &req, &dec, &ex) == PDP_OK)
			fputs(ex.data ? ex.data : "", stderr);
		pdp_buf_done(&ex);
	}
	if (e == PDP_OK)
		puts(out.data);
	else
		print_error(e, &msg);
	pdp_buf_done(&msg);
	pdp_buf_done(&out);
	pdp_arena_reset(a);
	return e == PDP_OK;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* JSON lines when the first non-blank line is a whole JSON value and more
 * lines follow; otherwise the whole input is one request. */
static bool is_json_lines(const char *data, size_t len)
{
	const char *s = data;
	while (s < data + len && (*s == '\n' || is_blank(s, 1)))
		s++;
	const char *nl = memchr(s, '\n', (size_t)(data + len - s));
	if (!nl || is_blank(nl, (size_t)(data + len - nl)))
		return false;
	json_t *v = json_loadb(s, (size_t)(nl - s), 0, NULL);
	json_decref(v);
	return v != NULL;
}

static int run(const pdp_policy *p, const struct opts *o, const char *data, size_t len)
{
	pdp_arena *a = pdp_arena_new(1 << 16);
	int rc = 0;
	if (!is_json_lines(data, len)) {
		rc = answer(p, o, data, len, a) ? 0 : 1;
		pdp_arena_free(a);
		return rc;
	}
	for (const char *s = data; s < data + len;) {
		const char *nl = memchr(s, '\n', (size_t)(data + len - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(data + len - s);
		if (!is_blank(s, n) && !answer(p, o, s, n, a))
			rc = 1;
		s += n + 1;
	}
	pdp_arena_free(a);
	return rc;
}

static int load(const struct opts *o, pdp_policy **ret)
{
	uint8_t pub[32];
	pdp_bundle_opts bo = { 0 };
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	enum pdp_err e = PDP_OK;
	if (o->pubkey && (e = pdp_key_load_public(o->pubkey, pub, &msg)) == PDP_OK)
		bo.pubkey = pub;
	if (e == PDP_OK)
		e = pdp_bundle_load_file(o->bundle, &bo, ret, &msg);
	if (e != PDP_OK)
		fprintf(stderr, "pdp eval: %s\n", msg.data ? msg.data : pdp_err_str(e));
	pdp_buf_done(&msg);
	return e == PDP_OK ? 0 : 2;
}

int pdp_cmd_eval(int argc, char **argv)
{
	if (pdp_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	struct opts o = { 0 };
	if (!parse_args(argc, argv, &o)) {
		fputs(usage, stderr);
		return 2;
	}
	pdp_policy *p = NULL;
	if (load(&o, &p) != 0)
		return 2;
	char *data = NULL;
	size_t len = 0;
	if (pdp_cli_read_input(o.input, 1u << 30, &data, &len) != PDP_OK) {
		fprintf(stderr, "pdp eval: cannot read %s\n", o.input);
		pdp_policy_unref(p);
		return 2;
	}
	int rc = run(p, &o, data, len);
	free(data);
	pdp_policy_unref(p);
	return rc;
}
