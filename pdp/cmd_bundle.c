/*
 * cmd_bundle.c -- `pdp bundle verify|info BUNDLE [--pubkey KEY]`: check a
 * bundle on its own, the way a server would before loading it (digest,
 * structure, and the Ed25519 signature when a key is given).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "pdp/policy.h"

static const char usage[] =
	"usage: pdp bundle verify BUNDLE [--pubkey KEY.pem]\n"
	"       pdp bundle info BUNDLE\n"
	"\n"
	"verify: loads the bundle exactly as a server would (format, digest,\n"
	"every table) and, with --pubkey, requires a valid Ed25519 signature by\n"
	"that key. Exit 0 if it would load, 1 if not, 2 on usage errors.\n"
	"info: prints the revision, whether it is signed, and its size.\n";

int pdp_cmd_bundle(int argc, char **argv)
{
	if (pdp_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	const char *sub = argc > 1 ? argv[1] : NULL, *path = argc > 2 ? argv[2] : NULL, *key = NULL;
	if (argc == 5 && !strcmp(argv[3], "--pubkey"))
		key = argv[4];
	else if (argc != 3)
		sub = NULL;
	if (!sub || !path || (strcmp(sub, "verify") && strcmp(sub, "info")) || (key && strcmp(sub, "verify"))) {
		fputs(usage, stderr);
		return 2;
	}
	uint8_t pub[32];
	pdp_bundle_opts opts = { 0 };
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_policy *p = NULL;
	enum pdp_err e = key ? pdp_key_load_public(key, pub, &msg) : PDP_OK;
	if (e != PDP_OK) {
		fprintf(stderr, "pdp bundle: %s\n", msg.data);
		pdp_buf_done(&msg);
		return 2;
	}
	opts.pubkey = key ? pub : NULL;
	e = pdp_bundle_load_file(path, &opts, &p, &msg);
	if (e != PDP_OK) {
		fprintf(stderr, "%s: REFUSED: %s\n", path, msg.data ? msg.data : pdp_err_str(e));
		pdp_buf_done(&msg);
		return 1;
	}
	printf("%s: %s\nrevision %s\n%s, %zu products, %zu grants\n", path,
	       key ? "OK, signature verified" : "OK", pdp_policy_revision(p),
	       pdp_policy_is_signed(p) ? "signed" : "unsigned", pdp_policy_nproducts(p),
	       pdp_policy_ngrants(p));
	pdp_policy_unref(p);
	pdp_buf_done(&msg);
	return 0;
}
