/* gperftools-compatible MallocHook C API (the names and types of
 * gperftools 2.10's malloc_hook_c.h), implemented by libheapscope
 * (core/api/malloc_hook.c, core/record/hooks.c).
 *
 * New and delete hooks are called after each allocation and before each
 * free of the malloc family (and of new/delete, which call them), from
 * heapscope's recording slow path: while at least one is installed every
 * allocation takes that path; with none, the allocator's fast paths are
 * untouched. They are not called for the runtime's own allocations, nor
 * for what a hook allocates itself (no recursion). realloc calls the
 * delete hook for the old block and the new hook for the result. The mmap
 * family's hooks are called around the program's mmap, mmap64, munmap,
 * mremap and sbrk calls. Up to 7 hooks of each kind (plus one set by the
 * deprecated Set*Hook); hooks must be thread-safe, and heapscope restores
 * errno after them. */
#ifndef HEAPSCOPE_GPERFTOOLS_MALLOC_HOOK_C_H
#define HEAPSCOPE_GPERFTOOLS_MALLOC_HOOK_C_H

#include <stddef.h>
#include <sys/types.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Called from a hook: the stack of the code that called the allocation
 * (or mmap-family) function, its caller first. Elsewhere: the caller's
 * stack, skip_count frames fewer. Returns the number of frames stored. */
PERFTOOLS_DLL_DECL
int MallocHook_GetCallerStackTrace(void **result, int max_depth, int skip_count);

/* Add/Remove return 1 on success, 0 on failure (no slot left, NULL hook,
 * or not installed). */
typedef void (*MallocHook_NewHook)(const void *ptr, size_t size);
PERFTOOLS_DLL_DECL int MallocHook_AddNewHook(MallocHook_NewHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveNewHook(MallocHook_NewHook hook);

typedef void (*MallocHook_DeleteHook)(const void *ptr);
PERFTOOLS_DLL_DECL int MallocHook_AddDeleteHook(MallocHook_DeleteHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveDeleteHook(MallocHook_DeleteHook hook);

typedef void (*MallocHook_PreMmapHook)(const void *start, size_t size, int protection,
                                       int flags, int fd, off_t offset);
PERFTOOLS_DLL_DECL int MallocHook_AddPreMmapHook(MallocHook_PreMmapHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemovePreMmapHook(MallocHook_PreMmapHook hook);

typedef void (*MallocHook_MmapHook)(const void *result, const void *start, size_t size,
                                    int protection, int flags, int fd, off_t offset);
PERFTOOLS_DLL_DECL int MallocHook_AddMmapHook(MallocHook_MmapHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveMmapHook(MallocHook_MmapHook hook);

/* Returns non-zero (and *result) when it did the mapping itself. One at a
 * time: Set fails while another is set. */
typedef int (*MallocHook_MmapReplacement)(const void *start, size_t size, int protection,
                                          int flags, int fd, off_t offset, void **result);
PERFTOOLS_DLL_DECL int MallocHook_SetMmapReplacement(MallocHook_MmapReplacement hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveMmapReplacement(MallocHook_MmapReplacement hook);

typedef void (*MallocHook_MunmapHook)(const void *ptr, size_t size);
PERFTOOLS_DLL_DECL int MallocHook_AddMunmapHook(MallocHook_MunmapHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveMunmapHook(MallocHook_MunmapHook hook);

typedef int (*MallocHook_MunmapReplacement)(const void *ptr, size_t size, int *result);
PERFTOOLS_DLL_DECL int MallocHook_SetMunmapReplacement(MallocHook_MunmapReplacement hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveMunmapReplacement(MallocHook_MunmapReplacement hook);

typedef void (*MallocHook_MremapHook)(const void *result, const void *old_addr,
                                      size_t old_size, size_t new_size, int flags,
                                      const void *new_addr);
PERFTOOLS_DLL_DECL int MallocHook_AddMremapHook(MallocHook_MremapHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveMremapHook(MallocHook_MremapHook hook);

/* sbrk(0) calls neither sbrk hook, as in gperftools. */
typedef void (*MallocHook_PreSbrkHook)(ptrdiff_t increment);
PERFTOOLS_DLL_DECL int MallocHook_AddPreSbrkHook(MallocHook_PreSbrkHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemovePreSbrkHook(MallocHook_PreSbrkHook hook);

typedef void (*MallocHook_SbrkHook)(const void *result, ptrdiff_t increment);
PERFTOOLS_DLL_DECL int MallocHook_AddSbrkHook(MallocHook_SbrkHook hook);
PERFTOOLS_DLL_DECL int MallocHook_RemoveSbrkHook(MallocHook_SbrkHook hook);

/* Deprecated (as in gperftools): one more hook of each kind, replaced by
 * the next Set; each returns the previous one. */
PERFTOOLS_DLL_DECL MallocHook_NewHook MallocHook_SetNewHook(MallocHook_NewHook hook);
PERFTOOLS_DLL_DECL MallocHook_DeleteHook MallocHook_SetDeleteHook(MallocHook_DeleteHook hook);
PERFTOOLS_DLL_DECL MallocHook_PreMmapHook MallocHook_SetPreMmapHook(MallocHook_PreMmapHook hook);
PERFTOOLS_DLL_DECL MallocHook_MmapHook MallocHook_SetMmapHook(MallocHook_MmapHook hook);
PERFTOOLS_DLL_DECL MallocHook_MunmapHook MallocHook_SetMunmapHook(MallocHook_MunmapHook hook);
PERFTOOLS_DLL_DECL MallocHook_MremapHook MallocHook_SetMremapHook(MallocHook_MremapHook hook);
PERFTOOLS_DLL_DECL MallocHook_PreSbrkHook MallocHook_SetPreSbrkHook(MallocHook_PreSbrkHook hook);
PERFTOOLS_DLL_DECL MallocHook_SbrkHook MallocHook_SetSbrkHook(MallocHook_SbrkHook hook);

#ifdef __cplusplus
}
#endif
#endif
