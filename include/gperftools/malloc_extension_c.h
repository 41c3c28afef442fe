/* gperftools-compatible C interface to the allocator's introspection and
 * tuning: the names, signatures and enum of gperftools 2.10's
 * malloc_extension_c.h, implemented by libheapscope (core/api/
 * malloc_extension.c). docs/gperftools.md says what each does here. */
#ifndef HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_C_H
#define HEAPSCOPE_GPERFTOOLS_MALLOC_EXTENSION_C_H

#include <stddef.h>
#include <sys/types.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define kMallocExtensionHistogramSize 64

/* 1; heapscope validates every free instead (invalid frees abort). */
PERFTOOLS_DLL_DECL int MallocExtension_VerifyAllMemory(void);
/* 1 when p is NULL or a block of this heap's that is not known to be
 * freed (the records tell, while allocations are recorded), else 0. */
PERFTOOLS_DLL_DECL int MallocExtension_VerifyNewMemory(const void *p);
PERFTOOLS_DLL_DECL int MallocExtension_VerifyArrayNewMemory(const void *p);
PERFTOOLS_DLL_DECL int MallocExtension_VerifyMallocMemory(const void *p);
/* Live blocks, their bytes, and a histogram of their sizes by
 * floor(log2(size)), from the records: 1 while allocations are recorded
 * (HEAPCHECK, HEAPPROFILE; TCMALLOC_SAMPLE_PARAMETER counts the sampled
 * blocks), else 0 with zeros. */
PERFTOOLS_DLL_DECL int MallocExtension_MallocMemoryStats(int *blocks, size_t *total,
                                                         int histogram[kMallocExtensionHistogramSize]);
/* Human-readable statistics into buffer (always NUL-terminated). */
PERFTOOLS_DLL_DECL void MallocExtension_GetStats(char *buffer, int buffer_length);

/* Properties: "generic.current_allocated_bytes", "generic.heap_size",
 * "generic.total_physical_bytes", "tcmalloc.pageheap_free_bytes",
 * "tcmalloc.pageheap_unmapped_bytes", "tcmalloc.slack_bytes",
 * "tcmalloc.central_cache_free_bytes", "tcmalloc.transfer_cache_free_bytes",
 * "tcmalloc.thread_cache_free_bytes", "tcmalloc.current_total_thread_cache_bytes",
 * "tcmalloc.max_total_thread_cache_bytes" (writable: bounds each thread's
 * cache, 64 KiB to 4 MiB), "tcmalloc.aggressive_memory_decommit" (writable),
 * "heapscope.metadata_bytes", "heapscope.internal_bytes",
 * "heapscope.release_rate_milli" (writable: the release rate x 1000),
 * "heapscope.heap_limit_bytes" (writable: 0 = none),
 * "heapscope.thread_cache_limit_bytes" (writable).
 * Get returns 1 and sets *value, or 0 if unknown; Set returns 1, or 0 if
 * the property is unknown or read-only. */
PERFTOOLS_DLL_DECL int MallocExtension_GetNumericProperty(const char *property, size_t *value);
PERFTOOLS_DLL_DECL int MallocExtension_SetNumericProperty(const char *property, size_t value);
/* This thread's cache goes back to the central lists. */
PERFTOOLS_DLL_DECL void MallocExtension_MarkThreadIdle(void);
/* Nothing to do: a thread's cache lives until the thread exits. */
PERFTOOLS_DLL_DECL void MallocExtension_MarkThreadBusy(void);
/* Returns free pages to the OS (all of them: at least num_bytes). */
PERFTOOLS_DLL_DECL void MallocExtension_ReleaseToSystem(size_t num_bytes);
PERFTOOLS_DLL_DECL void MallocExtension_ReleaseFreeMemory(void);
/* What malloc(size) would reserve. */
PERFTOOLS_DLL_DECL size_t MallocExtension_GetEstimatedAllocatedSize(size_t size);
/* The usable size of block p (0 for NULL or a foreign pointer). */
PERFTOOLS_DLL_DECL size_t MallocExtension_GetAllocatedSize(const void *p);
/* Bytes in this thread's cache. */
PERFTOOLS_DLL_DECL size_t MallocExtension_GetThreadCacheSize(void);
/* As MarkThreadIdle. */
PERFTOOLS_DLL_DECL void MallocExtension_MarkThreadTemporarilyIdle(void);

typedef enum {
  MallocExtension_kUnknownOwnership = 0,
  MallocExtension_kOwned,
  MallocExtension_kNotOwned
} MallocExtension_Ownership;

/* kOwned when p lies in a block of this heap, kNotOwned otherwise or for
 * NULL. */
PERFTOOLS_DLL_DECL MallocExtension_Ownership MallocExtension_GetOwnership(const void *p);

#ifdef __cplusplus
}
#endif
#endif
