/* gperftools-compatible heap profiler API (same names and semantics as
 * gperftools' heap-profiler.h). Dumps are PREFIX.NNNN.heap in the legacy
 * heap-profile text format that pprof reads. */
#ifndef HEAPSCOPE_GPERFTOOLS_HEAP_PROFILER_H
#define HEAPSCOPE_GPERFTOOLS_HEAP_PROFILER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Start profiling; dumps go to prefix.0001.heap, prefix.0002.heap, ... */
void HeapProfilerStart(const char *prefix);
/* Non-zero while profiling. */
int IsHeapProfilerRunning(void);
/* Stop profiling (no final dump). */
void HeapProfilerStop(void);
/* Dump now; reason is printed and stored in the file's comment. */
void HeapProfilerDump(const char *reason);
/* The current profile as a string the caller frees with free(). NULL when
 * the profiler is not running. */
char *GetHeapProfile(void);

#ifdef __cplusplus
}
#endif
#endif
