/* gperftools-compatible nallocx (gperftools 2.10's nallocx.h, after
 * jemalloc's), implemented by libheapscope (core/api/tcmalloc.c). */
#ifndef HEAPSCOPE_GPERFTOOLS_NALLOCX_H
#define HEAPSCOPE_GPERFTOOLS_NALLOCX_H

#include <stddef.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define MALLOCX_LG_ALIGN(la) ((int)(la))

/* The usable size malloc would give for size bytes aligned to
 * 1 << MALLOCX_LG_ALIGN (the only flag understood), allocating nothing.
 * For blocks over 256 KiB aligned beyond a page it is a lower bound. */
PERFTOOLS_DLL_DECL size_t nallocx(size_t size, int flags);

/* The same, never weak (nallocx is weak, so that a jemalloc keeps its own). */
PERFTOOLS_DLL_DECL size_t tc_nallocx(size_t size, int flags);

#ifdef __cplusplus
}
#endif
#endif
