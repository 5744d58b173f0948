/*
 * test_buf.c -- the printf-free builders of the per-decision paths
 * (policy/buf.c): decimal digits at the edges of their types, the bounded
 * C-string copy, and JSON string literals on the fast (nothing to escape)
 * and the escaping path, both under a cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pdp/buf.h"

static void expect_dec(int64_t v, const char *want)
{
	char d[21];
	size_t n = pdp_dec(d, v);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(d, want, n);
	char ref[32];
	snprintf(ref, sizeof(ref), "%lld", (long long)v);
	assert_string_equal(ref, want);
}

static void test_decimal(void **state)
{
	(void)state;
	expect_dec(0, "0");
	expect_dec(7, "7");
	expect_dec(-1, "-1");
	expect_dec(1042, "1042");
	expect_dec(INT64_MAX, "9223372036854775807");
	expect_dec(INT64_MIN, "-9223372036854775808");
	char d[20];
	size_t n = pdp_dec_u64(d, UINT64_MAX);
	assert_int_equal(n, 20);
	assert_memory_equal(d, "18446744073709551615", 20);

	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_buf_add_u64(&b, 0), PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, ','), PDP_OK);
	assert_int_equal(pdp_buf_add_u64(&b, UINT64_MAX), PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, ','), PDP_OK);
	assert_int_equal(pdp_buf_add_i64(&b, -503), PDP_OK);
	assert_string_equal(b.data, "0,18446744073709551615,-503");
	pdp_buf_done(&b);

	pdp_buf_init(&b, 3); /* a number past the cap is refused whole */
	assert_int_equal(pdp_buf_add_i64(&b, -12), PDP_OK);
	assert_int_equal(pdp_buf_add_u64(&b, 5), PDP_E_LIMIT);
	assert_string_equal(b.data, "-12");
	pdp_buf_done(&b);
}

static void test_cstr_copy(void **state)
{
	(void)state;
	char d[5];
	memset(d, 'x', sizeof(d));
	pdp_cstr_copy(d, sizeof(d), "ab");
	assert_string_equal(d, "ab");
	pdp_cstr_copy(d, sizeof(d), "abcdefgh"); /* cut to fit, terminated */
	assert_string_equal(d, "abcd");
	pdp_cstr_copy(d, sizeof(d), NULL);
	assert_string_equal(d, "");
	pdp_cstr_copy(d, 1, "abc");
	assert_string_equal(d, "");
}

static void expect_json(const char *s, size_t n, const char *want)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	assert_int_equal(pdp_buf_addc(&b, '['), PDP_OK);
	assert_int_equal(pdp_buf_add_json_str(&b, (pdp_str){ s, n }), PDP_OK);
	assert_int_equal(pdp_buf_addc(&b, ']'), PDP_OK);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	pdp_buf_done(&b);
}

static void test_json_str(void **state)
{
	(void)state;
	expect_json("", 0, "[\"\"]");
	expect_json("order_total_cents", 17, "[\"order_total_cents\"]");
	expect_json("caf\xc3\xa9", 5, "[\"caf\xc3\xa9\"]"); /* UTF-8 passes as is */
	expect_json("a\"b\\c", 5, "[\"a\\\"b\\\\c\"]");
	expect_json("t\tn\nr\r\x01", 7, "[\"t\\tn\\nr\\r\\u0001\"]");
	expect_json("nul\0x", 5, "[\"nul\\u0000x\"]");

	pdp_buf b; /* the fast path under a cap: fits exactly, then refused */
	pdp_buf_init(&b, 5);
	assert_int_equal(pdp_buf_add_json_str(&b, PDP_STR("abc")), PDP_OK);
	assert_string_equal(b.data, "\"abc\"");
	assert_int_equal(pdp_buf_add_json_str(&b, PDP_STR("")), PDP_E_LIMIT);
	assert_string_equal(b.data, "\"abc\"");
	pdp_buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_cstr_copy),
		cmocka_unit_test(test_json_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
