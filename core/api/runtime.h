/* The runtime as a whole (core/api/): the public malloc family
 * (malloc.c), gperftools' MallocExtension C API (malloc_extension.c) and
 * the process wiring (runtime.c): constructor, fork handlers, the list of
 * the runtime's own tables. The top of core/; leakcheck/ and the adapters
 * build on it. */
#ifndef HEAPSCOPE_CORE_API_RUNTIME_H
#define HEAPSCOPE_CORE_API_RUNTIME_H

#include "core/record/record.h"

/* The runtime's large static tables (page map, depot, live counters):
 * never leak-check roots, whichever object they are linked into. */
const hs_range_t *const *hs__runtime_tables(size_t *count);

/* Every runtime lock in its documented order (runtime.c), as the fork
 * handlers take them. For tests. */
const hs_lock_list_t *hs__runtime_locks(void);
/* A lock of a layer above core (leakcheck/, adapters/): such locks are held
 * while calling into core, never the other way round, so the fork handlers
 * take them first, in the order registered. Call from a constructor. */
void hs__fork_lock_outer(hs_lock_t *lock, const char *name);
/* gperftools' variables: applied or said to be ignored (gperftools_env.c;
 * the constructor). */
void hs__gperftools_env_init(void);

/* Keeps runtime.c (its constructor) in static links; see CMakeLists.txt. */
HS_EXPORT void hs__runtime_anchor(void);

/* C library entry points (core/api/malloc.c) that glibc 2.36's headers do
 * not declare: C23's sized frees and the old cfree. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t align, size_t n);
void cfree(void *p);
/* <gperftools/tcmalloc.h> declares it to C++ only (core/api/tcmalloc.c). */
int tc_set_new_mode(int flag);

#endif
