/*
 * buf.c -- pdp_str comparisons and the capped growable pdp_buf.
 */
#include "pdp/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool pdp_str_eq(pdp_str a, pdp_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool pdp_str_eq_c(pdp_str a, const char *s)
{
	return pdp_str_eq(a, pdp_str_c(s));
}

bool pdp_str_eq_nocase(pdp_str a, pdp_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

int pdp_str_cmp(pdp_str a, pdp_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return (a.len > b.len) - (a.len < b.len);
}

uint64_t pdp_str_hash(pdp_str s)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void pdp_buf_init(pdp_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void pdp_buf_done(pdp_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void pdp_buf_reset(pdp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

enum pdp_err pdp_buf_reserve(pdp_buf *b, size_t extra)
{
	PDP_ENSURE(extra < SIZE_MAX / 2 - b->len, PDP_E_LIMIT);
	size_t need = b->len + extra + 1;
	PDP_ENSURE(b->max == 0 || need - 1 <= b->max, PDP_E_LIMIT);
	if (need <= b->cap)
		return PDP_OK;
	size_t cap = b->cap ? b->cap : 512; /* a decision's JSON in one or two steps */
	while (cap < need)
		cap *= 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	b->data = pdp_xrealloc(b->data, cap);
	b->cap = cap;
	return PDP_OK;
}

enum pdp_err pdp_buf_add(pdp_buf *b, const void *p, size_t n)
{
	PDP_TRY(pdp_buf_reserve(b, n));
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PDP_OK;
}

enum pdp_err pdp_buf_adds(pdp_buf *b, const char *s)
{
	return pdp_buf_add(b, s, strlen(s));
}

enum pdp_err pdp_buf_addstr(pdp_buf *b, pdp_str s)
{
	return pdp_buf_add(b, s.p, s.len);
}

enum pdp_err pdp_buf_addc(pdp_buf *b, char c)
{
	return pdp_buf_add(b, &c, 1);
}

size_t pdp_dec_u64(char out[20], uint64_t v)
{
	char d[20], *p = d + sizeof(d);
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	size_t n = (size_t)(d + sizeof(d) - p);
	memcpy(out, p, n);
	return n;
}

size_t pdp_dec(char out[21], int64_t v)
{
	if (v >= 0)
		return pdp_dec_u64(out, (uint64_t)v);
	out[0] = '-';
	return 1 + pdp_dec_u64(out + 1, 0 - (uint64_t)v); /* defined for INT64_MIN */
}

enum pdp_err pdp_buf_add_u64(pdp_buf *b, uint64_t v)
{
	char d[20];
	return pdp_buf_add(b, d, pdp_dec_u64(d, v));
}

enum pdp_err pdp_buf_add_i64(pdp_buf *b, int64_t v)
{
	char d[21];
	return pdp_buf_add(b, d, pdp_dec(d, v));
}

/* One vsnprintf when the text fits in the spare capacity (the usual case),
 * a second only after growing; a failed attempt leaves the buffer as it was
 * (its NUL put back). */
enum pdp_err pdp_buf_vprintf(pdp_buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
	va_end(cp);
	if (n >= 0 && (size_t)n < room && (b->max == 0 || b->len + (size_t)n <= b->max)) {
		b->len += (size_t)n; /* vsnprintf wrote the NUL */
		return PDP_OK;
	}
	if (room)
		b->data[b->len] = '\0';
	PDP_ENSURE(n >= 0, PDP_E_INVALID);
	PDP_TRY(pdp_buf_reserve(b, (size_t)n));
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return PDP_OK;
}

enum pdp_err pdp_buf_printf(pdp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum pdp_err e = pdp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return e;
}

void pdp_buf_errf(pdp_buf *b, const char *fmt, ...)
{
	if (!b)
		return;
	va_list ap;
	va_start(ap, fmt);
	pdp_ignore(pdp_buf_vprintf(b, fmt, ap)); /* best effort, documented */
	va_end(ap);
}

static const char hexdig[] = "0123456789abcdef";

/* The usual case, nothing to escape: one reserve, one copy. */
static bool json_plain(pdp_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == '"' || c == '\\')
			return false;
	}
	return true;
}

enum pdp_err pdp_buf_add_json_str(pdp_buf *b, pdp_str s)
{
	PDP_TRY(pdp_buf_reserve(b, s.len + 2));
	if (json_plain(s)) {
		char *p = b->data + b->len;
		p[0] = '"';
		if (s.len)
			memcpy(p + 1, s.p, s.len);
		p[s.len + 1] = '"';
		b->len += s.len + 2;
		b->data[b->len] = '\0';
		return PDP_OK;
	}
	PDP_TRY(pdp_buf_addc(b, '"'));
	size_t run = 0;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		PDP_TRY(pdp_buf_add(b, s.p + run, i - run));
		run = i + 1;
		char esc[7] = { '\\', 0 };
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hexdig[c >> 4];
			esc[5] = hexdig[c & 15];
			n = 6;
			break;
		}
		PDP_TRY(pdp_buf_add(b, esc, n));
	}
	PDP_TRY(pdp_buf_add(b, s.p + run, s.len - run));
	return pdp_buf_addc(b, '"');
}

char *pdp_buf_steal(pdp_buf *b, size_t *ret_len)
{
	if (!b->data)
		PDP_BUG_ON(pdp_buf_reserve(b, 0) != PDP_OK);
	char *p = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Length of the valid UTF-8 sequence at p (p < end, *p >= 0x80), or 0. */
size_t pdp_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}
