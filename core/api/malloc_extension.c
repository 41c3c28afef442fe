/* gperftools' MallocExtension C API (<gperftools/malloc_extension_c.h>)
 * over the allocator's statistics and tuning knobs. The C++ class in
 * <gperftools/malloc_extension.h> is header-only over these functions.
 *
 * Writable properties map onto the allocator: tcmalloc's
 * max_total_thread_cache_bytes bounds each thread's cache (heapscope has no
 * budget shared between threads), aggressive_memory_decommit gives every
 * free page back at once; heapscope.release_rate_milli is the release rate
 * of MallocExtension::SetMemoryReleaseRate (1000 = 1.0) and
 * heapscope.heap_limit_bytes TCMALLOC_HEAP_LIMIT_MB's limit. */
#include "core/api/runtime.h"

#include <gperftools/malloc_extension_c.h>
#include <malloc.h>
#include <string.h>

/* The value last given to tcmalloc.max_total_thread_cache_bytes (0: never),
 * read back as given, as tcmalloc does. */
static _Atomic size_t total_thread_cache_bytes;


HS_EXPORT int MallocExtension_GetNumericProperty(const char *property, size_t *value) {
  if (!property || !value) return 0;
  hs_alloc_stats_t n;
  hs__alloc_stats(&n);
  if (!strcmp(property, "generic.current_allocated_bytes")) *value = n.allocated;
  else if (!strcmp(property, "generic.heap_size")) *value = n.heap.heap_bytes;
  else if (!strcmp(property, "generic.total_physical_bytes"))
    *value = n.heap.heap_bytes - n.heap.unmapped_bytes + n.heap.metadata_bytes;
  else if (!strcmp(property, "tcmalloc.pageheap_free_bytes")) *value = n.heap.free_bytes;
  else if (!strcmp(property, "tcmalloc.pageheap_unmapped_bytes")) *value = n.heap.unmapped_bytes;
  else if (!strcmp(property, "tcmalloc.central_cache_free_bytes")) *value = n.central;
  else if (!strcmp(property, "tcmalloc.thread_cache_free_bytes") ||
           !strcmp(property, "tcmalloc.current_total_thread_cache_bytes"))
    *value = n.thread_cache;
  else if (!strcmp(property, "tcmalloc.slack_bytes"))
    *value = n.heap.free_bytes + n.heap.unmapped_bytes;
  else if (!strcmp(property, "tcmalloc.transfer_cache_free_bytes")) *value = 0; /* none */
  else if (!strcmp(property, "tcmalloc.max_total_thread_cache_bytes")) {
    size_t t = atomic_load(&total_thread_cache_bytes);
    *value = t ? t : hs__alloc_thread_cache_limit();
  } else if (!strcmp(property, "tcmalloc.aggressive_memory_decommit"))
    *value = hs__alloc_aggressive_decommit();
  else if (!strcmp(property, "heapscope.metadata_bytes")) *value = n.heap.metadata_bytes;
  else if (!strcmp(property, "heapscope.internal_bytes")) *value = n.heap.internal_bytes;
  else if (!strcmp(property, "heapscope.release_rate_milli"))
    *value = hs__alloc_release_rate_milli();
  else if (!strcmp(property, "heapscope.heap_limit_bytes")) *value = hs__alloc_heap_limit();
  else if (!strcmp(property, "heapscope.thread_cache_limit_bytes"))
    *value = hs__alloc_thread_cache_limit();
  else return 0;
  return 1;
}

HS_EXPORT int MallocExtension_SetNumericProperty(const char *property, size_t value) {
  if (!property) return 0;
  hs__alloc_init();
  if (!strcmp(property, "tcmalloc.max_total_thread_cache_bytes")) {
    atomic_store(&total_thread_cache_bytes, value);
    hs__alloc_set_thread_cache_limit(value);
  } else if (!strcmp(property, "tcmalloc.aggressive_memory_decommit")) {
    hs__alloc_set_aggressive_decommit(value != 0);
    if (value) hs__alloc_release_free(); /* what is free now goes too */
  } else if (!strcmp(property, "heapscope.release_rate_milli")) {
    hs__alloc_set_release_rate_milli(value > 1000000000u ? 1000000000u : (uint32_t)value);
  } else if (!strcmp(property, "heapscope.heap_limit_bytes")) {
    hs__alloc_set_heap_limit(value);
  } else if (!strcmp(property, "heapscope.thread_cache_limit_bytes")) {
    hs__alloc_set_thread_cache_limit(value);
  } else {
    return 0; /* unknown, or read-only */
  }
  return 1;
}

HS_EXPORT void MallocExtension_GetStats(char *buffer, int buffer_length) {
  if (!buffer || buffer_length <= 0) return;
  hs_alloc_stats_t n;
  hs__alloc_stats(&n);
  hs__snprintf(buffer, (size_t)buffer_length,
               "------------------------------------------------\n"
               "MALLOC:   %12zu Bytes in use by application\n"
               "MALLOC: + %12zu Bytes in page heap freelist\n"
               "MALLOC: + %12zu Bytes in central cache freelist\n"
               "MALLOC: + %12zu Bytes in thread cache freelists\n"
               "MALLOC: + %12zu Bytes in heapscope metadata\n"
               "MALLOC: + %12zu Bytes in heapscope internal heap\n"
               "MALLOC:   ------------\n"
               "MALLOC: = %12zu Bytes in use (mapped)\n"
               "MALLOC: + %12zu Bytes released to OS (aka unmapped)\n"
               "MALLOC:   ------------\n"
               "MALLOC: = %12zu Virtual address space used\n"
               "MALLOC:   %12u Size classes\n"
               "------------------------------------------------\n",
               n.allocated, n.heap.free_bytes, n.central, n.thread_cache,
               n.heap.metadata_bytes, n.heap.internal_bytes,
               n.heap.heap_bytes - n.heap.unmapped_bytes + n.heap.metadata_bytes,
               n.heap.unmapped_bytes, n.heap.heap_bytes + n.heap.metadata_bytes,
               n.classes);
}

HS_EXPORT void MallocExtension_ReleaseFreeMemory(void) { hs__alloc_release_free(); }

HS_EXPORT void MallocExtension_ReleaseToSystem(size_t num_bytes) {
  (void)num_bytes;
  MallocExtension_ReleaseFreeMemory();
}

HS_EXPORT size_t MallocExtension_GetAllocatedSize(const void *p) {
  return hs__usable_size(p);
}

HS_EXPORT size_t MallocExtension_GetEstimatedAllocatedSize(size_t size) {
  return hs__alloc_estimated_size(size);
}

HS_EXPORT void MallocExtension_MarkThreadIdle(void) { hs__alloc_thread_idle(); }

HS_EXPORT int MallocExtension_VerifyAllMemory(void) { return 1; }

/* p is NULL or the start of a block handed out by this heap and, when the
 * records can tell, not freed since. */
static int verify_block(const void *p) {
  if (!p) return 1;
  hs_block_t b;
  hs__block_at((void *)p, false, 0, &b);
  if (b.kind != HS_BLOCK_USER) return 0;
  if (atomic_load(&hs__recording) && hs__records_complete && b.rec && !b.rec->bucket &&
      b.rec->gen == HS_REC_FREED)
    return 0;
  return 1;
}

HS_EXPORT int MallocExtension_VerifyNewMemory(const void *p) { return verify_block(p); }
HS_EXPORT int MallocExtension_VerifyArrayNewMemory(const void *p) { return verify_block(p); }
HS_EXPORT int MallocExtension_VerifyMallocMemory(const void *p) { return verify_block(p); }

typedef struct mem_stats {
  int blocks;
  size_t total;
  int *histogram;
} mem_stats_t;

static void count_block(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx) {
  mem_stats_t *m = ctx;
  m->blocks++;
  m->total += size;
  int bucket = 0;
  for (size_t s = size; s > 1 && bucket < kMallocExtensionHistogramSize - 1; s >>= 1) bucket++;
  m->histogram[bucket]++;
}

/* Live blocks, their bytes and a histogram by floor(log2(size)), from the
 * records: 1 while allocations are recorded (HEAPCHECK, HEAPPROFILE,
 * TCMALLOC_SAMPLE_PARAMETER: sampled blocks only), else 0 and zeros. */
HS_EXPORT int MallocExtension_MallocMemoryStats(int *blocks, size_t *total,
                                                int histogram[kMallocExtensionHistogramSize]) {
  if (!blocks || !total || !histogram) return 0;
  *blocks = 0;
  *total = 0;
  memset(histogram, 0, sizeof(int) * kMallocExtensionHistogramSize);
  if (!atomic_load(&hs__recording)) return 0;
  mem_stats_t m = {0, 0, histogram};
  hs__record_lock_world();
  hs__for_each_live(0, count_block, &m);
  hs__record_unlock_world();
  *blocks = m.blocks;
  *total = m.total;
  return 1;
}

/* A thread cache exists from the first allocation to thread exit. */
HS_EXPORT void MallocExtension_MarkThreadBusy(void) {}

HS_EXPORT void MallocExtension_MarkThreadTemporarilyIdle(void) { hs__alloc_thread_idle(); }

HS_EXPORT size_t MallocExtension_GetThreadCacheSize(void) { return hs__alloc_thread_cache_bytes(); }

HS_EXPORT MallocExtension_Ownership MallocExtension_GetOwnership(const void *p) {
  if (!p) return MallocExtension_kNotOwned;
  return hs__usable_size(p) ? MallocExtension_kOwned : MallocExtension_kNotOwned;
}

HS_EXPORT void malloc_stats(void) {
  char buf[2048];
  MallocExtension_GetStats(buf, sizeof buf);
  hs__write_all(2, buf, strlen(buf));
}
