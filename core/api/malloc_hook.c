/* gperftools' MallocHook C API (<gperftools/malloc_hook_c.h>) over the hook
 * registry of core/record/hooks.c, plus the heapscope_* helpers the
 * header-only C++ class (<gperftools/malloc_hook.h>) needs. Add/Remove
 * return 1 on success and 0 on failure (full, NULL, or not installed). */
#include "core/api/runtime.h"

#include <gperftools/malloc_hook_c.h>
#include <heapscope/heapscope.h>

_Static_assert((int)HEAPSCOPE_HOOK_NEW == (int)HS_HOOK_NEW &&
                   (int)HEAPSCOPE_HOOK_SBRK == (int)HS_HOOK_SBRK &&
                   (int)HEAPSCOPE_HOOK_MMAP_REPLACEMENT == (int)HS_HOOK_MMAP_REPLACE &&
                   (int)HEAPSCOPE_HOOK_MUNMAP_REPLACEMENT == (int)HS_HOOK_MUNMAP_REPLACE,
               "public and internal hook kinds differ");

/* Function pointers travel as void * inside the runtime (POSIX allows it). */
#define ADD_REMOVE(Name, kind, type)                                              \
  HS_EXPORT int MallocHook_Add##Name##Hook(type hook) {                           \
    return hs__hook_add(kind, (void *)hook);                                      \
  }                                                                               \
  HS_EXPORT int MallocHook_Remove##Name##Hook(type hook) {                        \
    return hs__hook_remove(kind, (void *)hook);                                   \
  }                                                                               \
  HS_EXPORT type MallocHook_Set##Name##Hook(type hook) {                          \
    return (type)hs__hook_set_singular(kind, (void *)hook);                       \
  }

ADD_REMOVE(New, HS_HOOK_NEW, MallocHook_NewHook)
ADD_REMOVE(Delete, HS_HOOK_DELETE, MallocHook_DeleteHook)
ADD_REMOVE(PreMmap, HS_HOOK_PRE_MMAP, MallocHook_PreMmapHook)
ADD_REMOVE(Mmap, HS_HOOK_MMAP, MallocHook_MmapHook)
ADD_REMOVE(Munmap, HS_HOOK_MUNMAP, MallocHook_MunmapHook)
ADD_REMOVE(Mremap, HS_HOOK_MREMAP, MallocHook_MremapHook)
ADD_REMOVE(PreSbrk, HS_HOOK_PRE_SBRK, MallocHook_PreSbrkHook)
ADD_REMOVE(Sbrk, HS_HOOK_SBRK, MallocHook_SbrkHook)

/* One replacement of each kind: set fails while one is installed. */
HS_EXPORT int MallocHook_SetMmapReplacement(MallocHook_MmapReplacement hook) {
  return hs__hook_add(HS_HOOK_MMAP_REPLACE, (void *)hook);
}
HS_EXPORT int MallocHook_RemoveMmapReplacement(MallocHook_MmapReplacement hook) {
  return hs__hook_remove(HS_HOOK_MMAP_REPLACE, (void *)hook);
}
HS_EXPORT int MallocHook_SetMunmapReplacement(MallocHook_MunmapReplacement hook) {
  return hs__hook_add(HS_HOOK_MUNMAP_REPLACE, (void *)hook);
}
HS_EXPORT int MallocHook_RemoveMunmapReplacement(MallocHook_MunmapReplacement hook) {
  return hs__hook_remove(HS_HOOK_MUNMAP_REPLACE, (void *)hook);
}

/* Called directly by the public functions below, so that its frame's
 * caller's caller is their caller. */
static HS_NOINLINE int caller_stack(void **result, int max_depth, int skip_count) {
  return hs__hooks_caller_stack(result, max_depth, skip_count, __builtin_frame_address(0));
}

HS_EXPORT HS_NOINLINE int MallocHook_GetCallerStackTrace(void **result, int max_depth,
                                                         int skip_count) {
  hs__record_init();
  return caller_stack(result, max_depth, skip_count);
}

/* ---- for <gperftools/malloc_hook.h> ------------------------------------- */

HS_EXPORT void *heapscope_malloc_hook_get(int kind) {
  return kind >= 0 && kind < HS_HOOK_KINDS ? hs__hook_singular((hs_hook_kind_t)kind) : NULL;
}

static HS_NOINLINE int invoke(int kind, const heapscope_hook_args_t *a) {
  hs_hook_args_t h = {a->result, a->start,     a->new_addr,   a->size,
                      a->new_size, a->prot,   a->flags,      a->fd,
                      (off_t)a->offset, a->increment, a->out_result, a->out_int};
  return hs__hooks_invoke((hs_hook_kind_t)kind, &h, __builtin_frame_address(0));
}

HS_EXPORT HS_NOINLINE int heapscope_malloc_hook_invoke(int kind, const heapscope_hook_args_t *a) {
  if (!a || kind < 0 || kind >= HS_HOOK_KINDS) return 0;
  return invoke(kind, a);
}
