/* gperftools-compatible heap profiler API (same names and semantics as
 * gperftools 2.10's heap-profiler.h), implemented by libheapscope
 * (core/profile/heapprof.c). Dumps are PREFIX.NNNN.heap in the legacy
 * heap-profile text format that pprof reads (PREFIX.NNNN.pb.gz with
 * HEAPSCOPE_PROFILE_FORMAT=proto). */
#ifndef HEAPSCOPE_GPERFTOOLS_HEAP_PROFILER_H
#define HEAPSCOPE_GPERFTOOLS_HEAP_PROFILER_H

#include <stddef.h>

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Start profiling; dumps go to prefix.0001.heap, prefix.0002.heap, ... */
PERFTOOLS_DLL_DECL void HeapProfilerStart(const char *prefix);
/* Non-zero while profiling (HEAPPROFILE, or after HeapProfilerStart). */
PERFTOOLS_DLL_DECL int IsHeapProfilerRunning(void);
/* Stop profiling (no final dump); HeapProfilerStart starts again. */
PERFTOOLS_DLL_DECL void HeapProfilerStop(void);
/* Dump now; reason is printed and stored in the file's comment. */
PERFTOOLS_DLL_DECL void HeapProfilerDump(const char *reason);
/* The current profile as a NUL-terminated string the caller frees with
 * free(); never NULL. While the profiler runs, what a dump would hold; when
 * it does not, the live heap as far as allocations are recorded
 * (HEAPCHECK, TCMALLOC_SAMPLE_PARAMETER), else a valid empty profile. With
 * HEAPSCOPE_PROFILE_FORMAT=proto it is a (gzipped) profile.proto: binary,
 * heapscope_heap_profile(&len) in <heapscope/heapscope.h> gives its length. */
PERFTOOLS_DLL_DECL char *GetHeapProfile(void);

#ifdef __cplusplus
}
#endif
#endif
