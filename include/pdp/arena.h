/*
 * arena.h -- a bump allocator: many allocations, one free.
 *
 * A compiled policy revision lives in one arena, so dropping a revision is
 * one call and RSS stays flat across reloads; a request gets an arena that is
 * reset after each request. Allocation never fails (OOM is fatal) and memory
 * is 16-byte aligned. pdp_arena_reset keeps the first block for reuse.
 */
#ifndef PDP_ARENA_H
#define PDP_ARENA_H

#include <stddef.h>

#include "pdp/buf.h"

typedef struct pdp_arena pdp_arena;

pdp_arena *pdp_arena_new(size_t block_size);
void pdp_arena_free(pdp_arena *a);            /* accepts NULL */
void pdp_arena_reset(pdp_arena *a);
void *pdp_arena_alloc(pdp_arena *a, size_t n); /* uninitialised */
void *pdp_arena_zalloc(pdp_arena *a, size_t n);
void *pdp_arena_array(pdp_arena *a, size_t n, size_t size); /* zeroed */
char *pdp_arena_strndup(pdp_arena *a, const char *s, size_t n);
pdp_str pdp_arena_str(pdp_arena *a, pdp_str s); /* copy, NUL-terminated */
size_t pdp_arena_used(const pdp_arena *a);     /* bytes handed out */
size_t pdp_arena_reserved(const pdp_arena *a); /* bytes held from malloc */

void pdp_arena_freep(pdp_arena **ap);

#endif
