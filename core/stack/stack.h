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
void hs__stack_find_self(void); /* learns hs__self_lo/hi (constructor) */
/* Capture the user's stack from inside a recording entry function.
 * frame = __builtin_frame_address(0) of that function, which the public
 * malloc-family entry point called directly. pcs[0] is the caller of the
 * public entry point. Returns the depth (>= 1 unless the stack is unknown)
 * and, in *hash, hs__stack_hash of the result. */
int hs__capture_hashed(uintptr_t *pcs, int max, void *frame, uint64_t *hash);
/* The same for the recording path: *id is the stack's depot id when a
 * walk memo knew it (then only pcs[0] is written, and *hash may not be the
 * stack's), else 0: the caller
 * interns pcs and passes the id to hs__unwind_memo_id. */
int hs__capture_hashed_id(uintptr_t *pcs, int max, void *frame, uint64_t *hash, uint32_t *id);
/* The dynamic linker's code: what it allocates (DTVs, dynamic TLS blocks,
 * link maps) is libc's own bookkeeping, never the program's leak. */
extern uintptr_t hs__ldso_lo, hs__ldso_hi;
/* The runtime's own code when it is a shared library (else 0, 0): stacks
 * that pass through it (an adapter calling a test) are cut there. */
extern uintptr_t hs__self_lo, hs__self_hi;

/* ---- call frame information (core/stack/cfi.c) ----
 * An unwind rule packed in 32 bits: how to get from a frame whose code
 * address is known to its caller's frame.
 *   bits 0-2   kind (HS_CFI_*)
 *   bits 3-4   where the caller's %rbp is (HS_CFI_BP_*)
 *   bits 5-12  that save slot's offset / 8, signed (-1024..1016 bytes)
 *   bits 13-31 the CFA offset, signed (+-256 KiB)
 * The return address is always at CFA - 8 (x86-64); the caller's %rsp is
 * the CFA. */
enum hs_cfi_kind {
  HS_CFI_NONE,        /* no CFI covers the address */
  HS_CFI_RSP,         /* CFA = rsp + off */
  HS_CFI_RBP,         /* CFA = rbp + off */
  HS_CFI_DEREF_RBP,   /* CFA = *(rbp + off): a function that realigned its stack */
  HS_CFI_PLT,         /* a PLT stub: CFA = rsp + 8, + 8 from slot offset off on */
  HS_CFI_SIGFRAME,    /* signal trampoline: registers in the ucontext at rsp */
  HS_CFI_STOP,        /* return address undefined: the outermost frame */
  HS_CFI_UNSUPPORTED, /* CFI this format cannot hold (libunwind can) */
};
enum hs_cfi_bp { HS_CFI_BP_SAME, HS_CFI_BP_AT_CFA, HS_CFI_BP_AT_RBP };
#define HS_CFI_CFA_MIN (-(1 << 18))
#define HS_CFI_CFA_MAX ((1 << 18) - 1)
#define HS_CFI_BP_MIN (-1024)
#define HS_CFI_BP_MAX 1016
static inline uint32_t hs__cfi_rule(int kind, int32_t cfa_off, int bp_kind, int32_t bp_off) {
  return (uint32_t)kind | (uint32_t)bp_kind << 3 | ((uint32_t)(bp_off / 8) & 0xff) << 5 |
         (uint32_t)cfa_off << 13;
}
static inline int hs__cfi_kind(uint32_t r) { return (int)(r & 7); }
static inline int hs__cfi_bp_kind(uint32_t r) { return (int)((r >> 3) & 3); }
static inline intptr_t hs__cfi_bp_off(uint32_t r) { return (intptr_t)((int32_t)(r << 19) >> 24) * 8; }
static inline intptr_t hs__cfi_cfa_off(uint32_t r) { return (intptr_t)((int32_t)r >> 13); }

/* A module's .eh_frame_hdr search table and .eh_frame, as read (a copy):
 * module address = address read + delta. */
typedef struct hs_cfi_index {
  uintptr_t hdr;          /* .eh_frame_hdr */
  uintptr_t eh_frame;     /* .eh_frame */
  uintptr_t limit;        /* no read goes at or past this address */
  intptr_t delta;
  const int32_t *table;   /* (start, FDE) pairs, relative to hdr, sorted */
  uint32_t count;
} hs_cfi_index_t;
/* false when the module has no usable binary-search table. */
bool hs__cfi_parse_hdr(uintptr_t hdr, size_t hdr_size, uintptr_t limit, intptr_t delta,
                       hs_cfi_index_t *out);
/* Copies a loaded module's .eh_frame_hdr and .eh_frame (limit: end of the
 * segment holding them) to the internal heap; NULL when they are unusable
 * or memory is short. The caller keeps the module mapped meanwhile (calls
 * this from a dl_iterate_phdr callback). Never freed. */
const hs_cfi_index_t *hs__cfi_copy(uintptr_t hdr, size_t hdr_size, uintptr_t limit);
/* The rule at code address addr (a return address minus 1, or an exact
 * pc). No allocation, lock or system call. */
uint32_t hs__cfi_lookup(const hs_cfi_index_t *ix, uintptr_t addr);

/* ---- stack ranges (core/stack/stackrange.c) ----
 * Where a stack walk may read: the stack the walk starts on and, when that
 * is not the thread's own (a coroutine's, an alternate signal stack), the
 * part of the thread's stack known readable (a signal frame or a frame
 * chain may lead back there). Every byte of both ranges is readable. */
typedef struct hs_stack_ranges {
  uintptr_t lo, hi;           /* holds the start address */
  uintptr_t home_lo, home_hi; /* the thread's stack when [lo, hi) is another; else empty */
  bool own;                   /* [lo, hi) is this thread's own stack */
} hs_stack_ranges_t;
/* may_probe: system calls are allowed (never in a signal handler); without
 * them only what this thread learned before is used. Never allocates,
 * never locks. Inline for the common case: sp on the part of this thread's
 * stack already known readable. */
extern HS_TLS uintptr_t hs__stack_top, hs__stack_verified_lo;
void hs__stack_ranges_slow(uintptr_t sp, bool may_probe, hs_stack_ranges_t *out);
static inline void hs__stack_ranges(uintptr_t sp, bool may_probe, hs_stack_ranges_t *out) {
  uintptr_t lo = hs__stack_verified_lo, hi = hs__stack_top;
  if (HS_LIKELY(sp >= lo && sp < hi)) {
    *out = (hs_stack_ranges_t){lo, hi, 0, 0, true};
    return;
  }
  hs__stack_ranges_slow(sp, may_probe, out);
}
void hs__stack_range_init(void); /* at start-up, on the main thread */

/* ---- the walker (core/stack/unwind.c) ----
 * From one frame's registers to its callers, by CFI rules with frame-pointer
 * and libunwind fallbacks; see the file's header for each kind of frame. */
typedef struct hs_unwind_regs {
  uintptr_t pc, sp, bp;
  bool exact; /* pc is the interrupted instruction, not a return address */
} hs_unwind_regs_t;
#define HS_UNWIND_IN_SIGNAL 1   /* flag: no system call, lock or allocation */
#define HS_UNWIND_NEEDS_SLOW 1  /* status: stopped at CFI only libunwind can follow */
/* Walks from *st (the first frame recorded is st->pc) into pcs[0..max),
 * reading only inside ranges; returns the depth. hash (optional) receives
 * hs__stack_hash of the result; status (optional) HS_UNWIND_* bits. */
int hs__unwind_walk(hs_unwind_regs_t *st, const hs_stack_ranges_t *ranges, int flags,
                    uintptr_t *pcs, int max, uint64_t *hash, int *status);
/* The same walk when every frame's rule is already in the rule cache and of
 * a plain kind (the common case once a program's return addresses have
 * been seen), on the thread's own stack [st->sp, hi): no setup, one tight
 * loop. -1 when it cannot: then call hs__unwind_walk. */
int hs__unwind_fast(const hs_unwind_regs_t *st, uintptr_t hi, uintptr_t *pcs, int max,
                    uint64_t *hash, uint32_t *id);
/* With id (the recording path; *id is 0 unless set otherwise, by the
 * capture): when a per-thread memo answers the walk and knows the depot id
 * of its stack, *id is that id and only pcs[0] is written (the depth is
 * the stack's; *hash may not be); when it answers without knowing it, the caller
 * passes the id it interned next to hs__unwind_memo_id (ignored when a
 * memo write came in between). */
void hs__unwind_memo_id(uint32_t id);
/* Walks hs__unwind_fast answered from this thread's leaf memo (whole walks
 * from frames without a frame pointer, kept per (pc, sp)): for tests. */
extern HS_TLS uint64_t hs__unwind_leaf_hits;
/* Walks it answered from this thread's frame-pointer memo (whole walks
 * from frames with a frame pointer, kept per (pc, sp, bp)): for tests. */
extern HS_TLS uint64_t hs__unwind_fp_memo_hits;
/* For a signal handler (the CPU profiler's SIGPROF): the stack of the
 * context the signal interrupted (the handler's third argument), pcs[0]
 * being the interrupted pc itself, bounded by that thread's stack.
 * Async-signal-safe: no allocation, lock or system call. Returns the depth
 * (<= HS_MAX_DEPTH). */
int hs__unwind_signal(const void *ucontext, uintptr_t *pcs, int max);
/* Outside signal handlers, before relying on signal-handler walks: maps the
 * rule cache (a handler cannot) and learns this thread's stack. Modules
 * need nothing: a signal handler's walk finds any loaded object's CFI
 * itself (glibc's lock-free _dl_find_object) and reads it in place. */
void hs__unwind_prepare(void);
/* Test hook (HEAPSCOPE_TEST_HOOKS=no-dl-find-object, read by
 * hs__stack_init): act as if glibc had no _dl_find_object (before 2.35):
 * hs__unwind_prepare learns the loaded modules and readies their CFI. */
extern bool hs__unwind_no_dl_find_object;
/* In a forked child (core/api/runtime.c): forget the parent's module
 * learner (the thread that stands in for _dl_find_object). */
void hs__unwind_postfork_child(void);
/* In a forked child that profiles on (its atfork handler, after the
 * runtime's locks were reset): start the child's own learner when the
 * parent had one. */
void hs__unwind_restart_learner(void);
/* pc lies in a loaded object's code (the registry, or in a signal-safe
 * way glibc's own list). Async-signal-safe. */
bool hs__unwind_known_text(uintptr_t pc);
/* The lock that serialises CFI copies, for the fork handlers
 * (core/api/runtime.c). */
extern hs_lock_t *const hs__unwind_copy_lock;

/* ---- stack depot (core/stack/depot.c) ---- */
typedef struct hs_bucket {
  struct hs_bucket *next;   /* hash chain */
  uint64_t hash;
  uint32_t id;
  uint32_t depth;
  uintptr_t first, last;    /* pcs[0], pcs[depth - 1]: a lookup reads this line only */
  uint32_t epoch;           /* module-map epoch when first seen */
  _Atomic uint64_t allocs, frees, alloc_bytes, free_bytes;
  uintptr_t pcs[];
} hs_bucket_t;
/* Find or add the bucket for a stack whose hs__stack_hash is h (the unwinder
 * computes it while walking). Lock-free when it exists. 0 on OOM. */
uint32_t hs__depot_intern_hashed(const uintptr_t *pcs, int depth, uint64_t h);
/* Stack hash: the sum of independent per-frame products (they pipeline,
 * unlike a chained hash, and hide in the shadow of the walk's dependent
 * loads: the walkers hash as they go; this runs on every recorded
 * allocation), position entering through a per-frame seed
 * ((i + 1) * HS_FRAME_SEED), then a final mix. */
#define HS_FRAME_SEED 0x632be59bd9b4e019ull
#define HS_FRAME_HASH_SEEDED(pc, seed) (((uint64_t)(pc) ^ (seed)) * 0xff51afd7ed558ccdull)
#define HS_FRAME_HASH(pc, i) HS_FRAME_HASH_SEEDED(pc, (uint64_t)((i) + 1) * HS_FRAME_SEED)
static inline uint64_t hs__stack_hash_final(uint64_t acc, int depth) {
  acc += (uint64_t)depth * 0x9e3779b97f4a7c15ull;
  acc ^= acc >> 29;
  acc *= 0xbf58476d1ce4e5b9ull;
  return acc ^ (acc >> 32);
}
uint64_t hs__stack_hash(const uintptr_t *pcs, int depth);
hs_bucket_t *hs__depot_get(uint32_t id);
uint32_t hs__depot_max_id(void);        /* ids are 1..max */
/* The depot's insert lock, for the fork handlers (core/api/runtime.c). */
extern hs_lock_t *const hs__depot_lock;
/* The depot's tables: never leak-check roots. */
extern const hs_range_t hs__depot_range, hs__depot_ids_range;

#endif
