/*
 * main.c -- `pdp` dispatches to its subcommands (cmd_*.c).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "serve", pdp_cmd_serve, "serve -c pdp.yaml            serve decisions over mutual TLS" },
	{ "audit", pdp_cmd_audit, "audit verify|show|checkpoint DIR  check or read an audit log" },
	{ "check", pdp_cmd_check, "check POLICY_DIR            governance checks, all problems at once" },
	{ "compile", pdp_cmd_compile, "compile POLICY_DIR -o BUNDLE  check and write a bundle" },
	{ "eval", pdp_cmd_eval, "eval --bundle B [REQUEST.json|-]  decide requests offline" },
	{ "test", pdp_cmd_test, "test POLICY_DIR CASES...     run YAML policy test cases" },
	{ "bundle", pdp_cmd_bundle, "bundle verify|info BUNDLE [--pubkey KEY]  check a bundle as a server would" },
	{ "grants", pdp_cmd_grants, "grants export|diff ...         Lake Formation / IAM / JSON grant export, access diff" },
	{ "version", pdp_cmd_version, "version                     print the version" },
};

static void usage(FILE *out)
{
	fputs("usage: pdp COMMAND [ARGS]   (pdp COMMAND --help for details)\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return pdp_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "pdp: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
