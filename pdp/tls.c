/*
 * tls.c -- SSL_CTX for mutual TLS, per-connection state, and the caller
 * identity (SPEC 1: the first URI SAN, else the subject CN).
 *
 * Design: the verified peer certificate is required at the handshake
 * (SSL_VERIFY_FAIL_IF_NO_PEER_CERT), so no request is ever served to an
 * unauthenticated client; a missing or foreign certificate fails the
 * handshake with an alert, counted through the info callback.
 * The OpenSSL error queue is drained into the error message (ngx_ssl_error).
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static int ctx_counter_idx = -1;

int pdp_tls_init(void)
{
	ctx_counter_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return ctx_counter_idx >= 0 ? 0 : -1;
}

static void drain_errors(pdp_buf *err)
{
	unsigned long e;
	while ((e = ERR_get_error()) != 0) {
		char buf[256];
		ERR_error_string_n(e, buf, sizeof(buf));
		pdp_ignore(pdp_buf_printf(err, " (%s)", buf)); /* best effort */
	}
}

static void info_cb(const SSL *ssl, int where, int ret)
{
	if (!(where & SSL_CB_WRITE_ALERT) || ((ret >> 8) & 0xff) != SSL3_AL_FATAL)
		return;
	atomic_ulong *n = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_counter_idx);
	if (n)
		atomic_fetch_add(n, 1);
}

SSL_CTX *pdp_tls_ctx_new(const char *cert, const char *key, const char *ca,
			 atomic_ulong *handshake_failures, pdp_buf *err)
{
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	const char *what = NULL;
	if (!ctx)
		what = "SSL_CTX_new";
	else if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		what = "TLS 1.2 minimum";
	else if (!SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20"))
		what = "cipher list";
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		what = "tls.cert";
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		what = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
			       ? "tls.key does not match tls.cert" : "tls.key";
	else if (SSL_CTX_check_private_key(ctx) != 1)
		what = "tls.key does not match tls.cert";
	else if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		what = "tls.client_ca";
	if (what) {
		pdp_ignore(pdp_buf_printf(err, "TLS set-up failed: %s", what));
		drain_errors(err);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				      SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	SSL_CTX_set_read_ahead(ctx, 1); /* one read(2) for a request's records */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	static const unsigned char sid_ctx[] = "meshpdp";
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_ex_data(ctx, ctx_counter_idx, handshake_failures);
	SSL_CTX_set_info_callback(ctx, info_cb);
	return ctx;
}

static char *identity_of(X509 *peer)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
	char *id = NULL;
	for (int i = 0; sans && !id && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type != GEN_URI)
			continue;
		const ASN1_IA5STRING *u = g->d.uniformResourceIdentifier;
		id = pdp_xstrndup((const char *)ASN1_STRING_get0_data(u), (size_t)ASN1_STRING_length(u));
	}
	GENERAL_NAMES_free(sans);
	if (id)
		return id;
	char cn[256];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
	return n > 0 ? pdp_xstrndup(cn, (size_t)n) : pdp_xstrndup("", 0);
}

char *pdp_tls_peer_identity(SSL *ssl)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char *id = peer && SSL_get_verify_result(ssl) == X509_V_OK ? identity_of(peer) : NULL;
	X509_free(peer);
	return id;
}
