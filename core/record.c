/* Recording: the slow paths of the malloc family taken when hs__hooked is
 * set, and the per-object records behind the profiler and leak checker.
 *
 * hs__hooked is the one flag the fast paths test. It is non-zero while
 * recording is on (bit 0) and while any thread is inside the runtime
 * (+2 per thread, see hs__runtime_enter): such a thread's allocations are
 * served from the internal heap, so the runtime's helpers (libunwind,
 * libdw) never recurse into recording and never show up in profiles.
 *
 * Records sit in span side arrays (span->records[index]), written by the
 * allocating thread without locks: an object slot belongs to exactly one
 * thread between its malloc and its free. Buckets count with relaxed
 * atomics. Per-generation live counters (a ring) make "anything new still
 * live since snapshot g?" an O(generations) question, not a heap walk. */
#include "profile.h"

#include <errno.h>
#include <math.h>
#include <string.h>

_Atomic int hs__hooked;
_Atomic int hs__recording;
_Atomic uint32_t hs__generation = 1;
bool hs__records_complete;
int64_t hs__sample_bytes;
HS_TLS hs_thread_state_t hs__tstate;
/* Live objects per generation, sharded by thread: with one shared counter
 * every recorded malloc and free of every thread hit the same cache line
 * (2 threads ran at 4x glibc). A block freed on another thread than the
 * one that allocated it makes two shards disagree; only the sum counts. */
#define LIVE_SHARDS 8
static struct {
  _Atomic int64_t n[HS_GEN_RING];
} live_shard[LIVE_SHARDS];
const hs_range_t hs__live_range = {(uintptr_t)live_shard, (uintptr_t)(live_shard + LIVE_SHARDS)};
static _Atomic unsigned next_shard;
static HS_TLS unsigned my_shard_plus1;

static inline _Atomic int64_t *live_counter(uint32_t gen) {
  if (HS_UNLIKELY(!my_shard_plus1))
    my_shard_plus1 = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % LIVE_SHARDS + 1;
  return &live_shard[my_shard_plus1 - 1].n[gen % HS_GEN_RING];
}

/* Bucket counters feed heap profiles only; the leak checker reads per-object
 * records. Skipping them when no profiler runs keeps threads that allocate
 * from the same stacks from contending on the same bucket. */
bool hs__count_buckets;
static HS_TLS uint64_t sample_rng;
static HS_TLS bool sample_started;
HS_TLS int hs__disabled_depth;

void *hs__realloc_plain(void *p, size_t n);

/* Recording is on while anyone needs it: the leak checker (HEAPCHECK, or
 * heapscope_start_recording) and the heap profiler each hold one use.
 * users_lock makes "count the use, switch recording" one step: with only an
 * atomic count, a stop that saw the count reach 0 could switch recording
 * off after a racing start had switched it on again. */
static int recording_users; /* users_lock */
static hs_lock_t users_lock;
hs_lock_t *const hs__users_lock = &users_lock;
bool hs__heapprof_early_user; /* HEAPPROFILE's use, taken at the first malloc */

/* Full recording sends every call down the slow path (hs__hooked bit 0).
 * Sampled profiling does not: the malloc fast path counts bytes down
 * (hs__sample_due) and only a sampled allocation leaves it; free leaves it
 * only for spans that keep records. */
void hs__recording_start(void) {
  hs__lock(&users_lock);
  recording_users++;
  atomic_store(&hs__recording, 1);
  if (hs__sample_bytes == 0) atomic_fetch_or(&hs__hooked, 1);
  hs__unlock(&users_lock);
}

/* Once recording is off, frees no longer clear records: forget them all now,
 * or a later restart would take freed (and reused) blocks for live ones. */
static void forget_records(void) {
  hs__lock(&hs__pageheap_lock);
  for (hs_span_t *s = hs__span_registry(); s; s = s->all_next) {
    if (!s->npages) continue;
    hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
    if (s->kind == HS_SPAN_SMALL && recs)
      memset(recs, 0, (size_t)hs__classes[s->sizeclass].objects * sizeof *recs);
    else if (s->kind == HS_SPAN_LARGE)
      memset(&s->large_rec, 0, sizeof s->large_rec);
  }
  hs__unlock(&hs__pageheap_lock);
}

void hs__recording_stop(void) {
  hs__lock(&users_lock);
  if (recording_users > 0 && --recording_users == 0 &&
      atomic_exchange(&hs__recording, 0) == 1) {
    atomic_fetch_and(&hs__hooked, ~1);
    hs__records_complete = false;
    forget_records();
  }
  hs__unlock(&users_lock);
}

/* Runs inside the first malloc (init lock held): no allocation here. */
void hs__record_early_init(void) {
  hs__stack_init();
  hs__sample_bytes = hs__env_int("HEAPSCOPE_SAMPLE_BYTES", 0, 0, (long long)1 << 40);
  const char *check = hs__getenv("HEAPCHECK");
  const char *prof = hs__getenv("HEAPPROFILE");
  bool checking = check && *check;
  if (checking || (prof && *prof)) {
    if (checking && hs__sample_bytes) {
      hs__errorf("HEAPSCOPE_SAMPLE_BYTES is ignored while HEAPCHECK is set (leak checking needs every allocation)");
      hs__sample_bytes = 0;
    }
    hs__records_complete = hs__sample_bytes == 0;
    if (checking) hs__recording_start();
    if (prof && *prof) {
      hs__count_buckets = true;
      hs__recording_start();
      hs__heapprof_early_user = true; /* handed to the profiler when it starts */
    }
  }
}

/* ---- records ------------------------------------------------------------- */

static hs_rec_t *ensure_records(hs_span_t *s) {
  hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
  if (HS_LIKELY(recs != NULL)) return recs;
  hs_rec_t *fresh = hs__arena_alloc((size_t)hs__classes[s->sizeclass].objects * sizeof *fresh);
  if (!fresh) return NULL;
  hs_rec_t *expected = NULL;
  if (atomic_compare_exchange_strong(&s->records, &expected, fresh)) {
    if (hs__sample_bytes == 0) hs__pagemap_mark_recorded(s->start, s->npages, true);
    return fresh;
  }
  hs__arena_free(fresh);
  return expected;
}

static void bump_max_gen(hs_span_t *s, uint32_t gen) {
  uint32_t cur = __atomic_load_n(&s->max_gen, __ATOMIC_RELAXED);
  while (cur < gen &&
         !__atomic_compare_exchange_n(&s->max_gen, &cur, gen, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* The record slot for block start p; validates p like free() does. */
static hs_rec_t *slot_for(void *p, hs_span_t *s, bool create) {
  if (s->kind == HS_SPAN_SMALL) {
    uint32_t cls = s->sizeclass;
    uintptr_t off = (uintptr_t)p - s->start;
    uint32_t idx = hs__obj_index(cls, off);
    if ((uintptr_t)idx * hs__classes[cls].size != off) return NULL;
    hs_rec_t *recs = create ? ensure_records(s)
                            : atomic_load_explicit(&s->records, memory_order_acquire);
    return recs ? &recs[idx] : NULL;
  }
  if (s->kind == HS_SPAN_LARGE && (uintptr_t)p == s->carve) return &s->large_rec;
  return NULL;
}

/* Sampled profiling: one allocation per hs__sample_bytes bytes on average,
 * the gaps drawn from an exponential distribution as in tcmalloc's sampler,
 * so every byte has the same chance and the dump can scale counts back. */
static int64_t next_gap(void) {
  if (!sample_rng) sample_rng = (uintptr_t)&sample_rng ^ hs__now_ns();
  sample_rng ^= sample_rng << 13;
  sample_rng ^= sample_rng >> 7;
  sample_rng ^= sample_rng << 17;
  double u = ((double)(sample_rng >> 11) + 1.0) / 9007199254740993.0;
  return (int64_t)(-log(u) * (double)hs__sample_bytes) + 1;
}

/* Sampled profiling: a span's pages send free() to the slow path only while
 * the span holds a live sampled block, so the spans the sampler once
 * touched do not stay slow for good. The lock orders the mark/unmark
 * transitions of racing threads; each re-reads the count under it. */
static hs_lock_t mark_lock;
hs_lock_t *const hs__mark_lock = &mark_lock;

static void sampled_span_changed(hs_span_t *s, int delta) {
  uint32_t now = atomic_fetch_add_explicit(&s->rec_live, (uint32_t)delta, memory_order_acq_rel) +
                 (uint32_t)delta;
  if ((delta > 0 && now != 1) || (delta < 0 && now != 0)) return;
  hs__lock(&mark_lock);
  hs__pagemap_mark_recorded(s->start, s->npages, atomic_load(&s->rec_live) != 0);
  hs__unlock(&mark_lock);
}

static bool sampling(void) {
  return hs__sample_bytes > 0 && atomic_load_explicit(&hs__recording, memory_order_relaxed);
}

/* Not sampling: park the countdown so the fast path stays fast. */
static void park_countdown(void) { hs__tstate.sample_left = INT64_MAX / 2; }

/* Called on the slow path for an allocation of n bytes. The fast path has
 * already counted n off unless the call came here for another reason
 * (hs__hooked), which a non-negative budget tells. */
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
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  hs_rec_t *r = slot_for(p, s, true);
  if (!r) return;
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  hs__tstate.in_runtime++;
  int depth = hs__capture_hashed(pcs, HS_MAX_DEPTH, frame, &hash);
  if (depth <= 0) {
    pcs[0] = 0; /* unknown stack: still counted, in one bucket */
    depth = 1;
    hash = hs__stack_hash(pcs, depth);
  }
  uint32_t id = hs__depot_intern_hashed(pcs, depth, hash);
  hs__tstate.in_runtime--;
  if (!id) return;
  if (hs__count_buckets) {
    hs_bucket_t *b = hs__depot_get(id);
    atomic_fetch_add_explicit(&b->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->alloc_bytes, n, memory_order_relaxed);
  }
  uint32_t gen = atomic_load_explicit(&hs__generation, memory_order_relaxed);
  r->size = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
  bool from_loader = pcs[0] >= hs__ldso_lo && pcs[0] < hs__ldso_hi;
  r->gen = gen | (hs__disabled_depth || from_loader ? HS_REC_IGNORED : 0);
  atomic_store_explicit((_Atomic uint32_t *)&r->bucket, id, memory_order_release);
  bump_max_gen(s, gen);
  if (hs__sample_bytes && s->kind == HS_SPAN_SMALL) sampled_span_changed(s, 1);
  atomic_fetch_add_explicit(live_counter(gen), 1, memory_order_relaxed);
  if (hs__count_buckets) hs__heapprof_on_alloc(n); /* a profiler runs */
}

/* Clears p's record; returns its requested size (0 if unrecorded). Aborts
 * on frees the records prove invalid. */
static size_t record_free(void *p, hs_span_t *s) {
  if (!s || (uintptr_t)p - s->start >= (s->npages << HS_PAGE_SHIFT))
    hs__invalid_free(p, "pointer was not allocated by heapscope");
  if (s->kind == HS_SPAN_INTERNAL || s->kind == HS_SPAN_INTERNAL_LARGE) return 0;
  if (s->kind != HS_SPAN_SMALL && s->kind != HS_SPAN_LARGE)
    hs__invalid_free(p, "block is not allocated (double free?)");
  hs_rec_t *r = slot_for(p, s, false);
  if (!r) {
    if (s->kind == HS_SPAN_LARGE || (uintptr_t)(p) % 16 ||
        hs__obj_index(s->sizeclass, (uintptr_t)p - s->start) *
                (uintptr_t)hs__classes[s->sizeclass].size != (uintptr_t)p - s->start)
      hs__invalid_free(p, "pointer is inside a block, not its start");
    return 0;
  }
  uint32_t id = r->bucket;
  if (!id) {
    if (r->gen == HS_REC_FREED && hs__records_complete)
      hs__invalid_free(p, "double free");
    return 0;
  }
  size_t size = s->kind == HS_SPAN_LARGE ? s->large_size : r->size;
  if (hs__count_buckets) {
    hs_bucket_t *b = hs__depot_get(id);
    if (b) {
      atomic_fetch_add_explicit(&b->frees, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&b->free_bytes, size, memory_order_relaxed);
    }
  }
  atomic_fetch_sub_explicit(live_counter(r->gen & HS_REC_GEN_MASK), 1, memory_order_relaxed);
  r->bucket = 0;
  r->gen = HS_REC_FREED;
  if (hs__sample_bytes && s->kind == HS_SPAN_SMALL) sampled_span_changed(s, -1);
  if (hs__count_buckets) hs__heapprof_on_free(size);
  return size;
}

/* ---- entry points called by core/malloc.c when hs__hooked ---------------- */

static inline __attribute__((always_inline)) void *
alloc_and_record(size_t n, size_t align, bool zero, void *frame) {
  void *p;
  if (hs__tstate.in_runtime) {
    p = align > HS_MIN_ALIGN ? hs__arena_memalign(align, n) : hs__arena_alloc(n);
    if (!p) errno = ENOMEM;
    return p; /* the internal heap zeroes */
  }
  p = align > HS_MIN_ALIGN ? hs__alloc_aligned(align, n) : hs__alloc(n);
  if (!p) return NULL;
  if (zero) memset(p, 0, n);
  /* The free-list link left in the first word would read as a pointer to
   * the next free (soon allocated) block: leaked blocks would look indirect
   * and a stale link in a live block could hide a real leak. */
  else if (n >= sizeof(void *)) *(void **)p = NULL;
  if (!sampling()) park_countdown();
  if (atomic_load_explicit(&hs__recording, memory_order_relaxed)) record_alloc(p, n, frame);
  return p;
}

/* free() of a block in a span that keeps records, outside full recording
 * (sampled profiling, or records left after recording stopped). */
void hs__forget_record(void *p, hs_span_t *s) {
  if (!atomic_load_explicit(&hs__recording, memory_order_relaxed)) return;
  hs_rec_t *r = slot_for(p, s, false);
  if (r && r->bucket) record_free(p, s); /* full recording cleared it already */
}

HS_NOINLINE void *hs__alloc_recorded(size_t n, size_t align, bool zero) {
  return alloc_and_record(n, align, zero, __builtin_frame_address(0));
}

void hs__dealloc_recorded_span(void *p, hs_span_t *s);

HS_NOINLINE void hs__dealloc_recorded(void *p) {
  if (!p) return;
  if (!atomic_load_explicit(&hs__recording, memory_order_relaxed)) {
    hs__dealloc(p);
    return;
  }
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  record_free(p, s); /* validates p against s */
  hs__dealloc_recorded_span(p, s);
}

HS_NOINLINE void *hs__realloc_recorded(void *p, size_t n) {
  void *frame = __builtin_frame_address(0);
  if (!p) return alloc_and_record(n, 0, false, frame);
  if (n == 0) {
    hs__dealloc_recorded(p);
    return NULL;
  }
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (s && (s->kind == HS_SPAN_INTERNAL || s->kind == HS_SPAN_INTERNAL_LARGE))
    return hs__arena_realloc(p, n);
  if (!sampling()) park_countdown();
  if (hs__tstate.in_runtime || !atomic_load_explicit(&hs__recording, memory_order_relaxed))
    return hs__realloc_plain(p, n);
  size_t old = record_free(p, s);
  void *q = hs__realloc_plain(p, n);
  if (q) record_alloc(q, n, frame);
  else if (old) record_alloc(p, old, frame);
  return q;
}

/* ---- queries for the profiler and the leak checker ----------------------- */

uint64_t hs__live_since(uint32_t gen) {
  uint32_t now = atomic_load(&hs__generation);
  if (gen > now) return 0;
  if (now - gen >= HS_GEN_RING) return UINT64_MAX;
  int64_t sum = 0;
  for (int sh = 0; sh < LIVE_SHARDS; sh++)
    for (uint32_t g = gen; g <= now; g++)
      sum += atomic_load_explicit(&live_shard[sh].n[g % HS_GEN_RING], memory_order_relaxed);
  return sum > 0 ? (uint64_t)sum : 0;
}

hs_rec_t *hs__record_of(uintptr_t p, hs_span_t **span_out, size_t *size_out) {
  hs_span_t *s = hs__pagemap_get(p);
  if (!s || p - s->start >= (s->npages << HS_PAGE_SHIFT)) return NULL;
  hs_rec_t *r = slot_for((void *)p, s, false);
  if (!r || !r->bucket) return NULL;
  if (span_out) *span_out = s;
  if (size_out) *size_out = s->kind == HS_SPAN_LARGE ? s->large_size : r->size;
  return r;
}

void hs__for_each_live(uint32_t gen, hs_live_fn fn, void *ctx) {
  for (hs_span_t *s = hs__span_registry(); s; s = s->all_next) {
    if (!s->npages || __atomic_load_n(&s->max_gen, __ATOMIC_RELAXED) < gen) continue;
    if (s->kind == HS_SPAN_SMALL) {
      hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
      if (!recs) continue;
      const hs_class_info_t *ci = &hs__classes[s->sizeclass];
      for (uint32_t i = 0; i < ci->objects; i++)
        if (recs[i].bucket && (recs[i].gen & HS_REC_GEN_MASK) >= gen)
          fn(s->start + (uintptr_t)i * ci->size, recs[i].size, &recs[i], ctx);
    } else if (s->kind == HS_SPAN_LARGE && s->large_rec.bucket &&
               (s->large_rec.gen & HS_REC_GEN_MASK) >= gen) {
      fn(s->carve, s->large_size, &s->large_rec, ctx);
    }
  }
}
