/* gperftools-compatible stack traces (the functions of gperftools 2.10's
 * stacktrace.h), implemented by libheapscope (core/api/stacktrace.c) with
 * the unwinder that records allocations (HEAPSCOPE_UNWINDER).
 *
 * result[0] is the caller of the function called, after skip_count more
 * frames are skipped; at most max_depth frames, and at most
 * HEAPSCOPE_STACK_DEPTH (default 30, max 64), are stored; the count is
 * returned. Frame sizes are not measured: every sizes[i] is 0, gperftools'
 * "could not be identified". The *WithContext forms unwind from the
 * handler as the others do (uc may be NULL).
 *
 * gperftools declares these with C++ linkage; here they are C functions,
 * callable from C and C++ alike (programs compiled against this header). */
#ifndef HEAPSCOPE_GPERFTOOLS_STACKTRACE_H
#define HEAPSCOPE_GPERFTOOLS_STACKTRACE_H

#ifndef PERFTOOLS_DLL_DECL
#define PERFTOOLS_DLL_DECL
#endif

#ifdef __cplusplus
extern "C" {
#endif

extern PERFTOOLS_DLL_DECL int GetStackFrames(void **result, int *sizes, int max_depth,
                                             int skip_count);
extern PERFTOOLS_DLL_DECL int GetStackFramesWithContext(void **result, int *sizes, int max_depth,
                                                        int skip_count, const void *uc);
extern PERFTOOLS_DLL_DECL int GetStackTrace(void **result, int max_depth, int skip_count);
extern PERFTOOLS_DLL_DECL int GetStackTraceWithContext(void **result, int max_depth,
                                                       int skip_count, const void *uc);

#ifdef __cplusplus
}
#endif
#endif
