/*
 * audit_record.c -- the byte format of an audit record: canonical JSON,
 * record lines, record hashes and the RFC 6962 Merkle compact range.
 *
 * Design: docs/audit-log-format.md is the contract; this file is its C
 * reading and the writer, the verifier and `pdp audit show` all go through
 * it, so what is written is exactly what is checked. A record line is
 *
 *   {"v":1,"seq":N,"ts":"...","type":"...","prev":"<hex>"<,members>,"hash":"<hex>"}\n
 *
 * hash = SHA-256(every byte before `,"hash":"`). Payload members are
 * canonical JSON (§3): no whitespace, keys sorted by their UTF-8 bytes and
 * unique, integers only, a fixed escape set. The checker is a single pass
 * with no allocation (the verifier's hot path); jansson is used only to
 * canonicalise input that is not canonical already.
 *
 * Ownership: parse results are views into the caller's line; builders
 * append to the caller's pdp_buf.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_int.h"

/* ---- hashing ----------------------------------------------------------- */

void pdp_audit_hasher_init(pdp_audit_hasher *h)
{
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if (!h->md || !h->ctx)
		pdp_oom();
}

void pdp_audit_hasher_done(pdp_audit_hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	h->ctx = NULL;
	h->md = NULL;
}

void pdp_audit_sha256(pdp_audit_hasher *h, uint8_t out[32], const void *a, size_t alen,
		      const void *b, size_t blen)
{
	unsigned int n = 0;
	bool ok = EVP_DigestInit_ex2(h->ctx, h->md, NULL) == 1 &&
		  EVP_DigestUpdate(h->ctx, a, alen) == 1 &&
		  (!b || EVP_DigestUpdate(h->ctx, b, blen) == 1) &&
		  EVP_DigestFinal_ex(h->ctx, out, &n) == 1 && n == 32;
	PDP_BUG_ON(!ok);
}

static const char hexdig[] = "0123456789abcdef";

void pdp_audit_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 1 + the value of a lowercase hex digit; 0 for anything else. */
static const unsigned char hex_tab[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int hexval(char c)
{
	return hex_tab[(unsigned char)c] - 1;
}

bool pdp_audit_unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ---- UTF-8 ------------------------------------------------------------- */

bool pdp_audit_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t k = pdp_utf8_seq(p, end);
		if (!k)
			return false;
		p += k;
	}
	return true;
}

/* ---- canonical JSON: the writer side ------------------------------------ */



/* The high bit of each byte of w that a canonical string cannot hold as
 * it is: below 0x20, 0x22, 0x5C, or 0x80 and above. A borrow can flag a
 * byte above a real hit too, never one below it, so the lowest flag is
 * always a real one. */
static inline uint64_t special_bytes(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = w ^ (ones * 0x22), bs = w ^ (ones * 0x5C);
	return ((w - ones * 0x20) | (q - ones) | (bs - ones) | w) & high;
}

/* Index of the lowest flagged byte of a word loaded with memcpy. */
static inline size_t first_flag(uint64_t hit)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(hit) / 8;
#else
	size_t i = 0;
	while (!(hit & (0x8000000000000000ull >> (8 * i))))
		i++;
	return i;
#endif
}

/* Skips the bytes a canonical string holds as they are, eight at a time
 * (the tail is padded with plain bytes); returns the first byte that is
 * not plain, or end. */
static inline const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
	uint64_t w, hit;
	for (; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if ((hit = special_bytes(w)))
			return p + first_flag(hit);
	}
	if (p == end)
		return end;
	w = 0x6161616161616161ull; /* "aaaaaaaa" */
	memcpy(&w, p, (size_t)(end - p));
	hit = special_bytes(w);
	return hit ? p + first_flag(hit) : end;
}

/* The escape for a byte below 0x20, '"' or '\\' (out holds 6). */
static size_t escape(unsigned char c, char *out)
{
	out[0] = '\\';
	switch (c) {
	case '"': out[1] = '"'; return 2;
	case '\\': out[1] = '\\'; return 2;
	case '\b': out[1] = 'b'; return 2;
	case '\f': out[1] = 'f'; return 2;
	case '\n': out[1] = 'n'; return 2;
	case '\r': out[1] = 'r'; return 2;
	case '\t': out[1] = 't'; return 2;
	default:
		memcpy(out, "\\u00", 4);
		out[4] = hexdig[c >> 4];
		out[5] = hexdig[c & 15];
		return 6;
	}
}

enum pdp_err pdp_audit_add_str(pdp_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	size_t start = b->len;
	PDP_TRY(pdp_buf_reserve(b, n + 2));
	b->data[b->len++] = '"';
	const unsigned char *run = p;
	while (p < end) {
		p = plain_run(p, end);
		if (p >= end)
			break;
		unsigned char c = *p;
		if (c >= 0x80) {
			size_t k = pdp_utf8_seq(p, end);
			if (!k)
				break;
			p += k;
			continue;
		}
		if (c == 0)
			break;
		char esc[6];
		size_t en = escape(c, esc);
		/* the run, the escape, and what is left with its closing quote */
		enum pdp_err e = pdp_buf_reserve(b, (size_t)(p - run) + en + (size_t)(end - p) + 1);
		if (e != PDP_OK) {
			b->len = start;
			b->data[start] = '\0';
			return e;
		}
		memcpy(b->data + b->len, run, (size_t)(p - run));
		b->len += (size_t)(p - run);
		memcpy(b->data + b->len, esc, en);
		b->len += en;
		p++;
		run = p;
	}
	if (p < end) { /* invalid UTF-8 or U+0000: nothing appended */
		b->len = start;
		b->data[start] = '\0';
		PDP_BAIL(PDP_E_INVALID);
	}
	memcpy(b->data + b->len, run, (size_t)(p - run));
	b->len += (size_t)(p - run);
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
	return PDP_OK;
}

struct kv {
	const char *key;
	size_t len;
	json_t *val;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static enum pdp_err canon_json(pdp_buf *b, const json_t *v, int depth);

static enum pdp_err canon_obj(pdp_buf *b, const json_t *v, int depth)
{
	size_t n = json_object_size(v);
	struct kv *kvs PDP_CLEANUP(pdp_freep) = pdp_xcalloc(n, sizeof(*kvs));
	size_t i = 0;
	for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
		kvs[i].key = json_object_iter_key(it);
		kvs[i].len = json_object_iter_key_len(it);
		kvs[i].val = json_object_iter_value(it);
		i++;
	}
	qsort(kvs, n, sizeof(*kvs), kv_cmp);
	PDP_TRY(pdp_buf_addc(b, '{'));
	for (i = 0; i < n; i++) {
		if (i)
			PDP_TRY(pdp_buf_addc(b, ','));
		PDP_TRY(pdp_audit_add_str(b, kvs[i].key, kvs[i].len));
		PDP_TRY(pdp_buf_addc(b, ':'));
		PDP_TRY(canon_json(b, kvs[i].val, depth + 1));
	}
	return pdp_buf_addc(b, '}');
}

static enum pdp_err canon_json(pdp_buf *b, const json_t *v, int depth)
{
	PDP_ENSURE(depth <= PDP_AUDIT_MAX_DEPTH, PDP_E_LIMIT);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return canon_obj(b, v, depth);
	case JSON_ARRAY:
		PDP_TRY(pdp_buf_addc(b, '['));
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				PDP_TRY(pdp_buf_addc(b, ','));
			PDP_TRY(canon_json(b, json_array_get(v, i), depth + 1));
		}
		return pdp_buf_addc(b, ']');
	case JSON_STRING:
		return pdp_audit_add_str(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return pdp_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_TRUE:
		return pdp_buf_adds(b, "true");
	case JSON_FALSE:
		return pdp_buf_adds(b, "false");
	case JSON_NULL:
		return pdp_buf_adds(b, "null");
	case JSON_REAL:
	default:
		PDP_BAIL(PDP_E_INVALID);
	}
}

enum pdp_err pdp_audit_canon_json(pdp_buf *b, const json_t *v)
{
	return canon_json(b, v, 0);
}

/* ---- canonical JSON: the checker ---------------------------------------- */

struct canon {
	const char *p;
	const char *end;
	const char *why;
	bool esc;                     /* the last string checked had an escape */
};

/* A checked key and whether it holds an escape (else compared as bytes). */
struct ckey {
	pdp_str s;
	bool esc;
};

static bool fail(struct canon *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return false;
}

/* Decodes the next byte of a checked string body; -1 at its end. */
static int dec_byte(const char **pp, const char *end)
{
	const char *p = *pp;
	if (p >= end)
		return -1;
	if (*p != '\\') {
		*pp = p + 1;
		return (unsigned char)*p;
	}
	int v;
	switch (p[1]) {
	case 'b': v = '\b'; break;
	case 'f': v = '\f'; break;
	case 'n': v = '\n'; break;
	case 'r': v = '\r'; break;
	case 't': v = '\t'; break;
	case 'u':
		*pp = p + 6;
		return hexval(p[4]) * 16 + hexval(p[5]);
	default: v = p[1]; break;
	}
	*pp = p + 2;
	return v;
}

/* Compares two checked keys by their decoded bytes. */
static int key_cmp(struct ckey ka, struct ckey kb)
{
	pdp_str a = ka.s, b = kb.s;
	if (!ka.esc && !kb.esc)
		return pdp_str_cmp(a, b);
	const char *pa = a.p, *pb = b.p;
	for (;;) {
		int x = dec_byte(&pa, a.p + a.len), y = dec_byte(&pb, b.p + b.len);
		if (x != y)
			return x < y ? -1 : 1;
		if (x < 0)
			return 0;
	}
}

static bool c_string(struct canon *c, pdp_str *ret_body)
{
	const unsigned char *p = (const unsigned char *)c->p + 1, *end = (const unsigned char *)c->end;
	c->esc = false;
	while (p < end) {
		p = plain_run(p, end);
		if (p >= end)
			break;
		unsigned char ch = *p;
		if (ch == '"') {
			if (ret_body)
				*ret_body = (pdp_str){ c->p + 1, (size_t)((const char *)p - c->p - 1) };
			c->p = (const char *)p + 1;
			return true;
		}
		if (ch == '\\') {
			if (end - p < 2)
				break;
			c->esc = true;
			switch (p[1]) {
			case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u': {
				if (end - p < 6 || p[2] != '0' || p[3] != '0' || (p[4] != '0' && p[4] != '1') ||
				    hexval((char)p[5]) < 0)
					return fail(c, "a \\u escape that is not canonical");
				int v = (p[4] - '0') * 16 + hexval((char)p[5]);
				if (v == 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t')
					return fail(c, "a \\u escape that is not canonical");
				p += 6;
				continue;
			}
			default:
				return fail(c, "an escape that is not canonical");
			}
		}
		if (ch < 0x20)
			return fail(c, "a raw control character in a string");
		if (ch < 0x80) {
			p++;
			continue;
		}
		size_t k = pdp_utf8_seq(p, end);
		if (!k)
			return fail(c, "invalid UTF-8 in a string");
		p += k;
	}
	return fail(c, "an unterminated string");
}

static bool c_number(struct canon *c)
{
	const char *p = c->p, *end = c->end;
	bool neg = p < end && *p == '-';
	if (neg)
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return fail(c, "a malformed number");
	const char *digits = p;
	uint64_t v = 0;
	if (*p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (v > (UINT64_MAX - d) / 10)
				return fail(c, "an integer out of range");
			v = v * 10 + d;
			p++;
		}
	}
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
		return fail(c, "a number that is not a canonical integer");
	if (neg && (*digits == '0' || v > (uint64_t)INT64_MAX + 1))
		return fail(c, "a number that is not a canonical integer");
	if (!neg && v > (uint64_t)INT64_MAX)
		return fail(c, "an integer out of range");
	c->p = p;
	return true;
}

static bool c_lit(struct canon *c, const char *lit, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return fail(c, "an unexpected character");
	c->p += n;
	return true;
}

static bool c_value(struct canon *c, int depth);

static bool is_envelope_key(pdp_str k)
{
	switch (k.len) {
	case 1: return k.p[0] == 'v';
	case 2: return !memcmp(k.p, "ts", 2);
	case 3: return !memcmp(k.p, "seq", 3);
	case 4: return !memcmp(k.p, "type", 4) || !memcmp(k.p, "prev", 4) || !memcmp(k.p, "hash", 4);
	default: return false;
	}
}

/* One `"key":value` member; checks order against *prev (len 0 = first). */
static bool c_member(struct canon *c, struct ckey *prev, bool first, bool top, int depth)
{
	struct ckey key;
	if (c->p >= c->end || *c->p != '"')
		return fail(c, "expected a key");
	if (!c_string(c, &key.s))
		return false;
	key.esc = c->esc;
	if (!first && key_cmp(*prev, key) >= 0)
		return fail(c, "keys not in canonical order (or duplicated)");
	if (top && is_envelope_key(key.s))
		return fail(c, "a payload key that is reserved for the envelope");
	*prev = key;
	if (c->p >= c->end || *c->p != ':')
		return fail(c, "expected ':'");
	c->p++;
	return c_value(c, depth + 1);
}

static bool c_object(struct canon *c, int depth, bool top)
{
	c->p++; /* '{' */
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return true;
	}
	struct ckey prev = { PDP_STR_NULL, false };
	for (bool first = true;; first = false) {
		if (!c_member(c, &prev, first, top, depth))
			return false;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == '}') {
			c->p++;
			return true;
		}
		return fail(c, "expected ',' or '}'");
	}
}

static bool c_array(struct canon *c, int depth)
{
	c->p++; /* '[' */
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return true;
	}
	for (;;) {
		if (!c_value(c, depth + 1))
			return false;
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == ']') {
			c->p++;
			return true;
		}
		return fail(c, "expected ',' or ']'");
	}
}

static bool c_value(struct canon *c, int depth)
{
	if (depth > PDP_AUDIT_MAX_DEPTH)
		return fail(c, "JSON nested too deeply");
	if (c->p >= c->end)
		return fail(c, "a value is missing");
	switch (*c->p) {
	case '{': return c_object(c, depth, false);
	case '[': return c_array(c, depth);
	case '"': return c_string(c, NULL);
	case 't': return c_lit(c, "true", 4);
	case 'f': return c_lit(c, "false", 5);
	case 'n': return c_lit(c, "null", 4);
	default: return c_number(c);
	}
}

bool pdp_audit_canon_object_check(const char *p, size_t n, const char **why)
{
	struct canon c = { p, p + n, NULL };
	if (n == 0 || *p != '{') {
		*why = "not a JSON object";
		return false;
	}
	bool ok = c_object(&c, 0, true);
	if (ok && c.p != c.end)
		ok = fail(&c, "bytes after the object");
	if (!ok)
		*why = c.why;
	return ok;
}

/* Checks `,"k":v,...` payload members filling [p, end) of a record body. */
static bool c_top_members(struct canon *c)
{
	struct ckey prev = { PDP_STR_NULL, false };
	for (bool first = true; c->p < c->end; first = false) {
		if (*c->p != ',')
			return fail(c, "expected ',' before a payload member");
		c->p++;
		if (!c_member(c, &prev, first, true, 0))
			return false;
	}
	return true;
}

enum pdp_err pdp_audit_canon_members(const char *json, size_t len, pdp_buf *out, pdp_buf *errmsg)
{
	const char *why = NULL;
	if (pdp_audit_canon_object_check(json, len, &why))
		return pdp_buf_add(out, json + 1, len - 2);
	json_error_t jerr;
	json_t *v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		if (errmsg)
			pdp_ignore(pdp_buf_printf(errmsg, "audit fields: %s", jerr.text));
		PDP_BAIL(PDP_E_PARSE);
	}
	pdp_buf tmp;
	pdp_buf_init(&tmp, 0);
	enum pdp_err e = json_is_object(v) ? canon_json(&tmp, v, 0) : PDP_E_INVALID;
	json_decref(v);
	if (e == PDP_OK && !pdp_audit_canon_object_check(tmp.data, tmp.len, &why))
		e = PDP_E_INVALID; /* an envelope key */
	if (e == PDP_OK)
		e = pdp_buf_add(out, tmp.data + 1, tmp.len - 2);
	else if (errmsg)
		pdp_ignore(pdp_buf_printf(errmsg, "audit fields: %s",
					  why ? why : "not an object of strings, integers, "
						      "booleans, null, arrays and objects"));
	pdp_buf_done(&tmp);
	return e;
}

bool pdp_audit_type_valid(const char *type, size_t len)
{
	if (len == 0 || len > PDP_AUDIT_TYPE_MAX || type[0] < 'a' || type[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++) {
		char ch = type[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* ---- record lines ------------------------------------------------------ */

static const char env_v[] = "{\"v\":1,\"seq\":";
static const char env_hash[] = ",\"hash\":\"";

static void put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void pdp_audit_ts_now(char ret[PDP_AUDIT_TS_LEN + 1])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	memcpy(ret, "0000-00-00T00:00:00.000000Z", PDP_AUDIT_TS_LEN + 1);
	put_digits(ret, (unsigned)(tm.tm_year + 1900) % 10000, 4);
	put_digits(ret + 5, (unsigned)tm.tm_mon + 1, 2);
	put_digits(ret + 8, (unsigned)tm.tm_mday, 2);
	put_digits(ret + 11, (unsigned)tm.tm_hour, 2);
	put_digits(ret + 14, (unsigned)tm.tm_min, 2);
	put_digits(ret + 17, (unsigned)tm.tm_sec, 2);
	put_digits(ret + 20, (unsigned)(ts.tv_nsec / 1000), 6);
}

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

/* Formats by hand (no printf: this is the writer's per-record path) into
 * space reserved up front. */
enum pdp_err pdp_audit_line_build(pdp_audit_hasher *h, pdp_buf *out, uint64_t seq,
				  const char ts[PDP_AUDIT_TS_LEN + 1], const char *type,
				  const uint8_t prev[32], pdp_str members, uint8_t ret_hash[32])
{
	size_t tlen = strlen(type);
	uint8_t hash[32];
	PDP_BUG_ON(!pdp_audit_type_valid(type, tlen));
	PDP_TRY(pdp_buf_reserve(out, 160 + tlen + members.len + PDP_AUDIT_SUFFIX_LEN));
	char *start = out->data + out->len, *p = start;
	p = PUT_LIT(p, env_v);
	p = put_u64(p, seq);
	p = PUT_LIT(p, ",\"ts\":\"");
	p = put(p, ts, PDP_AUDIT_TS_LEN);
	p = PUT_LIT(p, "\",\"type\":\"");
	p = put(p, type, tlen);
	p = PUT_LIT(p, "\",\"prev\":\"");
	pdp_audit_hex(prev, 32, p);
	p += 64;
	*p++ = '"';
	if (members.len) {
		*p++ = ',';
		p = put(p, members.p, members.len);
	}
	pdp_audit_sha256(h, hash, start, (size_t)(p - start), NULL, 0);
	p = PUT_LIT(p, env_hash);
	pdp_audit_hex(hash, 32, p);
	p += 64;
	p = PUT_LIT(p, "\"}\n");
	*p = '\0';
	out->len += (size_t)(p - start);
	memcpy(ret_hash, hash, 32);
	return PDP_OK;
}

static bool ts_valid(const char *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	for (size_t i = 0; i < PDP_AUDIT_TS_LEN; i++) {
		if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != shape[i])
			return false;
	}
	return true;
}

/* Consumes the literal s at c->p if it is there. */
#define LIT(c, s)                                                              \
	((size_t)((c)->end - (c)->p) >= sizeof(s) - 1 &&                       \
			 memcmp((c)->p, (s), sizeof(s) - 1) == 0                \
		 ? ((c)->p += sizeof(s) - 1, true)                              \
		 : false)

static bool parse_envelope(struct canon *c, pdp_audit_rec *r)
{
	if ((size_t)(c->end - c->p) < 134) /* the shortest envelope */
		return fail(c, "record too short");
	if (!LIT(c, "{\"v\":"))
		return fail(c, "record does not start with {\"v\":");
	if (!LIT(c, "1,\"seq\":"))
		return fail(c, "unsupported format version (this verifier reads v 1)");
	const char *num = c->p;
	if (!c_number(c) || *num == '-' || !LIT(c, ",\"ts\":\""))
		return fail(c, "malformed seq");
	r->seq = strtoull(num, NULL, 10);
	r->ts = c->p;
	if (c->end - c->p < PDP_AUDIT_TS_LEN + 2 || !ts_valid(c->p))
		return fail(c, "malformed ts");
	c->p += PDP_AUDIT_TS_LEN;
	if (!LIT(c, "\",\"type\":\""))
		return fail(c, "malformed envelope after ts");
	const char *t = c->p;
	while (c->p < c->end && *c->p != '"')
		c->p++;
	r->type = (pdp_str){ t, (size_t)(c->p - t) };
	if (c->p >= c->end || !pdp_audit_type_valid(t, r->type.len))
		return fail(c, "malformed type");
	if (c->end - c->p < 10 + 64 + 1 || !LIT(c, "\",\"prev\":\"") ||
	    !pdp_audit_unhex(c->p, 32, r->prev) || c->p[64] != '"')
		return fail(c, "malformed prev");
	c->p += 65;
	return true;
}

enum pdp_err pdp_audit_line_parse(pdp_audit_hasher *h, const char *line, size_t len,
				  pdp_audit_rec *ret, const char **why)
{
	pdp_audit_rec r;
	if (len < PDP_AUDIT_SUFFIX_LEN + 100) {
		*why = "record too short";
		PDP_BAIL(PDP_E_CORRUPT);
	}
	size_t body = len - PDP_AUDIT_SUFFIX_LEN;
	if (memcmp(line + body, env_hash, sizeof(env_hash) - 1) != 0 ||
	    !pdp_audit_unhex(line + body + 9, 32, r.hash) || memcmp(line + len - 2, "\"}", 2) != 0) {
		*why = "record does not end with ,\"hash\":\"<64 lowercase hex>\"}";
		PDP_BAIL(PDP_E_CORRUPT);
	}
	struct canon c = { line, line + body, NULL };
	if (!parse_envelope(&c, &r)) {
		*why = c.why;
		PDP_BAIL(PDP_E_CORRUPT);
	}
	const char *mstart = c.p;
	if (!c_top_members(&c)) {
		*why = c.why;
		PDP_BAIL(PDP_E_CORRUPT);
	}
	r.members = mstart < c.end ? (pdp_str){ mstart + 1, (size_t)(c.end - mstart - 1) } : PDP_STR_NULL;
	uint8_t calc[32];
	pdp_audit_sha256(h, calc, line, body, NULL, 0);
	if (CRYPTO_memcmp(calc, r.hash, 32) != 0) {
		*why = "hash does not match the record bytes (record modified)";
		PDP_BAIL(PDP_E_CORRUPT);
	}
	*ret = r;
	return PDP_OK;
}

/* ---- payload accessors ------------------------------------------------- */

/* Walks canonical members; finds `key` at the top level. */
bool pdp_audit_member(pdp_str members, const char *key, pdp_str *ret_value)
{
	struct canon c = { members.p, members.p + members.len, NULL };
	pdp_str want = pdp_str_c(key);
	while (c.p < c.end) {
		pdp_str k;
		if (!c_string(&c, &k) || c.p >= c.end || *c.p != ':')
			return false;
		c.p++;
		const char *v = c.p;
		if (!c_value(&c, 1))
			return false;
		if (pdp_str_eq(k, want)) {
			*ret_value = (pdp_str){ v, (size_t)(c.p - v) };
			return true;
		}
		if (c.p < c.end && *c.p == ',')
			c.p++;
	}
	return false;
}

enum pdp_err pdp_audit_unescape(pdp_str lit, pdp_buf *out)
{
	PDP_ENSURE(lit.len >= 2 && lit.p[0] == '"' && lit.p[lit.len - 1] == '"', PDP_E_INVALID);
	const char *p = lit.p + 1, *end = lit.p + lit.len - 1;
	PDP_TRY(pdp_buf_reserve(out, lit.len));
	while (p < end) {
		int b = dec_byte(&p, end);
		PDP_TRY(pdp_buf_addc(out, (char)b));
	}
	return PDP_OK;
}

enum pdp_err pdp_audit_member_str(pdp_str members, const char *key, pdp_buf *out)
{
	pdp_str v;
	PDP_ENSURE(pdp_audit_member(members, key, &v), PDP_E_NOTFOUND);
	PDP_ENSURE(v.len >= 2 && v.p[0] == '"', PDP_E_INVALID);
	return pdp_audit_unescape(v, out);
}

bool pdp_audit_member_u64(pdp_str members, const char *key, uint64_t *ret)
{
	pdp_str v;
	if (!pdp_audit_member(members, key, &v) || v.len == 0 || v.len > 19 || v.p[0] < '0' ||
	    v.p[0] > '9')
		return false;
	uint64_t n = 0;
	for (size_t i = 0; i < v.len; i++)
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	*ret = n;
	return true;
}

/* ---- Merkle compact range (RFC 6962) ----------------------------------- */

void pdp_audit_mth_init(pdp_audit_mth *m)
{
	m->size = 0;
	m->n = 0;
}

void pdp_audit_mth_append(pdp_audit_hasher *h, pdp_audit_mth *m, const uint8_t rec_hash[32])
{
	static const uint8_t zero = 0x00, one = 0x01;
	uint8_t node[32];
	pdp_audit_sha256(h, node, &zero, 1, rec_hash, 32);
	/* Each trailing 1 bit of the old size is a full subtree to merge. */
	for (uint64_t s = m->size; s & 1; s >>= 1) {
		uint8_t in[64];
		memcpy(in, m->range[m->n - 1], 32);
		memcpy(in + 32, node, 32);
		pdp_audit_sha256(h, node, &one, 1, in, 64);
		m->n--;
	}
	memcpy(m->range[m->n++], node, 32);
	m->size++;
}

void pdp_audit_mth_root(pdp_audit_hasher *h, const pdp_audit_mth *m, uint8_t out[32])
{
	static const uint8_t one = 0x01;
	if (m->n == 0) {
		pdp_audit_sha256(h, out, "", 0, NULL, 0);
		return;
	}
	uint8_t r[32];
	memcpy(r, m->range[m->n - 1], 32);
	for (unsigned i = m->n - 1; i-- > 0;) {
		uint8_t in[64];
		memcpy(in, m->range[i], 32);
		memcpy(in + 32, r, 32);
		pdp_audit_sha256(h, r, &one, 1, in, 64);
	}
	memcpy(out, r, 32);
}

enum pdp_err pdp_audit_mth_json(const pdp_audit_mth *m, pdp_buf *out)
{
	PDP_TRY(pdp_buf_addc(out, '['));
	for (unsigned i = 0; i < m->n; i++) {
		char hex[65];
		pdp_audit_hex(m->range[i], 32, hex);
		PDP_TRY(pdp_buf_printf(out, "%s\"%s\"", i ? "," : "", hex));
	}
	return pdp_buf_addc(out, ']');
}

bool pdp_audit_mth_parse(pdp_str arr, uint64_t size, pdp_audit_mth *ret)
{
	unsigned want = (unsigned)__builtin_popcountll(size);
	if (arr.len != 2 + want * 66 + (want ? want - 1 : 0) || arr.p[0] != '[' ||
	    arr.p[arr.len - 1] != ']')
		return false;
	const char *p = arr.p + 1;
	for (unsigned i = 0; i < want; i++, p += 67) {
		if (p[0] != '"' || p[65] != '"' || (i + 1 < want && p[66] != ','))
			return false;
		if (!pdp_audit_unhex(p + 1, 32, ret->range[i]))
			return false;
	}
	ret->n = want;
	ret->size = size;
	return true;
}
