/* The allocator's interface to the rest of the runtime: the user heap
 * without recording, the internal heap, the per-block metadata the recorder
 * keeps in span side arrays, and the locks a stopped world needs.
 *
 * The allocator knows nothing of stacks, profiles or leaks. What recording
 * needs from it is listed here (as LeakSanitizer's lsan_common.h lists what
 * its allocator provides): look a block up by its start or by any address
 * inside it, keep one hs_rec_t per block, enumerate the blocks that have
 * one, and hold the span structures still while the world is stopped.
 * Everything else about spans stays in core/alloc/. */
#ifndef HEAPSCOPE_CORE_ALLOC_ALLOC_H
#define HEAPSCOPE_CORE_ALLOC_ALLOC_H

#include "core/alloc/internal.h" /* only for the inline fast paths below */

#include <pthread.h>

/* ---- set-up (core/alloc/alloc.c) --------------------------------------- */
/* Builds the size classes and thread-cache key; idempotent, thread safe.
 * Never allocates. */
void hs__alloc_init(void);
extern _Atomic int hs__alloc_ready;

/* ---- the user heap, no recording (core/alloc/alloc.c) ------------------ */
void *hs__alloc(size_t n);                /* NULL and ENOMEM on failure */
void *hs__alloc_aligned(size_t align, size_t n);
void hs__dealloc(void *p);                /* validates p; aborts if invalid */
void *hs__realloc_plain(void *p, size_t n);
size_t hs__usable_size(const void *p);    /* 0 for foreign pointers */
/* Prints "heapscope: invalid free of P: WHAT; aborting" and aborts. */
_Noreturn void hs__invalid_free(const void *p, const char *what);

/* ---- per-thread state (core/alloc/alloc.c) ----------------------------- */
/* Per thread: see "inside the runtime" below for in_runtime and
 * cancel_state. */
typedef struct hs_thread_state {
  int in_runtime;           /* nesting depth */
  /* Bytes until this thread's next sampled allocation (sampled profiling,
   * core/record/), counted down on the malloc fast path while sampling; 0
   * in a new thread, so its first malloc then takes the slow path and sets
   * it. */
  int64_t sample_left;
  int cancel_state;         /* cancellation state saved by the outermost enter */
} hs_thread_state_t;
/* This thread's state and its cache (core/alloc/threadcache.c) in one TLS
 * object: malloc's fast path, which counts the sampling gap down and pops
 * the cache, then finds both at one offset from the thread pointer (one
 * GOT load instead of two). */
typedef struct hs_thread_alloc {
  hs_tcache_t cache; /* first: a list's offset is then class * 16, no add */
  hs_thread_state_t state;
} hs_thread_alloc_t;
extern HS_TLS hs_thread_alloc_t hs__thread;
#define hs__tstate (hs__thread.state)
#define hs__tcache (hs__thread.cache)

/* malloc's fast path: a small block from this thread's cache, or NULL
 * (then call hs__alloc). One load for the class, one TLS list pop. Sizes
 * up to 1 KiB (hs__size_to_class's first table) pass one size test, not
 * two. */
static inline void *hs__alloc_fast(size_t n) {
  uint32_t cls;
  if (HS_LIKELY(n <= 1024)) cls = hs__class_small[(n + 15) >> 4];
  else if (HS_LIKELY(n <= HS_MAX_SMALL)) cls = hs__class_mid[(n + 127) >> 7];
  else return NULL;
  hs_freelist_t *l = &hs__tcache.lists[cls];
  void **p = l->head;
  if (HS_LIKELY(p != NULL)) {
    l->head = p[0];
    p[HS_KEY_WORD] = NULL; /* live: no free key (same cache line) */
    l->len--;
  }
  return p;
}

/* Push a small block on this thread's cache list. A block that already
 * holds the free key is checked first: a double free aborts. */
static inline void hs__tcache_push(void *p, uint32_t cls) {
  uintptr_t *w = p;
  if (HS_UNLIKELY(w[HS_KEY_WORD] == hs__free_key)) {
    hs__tcache_push_keyed(p, cls); /* a tail call: the fast path saves no registers */
    return;
  }
  w[HS_KEY_WORD] = hs__free_key;
  hs_freelist_t *l = &hs__tcache.lists[cls];
  if (HS_LIKELY(l->len < l->max_len)) {
    *(void **)p = l->head;
    l->head = p;
    l->len++;
    return;
  }
  hs__tcache_free_slow(p, cls);
}

/* free's fast path: true when p was the start of a small block of a span
 * that keeps no records (its page's info word says so), now on this
 * thread's cache. False: call hs__dealloc (or the recorder's free), which
 * sorts out everything else, NULL and invalid pointers included (NULL's
 * page has info 0, so it needs no test of its own here). */
static inline bool hs__dealloc_fast(void *p) {
  uint64_t v = hs__pagemap_info((uintptr_t)p);
  uintptr_t cls = v >> 32; /* class byte: fails the test unless a class without records */
  if (HS_LIKELY(hs__is_block_start(cls, HS_INFO_SPAN_OFFSET(v, (uintptr_t)p)))) {
    hs__tcache_push(p, cls);
    return true;
  }
  return false;
}

/* ---- statistics (core/alloc/alloc.c) ------------------------------------ */
typedef struct hs_alloc_stats {
  hs_heap_stats_t heap;     /* page heap */
  size_t thread_cache;      /* free bytes in thread caches */
  size_t central;           /* free bytes in central lists (user heap) */
  size_t allocated;         /* bytes in user blocks handed out */
  uint32_t classes;         /* size classes */
} hs_alloc_stats_t;
void hs__alloc_stats(hs_alloc_stats_t *out);
/* Returns free memory: this thread's cache, then free pages to the OS. */
void hs__alloc_release_free(void);
size_t hs__alloc_estimated_size(size_t n); /* what hs__alloc(n) would give */
/* What hs__alloc_aligned(align, n) would give (a lower bound for large
 * blocks aligned beyond a page). */
size_t hs__alloc_estimated_size_aligned(size_t align, size_t n);
/* This thread's cache goes back to the central lists. */
void hs__alloc_thread_idle(void);
/* Bytes in this thread's cache. */
size_t hs__alloc_thread_cache_bytes(void);

/* ---- tuning: gperftools' MallocExtension knobs and TCMALLOC_* variables
 * (core/api/). Each is one relaxed word the slow paths read. */
/* Free pages kept mapped are divided by rate (core/alloc/pageheap.c):
 * 1 is the default policy, 0 never gives pages back on its own (until
 * hs__alloc_release_free), higher keeps fewer. In 1/1000 units. */
void hs__alloc_set_release_rate_milli(uint32_t milli);
uint32_t hs__alloc_release_rate_milli(void);
/* Every free page goes back to the OS at once. */
void hs__alloc_set_aggressive_decommit(bool on);
bool hs__alloc_aggressive_decommit(void);
/* The page heap maps no more than this many bytes (0: no limit): an
 * allocation that would need more fails with ENOMEM. */
void hs__alloc_set_heap_limit(size_t bytes);
size_t hs__alloc_heap_limit(void);
/* The most one thread's cache holds (core/alloc/threadcache.c), at least
 * 64 KiB; default (and most) 4 MiB. Applies as caches grow. */
void hs__alloc_set_thread_cache_limit(size_t bytes);
size_t hs__alloc_thread_cache_limit(void);

/* ---- fork (core/alloc/alloc.c) ------------------------------------------ */
/* Adds every allocator lock to out, in the allocator's order (init, sampled
 * span marks, central lists of the user heap then of the internal heap, the
 * page heap, the thread-cache registry). core/api/runtime.c takes them
 * around fork, after the locks of the layers above. */
void hs__alloc_locks(hs_lock_list_t *out);
/* In a forked child, after its locks were reset: only this thread's cache
 * is still in use. */
void hs__alloc_postfork_child(void);

/* ---- the internal heap (core/alloc/arena.c) ----------------------------- */
/* Memory for the runtime's own data. Never recorded, never scanned, never
 * the public malloc. Thread safe. Zeroed. */
void *hs__arena_alloc(size_t n);
void *hs__arena_realloc(void *p, size_t n);
void *hs__arena_memalign(size_t align, size_t n);
void hs__arena_free(void *p);
size_t hs__arena_usable(void *p);
/* p lies in the internal heap (a block libdw or libunwind got while inside
 * the runtime); free and realloc route it back there. */
bool hs__arena_owns(const void *p);

/* A growable text buffer on the internal heap, for reports. */
typedef struct hs_strbuf {
  char *data;
  size_t len, cap;
  bool oom;
} hs_strbuf_t;
void hs__sb_printf(hs_strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hs__sb_append(hs_strbuf_t *sb, const char *s, size_t n);
void hs__sb_free(hs_strbuf_t *sb);

/* ---- inside the runtime --------------------------------------------------
 * While a thread is inside the runtime (symbolizing, unwinding, reporting),
 * the calls it makes to the public malloc family are served by the internal
 * heap, so libdw, libunwind and libc helpers neither recurse into recording
 * nor show up in profiles. */
/* (hs_thread_state_t and hs__tstate: see the top of this file.) */
/* Non-zero when the malloc family must leave its fast paths: bit 0 while
 * every allocation is recorded, +2 for each thread inside the runtime (so
 * the slow path can route that thread to the internal heap even when
 * recording is off), HS_HOOKED_USER while a new or delete hook is installed
 * (core/record/hooks.c), HS_HOOKED_SAMPLING while allocations are sampled
 * (alone, it sends only the sampled ones there: hs__alloc_leaves_fast_path
 * in core/record/record.h). Read on every malloc and free.
 * The outermost enter also disables thread cancellation until the matching
 * leave: the runtime holds locks (dump, symbolizer, modules, the page heap
 * during a leak check) across cancellation points (open, read, write), and
 * a thread cancelled there would leave them held for good. Every lock taken
 * around I/O is taken inside enter/leave. */
extern HS_HIDDEN _Atomic int hs__hooked;
#define HS_HOOKED_USER (1 << 30)
#define HS_HOOKED_SAMPLING (1 << 29)
static inline void hs__runtime_enter(void) {
  if (hs__tstate.in_runtime++ == 0) hs__tstate.cancel_state = hs__cancel_disable();
  atomic_fetch_add_explicit(&hs__hooked, 2, memory_order_relaxed);
}
static inline void hs__runtime_leave(void) {
  atomic_fetch_sub_explicit(&hs__hooked, 2, memory_order_relaxed);
  if (--hs__tstate.in_runtime == 0) hs__cancel_restore(hs__tstate.cancel_state);
}

/* Per-thread state of the runtime kept under a pthread key (freed by its
 * destructor at thread exit). The key is made once, by whichever thread
 * first needs it, without a lock (this runs on recording paths); *state: 0
 * none, 1 being made, 2 ready, -1 failed. False when there is no key. */
static inline bool hs__thread_key_once(pthread_key_t *key, _Atomic int *state,
                                       void (*destructor)(void *)) {
  int ks = atomic_load_explicit(state, memory_order_acquire);
  if (ks == 0 && atomic_compare_exchange_strong(state, &(int){0}, 1)) {
    ks = pthread_key_create(key, destructor) == 0 ? 2 : -1;
    atomic_store_explicit(state, ks, memory_order_release);
  }
  while (ks == 1) ks = atomic_load_explicit(state, memory_order_acquire);
  return ks == 2;
}
/* pthread_setspecific, which may allocate: inside the runtime. */
static inline bool hs__thread_key_set(pthread_key_t key, const void *value) {
  hs__runtime_enter();
  bool ok = pthread_setspecific(key, value) == 0;
  hs__runtime_leave();
  return ok;
}

/* ---- per-block metadata for the recorder (core/alloc/blockmeta.c) -------
 * One hs_rec_t per user block, in a side array per small span (made the
 * first time a block of it is recorded) or in the large span itself. */
typedef enum hs_block_kind {
  HS_BLOCK_INVALID = 0,     /* not a block start (see .why) */
  HS_BLOCK_USER,            /* a block of the user heap */
  HS_BLOCK_INTERNAL,        /* a block of the internal heap */
} hs_block_kind_t;

typedef struct hs_block {
  hs_block_kind_t kind;
  const char *why;          /* INVALID: what is wrong with the pointer */
  uintptr_t start;          /* first byte of the block */
  size_t size;              /* LARGE: requested size; small: class size */
  bool large;
  bool ever_used;           /* the block was handed out at least once */
  hs_rec_t *rec;            /* metadata slot, NULL if the span has none yet */
  void *span;               /* opaque: hs__dealloc_block, hs__block_* */
} hs_block_t;

/* The block starting at p, checked as free() checks it. With create, a
 * user block gets a metadata slot (NULL only when out of memory) and its
 * span remembers gen as a candidate for hs__blocks_for_each(min_gen). */
void hs__block_at(void *p, bool create, uint32_t gen, hs_block_t *out);
/* hs__block_at(p, false, 0, out) for the common case of the recorder's
 * free(): p starts a block of a user small span that has records. From the
 * page's info word (class, where the span starts: the block-start test
 * free()'s fast path makes) and the span's records array, without a call;
 * false for anything else (hs__block_at then sorts it out). */
static inline bool hs__block_at_recorded_small(void *p, hs_block_t *out) {
  uintptr_t a = (uintptr_t)p;
  uint64_t v = hs__pagemap_info(a);
  uint32_t cls = HS_INFO_CLASS(v) & ~HS_CLASS_RECORDED, off = HS_INFO_SPAN_OFFSET(v, a);
  if (HS_UNLIKELY(!cls || !hs__is_block_start(cls, off))) return false;
  hs_span_t *s = hs__pagemap_span(a);
  hs_rec_t *recs = s ? atomic_load_explicit(&s->records, memory_order_acquire) : NULL;
  if (HS_UNLIKELY(!recs)) return false;
  out->kind = HS_BLOCK_USER;
  out->why = NULL;
  out->start = a;
  out->size = hs__classes[cls].size;
  out->large = false;
  out->ever_used = a < s->carve;
  out->rec = &recs[hs__obj_index(cls, off)];
  out->span = s;
  return true;
}

/* hs__dealloc_block for a block hs__block_at_recorded_small found, inline. */
static inline void hs__dealloc_recorded_small(const hs_block_t *b) {
  hs__tcache_push((void *)b->start, ((const hs_span_t *)b->span)->sizeclass);
}

/* At malloc, for block p just returned by the allocator: its metadata slot
 * (made if need be, NULL when out of memory), as hs__block_at(p, true, gen)
 * gives it; *out gets span, large and rec only. */
hs_rec_t *hs__block_new_rec(void *p, uint32_t gen, hs_block_t *out);
/* The user block containing address a (any byte of it), or false. Lock
 * free; used by the leak checker's marking with the world stopped. */
bool hs__block_containing(uintptr_t a, hs_block_t *out);
/* Frees a block found by hs__block_at (kind USER or INTERNAL). */
void hs__dealloc_block(const hs_block_t *b);
/* realloc's cases without copying, for user block b: its address (the same,
 * or for a large block whose mapping mremap moved, the new one; its span and
 * metadata slot stay the same) when it now holds n bytes, NULL when it must
 * be copied into a new block. */
void *hs__realloc_keep_block(const hs_block_t *b, size_t n);
/* The new block of a realloc that copies (big ones get room to grow). */
void *hs__alloc_for_realloc(size_t n);
/* Sampled profiling: the number of recorded live blocks in b's span moved
 * by delta; while it is non-zero, free() of the span's blocks takes the
 * slow path (so the recorder sees them). */
void hs__block_sampled(const hs_block_t *b, int delta);
/* Calls fn for every user block whose slot has bucket != 0, in spans that
 * recorded a block of generation >= min_gen (a coarse filter: fn checks
 * the generation itself). The caller keeps the picture stable
 * (hs__alloc_lock_spans, or a stopped world). */
typedef void (*hs_block_fn)(const hs_block_t *b, void *ctx);
void hs__blocks_for_each(uint32_t min_gen, hs_block_fn fn, void *ctx);
/* Clears every metadata slot (recording stopped: the slots would otherwise
 * describe freed and reused blocks after a restart). */
void hs__blocks_clear_all(void);
/* Spans neither move nor change kind while held. Taken by the leak checker
 * before it stops the world (a stopped thread may hold it otherwise). */
void hs__alloc_lock_spans(void);
void hs__alloc_unlock_spans(void);

/* ---- the runtime's own large tables -------------------------------------
 * Never leak-check roots, whichever object they are linked into. */
extern const hs_range_t hs__pagemap_range;
extern const hs_range_t hs__flat_range;

#endif
