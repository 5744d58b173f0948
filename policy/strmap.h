/*
 * strmap.h -- open-addressing hash maps for the compiler and the runtime.
 *
 * pdp_strmap: pdp_str → uint32_t. Keys are borrowed (the caller keeps the
 * bytes alive as long as the map). pdp_u64map: uint64_t → uint32_t.
 * The string map grows by doubling at 75% load, the u64 map at 87.5%; lookups never allocate, so a map built
 * at load time can be read by many threads at once.
 */
#ifndef PDP_STRMAP_H
#define PDP_STRMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "pdp/buf.h"

#define PDP_STRMAP_INLINE 20

/* One slot is 40 bytes and holds short keys inline, so a lookup of a name
 * of up to 20 bytes touches one cache line of the map and none of the
 * string storage (the runtime maps are large and looked up at random). */
struct pdp_strmap_slot {
	uint32_t hash;
	uint32_t val;
	const char *p;  /* the key's bytes (borrowed); NULL marks an empty slot */
	uint32_t len;
	char inl[PDP_STRMAP_INLINE]; /* copy of the key when len ≤ 20 */
};

typedef struct pdp_strmap {
	struct pdp_strmap_slot *slots;
	size_t cap, n;  /* cap is a power of two */
} pdp_strmap;

void pdp_strmap_init(pdp_strmap *m, size_t expected);
void pdp_strmap_done(pdp_strmap *m);
/* Inserts key→val unless present; returns the value now stored. */
uint32_t pdp_strmap_put(pdp_strmap *m, pdp_str key, uint32_t val);
bool pdp_strmap_get(const pdp_strmap *m, pdp_str key, uint32_t *ret);

struct pdp_u64map_slot {
	uint64_t key;   /* key + 1; 0 marks an empty slot */
	uint32_t val;
};

typedef struct pdp_u64map {
	struct pdp_u64map_slot *slots; /* key and value on one cache line */
	size_t cap, n;
} pdp_u64map;

void pdp_u64map_init(pdp_u64map *m, size_t expected);
void pdp_u64map_done(pdp_u64map *m);
/* Returns a pointer to the value slot for key, inserting `init` if new. */
uint32_t *pdp_u64map_slot(pdp_u64map *m, uint64_t key, uint32_t init);
bool pdp_u64map_get(const pdp_u64map *m, uint64_t key, uint32_t *ret);
/* Starts loading key's first slot into the cache (lookups that follow
 * overlap their memory latency). */
void pdp_u64map_prefetch(const pdp_u64map *m, uint64_t key);

#endif
