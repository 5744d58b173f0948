/*
 * tls.h -- the server's TLS: mutual authentication and caller identity.
 */
#ifndef PDP_TLS_H
#define PDP_TLS_H

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "pdp/buf.h"

/* A server context: TLS 1.2+, modern ciphers, a client certificate
 * required and verified against ca; fatal alerts it sends are counted in
 * handshake_failures. */
SSL_CTX *pdp_tls_ctx_new(const char *cert, const char *key, const char *ca,
			 atomic_ulong *handshake_failures, pdp_buf *err);
/* The verified peer's caller identity (SPEC 1: first URI SAN, else CN;
 * malloc'd, the caller frees), NULL when no certificate was verified. */
char *pdp_tls_peer_identity(SSL *ssl);
/* One-time process set-up (ex_data index); call before any thread. */
int pdp_tls_init(void);

#endif
