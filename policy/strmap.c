/*
 * strmap.c -- linear-probing hash maps (see strmap.h).
 */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static size_t cap_for(size_t expected)
{
	size_t cap = 16;
	while (cap * 3 < (expected + 1) * 4)
		cap *= 2;
	return cap;
}

void pdp_strmap_init(pdp_strmap *m, size_t expected)
{
	m->cap = cap_for(expected);
	m->n = 0;
	m->slots = pdp_xcalloc(m->cap, sizeof(*m->slots));
}

void pdp_strmap_done(pdp_strmap *m)
{
	if (!m)
		return;
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static const char empty_marker[1] = "";

static bool slot_eq(const struct pdp_strmap_slot *s, pdp_str key)
{
	if (s->len != key.len)
		return false;
	const char *bytes = key.len <= PDP_STRMAP_INLINE ? s->inl : s->p;
	return key.len == 0 || memcmp(bytes, key.p, key.len) == 0;
}

static size_t find(const pdp_strmap *m, pdp_str key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct pdp_strmap_slot *s = &m->slots[i];
		if (!s->p || (s->hash == h && slot_eq(s, key)))
			return i;
	}
}

static void strmap_grow(pdp_strmap *m)
{
	pdp_strmap old = *m;
	pdp_strmap_init(m, old.cap);
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.slots[i].p)
			continue;
		pdp_str k = { old.slots[i].p, old.slots[i].len };
		m->slots[find(m, k, old.slots[i].hash)] = old.slots[i];
		m->n++;
	}
	pdp_strmap_done(&old);
}

uint32_t pdp_strmap_put(pdp_strmap *m, pdp_str key, uint32_t val)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		strmap_grow(m);
	if (!key.p)
		key.p = empty_marker;
	uint32_t h = (uint32_t)pdp_str_hash(key);
	PDP_BUG_ON(key.len > UINT32_MAX);
	struct pdp_strmap_slot *s = &m->slots[find(m, key, h)];
	if (s->p)
		return s->val;
	*s = (struct pdp_strmap_slot){ .hash = h, .val = val, .p = key.p, .len = (uint32_t)key.len };
	if (key.len <= PDP_STRMAP_INLINE && key.len)
		memcpy(s->inl, key.p, key.len);
	m->n++;
	return val;
}

bool pdp_strmap_get(const pdp_strmap *m, pdp_str key, uint32_t *ret)
{
	if (!m->cap)
		return false;
	if (!key.p)
		key.p = empty_marker;
	const struct pdp_strmap_slot *s = &m->slots[find(m, key, (uint32_t)pdp_str_hash(key))];
	if (!s->p)
		return false;
	*ret = s->val;
	return true;
}

/* The subject index is the largest map: it runs up to 7/8 full (linear
 * probing with a 64-bit mixer stays short at that load). */
static size_t u64_cap_for(size_t expected)
{
	size_t cap = 16;
	while (cap * 7 < (expected + 1) * 8)
		cap *= 2;
	return cap;
}

void pdp_u64map_init(pdp_u64map *m, size_t expected)
{
	m->cap = u64_cap_for(expected);
	m->n = 0;
	m->slots = pdp_xcalloc(m->cap, sizeof(*m->slots));
}

void pdp_u64map_done(pdp_u64map *m)
{
	if (!m)
		return;
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static size_t u64_find(const pdp_u64map *m, uint64_t stored)
{
	size_t mask = m->cap - 1;
	for (size_t i = mix64(stored) & mask;; i = (i + 1) & mask)
		if (m->slots[i].key == 0 || m->slots[i].key == stored)
			return i;
}

static void u64_grow(pdp_u64map *m)
{
	pdp_u64map old = *m;
	pdp_u64map_init(m, old.cap);
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.slots[i].key)
			continue;
		m->slots[u64_find(m, old.slots[i].key)] = old.slots[i];
		m->n++;
	}
	pdp_u64map_done(&old);
}

uint32_t *pdp_u64map_slot(pdp_u64map *m, uint64_t key, uint32_t init)
{
	if ((m->n + 1) * 8 > m->cap * 7)
		u64_grow(m);
	uint64_t stored = key + 1;
	PDP_BUG_ON(stored == 0);
	struct pdp_u64map_slot *s = &m->slots[u64_find(m, stored)];
	if (!s->key) {
		s->key = stored;
		s->val = init;
		m->n++;
	}
	return &s->val;
}

bool pdp_u64map_get(const pdp_u64map *m, uint64_t key, uint32_t *ret)
{
	if (!m->cap)
		return false;
	const struct pdp_u64map_slot *s = &m->slots[u64_find(m, key + 1)];
	if (!s->key)
		return false;
	*ret = s->val;
	return true;
}

void pdp_u64map_prefetch(const pdp_u64map *m, uint64_t key)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[mix64(key + 1) & (m->cap - 1)]);
}
