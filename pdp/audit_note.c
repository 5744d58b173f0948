/*
 * audit_note.c -- checkpoints as C2SP signed notes (tlog-checkpoint), the
 * Ed25519 keys that sign them, and strict base64.
 *
 * Design: a checkpoint is the note text
 *
 *   <origin>\n<tree size>\n<base64 RFC 6962 root>\n
 *
 * followed by a blank line and one signature line
 * "— <origin> base64(key ID || Ed25519 signature over the note text)\n"
 * (docs/audit-log-format.md §7). Parsing is strict: valid UTF-8, no
 * control characters but newline, at most PDP_AUDIT_NOTE_MAX_SIGS
 * signatures, canonical base64. Signatures by unknown keys are ignored, as
 * the signed-note spec requires, so witnesses may add cosignatures.
 *
 * Ownership: pdp_audit_key owns its EVP_PKEY (freed, and so wiped, by
 * pdp_audit_key_done); the PEM bytes read from disk are cleansed at once.
 * Parsed notes are views into the caller's text.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_int.h"
#include "pdp/policy.h"
#include "pdp/policy.h"

/* ---- base64 (RFC 4648 §4, padded) ---------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pdp_audit_b64_encode(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

long pdp_audit_b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;
		for (int j = 0; j < 4; j++) {
			v[j] = b64val(s[i + j]);
			if (s[i + j] == '=' && i + 4 == n && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (v[j] < 0 || pad) {
				return -1;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* canonical: the bits under the padding are zero */
		if ((pad == 1 && (w & 0xFF)) || (pad == 2 && (w & 0xFFFF)))
			return -1;
		size_t k = 3 - pad;
		if (o + k > cap)
			return -1;
		uint8_t b3[3] = { (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w };
		memcpy(out + o, b3, k);
		o += k;
	}
	return (long)o;
}

/* ---- keys --------------------------------------------------------------- */

enum pdp_err pdp_audit_secret_read(const char *path, uint8_t *buf, size_t cap, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	PDP_ENSURE(fd >= 0, PDP_E_IO);
	size_t len = 0;
	for (;;) {
		if (len == cap) {
			close(fd);
			OPENSSL_cleanse(buf, cap);
			PDP_BAIL(PDP_E_LIMIT);
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			OPENSSL_cleanse(buf, cap);
			PDP_BAIL(PDP_E_IO);
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	*ret_len = len;
	return PDP_OK;
}

enum pdp_err pdp_audit_key_load(const char *path, pdp_audit_key *ret, pdp_buf *errmsg)
{
	uint8_t pem[16384];
	size_t len = 0;
	if (pdp_audit_secret_read(path, pem, sizeof(pem), &len) != PDP_OK) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "%s: cannot read the checkpoint key", path));
		PDP_BAIL(PDP_E_IO);
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	OPENSSL_cleanse(pem, sizeof(pem));
	size_t publen = 32;
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k, ret->pub, &publen) != 1 || publen != 32) {
		EVP_PKEY_free(k);
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg,
						  "%s: not a PEM Ed25519 private key "
						  "(make one with: openssl genpkey -algorithm ed25519)",
						  path));
		PDP_BAIL(PDP_E_INVALID);
	}
	ret->pkey = k;
	return PDP_OK;
}

void pdp_audit_key_done(pdp_audit_key *k)
{
	EVP_PKEY_free(k->pkey); /* OpenSSL wipes the private key on free */
	k->pkey = NULL;
	OPENSSL_cleanse(k->pub, sizeof(k->pub));
}

void pdp_audit_key_id(const char *name, size_t nlen, const uint8_t pub[32], uint8_t ret[4])
{
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	size_t n = nlen + 2 + 32;
	uint8_t *in = pdp_xmalloc(n), out[32];
	memcpy(in, name, nlen);
	in[nlen] = 0x0A;
	in[nlen + 1] = 0x01;
	memcpy(in + nlen + 2, pub, 32);
	pdp_audit_sha256(&h, out, in, n, NULL, 0);
	free(in);
	pdp_audit_hasher_done(&h);
	memcpy(ret, out, 4);
}

enum pdp_err pdp_audit_vkey(const char *name, const uint8_t pub[32], pdp_buf *out)
{
	uint8_t id[4], raw[33];
	char hex[9], enc[48];
	pdp_audit_key_id(name, strlen(name), pub, id);
	pdp_audit_hex(id, 4, hex);
	raw[0] = 0x01;
	memcpy(raw + 1, pub, 32);
	pdp_audit_b64_encode(raw, 33, enc);
	return pdp_buf_printf(out, "%s+%s+%s", name, hex, enc);
}

bool pdp_audit_vkey_parse(pdp_str vkey, pdp_str name, uint8_t ret_pub[32])
{
	uint8_t raw[40], id[4], want[4];
	if (vkey.len != name.len + 1 + 8 + 1 + 44 || memcmp(vkey.p, name.p, name.len) != 0)
		return false;
	const char *p = vkey.p + name.len;
	if (p[0] != '+' || p[9] != '+' || !pdp_audit_unhex(p + 1, 4, id))
		return false;
	if (pdp_audit_b64_decode(p + 10, 44, raw, sizeof(raw)) != 33 || raw[0] != 0x01)
		return false;
	pdp_audit_key_id(name.p, name.len, raw + 1, want);
	if (CRYPTO_memcmp(id, want, 4) != 0)
		return false;
	memcpy(ret_pub, raw + 1, 32);
	return true;
}

bool pdp_audit_origin_valid(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7F || s[i] == '+')
			return false;
	return true;
}

/* ---- notes -------------------------------------------------------------- */

static bool ed25519_sign(EVP_PKEY *k, const void *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 64;
	bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
		  EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == 64;
	EVP_MD_CTX_free(ctx);
	return ok;
}


enum pdp_err pdp_audit_note_sign(const pdp_audit_key *k, const char *origin, uint64_t size,
				 const uint8_t root[32], pdp_buf *out)
{
	char rootb64[48], sigb64[96];
	uint8_t sig[68];
	size_t start = out->len;
	pdp_audit_b64_encode(root, 32, rootb64);
	PDP_TRY(pdp_buf_printf(out, "%s\n%llu\n%s\n", origin, (unsigned long long)size, rootb64));
	pdp_audit_key_id(origin, strlen(origin), k->pub, sig);
	PDP_ENSURE(ed25519_sign(k->pkey, out->data + start, out->len - start, sig + 4), PDP_E_SIGNATURE);
	pdp_audit_b64_encode(sig, 68, sigb64);
	return pdp_buf_printf(out, "\n\xe2\x80\x94 %s %s\n", origin, sigb64);
}

static bool note_text_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
			return false;
	return pdp_audit_utf8_valid(s, n);
}

static bool parse_sig_line(pdp_str line, pdp_audit_note_sig *sig)
{
	static const char dash[] = "\xe2\x80\x94 ";
	if (line.len < 4 || memcmp(line.p, dash, 4) != 0)
		return false;
	const char *p = line.p + 4, *end = line.p + line.len;
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p)
		return false;
	sig->name = (pdp_str){ p, (size_t)(sp - p) };
	if (memchr(sig->name.p, '+', sig->name.len))
		return false;
	uint8_t raw[4 + 4096];
	long n = pdp_audit_b64_decode(sp + 1, (size_t)(end - sp - 1), raw, sizeof(raw));
	if (n < 5)
		return false;
	memcpy(sig->keyid, raw, 4);
	sig->ed25519 = n == 68;
	if (sig->ed25519)
		memcpy(sig->sig, raw + 4, 64);
	return true;
}

static bool parse_body(pdp_audit_note *r, const char **why)
{
	const char *p = r->text.p, *end = r->text.p + r->text.len;
	const char *nl1 = memchr(p, '\n', (size_t)(end - p));
	const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
	const char *nl3 = nl2 ? memchr(nl2 + 1, '\n', (size_t)(end - nl2 - 1)) : NULL;
	if (!nl3) {
		*why = "checkpoint text has fewer than three lines";
		return false;
	}
	r->origin = (pdp_str){ p, (size_t)(nl1 - p) };
	const char *s = nl1 + 1;
	size_t slen = (size_t)(nl2 - s);
	bool size_ok = slen > 0 && slen <= 19 && (slen == 1 || s[0] != '0');
	uint64_t size = 0;
	for (size_t i = 0; size_ok && i < slen; i++) {
		size_ok = s[i] >= '0' && s[i] <= '9';
		size = size * 10 + (uint64_t)(s[i] - '0');
	}
	if (!size_ok || r->origin.len == 0) {
		*why = "checkpoint has a malformed origin or tree size line";
		return false;
	}
	r->size = size;
	if (pdp_audit_b64_decode(nl2 + 1, (size_t)(nl3 - nl2 - 1), r->root, 32) != 32) {
		*why = "checkpoint root hash is not base64 of 32 bytes";
		return false;
	}
	for (const char *q = nl3 + 1; q < end;) { /* extension lines: non-empty */
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		if (nl == q) {
			*why = "checkpoint has an empty extension line";
			return false;
		}
		q = nl + 1;
	}
	return true;
}

bool pdp_audit_note_parse(const char *s, size_t n, pdp_audit_note *ret, const char **why)
{
	pdp_audit_note r;
	memset(&r, 0, sizeof(r));
	if (n == 0 || n > PDP_AUDIT_NOTE_MAX || s[n - 1] != '\n' || !note_text_valid(s, n)) {
		*why = "checkpoint is not a note (size, final newline, UTF-8 or control characters)";
		return false;
	}
	/* the text ends at the last blank line */
	const char *sep = NULL;
	for (size_t i = n - 1; i-- > 0;)
		if (s[i] == '\n' && s[i + 1] == '\n') {
			sep = s + i;
			break;
		}
	if (!sep) {
		*why = "checkpoint has no signature block";
		return false;
	}
	r.text = (pdp_str){ s, (size_t)(sep - s) + 1 };
	for (const char *p = sep + 2; p < s + n;) {
		const char *nl = memchr(p, '\n', (size_t)(s + n - p));
		if (r.nsigs == PDP_AUDIT_NOTE_MAX_SIGS ||
		    !parse_sig_line((pdp_str){ p, (size_t)(nl - p) }, &r.sigs[r.nsigs])) {
			*why = "checkpoint has a malformed signature line (or too many)";
			return false;
		}
		r.nsigs++;
		p = nl + 1;
	}
	if (r.nsigs == 0) {
		*why = "checkpoint has no signature";
		return false;
	}
	if (!parse_body(&r, why))
		return false;
	*ret = r;
	return true;
}

int pdp_audit_note_verify(const pdp_audit_note *note, pdp_str name, const uint8_t pub[32])
{
	uint8_t id[4];
	pdp_audit_key_id(name.p, name.len, pub, id);
	int found = 0;
	for (size_t i = 0; i < note->nsigs; i++) {
		const pdp_audit_note_sig *s = &note->sigs[i];
		if (!pdp_str_eq(s->name, name) || memcmp(s->keyid, id, 4) != 0)
			continue;
		if (!s->ed25519 || !pdp_ed25519_verify(pub, s->sig, note->text.p, note->text.len))
			return -1;
		found = 1;
	}
	return found;
}
