/*
 * test_yaml.c -- the positioned YAML loader (policy/yaml.c): node positions,
 * what it refuses (duplicate keys, aliases, tags, deep nesting, several
 * documents), key tables, the typed scalar readers, pdp_file_read; and the
 * glob / pii.detect matching and enum names of policy/model.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pdp/model.h"
#include "pdp/yaml.h"

struct yfx {
	pdp_arena *a;
	pdp_diag d;
};

static int setup(void **state)
{
	struct yfx *f = calloc(1, sizeof(*f));
	f->a = pdp_arena_new(4096);
	pdp_diag_init(&f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct yfx *f = *state;
	pdp_diag_done(&f->d);
	pdp_arena_free(f->a);
	free(f);
	return 0;
}

static pdp_ynode *parse_ok(struct yfx *f, const char *text)
{
	pdp_ynode *root = NULL;
	assert_int_equal(pdp_yaml_parse("t.yaml", text, strlen(text), f->a, &f->d, &root), PDP_OK);
	assert_int_equal(f->d.errors, 0);
	assert_non_null(root);
	return root;
}

/* Parsing must fail with exactly one error at line:col containing msg. */
static void parse_fails(struct yfx *f, const char *text, int line, int col, const char *msg)
{
	pdp_ynode *root = NULL;
	assert_int_equal(pdp_yaml_parse("t.yaml", text, strlen(text), f->a, &f->d, &root),
			 PDP_E_PARSE);
	assert_null(root);
	assert_int_equal(f->d.errors, 1);
	const pdp_diag_item *it = pdp_diag_find(&f->d, msg);
	if (!it)
		fail_msg("no diagnostic '%s' (got '%s')", msg, f->d.items[0].msg);
	assert_string_equal(it->file, "t.yaml");
	assert_int_equal(it->line, line);
	assert_int_equal(it->col, col);
}

static void positions(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "a: 1\nlist:\n  - x\n  - {k: v}\nq: \"s\"\nn: ~\n");
	assert_int_equal(r->type, PDP_Y_MAP);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->file, "t.yaml");
	pdp_ynode *a = pdp_ymap_get(r, "a");
	assert_int_equal(a->type, PDP_Y_SCALAR);
	assert_int_equal(a->line, 1);
	assert_int_equal(a->col, 4);
	pdp_ynode *l = pdp_ymap_get(r, "list");
	assert_int_equal(l->type, PDP_Y_SEQ);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->items[0]->line, 3);
	assert_int_equal(l->items[0]->col, 5);
	assert_int_equal(l->items[1]->type, PDP_Y_MAP);
	pdp_ynode *v = pdp_ymap_get(l->items[1], "k");
	assert_int_equal(v->line, 4);
	assert_int_equal(v->col, 9);
	assert_true(pdp_str_eq_c(v->str, "v"));
	pdp_ynode *q = pdp_ymap_get(r, "q");
	assert_true(q->quoted);
	assert_int_equal(pdp_ymap_get(r, "n")->type, PDP_Y_NULL);
	assert_null(pdp_ymap_get(r, "missing"));
	assert_null(pdp_ymap_get(a, "x")); /* not a map */
	assert_null(pdp_ymap_get(NULL, "x"));
}

static void empty_document(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "");
	assert_int_equal(r->type, PDP_Y_NULL);
	r = parse_ok(f, "# only a comment\n");
	assert_int_equal(r->type, PDP_Y_NULL);
}

static void duplicate_keys(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at line 1)");
}

static void duplicate_keys_quoted_and_nested(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "m:\n  x: 1\n  \"x\": 2\n", 3, 3, "duplicate key 'x' (first at line 2)");
}

static void aliases_refused(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "a: &anchor [read]\nb: *anchor\n", 2, 4, "YAML aliases are not supported");
}

static void custom_tags_refused(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "a: !secret x\n", 1, 4, "custom YAML tags are not supported");
	pdp_diag_done(&f->d);
	pdp_diag_init(&f->d);
	parse_ok(f, "a: !!str 5\n"); /* standard tags are fine */
}

static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 2);
	for (int i = 0; i < depth; i++)
		s[i] = '[';
	for (int i = 0; i < depth; i++)
		s[depth + i] = ']';
	s[2 * depth] = '\n';
	s[2 * depth + 1] = '\0';
	return s;
}

static void depth_limit(void **state)
{
	struct yfx *f = *state;
	char *ok = nested(PDP_YAML_MAX_DEPTH);
	parse_ok(f, ok);
	free(ok);
	char *deep = nested(PDP_YAML_MAX_DEPTH + 1);
	parse_fails(f, deep, 1, PDP_YAML_MAX_DEPTH + 1, "nesting too deep");
	free(deep);
}

static void multiple_documents_refused(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "a: 1\n---\nb: 2\n", 2, 1, "only one YAML document per file");
}

static void syntax_error_positioned(void **state)
{
	struct yfx *f = *state;
	parse_fails(f, "a: [1, 2\nb: 3\n", 2, 2, "YAML syntax error");
}

static void tab_indent_is_syntax_error(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *root = NULL;
	const char *t = "a:\n\tb: 1\n";
	assert_int_equal(pdp_yaml_parse("t.yaml", t, strlen(t), f->a, &f->d, &root), PDP_E_PARSE);
	assert_int_equal(f->d.errors, 1);
	assert_int_equal(f->d.items[0].line, 2);
}

static void bool_reader(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "t: true\nf: false\nq: \"true\"\ny: yes\nn: ~\n");
	bool b = false;
	assert_true(pdp_y_bool(pdp_ymap_get(r, "t"), &f->d, "t", &b));
	assert_true(b);
	assert_true(pdp_y_bool(pdp_ymap_get(r, "f"), &f->d, "f", &b));
	assert_false(b);
	b = true;
	assert_false(pdp_y_bool(pdp_ymap_get(r, "q"), &f->d, "q", &b));
	assert_false(pdp_y_bool(pdp_ymap_get(r, "y"), &f->d, "y", &b));
	assert_false(pdp_y_bool(pdp_ymap_get(r, "n"), &f->d, "n", &b));
	assert_true(b); /* not written on failure */
	assert_int_equal(f->d.errors, 3);
	assert_string_equal(f->d.items[0].msg, "q: expected true or false");
	assert_int_equal(f->d.items[0].line, 3);
	assert_int_equal(f->d.items[0].col, 4);
}

static void int_reader(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "a: 365\nb: -1\nc: 1.5\nd: \"7\"\ne: 99999999999999999999\n"
				   "g: 0x10\nh: 36500\n");
	int64_t x = 42;
	assert_true(pdp_y_int(pdp_ymap_get(r, "a"), &f->d, "a", 1, 36500, &x));
	assert_int_equal(x, 365);
	assert_true(pdp_y_int(pdp_ymap_get(r, "h"), &f->d, "h", 1, 36500, &x));
	assert_int_equal(x, 36500);
	x = 42;
	assert_false(pdp_y_int(pdp_ymap_get(r, "b"), &f->d, "b", 1, 36500, &x));
	assert_false(pdp_y_int(pdp_ymap_get(r, "c"), &f->d, "c", 1, 36500, &x));
	assert_false(pdp_y_int(pdp_ymap_get(r, "d"), &f->d, "d", 1, 36500, &x));
	assert_false(pdp_y_int(pdp_ymap_get(r, "e"), &f->d, "e", INT64_MIN, INT64_MAX, &x));
	assert_false(pdp_y_int(pdp_ymap_get(r, "g"), &f->d, "g", 1, 36500, &x));
	assert_int_equal(x, 42);
	assert_int_equal(f->d.errors, 5);
	assert_string_equal(f->d.items[0].msg, "b: expected an integer from 1 to 36500");
	assert_int_equal(f->d.items[0].line, 2);
}

static void number_reader(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "a: 99.5\nb: 30\nc: inf\nd: nan\ne: 1e400\nf: \"5\"\ng: x\n");
	double x = 0;
	assert_true(pdp_y_number(pdp_ymap_get(r, "a"), &f->d, "a", &x));
	assert_true(x == 99.5);
	assert_true(pdp_y_number(pdp_ymap_get(r, "b"), &f->d, "b", &x));
	assert_true(x == 30);
	assert_false(pdp_y_number(pdp_ymap_get(r, "c"), &f->d, "c", &x));
	assert_false(pdp_y_number(pdp_ymap_get(r, "d"), &f->d, "d", &x));
	assert_false(pdp_y_number(pdp_ymap_get(r, "e"), &f->d, "e", &x));
	assert_false(pdp_y_number(pdp_ymap_get(r, "f"), &f->d, "f", &x));
	assert_false(pdp_y_number(pdp_ymap_get(r, "g"), &f->d, "g", &x));
	assert_true(x == 30);
	assert_int_equal(f->d.errors, 5);
}

static void date_reader(void **state)
{
	(void)state;
	int64_t t = 0;
	assert_true(pdp_parse_date(PDP_STR("1970-01-01"), &t));
	assert_int_equal(t, 0);
	assert_true(pdp_parse_date(PDP_STR("2027-01-01"), &t));
	assert_int_equal(t, 1798761600);
	assert_true(pdp_parse_date(PDP_STR("2028-02-29"), &t)); /* leap year */
	assert_int_equal(t, 1835395200);
	assert_true(pdp_parse_date(PDP_STR("2000-02-29"), &t));
	t = 7;
	assert_false(pdp_parse_date(PDP_STR("2027-02-29"), &t));
	assert_false(pdp_parse_date(PDP_STR("2100-02-29"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-13-01"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-04-31"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-00-10"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-01-00"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-1-01"), &t));
	assert_false(pdp_parse_date(PDP_STR("1969-12-31"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027-01-01T00:00:00Z"), &t));
	assert_false(pdp_parse_date(PDP_STR("2027/01/01"), &t));
	assert_false(pdp_parse_date(PDP_STR("+027-01-01"), &t));
	assert_int_equal(t, 7);
}

static void date_node_reader(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "a: 2027-01-01\nb: 2027-02-30\nc: [2027-01-01]\n");
	int64_t t = 0;
	assert_true(pdp_y_date(pdp_ymap_get(r, "a"), &f->d, "a", &t));
	assert_int_equal(t, 1798761600);
	assert_false(pdp_y_date(pdp_ymap_get(r, "b"), &f->d, "grant.expires", &t));
	assert_false(pdp_y_date(pdp_ymap_get(r, "c"), &f->d, "c", &t));
	assert_int_equal(f->d.errors, 2);
	assert_string_equal(f->d.items[0].msg, "grant.expires: expected a date YYYY-MM-DD");
	assert_int_equal(f->d.items[0].line, 2);
	assert_int_equal(f->d.items[0].col, 4);
}

static void strlist_reader(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "one: read\nmany: [a, b]\nbad: [a, {x: 1}]\nempty: []\nm: {}\n");
	pdp_str *v = NULL;
	size_t n = 9;
	assert_true(pdp_y_strlist(pdp_ymap_get(r, "one"), f->a, &f->d, "one", &v, &n));
	assert_int_equal(n, 1);
	assert_true(pdp_str_eq_c(v[0], "read"));
	assert_true(pdp_y_strlist(pdp_ymap_get(r, "many"), f->a, &f->d, "many", &v, &n));
	assert_int_equal(n, 2);
	assert_true(pdp_str_eq_c(v[1], "b"));
	assert_true(pdp_y_strlist(pdp_ymap_get(r, "empty"), f->a, &f->d, "empty", &v, &n));
	assert_int_equal(n, 0);
	assert_false(pdp_y_strlist(pdp_ymap_get(r, "bad"), f->a, &f->d, "bad", &v, &n));
	assert_false(pdp_y_strlist(pdp_ymap_get(r, "m"), f->a, &f->d, "m", &v, &n));
	assert_int_equal(f->d.errors, 2);
	assert_int_equal(f->d.items[0].line, 3);
	assert_int_equal(f->d.items[0].col, 10); /* the offending item */
}

enum { K_NAME, K_LIST, K_OPT, K__N };
static const pdp_ykey test_keys[K__N] = {
	[K_NAME] = { "name", PDP_Y_SCALAR, PDP_YK_REQUIRED },
	[K_LIST] = { "list", PDP_Y_SEQ, PDP_YK_REQUIRED },
	[K_OPT] = { "opt", PDP_Y_ANY, 0 },
};

static void key_table_accepts(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "name: x\nlist: [1]\n");
	pdp_ynode *v[K__N];
	assert_true(pdp_ymap_read(r, test_keys, K__N, "thing", &f->d, v));
	assert_true(pdp_str_eq_c(v[K_NAME]->str, "x"));
	assert_int_equal(v[K_LIST]->type, PDP_Y_SEQ);
	assert_null(v[K_OPT]);
	r = parse_ok(f, "name: x\nlist: []\nopt: {a: 1}\n");
	assert_true(pdp_ymap_read(r, test_keys, K__N, "thing", &f->d, v));
	assert_int_equal(v[K_OPT]->type, PDP_Y_MAP);
}

static void key_table_reports_all(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "nmae: x\nlist: oops\nextra: 1\n");
	pdp_ynode *v[K__N];
	assert_false(pdp_ymap_read(r, test_keys, K__N, "thing", &f->d, v));
	assert_int_equal(f->d.errors, 4);
	const pdp_diag_item *it = pdp_diag_find(&f->d, "thing: unknown key 'nmae'");
	assert_non_null(it);
	assert_int_equal(it->line, 1);
	assert_int_equal(it->col, 1);
	it = pdp_diag_find(&f->d, "thing.list: expected list, got scalar");
	assert_non_null(it);
	assert_int_equal(it->line, 2);
	assert_int_equal(it->col, 7);
	assert_non_null(pdp_diag_find(&f->d, "thing: unknown key 'extra'"));
	it = pdp_diag_find(&f->d, "thing: missing required key 'name'");
	assert_non_null(it);
	assert_int_equal(it->line, 1);
	assert_non_null(v[K_LIST]); /* present, though of the wrong type */
}

static void key_table_needs_mapping(void **state)
{
	struct yfx *f = *state;
	pdp_ynode *r = parse_ok(f, "- a\n");
	pdp_ynode *v[K__N];
	assert_false(pdp_ymap_read(r, test_keys, K__N, "thing", &f->d, v));
	assert_int_equal(f->d.errors, 1);
	assert_string_equal(f->d.items[0].msg, "thing: expected mapping, got list");
	assert_null(v[K_NAME]);
}

static void file_read_limit(void **state)
{
	(void)state;
	char path[] = "/tmp/pdp-yaml-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	char *data = NULL;
	size_t len = 0;
	assert_int_equal(pdp_file_read(path, 10, &data, &len), PDP_OK);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	data = NULL;
	assert_int_equal(pdp_file_read(path, 9, &data, &len), PDP_E_LIMIT);
	assert_null(data);
	unlink(path);
	assert_int_equal(pdp_file_read(path, 10, &data, &len), PDP_E_IO);
	assert_int_equal(pdp_file_read("/tmp", 10, &data, &len), PDP_E_INVALID);
	assert_null(data);
}

static bool glob(const char *pat, const char *s, bool nocase)
{
	return pdp_glob_match(pdp_str_c(pat), pdp_str_c(s), nocase);
}

static void globs(void **state)
{
	(void)state;
	assert_true(glob("*_dob", "customer_dob", false));
	assert_false(glob("*_dob", "customer_dob_x", false));
	assert_false(glob("*_dob", "CUSTOMER_DOB", false));
	assert_true(glob("*_dob", "CUSTOMER_DOB", true));
	assert_true(glob("spiffe://mesh.example/gateway/*", "spiffe://mesh.example/gateway/trino-eu", false));
	assert_false(glob("spiffe://mesh.example/gateway/*", "spiffe://mesh.example/audit/x", false));
	assert_true(glob("a?c", "abc", false));
	assert_false(glob("a?c", "ac", false));
	assert_true(glob("[a-c]x", "bx", false));
	assert_false(glob("[a-c]x", "dx", false));
	assert_true(glob("[!a-c]x", "dx", false));
	assert_false(glob("[!a-c]x", "ax", false));
	assert_true(glob("[]]", "]", false));
	assert_true(glob("a[b", "a[b", false)); /* unclosed class: literal '[' */
	assert_true(glob("**x**", "abxcd", false));
	assert_true(glob("*", "", false));
	assert_true(glob("", "", false));
	assert_false(glob("", "a", false));
	assert_true(glob("a*b*c", "axxbyyc", false));
	assert_false(glob("a*b*c", "axxbyy", false));
	/* many stars must not be exponential */
	assert_false(glob("*a*a*a*a*a*a*a*a*a*a*a*b",
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));
}

static bool detect(const char *pat, const char *col)
{
	return pdp_pii_detect_match(pdp_str_c(pat), pdp_str_c(col));
}

static void pii_detect(void **state)
{
	(void)state;
	assert_true(detect("email", "customer_email"));
	assert_true(detect("email", "Customer_EMAIL_hash"));
	assert_false(detect("email", "mail"));
	assert_true(detect("name", "product_name")); /* substring: why pii: none exists */
	assert_true(detect("*_dob", "customer_dob")); /* glob: whole name */
	assert_false(detect("*_dob", "dob_customer"));
	assert_true(detect("*_DOB", "customer_dob")); /* globs ignore case too */
	assert_true(detect("ip_addr?ss", "IP_ADDRESS"));
	assert_false(detect("ip_addr?ss", "src_ip_address")); /* a glob is anchored */
	assert_false(detect("ssn", "session"));
}

static void enum_names(void **state)
{
	(void)state;
	assert_int_equal(pdp_action_parse(PDP_STR("describe")), PDP_ACT_DESCRIBE);
	assert_int_equal(pdp_action_parse(PDP_STR("write")), PDP_ACT_WRITE);
	assert_int_equal(pdp_action_parse(PDP_STR("Read")), 0);
	assert_string_equal(pdp_action_name(PDP_ACT_READ), "read");
	enum pdp_mask m = PDP_MASK_NONE;
	assert_true(pdp_mask_parse(PDP_STR("show_last_4"), &m));
	assert_int_equal(m, PDP_MASK_SHOW_LAST_4);
	assert_false(pdp_mask_parse(PDP_STR("none"), &m)); /* not a mask one can ask for */
	assert_false(pdp_mask_parse(PDP_STR("blur"), &m));
	assert_int_equal(pdp_mask_strength(PDP_MASK_SHOW_FIRST_4), pdp_mask_strength(PDP_MASK_SHOW_LAST_4));
	assert_true(pdp_mask_strength(PDP_MASK_HASH) < pdp_mask_strength(PDP_MASK_NULLIFY));
	assert_int_equal(pdp_role_parse(PDP_STR("audit")), PDP_ROLE_AUDIT);
	assert_int_equal(pdp_role_parse(PDP_STR("root")), 0);
	assert_string_equal(pdp_role_name(PDP_ROLE_GRANTS), "grants");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(positions, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_document, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_keys_quoted_and_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(aliases_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(custom_tags_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(depth_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(multiple_documents_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_error_positioned, setup, teardown),
		cmocka_unit_test_setup_teardown(tab_indent_is_syntax_error, setup, teardown),
		cmocka_unit_test_setup_teardown(bool_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(int_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(number_reader, setup, teardown),
		cmocka_unit_test(date_reader),
		cmocka_unit_test_setup_teardown(date_node_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(strlist_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(key_table_accepts, setup, teardown),
		cmocka_unit_test_setup_teardown(key_table_reports_all, setup, teardown),
		cmocka_unit_test_setup_teardown(key_table_needs_mapping, setup, teardown),
		cmocka_unit_test(file_read_limit),
		cmocka_unit_test(globs),
		cmocka_unit_test(pii_detect),
		cmocka_unit_test(enum_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
