/*
 * test_bundle.c -- the bundle: canonical revision, validation of corrupt,
 * truncated and hostile bundles, signatures.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "helpers.h"

static void compile_fixture(pdp_buf *b)
{
	pdp_buf_init(b, 0);
	t_compile(FIXTURE_MESH, b);
}

static char *revision_of(const char *dir)
{
	pdp_buf b;
	pdp_buf_init(&b, 0);
	t_compile(dir, &b);
	pdp_policy *p = NULL;
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL), PDP_OK);
	char *rev = strdup(pdp_policy_revision(p));
	pdp_policy_unref(p);
	pdp_buf_done(&b);
	return rev;
}

static void test_load_roundtrip(void **state)
{
	(void)state;
	pdp_buf b;
	compile_fixture(&b);
	pdp_policy *p = NULL;
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL), PDP_OK);
	assert_int_equal(pdp_policy_nproducts(p), 2);
	assert_int_equal(pdp_policy_ngrants(p), 4);
	assert_false(pdp_policy_is_signed(p));
	assert_int_equal(strlen(pdp_policy_revision(p)), 71);
	assert_memory_equal(pdp_policy_revision(p), "sha256:", 7);
	assert_int_equal(pdp_policy_caller_roles(p, PDP_STR("spiffe://mesh.example/gateway/trino-eu")),
			 PDP_ROLE_DECIDE);
	assert_int_equal(pdp_policy_caller_roles(p, PDP_STR("spiffe://mesh.example/governance/ci")),
			 PDP_ROLE_ADMIN | PDP_ROLE_GRANTS);
	assert_int_equal(pdp_policy_caller_roles(p, PDP_STR("spiffe://evil.example/gateway/x")), 0);
	pdp_policy_unref(p);
	pdp_buf_done(&b);
}

/* Renaming, reordering and re-indenting files does not change the revision;
 * changing what the policy says does. */
static void test_revision_is_canonical(void **state)
{
	(void)state;
	char *base = revision_of(FIXTURE_MESH);
	char *dir = t_tmpdir();
	t_sh("cp -r " FIXTURE_MESH "/. '%s'", dir);
	t_sh("cd '%s' && mv domains/orders/products/order_events.yaml domains/orders/products/zz.yml", dir);
	/* re-indent and reorder keys: block style, different key order */
	t_write(dir, "domains/risk/domain.yaml",
		"kind: Domain\napiVersion: meshpdp/v1\nmembers:\n    - fraud-analysts\n"
		"name: risk\ndefault_classification: internal\nowner: risk-squad\n");
	/* reorder the group list and the rule list of mesh.yaml */
	t_sh("cd '%s' && python3 -c \"import re,sys; s=open('mesh.yaml').read(); "
	     "s=s.replace('  - {name: orders-analysts, domain: orders}\\n  - {name: orders-engineers, domain: orders}',"
	     "'  - {name: orders-engineers, domain: orders}\\n  - {name:   orders-analysts,   domain: orders}'); "
	     "open('mesh.yaml','w').write(s)\"", dir);
	char *moved = revision_of(dir);
	assert_string_equal(base, moved);
	t_sh("cd '%s' && sed -i 's/version: 2.1.0/version: 2.1.1/' domains/orders/products/zz.yml", dir);
	char *changed = revision_of(dir);
	assert_string_not_equal(base, changed);
	free(base);
	free(moved);
	free(changed);
	t_rmtree(dir);
}

static void expect_load_fails(const uint8_t *b, size_t len, enum pdp_err want, const char *msg_part)
{
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	pdp_policy *p = (pdp_policy *)0x1;
	enum pdp_err e = pdp_bundle_load(b, len, NULL, &p, &msg);
	assert_int_equal(e, want);
	assert_ptr_equal(p, (pdp_policy *)0x1); /* not written on failure */
	if (msg_part)
		assert_non_null(strstr(msg.data, msg_part));
	pdp_buf_done(&msg);
}

static void test_truncated_everywhere(void **state)
{
	(void)state;
	pdp_buf b;
	compile_fixture(&b);
	for (size_t n = 0; n < b.len; n++)
		expect_load_fails((uint8_t *)b.data, n, PDP_E_CORRUPT, NULL);
	expect_load_fails((uint8_t *)b.data, 10, PDP_E_CORRUPT, "bad magic");
	expect_load_fails((uint8_t *)b.data, b.len - 1, PDP_E_CORRUPT, "truncated");
	pdp_buf_done(&b);
}

static void test_flipped_bytes_detected(void **state)
{
	(void)state;
	pdp_buf b;
	compile_fixture(&b);
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 0x5a;
		pdp_policy *p = NULL;
		enum pdp_err e = pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL);
		assert_int_not_equal(e, PDP_OK);
		b.data[i] ^= 0x5a;
	}
	pdp_buf_done(&b);
}

static void restamp(uint8_t *b, size_t len)
{
	unsigned int n = 0;
	EVP_Digest(b + 56, len - 56, b + 24, &n, EVP_sha256(), NULL);
}

/* With the digest re-stamped, a corrupted body reaches the parser: it must
 * fail cleanly or load something self-consistent, never crash. */
static void test_hostile_body(void **state)
{
	(void)state;
	pdp_buf b;
	compile_fixture(&b);
	size_t rejected = 0;
	for (size_t i = 56; i < b.len; i++) {
		for (int v = 0; v < 3; v++) {
			uint8_t old = (uint8_t)b.data[i];
			b.data[i] = (char)(v == 0 ? 0xff : v == 1 ? 0x00 : old + 1);
			restamp((uint8_t *)b.data, b.len);
			pdp_policy *p = NULL;
			if (pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL) == PDP_OK)
				pdp_policy_unref(p);
			else
				rejected++;
			b.data[i] = (char)old;
		}
	}
	restamp((uint8_t *)b.data, b.len);
	assert_true(rejected > (b.len - 56)); /* most corruptions are caught */
	pdp_buf_done(&b);
}

static void test_huge_count_does_not_allocate(void **state)
{
	(void)state;
	pdp_buf b;
	compile_fixture(&b);
	/* string table count := 0x7fffffff */
	memcpy(b.data + 56, "\xff\xff\xff\x7f", 4);
	restamp((uint8_t *)b.data, b.len);
	expect_load_fails((uint8_t *)b.data, b.len, PDP_E_CORRUPT, "string table");
	pdp_buf_done(&b);
}

static char *write_key(const char *dir, const char *name, uint8_t pub[32])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	char *path = malloc(4096);
	snprintf(path, 4096, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	size_t n = 32;
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &n), 1);
	EVP_PKEY_free(k);
	return path;
}

static void test_signatures(void **state)
{
	(void)state;
	char *dir = t_tmpdir();
	uint8_t pub1[32], pub2[32], loaded[32];
	char *k1 = write_key(dir, "k1.pem", pub1), *k2 = write_key(dir, "k2.pem", pub2);
	assert_int_equal(pdp_key_load_public(k1, loaded, NULL), PDP_OK);
	assert_memory_equal(loaded, pub1, 32);
	pdp_buf b;
	compile_fixture(&b);
	pdp_bundle_opts want1 = { .pubkey = pub1 }, want2 = { .pubkey = pub2 };
	pdp_policy *p = NULL;
	pdp_buf msg;
	pdp_buf_init(&msg, 4096);
	/* unsigned refused when a key is required */
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, &want1, &p, &msg), PDP_E_SIGNATURE);
	assert_non_null(strstr(msg.data, "not signed"));
	assert_int_equal(pdp_bundle_sign(&b, k1, NULL), PDP_OK);
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, &want1, &p, NULL), PDP_OK);
	assert_true(pdp_policy_is_signed(p));
	pdp_policy_unref(p);
	/* wrong key */
	pdp_buf_reset(&msg);
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, &want2, &p, &msg), PDP_E_SIGNATURE);
	assert_non_null(strstr(msg.data, "different key"));
	/* a flipped signature byte */
	b.data[b.len - 1] ^= 1;
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, &want1, &p, NULL), PDP_E_SIGNATURE);
	assert_int_equal(pdp_bundle_load((uint8_t *)b.data, b.len, NULL, &p, NULL), PDP_E_SIGNATURE);
	b.data[b.len - 1] ^= 1;
	/* not a key */
	assert_int_not_equal(pdp_bundle_sign(&b, FIXTURE_MESH "/mesh.yaml", NULL), PDP_OK);
	pdp_buf_done(&msg);
	pdp_buf_done(&b);
	free(k1);
	free(k2);
	t_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_roundtrip),
		cmocka_unit_test(test_revision_is_canonical),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_flipped_bytes_detected),
		cmocka_unit_test(test_hostile_body),
		cmocka_unit_test(test_huge_count_does_not_allocate),
		cmocka_unit_test(test_signatures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
