/*
 * cmd_version.c -- `pdp version`: the program and library versions.
 */
#include <jansson.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cmd.h"
#include "pdp/model.h"

int pdp_cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: pdp version\n\nPrints the meshpdp version, the policy apiVersion and the\nlibraries it was built with.");
		return 0;
	}
	printf("pdp %s (policy %s; %s; jansson %s; libyaml %s)\n", PDP_VERSION,
	       PDP_API_VERSION, OPENSSL_VERSION_TEXT, JANSSON_VERSION, yaml_get_version_string());
	return 0;
}
