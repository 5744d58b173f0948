/*
 * helpers.h -- shared by the unit tests: temporary directories, copying the
 * fixture mesh, writing files, compiling a directory.
 */
#ifndef PDP_TEST_HELPERS_H
#define PDP_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdp/eval.h"
#include "pdp/policy.h"

#define FIXTURE_MESH "tests/unit/fixtures/mesh"

/* mkdtemp under /tmp; the caller frees the path and removes the tree. */
static inline char *t_tmpdir(void)
{
	char *p = strdup("/tmp/pdp-test-XXXXXX");
	assert_non_null(mkdtemp(p));
	return p;
}

static inline void t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void t_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static inline void t_rmtree(char *dir)
{
	t_sh("rm -rf '%s'", dir);
	free(dir);
}

static inline void t_write(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Compiles dir into bundle bytes (asserting no policy errors). */
static inline void t_compile(const char *dir, pdp_buf *out)
{
	pdp_diag d;
	pdp_diag_init(&d);
	enum pdp_err e = pdp_policy_compile_dir(dir, NULL, &d, out);
	if (e != PDP_OK)
		pdp_diag_print(&d, stderr);
	assert_int_equal(e, PDP_OK);
	pdp_diag_done(&d);
}

#endif
