/*
 * err.c -- error codes, the per-thread error site and fatal exits.
 */
#include "pdp/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local struct pdp_err_site last_site;

const struct pdp_err_site *pdp_err_last(void)
{
	return &last_site;
}

void pdp_err_record(enum pdp_err e, const char *file, int line)
{
	last_site.err = e;
	last_site.file = file;
	last_site.line = line;
}

const char *pdp_err_str(enum pdp_err e)
{
	switch (e) {
	case PDP_OK: return "ok";
	case PDP_E_NOMEM: return "out of memory";
	case PDP_E_IO: return "I/O error";
	case PDP_E_PARSE: return "parse error";
	case PDP_E_INVALID: return "invalid";
	case PDP_E_CORRUPT: return "corrupt";
	case PDP_E_LIMIT: return "limit exceeded";
	case PDP_E_NOTFOUND: return "not found";
	case PDP_E_SIGNATURE: return "bad signature";
	case PDP_E_BUSY: return "busy";
	default: return "unknown error";
	}
}

_Noreturn void pdp_bug(const char *file, int line, const char *what)
{
	fprintf(stderr, "BUG at %s:%d: %s\n", file, line, what);
	abort();
}

_Noreturn void pdp_oom(void)
{
	fputs("fatal: out of memory\n", stderr);
	abort();
}

void *pdp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		pdp_oom();
	return p;
}

void *pdp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		pdp_oom();
	return p;
}

void *pdp_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		pdp_oom();
	return q;
}

char *pdp_xstrndup(const char *s, size_t n)
{
	char *p = pdp_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void pdp_freep(void *pp)
{
	free(*(void **)pp);
	*(void **)pp = NULL;
}
