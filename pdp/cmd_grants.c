/*
 * cmd_grants.c -- `pdp grants export` and `pdp grants diff`: the grant
 * export of SPEC 6 (docs/grant-export.md) from the command line.
 *
 *   pdp grants export --bundle B --format lakeformation|iam|json
 *                     [--catalog-id ID] [--region R] [--time T]
 *                     [--pubkey KEY] [-o FILE]
 *   pdp grants diff OLD_BUNDLE NEW_BUNDLE [--time T] [--pubkey KEY]
 *
 * The export writes the same bytes as GET /v1/grants (pdp_grants_export)
 * to standard output or, with -o, atomically to FILE; notes (what stays at
 * the gateway, groups without a principal, the validity window) go to
 * standard error. The diff exits 0 when nothing changes, 1 when access
 * changes (like diff(1)), 2 on errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd.h"
#include "pdp/eval.h"
#include "pdp/grants.h"

static const char usage[] =
	"usage: pdp grants export --bundle BUNDLE --format lakeformation|iam|json\n"
	"                         [--catalog-id ID] [--region R] [--time T]\n"
	"                         [--pubkey KEY.pem] [-o FILE]\n"
	"       pdp grants diff OLD_BUNDLE NEW_BUNDLE [--time T] [--pubkey KEY.pem]\n"
	"\n"
	"export: what the policy lets each group's principal (mesh.principals)\n"
	"read in the lake, as Lake Formation request bodies, IAM policy documents,\n"
	"or the flat list of effective grants (docs/grant-export.md). Grants are\n"
	"taken as active at --time (RFC 3339 or YYYY-MM-DD; default: now). Row\n"
	"filters need --catalog-id (the account id). Notes go to standard error.\n"
	"diff: who gains and who loses which access between two bundles (at\n"
	"--time), for review. Exit 0 no change, 1 changes, 2 errors.\n";

struct opts {
	const char *bundle, *format, *out, *pubkey;
	const char *args[2];
	int nargs;
	pdp_grants_opts g;
	bool has_time;
};

static bool take_time(const char *s, struct opts *o)
{
	if (!pdp_parse_time(pdp_str_c(s), &o->g.time)) {
		fprintf(stderr, "pdp grants: --time: not an RFC 3339 time or a date: %s\n", s);
		return false;
	}
	o->has_time = true;
	return true;
}

static bool parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool val = i + 1 < argc;
		if (!strcmp(a, "--bundle") && val)
			o->bundle = argv[++i];
		else if (!strcmp(a, "--format") && val)
			o->format = argv[++i];
		else if (!strcmp(a, "--catalog-id") && val)
			o->g.catalog_id = argv[++i];
		else if (!strcmp(a, "--region") && val)
			o->g.region = argv[++i];
		else if (!strcmp(a, "--pubkey") && val)
			o->pubkey = argv[++i];
		else if (!strcmp(a, "-o") && val)
			o->out = argv[++i];
		else if (!strcmp(a, "--time") && val) {
			if (!take_time(argv[++i], o))
				return false;
		} else if (a[0] != '-' && o->nargs < 2)
			o->args[o->nargs++] = a;
		else
			return false;
	}
	if (!o->has_time)
		o->g.time = (int64_t)time(NULL);
	return true;
}

static pdp_policy *load(const char *path, const char *pubkey)
{
	uint8_t pub[32];
	pdp_bundle_opts bo = { 0 };
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_policy *p = NULL;
	enum pdp_err e = PDP_OK;
	if (pubkey && (e = pdp_key_load_public(pubkey, pub, &msg)) == PDP_OK)
		bo.pubkey = pub;
	if (e == PDP_OK)
		e = pdp_bundle_load_file(path, &bo, &p, &msg);
	if (e != PDP_OK)
		fprintf(stderr, "pdp grants: %s: %s\n", path, msg.data ? msg.data : pdp_err_str(e));
	pdp_buf_done(&msg);
	return e == PDP_OK ? p : NULL;
}

static int write_out(const struct opts *o, const pdp_buf *b)
{
	if (o->out) {
		if (pdp_cli_write_atomic(o->out, b->data, b->len) != PDP_OK) {
			fprintf(stderr, "pdp grants: cannot write %s\n", o->out);
			return 2;
		}
		return 0;
	}
	if (b->len && fwrite(b->data, 1, b->len, stdout) != b->len)
		return 2;
	return fflush(stdout) == 0 ? 0 : 2;
}

static int export(struct opts *o)
{
	enum pdp_grants_format f;
	if (!o->bundle || !o->format || o->nargs) {
		fputs(usage, stderr);
		return 2;
	}
	if (!pdp_grants_format_parse(pdp_str_c(o->format), &f)) {
		fprintf(stderr, "pdp grants: unknown format '%s' (lakeformation, iam, json)\n", o->format);
		return 2;
	}
	pdp_policy *p = load(o->bundle, o->pubkey);
	if (!p)
		return 2;
	pdp_buf out, notes;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&notes, 1u << 20);
	enum pdp_err e = pdp_grants_export(p, f, &o->g, &out, &notes);
	if (notes.len)
		fputs(notes.data, stderr);
	int rc = e == PDP_OK ? write_out(o, &out) : 2;
	pdp_buf_done(&out);
	pdp_buf_done(&notes);
	pdp_policy_unref(p);
	return rc;
}

static int diff(struct opts *o)
{
	if (o->nargs != 2 || o->bundle || o->format || o->out || o->g.catalog_id || o->g.region) {
		fputs(usage, stderr);
		return 2;
	}
	pdp_policy *old_p = load(o->args[0], o->pubkey), *new_p = old_p ? load(o->args[1], o->pubkey) : NULL;
	if (!new_p) {
		pdp_policy_unref(old_p);
		return 2;
	}
	pdp_buf out;
	pdp_buf_init(&out, 0);
	size_t changes = 0;
	enum pdp_err e = pdp_grants_diff(old_p, new_p, &o->g, &out, &changes);
	int rc = e != PDP_OK ? 2 : write_out(o, &out);
	if (rc == 0 && changes)
		rc = 1;
	pdp_buf_done(&out);
	pdp_policy_unref(old_p);
	pdp_policy_unref(new_p);
	return rc;
}

int pdp_cmd_grants(int argc, char **argv)
{
	if (pdp_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	struct opts o = { 0 };
	if (argc < 2 || !parse_args(argc, argv, &o)) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "export"))
		return export(&o);
	if (!strcmp(argv[1], "diff"))
		return diff(&o);
	fputs(usage, stderr);
	return 2;
}
