/*
 * strmap.h -- open-addressing hash maps for the compiler and the runtime.
 *
 * pdp_strmap: pdp_str → uint32_t. Keys are borrowed (the caller keeps the
 * bytes alive as long as the map). pdp_u64map: uint64_t → uint32_t.
 * Both grow by doubling at 50% load; lookups never allocate, so a map built
 * at load time can be read by many threads at once.
 */
#ifndef PDP_STRMAP_H
#define PDP_STRMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/buf.h"

typedef struct pdp_strmap {
	pdp_str *keys;
	uint32_t *vals;
	uint32_t *hashes;
	size_t cap, n; /* cap is a power of two; key.p == NULL marks empty */
} pdp_strmap;

void pdp_strmap_init(pdp_strmap *m, size_t expected);
void pdp_strmap_done(pdp_strmap *m);
/* Inserts key→val unless present; returns the value now stored. */
uint32_t pdp_strmap_put(pdp_strmap *m, pdp_str key, uint32_t val);
bool pdp_strmap_get(const pdp_strmap *m, pdp_str key, uint32_t *ret);

typedef struct pdp_u64map {
	uint64_t *keys; /* key + 1 stored; 0 marks empty */
	uint32_t *vals;
	size_t cap, n;
} pdp_u64map;

void pdp_u64map_init(pdp_u64map *m, size_t expected);
void pdp_u64map_done(pdp_u64map *m);
/* Returns a pointer to the value slot for key, inserting `init` if new. */
uint32_t *pdp_u64map_slot(pdp_u64map *m, uint64_t key, uint32_t init);
bool pdp_u64map_get(const pdp_u64map *m, uint64_t key, uint32_t *ret);

#endif
