/* Recording: the slow paths of the malloc family taken when hs__hooked is
 * set, and the per-object records behind the profiler and leak checker.
 *
 * hs__hooked is the one flag the fast paths test. It is non-zero while
 * recording is on (bit 0) and while any thread is inside the runtime
 * (+2 per thread, see hs__runtime_enter): such a thread's allocations are
 * served from the internal heap, so the runtime's helpers (libunwind,
 * libdw) never recurse into recording and never show up in profiles.
 *
 * Records sit in the allocator's per-block metadata (core/alloc/alloc.h),
 * written by the allocating thread without locks: an object slot belongs to exactly one
 * thread between its malloc and its free. Buckets count with relaxed
 * atomics. Per-generation live counters (a ring) make "anything new still
 * live since snapshot g?" an O(generations) question, not a heap walk. */
#include "core/record/record.h"

#include "core/base/settings.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

_Atomic int hs__recording;
_Atomic uint32_t hs__generation = 1;
bool hs__records_complete;
int64_t hs__sample_bytes;
/* Live objects per generation, one shard per thread: each running thread
 * owns a shard (claimed at its first recorded allocation, given back at
 * exit) and updates it with a plain load and store, no locked instruction
 * (a locked add was a quarter of a recorded malloc+free: it also drains the
 * store buffer the stack walk just filled). A block freed on another
 * thread than the one that allocated it makes two shards disagree; only
 * the sum counts. Threads beyond LIVE_SHARDS, threads past their exit
 * destructor, and an update that interrupts this thread's own update (a
 * signal handler that mallocs) use the shared shard, with atomic adds. */
#define LIVE_SHARDS 64
#define SHARED_SHARD LIVE_SHARDS
static struct {
  _Atomic int64_t n[HS_GEN_RING];
} live_shard[LIVE_SHARDS + 1];
const hs_range_t hs__live_range = {(uintptr_t)live_shard, (uintptr_t)(live_shard + LIVE_SHARDS + 1)};
static _Atomic uint64_t shards_owned;  /* bit i: shard i has an owner */
static _Atomic uint64_t shards_used;   /* bit i: shard i was ever used (readers sum these) */
static HS_TLS int my_shard = -1;       /* -1: none yet; SHARED_SHARD: use atomics */
static HS_TLS bool live_busy;          /* this thread is inside its plain update */
static pthread_key_t shard_key;
static _Atomic int shard_key_state;    /* 0 none, 1 creating, 2 ready, -1 failed */

static void shard_release(void *arg) {
  int sh = (int)(intptr_t)arg - 1;
  my_shard = SHARED_SHARD; /* frees after this destructor count on the shared shard */
  atomic_fetch_and_explicit(&shards_owned, ~(1ull << sh), memory_order_release);
}

static HS_NOINLINE void live_claim(void) {
  my_shard = SHARED_SHARD;
  if (!hs__thread_key_once(&shard_key, &shard_key_state, shard_release)) return;
  uint64_t owned = atomic_load_explicit(&shards_owned, memory_order_relaxed);
  while (~owned) {
    int sh = __builtin_ctzll(~owned);
    if (atomic_compare_exchange_weak_explicit(&shards_owned, &owned, owned | (1ull << sh),
                                              memory_order_acquire, memory_order_relaxed)) {
      if (!hs__thread_key_set(shard_key, (void *)(intptr_t)(sh + 1))) {
        atomic_fetch_and(&shards_owned, ~(1ull << sh));
        return;
      }
      atomic_fetch_or(&shards_used, 1ull << sh);
      my_shard = sh;
      return;
    }
  }
}

static inline void live_add(uint32_t gen, int64_t delta) {
  if (HS_UNLIKELY(my_shard < 0)) live_claim();
  _Atomic int64_t *c = &live_shard[my_shard].n[gen % HS_GEN_RING];
  if (HS_LIKELY(my_shard != SHARED_SHARD && !live_busy)) {
    live_busy = true;
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                          memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    live_busy = false;
    return;
  }
  atomic_fetch_add_explicit(&live_shard[SHARED_SHARD].n[gen % HS_GEN_RING], delta,
                            memory_order_relaxed);
}

/* Bucket counters feed heap profiles only; the leak checker reads per-object
 * records. Skipping them when no profiler runs keeps threads that allocate
 * from the same stacks from contending on the same bucket. */
bool hs__count_buckets;
static HS_TLS uint64_t sample_rng;
static HS_TLS bool sample_started;
HS_TLS int hs__disabled_depth;

/* Recording is on while anyone needs it: the leak checker (HEAPCHECK, or
 * heapscope_start_recording) and the heap profiler each hold one use.
 * users_lock makes "count the use, switch recording" one step: with only an
 * atomic count, a stop that saw the count reach 0 could switch recording
 * off after a racing start had switched it on again, or the reverse. */
static int recording_users; /* users_lock */
static hs_lock_t users_lock;
hs_lock_t *const hs__record_users_lock = &users_lock;
static _Atomic bool early_profiler_use; /* HEAPPROFILE's, taken at the first malloc */
static _Atomic(hs_record_listener_fn) listener;

void hs__record_set_listener(hs_record_listener_fn fn) { atomic_store(&listener, fn); }

static void notify(size_t n, bool alloc) {
  hs_record_listener_fn fn = atomic_load_explicit(&listener, memory_order_acquire);
  if (fn) fn(n, alloc);
}

bool hs__record_take_early_profiler_use(void) { return atomic_exchange(&early_profiler_use, false); }

/* Full recording sends every call down the slow path (hs__hooked bit 0).
 * Sampled profiling does not (HS_HOOKED_SAMPLING): the malloc fast path
 * counts bytes down (hs__sample_due) and only a sampled allocation leaves
 * it; free leaves it only for spans that keep records. */
void hs__recording_start(bool every) {
  hs__lock(&users_lock);
  if (every) hs__sample_bytes = 0;
  recording_users++;
  atomic_store(&hs__recording, 1);
  if (hs__sample_bytes == 0) {
    atomic_fetch_or(&hs__hooked, 1);
    atomic_fetch_and(&hs__hooked, ~HS_HOOKED_SAMPLING);
  } else {
    atomic_fetch_or(&hs__hooked, HS_HOOKED_SAMPLING);
  }
  hs__unlock(&users_lock);
}

void hs__recording_stop(void) {
  hs__lock(&users_lock);
  if (recording_users > 0 && --recording_users == 0 &&
      atomic_exchange(&hs__recording, 0) == 1) {
    atomic_fetch_and(&hs__hooked, ~(1 | HS_HOOKED_SAMPLING));
    hs__records_complete = false;
    /* Frees no longer clear records: forget them all now, or a later
     * restart would take freed (and reused) blocks for live ones. */
    hs__blocks_clear_all();
  }
  hs__unlock(&users_lock);
}

void hs__recording_start_sampled(int64_t bytes) {
  hs__sample_bytes = bytes;
  hs__records_complete = false;
  hs__recording_start(false);
  hs__tstate.sample_left = 0; /* this thread's next malloc draws its first gap */
}

static _Atomic int record_ready;
static hs_lock_t init_lock;
hs_lock_t *const hs__record_init_lock = &init_lock;

static void read_settings(void) {
  hs__stack_init();
  hs__sample_bytes = hs__setting_int(HS_SET_HEAPSCOPE_SAMPLE_BYTES);
  bool checking = hs__setting_given(HS_SET_HEAPCHECK);
  /* HEAP_PROFILE_ONLY_MMAP: the profiler counts mmap regions only. */
  bool profiling = hs__setting_given(HS_SET_HEAPPROFILE) &&
                   !hs__setting_bool(HS_SET_HEAP_PROFILE_ONLY_MMAP);
  if (checking || profiling) {
    if (checking && hs__sample_bytes) {
      hs__errorf("HEAPSCOPE_SAMPLE_BYTES is ignored while HEAPCHECK is set (leak checking needs every allocation)");
      hs__sample_bytes = 0;
    }
    hs__records_complete = hs__sample_bytes == 0;
    if (checking) hs__recording_start(true);
    if (profiling) {
      hs__count_buckets = true;
      hs__recording_start(false);
      atomic_store(&early_profiler_use, true); /* adopted by the profiler */
    }
  }
}

HS_COLD static void init_slow(void) {
  hs__lock(&init_lock);
  if (!atomic_load_explicit(&record_ready, memory_order_relaxed)) {
    hs__report_fd_init(); /* before the program can close its stderr */
    hs__alloc_init();
    hs__settings_init();
    read_settings();
    atomic_store_explicit(&record_ready, 1, memory_order_release);
  }
  hs__unlock(&init_lock);
}

void hs__record_init(void) {
  if (HS_UNLIKELY(!atomic_load_explicit(&record_ready, memory_order_acquire))) init_slow();
}

/* ---- sampling ------------------------------------------------------------ */

/* Sampled profiling: one allocation per hs__sample_bytes bytes on average,
 * the gaps drawn from an exponential distribution as in tcmalloc's sampler,
 * so every byte has the same chance and the dump can scale counts back. */
static int64_t next_gap(void) {
  if (!sample_rng) sample_rng = (uintptr_t)&sample_rng ^ hs__now_ns();
  sample_rng ^= sample_rng << 13;
  sample_rng ^= sample_rng >> 7;
  sample_rng ^= sample_rng << 17;
  double u = ((double)(sample_rng >> 11) + 1.0) / 9007199254740993.0;
  return (int64_t)(-hs__log(u) * (double)hs__sample_bytes) + 1;
}

/* A live block went unrecorded: from now on a block without a record may
 * be live, so record_free stops calling that a double free. */
HS_COLD static void records_incomplete(void) { hs__records_complete = false; }

/* Called on the slow path for an allocation of n bytes. The fast path has
 * already counted n off unless the call came here for another reason
 * (hs__hooked has more than HS_HOOKED_SAMPLING), which a non-negative
 * budget tells. */
static bool sample_this(size_t n) {
  if (HS_LIKELY(hs__sample_bytes == 0)) return true;
  if (HS_UNLIKELY(!sample_started)) { /* a new thread: draw its first gap */
    sample_started = true;
    hs__tstate.sample_left = next_gap() - (int64_t)n;
    return hs__tstate.sample_left < 0 ? (hs__tstate.sample_left = next_gap(), true) : false;
  }
  if (hs__tstate.sample_left >= 0) {
    hs__tstate.sample_left -= (int64_t)n;
    if (hs__tstate.sample_left >= 0) return false;
  }
  hs__tstate.sample_left = next_gap();
  return true;
}

static void record_alloc(void *p, size_t n, void *frame) {
  if (!sample_this(n)) return;
  uint32_t gen = atomic_load_explicit(&hs__generation, memory_order_relaxed);
  hs_block_t b;
  hs_rec_t *r = hs__block_new_rec(p, gen, &b);
  if (!r) {
    records_incomplete(); /* out of memory for the span's records */
    return;
  }
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  uint32_t id;
  hs__tstate.in_runtime++;
  int depth = hs__capture_hashed_id(pcs, HS_MAX_DEPTH, frame, &hash, &id);
  if (!id) { /* (else a walk memo knew the stack's id: only pcs[0] is written) */
    if (depth <= 0) {
      pcs[0] = 0; /* unknown stack: still counted, in one bucket */
      depth = 1;
      hash = hs__stack_hash(pcs, depth);
    }
    id = hs__depot_intern_hashed(pcs, depth, hash);
    hs__unwind_memo_id(id);
  }
  hs__tstate.in_runtime--;
  if (!id) {
    records_incomplete();
    return;
  }
  if (hs__count_buckets) {
    hs_bucket_t *bk = hs__depot_get(id);
    atomic_fetch_add_explicit(&bk->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&bk->alloc_bytes, n, memory_order_relaxed);
    if (HS_UNLIKELY(hs__test_buckets)) hs__test_buckets_count(gen, id, n, true);
  }
  r->size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  bool from_loader = pcs[0] >= hs__ldso_lo && pcs[0] < hs__ldso_hi;
  r->gen = gen | (hs__disabled_depth || from_loader ? HS_REC_IGNORED : 0);
  atomic_store_explicit((_Atomic uint32_t *)&r->bucket, id, memory_order_release);
  if (hs__sample_bytes) hs__block_sampled(&b, 1);
  live_add(gen, 1);
  if (hs__count_buckets) notify(n, true); /* a profiler runs */
  if (HS_UNLIKELY(hs__accounting)) hs__account_alloc(id, n);
}

/* Clears the record of block b (found and validated by hs__block_at);
 * returns its requested size (0 if unrecorded). Aborts on a free the
 * records prove invalid. */
static size_t record_free(const hs_block_t *b) {
  hs_rec_t *r = b->rec;
  if (b->kind != HS_BLOCK_USER) return 0;
  /* With complete records every live user block has one, so a block
   * without is not live: freed already (its span may even have emptied and
   * been reused since, which leaves no FREED mark), or never handed out. */
  if (!r || !r->bucket) {
    if (hs__records_complete) hs__invalid_free((void *)b->start, "double free");
    return 0;
  }
  uint32_t id = r->bucket;
  size_t size = b->large ? b->size : r->size;
  if (hs__count_buckets) {
    hs_bucket_t *bk = hs__depot_get(id);
    if (bk) {
      atomic_fetch_add_explicit(&bk->frees, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&bk->free_bytes, size, memory_order_relaxed);
    }
    if (HS_UNLIKELY(hs__test_buckets))
      hs__test_buckets_count(r->gen & HS_REC_GEN_MASK, id, size, false);
  }
  /* A record is born in a generation that has already begun. */
  hs_assert((r->gen & HS_REC_GEN_MASK) <= atomic_load(&hs__generation));
  hs_assert(hs__depot_get(id) != NULL);
  live_add(r->gen & HS_REC_GEN_MASK, -1);
  if (HS_UNLIKELY(hs__accounting)) hs__account_free(id, r->gen & HS_REC_GEN_MASK, size);
  r->bucket = 0;
  r->gen = HS_REC_FREED;
  if (hs__sample_bytes) hs__block_sampled(b, -1);
  if (hs__count_buckets) notify(size, false);
  return size;
}

/* The block starting at p, aborting when p is not one. */
static void block_or_abort(void *p, hs_block_t *b) {
  hs__block_at(p, false, 0, b);
  if (b->kind == HS_BLOCK_INVALID) hs__invalid_free(p, b->why);
}

/* ---- entry points called by core/api/malloc.c ---------------------------- */

static inline __attribute__((always_inline)) void *
alloc_and_record(size_t n, size_t align, bool zero, void *frame) {
  void *p;
  hs__record_init();
  if (hs__tstate.in_runtime) {
    p = align > HS_MIN_ALIGN ? hs__arena_memalign(align, n) : hs__arena_alloc(n);
    if (!p) errno = ENOMEM;
    return p; /* the internal heap zeroes */
  }
  if (align > HS_MIN_ALIGN) p = hs__alloc_aligned(align, n);
  else if (HS_UNLIKELY(!(p = hs__alloc_fast(n)))) p = hs__alloc(n);
  if (!p) return NULL;
  if (zero) memset(p, 0, n);
  /* The free-list link left in the first word would read as a pointer to
   * the next free (soon allocated) block: leaked blocks would look indirect
   * and a stale link in a live block could hide a real leak. */
  else if (n >= sizeof(void *)) *(void **)p = NULL;
  if (atomic_load_explicit(&hs__recording, memory_order_relaxed)) record_alloc(p, n, frame);
  if (hs__hooks_on()) hs__hooks_run_new(p, n, frame); /* MallocHook (hooks.c) */
  return p;
}

HS_NOINLINE void *hs__alloc_recorded(size_t n, size_t align, bool zero) {
  return alloc_and_record(n, align, zero, __builtin_frame_address(0));
}

static inline __attribute__((always_inline)) void dealloc_and_record(void *p, void *frame) {
  if (hs__hooks_on()) hs__hooks_run_delete(p, frame); /* MallocHook, before the free */
  if (!p) return;
  if (!atomic_load_explicit(&hs__recording, memory_order_relaxed)) {
    hs__dealloc(p);
    return;
  }
  hs_block_t b;
  if (HS_LIKELY(hs__block_at_recorded_small(p, &b))) {
    record_free(&b);
    hs__dealloc_recorded_small(&b);
    return;
  }
  block_or_abort(p, &b);
  record_free(&b);
  hs__dealloc_block(&b);
}

HS_NOINLINE void hs__dealloc_recorded(void *p) {
  dealloc_and_record(p, __builtin_frame_address(0));
}

/* Frames for the frameless entry points (record.h). This file is built
 * with frame pointers and without sibling calls: each keeps its frame and
 * really calls. */
HS_NOINLINE void *hs__entry_alloc_recorded(size_t n, size_t align, bool zero) {
  return hs__alloc_recorded(n, align, zero);
}
HS_NOINLINE void hs__entry_dealloc_recorded(void *p) { hs__dealloc_recorded(p); }
HS_NOINLINE void *hs__entry_realloc_recorded(void *p, size_t n) {
  return hs__realloc_recorded(p, n);
}

void hs__dealloc_unhooked(void *p) {
  if (!p) return;
  if (atomic_load_explicit(&hs__recording, memory_order_relaxed)) {
    hs__dealloc_recorded(p); /* a sampled block: forget its record */
    return;
  }
  hs__dealloc(p);
}

void *hs__realloc_unhooked(void *p, size_t n) {
  if (atomic_load_explicit(&hs__recording, memory_order_relaxed)) {
    hs_block_t b;
    block_or_abort(p, &b);
    record_free(&b); /* a sampled block moves unsampled */
  }
  return hs__realloc_plain(p, n);
}

/* A recorded block resized in place keeps a live record throughout (its
 * fields are rewritten, its bucket never goes through 0): a leak check that
 * pauses this thread midway still scans the block. */
static void record_resize(const hs_block_t *b, size_t old_size, size_t n, void *frame) {
  hs_rec_t *r = b->rec;
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  hs__tstate.in_runtime++;
  int depth = hs__capture_hashed(pcs, HS_MAX_DEPTH, frame, &hash);
  if (depth <= 0) {
    pcs[0] = 0;
    depth = 1;
    hash = hs__stack_hash(pcs, depth);
  }
  uint32_t id = hs__depot_intern_hashed(pcs, depth, hash);
  hs__tstate.in_runtime--;
  uint32_t old_id = r->bucket;
  if (!id) id = old_id; /* out of memory: keep the old stack */
  uint32_t gen = atomic_load_explicit(&hs__generation, memory_order_relaxed);
  if (hs__count_buckets) {
    hs_bucket_t *ob = hs__depot_get(old_id), *nb = hs__depot_get(id);
    if (ob) {
      atomic_fetch_add_explicit(&ob->frees, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&ob->free_bytes, old_size, memory_order_relaxed);
    }
    if (nb) {
      atomic_fetch_add_explicit(&nb->allocs, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&nb->alloc_bytes, n, memory_order_relaxed);
    }
    if (HS_UNLIKELY(hs__test_buckets)) { /* as a free of the old block and a new one */
      hs__test_buckets_count(r->gen & HS_REC_GEN_MASK, old_id, old_size, false);
      hs__test_buckets_count(gen, id, n, true);
    }
  }
  uint32_t old_gen = r->gen & HS_REC_GEN_MASK;
  live_add(old_gen, -1);
  if (HS_UNLIKELY(hs__accounting)) { /* as a free of the old block and a new one */
    hs__account_free(old_id, old_gen, old_size);
    hs__account_alloc(id, n);
  }
  bool from_loader = pcs[0] >= hs__ldso_lo && pcs[0] < hs__ldso_hi;
  r->size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  r->gen = gen | (hs__disabled_depth || from_loader ? HS_REC_IGNORED : 0);
  atomic_store_explicit((_Atomic uint32_t *)&r->bucket, id, memory_order_release);
  live_add(gen, 1);
  if (hs__count_buckets) {
    notify(old_size, false);
    notify(n, true);
  }
}

static inline __attribute__((always_inline)) void *realloc_and_record(void *p, size_t n,
                                                                     void *frame) {
  if (!atomic_load_explicit(&hs__recording, memory_order_relaxed)) return hs__realloc_plain(p, n);
  if (hs__tstate.in_runtime) { /* no stacks from inside the runtime */
    hs_block_t b;
    block_or_abort(p, &b);
    record_free(&b);
    void *q = hs__realloc_plain(p, n);
    if (q) records_incomplete();
    return q;
  }
  hs_block_t b;
  block_or_abort(p, &b);
  if (hs__sample_bytes == 0 && b.kind == HS_BLOCK_USER && b.rec && b.rec->bucket) {
    /* Full recording: the block, old or new, is recorded at every moment. A
     * leak check that paused this thread between "forget p" and "record q"
     * saw neither, and reported what only they point to (141 false reports
     * in 300 checks of a realloc loop). */
    size_t old_size = b.large ? b.size : b.rec->size;
    void *kept = hs__realloc_keep_block(&b, n);
    if (kept) {
      record_resize(&b, old_size, n, frame);
      return kept;
    }
    void *q = hs__alloc_for_realloc(n);
    if (!q) return NULL;
    size_t usable = hs__usable_size(p);
    memcpy(q, p, usable < n ? usable : n);
    record_alloc(q, n, frame);
    record_free(&b);
    hs__dealloc_block(&b);
    return q;
  }
  size_t old = record_free(&b);
  void *q = hs__realloc_plain(p, n);
  if (q) {
    record_alloc(q, n, frame);
  } else if (old) {
    int saved = errno; /* ENOMEM, whatever recording p again does */
    record_alloc(p, old, frame);
    errno = saved;
  }
  return q;
}

HS_NOINLINE void *hs__realloc_recorded(void *p, size_t n) {
  void *frame = __builtin_frame_address(0);
  if (!p) return alloc_and_record(n, 0, false, frame);
  if (n == 0) {
    dealloc_and_record(p, frame);
    return NULL;
  }
  if (hs__arena_owns(p)) return hs__arena_realloc(p, n);
  void *q = realloc_and_record(p, n, frame);
  /* MallocHook, as gperftools' realloc: the old block goes, the new comes
   * (also when it stayed in place: the size changed). */
  if (q && hs__hooks_on()) {
    hs__hooks_run_delete(p, frame);
    hs__hooks_run_new(q, n, frame);
  }
  return q;
}

/* ---- queries for the profiler and the leak checker ----------------------- */

uint64_t hs__live_since(uint32_t gen) {
  uint32_t now = atomic_load(&hs__generation);
  if (gen > now) return 0;
  if (now - gen >= HS_GEN_RING) return UINT64_MAX;
  int64_t sum = 0;
  uint64_t used = atomic_load_explicit(&shards_used, memory_order_acquire);
  for (int sh = 0; sh <= LIVE_SHARDS; sh++) {
    if (sh < LIVE_SHARDS && !(used & (1ull << sh))) continue;
    for (uint32_t g = gen; g <= now; g++)
      sum += atomic_load_explicit(&live_shard[sh].n[g % HS_GEN_RING], memory_order_relaxed);
  }
  return sum > 0 ? (uint64_t)sum : 0;
}

hs_rec_t *hs__record_of(uintptr_t p, size_t *size_out) {
  hs_block_t b;
  hs__block_at((void *)p, false, 0, &b);
  if (b.kind != HS_BLOCK_USER || !b.rec || !b.rec->bucket) return NULL;
  if (size_out) *size_out = b.large ? b.size : b.rec->size;
  return b.rec;
}

hs_rec_t *hs__record_find(uintptr_t a, uintptr_t *start, size_t *scan_len,
                          size_t *unrecorded_len) {
  hs_block_t b;
  *unrecorded_len = 0;
  if (!hs__block_containing(a, &b)) return NULL;
  *start = b.start;
  if (b.rec && b.rec->bucket) {
    *scan_len = b.large ? b.size : b.rec->size;
    return b.rec;
  }
  if (!hs__records_complete && b.ever_used) *unrecorded_len = b.size;
  return NULL;
}

typedef struct live_visit {
  uint32_t gen;
  hs_live_fn fn;
  void *ctx;
} live_visit_t;

static void visit_live(const hs_block_t *b, void *ctx) {
  live_visit_t *v = ctx;
  if ((b->rec->gen & HS_REC_GEN_MASK) >= v->gen)
    v->fn(b->start, b->large ? b->size : b->rec->size, b->rec, v->ctx);
}

void hs__for_each_live(uint32_t gen, hs_live_fn fn, void *ctx) {
  live_visit_t v = {gen, fn, ctx};
  hs__blocks_for_each(gen, visit_live, &v);
}

void hs__record_lock_world(void) { hs__alloc_lock_spans(); }
void hs__record_unlock_world(void) { hs__alloc_unlock_spans(); }
