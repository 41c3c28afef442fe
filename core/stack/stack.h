/* Stacks: capture of the caller's stack on recorded allocations
 * (core/stack/capture.c) and the stack depot that interns them into buckets
 * (core/stack/depot.c). Below recording; above the allocator (buckets live
 * on the internal heap) and the module tracker (each bucket remembers the
 * module epoch it was captured in). */
#ifndef HEAPSCOPE_CORE_STACK_STACK_H
#define HEAPSCOPE_CORE_STACK_STACK_H

#include "core/base/base.h"

#define HS_MAX_DEPTH 64

/* ---- stack capture (core/stack/capture.c) ---- */
enum hs_unwinder { HS_UNWIND_FP, HS_UNWIND_LIBUNWIND, HS_UNWIND_AUTO };
extern int hs__unwinder;      /* HEAPSCOPE_UNWINDER */
extern int hs__stack_depth;   /* HEAPSCOPE_STACK_DEPTH, 1..64 */
void hs__stack_init(void);    /* reads the settings; no allocation */
void hs__stack_scan_modules(void); /* (re)learn which code lacks frame pointers */
/* Capture the user's stack from inside a recording entry function.
 * frame = __builtin_frame_address(0) of that function, which the public
 * malloc-family entry point called directly. pcs[0] is the caller of the
 * public entry point. Returns the depth (>= 1 unless the stack is unknown)
 * and, in *hash, hs__stack_hash of the result. */
int hs__capture_hashed(uintptr_t *pcs, int max, void *frame, uint64_t *hash);
/* The dynamic linker's code: what it allocates (DTVs, dynamic TLS blocks,
 * link maps) is libc's own bookkeeping, never the program's leak. */
extern uintptr_t hs__ldso_lo, hs__ldso_hi;
/* The runtime's own code when it is a shared library (else 0, 0): stacks
 * that pass through it (an adapter calling a test) are cut there. */
extern uintptr_t hs__self_lo, hs__self_hi;

/* ---- stack ranges (core/stack/stackrange.c) ----
 * Where a stack walk may read: the stack the walk starts on and, when that
 * is not the thread's own (a coroutine's, an alternate signal stack), the
 * part of the thread's stack known readable (a signal frame or a frame
 * chain may lead back there). Every byte of both ranges is readable. */
typedef struct hs_stack_ranges {
  uintptr_t lo, hi;           /* holds the start address */
  uintptr_t home_lo, home_hi; /* the thread's stack when [lo, hi) is another; else empty */
} hs_stack_ranges_t;
/* may_probe: system calls are allowed (never in a signal handler); without
 * them only what this thread learned before is used. Never allocates,
 * never locks. */
void hs__stack_ranges(uintptr_t sp, bool may_probe, hs_stack_ranges_t *out);
void hs__stack_range_init(void); /* at start-up, on the main thread */

/* ---- stack depot (core/stack/depot.c) ---- */
typedef struct hs_bucket {
  struct hs_bucket *next;   /* hash chain */
  uint64_t hash;
  uint32_t id;
  uint32_t depth;
  uint32_t epoch;           /* module-map epoch when first seen */
  _Atomic uint64_t allocs, frees, alloc_bytes, free_bytes;
  uintptr_t pcs[];
} hs_bucket_t;
/* Find or add the bucket for a stack whose hs__stack_hash is h (the unwinder
 * computes it while walking). Lock-free when it exists. 0 on OOM. */
uint32_t hs__depot_intern_hashed(const uintptr_t *pcs, int depth, uint64_t h);
/* Stack hash: the sum of independent per-frame products (they pipeline,
 * unlike a chained hash; this runs on every recorded allocation), position
 * entering through a per-frame seed, then a final mix. */
#define HS_FRAME_HASH(pc, i) \
  (((uint64_t)(pc) ^ ((uint64_t)((i) + 1) * 0x632be59bd9b4e019ull)) * 0xff51afd7ed558ccdull)
static inline uint64_t hs__stack_hash_final(uint64_t acc, int depth) {
  acc += (uint64_t)depth * 0x9e3779b97f4a7c15ull;
  acc ^= acc >> 29;
  acc *= 0xbf58476d1ce4e5b9ull;
  return acc ^ (acc >> 32);
}
uint64_t hs__stack_hash(const uintptr_t *pcs, int depth);
hs_bucket_t *hs__depot_get(uint32_t id);
uint32_t hs__depot_max_id(void);        /* ids are 1..max */
void hs__depot_prefork(void);
void hs__depot_postfork(bool child);
/* The depot's tables: never leak-check roots. */
extern const hs_range_t hs__depot_range, hs__depot_ids_range;

#endif
