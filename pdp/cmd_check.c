/*
 * cmd_check.c -- `pdp check POLICY_DIR`: load a policy directory, run the
 * governance checks, print every diagnostic at once.
 *
 * Design: like `nginx -t` / `unbound-checkconf`: nothing is compiled or
 * written. All diagnostics (loader and checks) are collected in one sink,
 * printed sorted by file:line:col to stderr, then a summary line
 * "N errors, N warnings". Exit 0 without errors (warnings allowed), 1 with
 * errors, 2 on usage errors or when the directory cannot be read.
 *
 * Ownership: the source model and the sink live for the call only.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "pdp/model.h"

static const char check_usage[] =
	"usage: pdp check POLICY_DIR\n"
	"\n"
	"Loads POLICY_DIR (mesh.yaml, domains/<d>/domain.yaml,\n"
	"domains/<d>/products/*.yaml) and runs the governance checks. Every\n"
	"problem is printed at once to stderr as `file:line:col: error: message`\n"
	"(or `warning:`), followed by a line `N errors, N warnings`.\n"
	"\n"
	"Exit status: 0 no errors (warnings allowed), 1 errors found,\n"
	"2 usage error or unreadable directory.\n"
	"See docs/policy-language.md for the language and the list of checks.\n";

int pdp_cmd_check(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(check_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fputs(check_usage, stderr);
		return 2;
	}
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_src *src = NULL;
	int status = 2;
	if (pdp_src_load_dir(argv[1], &d, &src) == PDP_OK) {
		pdp_src_check(src, NULL, &d);
		status = d.errors ? 1 : 0;
	}
	pdp_diag_print(&d, stderr);
	fprintf(stderr, "%zu errors, %zu warnings\n", d.errors, d.warnings);
	pdp_src_free(src);
	pdp_diag_done(&d);
	return status;
}
