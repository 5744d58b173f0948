/*
 * buf.h -- byte views and growable buffers.
 *
 * pdp_str is a non-owning view {p, len}; it borrows from whoever owns the
 * bytes (an arena, a bundle, a request body) and is valid as long as that is.
 *
 * pdp_buf owns its bytes: {data, len, cap, max}. It grows on demand up to a
 * hard cap `max` (0 = no cap); a write past the cap fails with PDP_E_LIMIT
 * and leaves the buffer unchanged. `data` is always NUL-terminated (the NUL
 * is not counted in len), so the contents can be handed to C string APIs.
 */
#ifndef PDP_BUF_H
#define PDP_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdp/err.h"

typedef struct pdp_str {
	const char *p;
	size_t len;
} pdp_str;

#define PDP_STR(lit) ((pdp_str){ (lit), sizeof(lit) - 1 })
#define PDP_STR_NULL ((pdp_str){ NULL, 0 })

static inline pdp_str pdp_str_c(const char *s);
bool pdp_str_eq(pdp_str a, pdp_str b);
bool pdp_str_eq_c(pdp_str a, const char *s);
bool pdp_str_eq_nocase(pdp_str a, pdp_str b);
int pdp_str_cmp(pdp_str a, pdp_str b);
/* Length of the valid UTF-8 sequence at p (p < end, *p >= 0x80): no
 * overlong forms, no surrogates, nothing above U+10FFFF; 0 if invalid. */
size_t pdp_utf8_seq(const unsigned char *p, const unsigned char *end);
/* FNV-1a 64; fine for interned lookups of trusted or bounded keys. */
uint64_t pdp_str_hash(pdp_str s);

typedef struct pdp_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* 0 = unbounded */
} pdp_buf;

void pdp_buf_init(pdp_buf *b, size_t max);
void pdp_buf_done(pdp_buf *b);
void pdp_buf_reset(pdp_buf *b);
PDP_MUST_USE enum pdp_err pdp_buf_reserve(pdp_buf *b, size_t extra);
PDP_MUST_USE enum pdp_err pdp_buf_add(pdp_buf *b, const void *p, size_t n);
PDP_MUST_USE enum pdp_err pdp_buf_adds(pdp_buf *b, const char *s);
PDP_MUST_USE enum pdp_err pdp_buf_addstr(pdp_buf *b, pdp_str s);
PDP_MUST_USE enum pdp_err pdp_buf_addc(pdp_buf *b, char c);
PDP_MUST_USE enum pdp_err pdp_buf_printf(pdp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
PDP_MUST_USE enum pdp_err pdp_buf_vprintf(pdp_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* For optional message buffers: appends the formatted text when b is not
 * NULL; a message too long for b's cap is dropped (best effort). */
void pdp_buf_errf(pdp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal into out, not NUL-terminated; returns the length (at most
 * 20 digits, and a '-'). No printf: these are for per-decision paths. */
size_t pdp_dec_u64(char out[20], uint64_t v);
size_t pdp_dec(char out[21], int64_t v);
/* Appends v in decimal. */
PDP_MUST_USE enum pdp_err pdp_buf_add_u64(pdp_buf *b, uint64_t v);
PDP_MUST_USE enum pdp_err pdp_buf_add_i64(pdp_buf *b, int64_t v);
/* Appends s as a JSON string literal, quotes included. */
PDP_MUST_USE enum pdp_err pdp_buf_add_json_str(pdp_buf *b, pdp_str s);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *pdp_buf_steal(pdp_buf *b, size_t *ret_len);

/* Copies the C string src (NULL = "") into dst[cap], cut to fit and
 * NUL-terminated: snprintf(dst, cap, "%s", src) without the printf. */
static inline void pdp_cstr_copy(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	while (src && src[n] && n + 1 < cap)
		n++;
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
	if (cap)
		dst[n] = '\0';
}

static inline pdp_str pdp_str_c(const char *s)
{
	pdp_str r = { s, 0 };
	while (s && s[r.len])
		r.len++;
	return r;
}

#endif
