/* heapscope: public C API of the runtime (libheapscope).
 *
 * Error convention: functions returning int return 0 on success or a
 * negative errno value; functions returning pointers return NULL when there
 * is nothing to return (documented per function). None of them may be called
 * from a signal handler.
 */
#ifndef HEAPSCOPE_HEAPSCOPE_H
#define HEAPSCOPE_HEAPSCOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HEAPSCOPE_BUILDING)
#define HEAPSCOPE_API __attribute__((visibility("default")))
#else
#define HEAPSCOPE_API
#endif

/* The pointer argument i is only an address, never read through (GCC
 * would otherwise warn when it points to memory not yet written). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define HEAPSCOPE_ADDRESS_ONLY(i) __attribute__((access(none, i)))
#else
#define HEAPSCOPE_ADDRESS_ONLY(i)
#endif

/* ---- modes (gperftools' names) ------------------------------------------- */
typedef enum heapscope_mode {
  HEAPSCOPE_MODE_OFF = 0,
  HEAPSCOPE_MODE_MINIMAL,   /* like normal; pre-main allocations never count */
  HEAPSCOPE_MODE_NORMAL,    /* unreachable live objects are leaks */
  HEAPSCOPE_MODE_STRICT,    /* normal, checked after global destructors */
  HEAPSCOPE_MODE_DRACONIAN, /* every live object is a leak (unless ignored) */
  HEAPSCOPE_MODE_AS_IS,     /* normal, with HEAP_CHECK_* knobs as given */
  HEAPSCOPE_MODE_LOCAL      /* explicit checks only; no exit-time check */
} heapscope_mode_t;

/* Parse "minimal", "normal", "strict", "draconian", "as-is", "local" (also
 * "1"/"true" = normal). Returns 0, or -EINVAL for anything else. */
HEAPSCOPE_API int heapscope_parse_mode(const char *name, heapscope_mode_t *out);
HEAPSCOPE_API const char *heapscope_mode_name(heapscope_mode_t mode);

/* Non-zero when allocations are being recorded (HEAPCHECK, HEAPPROFILE, or
 * heapscope_start_recording). Leak checks need recording. */
HEAPSCOPE_API int heapscope_is_recording(void);
/* Turn recording on from code. Objects allocated before stay unrecorded
 * (they are scanned for pointers but never reported). Returns 0. */
HEAPSCOPE_API int heapscope_start_recording(void);

/* ---- snapshot / diff ------------------------------------------------------ */
typedef struct heapscope_snapshot {
  uint32_t generation; /* objects born in this generation or later are new */
  uint32_t reserved;
} heapscope_snapshot_t;

/* Start a new generation; objects allocated from now on belong to it. */
HEAPSCOPE_API heapscope_snapshot_t heapscope_snapshot(void);

typedef struct heapscope_leak_group {
  int direct;                /* 1: no leaked object points to these */
  size_t bytes;
  size_t objects;
  size_t depth;              /* frames in pcs, caller of malloc first */
  const uintptr_t *pcs;      /* return addresses */
} heapscope_leak_group_t;

typedef struct heapscope_leaks {
  size_t bytes, objects;                 /* totals (direct + indirect) */
  size_t direct_bytes, direct_objects;
  size_t indirect_bytes, indirect_objects;
  size_t group_count;
  heapscope_leak_group_t *groups;        /* largest bytes first */
} heapscope_leaks_t;

/* Leaks among the objects allocated since snapshot s and still live, under
 * mode (NORMAL/STRICT/MINIMAL/AS_IS: only unreachable ones; DRACONIAN: every
 * one not ignored). Returns 0 and sets *leaks: NULL when there are none
 * (that answer costs time proportional to what was allocated since s, not to
 * the heap), else a result the caller frees with heapscope_leaks_free.
 * Returns a negative errno value, with *leaks NULL, when the check could not
 * give a verdict; NULL must then not be taken for "no leaks":
 *   -ENOSYS  recording is off (no HEAPCHECK or HEAPPROFILE, and
 *            heapscope_start_recording() was not called)
 *   -EAGAIN  some threads could not be paused (they block the stop signal
 *            while running, or do not respond), so their stacks were not
 *            scanned, and leaks were found that those stacks might reach
 *   -ENOMEM  out of memory during the check
 *   -EINVAL  s or leaks is NULL
 * heapscope_strerror() names them. */
HEAPSCOPE_API int heapscope_check_since(const heapscope_snapshot_t *s, heapscope_mode_t mode,
                                        heapscope_leaks_t **leaks);
/* The whole-program check (every live recorded object), same contract. */
HEAPSCOPE_API int heapscope_check_all(heapscope_mode_t mode, heapscope_leaks_t **leaks);
/* What a negative result of the functions here means (a static string). */
HEAPSCOPE_API const char *heapscope_strerror(int err);

/* The simple forms: the leaks, or NULL when there are none. When the check
 * could not give a verdict they return NULL too, and print one line
 * "heapscope: leak check could not be completed: REASON" on stderr. */
HEAPSCOPE_API heapscope_leaks_t *heapscope_leaks_since(const heapscope_snapshot_t *s,
                                                       heapscope_mode_t mode);
HEAPSCOPE_API heapscope_leaks_t *heapscope_leaks_all(heapscope_mode_t mode);
/* The symbolized LeakSanitizer-shaped report ("Direct leak of N byte(s) in M
 * object(s) allocated from:" blocks, then "SUMMARY: heapscope: ..."). The
 * string belongs to l. */
HEAPSCOPE_API const char *heapscope_leaks_report(heapscope_leaks_t *l);
/* Write the report to fd. Returns 0 or -errno. */
HEAPSCOPE_API int heapscope_leaks_print(heapscope_leaks_t *l, int fd);
HEAPSCOPE_API void heapscope_leaks_free(heapscope_leaks_t *l);
/* Mark every object of l as reported, so later checks (another test's, or
 * the exit-time check) do not report the same leak again. Unlike
 * heapscope_ignore_object, they do not become roots: what they point to is
 * not kept alive by them. */
HEAPSCOPE_API void heapscope_leaks_ignore(heapscope_leaks_t *l);

/* ---- controls ------------------------------------------------------------- */
/* The heap block p points to (its start or any byte inside) and everything
 * reachable from it are never leaks. Returns p, so
 * `static T *t = heapscope_ignore_object(malloc(..))` works. */
HEAPSCOPE_API void *heapscope_ignore_object(const void *p) HEAPSCOPE_ADDRESS_ONLY(1);
HEAPSCOPE_API void heapscope_unignore_object(const void *p) HEAPSCOPE_ADDRESS_ONLY(1);
/* Between disable and enable (per thread, nestable), allocations are treated
 * as ignored objects: deliberately kept memory. */
HEAPSCOPE_API void heapscope_disable(void);
HEAPSCOPE_API void heapscope_enable(void);

/* Run the whole-program check now and report (as at exit). Returns the number
 * of leaked objects (0 = clean), or a negative errno value when the check
 * could not give a verdict (see heapscope_check_since; a line on stderr
 * says why). */
HEAPSCOPE_API long heapscope_check_now(void);

/* Heap profiler controls: the heapscope_ spellings of gperftools'
 * HeapProfilerStart/Stop/Dump (<gperftools/heap-profiler.h>). Profiles go to
 * PREFIX.NNNN.heap, as with HEAPPROFILE=PREFIX. */
HEAPSCOPE_API void heapscope_profiler_start(const char *prefix);
HEAPSCOPE_API void heapscope_profiler_stop(void);
HEAPSCOPE_API void heapscope_profiler_dump(const char *reason);
/* Names the test that runs now, for test harnesses other than CMocka (whose
 * tests heapscope follows itself), as heapscope_cpu_profiler_set_test does
 * for CPU samples: the blocks allocated from this call to the next (any
 * thread) are the test's, and stay its when freed later. Each dump then
 * splits by test (labels test and group in profile.proto; PATH.tests beside
 * a legacy dump; `heapscope report --test=NAME`, `--tests`). name NULL: no
 * test runs. Does nothing while no heap profile is being taken; call it
 * after heapscope_profiler_start (or with HEAPPROFILE set). A harness that
 * wants both profiles split calls both. */
HEAPSCOPE_API void heapscope_profiler_set_test(const char *group, const char *name);

/* CPU profiler controls: the heapscope_ spellings of gperftools'
 * ProfilerStart/Stop/Flush (<gperftools/profiler.h>), as CPUPROFILE=PATH.
 * start returns 0, or -EINVAL when a profile is already being collected
 * or PATH cannot be written (a heapscope: line says which). */
HEAPSCOPE_API int heapscope_cpu_profiler_start(const char *path);
HEAPSCOPE_API void heapscope_cpu_profiler_stop(void);
HEAPSCOPE_API void heapscope_cpu_profiler_flush(void);
/* Names the test that runs now, for test harnesses other than CMocka (whose
 * tests heapscope follows itself): samples taken until the next call carry
 * it (labels test and group in profile.proto; PATH.tests beside a legacy
 * profile). name NULL: no test runs. The heap profile's counterpart is
 * heapscope_profiler_set_test. */
HEAPSCOPE_API void heapscope_cpu_profiler_set_test(const char *group, const char *name);

/* Symbolize one return address into buf as "FUNCTION FILE:LINE" (or the
 * module+offset when unknown). Returns 0 or -errno. */
HEAPSCOPE_API int heapscope_symbolize(uintptr_t pc, char *buf, size_t size);

/* ---- support for the gperftools headers -----------------------------------
 * <gperftools/heap-checker.h>, <gperftools/malloc_extension.h> and
 * <gperftools/malloc_hook.h> are header-only C++ over these and the
 * functions above (docs/gperftools.md). */

/* The HEAPCHECK mode the process runs in (HEAPSCOPE_MODE_OFF when unset). */
HEAPSCOPE_API heapscope_mode_t heapscope_check_mode(void);
/* No whole-program check at exit (HeapLeakChecker::CancelGlobalCheck). */
HEAPSCOPE_API void heapscope_cancel_exit_check(void);
/* Report l as the leaks of the check named check_name, where the leak
 * reports go (stderr, HEAPSCOPE_LOG_PATH, JSON...): first gperftools' line
 * "Leak check NAME detected leaks of N bytes in M objects", then the
 * report; with HEAP_CHECK_DUMP_DIRECTORY also the leaks as a heap profile
 * DIR/PROG.PID.NAME-end.heap. Returns 0. */
HEAPSCOPE_API int heapscope_leaks_emit(heapscope_leaks_t *l, const char *check_name);

/* GetHeapProfile() with its length in *len (with HEAPSCOPE_PROFILE_FORMAT=
 * proto the profile is binary). The caller frees it with free(). */
HEAPSCOPE_API char *heapscope_heap_profile(size_t *len);
/* The live recorded objects by allocation stack, as a heap profile (text),
 * sampled ones scaled back to estimates (MallocExtension::GetHeapSample).
 * Empty (and one heapscope: line) when nothing is recorded. free() it. */
HEAPSCOPE_API char *heapscope_heap_sample(size_t *len);

/* MallocHook kinds, in the order of <gperftools/malloc_hook_c.h>. */
enum heapscope_hook_kind {
  HEAPSCOPE_HOOK_NEW, HEAPSCOPE_HOOK_DELETE, HEAPSCOPE_HOOK_PRE_MMAP, HEAPSCOPE_HOOK_MMAP,
  HEAPSCOPE_HOOK_MUNMAP, HEAPSCOPE_HOOK_MREMAP, HEAPSCOPE_HOOK_PRE_SBRK, HEAPSCOPE_HOOK_SBRK,
  HEAPSCOPE_HOOK_MMAP_REPLACEMENT, HEAPSCOPE_HOOK_MUNMAP_REPLACEMENT
};
/* Arguments of a hook call; each kind reads the fields its hook takes:
 * new (result=ptr, size), delete (result=ptr), pre-mmap (start, size, prot,
 * flags, fd, offset), mmap (result and those), munmap (start, size), mremap
 * (result, start=old, size=old size, new_size, flags, new_addr), pre-sbrk
 * (increment), sbrk (result, increment), the replacements (as mmap and
 * munmap, with out_result / out_int). */
typedef struct heapscope_hook_args {
  const void *result, *start, *new_addr;
  size_t size, new_size;
  int prot, flags, fd;
  int64_t offset;
  ptrdiff_t increment;
  void **out_result;
  int *out_int;
} heapscope_hook_args_t;
/* Runs the installed hooks of kind (MallocHook::Invoke*Hook); for a
 * replacement, returns 1 when it handled the call. */
HEAPSCOPE_API int heapscope_malloc_hook_invoke(int kind, const heapscope_hook_args_t *args);
/* The hook of kind set by the deprecated MallocHook_Set*Hook, or NULL. */
HEAPSCOPE_API void *heapscope_malloc_hook_get(int kind);
/* mmap and munmap without hooks or profiling; the replacements still apply
 * (MallocHook::UnhookedMMap/UnhookedMUnmap). */
HEAPSCOPE_API void *heapscope_mmap_unhooked(void *addr, size_t length, int prot, int flags,
                                            int fd, int64_t offset);
HEAPSCOPE_API int heapscope_munmap_unhooked(void *addr, size_t length);

#ifdef __cplusplus
}
#endif
#endif
