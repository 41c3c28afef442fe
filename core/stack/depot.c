/* Stack depot: identical stacks share one bucket (gperftools' Bucket:
 * allocs, frees, alloc bytes, free bytes). Lookups are lock-free (chains
 * are only ever prepended, with release stores); inserts take depot_lock.
 * Buckets live on the internal heap and are never freed, so ids and
 * pointers stay valid for the life of the process.
 *
 * Each thread keeps the buckets it found last in a direct-mapped cache
 * (1024 entries of hash, depth and id: 16 KiB on the internal heap, freed
 * at thread exit): the shared table and the buckets are spread over
 * megabytes, and their two dependent cache misses were a tenth of a
 * recorded malloc+free. A hit compares the 64-bit hash and the depth, not
 * the end frames (the same ~2^-64 risk of a merge as for the frames in
 * between). */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"
#include "core/module/module.h"

#include <pthread.h>
#include <string.h>

#define TABLE_BITS 16
#define TABLE_SIZE (1u << TABLE_BITS)
#define CHUNK_BITS 12
#define CHUNK_LEN (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096 /* 16M distinct stacks */

static _Atomic(hs_bucket_t *) table[TABLE_SIZE];
static _Atomic(hs_bucket_t **) by_id[MAX_CHUNKS];
const hs_range_t hs__depot_range = {(uintptr_t)table, (uintptr_t)(table + TABLE_SIZE)};
const hs_range_t hs__depot_ids_range = {(uintptr_t)by_id, (uintptr_t)(by_id + MAX_CHUNKS)};
static _Atomic uint32_t max_id;
static hs_lock_t depot_lock;
hs_lock_t *const hs__depot_lock = &depot_lock;

/* Every frame is multiplied independently and the products summed, so the
 * multiplies pipeline instead of forming one 30-deep dependency chain (this
 * runs on every recorded allocation). Position enters through the per-frame
 * seed, so reordered frames hash differently. */
uint64_t hs__stack_hash(const uintptr_t *pcs, int depth) {
  uint64_t acc = 0;
  for (int i = 0; i < depth; i++) acc += HS_FRAME_HASH(pcs[i], i);
  return hs__stack_hash_final(acc, depth);
}

/* A bucket matches on the 64-bit hash, the depth and the two end frames;
 * the frames in between are not compared (it cost 7% of a recorded
 * allocation). Two distinct stacks agreeing on all of that have a chance
 * around 2^-64 per lookup. */
static inline __attribute__((always_inline)) hs_bucket_t *
find(hs_bucket_t *b, uint64_t h, const uintptr_t *pcs, int depth) {
  for (; b; b = b->next)
    if (b->hash == h && b->depth == (uint32_t)depth && b->first == pcs[0] &&
        b->last == pcs[depth - 1])
      return b;
  return NULL;
}

/* ---- the per-thread cache ---- */
#define LOCAL_BITS 10
typedef struct local_ent {
  uint64_t hash; /* 0: empty (written last, cleared first: see local_put) */
  uint32_t id, depth;
} local_ent_t;

static HS_TLS local_ent_t *tl_local;
static HS_TLS bool tl_local_failed;
static pthread_key_t local_key;
static _Atomic int local_key_state; /* 0 none, 1 creating, 2 ready, -1 failed */

static void local_free(void *p) {
  tl_local = NULL;
  tl_local_failed = true; /* frees and allocations after this destructor go uncached */
  hs__arena_free(p);
}

static HS_NOINLINE local_ent_t *local_make(void) {
  tl_local_failed = true;
  if (!hs__thread_key_once(&local_key, &local_key_state, local_free)) return NULL;
  local_ent_t *t = hs__arena_alloc(sizeof(local_ent_t) << LOCAL_BITS);
  if (!t) return NULL;
  if (!hs__thread_key_set(local_key, t)) {
    hs__arena_free(t);
    return NULL;
  }
  tl_local_failed = false;
  return tl_local = t;
}

/* A signal handler that records on this thread may interrupt a put: the
 * entry is marked empty while it changes. */
static inline void local_put(local_ent_t *e, const hs_bucket_t *b) {
  e->hash = 0;
  atomic_signal_fence(memory_order_seq_cst);
  e->id = b->id;
  e->depth = b->depth;
  atomic_signal_fence(memory_order_seq_cst);
  e->hash = b->hash;
}

uint32_t hs__depot_intern_hashed(const uintptr_t *pcs, int depth, uint64_t h) {
  hs_assert(depth >= 1 && depth <= HS_MAX_DEPTH);
  hs_assert_expensive(h == hs__stack_hash(pcs, depth));
  local_ent_t *t = tl_local;
  if (HS_UNLIKELY(!t) && !tl_local_failed) t = local_make();
  local_ent_t *e = t ? &t[(h >> 17) & ((1u << LOCAL_BITS) - 1)] : NULL;
  if (HS_LIKELY(e != NULL)) {
    uint64_t eh = e->hash;
    atomic_signal_fence(memory_order_seq_cst);
    if (eh == h && e->depth == (uint32_t)depth) {
      uint32_t id = e->id;
      atomic_signal_fence(memory_order_seq_cst);
      if (HS_LIKELY(e->hash == h)) return id;
    }
  }
  _Atomic(hs_bucket_t *) *head = &table[h & (TABLE_SIZE - 1)];
  hs_bucket_t *b = find(atomic_load_explicit(head, memory_order_acquire), h, pcs, depth);
  if (HS_LIKELY(b != NULL)) {
    if (e) local_put(e, b);
    return b->id;
  }
  hs__lock(&depot_lock);
  b = find(atomic_load_explicit(head, memory_order_relaxed), h, pcs, depth);
  if (!b) {
    uint32_t id = atomic_load_explicit(&max_id, memory_order_relaxed) + 1;
    uint32_t chunk = id >> CHUNK_BITS;
    hs_bucket_t **slots = chunk < MAX_CHUNKS
                              ? atomic_load_explicit(&by_id[chunk], memory_order_relaxed)
                              : NULL;
    if (chunk < MAX_CHUNKS && !slots) {
      slots = hs__arena_alloc(CHUNK_LEN * sizeof *slots);
      atomic_store_explicit(&by_id[chunk], slots, memory_order_release);
    }
    if (slots)
      b = hs__arena_alloc(sizeof *b + (size_t)depth * sizeof *pcs);
    if (b) {
      b->hash = h;
      b->id = id;
      b->depth = (uint32_t)depth;
      b->epoch = hs__modules_epoch();
      b->first = pcs[0];
      b->last = pcs[depth - 1];
      memcpy(b->pcs, pcs, (size_t)depth * sizeof *pcs);
      b->next = atomic_load_explicit(head, memory_order_relaxed);
      slots[id & (CHUNK_LEN - 1)] = b;
      atomic_store_explicit(&max_id, id, memory_order_release);
      atomic_store_explicit(head, b, memory_order_release);
    }
  }
  hs__unlock(&depot_lock);
  if (b && e) local_put(e, b);
  return b ? b->id : 0;
}

hs_bucket_t *hs__depot_get(uint32_t id) {
  if (id == 0 || id > atomic_load_explicit(&max_id, memory_order_acquire)) return NULL;
  hs_bucket_t **slots = atomic_load_explicit(&by_id[id >> CHUNK_BITS], memory_order_acquire);
  return slots ? slots[id & (CHUNK_LEN - 1)] : NULL;
}

uint32_t hs__depot_max_id(void) {
  return atomic_load_explicit(&max_id, memory_order_acquire);
}

