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

/* The per-test label registry's lock, for the fork handlers
 * (core/api/runtime.c). */
extern hs_lock_t *const hs__cpuprof_tests_lock;
/* Fork: the child drops the parent's profile and starts its own,
 * PATH_<pid>, when the parent was profiling. */
void hs__cpuprof_postfork_child(void);

#endif
