/*
 * bundle_sign.c -- Ed25519 signatures on bundles, and key files.
 *
 * A signed bundle ends with a trailer: "SIG1", the signer's raw 32-byte
 * public key, and a 64-byte Ed25519 signature over every byte before the
 * trailer (header + body; the header holds the revision digest). A loader
 * configured with a public key accepts only bundles signed by that key; a
 * loader without one still checks that a trailer present is intact.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "bundle_int.h"

bool pdp_ed25519_verify(const uint8_t pub[32], const uint8_t sig[64], const void *msg, size_t len)
{
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = key && ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		  EVP_DigestVerify(ctx, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

enum pdp_err pdp_bundle_check_signature(const uint8_t *data, size_t len, size_t body_len,
					bool has_sig, const uint8_t *pubkey, pdp_buf *errmsg)
{
	size_t signed_len = PDP_BUNDLE_HEADER + body_len;
	if (!has_sig) {
		if (!pubkey)
			return PDP_OK;
		if (errmsg)
			pdp_ignore(pdp_buf_adds(errmsg, "bundle is not signed, and a signing key is required"));
		PDP_BAIL(PDP_E_SIGNATURE);
	}
	PDP_BUG_ON(len != signed_len + PDP_BUNDLE_TRAILER);
	const uint8_t *t = data + signed_len;
	const char *why = NULL;
	if (memcmp(t, PDP_BUNDLE_SIG_MAGIC, 4) != 0)
		why = "bundle has a malformed signature trailer";
	else if (pubkey && CRYPTO_memcmp(t + 4, pubkey, 32) != 0)
		why = "bundle is signed by a different key than the one configured";
	else if (!pdp_ed25519_verify(t + 4, t + 36, data, signed_len))
		why = "bundle signature does not verify";
	if (!why)
		return PDP_OK;
	if (errmsg)
		pdp_ignore(pdp_buf_adds(errmsg, why));
	PDP_BAIL(PDP_E_SIGNATURE);
}

static EVP_PKEY *read_key(const char *path, bool private_key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
				  : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!private_key && !k) {
		f = fopen(path, "r");
		if (!f)
			return NULL;
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

enum pdp_err pdp_key_load_public(const char *path, uint8_t ret_pub[32], pdp_buf *errmsg)
{
	EVP_PKEY *k = read_key(path, false);
	size_t n = 32;
	uint8_t pub[32];
	bool ok = k && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32;
	EVP_PKEY_free(k);
	if (!ok) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: not a readable Ed25519 PEM key", path));
		PDP_BAIL(PDP_E_INVALID);
	}
	memcpy(ret_pub, pub, 32);
	return PDP_OK;
}

enum pdp_err pdp_bundle_sign(pdp_buf *bundle, const char *key_path, pdp_buf *errmsg)
{
	EVP_PKEY *k = read_key(key_path, true);
	if (!k) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: not a readable Ed25519 private key (PEM)", key_path));
		PDP_BAIL(PDP_E_INVALID);
	}
	uint8_t trailer[PDP_BUNDLE_TRAILER];
	memcpy(trailer, PDP_BUNDLE_SIG_MAGIC, 4);
	size_t publen = 32, siglen = 64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_PKEY_get_raw_public_key(k, trailer + 4, &publen) == 1 &&
		  EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
		  EVP_DigestSign(ctx, trailer + 36, &siglen, (const uint8_t *)bundle->data, bundle->len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	if (!ok || publen != 32 || siglen != 64) {
		if (errmsg)
			pdp_ignore(pdp_buf_adds(errmsg, "signing the bundle failed"));
		PDP_BAIL(PDP_E_SIGNATURE);
	}
	return pdp_buf_add(bundle, trailer, sizeof(trailer));
}
