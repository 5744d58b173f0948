/*
 * test_audit_format.c -- the audit record byte format (audit_record.c,
 * audit_note.c, audit_fields.c): canonical JSON accepted and refused,
 * canonicalisation of non-canonical input, record lines and hashes (with the
 * worked example of docs/audit-log-format.md §11 computed independently),
 * the RFC 6962 tree against its recursive definition, base64, signed notes,
 * vkeys and the decision/refused/reload payload builders.
 */
#include "audit_test_util.h"

#include <jansson.h>

#include "pdp/eval.h"

static void test_canon_accepts(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"{}",
		"{\"a\":1}",
		"{\"a\":-5,\"b\":[true,false,null],\"c\":{\"x\":\"y\"}}",
		"{\"a\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\"}",
		"{\"a\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /\x7f\"}",
		"{\"a\":9223372036854775807,\"b\":-9223372036854775808}",
		"{\"a\":1,\"ab\":2,\"b\":3}",
		"{\"\\u0001\":1,\"a\":2}", /* decoded 0x01 sorts before 'a' */
		"{\"seqx\":1,\"x\":{\"hash\":2,\"seq\":1}}", /* envelope names only refused at the top */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *why = NULL;
		if (!pdp_audit_canon_object_check(ok[i], strlen(ok[i]), &why))
			fail_msg("refused %s: %s", ok[i], why);
	}
}

static void test_canon_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"[]",
		"{ }",
		"{\"a\": 1}",
		"{\"b\":1,\"a\":2}",              /* order */
		"{\"a\":1,\"a\":2}",              /* duplicate */
		"{\"a\":1.5}",
		"{\"a\":1e3}",
		"{\"a\":01}",
		"{\"a\":-0}",
		"{\"a\":9223372036854775808}",
		"{\"a\":\"\\/\"}",                /* escape not canonical */
		"{\"a\":\"\\u0041\"}",
		"{\"a\":\"\\u000a\"}",            /* must be \n */
		"{\"a\":\"\\u001F\"}",            /* uppercase hex */
		"{\"a\":\"\\u0000\"}",
		"{\"a\":\"\x01\"}",               /* raw control */
		"{\"a\":\"\xc0\xaf\"}",           /* overlong */
		"{\"a\":\"\xed\xa0\x80\"}",       /* surrogate */
		"{\"a\":\"\xf4\x90\x80\x80\"}",   /* > U+10FFFF */
		"{\"a\":\"x}",
		"{\"a\":1}x",
		"{\"v\":1}",                      /* envelope key */
		"{\"hash\":\"x\"}",
		"{\"a\":tru}",
		"{\"a\":[1,]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		if (pdp_audit_canon_object_check(bad[i], strlen(bad[i]), &why))
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
	}
	/* nesting past 32 levels */
	char deep[200];
	size_t n = 0;
	deep[n++] = '{';
	memcpy(deep + n, "\"a\":", 4), n += 4;
	for (int i = 0; i < 40; i++)
		deep[n++] = '[';
	for (int i = 0; i < 40; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	const char *why = NULL;
	assert_false(pdp_audit_canon_object_check(deep, n, &why));
	assert_string_equal(why, "JSON nested too deeply");
}

static void canon_is(const char *in, const char *want)
{
	pdp_buf out, err;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&err, 0);
	enum pdp_err e = pdp_audit_canon_members(in, strlen(in), &out, &err);
	if (e != PDP_OK)
		fail_msg("%s: %s", in, err.data ? err.data : "?");
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.data ? out.data : "", want, out.len);
	pdp_buf_done(&out);
	pdp_buf_done(&err);
}

static void canon_fails(const char *in, enum pdp_err want)
{
	pdp_buf out, err;
	pdp_buf_init(&out, 0);
	pdp_buf_init(&err, 0);
	assert_int_equal(pdp_audit_canon_members(in, strlen(in), &out, &err), want);
	assert_true(err.len > 0);
	pdp_buf_done(&out);
	pdp_buf_done(&err);
}

static void test_canonicalise(void **state)
{
	(void)state;
	canon_is("{}", "");
	canon_is("{\"a\":1}", "\"a\":1");
	canon_is(" { \"b\" : [ 1 , 2 ] , \"a\" : \"\\u0041\\/\" } ", "\"a\":\"A/\",\"b\":[1,2]");
	canon_is("{\"z\":{\"y\":1,\"x\":{\"w\":\"\\u000a\\u0007\"}}}", "\"z\":{\"x\":{\"w\":\"\\n\\u0007\"},\"y\":1}");
	canon_is("{\"\\u00e9\":1,\"z\":2}", "\"z\":2,\"\xc3\xa9\":1");
	canon_fails("{\"a\":1,\"a\":2}", PDP_E_PARSE);
	canon_fails("{\"a\":1.5}", PDP_E_INVALID);
	canon_fails("[1]", PDP_E_INVALID);
	canon_fails("{\"seq\":1}", PDP_E_INVALID);
	canon_fails("{\"a\":", PDP_E_PARSE);
}

static void test_add_str(void **state)
{
	(void)state;
	pdp_buf b;
	pdp_buf_init(&b, 0);
	const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9";
	assert_int_equal(pdp_audit_add_str(&b, in, sizeof(in) - 1), PDP_OK);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\"");
	pdp_buf_reset(&b);
	assert_int_equal(pdp_audit_add_str(&b, "\xff", 1), PDP_E_INVALID);
	assert_int_equal(pdp_audit_add_str(&b, "a\0b", 3), PDP_E_INVALID);
	pdp_buf_done(&b);
}

/* Byte-by-byte reference for a canonical string of ASCII input. */
static void ref_str(pdp_buf *b, const unsigned char *s, size_t n)
{
	assert_int_equal(pdp_buf_addc(b, '"'), PDP_OK);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : NULL;
		if (esc)
			assert_int_equal(pdp_buf_adds(b, esc), PDP_OK);
		else if (c < 0x20)
			assert_int_equal(pdp_buf_printf(b, "\\u%04x", c), PDP_OK);
		else
			assert_int_equal(pdp_buf_addc(b, (char)c), PDP_OK);
	}
	assert_int_equal(pdp_buf_addc(b, '"'), PDP_OK);
}

/* The word-at-a-time scan: every special byte at every offset of strings
 * up to 40 bytes, written (add_str) and checked (canon_object_check). */
static void test_add_str_offsets(void **state)
{
	(void)state;
	static const unsigned char special[] = { '"', '\\', '\n', 0x01, 0x1f, 0x20, 0x7f, 0xc3, 0xff, 0x00 };
	pdp_buf got, want, obj;
	pdp_buf_init(&got, 0);
	pdp_buf_init(&want, 0);
	pdp_buf_init(&obj, 0);
	for (size_t len = 1; len <= 40; len++)
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(special); k++) {
				unsigned char in[41];
				memset(in, 'x', len); /* no escape letter after a raw backslash */
				in[at] = special[k];
				pdp_buf_reset(&got);
				pdp_buf_reset(&want);
				enum pdp_err e = pdp_audit_add_str(&got, (const char *)in, len);
				if (special[k] >= 0x80 || special[k] == 0) { /* lone byte: invalid */
					assert_int_equal(e, PDP_E_INVALID);
					assert_int_equal(got.len, 0);
					continue;
				}
				assert_int_equal(e, PDP_OK);
				ref_str(&want, in, len);
				assert_int_equal(got.len, want.len);
				assert_memory_equal(got.data, want.data, want.len);
				pdp_buf_reset(&obj);
				assert_int_equal(pdp_buf_printf(&obj, "{\"k\":%s}", got.data), PDP_OK);
				const char *why = NULL;
				assert_true(pdp_audit_canon_object_check(obj.data, obj.len, &why));
				/* the same bytes raw in a string are refused when special */
				pdp_buf_reset(&obj);
				assert_int_equal(pdp_buf_adds(&obj, "{\"k\":\""), PDP_OK);
				assert_int_equal(pdp_buf_add(&obj, in, len), PDP_OK);
				assert_int_equal(pdp_buf_adds(&obj, "\"}"), PDP_OK);
				bool plain = special[k] == 0x20 || special[k] == 0x7f;
				assert_int_equal(pdp_audit_canon_object_check(obj.data, obj.len, &why), plain);
			}
	pdp_buf_done(&got);
	pdp_buf_done(&want);
	pdp_buf_done(&obj);
}

/* Column outcomes are sorted and unique for any count: insertion sort
 * (<= 16), qsort (> 16), and a heap array (> 32). */
static void test_fields_many_columns(void **state)
{
	(void)state;
	for (size_t n = 1; n <= 80; n += 7) {
		char names[80][24];
		pdp_col_result res[80];
		for (size_t i = 0; i < n; i++) {
			snprintf(names[i], sizeof(names[i]), "c%03zu", (n - i) / 2); /* reversed, pairs */
			res[i] = (pdp_col_result){ pdp_str_c(names[i]), i, PDP_ACCESS_ALLOW, PDP_MASK_NONE };
		}
		pdp_request req;
		memset(&req, 0, sizeof(req));
		req.subject_id = PDP_STR("u");
		req.product = PDP_STR("p");
		pdp_decision dec = { true, res, n, false, PDP_STR_NULL, NULL, 0, "sha256:abc" };
		pdp_buf out, want;
		pdp_buf_init(&out, 0);
		pdp_buf_init(&want, 0);
		assert_int_equal(pdp_audit_fields_decision(NULL, "d", "c", &req, &dec, &out), PDP_OK);
		const char *why = NULL;
		assert_true(pdp_audit_canon_object_check(out.data, out.len, &why));
		assert_int_equal(pdp_buf_adds(&want, "\"columns\":{"), PDP_OK);
		for (size_t k = 0, first = 1; k <= n / 2; k++, first = 0)
			assert_int_equal(pdp_buf_printf(&want, "%s\"c%03zu\":\"allow\"", first ? "" : ",", k),
					 PDP_OK);
		assert_int_equal(pdp_buf_addc(&want, '}'), PDP_OK);
		assert_non_null(strstr(out.data, want.data));
		pdp_buf_done(&out);
		pdp_buf_done(&want);
	}
}

/* docs/audit-log-format.md §11, values computed with Python's hashlib. */
static const char example_body[] =
	"{\"v\":1,\"seq\":0,\"ts\":\"2025-01-01T00:00:00.000000Z\",\"type\":\"genesis\",\"prev\":\""
	"0000000000000000000000000000000000000000000000000000000000000000\","
	"\"format\":\"meshpdp-audit\",\"log_id\":\"meshpdp.test/audit\"";
static const char example_hash[] = "5a3104c6318170fee01a9350519a771d1d53d939bd75e1d9020f5ca899268a06";
static const char example_leaf[] = "9d5826e8af5ba7f8c08e13303a96aa08f6cd5ad2f3241069f8d7bc8f567be2d6";

static void test_worked_example(void **state)
{
	(void)state;
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_buf b;
	pdp_buf_init(&b, 0);
	uint8_t zero[32] = { 0 }, hash[32], root[32];
	char hex[65];
	pdp_str m = PDP_STR("\"format\":\"meshpdp-audit\",\"log_id\":\"meshpdp.test/audit\"");
	assert_int_equal(pdp_audit_line_build(&h, &b, 0, "2025-01-01T00:00:00.000000Z", "genesis", zero, m, hash),
			 PDP_OK);
	assert_memory_equal(b.data, example_body, sizeof(example_body) - 1);
	pdp_audit_hex(hash, 32, hex);
	assert_string_equal(hex, example_hash);
	assert_int_equal(b.len, sizeof(example_body) - 1 + PDP_AUDIT_SUFFIX_LEN + 1);
	pdp_audit_rec r;
	const char *why = NULL;
	assert_int_equal(pdp_audit_line_parse(&h, b.data, b.len - 1, &r, &why), PDP_OK);
	assert_int_equal(r.seq, 0);
	assert_true(pdp_str_eq_c(r.type, "genesis"));
	assert_true(pdp_str_eq(r.members, m));
	pdp_audit_mth mt;
	pdp_audit_mth_init(&mt);
	pdp_audit_mth_append(&h, &mt, hash);
	pdp_audit_mth_root(&h, &mt, root);
	pdp_audit_hex(root, 32, hex);
	assert_string_equal(hex, example_leaf);
	pdp_buf_done(&b);
	pdp_audit_hasher_done(&h);
}

static void test_line_parse_refuses(void **state)
{
	(void)state;
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	pdp_buf b;
	pdp_buf_init(&b, 0);
	uint8_t zero[32] = { 0 }, hash[32];
	assert_int_equal(pdp_audit_line_build(&h, &b, 7, "2025-01-01T00:00:00.000000Z", "decision", zero,
					      PDP_STR("\"a\":\"hello\",\"b\":[1,2]"), hash),
			 PDP_OK);
	size_t len = b.len - 1;
	pdp_audit_rec r;
	const char *why = NULL;
	assert_int_equal(pdp_audit_line_parse(&h, b.data, len, &r, &why), PDP_OK);
	/* every single-byte change of the line is caught */
	for (size_t i = 0; i < len; i++) {
		char *copy = pdp_xstrndup(b.data, len);
		copy[i] = copy[i] == 'x' ? 'y' : 'x';
		why = NULL;
		if (pdp_audit_line_parse(&h, copy, len, &r, &why) == PDP_OK)
			fail_msg("a change at byte %zu went unnoticed", i);
		assert_non_null(why);
		free(copy);
	}
	/* version, truncation */
	char *copy = pdp_xstrndup(b.data, len);
	copy[5] = '2';
	assert_int_equal(pdp_audit_line_parse(&h, copy, len, &r, &why), PDP_E_CORRUPT);
	assert_non_null(strstr(why, "version"));
	assert_int_equal(pdp_audit_line_parse(&h, b.data, len - 1, &r, &why), PDP_E_CORRUPT);
	assert_int_equal(pdp_audit_line_parse(&h, b.data, 40, &r, &why), PDP_E_CORRUPT);
	free(copy);
	pdp_buf_done(&b);
	pdp_audit_hasher_done(&h);
}

static void test_members(void **state)
{
	(void)state;
	pdp_str m = PDP_STR("\"a\":{\"note\":1},\"n\":42,\"note\":\"x\\ny\",\"z\":[\"note\"]");
	pdp_str v;
	assert_true(pdp_audit_member(m, "note", &v));
	assert_true(pdp_str_eq_c(v, "\"x\\ny\""));
	uint64_t n;
	assert_true(pdp_audit_member_u64(m, "n", &n));
	assert_int_equal(n, 42);
	assert_false(pdp_audit_member(m, "b", &v));
	pdp_buf out;
	pdp_buf_init(&out, 0);
	assert_int_equal(pdp_audit_member_str(m, "note", &out), PDP_OK);
	assert_string_equal(out.data, "x\ny");
	pdp_buf_done(&out);
}

static void mth_recursive(pdp_audit_hasher *h, uint8_t leaves[][32], size_t n, uint8_t out[32])
{
	static const uint8_t zero = 0, one = 1;
	if (n == 1) {
		pdp_audit_sha256(h, out, &zero, 1, leaves[0], 32);
		return;
	}
	size_t k = 1;
	while (k * 2 < n)
		k *= 2;
	uint8_t in[64];
	mth_recursive(h, leaves, k, in);
	mth_recursive(h, leaves + k, n - k, in + 32);
	pdp_audit_sha256(h, out, &one, 1, in, 64);
}

static void test_merkle(void **state)
{
	(void)state;
	pdp_audit_hasher h;
	pdp_audit_hasher_init(&h);
	uint8_t leaves[70][32], a[32], b[32];
	pdp_audit_mth m, back;
	pdp_audit_mth_init(&m);
	for (size_t i = 0; i < 70; i++) {
		uint8_t byte = (uint8_t)i;
		pdp_audit_sha256(&h, leaves[i], &byte, 1, NULL, 0);
		pdp_audit_mth_append(&h, &m, leaves[i]);
		assert_int_equal(m.size, i + 1);
		assert_int_equal(m.n, (unsigned)__builtin_popcountll(i + 1));
		pdp_audit_mth_root(&h, &m, a);
		mth_recursive(&h, leaves, i + 1, b);
		assert_memory_equal(a, b, 32);
		/* the range round-trips through its JSON form */
		pdp_buf j;
		pdp_buf_init(&j, 0);
		assert_int_equal(pdp_audit_mth_json(&m, &j), PDP_OK);
		assert_true(pdp_audit_mth_parse((pdp_str){ j.data, j.len }, m.size, &back));
		assert_false(pdp_audit_mth_parse((pdp_str){ j.data, j.len }, m.size + 1, &back) &&
			     __builtin_popcountll(m.size + 1) != __builtin_popcountll(m.size));
		assert_memory_equal(back.range, m.range, 32 * (size_t)m.n);
		pdp_buf_done(&j);
	}
	pdp_audit_mth_init(&m);
	pdp_audit_mth_root(&h, &m, a);
	pdp_audit_sha256(&h, b, "", 0, NULL, 0);
	assert_memory_equal(a, b, 32);
	pdp_audit_hasher_done(&h);
}

static void test_base64(void **state)
{
	(void)state;
	char enc[16];
	uint8_t out[16];
	pdp_audit_b64_encode((const uint8_t *)"foob", 4, enc);
	assert_string_equal(enc, "Zm9vYg==");
	assert_int_equal(pdp_audit_b64_decode("Zm9vYg==", 8, out, sizeof(out)), 4);
	assert_memory_equal(out, "foob", 4);
	assert_int_equal(pdp_audit_b64_decode("Zm9vYh==", 8, out, sizeof(out)), -1); /* non-zero pad bits */
	assert_int_equal(pdp_audit_b64_decode("Zm9vYg=", 7, out, sizeof(out)), -1);
	assert_int_equal(pdp_audit_b64_decode("Zm9v Yg=", 8, out, sizeof(out)), -1);
	assert_int_equal(pdp_audit_b64_decode("Zm=vYg==", 8, out, sizeof(out)), -1);
	assert_int_equal(pdp_audit_b64_decode("Zm9vYmFy", 8, out, 5), -1); /* capacity */
}

static void test_notes(void **state)
{
	(void)state;
	struct tdir t;
	tdir_make(&t);
	pdp_audit_key k = { NULL, { 0 } };
	pdp_buf err, note;
	pdp_buf_init(&err, 0);
	pdp_buf_init(&note, 0);
	assert_int_equal(pdp_audit_key_load(t.key, &k, &err), PDP_OK);
	assert_memory_equal(k.pub, t.pub, 32);
	uint8_t root[32];
	memset(root, 0xAB, 32);
	assert_int_equal(pdp_audit_note_sign(&k, "meshpdp.test/audit", 1234, root, &note), PDP_OK);
	pdp_audit_note n;
	const char *why = NULL;
	assert_true(pdp_audit_note_parse(note.data, note.len, &n, &why));
	assert_true(pdp_str_eq_c(n.origin, "meshpdp.test/audit"));
	assert_int_equal(n.size, 1234);
	assert_memory_equal(n.root, root, 32);
	assert_int_equal(n.nsigs, 1);
	assert_true(!strncmp(note.data, "meshpdp.test/audit\n1234\n", 24));
	assert_non_null(strstr(note.data, "\n\n\xe2\x80\x94 meshpdp.test/audit "));
	pdp_str name = PDP_STR("meshpdp.test/audit");
	assert_int_equal(pdp_audit_note_verify(&n, name, t.pub), 1);
	assert_int_equal(pdp_audit_note_verify(&n, name, t.pub2), 0); /* unknown key: ignored */
	/* a cosignature by another key is ignored; a changed size fails */
	char *changed = pdp_xstrndup(note.data, note.len);
	changed[21] = '5';
	assert_true(pdp_audit_note_parse(changed, note.len, &n, &why));
	assert_int_equal(pdp_audit_note_verify(&n, name, t.pub), -1);
	free(changed);
	static const char *const bad[] = {
		"a\n1\nAAAA\n",                                            /* no signature */
		"a\n01\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n\n\xe2\x80\x94 a AAAAAAAA\n",
		"a\n1\nq83v\n\n\xe2\x80\x94 a AAAAAAAA\n",              /* short root */
		"a\n1\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n\n- a AAAAAAAA\n",
		"a\x01\n1\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n\n\xe2\x80\x94 a AAAAAAAA\n",
		"a\n1\nq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=\n\n\xe2\x80\x94 a AAAAAAAA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pdp_audit_note_parse(bad[i], strlen(bad[i]), &n, &why))
			fail_msg("accepted note %zu", i);
	/* vkeys */
	pdp_buf vk;
	pdp_buf_init(&vk, 0);
	uint8_t pub[32];
	assert_int_equal(pdp_audit_vkey("meshpdp.test/audit", t.pub, &vk), PDP_OK);
	assert_true(pdp_audit_vkey_parse((pdp_str){ vk.data, vk.len }, name, pub));
	assert_memory_equal(pub, t.pub, 32);
	assert_false(pdp_audit_vkey_parse((pdp_str){ vk.data, vk.len }, PDP_STR("other/log"), pub));
	vk.data[20] ^= 1;
	assert_false(pdp_audit_vkey_parse((pdp_str){ vk.data, vk.len }, name, pub));
	pdp_buf_done(&vk);
	/* origins */
	assert_true(pdp_audit_origin_valid("pdp.example.com/audit", 21));
	assert_false(pdp_audit_origin_valid("a b", 3));
	assert_false(pdp_audit_origin_valid("a+b", 3));
	assert_false(pdp_audit_origin_valid("", 0));
	/* a non-Ed25519 or missing key file is refused with a message */
	pdp_audit_key_done(&k);
	pdp_buf_reset(&err);
	assert_int_not_equal(pdp_audit_key_load("/nonexistent/key.pem", &k, &err), PDP_OK);
	assert_true(err.len > 0);
	pdp_buf_done(&err);
	pdp_buf_done(&note);
	tdir_done(&t);
}

static void test_fields(void **state)
{
	(void)state;
	struct tdir t;
	tdir_make(&t);
	char hk[320];
	snprintf(hk, sizeof(hk), "%s/hmac.key", t.path);
	spit(hk, "0123456789abcdef0123456789abcdef\n", 33);
	pdp_audit_config c;
	cfg_init(&c, &t);
	c.hmac_key = hk;
	pdp_audit *a = open_ok(&c);

	pdp_str groups[] = { PDP_STR("g1"), PDP_STR("g\"2") };
	pdp_str cols[] = { PDP_STR("b"), PDP_STR("a"), PDP_STR("b") };
	pdp_col_result res[] = { { PDP_STR("b"), 1, PDP_ACCESS_MASK, PDP_MASK_HASH },
				 { PDP_STR("a"), 0, PDP_ACCESS_DENY, PDP_MASK_NONE },
				 { PDP_STR("b"), 1, PDP_ACCESS_MASK, PDP_MASK_HASH } };
	pdp_str reasons[] = { PDP_STR("default_deny"), PDP_STR("p#grants[0]") };
	pdp_request req;
	memset(&req, 0, sizeof(req));
	req.subject_id = PDP_STR("u-1842");
	req.groups = groups;
	req.ngroups = 2;
	req.action = PDP_ACT_READ;
	req.product = PDP_STR("orders.order_events");
	req.has_columns = true;
	req.columns = cols;
	req.ncolumns = 3;
	req.request_id = PDP_STR("r-1");
	pdp_decision dec = { false, res, 3, false, PDP_STR_NULL, reasons, 2, "sha256:abc" };
	pdp_buf out;
	pdp_buf_init(&out, 0);
	assert_int_equal(pdp_audit_fields_decision(a, "d-1", "spiffe://x/gw", &req, &dec, &out), PDP_OK);
	const char *why = NULL;
	if (!pdp_audit_canon_object_check(out.data, out.len, &why))
		fail_msg("decision fields not canonical: %s: %s", why, out.data);
	char hmac[65];
	assert_true(pdp_audit_pseudonym(a, "u-1842", 6, hmac));
	char want[1024];
	snprintf(want, sizeof(want),
		 "{\"action\":\"read\",\"caller\":\"spiffe://x/gw\",\"columns\":{\"a\":\"deny\",\"b\":\"mask:hash\"},"
		 "\"columns_asked\":[\"b\",\"a\",\"b\"],\"decision\":\"deny\",\"decision_id\":\"d-1\","
		 "\"policy_revision\":\"sha256:abc\",\"product\":\"orders.order_events\","
		 "\"reasons\":[\"default_deny\",\"p#grants[0]\"],\"request_id\":\"r-1\","
		 "\"subject\":{\"groups\":[\"g1\",\"g\\\"2\"],\"id_hmac\":\"%s\"}}",
		 hmac);
	assert_string_equal(out.data, want);
	assert_null(strstr(out.data, "u-1842")); /* the id itself is not in the record */
	/* HMAC-SHA256 with the key file minus its newline: an independent value */
	/* HMAC-SHA256(key file minus its newline, id), from `openssl dgst -hmac` */
	assert_string_equal(hmac, "33bae3b8b017af26ed5ad99b15eb72910c5bced92044b4f49912270846180f44");

	pdp_buf_reset(&out);
	assert_int_equal(pdp_audit_fields_refused(NULL, "no_client_cert", 401, "POST", "/v1/decision", NULL,
						  "client certificate required", &out),
			 PDP_OK);
	assert_string_equal(out.data, "{\"message\":\"client certificate required\",\"method\":\"POST\","
				      "\"path\":\"/v1/decision\",\"reason\":\"no_client_cert\",\"status\":401}");
	pdp_buf_reset(&out);
	assert_int_equal(pdp_audit_fields_reload(false, "api", "spiffe://x/gov", "sha256:a", NULL,
						 "bundle signature does not verify", &out),
			 PDP_OK);
	assert_string_equal(out.data, "{\"caller\":\"spiffe://x/gov\",\"error\":\"bundle signature does not verify\","
				      "\"ok\":false,\"old_revision\":\"sha256:a\",\"trigger\":\"api\"}");
	pdp_buf_done(&out);
	char id1[37], id2[37];
	pdp_audit_decision_id(id1);
	pdp_audit_decision_id(id2);
	assert_int_equal(strlen(id1), 36);
	assert_int_equal(id1[14], '7');
	assert_string_not_equal(id1, id2);
	close_ok(a);
	tdir_done(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_accepts),
		cmocka_unit_test(test_canon_refuses),
		cmocka_unit_test(test_canonicalise),
		cmocka_unit_test(test_add_str),
		cmocka_unit_test(test_add_str_offsets),
		cmocka_unit_test(test_worked_example),
		cmocka_unit_test(test_line_parse_refuses),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_merkle),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_many_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
