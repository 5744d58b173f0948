/*
 * arena.c -- bump allocator over a list of malloc'd blocks.
 *
 * Design: blocks are singly linked, newest first. A request larger than a
 * quarter of the block size gets a block of its own (linked behind the
 * current one, so the current block keeps filling). Reset frees all but the
 * oldest block.
 */
#include "pdp/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct block {
	struct block *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct pdp_arena {
	struct block *head;
	size_t block_size;
	size_t used;
	size_t reserved;
};

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

static struct block *block_new(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct block))
		pdp_oom();
	struct block *b = pdp_xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

pdp_arena *pdp_arena_new(size_t block_size)
{
	pdp_arena *a = pdp_xcalloc(1, sizeof(*a));
	a->block_size = block_size < 256 ? 256 : ALIGN16(block_size);
	return a;
}

void pdp_arena_free(pdp_arena *a)
{
	if (!a)
		return;
	struct block *b = a->head;
	while (b) {
		struct block *n = b->next;
		free(b);
		b = n;
	}
	free(a);
}

void pdp_arena_freep(pdp_arena **ap)
{
	pdp_arena_free(*ap);
	*ap = NULL;
}

void pdp_arena_reset(pdp_arena *a)
{
	struct block *b = a->head;
	struct block *keep = NULL;
	while (b) {
		struct block *n = b->next;
		if (!n && b->size == a->block_size)
			keep = b;
		else
			free(b);
		b = n;
	}
	a->head = keep;
	a->used = 0;
	a->reserved = keep ? keep->size : 0;
	if (keep)
		keep->used = 0;
}

static void *alloc_big(pdp_arena *a, size_t n)
{
	struct block *b = block_new(n);
	b->used = n;
	a->reserved += n;
	if (a->head) {
		b->next = a->head->next;
		a->head->next = b;
	} else {
		a->head = b;
	}
	return b->data;
}

void *pdp_arena_alloc(pdp_arena *a, size_t n)
{
	if (n > SIZE_MAX - 32)
		pdp_oom();
	n = ALIGN16(n ? n : 1);
	a->used += n;
	if (n > a->block_size / 4)
		return alloc_big(a, n);
	struct block *b = a->head;
	if (!b || b->size - b->used < n) {
		b = block_new(a->block_size);
		a->reserved += b->size;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void *pdp_arena_zalloc(pdp_arena *a, size_t n)
{
	void *p = pdp_arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

void *pdp_arena_array(pdp_arena *a, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		pdp_oom();
	return pdp_arena_zalloc(a, n * size);
}

char *pdp_arena_strndup(pdp_arena *a, const char *s, size_t n)
{
	char *p = pdp_arena_alloc(a, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

pdp_str pdp_arena_str(pdp_arena *a, pdp_str s)
{
	return (pdp_str){ pdp_arena_strndup(a, s.p, s.len), s.len };
}

size_t pdp_arena_used(const pdp_arena *a)
{
	return a->used;
}

size_t pdp_arena_reserved(const pdp_arena *a)
{
	return a->reserved;
}
