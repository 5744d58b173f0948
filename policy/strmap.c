/*
 * strmap.c -- linear-probing hash maps (see strmap.h).
 */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static size_t cap_for(size_t expected)
{
	size_t cap = 16;
	while (cap < expected * 2 + 2)
		cap *= 2;
	return cap;
}

void pdp_strmap_init(pdp_strmap *m, size_t expected)
{
	m->cap = cap_for(expected);
	m->n = 0;
	m->keys = pdp_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = pdp_xcalloc(m->cap, sizeof(*m->vals));
	m->hashes = pdp_xcalloc(m->cap, sizeof(*m->hashes));
}

void pdp_strmap_done(pdp_strmap *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
	free(m->hashes);
	memset(m, 0, sizeof(*m));
}

static const char empty_marker[1] = "";

static size_t find(const pdp_strmap *m, pdp_str key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		if (!m->keys[i].p)
			return i;
		if (m->hashes[i] == h && pdp_str_eq(m->keys[i], key))
			return i;
	}
}

static void strmap_grow(pdp_strmap *m)
{
	pdp_strmap old = *m;
	pdp_strmap_init(m, old.cap);
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i].p)
			continue;
		size_t j = find(m, old.keys[i], old.hashes[i]);
		m->keys[j] = old.keys[i];
		m->vals[j] = old.vals[i];
		m->hashes[j] = old.hashes[i];
		m->n++;
	}
	pdp_strmap_done(&old);
}

uint32_t pdp_strmap_put(pdp_strmap *m, pdp_str key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	if (!key.p)
		key.p = empty_marker;
	uint32_t h = (uint32_t)pdp_str_hash(key);
	size_t i = find(m, key, h);
	if (m->keys[i].p)
		return m->vals[i];
	m->keys[i] = key;
	m->vals[i] = val;
	m->hashes[i] = h;
	m->n++;
	return val;
}

bool pdp_strmap_get(const pdp_strmap *m, pdp_str key, uint32_t *ret)
{
	if (!m->cap)
		return false;
	if (!key.p)
		key.p = empty_marker;
	size_t i = find(m, key, (uint32_t)pdp_str_hash(key));
	if (!m->keys[i].p)
		return false;
	*ret = m->vals[i];
	return true;
}

void pdp_u64map_init(pdp_u64map *m, size_t expected)
{
	m->cap = cap_for(expected);
	m->n = 0;
	m->keys = pdp_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = pdp_xcalloc(m->cap, sizeof(*m->vals));
}

void pdp_u64map_done(pdp_u64map *m)
{
	if (!m)
		return;
	free(m->keys);
	free(m->vals);
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
		if (m->keys[i] == 0 || m->keys[i] == stored)
			return i;
}

static void u64_grow(pdp_u64map *m)
{
	pdp_u64map old = *m;
	pdp_u64map_init(m, old.cap);
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i])
			continue;
		size_t j = u64_find(m, old.keys[i]);
		m->keys[j] = old.keys[i];
		m->vals[j] = old.vals[i];
		m->n++;
	}
	pdp_u64map_done(&old);
}

uint32_t *pdp_u64map_slot(pdp_u64map *m, uint64_t key, uint32_t init)
{
	if ((m->n + 1) * 2 > m->cap)
		u64_grow(m);
	uint64_t stored = key + 1;
	PDP_BUG_ON(stored == 0);
	size_t i = u64_find(m, stored);
	if (!m->keys[i]) {
		m->keys[i] = stored;
		m->vals[i] = init;
		m->n++;
	}
	return &m->vals[i];
}

bool pdp_u64map_get(const pdp_u64map *m, uint64_t key, uint32_t *ret)
{
	if (!m->cap)
		return false;
	size_t i = u64_find(m, key + 1);
	if (!m->keys[i])
		return false;
	*ret = m->vals[i];
	return true;
}
