/*
 * test_eval.c -- the evaluator and the request/response layer on the
 * fixture mesh (tests/unit/fixtures/mesh). The full semantics are covered
 * case by case in examples/tests; here: the API contracts, the request
 * schema's negative cases, time boundaries, and evaluation from several
 * threads at once.
 */
#include <pthread.h>

#include "helpers.h"

static pdp_policy *pol;

static int setup(void **state)
{
	(void)state;
	pdp_diag d;
	pdp_diag_init(&d);
	enum pdp_err e = pdp_policy_from_dir(FIXTURE_MESH, &d, &pol);
	if (e != PDP_OK)
		pdp_diag_print(&d, stderr);
	pdp_diag_done(&d);
	return e == PDP_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	pdp_policy_unref(pol);
	return 0;
}

#define T_2026_06_01 1780272000LL

/* Decides a JSON request at time t and renders the response. */
static char *decide_json(const char *json, int64_t t)
{
	pdp_arena *a = pdp_arena_new(4096);
	pdp_request req;
	pdp_decision d;
	pdp_buf out, msg;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&msg, 4096);
	enum pdp_err e = pdp_request_parse(json, strlen(json), NULL, a, &req, &msg);
	if (e == PDP_OK) {
		req.time = t;
		e = pdp_eval_decide(pol, &req, a, &d, &msg);
	}
	if (e == PDP_OK)
		e = pdp_decision_to_json(&d, &req, PDP_STR_NULL, -1, PDP_STR_NULL, &out);
	else
		e = pdp_buf_printf(&out, "ERROR %s", msg.data);
	assert_int_equal(e, PDP_OK);
	pdp_buf_done(&msg);
	pdp_arena_free(a);
	return pdp_buf_steal(&out, NULL);
}

static void expect_in(const char *json, int64_t t, const char *const *parts)
{
	char *got = decide_json(json, t);
	for (size_t i = 0; parts[i]; i++) {
		if (!strstr(got, parts[i]))
			fail_msg("expected %s in %s", parts[i], got);
	}
	free(got);
}

#define FIN "{\"subject\":{\"id\":\"u-1\",\"domain\":\"finance\",\"groups\":[\"finance-analysts\"]},"

static void test_grant_with_purpose_masks_across_domains(void **state)
{
	(void)state;
	static const char *const want[] = {
		"\"decision\":\"allow\"", "\"event_id\":{\"access\":\"allow\"}",
		"\"customer_email\":{\"access\":\"mask\",\"mask\":\"hash\"}",
		"\"row_filter\":\"(region = 'EU')\"",
		"\"reasons\":[\"mesh#rules[pii-cross-domain]\",\"orders.order_events#grants[0]\"]", NULL
	};
	expect_in(FIN "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\","
		      "\"columns\":[\"event_id\",\"customer_email\"]},\"context\":{\"purpose\":\"billing\"}}",
		  T_2026_06_01, want);
}

static void test_dates_are_half_open(void **state)
{
	(void)state;
	const char *req = FIN "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\","
			      "\"columns\":[\"event_id\"]},\"context\":{\"purpose\":\"billing\"}}";
	static const char *const allow[] = { "\"decision\":\"allow\"", NULL };
	static const char *const deny[] = { "\"decision\":\"deny\"", "default_deny", NULL };
	const int64_t nb = 1767225600LL; /* 2026-01-01 */
	const int64_t ex = 1798761600LL; /* 2027-01-01 */
	expect_in(req, nb - 1, deny);
	expect_in(req, nb, allow);
	expect_in(req, ex - 1, allow);
	expect_in(req, ex, deny);
}

static void test_deny_entry_overrides_membership(void **state)
{
	(void)state;
	static const char *const want[] = {
		"\"decision\":\"deny\"", "\"customer_email\":{\"access\":\"deny\"}",
		"\"event_id\":{\"access\":\"allow\"}",
		"\"reasons\":[\"domain_member\",\"orders.order_events#deny[0]\"]", NULL
	};
	expect_in("{\"subject\":{\"id\":\"c\",\"domain\":\"orders\",\"groups\":[\"orders-contractors\","
		  "\"orders-analysts\"]},\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\","
		  "\"columns\":[\"event_id\",\"customer_email\"]}}",
		  T_2026_06_01, want);
}

static void test_restricted_stays_in_domain(void **state)
{
	(void)state;
	static const char *const denied[] = {
		"\"decision\":\"deny\"", "\"reasons\":[\"mesh#rules[restricted-stays-in-domain]\"]", NULL
	};
	static const char *const allowed[] = {
		"\"decision\":\"allow\"", "\"row_filter\":\"(amount_cents > 1000)\"",
		"\"reasons\":[\"risk.fraud_cases#grants[0]\"]", NULL
	};
	const char *base = FIN "\"action\":\"read\",\"resource\":{\"product\":\"risk.fraud_cases\","
			       "\"columns\":[\"case_id\",\"amount_cents\"]}";
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s}", base);
	expect_in(buf, T_2026_06_01, denied);
	snprintf(buf, sizeof(buf), "%s,\"context\":{\"purpose\":\"regulatory_reporting\"}}", base);
	expect_in(buf, T_2026_06_01, allowed);
}

static void test_describe_is_literal(void **state)
{
	(void)state;
	/* the finance grant on fraud_cases is read-only: no describe */
	static const char *const want[] = { "\"decision\":\"deny\"", "\"columns\":{}",
					    "\"row_filter\":null", NULL };
	expect_in(FIN "\"action\":\"describe\",\"resource\":{\"product\":\"risk.fraud_cases\"},"
		      "\"context\":{\"purpose\":\"regulatory_reporting\"}}",
		  T_2026_06_01, want);
	static const char *const auditor[] = { "\"decision\":\"allow\"", "\"columns\":{}",
					       "\"reasons\":[\"risk.fraud_cases#grants[1]\"]", NULL };
	expect_in("{\"subject\":{\"id\":\"u-auditor\",\"domain\":\"audit\"},\"action\":\"describe\","
		  "\"resource\":{\"product\":\"risk.fraud_cases\"},\"context\":{\"purpose\":\"regulatory_reporting\"}}",
		  T_2026_06_01, auditor);
}

static void test_unknowns(void **state)
{
	(void)state;
	static const char *const product[] = { "\"decision\":\"deny\"", "\"columns\":{}",
					       "\"reasons\":[\"unknown_product\"]", NULL };
	expect_in(FIN "\"action\":\"read\",\"resource\":{\"product\":\"nope.nothing\"}}", T_2026_06_01, product);
	static const char *const column[] = { "\"decision\":\"deny\"", "\"bogus\":{\"access\":\"deny\"}",
					      "\"event_id\":{\"access\":\"allow\"}", "default_deny", NULL };
	expect_in("{\"subject\":{\"id\":\"e\",\"domain\":\"orders\",\"groups\":[\"orders-engineers\"]},"
		  "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\","
		  "\"columns\":[\"event_id\",\"bogus\",\"event_id\",\"bogus\"]}}",
		  T_2026_06_01, column);
	char *got = decide_json("{\"subject\":{\"id\":\"e\",\"groups\":[\"orders-engineers\"]},"
				"\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\","
				"\"columns\":[\"event_id\",\"bogus\",\"event_id\",\"bogus\"]}}",
				T_2026_06_01);
	/* de-duplicated: each column once */
	assert_null(strstr(strstr(got, "\"bogus\"") + 1, "\"bogus\""));
	free(got);
}

struct bad_case {
	const char *json;
	enum pdp_err err;
	const char *msg;
};

static void test_request_schema_errors(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "{", PDP_E_PARSE, "invalid JSON" },
		{ "[]", PDP_E_INVALID, "JSON object" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"resource\":{\"product\":\"p\"},\"x\":1}",
		  PDP_E_INVALID, "unknown key 'x' in request" },
		{ "{\"subject\":{\"id\":\"a\",\"role\":\"x\"},\"action\":\"read\",\"resource\":{\"product\":\"p\"}}",
		  PDP_E_INVALID, "unknown key 'role' in subject" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"resource\":{\"product\":\"p\",\"table\":1}}",
		  PDP_E_INVALID, "unknown key 'table' in resource" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"resource\":{\"product\":\"p\",\"columns\":[]}}",
		  PDP_E_INVALID, "must not be empty" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"delete\",\"resource\":{\"product\":\"p\"}}",
		  PDP_E_INVALID, "unknown action" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"action\":\"write\",\"resource\":{\"product\":\"p\"}}",
		  PDP_E_PARSE, "duplicate" },
		{ "{\"subject\":{\"id\":\"\"},\"action\":\"read\",\"resource\":{\"product\":\"p\"}}",
		  PDP_E_INVALID, "subject.id" },
		{ "{\"subject\":{\"id\":\"a\",\"groups\":[1]},\"action\":\"read\",\"resource\":{\"product\":\"p\"}}",
		  PDP_E_INVALID, "subject.groups[0]" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"resource\":{\"product\":\"p\"},"
		  "\"context\":{\"dialect\":\"oracle\"}}", PDP_E_INVALID, "dialect" },
		{ "{\"subject\":{\"id\":\"a\"},\"action\":\"read\",\"resource\":{\"product\":\"p\"},"
		  "\"context\":{\"time\":\"yesterday\"}}", PDP_E_INVALID, "context.time" },
		{ "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", PDP_E_LIMIT, "nested" },
		{ "{\"action\":\"read\",\"resource\":{\"product\":\"p\"}}", PDP_E_INVALID, "missing subject" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pdp_arena *a = pdp_arena_new(4096);
		pdp_buf msg;
		pdp_buf_init(&msg, 4096);
		pdp_request req;
		enum pdp_err e = pdp_request_parse(cases[i].json, strlen(cases[i].json), NULL, a, &req, &msg);
		if (e != cases[i].err || !msg.data || !strstr(msg.data, cases[i].msg))
			fail_msg("case %zu: got %d '%s', want %d '%s'", i, e, msg.data ? msg.data : "",
				 cases[i].err, cases[i].msg);
		pdp_buf_done(&msg);
		pdp_arena_free(a);
	}
}

static void test_unknown_purpose_is_rejected(void **state)
{
	(void)state;
	char *got = decide_json(FIN "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\"},"
				    "\"context\":{\"purpose\":\"curiosity\"}}", T_2026_06_01);
	assert_non_null(strstr(got, "ERROR unknown purpose 'curiosity'"));
	free(got);
}

static void test_parse_time(void **state)
{
	(void)state;
	int64_t t;
	assert_true(pdp_parse_time(PDP_STR("2026-06-01"), &t));
	assert_int_equal(t, T_2026_06_01);
	assert_true(pdp_parse_time(PDP_STR("2026-06-01T00:00:01Z"), &t));
	assert_int_equal(t, T_2026_06_01 + 1);
	assert_true(pdp_parse_time(PDP_STR("2026-06-01T02:00:00.250+02:00"), &t));
	assert_int_equal(t, T_2026_06_01);
	assert_false(pdp_parse_time(PDP_STR("2026-02-30"), &t));
	assert_false(pdp_parse_time(PDP_STR("2026-06-01T25:00:00Z"), &t));
	assert_false(pdp_parse_time(PDP_STR("2026-06-01T10:00:00"), &t));
	assert_false(pdp_parse_time(PDP_STR("2026-06-01T00:00:00.Z"), &t)); /* a fraction needs a digit */
}

#define NTHREADS 4
static void *worker(void *arg)
{
	const char *expected = arg;
	for (int i = 0; i < 2000; i++) {
		char *got = decide_json(FIN "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\"},"
					    "\"context\":{\"purpose\":\"billing\"}}", T_2026_06_01);
		int same = !strcmp(got, expected);
		free(got);
		if (!same)
			return (void *)1;
	}
	return NULL;
}

static void test_many_threads_one_policy(void **state)
{
	(void)state;
	char *expected = decide_json(FIN "\"action\":\"read\",\"resource\":{\"product\":\"orders.order_events\"},"
					 "\"context\":{\"purpose\":\"billing\"}}", T_2026_06_01);
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, expected), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *rv = NULL;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	free(expected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_with_purpose_masks_across_domains),
		cmocka_unit_test(test_dates_are_half_open),
		cmocka_unit_test(test_deny_entry_overrides_membership),
		cmocka_unit_test(test_restricted_stays_in_domain),
		cmocka_unit_test(test_describe_is_literal),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_request_schema_errors),
		cmocka_unit_test(test_unknown_purpose_is_rejected),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_many_threads_one_policy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
