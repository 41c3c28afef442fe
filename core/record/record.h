/* Recording: the slow paths of the malloc family while allocations are
 * recorded, and what the records answer (core/record/record.c).
 *
 * Each recorded block has a record in the allocator's per-block metadata
 * (core/alloc/alloc.h): its stack bucket (core/stack/), the generation it
 * was born in, flags and its requested size. The leak checker and the heap
 * profiler read them; neither touches the allocator's spans. */
#ifndef HEAPSCOPE_CORE_RECORD_RECORD_H
#define HEAPSCOPE_CORE_RECORD_RECORD_H

#include "core/alloc/alloc.h"
#include "core/stack/stack.h"

#include <sys/types.h>

/* hs_rec_t.gen: the generation at birth in the low bits, and flags. */
#define HS_REC_IGNORED 0x80000000u  /* never a leak; marking roots from it */
#define HS_REC_MARK 0x40000000u     /* reached by the current mark */
/* A leak already reported (heapscope_leaks_ignore): never reported again,
 * and not a root either: its stale contents must not keep later blocks
 * alive. */
#define HS_REC_REPORTED 0x20000000u
#define HS_REC_GEN_MASK 0x1fffffffu
#define HS_REC_FREED HS_REC_GEN_MASK /* with bucket 0: freed while recording */

/* ---- state --------------------------------------------------------------- */
extern _Atomic int hs__recording;       /* records are being written */
extern _Atomic uint32_t hs__generation; /* current generation, from 1 */
extern bool hs__records_complete;       /* recording since the first malloc */
extern int64_t hs__sample_bytes;        /* 0 = record every allocation */
extern bool hs__count_buckets;          /* bucket counters kept (profiler on) */
/* Allocations of this thread are recorded as ignored while > 0
 * (heapscope_disable). */
extern HS_TLS int hs__disabled_depth;

/* Sets up the allocator, reads the settings and turns recording on when
 * HEAPCHECK or HEAPPROFILE ask for it. Runs at the first malloc (so it
 * never allocates); idempotent, and one load when done. */
void hs__record_init(void);
/* Recording is on while anyone uses it (reference counted). every: this
 * user needs every allocation (a leak checker), not a sample. */
void hs__recording_start(bool every);
void hs__recording_stop(void);
/* For the fork handlers (core/api/runtime.c): the init lock (held while the
 * settings are read and recording starts) and the recording users' lock
 * (start/stop; it takes the allocator's span lock to clear records). */
extern hs_lock_t *const hs__record_init_lock, *const hs__record_users_lock;
/* Sampled recording from start-up code (TCMALLOC_SAMPLE_PARAMETER): one
 * allocation per `bytes` on average, for MallocExtension::GetHeapSample. */
void hs__recording_start_sampled(int64_t bytes);
/* HEAPPROFILE's use of recording, taken at the first malloc: the profiler
 * adopts it when it starts instead of taking another. */
bool hs__record_take_early_profiler_use(void);

/* A heap profiler listens to recorded allocations and frees (bytes) while
 * it runs; one listener at a time, NULL to stop. Called outside allocator
 * locks, on the allocating thread. */
typedef void (*hs_record_listener_fn)(size_t bytes, bool alloc);
void hs__record_set_listener(hs_record_listener_fn fn);

/* ---- slow paths of the public malloc family (core/api/malloc.c) ---------
 * Taken when hs__hooked is set or a sample is due. They expect to be called
 * directly by the public entry point, whose caller is the user: stacks
 * start there. */
void *hs__alloc_recorded(size_t n, size_t align, bool zero);
void hs__dealloc_recorded(void *p);
void *hs__realloc_recorded(void *p, size_t n);
/* The same, for public entry points that keep no frame of their own
 * (HS_FRAMELESS in core/api/malloc.c: malloc, free...): reached only by a
 * jump (a tail call) from one, each keeps a frame and calls the function
 * above, so its frame stands where the entry point's would be (its return
 * address is the user's). */
void *hs__entry_alloc_recorded(size_t n, size_t align, bool zero);
void hs__entry_dealloc_recorded(void *p);
void *hs__entry_realloc_recorded(void *p, size_t n);
/* free() and realloc() that left the fast path while not hooked: the block
 * may still carry a sampled record, which is cleared first. */
void hs__dealloc_unhooked(void *p);
void *hs__realloc_unhooked(void *p, size_t n);

/* Count n bytes off the sampling budget; true when this allocation must go
 * to the recording path to be sampled. One TLS subtraction per call. */
static inline bool hs__sample_due(size_t n) {
  return HS_UNLIKELY((hs__tstate.sample_left -= (int64_t)n) < 0);
}
/* True when an allocation of n bytes must take the recording path: while
 * hs__hooked has any reason set, except that when its only reason is
 * sampling, only an allocation whose sample is due. Without sampling the
 * fast path then counts nothing down (a read-modify-write of a TLS word
 * per malloc, on the chain of dependent stores malloc+free make). */
static inline bool hs__alloc_leaves_fast_path(size_t n) {
  int h = atomic_load_explicit(&hs__hooked, memory_order_relaxed);
  return HS_UNLIKELY(h != 0) && (h != HS_HOOKED_SAMPLING || hs__sample_due(n));
}
/* True when a free must take the recording path (sampling alone does not
 * send it there: a sampled block's page says so, see hs__dealloc_fast). */
static inline bool hs__dealloc_leaves_fast_path(void) {
  return HS_UNLIKELY(atomic_load_explicit(&hs__hooked, memory_order_relaxed) &
                     ~HS_HOOKED_SAMPLING);
}

/* ---- queries (the profiler and the leak checker) ------------------------- */
/* Live recorded objects born at generation >= gen; exact while fewer than
 * HS_GEN_RING generations separate gen from now, else an upper bound. */
uint64_t hs__live_since(uint32_t gen);
#define HS_GEN_RING 4096
/* The record for a block start p (NULL if p is not a live recorded user
 * block), its requested size in *size_out. */
hs_rec_t *hs__record_of(uintptr_t p, size_t *size_out);
/* The block containing address a (any byte of it): its start, the bytes to
 * scan (requested size) and its record (NULL when the block is not live
 * and recorded). *unrecorded_len is set instead when the block was handed
 * out but carries no record (recording started late): then its whole
 * usable size is worth scanning. Lock free, for marking. */
hs_rec_t *hs__record_find(uintptr_t a, uintptr_t *start, size_t *scan_len,
                          size_t *unrecorded_len);
/* Visit every live recorded object born at >= gen. The caller makes the
 * picture stable (hs__record_lock_world, or a stopped world). */
typedef void (*hs_live_fn)(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx);
void hs__for_each_live(uint32_t gen, hs_live_fn fn, void *ctx);
/* Held around a stopped world: blocks neither move nor change kind. */
void hs__record_lock_world(void);
void hs__record_unlock_world(void);

/* ---- per-test accounting (core/record/account.c) --------------------------
 * While on (between begin and end, at most one span at a time: the test
 * harness's current test), every recorded allocation and free is counted,
 * the net live bytes tracked with their peak, and the allocation sites live
 * at the peak kept. Only reached from the recording slow paths: the malloc
 * fast path never looks at it. */
extern bool hs__accounting;
typedef struct hs_account {
  uint64_t allocs, alloc_bytes;  /* recorded allocations (realloc counts) */
  uint64_t frees, free_bytes;
  int64_t peak_bytes;            /* max of live bytes above the start, >= 0 */
  int64_t end_bytes;             /* live bytes at the end minus at the start */
  bool sites_complete;           /* false: out of memory for the site table */
} hs_account_t;
typedef struct hs_peak_site {
  uint32_t bucket;               /* the allocation stack (depot id) */
  uint64_t bytes, objects;       /* of blocks born since begin, live at the peak */
} hs_peak_site_t;
/* Starts a span: blocks born at generation >= gen are the span's own. */
void hs__account_begin(uint32_t gen);
void hs__account_end(hs_account_t *out);
/* After end: the sites of the last span's peak, largest first (at most
 * max); and how many sites there were. */
size_t hs__account_peak_sites(hs_peak_site_t *out, size_t max);
size_t hs__account_peak_site_count(void);
/* Called by record.c when hs__accounting is set. */
void hs__account_alloc(uint32_t bucket, size_t n);
void hs__account_free(uint32_t bucket, uint32_t gen, size_t n);
/* The accounting lock, for the fork handlers (core/api/runtime.c). */
extern hs_lock_t *const hs__account_lock;

/* ---- per-test heap profile counts (core/record/test_buckets.c) ------------
 * While a heap profiler counts buckets and a test harness names its tests,
 * each bucket's counters are also kept per test: a block belongs to the
 * test whose generation range holds its birth generation (its free comes
 * off the same test's counts, whenever it happens). hs__test_buckets is
 * set at the first test's begin; before that, and always on the malloc
 * fast path, nothing is looked at. */
extern bool hs__test_buckets;
/* A test begins: its blocks are those born from generation gen on (the
 * test's snapshot). End: closes the range by opening a new generation. */
void hs__test_buckets_begin(const char *group, const char *name, uint32_t gen);
void hs__test_buckets_end(void);
/* Called by record.c when hs__test_buckets is set (bucket counters on). */
void hs__test_buckets_count(uint32_t gen, uint32_t bucket, size_t n, bool alloc);
typedef struct hs_test_count {
  uint32_t test, bucket;        /* test: from 1, in the order tests began */
  uint64_t allocs, alloc_bytes, frees, free_bytes;
} hs_test_count_t;
/* Every (test, bucket) counted, grouped by test in the order tests began
 * (only: test only's, 0 for all); an internal-heap array (hs__arena_free)
 * with *n entries, NULL when none. */
hs_test_count_t *hs__test_buckets_snapshot(uint32_t only, size_t *n);
/* The names of test (stable for the process's life); false if no such. */
bool hs__test_buckets_names(uint32_t test, const char **group, const char **name);
/* How many tests began (ids 1..n). */
uint32_t hs__test_buckets_ntests(void);
/* The running test, 0 when none. */
uint32_t hs__test_buckets_current(void);
extern hs_lock_t *const hs__test_buckets_lock;

/* Sharded live counters: never leak-check roots. */
extern const hs_range_t hs__live_range;

/* ---- gperftools' MallocHook (core/record/hooks.c) ------------------------
 * The program's callbacks on every allocation and free, and on mmap-family
 * calls. While a new or delete hook is installed, hs__hooked carries
 * HS_HOOKED_USER, so every malloc-family call takes the slow paths above,
 * which run the hooks once the allocator is done; with none installed the
 * fast paths are untouched. Hooks never run for the runtime's own calls nor
 * from inside a hook. */
typedef enum hs_hook_kind {
  HS_HOOK_NEW, HS_HOOK_DELETE, HS_HOOK_PRE_MMAP, HS_HOOK_MMAP, HS_HOOK_MUNMAP,
  HS_HOOK_MREMAP, HS_HOOK_PRE_SBRK, HS_HOOK_SBRK,
  HS_HOOK_MMAP_REPLACE, HS_HOOK_MUNMAP_REPLACE, /* one slot each */
  HS_HOOK_KINDS
} hs_hook_kind_t;
/* False when full (7 per kind, 1 per replacement), fn is NULL, or (remove)
 * fn was not installed. */
bool hs__hook_add(hs_hook_kind_t kind, void *fn);
bool hs__hook_remove(hs_hook_kind_t kind, void *fn);
/* gperftools' deprecated Set*Hook: one more slot per kind; returns the
 * previous one. */
void *hs__hook_set_singular(hs_hook_kind_t kind, void *fn);
void *hs__hook_singular(hs_hook_kind_t kind);
/* Non-zero while any mmap-family hook or replacement is installed. */
extern _Atomic int hs__mmap_hooks_on;
/* True when this call must run the new/delete hooks (one load). */
static inline bool hs__hooks_on(void) {
  return HS_UNLIKELY(atomic_load_explicit(&hs__hooked, memory_order_relaxed) & HS_HOOKED_USER) &&
         !hs__tstate.in_runtime;
}
/* frame: as for hs__capture_hashed, for MallocHook_GetCallerStackTrace. */
void hs__hooks_run_new(const void *p, size_t n, void *frame);
void hs__hooks_run_delete(const void *p, void *frame);
void hs__hooks_run_pre_mmap(const void *start, size_t size, int prot, int flags, int fd,
                            off_t off, void *frame);
void hs__hooks_run_mmap(const void *result, const void *start, size_t size, int prot, int flags,
                        int fd, off_t off, void *frame);
void hs__hooks_run_munmap(const void *p, size_t size, void *frame);
void hs__hooks_run_mremap(const void *result, const void *old, size_t old_size, size_t new_size,
                          int flags, const void *new_addr, void *frame);
void hs__hooks_run_pre_sbrk(ptrdiff_t inc, void *frame);
void hs__hooks_run_sbrk(const void *result, ptrdiff_t inc, void *frame);
/* The replacement, if one is installed and took the call: true, *result set. */
bool hs__hooks_mmap_replace(const void *start, size_t size, int prot, int flags, int fd,
                            off_t off, void **result);
bool hs__hooks_munmap_replace(const void *p, size_t size, int *result);
/* Arguments of any hook kind, for MallocHook::Invoke*Hook. */
typedef struct hs_hook_args {
  const void *result, *start, *new_addr;
  size_t size, new_size;
  int prot, flags, fd;
  off_t offset;
  ptrdiff_t increment;
  void **out_result;
  int *out_int;
} hs_hook_args_t;
/* Runs kind's hooks with a; for replacements returns 1 when one took it. */
int hs__hooks_invoke(hs_hook_kind_t kind, const hs_hook_args_t *a, void *frame);
/* Inside a hook: the stack of the code that called the allocating function;
 * elsewhere that of frame's caller's caller, skip_count frames fewer. */
int hs__hooks_caller_stack(void **result, int max_depth, int skip_count, void *frame);

#endif
