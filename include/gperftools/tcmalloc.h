/* gperftools-compatible tc_* entry points (the names, signatures and
 * version macros of gperftools 2.10's tcmalloc.h), implemented by
 * libheapscope (core/api/tcmalloc.c).
 *
 * tc_malloc, tc_free and the rest are heapscope's malloc family under
 * gperftools' names (recorded, profiled and leak-checked the same way);
 * tc_new and the other C++ operators are libstdc++'s operator new and
 * delete, which call them. TC_VERSION_* name the gperftools API this
 * header provides. */
#ifndef HEAPSCOPE_GPERFTOOLS_TCMALLOC_H
#define HEAPSCOPE_GPERFTOOLS_TCMALLOC_H

#include <stddef.h>
#ifdef __cplusplus
#include <new> /* std::nothrow_t, std::align_val_t */
#endif
#include <malloc.h> /* struct mallinfo */

#define TC_VERSION_MAJOR 2
#define TC_VERSION_MINOR 10
#define TC_VERSION_PATCH ""
#define TC_VERSION_STRING "gperftools 2.10"

#ifndef PERFTOOLS_NOTHROW
#if __cplusplus >= 201103L
#define PERFTOOLS_NOTHROW noexcept
#elif defined(__cplusplus)
#define PERFTOOLS_NOTHROW throw()
#elif defined(__GNUC__)
#define PERFTOOLS_NOTHROW __attribute__((__nothrow__))
#else
#define PERFTOOLS_NOTHROW
#endif
#define HEAPSCOPE_TCMALLOC_H_DEFINED_NOTHROW
#endif

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* "gperftools 2.10"; *major, *minor, *patch set when not NULL. */
PERFTOOLS_DLL_DECL const char *tc_version(int *major, int *minor,
                                          const char **patch) PERFTOOLS_NOTHROW;

PERFTOOLS_DLL_DECL void *tc_malloc(size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_malloc_skip_new_handler(size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_free(void *ptr) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_free_sized(void *ptr, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_realloc(void *ptr, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_calloc(size_t nmemb, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_cfree(void *ptr) PERFTOOLS_NOTHROW;

PERFTOOLS_DLL_DECL void *tc_memalign(size_t alignment, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL int tc_posix_memalign(void **ptr, size_t align, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_valloc(size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_pvalloc(size_t size) PERFTOOLS_NOTHROW;

PERFTOOLS_DLL_DECL void tc_malloc_stats(void) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL int tc_mallopt(int cmd, int value) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL struct mallinfo tc_mallinfo(void) PERFTOOLS_NOTHROW;

/* malloc_usable_size. */
PERFTOOLS_DLL_DECL size_t tc_malloc_size(void *ptr) PERFTOOLS_NOTHROW;

#ifdef __cplusplus
/* Accepted and returned; heapscope's malloc never calls the new-handler
 * (one heapscope: line says so). */
PERFTOOLS_DLL_DECL int tc_set_new_mode(int flag) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_new(size_t size);
PERFTOOLS_DLL_DECL void *tc_new_nothrow(size_t size, const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete(void *p) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete_sized(void *p, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete_nothrow(void *p, const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_newarray(size_t size);
PERFTOOLS_DLL_DECL void *tc_newarray_nothrow(size_t size, const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray(void *p) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray_sized(void *p, size_t size) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray_nothrow(void *p, const std::nothrow_t &) PERFTOOLS_NOTHROW;

#if __cplusplus >= 201703L
PERFTOOLS_DLL_DECL void *tc_new_aligned(size_t size, std::align_val_t al);
PERFTOOLS_DLL_DECL void *tc_new_aligned_nothrow(size_t size, std::align_val_t al,
                                                const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete_aligned(void *p, std::align_val_t al) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete_sized_aligned(void *p, size_t size,
                                                std::align_val_t al) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_delete_aligned_nothrow(void *p, std::align_val_t al,
                                                  const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void *tc_newarray_aligned(size_t size, std::align_val_t al);
PERFTOOLS_DLL_DECL void *tc_newarray_aligned_nothrow(size_t size, std::align_val_t al,
                                                     const std::nothrow_t &) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray_aligned(void *p, std::align_val_t al) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray_sized_aligned(void *p, size_t size,
                                                     std::align_val_t al) PERFTOOLS_NOTHROW;
PERFTOOLS_DLL_DECL void tc_deletearray_aligned_nothrow(void *p, std::align_val_t al,
                                                       const std::nothrow_t &) PERFTOOLS_NOTHROW;
#endif
}
#endif

/* As gperftools: PERFTOOLS_NOTHROW is this header's own. */
#ifdef HEAPSCOPE_TCMALLOC_H_DEFINED_NOTHROW
#undef PERFTOOLS_NOTHROW
#undef HEAPSCOPE_TCMALLOC_H_DEFINED_NOTHROW
#endif

#endif
