/* gperftools-compatible CPU profiler API (same names, structures and
 * semantics as gperftools' profiler.h), implemented by libheapscope.
 *
 * Usually no code is needed: CPUPROFILE=prof.out ./prog (with the runtime
 * preloaded or linked) profiles the whole run. These functions profile a
 * region, or several into different files. Profiles are gperftools' legacy
 * binary CPU format (go tool pprof and gperftools' pprof read it), or a
 * self-symbolized profile.proto with HEAPSCOPE_PROFILE_FORMAT=proto.
 *
 * Every thread is sampled on its own CPU clock from the moment it exists
 * (no ProfilerRegisterThread needed). The functions are thread-safe; none
 * may be called from a signal handler except ProfilerGetStackTrace. */
#ifndef HEAPSCOPE_GPERFTOOLS_PROFILER_H
#define HEAPSCOPE_GPERFTOOLS_PROFILER_H

#include <time.h> /* time_t */

#ifdef __cplusplus
extern "C" {
#endif

/* Options for ProfilerStartWithOptions; zero every field you do not set. */
struct ProfilerOptions {
  /* When not NULL, called in the profiling signal handler on the sampled
   * thread with filter_in_thread_arg; a zero return drops the sample. It
   * runs inside a signal handler: async-signal-safe code only. */
  int (*filter_in_thread)(void *arg);
  void *filter_in_thread_arg;
};

/* Starts profiling into fname (replacing the file). Returns nonzero on
 * success; 0 when a profile is already being collected (that one goes on
 * and fname is not touched), when fname is NULL or empty, when the file
 * cannot be created, or when the program handles the profiling signal
 * itself (one heapscope: line says why). Same as
 * ProfilerStartWithOptions(fname, NULL). */
int ProfilerStart(const char *fname);
int ProfilerStartWithOptions(const char *fname, const struct ProfilerOptions *options);

/* Stops profiling, deletes every timer and writes the profile. A later
 * ProfilerStart starts a new profile. No effect when not profiling. */
void ProfilerStop(void);

/* Samples reach the file as they are taken; this brings its module list
 * up to date (so pprof can name everything loaded since) and rewrites
 * fname.tests. The file stays readable by pprof at every moment, also
 * while profiling goes on. No effect when not profiling. */
void ProfilerFlush(void);

/* Deprecated, as in gperftools: they do nothing. */
void ProfilerEnable(void);
void ProfilerDisable(void);

/* Nonzero while a profile is being collected. */
int ProfilingIsEnabledForAllThreads(void);

/* Every thread is registered automatically; this registers the calling
 * thread when it was made without pthread_create (a raw clone). */
void ProfilerRegisterThread(void);

struct ProfilerState {
  int enabled;             /* a profile is being collected */
  time_t start_time;       /* when it started */
  char profile_name[1024]; /* its file, or "" */
  int samples_gathered;    /* samples so far, in sampling periods */
};
/* Fills *state (all zero when not profiling). */
void ProfilerGetCurrentState(struct ProfilerState *state);

/* The stack as return addresses into result[0..max_depth), for a program's
 * own profiling signal handler: with uc (its ucontext_t *), result[0] is
 * the interrupted pc and the frames follow it (skip_count is not applied,
 * as in gperftools' frame-pointer unwinder); with uc NULL, the stack of
 * the caller, result[0] in the caller, after skipping skip_count frames.
 * Frame pointers, every read inside the thread's stack. Returns the number
 * stored. Async-signal-safe. */
int ProfilerGetStackTrace(void **result, int max_depth, int skip_count, const void *uc);

#ifdef __cplusplus
}
#endif
#endif
