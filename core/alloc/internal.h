/* The allocator's own structures, private to core/alloc/: size classes,
 * spans, the page map, the page heap, central lists and thread caches.
 * Code outside core/alloc/ uses core/alloc/alloc.h; this header is included
 * there only for the inline fast paths.
 *
 * SYNCHRONIZATION (lock order, outermost first): the init lock, the sampled
 * span mark lock (blockmeta.c), central list locks (user classes, then
 * internal classes), then the page heap lock, then the thread-cache registry
 * lock (hs__alloc_locks lists them so; the whole runtime's order is in
 * core/api/runtime.c). Thread caches are touched only by their owner. The
 * page map is read without locks. */
#ifndef HEAPSCOPE_CORE_ALLOC_INTERNAL_H
#define HEAPSCOPE_CORE_ALLOC_INTERNAL_H

#include "core/base/base.h"

/* ---- allocator geometry ------------------------------------------------ */
#define HS_PAGE_SHIFT 13
#define HS_PAGE_SIZE ((size_t)1 << HS_PAGE_SHIFT)
#define HS_MAX_SMALL ((size_t)256 << 10)   /* largest size served by a class */
#define HS_NUM_CLASSES 100                 /* upper bound; real count below */
#define HS_MIN_ALIGN 16
#define HS_RETAIN_MIN ((size_t)32 << 20) /* free pages kept mapped (core/alloc/pageheap.c) */
/* Free pages unused this long go back to the OS (core/alloc/pageheap.c). */
#define HS_DECAY_NS ((uint64_t)1000 * 1000 * 1000)
/* Blocks this big own their mapping: realloc moves their pages with mremap
 * instead of copying (core/alloc/pageheap.c). */
#define HS_MAP_MIN ((size_t)4 << 20)

/* ---- size classes (core/alloc/sizeclass.c) ----------------------------------- */
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
  if (HS_LIKELY(n <= 1024)) return hs__class_small[(n + 15) >> 4];
  return hs__class_mid[(n + 127) >> 7];
}
static inline uint32_t hs__obj_index(uint32_t cls, uintptr_t offset) {
  return (uint32_t)(((uint64_t)offset * hs__classes[cls].recip) >> 42);
}
/* free()'s block-start test per class, one multiply and one compare:
 * with magic = ceil(2^64 / size) (plus one for a power of two), an offset
 * off is a multiple k * size iff off * magic (mod 2^64) is small, and then
 * it equals k * e, where e = size * magic - 2^64 (Lemire's divisibility
 * test). So off * magic < objects * e holds exactly for the starts of the
 * span's whole blocks: no separate test for the tail past the last one. */
typedef struct hs_class_check {
  uint64_t magic[256];
  uint64_t bound[256];
} hs_class_check_t;
/* Indexed by the page info's class byte: entries of no class (0, past the
 * last class, and any with HS_CLASS_RECORDED) are 0, which fails the test,
 * so one lookup also sorts out pages free() must not handle. */
extern HS_HIDDEN hs_class_check_t hs__class_check;
static inline bool hs__is_block_start(uintptr_t cls, uint32_t off) {
  return (uint64_t)off * hs__class_check.magic[cls] < hs__class_check.bound[cls];
}

/* Double-free detection without recording (as glibc's tcache key): a freed
 * small block carries this per-process random value in its second word
 * while it is free; malloc clears it. free() of a block that already holds
 * it is verified the slow way (hs__small_block_is_free). */
extern HS_HIDDEN uintptr_t hs__free_key;
#define HS_KEY_WORD 1 /* word index of the key in a free block */

/* ---- spans and the page map (core/alloc/pagemap.c, pageheap.c) ---------- */
enum hs_span_kind {
  HS_SPAN_FREE = 0,     /* in the page heap's free lists */
  HS_SPAN_SMALL,        /* carved into objects of one class (user heap) */
  HS_SPAN_LARGE,        /* one user object */
  HS_SPAN_INTERNAL,     /* internal heap, small objects */
  HS_SPAN_INTERNAL_LARGE,
  HS_SPAN_CACHED,       /* a freed own mapping kept for reuse (decays) */
};

/* The recorder's per-block metadata, kept in span side arrays (see
 * core/alloc/alloc.h for the interface and core/record/record.h for what the
 * fields mean). The allocator only stores it: a slot with bucket != 0 is a
 * recorded live block. */
typedef struct hs_rec {
  uint32_t bucket;  /* stack bucket id; 0 = not live or not recorded */
  uint32_t gen;     /* generation at birth | recorder flags */
  uint32_t size;    /* requested size (LARGE spans: see large_size) */
} hs_rec_t;

typedef struct hs_span {
  uintptr_t start;          /* first byte; page aligned */
  size_t npages;
  struct hs_span *next, *prev; /* free list (page heap) or central list */
  struct hs_span *all_next;    /* registry of every span struct ever made */
  uint8_t kind;             /* enum hs_span_kind; page heap lock */
  uint8_t sizeclass;
  uint8_t in_list;          /* on its central list's nonempty list */
  uint8_t mapped;           /* LARGE/CACHED: owns its mapping (start, npages) */
  size_t dirty;             /* FREE: pages that may be resident (estimate
                             * after a split; exact after a release) */
  uint64_t free_ns;         /* FREE with dirty pages, and CACHED: freed when */
  struct hs_span *lru_next, *lru_prev; /* decay list, oldest first; page heap lock */
  uint32_t allocated;       /* objects handed out; central lock */
  void *freelist;           /* free objects; central lock */
  uintptr_t carve;          /* next never-used object (bump carving) */
  /* -- kept for the recorder (core/alloc/blockmeta.c) -- */
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
/* Page map geometry (core/alloc/pagemap.c): a two-level radix tree over the
 * 48-bit address space. Exposed so free() can read a page's class inline. */
#define HS_PM_PAGE_BITS (48 - HS_PAGE_SHIFT)              /* 35 */
#define HS_PM_ROOT_BITS 17
#define HS_PM_LEAF_BITS (HS_PM_PAGE_BITS - HS_PM_ROOT_BITS) /* 18 */
#define HS_PM_LEAF_LEN ((size_t)1 << HS_PM_LEAF_BITS)
typedef struct hs_pm_leaf {
  _Atomic(hs_span_t *) spans[HS_PM_LEAF_LEN];
  /* Per page of an in-use user SMALL span: its size class (bits 32-38),
   * HS_CLASS_RECORDED (bit 39) and the low 32 bits of its span's start
   * address (bits 0-31); 0 for every other page. free()'s fast path reads
   * this word instead of the span struct (one cache line fewer, as
   * tcmalloc's sizemap cache) and has all it needs to check that a pointer
   * starts a block: its offset in the span is one 32-bit subtraction. */
  uint64_t info[HS_PM_LEAF_LEN];
} hs_pm_leaf_t;
extern _Atomic(hs_pm_leaf_t *) hs__pagemap_root[(size_t)1 << HS_PM_ROOT_BITS];
extern size_t hs__pagemap_bytes;          /* leaves mapped (page heap lock) */

/* The page info word of address a (see hs_pm_leaf_t.info): size class of a
 * user small-object page (0 for anything else) plus HS_CLASS_RECORDED when
 * its span keeps per-object records, and where its span starts. */
#define HS_CLASS_RECORDED 0x80u
#define HS_INFO_CLASS(v) ((uint32_t)((v) >> 32))
#define HS_INFO_SPAN_OFFSET(v, a) ((uint32_t)(a) - (uint32_t)(v))
#define HS_INFO_MAKE(cls, span_start) ((uint64_t)(cls) << 32 | (uint32_t)(span_start))
/* The flat range: the page heap takes its memory from one range of address
 * space it reserves itself (HS_FLAT_BYTES, PROT_NONE until used), and the
 * info words of its pages sit in a flat table right below it, so free()
 * finds a page's info with one load that depends on the pointer, where the
 * radix tree needs two (root, then leaf). Until the range exists (and for
 * good when the address space is limited or the kernel refused it) its
 * limit is 0, which puts every address outside. Pages outside the range
 * (the heap grew past it, own mappings of big blocks) keep their info in
 * the radix tree's leaves. */
#define HS_FLAT_BYTES ((uintptr_t)64 << 30)
#define HS_FLAT_TABLE_BYTES ((HS_FLAT_BYTES >> HS_PAGE_SHIFT) * sizeof(uint64_t)) /* 64 MiB */
typedef struct hs_flat_range {
  _Atomic uintptr_t limit; /* its size (at most HS_FLAT_BYTES) once reserved, else 0; set last */
  uintptr_t base;          /* first byte; the table ends here */
} hs_flat_range_t;
extern HS_HIDDEN hs_flat_range_t hs__flat;
/* The table ends HS_FLAT_SKEW bytes short of the range: a page's first
 * block and its info word then differ in their low 12 address bits (a
 * table right below the range put page 0's word at the same offset mod
 * 4 KiB as page 0's first block, which free() has just written to: the
 * load waited on the stores as if they overlapped, and malloc(32)+free
 * took ~12 % longer). */
#define HS_FLAT_SKEW 2112
static inline uint64_t *hs__flat_slot(uintptr_t base, uintptr_t off) {
  return (uint64_t *)(base - HS_FLAT_TABLE_BYTES - HS_FLAT_SKEW) + (off >> HS_PAGE_SHIFT);
}
static inline uint64_t hs__pagemap_info(uintptr_t a) {
  uintptr_t limit = atomic_load_explicit(&hs__flat.limit, memory_order_acquire);
  uintptr_t off = a - hs__flat.base;
  if (HS_LIKELY(off < limit)) return *hs__flat_slot(hs__flat.base, off);
  /* One bound test on the root index also rejects addresses past 48 bits. */
  uintptr_t root = a >> (HS_PAGE_SHIFT + HS_PM_LEAF_BITS);
  if (HS_UNLIKELY(root >= ((uintptr_t)1 << HS_PM_ROOT_BITS))) return 0;
  hs_pm_leaf_t *l = atomic_load_explicit(&hs__pagemap_root[root], memory_order_acquire);
  if (HS_UNLIKELY(!l)) return 0;
  return l->info[(a >> HS_PAGE_SHIFT) & (HS_PM_LEAF_LEN - 1)];
}
/* The span holding address a, or NULL (hs__pagemap_get is this, out of
 * line); inline for the recorder's per-block lookups. */
static inline hs_span_t *hs__pagemap_span(uintptr_t a) {
  uintptr_t root = a >> (HS_PAGE_SHIFT + HS_PM_LEAF_BITS);
  if (HS_UNLIKELY(root >= ((uintptr_t)1 << HS_PM_ROOT_BITS))) return NULL;
  hs_pm_leaf_t *l = atomic_load_explicit(&hs__pagemap_root[root], memory_order_acquire);
  if (HS_UNLIKELY(!l)) return NULL;
  return atomic_load_explicit(&l->spans[(a >> HS_PAGE_SHIFT) & (HS_PM_LEAF_LEN - 1)],
                              memory_order_acquire);
}
/* Fresh read-write heap memory of `bytes` (a multiple of HS_PAGE_SIZE) from
 * the flat range, reserving it on first use; NULL when there is none (then
 * the page heap maps memory anywhere). Page heap lock held. */
void *hs__pagemap_flat_take(size_t bytes);
/* Gives the flat range's unused rest back for good (RLIMIT_AS is being
 * set); takes the page heap lock. */
void hs__pagemap_flat_shrink(void);
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
/* A LARGE span with its own mapping of npages (a cached one if any fits,
 * resized with mremap, else a fresh mmap). Freed by hs__pageheap_free,
 * which keeps it cached until it decays. */
hs_span_t *hs__pageheap_alloc_mapped(size_t npages);
/* Resize an own-mapped span to npages, moving its pages (not copying them)
 * when it cannot grow in place: s->start may change. False on failure
 * (the span is unchanged). */
bool hs__pageheap_remap(hs_span_t *s, size_t npages);
/* Releases free memory unused for HS_DECAY_NS; cheap when nothing is due.
 * Called from the allocator's slow paths. */
void hs__pageheap_decay_tick(void);
/* Page heap invariants (free lists, decay list, page map ends, counters),
 * under the page heap lock, for hs_assert_expensive: the counters every
 * time, the whole-structure walk every 64th call (a walk per operation
 * made a 1 GiB heap quadratic). */
bool hs__pageheap_is_valid(void);
void hs__pageheap_stats(hs_heap_stats_t *out);
/* Every span struct ever made (never freed; reused). Walk with all_next;
 * for a stable picture hold hs__pageheap_lock. */
hs_span_t *hs__span_registry(void);

/* ---- central free lists (core/alloc/central.c) ------------------------- */
typedef struct hs_central {
  hs_lock_t lock;
  hs_span_t nonempty;       /* sentinel of spans with free objects */
  size_t span_count;
  uint32_t idle;            /* internal heap: empty spans kept resident (0 or 1) */
} hs_central_t;
extern hs_central_t hs__central[HS_NUM_CLASSES];   /* user heap */
extern hs_central_t hs__icentral[HS_NUM_CLASSES];  /* internal heap */
/* Pop up to n objects as a NULL-terminated chain; returns count (0 = OOM). */
uint32_t hs__central_fetch(hs_central_t *c, uint32_t cls, uint8_t kind,
                           uint32_t n, void **head, void **tail);
/* Return a NULL-terminated chain of objects of class cls. */
void hs__central_release(hs_central_t *c, uint32_t cls, void *head);
size_t hs__central_free_bytes(hs_central_t *c, uint32_t cls);

/* ---- thread caches (core/alloc/threadcache.c) -------------------------- */
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
/* Each thread's: hs__tcache (core/alloc/alloc.h). */
void hs__tcache_global_init(void);
void *hs__tcache_alloc_slow(uint32_t cls);
void hs__tcache_free_slow(void *p, uint32_t cls);
/* p (a block of class cls, holding the free key) is free: on this thread's
 * cache list, on its span's free list, or never handed out since its span
 * was made. False when it is live (its data just equal the key) or sits in
 * another thread's cache (not visible from here). */
bool hs__small_block_is_free(void *p, uint32_t cls);
/* free() of a block that holds the free key: aborts if it is free, else
 * (its data just equal the key) pushes it like any other. */
void hs__tcache_push_keyed(void *p, uint32_t cls);
/* This thread's cache: every list within its limit, the capacity their
 * sum, and every block on list cls of that class and holding the free key;
 * for hs_assert_expensive. */
bool hs__tcache_is_valid(uint32_t cls);
size_t hs__tcache_total_bytes(void);
void hs__tcache_flush_current(void);
extern hs_lock_t *const hs__tcache_registry_lock;
void hs__tcache_postfork_child(void);
/* blockmeta.c: orders sampled spans' page-map mark changes. */
extern hs_lock_t *const hs__span_mark_lock;

#endif
