/* cmd_test.c -- placeholder while the command is being written. */
#include <stdio.h>
#include "cmd.h"
int pdp_cmd_test(int argc, char **argv)
{
	(void)argc; (void)argv;
	fputs("pdp test: not built yet\n", stderr);
	return 2;
}
