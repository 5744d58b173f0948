/*
 * http_parse.c -- HTTP/1.1 request heads and chunked bodies (see
 * http_parse.h for what is accepted and refused).
 */
#include "http_parse.h"

#include <string.h>

struct cursor {
	const char *p, *end;
};

#define BAD(st, msg) (*status = (st), *why = (msg), PDP_HTTP_BAD)

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The next line (without its CR LF); false when no LF is buffered. */
static bool next_line(struct cursor *c, pdp_str *line)
{
	const char *lf = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (!lf)
		return false;
	const char *e = lf > c->p && lf[-1] == '\r' ? lf - 1 : lf;
	*line = (pdp_str){ c->p, (size_t)(e - c->p) };
	c->p = lf + 1;
	return true;
}

static pdp_str trim(pdp_str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.len--;
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

static enum pdp_http_method method_of(pdp_str m)
{
	static const char *const names[] = { NULL, "GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS" };
	for (int i = 1; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (pdp_str_eq_c(m, names[i]))
			return (enum pdp_http_method)i;
	return PDP_HTTP_OTHER;
}

static bool request_line(pdp_str l, pdp_http_head *h)
{
	const char *sp1 = memchr(l.p, ' ', l.len);
	if (!sp1 || sp1 == l.p)
		return false;
	h->method_name = (pdp_str){ l.p, (size_t)(sp1 - l.p) };
	for (size_t i = 0; i < h->method_name.len; i++)
		if (!is_tchar((unsigned char)l.p[i]))
			return false;
	const char *rest = sp1 + 1, *end = l.p + l.len;
	const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
	if (!sp2 || sp2 == rest || end - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return false;
	if (sp2[8] != '0' && sp2[8] != '1')
		return false;
	h->target = (pdp_str){ rest, (size_t)(sp2 - rest) };
	for (size_t i = 0; i < h->target.len; i++)
		if ((unsigned char)rest[i] <= 0x20 || rest[i] == 0x7f)
			return false;
	h->minor = sp2[8] - '0';
	h->method = method_of(h->method_name);
	h->keep_alive = h->minor == 1;
	return true;
}

static bool parse_length(pdp_str v, int64_t *ret)
{
	if (!v.len || v.len > 15)
		return false;
	int64_t n = 0;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		n = n * 10 + (v.p[i] - '0');
	}
	*ret = n;
	return true;
}

/* Connection: a comma-separated token list. */
static void connection_tokens(pdp_str v, pdp_http_head *h)
{
	while (v.len) {
		const char *comma = memchr(v.p, ',', v.len);
		size_t n = comma ? (size_t)(comma - v.p) : v.len;
		pdp_str t = trim((pdp_str){ v.p, n });
		if (pdp_str_eq_nocase(t, PDP_STR("close")))
			h->keep_alive = false;
		else if (pdp_str_eq_nocase(t, PDP_STR("keep-alive")) && h->minor == 0)
			h->keep_alive = true;
		v.p += n, v.len -= n;
		if (v.len)
			v.p++, v.len--;
	}
}

static enum pdp_http_result header_field(pdp_str l, pdp_http_head *h, int *status, const char **why)
{
	const char *colon = memchr(l.p, ':', l.len);
	if (!colon || colon == l.p)
		return BAD(400, "malformed header field");
	pdp_str name = { l.p, (size_t)(colon - l.p) };
	for (size_t i = 0; i < name.len; i++)
		if (!is_tchar((unsigned char)name.p[i]))
			return BAD(400, "malformed header field name");
	pdp_str v = trim((pdp_str){ colon + 1, l.len - name.len - 1 });
	if (pdp_str_eq_nocase(name, PDP_STR("Content-Length"))) {
		int64_t n;
		if (!parse_length(v, &n) || (h->content_length >= 0 && h->content_length != n))
			return BAD(400, "invalid Content-Length");
		h->content_length = n;
	} else if (pdp_str_eq_nocase(name, PDP_STR("Transfer-Encoding"))) {
		if (!pdp_str_eq_nocase(v, PDP_STR("chunked")) || h->chunked)
			return BAD(501, "only Transfer-Encoding: chunked is supported");
		h->chunked = true;
	} else if (pdp_str_eq_nocase(name, PDP_STR("Content-Type"))) {
		h->content_type = v;
	} else if (pdp_str_eq_nocase(name, PDP_STR("X-Request-Id"))) {
		h->request_id = v;
	} else if (pdp_str_eq_nocase(name, PDP_STR("Connection"))) {
		connection_tokens(v, h);
	} else if (pdp_str_eq_nocase(name, PDP_STR("Expect"))) {
		if (!pdp_str_eq_nocase(v, PDP_STR("100-continue")))
			return BAD(417, "only Expect: 100-continue is supported");
		h->expect_continue = true;
	}
	return PDP_HTTP_DONE;
}

static enum pdp_http_result head_fields(struct cursor *c, pdp_http_head *h, int *status, const char **why)
{
	pdp_str l;
	while (next_line(c, &l)) {
		if (!l.len) {
			if (h->chunked && h->content_length >= 0)
				return BAD(400, "both Content-Length and Transfer-Encoding");
			return PDP_HTTP_DONE;
		}
		if (l.p[0] == ' ' || l.p[0] == '\t')
			return BAD(400, "obsolete line folding");
		if (header_field(l, h, status, why) == PDP_HTTP_BAD)
			return PDP_HTTP_BAD;
	}
	return PDP_HTTP_NEED_MORE;
}

enum pdp_http_result pdp_http_parse_head(const char *buf, size_t len, size_t max_head,
					 pdp_http_head *ret, int *status, const char **why)
{
	struct cursor c = { buf, buf + (len < max_head ? len : max_head) };
	while (c.p < c.end && (*c.p == '\r' || *c.p == '\n'))
		c.p++; /* RFC 9112 2.2: ignore empty lines before a request */
	*ret = (pdp_http_head){ .content_length = -1 };
	pdp_str l;
	if (!next_line(&c, &l))
		return len >= max_head ? BAD(431, "request head too large") : PDP_HTTP_NEED_MORE;
	if (!request_line(l, ret))
		return BAD(400, "malformed request line");
	enum pdp_http_result r = head_fields(&c, ret, status, why);
	if (r == PDP_HTTP_NEED_MORE && len >= max_head)
		return BAD(431, "request head too large");
	ret->head_len = (size_t)(c.p - buf);
	if (r == PDP_HTTP_DONE && memchr(buf, '\0', ret->head_len)) /* the head only, once */
		return BAD(400, "NUL in the request head");
	return r;
}

static bool chunk_size(pdp_str l, size_t *ret)
{
	size_t n = 0, i = 0;
	for (; i < l.len && i < 16; i++) {
		char ch = l.p[i];
		int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
		if (d < 0)
			break;
		n = n * 16 + (size_t)d;
	}
	if (!i || (i < l.len && l.p[i] != ';' && l.p[i] != ' ' && l.p[i] != '\t'))
		return false;
	*ret = n;
	return true;
}

enum pdp_http_result pdp_http_dechunk(const char *buf, size_t len, size_t max_body, pdp_buf *out,
				      size_t *consumed, int *status, const char **why)
{
	struct cursor c = { buf, buf + len };
	pdp_str l;
	for (;;) {
		size_t n;
		if (!next_line(&c, &l))
			return PDP_HTTP_NEED_MORE;
		if (!chunk_size(l, &n))
			return BAD(400, "malformed chunk size");
		if (n > max_body || out->len + n > max_body)
			return BAD(413, "request body too large");
		if (!n)
			break;
		if ((size_t)(c.end - c.p) < n + 1)
			return PDP_HTTP_NEED_MORE;
		if (pdp_buf_add(out, c.p, n) != PDP_OK)
			return BAD(413, "request body too large");
		c.p += n;
		if (!next_line(&c, &l))
			return PDP_HTTP_NEED_MORE;
		if (l.len)
			return BAD(400, "malformed chunk");
	}
	while (next_line(&c, &l)) /* trailer fields, then a blank line */
		if (!l.len) {
			*consumed = (size_t)(c.p - buf);
			return PDP_HTTP_DONE;
		}
	return PDP_HTTP_NEED_MORE;
}
