/*
 * cmd_compile.c -- `pdp compile POLICY_DIR -o BUNDLE [--sign KEY]
 * [--baseline OLD_BUNDLE]`: check, compile, optionally sign, write
 * atomically, and verify the written bytes load.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "pdp/policy.h"

static const char usage[] =
	"usage: pdp compile POLICY_DIR -o BUNDLE [--sign KEY.pem] [--baseline OLD_BUNDLE]\n"
	"\n"
	"Runs every governance check (as `pdp check`), then writes the compiled\n"
	"bundle atomically. --sign appends an Ed25519 signature made with the PEM\n"
	"private key; --baseline rejects removed or retyped columns without a\n"
	"major version bump against an older bundle. Prints the revision.\n"
	"Exit 0 on success, 1 on policy errors, 2 on usage or I/O errors.\n";

struct opts {
	const char *dir, *out, *sign, *baseline;
};

static bool parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_val)
			o->out = argv[++i];
		else if (!strcmp(a, "--sign") && has_val)
			o->sign = argv[++i];
		else if (!strcmp(a, "--baseline") && has_val)
			o->baseline = argv[++i];
		else if (a[0] != '-' && !o->dir)
			o->dir = a;
		else
			return false;
	}
	return o->dir && o->out;
}

static int load_baseline(const char *path, pdp_policy **ret)
{
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	enum pdp_err e = pdp_bundle_load_file(path, NULL, ret, &msg);
	if (e != PDP_OK)
		fprintf(stderr, "pdp compile: baseline %s: %s\n", path, msg.data ? msg.data : pdp_err_str(e));
	pdp_buf_done(&msg);
	return e == PDP_OK ? 0 : 2;
}

static int finish(const struct opts *o, pdp_buf *bundle)
{
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_policy *p = NULL;
	enum pdp_err e = o->sign ? pdp_bundle_sign(bundle, o->sign, &msg) : PDP_OK;
	if (e == PDP_OK)
		e = pdp_bundle_load((const uint8_t *)bundle->data, bundle->len, NULL, &p, &msg);
	if (e != PDP_OK) {
		fprintf(stderr, "pdp compile: %s\n", msg.data ? msg.data : pdp_err_str(e));
		pdp_buf_done(&msg);
		return 2;
	}
	pdp_buf_done(&msg);
	if (pdp_cli_write_atomic(o->out, bundle->data, bundle->len) != PDP_OK) {
		perror(o->out);
		pdp_policy_unref(p);
		return 2;
	}
	printf("%s: %zu products, %zu grants, %zu bytes%s\nrevision %s\n", o->out,
	       pdp_policy_nproducts(p), pdp_policy_ngrants(p), bundle->len,
	       o->sign ? ", signed" : "", pdp_policy_revision(p));
	pdp_policy_unref(p);
	return 0;
}

int pdp_cmd_compile(int argc, char **argv)
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
	pdp_policy *baseline = NULL;
	if (o.baseline && load_baseline(o.baseline, &baseline) != 0)
		return 2;
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_buf bundle;
	pdp_buf_init(&bundle, PDP_BUNDLE_MAX_SIZE);
	enum pdp_err e = pdp_policy_compile_dir(o.dir, baseline, &d, &bundle);
	pdp_diag_print(&d, stderr);
	int rc = 0;
	if (e != PDP_OK || d.errors) {
		fprintf(stderr, "%zu errors, %zu warnings: no bundle written\n", d.errors, d.warnings);
		rc = d.errors ? 1 : 2;
	} else {
		rc = finish(&o, &bundle);
	}
	pdp_buf_done(&bundle);
	pdp_diag_done(&d);
	pdp_policy_unref(baseline);
	return rc;
}
