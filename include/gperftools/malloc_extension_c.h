/* gperftools-compatible C interface to the allocator's introspection.
 * Same names and signatures as gperftools' malloc_extension_c.h. */
#ifndef HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_C_H
#define HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_C_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Properties: "generic.current_allocated_bytes", "generic.heap_size",
 * "generic.total_physical_bytes", "tcmalloc.pageheap_free_bytes",
 * "tcmalloc.pageheap_unmapped_bytes", "tcmalloc.central_cache_free_bytes",
 * "tcmalloc.thread_cache_free_bytes", "tcmalloc.current_total_thread_cache_bytes",
 * "heapscope.metadata_bytes". Returns 1 and sets *value, or 0 if unknown. */
int MallocExtension_GetNumericProperty(const char *property, size_t *value);
int MallocExtension_SetNumericProperty(const char *property, size_t value);
/* Human-readable statistics into buffer (always NUL-terminated). */
void MallocExtension_GetStats(char *buffer, int buffer_length);
/* Return every free page to the OS. */
void MallocExtension_ReleaseFreeMemory(void);
void MallocExtension_ReleaseToSystem(size_t num_bytes);
size_t MallocExtension_GetAllocatedSize(const void *p);
size_t MallocExtension_GetEstimatedAllocatedSize(size_t size);
void MallocExtension_MarkThreadIdle(void);
int MallocExtension_VerifyAllMemory(void);

#ifdef __cplusplus
}
#endif
#endif
