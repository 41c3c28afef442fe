/* Per-thread caches: one free list per size class in initial-exec TLS, so
 * the malloc/free fast paths touch no lock and no atomic. Lists refill from
 * and spill to the central lists in batches; a list's limit grows with use
 * (slow start, as in tcmalloc). Every list keeps len <= max_len, so the
 * cache never holds more than its capacity, the sum of max_len * size; the
 * capacity is kept under CACHE_LIMIT by shrinking the other lists' limits
 * when one grows. (Bounding the limits rather than counting bytes keeps the
 * fast paths free of accounting.) A thread's cache goes back to the central
 * lists when the thread exits (pthread key destructor); after that the
 * thread allocates straight from the central lists.
 *
 * SYNCHRONIZATION: a cache is touched only by its owner thread, except the
 * registry links (registry_lock) and the racy `len` reads made for stats. */
#include "core/alloc/alloc.h"

#include <pthread.h>

#define CACHE_LIMIT_MAX ((size_t)4 << 20)
#define CACHE_LIMIT_MIN ((size_t)64 << 10)
/* tcmalloc.max_total_thread_cache_bytes, applied per thread (no budget
 * shared between threads). */
static _Atomic size_t cache_limit = CACHE_LIMIT_MAX;
#define CACHE_LIMIT atomic_load_explicit(&cache_limit, memory_order_relaxed)

void hs__alloc_set_thread_cache_limit(size_t bytes) {
  if (bytes < CACHE_LIMIT_MIN) bytes = CACHE_LIMIT_MIN;
  if (bytes > CACHE_LIMIT_MAX) bytes = CACHE_LIMIT_MAX;
  atomic_store(&cache_limit, bytes);
}
size_t hs__alloc_thread_cache_limit(void) { return atomic_load(&cache_limit); }
#define LIST_BYTES_CAP ((size_t)1 << 20)

static pthread_key_t tcache_key;
static bool key_ready;
static hs_lock_t registry_lock;
hs_lock_t *const hs__tcache_registry_lock = &registry_lock;
static hs_tcache_t *registry;

enum { TC_NEW = 0, TC_LIVE = 1, TC_DEAD = 2 };

static void release_n(hs_tcache_t *tc, uint32_t cls, uint32_t n) {
  hs_freelist_t *l = &tc->lists[cls];
  if (n > l->len) n = l->len;
  if (!n) return;
  void *head = l->head, *p = head;
  for (uint32_t i = 1; i < n; i++) p = *(void **)p;
  l->head = *(void **)p;
  *(void **)p = NULL;
  l->len -= n;
  hs__central_release(&hs__central[cls], cls, head);
}

static void flush_all(hs_tcache_t *tc) {
  for (uint32_t c = 1; c < hs__num_classes; c++) release_n(tc, c, tc->lists[c].len);
}

static void tcache_destroy(void *arg) {
  hs_tcache_t *tc = arg;
  flush_all(tc);
  for (uint32_t c = 0; c < HS_NUM_CLASSES; c++) tc->lists[c].max_len = 0;
  tc->capacity = 0;
  tc->state = TC_DEAD;
  hs__lock(&registry_lock);
  if (tc->prev) tc->prev->next = tc->next;
  else if (registry == tc) registry = tc->next;
  if (tc->next) tc->next->prev = tc->prev;
  tc->next = tc->prev = NULL;
  hs__unlock(&registry_lock);
}

void hs__tcache_global_init(void) {
  if (!key_ready && pthread_key_create(&tcache_key, tcache_destroy) == 0)
    key_ready = true;
}

static void tcache_init(hs_tcache_t *tc) {
  tc->state = TC_LIVE;
  /* Limits start at 0 and grow on misses: a limit of 1 everywhere would
   * already be 3 MiB of capacity, most of it in classes never used. */
  tc->capacity = 0;
  hs__lock(&registry_lock);
  tc->prev = NULL;
  tc->next = registry;
  if (registry) registry->prev = tc;
  registry = tc;
  hs__unlock(&registry_lock);
  if (key_ready) pthread_setspecific(tcache_key, tc);
}

static uint32_t list_cap(uint32_t cls) {
  const hs_class_info_t *ci = &hs__classes[cls];
  size_t cap = LIST_BYTES_CAP / ci->size;
  if (cap < 2 * (size_t)ci->batch) cap = 2 * (size_t)ci->batch;
  return cap > 8 * ci->batch ? 8 * ci->batch : (uint32_t)cap;
}

/* Capacity over the limit after list `keep` grew: halve every other list's
 * limit (and its contents down to it) until the capacity fits again. */
static void shrink_others(hs_tcache_t *tc, uint32_t keep) {
  while (tc->capacity > CACHE_LIMIT) {
    bool shrunk = false;
    for (uint32_t c = 1; c < hs__num_classes; c++) {
      hs_freelist_t *l = &tc->lists[c];
      if (c == keep || !l->max_len) continue;
      uint32_t m = l->max_len / 2;
      if (l->len > m) release_n(tc, c, l->len - m);
      tc->capacity -= (size_t)(l->max_len - m) * hs__classes[c].size;
      l->max_len = m;
      shrunk = true;
    }
    if (!shrunk) break;
  }
}

void *hs__tcache_alloc_slow(uint32_t cls) {
  hs__alloc_init();
  hs__pageheap_decay_tick();
  hs_tcache_t *tc = &hs__tcache;
  void *p;
  if (HS_UNLIKELY(tc->state == TC_NEW)) tcache_init(tc);
  if (HS_UNLIKELY(tc->state == TC_DEAD)) {
    return hs__central_fetch(&hs__central[cls], cls, HS_SPAN_SMALL, 1, &p, NULL)
               ? p : NULL;
  }
  hs_freelist_t *l = &tc->lists[cls];
  if (l->head) { /* cls was 0 before init recomputed it, or a race with init */
    p = l->head;
    l->head = *(void **)p;
    l->len--;
    return p;
  }
  /* Slow start: each miss lets the list hold one more batch. */
  uint32_t batch = hs__classes[cls].batch;
  if (l->max_len < list_cap(cls)) {
    uint32_t grow = l->max_len < batch ? 1 : batch;
    l->max_len += grow;
    tc->capacity += (size_t)grow * hs__classes[cls].size;
    if (tc->capacity > CACHE_LIMIT) shrink_others(tc, cls);
  }
  uint32_t want = l->max_len < batch ? l->max_len : batch;
  void *head;
  uint32_t got = hs__central_fetch(&hs__central[cls], cls, HS_SPAN_SMALL, want,
                                   &head, NULL);
  if (!got) return NULL;
  p = head;
  l->head = *(void **)head;
  l->len += got - 1;
  hs_assert_expensive(hs__tcache_is_valid(cls));
  return p;
}

void hs__tcache_free_slow(void *p, uint32_t cls) {
  hs_tcache_t *tc = &hs__tcache;
  hs__pageheap_decay_tick();
  if (tc->state == TC_NEW) tcache_init(tc);
  if (tc->state == TC_DEAD) {
    *(void **)p = NULL;
    hs__central_release(&hs__central[cls], cls, p);
    return;
  }
  hs_freelist_t *l = &tc->lists[cls];
  *(void **)p = l->head;
  l->head = p;
  l->len++;
  if (l->len > l->max_len) {
    uint32_t batch = hs__classes[cls].batch;
    release_n(tc, cls, l->len > batch ? batch : l->len);
    /* Slow start on the free side too (tcmalloc's ListTooLong): a thread
     * that only frees (a consumer) must not take the central lock per
     * free. bench/xthread: 0.86 s -> 0.52 s. */
    if (l->max_len < batch) {
      l->max_len++;
      tc->capacity += hs__classes[cls].size;
      if (tc->capacity > CACHE_LIMIT) shrink_others(tc, cls);
    }
  }
  hs_assert_expensive(hs__tcache_is_valid(cls));
}

bool hs__small_block_is_free(void *p, uint32_t cls) {
  for (void *q = hs__tcache.lists[cls].head; q; q = *(void **)q)
    if (q == p) return true;
  hs_span_t *s = hs__pagemap_get((uintptr_t)p);
  if (!s || s->kind != HS_SPAN_SMALL || s->sizeclass != cls) return false;
  hs_central_t *c = &hs__central[cls];
  hs__lock(&c->lock);
  /* Past the carve point: never handed out since the span was made, so
   * the key is left from the memory's previous life (freed, span emptied,
   * pages reused). */
  bool found = (uintptr_t)p >= s->carve;
  for (void *q = s->freelist; q && !found; q = *(void **)q) found = q == p;
  hs__unlock(&c->lock);
  return found;
}

HS_NOINLINE void hs__tcache_push_keyed(void *p, uint32_t cls) {
  if (hs__small_block_is_free(p, cls)) hs__invalid_free(p, "double free");
  ((uintptr_t *)p)[HS_KEY_WORD] = 0; /* then pushed normally */
  hs__tcache_push(p, cls);
}

bool hs__tcache_is_valid(uint32_t cls) {
  hs_tcache_t *tc = &hs__tcache;
  size_t capacity = 0;
  for (uint32_t c = 1; c < hs__num_classes; c++) {
    if (tc->lists[c].len > tc->lists[c].max_len) return false;
    capacity += (size_t)tc->lists[c].max_len * hs__classes[c].size;
  }
  hs_freelist_t *l = &tc->lists[cls];
  uint32_t n = 0;
  for (void **q = l->head; q; q = *q, n++) {
    if (n >= l->len || ((uintptr_t *)q)[HS_KEY_WORD] != hs__free_key) return false;
    uint64_t v = hs__pagemap_info((uintptr_t)q);
    if ((HS_INFO_CLASS(v) & ~HS_CLASS_RECORDED) != cls) return false;
  }
  return n == l->len && capacity == tc->capacity;
}

size_t hs__tcache_total_bytes(void) {
  size_t total = 0;
  hs__lock(&registry_lock);
  for (hs_tcache_t *tc = registry; tc; tc = tc->next)
    for (uint32_t c = 1; c < hs__num_classes; c++)
      total += (size_t)tc->lists[c].len * hs__classes[c].size;
  hs__unlock(&registry_lock);
  return total;
}

void hs__tcache_flush_current(void) {
  if (hs__tcache.state == TC_LIVE) flush_all(&hs__tcache);
}

/* In a forked child (its locks were reset by core/api/runtime.c). */
void hs__tcache_postfork_child(void) {
  /* Only the forking thread survives; the others' caches are dead memory. */
  hs_tcache_t *me = &hs__tcache;
  registry = me->state == TC_LIVE ? me : NULL;
  me->next = me->prev = NULL;
}
