/*
 * test_http_parse.c -- the HTTP/1.1 request parser (pdp/http_parse.c):
 * heads taken apart, incomplete input asked for, and each refusal with its
 * status (the request-smuggling shapes among them); chunked bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_parse.h"

static enum pdp_http_result parse(const char *text, size_t max, pdp_http_head *h, int *status)
{
	const char *why = NULL;
	*status = 0;
	enum pdp_http_result r = pdp_http_parse_head(text, strlen(text), max, h, status, &why);
	if (r == PDP_HTTP_BAD)
		assert_non_null(why);
	return r;
}

static void refused(const char *text, int want)
{
	pdp_http_head h;
	int status;
	assert_int_equal(parse(text, 16384, &h, &status), PDP_HTTP_BAD);
	assert_int_equal(status, want);
}

static void test_post_head(void **state)
{
	(void)state;
	const char *t = "POST /v1/decision?x=1 HTTP/1.1\r\nHost: a\r\ncontent-type:  application/json \r\n"
			"Content-Length: 12\r\nX-Request-Id: r-1\r\n\r\n{\"a\":1}";
	pdp_http_head h;
	int status;
	assert_int_equal(parse(t, 16384, &h, &status), PDP_HTTP_DONE);
	assert_int_equal(h.method, PDP_HTTP_POST);
	assert_true(pdp_str_eq_c(h.target, "/v1/decision?x=1"));
	assert_true(pdp_str_eq_c(h.content_type, "application/json"));
	assert_true(pdp_str_eq_c(h.request_id, "r-1"));
	assert_int_equal(h.content_length, 12);
	assert_false(h.chunked);
	assert_true(h.keep_alive);
	assert_int_equal(h.head_len, strlen(t) - strlen("{\"a\":1}"));
}

static void test_keep_alive_rules(void **state)
{
	(void)state;
	pdp_http_head h;
	int status;
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", 1024, &h, &status), PDP_HTTP_DONE);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1024, &h, &status), PDP_HTTP_DONE);
	assert_true(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\nConnection: upgrade, close\n\n", 1024, &h, &status), PDP_HTTP_DONE);
	assert_false(h.keep_alive);
	assert_int_equal(h.content_length, -1);
	assert_int_equal(parse("\r\nPUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 1024, &h, &status),
			 PDP_HTTP_DONE);
	assert_int_equal(h.method, PDP_HTTP_PUT);
	assert_true(h.expect_continue);
	assert_int_equal(parse("BREW /pot HTTP/1.1\r\n\r\n", 1024, &h, &status), PDP_HTTP_DONE);
	assert_int_equal(h.method, PDP_HTTP_OTHER);
	assert_true(pdp_str_eq_c(h.method_name, "BREW"));
}

static void test_incomplete(void **state)
{
	(void)state;
	pdp_http_head h;
	int status;
	assert_int_equal(parse("", 1024, &h, &status), PDP_HTTP_NEED_MORE);
	assert_int_equal(parse("GET / HT", 1024, &h, &status), PDP_HTTP_NEED_MORE);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", 1024, &h, &status), PDP_HTTP_NEED_MORE);
	/* at the limit without the blank line: too large */
	char big[2048];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: %01000d\r\n", 0);
	assert_int_equal(parse(big, 1024, &h, &status), PDP_HTTP_BAD);
	assert_int_equal(status, 431);
	memset(big, 'a', 1500);
	big[1500] = '\0';
	assert_int_equal(parse(big, 1024, &h, &status), PDP_HTTP_BAD);
	assert_int_equal(status, 431);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("NONSENSE\r\n\r\n", 400);
	refused("GET /\r\n\r\n", 400);
	refused("GET / HTTP/2.0\r\n\r\n", 400);
	refused("GET  / HTTP/1.1\r\n\r\n", 400);
	refused("G(T / HTTP/1.1\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400);          /* obs-fold */
	refused("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
	refused("GET / HTTP/1.1\r\nExpect: tea\r\n\r\n", 417);
	pdp_http_head h;
	int status;
	const char *why;
	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	assert_int_equal(pdp_http_parse_head(nul, sizeof(nul) - 1, 1024, &h, &status, &why), PDP_HTTP_BAD);
	assert_int_equal(status, 400);
	/* a NUL after the head is the body's business, not the head's */
	static const char body_nul[] = "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\0b";
	assert_int_equal(pdp_http_parse_head(body_nul, sizeof(body_nul) - 1, 1024, &h, &status, &why), PDP_HTTP_DONE);
	assert_int_equal(h.head_len, sizeof(body_nul) - 4);
	/* the same Content-Length twice is allowed (RFC 9112 6.3) */
	assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 1024, &h, &status),
			 PDP_HTTP_DONE);
	assert_int_equal(h.content_length, 5);
}

static enum pdp_http_result dechunk(const char *t, size_t max, pdp_buf *out, size_t *used, int *status)
{
	const char *why = NULL;
	pdp_buf_reset(out);
	return pdp_http_dechunk(t, strlen(t), max, out, used, status, &why);
}

static void test_chunked(void **state)
{
	(void)state;
	pdp_buf out;
	pdp_buf_init(&out, 0);
	size_t used = 0;
	int status = 0;
	const char *t = "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nGET";
	assert_int_equal(dechunk(t, 100, &out, &used, &status), PDP_HTTP_DONE);
	assert_int_equal(out.len, 13);
	assert_memory_equal(out.data, "abc0123456789", 13);
	assert_int_equal(used, strlen(t) - 3);
	assert_int_equal(dechunk("3\r\nab", 100, &out, &used, &status), PDP_HTTP_NEED_MORE);
	assert_int_equal(dechunk("3\r\nabc\r\n0\r\n", 100, &out, &used, &status), PDP_HTTP_NEED_MORE);
	assert_int_equal(dechunk("zz\r\n", 100, &out, &used, &status), PDP_HTTP_BAD);
	assert_int_equal(status, 400);
	assert_int_equal(dechunk("3\r\nabcd\r\n", 100, &out, &used, &status), PDP_HTTP_BAD);
	assert_int_equal(status, 400);
	assert_int_equal(dechunk("ffffffffffffffff\r\n", 100, &out, &used, &status), PDP_HTTP_BAD);
	assert_int_equal(status, 413);
	assert_int_equal(dechunk("8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 10, &out, &used, &status),
			 PDP_HTTP_BAD);
	assert_int_equal(status, 413);
	pdp_buf_done(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_post_head),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_chunked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
