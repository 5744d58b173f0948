#include "policy_fixture.h"

static void valid_policy(void **state)
{
	(void)state;
	FX_EXPECT(fx_base, NULL, "0 errors, 0 warnings\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
