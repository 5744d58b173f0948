/* cmd_check.c -- placeholder while the command is being written. */
#include <stdio.h>
#include "cmd.h"
int pdp_cmd_check(int argc, char **argv)
{
	(void)argc; (void)argv;
	fputs("pdp check: not built yet\n", stderr);
	return 2;
}
