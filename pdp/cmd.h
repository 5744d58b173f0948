/*
 * cmd.h -- the `pdp` subcommands. Each returns the process exit status:
 * 0 success, 1 a finding (policy errors, failed tests, bad audit log),
 * 2 a usage or operational error.
 */
#ifndef PDP_CMD_H
#define PDP_CMD_H

int pdp_cmd_audit(int argc, char **argv);
int pdp_cmd_check(int argc, char **argv);
int pdp_cmd_compile(int argc, char **argv);
int pdp_cmd_eval(int argc, char **argv);
int pdp_cmd_test(int argc, char **argv);
int pdp_cmd_version(int argc, char **argv);
int pdp_cmd_bundle(int argc, char **argv);
int pdp_cmd_grants(int argc, char **argv);
int pdp_cmd_serve(int argc, char **argv);

#define PDP_VERSION "0.1.0"

#endif
