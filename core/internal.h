/* heapscope runtime: internal declarations shared by core/ and leakcheck/.
 *
 * Naming: public symbols are heapscope_* (include/), internal non-static
 * symbols are hs__*, file-local statics carry no prefix. Nothing here may
 * call the public malloc: internal memory comes from hs__arena_* (the
 * internal heap), output is formatted with hs__snprintf into fixed buffers
 * and written with write(2).
 */
#ifndef HEAPSCOPE_CORE_INTERNAL_H
#define HEAPSCOPE_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_EXPORT __attribute__((visibility("default")))
#define HS_NOINLINE __attribute__((noinline))
#define HS_COLD __attribute__((cold, noinline))
#define HS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HS_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- allocator geometry ------------------------------------------------ */
#define HS_PAGE_SHIFT 13
#define HS_PAGE_SIZE ((size_t)1 << HS_PAGE_SHIFT)
#define HS_MAX_SMALL ((size_t)256 << 10)   /* largest size served by a class */
#define HS_NUM_CLASSES 100                 /* upper bound; real count below */
#define HS_MIN_ALIGN 16
#define HS_RETAIN_MIN ((size_t)32 << 20) /* free pages kept mapped (core/pageheap.c) */

/* ---- formatting and diagnostics (core/fmt.c) --------------------------- */
/* printf subset: %d %i %u %x %X %p %s %c %% with l/ll/z/j modifiers, flags
 * '-' '0', width and precision (also '*'). Always NUL-terminates; returns
 * the length it would have written, like snprintf. Never allocates. */
int hs__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hs__snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* write(2) until done or a hard error; keeps errno unchanged. On failure
 * the error (ENOSPC, EBADF...) is left in the calling thread's
 * hs__write_error. */
bool hs__write_all(int fd, const char *data, size_t len);
extern HS_TLS int hs__write_error;
/* One "heapscope: ..." line on stderr (or the log fd). */
void hs__errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void hs__fatalf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), cold));

/* A growable text buffer on the internal heap, for reports. */
typedef struct hs_strbuf {
  char *data;
  size_t len, cap;
  bool oom;
} hs_strbuf_t;
void hs__sb_printf(hs_strbuf_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hs__sb_append(hs_strbuf_t *sb, const char *s, size_t n);
void hs__sb_free(hs_strbuf_t *sb);

/* ---- environment (core/env.c) ------------------------------------------ */
/* getenv that is safe before libc finished initialising and never allocates. */
const char *hs__getenv(const char *name);
/* Parse helpers: a bad value prints one heapscope: line and returns dflt. */
long long hs__env_int(const char *name, long long dflt, long long min,
                      long long max);
bool hs__env_bool(const char *name, bool dflt);

/* ---- locks (core/lock.c) ----------------------------------------------- */
/* Futex-backed mutex usable before pthreads is initialised and from any
 * context except signal handlers. Zero-initialised is unlocked. */
typedef struct hs_lock {
  _Atomic int state; /* 0 free, 1 locked, 2 locked with waiters */
} hs_lock_t;
void hs__lock_slow(hs_lock_t *l);
void hs__unlock_slow(hs_lock_t *l);
static inline void hs__lock(hs_lock_t *l) {
  int expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&l->state, &expected, 1,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    hs__lock_slow(l);
}
static inline bool hs__trylock(hs_lock_t *l) {
  int expected = 0;
  return atomic_compare_exchange_strong_explicit(
      &l->state, &expected, 1, memory_order_acquire, memory_order_relaxed);
}
static inline void hs__unlock(hs_lock_t *l) {
  if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
    hs__unlock_slow(l);
}
/* Every runtime lock in its documented order (core/runtime.c), as the fork
 * handlers take them; names[i] says whose it is. For tests. */
size_t hs__runtime_locks(hs_lock_t ***locks, const char ***names);
/* A fork-reset hook: the child re-initialises instead of unlocking. */
static inline void hs__lock_reset(hs_lock_t *l) {
  atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

/* ---- OS primitives (core/prim_linux.c) --------------------------------- */
void *hs__os_map(size_t size);           /* NULL on failure */
void *hs__os_map_aligned(size_t size, size_t align);
void hs__os_unmap(void *p, size_t size);
void hs__os_release(void *p, size_t size); /* MADV_DONTNEED, keeps mapping */
uint64_t hs__now_ns(void);
int hs__gettid(void);

/* ---- size classes (core/sizeclass.c) ----------------------------------- */
typedef struct hs_class_info {
  uint32_t size;       /* object size in bytes */
  uint32_t pages;      /* pages per span */
  uint32_t objects;    /* objects per span */
  uint32_t batch;      /* objects moved between thread and central at once */
  uint64_t recip;      /* ceil(2^42 / size), for offset -> index */
} hs_class_info_t;
extern hs_class_info_t hs__classes[HS_NUM_CLASSES];
extern uint32_t hs__num_classes;          /* class 0 is unused */
extern uint8_t hs__class_small[(1024 >> 4) + 1];
extern uint8_t hs__class_mid[(HS_MAX_SMALL >> 7) + 1];
void hs__sizeclass_init(void);
static inline uint32_t hs__size_to_class(size_t n) {
  if (n <= 1024) return hs__class_small[(n + 15) >> 4];
  return hs__class_mid[(n + 127) >> 7];
}
static inline uint32_t hs__obj_index(uint32_t cls, uintptr_t offset) {
  return (uint32_t)(((uint64_t)offset * hs__classes[cls].recip) >> 42);
}

/* ---- spans and the page map (core/pagemap.c, core/pageheap.c) ---------- */
enum hs_span_kind {
  HS_SPAN_FREE = 0,     /* in the page heap's free lists */
  HS_SPAN_SMALL,        /* carved into objects of one class (user heap) */
  HS_SPAN_LARGE,        /* one user object */
  HS_SPAN_INTERNAL,     /* internal heap, small objects */
  HS_SPAN_INTERNAL_LARGE,
};

/* Per-object side record, kept when recording is on.
 * bucket == 0 means "not live or not recorded". */
typedef struct hs_rec {
  uint32_t bucket;  /* stack bucket id (core/depot.c); 0 = not live */
  uint32_t gen;     /* generation at birth | HS_REC_* flags */
  uint32_t size;    /* requested size (LARGE spans: see large_size) */
} hs_rec_t;
#define HS_REC_IGNORED 0x80000000u  /* never a leak; marking roots from it */
#define HS_REC_MARK 0x40000000u     /* reached by the current mark */
#define HS_REC_GEN_MASK 0x3fffffffu
#define HS_REC_FREED HS_REC_GEN_MASK /* with bucket 0: freed while recording */

typedef struct hs_span {
  uintptr_t start;          /* first byte; page aligned */
  size_t npages;
  struct hs_span *next, *prev; /* free list (page heap) or central list */
  struct hs_span *all_next;    /* registry of every span struct ever made */
  uint8_t kind;             /* enum hs_span_kind; page heap lock */
  uint8_t sizeclass;
  uint8_t released;         /* FREE spans: pages given back to the OS */
  uint8_t in_list;          /* on its central list's nonempty list */
  uint32_t allocated;       /* objects handed out; central lock */
  void *freelist;           /* free objects; central lock */
  uintptr_t carve;          /* next never-used object (bump carving) */
  uint32_t max_gen;         /* youngest generation recorded here (racy max) */
  _Atomic uint32_t rec_live; /* live records (sampled profiling only) */
  size_t large_size;        /* LARGE: requested size */
  _Atomic(hs_rec_t *) records; /* SMALL: per-object records, lazily made */
  hs_rec_t large_rec;       /* LARGE: the one object's record */
  /* Invariant: a SMALL object at index i is live and recorded iff
   * records && records[i].bucket != 0; a LARGE span iff large_rec.bucket. */
} hs_span_t;

/* Lock-free lookup: the span owning address a, or NULL. */
hs_span_t *hs__pagemap_get(uintptr_t a);
bool hs__pagemap_set_range(uintptr_t start, size_t npages, hs_span_t *s);
/* Page map geometry (core/pagemap.c): a two-level radix tree over the
 * 48-bit address space. Exposed so free() can read a page's class inline. */
#define HS_PM_PAGE_BITS (48 - HS_PAGE_SHIFT)              /* 35 */
#define HS_PM_ROOT_BITS 17
#define HS_PM_LEAF_BITS (HS_PM_PAGE_BITS - HS_PM_ROOT_BITS) /* 18 */
#define HS_PM_LEAF_LEN ((size_t)1 << HS_PM_LEAF_BITS)
typedef struct hs_pm_leaf {
  _Atomic(hs_span_t *) spans[HS_PM_LEAF_LEN];
  /* Size class of each page of an in-use user SMALL span, else 0: free()'s
   * fast path reads this byte instead of the span struct (one cache line
   * fewer, as tcmalloc's sizemap cache). */
  uint8_t classes[HS_PM_LEAF_LEN];
} hs_pm_leaf_t;
extern _Atomic(hs_pm_leaf_t *) hs__pagemap_root[(size_t)1 << HS_PM_ROOT_BITS];

/* Size class of a user small-object page (0 for anything else), plus
 * HS_CLASS_RECORDED when its span keeps per-object records. */
#define HS_CLASS_RECORDED 0x80u
static inline uint32_t hs__pagemap_class(uintptr_t a) {
  uintptr_t page = a >> HS_PAGE_SHIFT;
  if (HS_UNLIKELY(page >> HS_PM_PAGE_BITS)) return 0;
  hs_pm_leaf_t *l =
      atomic_load_explicit(&hs__pagemap_root[page >> HS_PM_LEAF_BITS], memory_order_acquire);
  if (HS_UNLIKELY(!l)) return 0;
  return l->classes[page & (HS_PM_LEAF_LEN - 1)];
}
void hs__pagemap_mark_recorded(uintptr_t start, size_t npages, bool recorded);
void hs__pagemap_set_class(uintptr_t start, size_t npages, uint32_t cls);

typedef struct hs_heap_stats {
  size_t heap_bytes;        /* mapped from the OS for the page heap */
  size_t free_bytes;        /* free in the page heap, still mapped */
  size_t unmapped_bytes;    /* free in the page heap, given back */
  size_t large_bytes;       /* in LARGE spans */
  size_t small_span_bytes;  /* in SMALL spans */
  size_t internal_bytes;    /* in INTERNAL spans */
  size_t metadata_bytes;    /* span structs and page map leaves */
} hs_heap_stats_t;

extern hs_lock_t hs__pageheap_lock;
hs_span_t *hs__pageheap_alloc(size_t npages, uint8_t kind); /* locks */
void hs__pageheap_free(hs_span_t *s);                       /* locks */
hs_span_t *hs__pageheap_alloc_locked(size_t npages, uint8_t kind);
void hs__pageheap_free_locked(hs_span_t *s);
void hs__pageheap_release_all(void);
/* Extend an in-use span to npages with the free pages right after it;
 * false if they are not free. */
bool hs__pageheap_try_grow(hs_span_t *s, size_t npages);
void hs__pageheap_stats(hs_heap_stats_t *out);
/* Every span struct ever made (never freed; reused). Walk with all_next;
 * for a stable picture hold hs__pageheap_lock. */
hs_span_t *hs__span_registry(void);

/* ---- central free lists (core/central.c) ------------------------------- */
typedef struct hs_central {
  hs_lock_t lock;
  hs_span_t nonempty;       /* sentinel of spans with free objects */
  size_t span_count;
} hs_central_t;
extern hs_central_t hs__central[HS_NUM_CLASSES];   /* user heap */
extern hs_central_t hs__icentral[HS_NUM_CLASSES];  /* internal heap */
/* Pop up to n objects as a NULL-terminated chain; returns count (0 = OOM). */
uint32_t hs__central_fetch(hs_central_t *c, uint32_t cls, uint8_t kind,
                           uint32_t n, void **head, void **tail);
/* Return a NULL-terminated chain of objects of class cls. */
void hs__central_release(hs_central_t *c, uint32_t cls, void *head);
size_t hs__central_free_bytes(hs_central_t *c, uint32_t cls);

/* ---- thread caches (core/threadcache.c) -------------------------------- */
typedef struct hs_freelist {
  void *head;
  uint32_t len;
  uint32_t max_len;
} hs_freelist_t;
typedef struct hs_tcache {
  hs_freelist_t lists[HS_NUM_CLASSES];
  uint8_t state;            /* 0 new, 1 live, 2 destroyed (thread exiting) */
  size_t capacity;          /* sum of max_len * size: bounds what it can hold */
  struct hs_tcache *next, *prev; /* registry for stats; tcache registry lock */
} hs_tcache_t;
extern HS_TLS hs_tcache_t hs__tcache;
void *hs__tcache_alloc_slow(uint32_t cls);
void hs__tcache_free_slow(void *p, uint32_t cls);
size_t hs__tcache_total_bytes(void);
void hs__tcache_flush_current(void);

/* ---- internal heap (core/arena.c) -------------------------------------- */
/* Memory for the runtime's own data. Never recorded, never scanned, never
 * the public malloc. Thread safe. */
void *hs__arena_alloc(size_t n);          /* zeroed */
void *hs__arena_realloc(void *p, size_t n);
void *hs__arena_memalign(size_t align, size_t n);
void hs__arena_free(void *p);
size_t hs__arena_usable(void *p);

/* While a thread is inside the runtime (symbolizing, unwinding, reporting),
 * calls it makes to the public malloc family are routed to the internal
 * heap, so libdw/libunwind/libc helpers neither recurse nor get recorded. */
typedef struct hs_thread_state {
  int in_runtime;           /* nesting depth */
  /* Bytes until this thread's next sampled allocation (sampled profiling),
   * counted down on the malloc fast path; huge when not sampling, 0 in a
   * new thread so its first malloc takes the slow path and sets it. */
  int64_t sample_left;
  int cancel_state;         /* cancellation state saved by the outermost enter */
} hs_thread_state_t;
extern HS_TLS hs_thread_state_t hs__tstate;
/* Entering also adds 2 to hs__hooked (a global count; bit 0 is left for
 * "recording on") so the public malloc family takes its slow path, which
 * checks in_runtime and routes to the internal heap, even when recording is
 * off.
 * The outermost enter also disables thread cancellation until the matching
 * leave: the runtime holds its locks (dump, symbolizer, modules, page heap
 * during a leak check) across cancellation points (open, read, write), and
 * a thread cancelled there would leave them held for good. Every lock taken
 * around I/O is taken inside enter/leave. */
extern _Atomic int hs__hooked;
int hs__cancel_disable(void);          /* returns the previous state */
void hs__cancel_restore(int state);
static inline void hs__runtime_enter(void) {
  if (hs__tstate.in_runtime++ == 0) hs__tstate.cancel_state = hs__cancel_disable();
  atomic_fetch_add_explicit(&hs__hooked, 2, memory_order_relaxed);
}
static inline void hs__runtime_leave(void) {
  atomic_fetch_sub_explicit(&hs__hooked, 2, memory_order_relaxed);
  if (--hs__tstate.in_runtime == 0) hs__cancel_restore(hs__tstate.cancel_state);
}

/* The runtime's large static tables (core/runtime.c): never leak-check
 * roots, whichever object they are linked into. */
typedef struct hs_range {
  uintptr_t lo, hi;
} hs_range_t;
extern const hs_range_t *const hs__runtime_tables[];
extern const size_t hs__runtime_table_count;
extern const hs_range_t hs__pagemap_range, hs__depot_range, hs__depot_ids_range,
    hs__live_range;

/* ---- allocator core (core/malloc.c) ------------------------------------ */
void hs__ensure_init(void);
extern _Atomic int hs__initialized;
void *hs__alloc(size_t n);                /* user heap, no recording */
void *hs__alloc_aligned(size_t align, size_t n);
void hs__dealloc(void *p);                /* checks validity, no recording */
size_t hs__usable_size(const void *p);    /* 0 for foreign pointers */
_Noreturn void hs__invalid_free(const void *p, const char *what);

/* ---- recording hook (core/record.c) ------------------------------------ */
/* Count n bytes off the sampling budget; true when this allocation must go
 * to the recording path to be sampled. One TLS subtraction per call. */
static inline bool hs__sample_due(size_t n) {
  return HS_UNLIKELY((hs__tstate.sample_left -= (int64_t)n) < 0);
}
/* Non-zero when any allocation must go through the recording path. Read on
 * every malloc/free: the only cost recording adds when it is off. */
extern _Atomic int hs__hooked;
/* Slow paths taken when hs__hooked. ret_addr is the caller of the public
 * entry point, so stacks start at the user's frame. */
void *hs__alloc_recorded(size_t n, size_t align, bool zero);
void hs__dealloc_recorded(void *p);
void *hs__realloc_recorded(void *p, size_t n);

#endif
