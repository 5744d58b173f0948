/*
 * http_fuzz.c -- fuzz target for the HTTP/1.1 request parser
 * (pdp/http_parse.c): the first bytes any client gets to send after the
 * TLS handshake.
 *
 * Target functions: pdp_http_parse_head, pdp_http_dechunk; the parser's
 * promises are checked (views inside the input, lengths consistent).
 */
#include <stdint.h>

#include "http_parse.h"

static void check_view(pdp_str v, const char *buf, size_t len)
{
	if (v.len && (v.p < buf || v.p + v.len > buf + len))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	pdp_http_head h;
	int status = 0;
	const char *why = NULL;
	enum pdp_http_result r = pdp_http_parse_head(buf, size, 8192, &h, &status, &why);
	if (r == PDP_HTTP_BAD && (status < 400 || status > 599 || !why))
		__builtin_trap();
	if (r != PDP_HTTP_DONE)
		return 0;
	if (h.head_len > size || h.head_len > 8192 || h.content_length < -1 || (h.chunked && h.content_length >= 0))
		__builtin_trap();
	check_view(h.target, buf, h.head_len);
	check_view(h.content_type, buf, h.head_len);
	check_view(h.request_id, buf, h.head_len);
	if (!h.chunked)
		return 0;
	pdp_buf body;
	pdp_buf_init(&body, 0);
	size_t used = 0;
	r = pdp_http_dechunk(buf + h.head_len, size - h.head_len, 4096, &body, &used, &status, &why);
	if (body.len > 4096 || (r == PDP_HTTP_DONE && used > size - h.head_len))
		__builtin_trap();
	pdp_buf_done(&body);
	return 0;
}
