/*
 * yaml_fuzz.c -- fuzz target for the positioned YAML loader and the key
 * table reader (policy/yaml.c): arbitrary bytes must parse or fail with a
 * diagnostic, never crash, leak or read out of bounds.
 *
 * Target functions: pdp_yaml_parse, pdp_ymap_read, pdp_y_* readers.
 */
#include <stddef.h>
#include <stdint.h>

#include "pdp/yaml.h"

static void walk(const pdp_ynode *n, pdp_diag *d, pdp_arena *a, int depth)
{
	if (depth > PDP_YAML_MAX_DEPTH + 1)
		__builtin_trap();
	if (n->type == PDP_Y_MAP) {
		static const pdp_ykey keys[] = { { "apiVersion", PDP_Y_SCALAR, PDP_YK_REQUIRED },
						 { "kind", PDP_Y_SCALAR, 0 }, { "x", PDP_Y_ANY, 0 } };
		pdp_ynode *v[3];
		(void)pdp_ymap_read(n, keys, 3, "doc", d, v);
		for (size_t i = 0; i < n->n; i++)
			walk(pdp_ymap_val(n, i), d, a, depth + 1);
		return;
	}
	if (n->type == PDP_Y_SEQ) {
		pdp_str *v;
		size_t nv;
		(void)pdp_y_strlist(n, a, d, "list", &v, &nv);
		for (size_t i = 0; i < n->n; i++)
			walk(n->items[i], d, a, depth + 1);
		return;
	}
	int64_t i64;
	double dbl;
	bool b;
	(void)pdp_y_int(n, d, "int", -100, 100, &i64);
	(void)pdp_y_number(n, d, "num", &dbl);
	(void)pdp_y_bool(n, d, "bool", &b);
	(void)pdp_y_date(n, d, "date", &i64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pdp_arena *a = pdp_arena_new(4096);
	pdp_diag d;
	pdp_diag_init(&d);
	pdp_ynode *root = NULL;
	if (pdp_yaml_parse("fuzz.yaml", (const char *)data, size, a, &d, &root) == PDP_OK)
		walk(root, &d, a, 0);
	pdp_diag_done(&d);
	pdp_arena_free(a);
	return 0;
}
