/* The CPU profiler (core/profile/cpuprof*.c): gperftools' CPUPROFILE and
 * <gperftools/profiler.h>, in the runtime itself. What the rest of the
 * runtime calls; the profiler's own pieces share cpuprof_internal.h.
 *
 *   cpuprof.c          the API, start/stop/flush, CPUPROFILESIGNAL, fatal
 *                      signals, fork, exit, the program's own SIGPROF
 *   cpuprof_sampler.c  per-thread timers, thread registration, the signal
 *                      handler and its stack walk
 *   cpuprof_file.c     the profile file: written live by the handler (a
 *                      valid legacy profile at every instant, so SIGKILL
 *                      loses nothing), then compacted; PATH.tests; proto
 *
 * See docs/cpu-profiler.md. */
#ifndef HEAPSCOPE_CORE_PROFILE_CPUPROF_H
#define HEAPSCOPE_CORE_PROFILE_CPUPROF_H

#include "core/base/base.h"

/* Starts the profiler when CPUPROFILE is set, or arms the CPUPROFILESIGNAL
 * toggle (runtime constructor). */
void hs__cpuprof_init(void);

/* Per-test labels. A test harness (the CMocka adapter) names the test that
 * is running; samples taken until the next call carry it (a `test` and a
 * `group` label in profile.proto, a block in PATH.tests next to a legacy
 * profile). name NULL: no test runs. Cheap when the profiler is off. */
void hs__cpuprof_set_test(const char *group, const char *name);
/* True while a CPU profile is being collected (the adapter only follows
 * test boundaries then). */
bool hs__cpuprof_running(void);

/* The samples of test (group, name) in the profile being collected, for a
 * budget report: up to max distinct leaf pcs (the interrupted pc, exact)
 * with their periods, most first, and in *total the test's periods across
 * all its samples; *period_ns the sampling period. Returns the number of
 * leaves written; 0 with *total 0 when the test has no sample. false when
 * no profile is being collected (or no memory to sum it). Not from a
 * signal handler; waits for a start, stop or flush in progress. */
typedef struct hs_cpu_leaf {
  uintptr_t pc;
  uint64_t periods;
} hs_cpu_leaf_t;
bool hs__cpuprof_test_leaves(const char *group, const char *name, hs_cpu_leaf_t *out,
                             size_t max, size_t *n, uint64_t *total, uint64_t *period_ns);

/* Writes the samples of test (group, name) in the profile being collected
 * to path, as a legacy CPU profile: 1 written, 0 none (no profile, or the
 * test has no sample: too short to be sampled), -1 with errno on failure. */
int hs__cpuprof_write_test(const char *group, const char *name, const char *path);

/* The per-test label registry's lock, for the fork handlers
 * (core/api/runtime.c). */
extern hs_lock_t *const hs__cpuprof_tests_lock;
/* Fork: the child drops the parent's profile and starts its own,
 * PATH_<pid>, when the parent was profiling. */
void hs__cpuprof_postfork_child(void);
/* The per-thread sampling slots (~5 MB, zero until used): never leak-check
 * roots (core/api/runtime.c lists them among the runtime's tables). */
extern const hs_range_t hs__cp_slots_range;

/* The calling thread's stack as the SIGPROF handler walks it: no lock, no
 * allocation, no system call, safe in any signal handler. With uc (a
 * handler's ucontext): from the interrupted pc. Without: from the caller of
 * the function that called this one, skip frames more dropped. gperftools'
 * ProfilerGetStackTrace and stacktrace.h's *WithContext calls. */
int hs__cp_stack_trace(void **result, int max_depth, int skip, const void *uc);

#endif
