/* gperftools' <gperftools/stacktrace.h> over heapscope's stack capture
 * (core/stack/): the same unwinder, and the same choice between frame
 * pointers and libunwind (HEAPSCOPE_UNWINDER), as recorded allocations.
 *
 * result[0] is the caller of the public function, skip_count frames more
 * are dropped. At most HEAPSCOPE_STACK_DEPTH frames are returned, fewer
 * than asked when the stack is deeper (gperftools allows that). Frame sizes
 * (GetStackFrames) are not measured: each is 0, gperftools' "could not be
 * identified". The *WithContext forms are gperftools' "to be used from a
 * signal handler": they walk as the CPU profiler's signal handler does (no
 * lock, no allocation, no module list refresh, no CFI copy: a handler that
 * interrupted its own thread inside the runtime must not wait on a lock that
 * thread holds), so a frame in code nothing has unwound through yet may end
 * the walk early. The context is a hint gperftools' own unwinders ignore
 * too: the trace starts at the caller, as theirs does. */
#include "core/api/runtime.h"
#include "core/profile/cpuprof.h"

#include <gperftools/stacktrace.h>

/* Called directly by the public functions: its frame's caller's caller is
 * their caller. */
static HS_NOINLINE int unwind(void **result, int *sizes, int max_depth, int skip_count) {
  void *frame = __builtin_frame_address(0);
  if (!result || max_depth <= 0) return 0;
  if (skip_count < 0) skip_count = 0;
  hs__record_init();
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  int want = max_depth + skip_count < HS_MAX_DEPTH ? max_depth + skip_count : HS_MAX_DEPTH;
  hs__tstate.in_runtime++;
  int n = hs__capture_hashed(pcs, want, frame, &hash);
  hs__tstate.in_runtime--;
  int out = 0;
  for (int i = skip_count; i < n && out < max_depth; i++) {
    result[out] = (void *)pcs[i];
    if (sizes) sizes[out] = 0;
    out++;
  }
  return out;
}

HS_EXPORT HS_NOINLINE int GetStackTrace(void **result, int max_depth, int skip_count) {
  return unwind(result, NULL, max_depth, skip_count);
}

/* Inlined into the public functions: hs__cp_stack_trace's frame 0 is the
 * public function, which it drops itself. */
static inline __attribute__((always_inline)) int unwind_in_signal(void **result, int *sizes,
                                                                  int max_depth, int skip_count) {
  if (skip_count < 0) skip_count = 0;
  int n = hs__cp_stack_trace(result, max_depth, skip_count, NULL);
  for (int i = 0; sizes && i < n; i++) sizes[i] = 0;
  return n;
}

HS_EXPORT HS_NOINLINE int GetStackTraceWithContext(void **result, int max_depth, int skip_count,
                                                   const void *uc) {
  return unwind_in_signal(result, NULL, max_depth, skip_count);
}

HS_EXPORT HS_NOINLINE int GetStackFrames(void **result, int *sizes, int max_depth,
                                         int skip_count) {
  return unwind(result, sizes, max_depth, skip_count);
}

HS_EXPORT HS_NOINLINE int GetStackFramesWithContext(void **result, int *sizes, int max_depth,
                                                    int skip_count, const void *uc) {
  return unwind_in_signal(result, sizes, max_depth, skip_count);
}
