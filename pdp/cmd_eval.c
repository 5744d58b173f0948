/* cmd_eval.c -- placeholder while the command is being written. */
#include <stdio.h>
#include "cmd.h"
int pdp_cmd_eval(int argc, char **argv)
{
	(void)argc; (void)argv;
	fputs("pdp eval: not built yet\n", stderr);
	return 2;
}
