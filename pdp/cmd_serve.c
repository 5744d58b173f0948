/*
 * cmd_serve.c -- `pdp serve -c pdp.yaml`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "server.h"

static const char usage[] =
	"usage: pdp serve -c pdp.yaml\n"
	"\n"
	"Serves decisions over mutual TLS (SPEC 4). The configuration keys and\n"
	"their defaults are in the README. SIGHUP reloads the bundle and the TLS\n"
	"files; SIGTERM/SIGINT drain and exit 0. Exit 2 if it cannot start.\n";

int pdp_cmd_serve(int argc, char **argv)
{
	if (pdp_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		fputs(usage, stderr);
		return 2;
	}
	pdp_server s;
	memset(&s, 0, sizeof(s));
	pdp_diag d;
	pdp_diag_init(&d);
	if (!pdp_config_load(argv[2], &s.cfg, &d)) {
		pdp_diag_print(&d, stderr);
		fprintf(stderr, "pdp serve: bad configuration, not starting\n");
		pdp_diag_done(&d);
		return 2;
	}
	pdp_diag_done(&d);
	int level = pdp_log_parse_level(s.cfg.log_level);
	if (level < 0) {
		fprintf(stderr, "%s: log.level: expected debug, info, warn or error\n", argv[2]);
		pdp_config_done(&s.cfg);
		return 2;
	}
	pdp_log_set_level((enum pdp_log_level)level);
	int rc = pdp_server_run(&s);
	pdp_config_done(&s.cfg);
	return rc;
}
