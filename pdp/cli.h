/*
 * cli.h -- small helpers shared by the subcommands.
 */
#ifndef PDP_CLI_H
#define PDP_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/buf.h"
#include "pdp/err.h"

/* True if argv[i] is --help or -h for any i ≥ 1. */
bool pdp_cli_wants_help(int argc, char **argv);
/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. */
PDP_MUST_USE enum pdp_err pdp_cli_write_atomic(const char *path, const void *data, size_t len);
/* Reads a file, or standard input for "-" (at most max bytes). */
PDP_MUST_USE enum pdp_err pdp_cli_read_input(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
