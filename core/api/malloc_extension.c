/* gperftools' MallocExtension C API over the allocator's statistics. */
#include "core/alloc/alloc.h"

#include <gperftools/malloc_extension_c.h>
#include <malloc.h>
#include <string.h>


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
  else if (!strcmp(property, "heapscope.metadata_bytes")) *value = n.heap.metadata_bytes;
  else if (!strcmp(property, "heapscope.internal_bytes")) *value = n.heap.internal_bytes;
  else return 0;
  return 1;
}

HS_EXPORT int MallocExtension_SetNumericProperty(const char *property, size_t value) {
  (void)property;
  (void)value;
  return 0;
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

HS_EXPORT void malloc_stats(void) {
  char buf[2048];
  MallocExtension_GetStats(buf, sizeof buf);
  hs__write_all(2, buf, strlen(buf));
}
