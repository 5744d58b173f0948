/* cmd_compile.c -- placeholder while the command is being written. */
#include <stdio.h>
#include "cmd.h"
int pdp_cmd_compile(int argc, char **argv)
{
	(void)argc; (void)argv;
	fputs("pdp compile: not built yet\n", stderr);
	return 2;
}
