/*
 * tls.h -- the server's TLS: mutual authentication and caller identity.
 */
#ifndef PDP_TLS_H
#define PDP_TLS_H

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "pdp/buf.h"

/* Per-connection state, kept in the SSL object's ex_data and freed with
 * it (so the count of live SSL objects is the count of open connections). */
typedef struct pdp_conn {
	atomic_int *open_count;  /* the owning worker's counter */
	char *identity;          /* first URI SAN, else CN; NULL until asked */
	int over_limit;          /* accepted beyond max_connections: 503 */
} pdp_conn;

/* TLS 1.2+ server context requiring a client certificate signed by ca.
 * On failure returns NULL with the reason (and the OpenSSL error queue) in
 * err. `handshake_failures` is incremented on every fatal alert we send. */
SSL_CTX *pdp_tls_ctx_new(const char *cert, const char *key, const char *ca,
			 atomic_ulong *handshake_failures, pdp_buf *err);
/* A new SSL for an accepted connection, with its pdp_conn attached. */
SSL *pdp_tls_new_conn(SSL_CTX *ctx, atomic_int *open_count, int max_open);
pdp_conn *pdp_tls_conn(SSL *ssl);
/* The caller identity of the verified peer (borrowed from the conn). */
const char *pdp_tls_identity(SSL *ssl);
/* One-time process set-up (ex_data index); call before any thread. */
int pdp_tls_init(void);

#endif
