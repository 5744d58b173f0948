/*
 * err.h -- the control-flow error channel of meshpdp.
 *
 * Design: every fallible function returns an `enum pdp_err` (PDP_OK = 0) and
 * is marked PDP_MUST_USE so the compiler catches ignored results. Errors move
 * up with PDP_TRY / PDP_ENSURE / PDP_BAIL. Each macro records the call site
 * in a thread-local (pdp_err_site) so a debug message can name where a
 * failure started. Messages for *users* do not travel here: they go through
 * the diagnostics sink (diag.h) or an explicit message buffer.
 *
 * Ownership helpers: PDP_CLEANUP(fn) runs fn(&var) when the variable leaves
 * scope; PDP_TAKE_PTR(p) hands ownership on and leaves NULL behind.
 */
#ifndef PDP_ERR_H
#define PDP_ERR_H

#include <stddef.h>

enum pdp_err {
	PDP_OK = 0,
	PDP_E_NOMEM,     /* allocation failed */
	PDP_E_IO,        /* a system call failed (errno kept by the caller) */
	PDP_E_PARSE,     /* bytes that do not parse (YAML, JSON, bundle) */
	PDP_E_INVALID,   /* well-formed input that breaks a rule */
	PDP_E_CORRUPT,   /* a bundle or log that fails its integrity check */
	PDP_E_LIMIT,     /* a configured or built-in limit was hit */
	PDP_E_NOTFOUND,  /* a named thing does not exist */
	PDP_E_SIGNATURE, /* a signature is missing or does not verify */
	PDP_E_BUSY,      /* try again later (backpressure) */
	PDP_E__COUNT
};

#define PDP_MUST_USE __attribute__((warn_unused_result))

struct pdp_err_site {
	const char *file;
	int line;
	enum pdp_err err;
};

/* The last error recorded by PDP_ENSURE/PDP_BAIL on this thread. */
const struct pdp_err_site *pdp_err_last(void);
void pdp_err_record(enum pdp_err e, const char *file, int line);
const char *pdp_err_str(enum pdp_err e);

#define PDP_BAIL(e)                                              \
	do {                                                     \
		pdp_err_record((e), __FILE__, __LINE__);         \
		return (e);                                      \
	} while (0)

#define PDP_ENSURE(cond, e)                                      \
	do {                                                     \
		if (!(cond))                                     \
			PDP_BAIL(e);                             \
	} while (0)

#define PDP_TRY(x)                                               \
	do {                                                     \
		enum pdp_err pdp_try_e_ = (x);                   \
		if (pdp_try_e_ != PDP_OK)                        \
			return pdp_try_e_;                       \
	} while (0)

/* Programmer errors only, never input. */
#define PDP_BUG_ON(cond)                                         \
	do {                                                     \
		if (cond)                                        \
			pdp_bug(__FILE__, __LINE__, #cond);      \
	} while (0)

_Noreturn void pdp_bug(const char *file, int line, const char *what);
/* Allocation failure is fatal (h2o_fatal style): callers never see NULL. */
_Noreturn void pdp_oom(void);

void *pdp_xmalloc(size_t n);
void *pdp_xcalloc(size_t n, size_t size);
void *pdp_xrealloc(void *p, size_t n);
char *pdp_xstrndup(const char *s, size_t n);

/* Deliberately ignore a result (gcc does not accept a (void) cast for
 * warn_unused_result); say why at the call site. */
static inline void pdp_ignore(enum pdp_err e)
{
	(void)e;
}

#define PDP_CLEANUP(fn) __attribute__((cleanup(fn)))

static inline void *pdp_take_ptr_(void **pp)
{
	void *p = *pp;
	*pp = NULL;
	return p;
}
#define PDP_TAKE_PTR(p) pdp_take_ptr_((void **)&(p))

/* Cleanup helper for plain malloc'd pointers: PDP_CLEANUP(pdp_freep). */
void pdp_freep(void *pp);

/* strcpy, strcat, sprintf, vsprintf and gets are banned: `make` fails on
 * any use (the `banned` check in the Makefile). */

#endif
