/* gperftools' allocator variables (TCMALLOC_*, MALLOCSTATS, PERFTOOLS_*)
 * and the heap checker's and profiler's variables heapscope has no use for:
 * what maps onto heapscope's design is applied here, at start-up (the
 * runtime's constructor); everything else gets one heapscope: line saying
 * it is ignored and why, so a gperftools user never wonders whether a knob
 * took. The variables that do map are listed in docs/gperftools.md. */
#include "core/api/runtime.h"

#include "core/base/settings.h"

#include <gperftools/malloc_extension_c.h>
#include <stdlib.h>
#include <string.h>

/* ---- TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD --------------------------------
 * tcmalloc prints a stack for each allocation at or over the threshold and
 * raises the threshold by 1/8 each time, so the log stays bounded. Here it
 * is a new hook (core/record/hooks.c): the check costs nothing unless the
 * variable is set. */
static _Atomic size_t large_threshold;

static void large_alloc_hook(const void *p, size_t n) {
  size_t t = atomic_load_explicit(&large_threshold, memory_order_relaxed);
  if (!t || n < t) return;
  size_t next = t + t / 8;
  if (!atomic_compare_exchange_strong(&large_threshold, &t, next)) return; /* another thread printed */
  void *pcs[32];
  int depth = hs__hooks_caller_stack(pcs, 32, 0, NULL);
  char line[1024];
  int len = hs__snprintf(line, sizeof line, "heapscope: large alloc %zu bytes == %p @", n, p);
  for (int i = 0; i < depth && len > 0 && (size_t)len < sizeof line - 24; i++)
    len += hs__snprintf(line + len, sizeof line - (size_t)len, " %p", pcs[i]);
  if (len > 0 && (size_t)len < sizeof line - 1) {
    line[len++] = '\n';
    hs__write_all(2, line, (size_t)len);
  }
}

/* ---- MALLOCSTATS ----------------------------------------------------------- */
static void print_stats_at_exit(void) {
  char buf[4096];
  MallocExtension_GetStats(buf, sizeof buf);
  hs__write_all(2, buf, strlen(buf));
}

/* ---- TCMALLOC_RELEASE_RATE: a decimal number >= 0 --------------------------- */
static void apply_release_rate(void) {
  const char *v = hs__setting_str(HS_SET_TCMALLOC_RELEASE_RATE);
  if (!v) return;
  char *end;
  double rate = strtod(v, &end);
  if (end == v || *end || !(rate >= 0) || rate > 1e6) {
    hs__errorf("invalid TCMALLOC_RELEASE_RATE='%s' (expected a number >= 0, e.g. 0, 1.0, 10); "
               "using 1.0", v);
    return;
  }
  hs__alloc_set_release_rate_milli((uint32_t)(rate * 1000.0 + 0.5));
}

/* ---- TCMALLOC_STACKTRACE_METHOD: gperftools' unwinder names ----------------- */
static const char *unwinder_name(int u) {
  return u == HS_UNWIND_FP ? "fp" : u == HS_UNWIND_LIBUNWIND ? "libunwind" : "auto";
}

static void apply_stacktrace_method(void) {
  const char *m = hs__setting_str(HS_SET_TCMALLOC_STACKTRACE_METHOD);
  if (m) {
    int u;
    if (!strcmp(m, "libunwind")) u = HS_UNWIND_LIBUNWIND;
    else if (!strcmp(m, "generic_fp") || !strcmp(m, "generic_fp_unsafe") || !strcmp(m, "x86"))
      u = HS_UNWIND_FP;
    else if (!strcmp(m, "libgcc")) {
      hs__errorf("TCMALLOC_STACKTRACE_METHOD=libgcc: heapscope has no libgcc unwinder; using auto "
                 "(heapscope's own walker of the same .eh_frame CFI)");
      u = HS_UNWIND_AUTO;
    } else {
      hs__errorf("invalid TCMALLOC_STACKTRACE_METHOD='%s' (expected libunwind, generic_fp, "
                 "generic_fp_unsafe, x86 or libgcc); ignored", m);
      u = -1;
    }
    if (u >= 0 && hs__setting_given(HS_SET_HEAPSCOPE_UNWINDER))
      hs__errorf("TCMALLOC_STACKTRACE_METHOD=%s is ignored: HEAPSCOPE_UNWINDER=%s is set", m,
                 hs__setting_str(HS_SET_HEAPSCOPE_UNWINDER));
    else if (u >= 0)
      hs__unwinder = u;
  }
  if (hs__setting_bool(HS_SET_TCMALLOC_STACKTRACE_METHOD_VERBOSE))
    hs__errorf("stack unwinder: %s (supported: auto, fp, libunwind; HEAPSCOPE_UNWINDER)",
               unwinder_name(hs__unwinder));
}

/* ---- variables with no meaning for heapscope: one line each ----------------- */
typedef struct ignored {
  hs_setting_id_t id;
  const char *why;
} ignored_t;

static const ignored_t always_ignored[] = {
    {HS_SET_HEAP_CHECK_MAX_POINTER_OFFSET,
     "heapscope follows pointers to any byte of a block"},
    {HS_SET_HEAP_PROFILE_CLEANUP, "heapscope never deletes profiles"},
    {HS_SET_TCMALLOC_TRANSFER_NUM_OBJ, "heapscope sizes its transfer batches per size class"},
    {HS_SET_TCMALLOC_DEVMEM_START, "heapscope has no /dev/mem allocator"},
    {HS_SET_TCMALLOC_DEVMEM_LIMIT, "heapscope has no /dev/mem allocator"},
    {HS_SET_TCMALLOC_DEVMEM_DEVICE, "heapscope has no /dev/mem allocator"},
    {HS_SET_TCMALLOC_MEMFS_MALLOC_PATH, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MEMFS_LIMIT_MB, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MEMFS_ABORT_ON_FAIL, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MEMFS_IGNORE_MMAP_FAIL, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MEMFS_MAP_PRIVATE, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MEMFS_DISABLE_FALLBACK, "heapscope has no hugetlbfs allocator"},
    {HS_SET_TCMALLOC_MAX_FREE_QUEUE_SIZE, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_PAGE_FENCE, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_PAGE_FENCE_NEVER_RECLAIM, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_PAGE_FENCE_READABLE, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_RECLAIM_MEMORY, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_SYMBOLIZE_STACKTRACE, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_TRACE, "a knob of gperftools' debug allocator"},
    {HS_SET_TCMALLOC_TRACE_FILE, "a knob of gperftools' debug allocator"},
};

static void say_ignored(hs_setting_id_t id, const char *name, const char *why) {
  const char *v = hs__setting_str(id); /* NULL for numbers and booleans */
  if (v) hs__errorf("%s=%s is ignored: %s", name, v, why);
  else hs__errorf("%s=%lld is ignored: %s", name, hs__setting_int(id), why);
}

#define SAY_IGNORED(id_suffix, why) say_ignored(HS_SET_##id_suffix, #id_suffix, why)

/* Settings names, for the messages (the table has them; the runtime keeps
 * only ids). */
static const char *const setting_names[HS_SET_COUNT] = {
#define HS_SETTING(name, kind, dflt, min, max, help) #name,
#include "core/base/settings.def"
#undef HS_SETTING
};

static void report_ignored(void) {
  for (size_t i = 0; i < sizeof always_ignored / sizeof always_ignored[0]; i++)
    if (hs__setting_given(always_ignored[i].id))
      say_ignored(always_ignored[i].id, setting_names[always_ignored[i].id], always_ignored[i].why);
  /* Ignored only in the sense gperftools differs: the value heapscope
   * always has is accepted silently. */
  if (hs__setting_given(HS_SET_HEAP_CHECK_AFTER_DESTRUCTORS) &&
      !hs__setting_bool(HS_SET_HEAP_CHECK_AFTER_DESTRUCTORS))
    SAY_IGNORED(HEAP_CHECK_AFTER_DESTRUCTORS, "heapscope always checks after global destructors");
  if (hs__setting_bool(HS_SET_HEAP_CHECK_TEST_POINTER_ALIGNMENT))
    SAY_IGNORED(HEAP_CHECK_TEST_POINTER_ALIGNMENT,
                "heapscope reads pointers from aligned words only");
  if (hs__setting_given(HS_SET_HEAP_CHECK_POINTER_SOURCE_ALIGNMENT) &&
      hs__setting_int(HS_SET_HEAP_CHECK_POINTER_SOURCE_ALIGNMENT) != (long long)sizeof(void *))
    SAY_IGNORED(HEAP_CHECK_POINTER_SOURCE_ALIGNMENT, "heapscope scans every 8-byte word");
  if (hs__setting_given(HS_SET_HEAP_CHECK_RUN_UNDER_GDB) &&
      !hs__setting_bool(HS_SET_HEAP_CHECK_RUN_UNDER_GDB))
    SAY_IGNORED(HEAP_CHECK_RUN_UNDER_GDB, "heapscope checks under debuggers too");
  if (hs__setting_bool(HS_SET_TCMALLOC_SKIP_MMAP))
    SAY_IGNORED(TCMALLOC_SKIP_MMAP, "mmap is heapscope's only source of memory");
  bool checking = hs__setting_given(HS_SET_HEAPCHECK);
  bool profiling = hs__setting_given(HS_SET_HEAPPROFILE);
  if (checking && hs__setting_given(HS_SET_PPROF_PATH))
    SAY_IGNORED(PPROF_PATH, "heapscope symbolizes in-process");
  if ((checking || profiling) && hs__setting_given(HS_SET_PERFTOOLS_VERBOSE))
    SAY_IGNORED(PERFTOOLS_VERBOSE, "heapscope prints errors and what it writes, nothing else");
}

void hs__gperftools_env_init(void) {
  if (hs__settings_secure()) return; /* every variable is ignored (said once) */
  apply_release_rate();
  if (hs__setting_bool(HS_SET_TCMALLOC_DISABLE_MEMORY_RELEASE))
    hs__alloc_set_release_rate_milli(0);
  if (hs__setting_bool(HS_SET_TCMALLOC_AGGRESSIVE_DECOMMIT)) hs__alloc_set_aggressive_decommit(true);
  if (hs__setting_given(HS_SET_TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES))
    MallocExtension_SetNumericProperty(
        "tcmalloc.max_total_thread_cache_bytes",
        (size_t)hs__setting_int(HS_SET_TCMALLOC_MAX_TOTAL_THREAD_CACHE_BYTES));
  if (hs__setting_given(HS_SET_TCMALLOC_HEAP_LIMIT_MB))
    hs__alloc_set_heap_limit((size_t)hs__setting_int(HS_SET_TCMALLOC_HEAP_LIMIT_MB) << 20);
  /* TCMALLOC_SAMPLE_PARAMETER: sampled records for GetHeapSample, unless
   * every allocation is recorded already (HEAPCHECK, HEAPPROFILE), which
   * GetHeapSample then reports instead. */
  long long sample = hs__setting_int(HS_SET_TCMALLOC_SAMPLE_PARAMETER);
  if (sample > 0 && !atomic_load(&hs__recording)) hs__recording_start_sampled(sample);
  long long large = hs__setting_int(HS_SET_TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD);
  if (large > 0) {
    atomic_store(&large_threshold, (size_t)large);
    if (!hs__hook_add(HS_HOOK_NEW, (void *)large_alloc_hook))
      hs__errorf("TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD: no hook slot left; ignored");
  }
  apply_stacktrace_method();
  if (hs__setting_int(HS_SET_MALLOCSTATS) > 0) atexit(print_stats_at_exit);
  report_ignored();
}
