/*
 * config.h -- the server configuration (pdp.yaml), with documented
 * defaults (README "Configuration").
 */
#ifndef PDP_CONFIG_H
#define PDP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdp/diag.h"

typedef struct pdp_config {
	char *listen_host;
	int listen_port;
	char *tls_cert, *tls_key, *tls_ca;
	char *bundle, *bundle_pubkey;
	int threads;                 /* 0 = number of cores */
	size_t max_body;             /* bytes */
	size_t max_headers;          /* bytes */
	int read_timeout_ms;         /* slow clients: handshake, whole request */
	int idle_timeout_ms;         /* keep-alive connections between requests */
	int max_connections;         /* per server */
	int max_batch;
	int max_depth;
	char *mask_salt;
	char *log_level;             /* debug|info|warn|error */
	int bundle_watch_ms;         /* 0 = no polling of the bundle file */
	char *audit_dir;             /* NULL = no audit log (not recommended) */
	char *audit_log_id, *audit_key, *audit_fsync, *audit_witness_dir, *audit_hmac_key;
	int audit_fsync_interval_ms, audit_checkpoint_every_ms, audit_wait_ms, audit_fail_timeout_ms;
	size_t audit_segment_max, audit_checkpoint_every, audit_queue_max;
	bool audit_new_chain;        /* a corrupt log: start a new chain naming the old head */
} pdp_config;

/* Reads the YAML file; every problem goes to d with its position. */
bool pdp_config_load(const char *path, pdp_config *ret, pdp_diag *d);
void pdp_config_done(pdp_config *c);

#endif
