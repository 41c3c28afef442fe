/* A gperftools-using C program: every C header of gperftools 2.10 and
 * every function they declare, compiled against heapscope's installed
 * headers and linked with libheapscope alone (tests/gperftools/compat.py
 * builds and runs it). argv[1] picks what to exercise; each part checks
 * behaviour, not just linking, and prints "ok PART".
 *
 *   all         every function, with the hooks, tc_*, nallocx, stack
 *               traces, MallocExtension_* and heap profiler checks
 *   forksignal PREFIX  HEAPPROFILESIGNAL in a forked child and its parent
 *   wait PREFIX print "ready", block until stdin has a line (the driver
 *               sends HEAPPROFILESIGNAL meanwhile), then "alive"
 *   proto       GetHeapProfile in proto mode (binary, heapscope_heap_profile)
 *   large       allocations over TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD
 *   heaplimit   TCMALLOC_HEAP_LIMIT_MB=64
 *   release MIB [RATE_MILLI]  free a block of MIB MiB, print the page
 *               heap's free bytes then and later (TCMALLOC_RELEASE_RATE,
 *               ..._AGGRESSIVE_DECOMMIT, SetMemoryReleaseRate at run time)
 *   mmaps       one malloc and one mmap under HEAPPROFILE (ONLY_MMAP, MMAP_LOG)
 *   props       print properties the environment sets
 *   exit        return 0 (for the variables' messages and MALLOCSTATS) */
#define _GNU_SOURCE
#include <gperftools/heap-profiler.h>
#include <gperftools/malloc_extension_c.h>
#include <gperftools/malloc_hook_c.h>
#include <gperftools/nallocx.h>
#include <gperftools/profiler.h>
#include <gperftools/stacktrace.h>
#include <gperftools/tcmalloc.h>
#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
      exit(1);                                             \
    }                                                      \
  } while (0)

static void *volatile sink;
void *profiled_alloc(void);

/* The function pc lies in (the program is linked with -rdynamic). */
static const char *fn_of(const void *pc) {
  Dl_info info;
  if (!pc || !dladdr((const char *)pc - 1, &info) || !info.dli_sname) return "?";
  return info.dli_sname;
}

/* ---- hooks -------------------------------------------------------------
 * volatile: the compiler assumes malloc calls no program code, so it would
 * keep these in registers across the calls that run the hooks. */
static volatile struct {
  int news, deletes;
  const void *last_new, *last_delete;
  size_t last_size;
  const void *caller_pc;
} seen;
static volatile int other_news;

static void new_hook(const void *p, size_t n) {
  seen.news++;
  seen.last_new = p;
  seen.last_size = n;
  void *pcs[8];
  int d = MallocHook_GetCallerStackTrace(pcs, 8, 0);
  seen.caller_pc = d > 0 ? pcs[0] : NULL;
  sink = malloc(16); /* a hook's own allocation: allocated, but no hook runs */
  free(sink);
}
static void delete_hook(const void *p) {
  seen.deletes++;
  seen.last_delete = p;
}
static void other_new_hook(const void *p, size_t n) { other_news++; }
static int h_calls[8]; /* calls of h1..h7 */
static void h1(const void *p, size_t n) { h_calls[1]++; }
static void h2(const void *p, size_t n) { h_calls[2]++; }
static void h3(const void *p, size_t n) { h_calls[3]++; }
static void h4(const void *p, size_t n) { h_calls[4]++; }
static void h5(const void *p, size_t n) { h_calls[5]++; }
static void h6(const void *p, size_t n) { h_calls[6]++; }
static void h7(const void *p, size_t n) { h_calls[7]++; }
static void malloc_one(void) {
  sink = malloc(10);
  free(sink);
}

NOINLINE void *hooked_caller(size_t n) { return malloc(n); }

static volatile struct {
  int pre_mmap, mmap, munmap, mremap, pre_sbrk, sbrk, replaced;
  const void *mmap_result;
  size_t munmap_size;
} mm;
static void pre_mmap_hook(const void *start, size_t size, int prot, int flags, int fd, off_t off) {
  mm.pre_mmap++;
}
static void mmap_hook(const void *result, const void *start, size_t size, int prot, int flags,
                      int fd, off_t off) {
  mm.mmap++;
  mm.mmap_result = result;
}
static void munmap_hook(const void *p, size_t size) {
  mm.munmap++;
  mm.munmap_size = size;
}
static void mremap_hook(const void *result, const void *old, size_t old_size, size_t new_size,
                        int flags, const void *new_addr) {
  mm.mremap++;
}
static void pre_sbrk_hook(ptrdiff_t inc) { mm.pre_sbrk++; }
static void sbrk_hook(const void *result, ptrdiff_t inc) { mm.sbrk++; }
static char replacement_area[4096] __attribute__((aligned(4096)));
static int mmap_replacement(const void *start, size_t size, int prot, int flags, int fd,
                            off_t off, void **result) {
  if (size != 12345) return 0;
  mm.replaced++;
  *result = replacement_area;
  return 1;
}
static int munmap_replacement(const void *p, size_t size, int *result) {
  if (p != replacement_area) return 0;
  mm.replaced++;
  *result = 0;
  return 1;
}

static void check_hooks(void) {
  CHECK(MallocHook_AddNewHook(new_hook), "AddNewHook");
  CHECK(MallocHook_AddDeleteHook(delete_hook), "AddDeleteHook");
  CHECK(!MallocHook_AddNewHook(NULL), "AddNewHook(NULL) must fail");
  memset((void *)&seen, 0, sizeof seen);
  void *p = hooked_caller(1234);
  CHECK(seen.news == 1 && seen.last_new == p && seen.last_size == 1234,
        "new hook: %d calls, %p/%zu for %p/1234", seen.news, seen.last_new, seen.last_size, p);
  CHECK(!strcmp(fn_of(seen.caller_pc), "hooked_caller"),
        "GetCallerStackTrace in the hook: frame 0 in %s, expected hooked_caller",
        fn_of(seen.caller_pc));
  free(p);
  CHECK(seen.deletes == 1 && seen.last_delete == p, "delete hook: %d calls", seen.deletes);
  /* calloc, realloc, memalign, tc_* and the C++ names all go through it. */
  memset((void *)&seen, 0, sizeof seen);
  p = calloc(10, 10);
  CHECK(seen.news == 1 && seen.last_size == 100, "calloc: %d/%zu", seen.news, seen.last_size);
  void *q = realloc(p, 5000);
  CHECK(seen.deletes == 1 && seen.last_delete == p && seen.news == 2 && seen.last_new == q &&
            seen.last_size == 5000,
        "realloc: delete %d (%p) new %d (%p, %zu)", seen.deletes, seen.last_delete, seen.news,
        seen.last_new, seen.last_size);
  free(q);
  p = tc_malloc(77);
  CHECK(seen.last_new == p && seen.last_size == 77, "tc_malloc not hooked");
  tc_free(p);
  CHECK(seen.last_delete == p, "tc_free not hooked");
  void *al = NULL;
  CHECK(posix_memalign(&al, 256, 300) == 0 && seen.last_new == al, "posix_memalign not hooked");
  free(al);
  /* Up to 7 hooks of a kind; removing one not installed fails. */
  CHECK(MallocHook_AddNewHook(h1) && MallocHook_AddNewHook(h2) && MallocHook_AddNewHook(h3) &&
            MallocHook_AddNewHook(h4) && MallocHook_AddNewHook(h5) && MallocHook_AddNewHook(h6),
        "7 new hooks");
  CHECK(!MallocHook_AddNewHook(h7), "an 8th new hook must fail");
  memset(h_calls, 0, sizeof h_calls);
  malloc_one();
  CHECK(h_calls[1] == 1 && h_calls[2] == 1 && h_calls[3] == 1 && h_calls[4] == 1 &&
            h_calls[5] == 1 && h_calls[6] == 1 && h_calls[7] == 0,
        "each of 7 new hooks runs once");
  /* A slot freed in the middle is reused, and only installed hooks run. */
  CHECK(MallocHook_RemoveNewHook(h3) && MallocHook_AddNewHook(h7), "reuse a freed slot");
  memset(h_calls, 0, sizeof h_calls);
  malloc_one();
  CHECK(h_calls[3] == 0 && h_calls[7] == 1 && h_calls[1] == 1 && h_calls[6] == 1,
        "after removing h3 and adding h7: h3 %d, h7 %d", h_calls[3], h_calls[7]);
  CHECK(MallocHook_RemoveNewHook(h6) && !MallocHook_RemoveNewHook(h6), "remove twice");
  MallocHook_RemoveNewHook(h1), MallocHook_RemoveNewHook(h2), MallocHook_RemoveNewHook(h7);
  MallocHook_RemoveNewHook(h4), MallocHook_RemoveNewHook(h5);
  memset(h_calls, 0, sizeof h_calls);
  malloc_one();
  CHECK(!h_calls[1] && !h_calls[2] && !h_calls[4] && !h_calls[5] && !h_calls[6] && !h_calls[7],
        "removed hooks ran");
  /* The deprecated singular hook: Set returns the previous one. */
  CHECK(MallocHook_SetNewHook(other_new_hook) == NULL, "SetNewHook: previous");
  sink = malloc(10);
  free(sink);
  CHECK(other_news == 1, "singular new hook: %d calls", other_news);
  CHECK(MallocHook_SetNewHook(NULL) == other_new_hook, "SetNewHook(NULL): previous");
  CHECK(MallocHook_SetDeleteHook(NULL) == NULL, "SetDeleteHook");
  CHECK(MallocHook_RemoveNewHook(new_hook) && MallocHook_RemoveDeleteHook(delete_hook), "remove");
  memset((void *)&seen, 0, sizeof seen);
  sink = malloc(10);
  free(sink);
  CHECK(seen.news == 0 && seen.deletes == 0, "hooks ran after removal");

  /* mmap family. */
  CHECK(MallocHook_AddPreMmapHook(pre_mmap_hook) && MallocHook_AddMmapHook(mmap_hook) &&
            MallocHook_AddMunmapHook(munmap_hook) && MallocHook_AddMremapHook(mremap_hook) &&
            MallocHook_AddPreSbrkHook(pre_sbrk_hook) && MallocHook_AddSbrkHook(sbrk_hook),
        "mmap-family hooks");
  void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED && mm.pre_mmap == 1 && mm.mmap == 1 && mm.mmap_result == m,
        "mmap hooks: pre %d, post %d", mm.pre_mmap, mm.mmap);
  void *m2 = mremap(m, 65536, 131072, MREMAP_MAYMOVE);
  CHECK(m2 != MAP_FAILED && mm.mremap == 1, "mremap hook: %d", mm.mremap);
  CHECK(munmap(m2, 131072) == 0 && mm.munmap == 1 && mm.munmap_size == 131072, "munmap hook");
  sbrk(0);
  CHECK(mm.pre_sbrk == 0 && mm.sbrk == 0, "sbrk(0) must not run hooks");
  void *brk = sbrk(4096);
  CHECK(brk != (void *)-1 && mm.pre_sbrk == 1 && mm.sbrk == 1, "sbrk hooks: %d/%d", mm.pre_sbrk,
        mm.sbrk);
  sbrk(-4096);
  CHECK(MallocHook_SetMmapReplacement(mmap_replacement), "SetMmapReplacement");
  CHECK(!MallocHook_SetMmapReplacement(mmap_replacement), "a second replacement must fail");
  CHECK(MallocHook_SetMunmapReplacement(munmap_replacement), "SetMunmapReplacement");
  void *r = mmap(NULL, 12345, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(r == replacement_area && mm.replaced == 1, "mmap replacement not used");
  CHECK(munmap(r, 12345) == 0 && mm.replaced == 2, "munmap replacement not used");
  CHECK(MallocHook_RemoveMmapReplacement(mmap_replacement) &&
            MallocHook_RemoveMunmapReplacement(munmap_replacement),
        "remove replacements");
  CHECK(MallocHook_RemovePreMmapHook(pre_mmap_hook) && MallocHook_RemoveMmapHook(mmap_hook) &&
            MallocHook_RemoveMunmapHook(munmap_hook) && MallocHook_RemoveMremapHook(mremap_hook) &&
            MallocHook_RemovePreSbrkHook(pre_sbrk_hook) && MallocHook_RemoveSbrkHook(sbrk_hook),
        "remove mmap-family hooks");
  CHECK(MallocHook_SetPreMmapHook(NULL) == NULL && MallocHook_SetMmapHook(NULL) == NULL &&
            MallocHook_SetMunmapHook(NULL) == NULL && MallocHook_SetMremapHook(NULL) == NULL &&
            MallocHook_SetPreSbrkHook(NULL) == NULL && MallocHook_SetSbrkHook(NULL) == NULL,
        "deprecated Set*Hook");
  int mmaps_before = mm.mmap, munmaps_before = mm.munmap;
  m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(m, 4096);
  CHECK(mm.mmap == mmaps_before && mm.munmap == munmaps_before, "mmap hooks ran after removal");
  printf("ok hooks\n");
}

/* Hooks added and removed while other threads allocate: no crash, no
 * lost or foreign call (every pointer a delete hook sees was allocated). */
#include <pthread.h>
static volatile int stop_threads;
static _Atomic long thread_news, thread_deletes;
static void count_new(const void *p, size_t n) { thread_news++; }
static void count_delete(const void *p) { thread_deletes++; }
static void *churn(void *arg) {
  while (!stop_threads) {
    void *p[16];
    for (int i = 0; i < 16; i++) p[i] = malloc(32 + i * 100);
    for (int i = 0; i < 16; i++) free(p[i]);
  }
  return NULL;
}

static void check_hooks_threads(void) {
  pthread_t t[3];
  for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, churn, NULL);
  for (int round = 0; round < 200; round++) {
    CHECK(MallocHook_AddNewHook(count_new) && MallocHook_AddDeleteHook(count_delete), "add");
    usleep(200);
    CHECK(MallocHook_RemoveNewHook(count_new) && MallocHook_RemoveDeleteHook(count_delete),
          "remove");
  }
  stop_threads = 1;
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  long n = thread_news, d = thread_deletes;
  free(malloc(10));
  CHECK(n > 0 && d > 0 && thread_news == n && thread_deletes == d,
        "hooks while threads allocate: %ld news, %ld deletes, then %ld/%ld", n, d,
        (long)thread_news, (long)thread_deletes);
  printf("ok hooks_threads\n");
}

/* HEAPPROFILESIGNAL in a forked child: the child has a dump thread and a
 * pipe of its own, and dumps to PREFIX_<pid>.0001.heap (argv[2] = PREFIX). */
#include <sys/wait.h>
static int wait_file(const char *path) {
  for (int i = 0; i < 400; i++) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0) return 1;
    usleep(50000);
  }
  return 0;
}

static void fork_signal(const char *prefix) {
  void *keep = profiled_alloc();
  pid_t pid = fork();
  CHECK(pid >= 0, "fork");
  char path[600];
  if (pid == 0) {
    kill(getpid(), SIGUSR2);
    snprintf(path, sizeof path, "%s_%d.0001.heap", prefix, (int)getpid());
    _exit(wait_file(path) ? 0 : 3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's signal dump: status 0x%x",
        status);
  kill(getpid(), SIGUSR2);
  snprintf(path, sizeof path, "%s.0001.heap", prefix);
  CHECK(wait_file(path), "the parent's signal dump %s", path);
  free(keep);
  printf("ok fork_signal\n");
}

/* ---- tc_* and nallocx ---------------------------------------------------- */
static void check_tc(void) {
  int major = 0, minor = 0;
  const char *patch = NULL;
  CHECK(!strcmp(tc_version(&major, &minor, &patch), TC_VERSION_STRING) &&
            major == TC_VERSION_MAJOR && minor == TC_VERSION_MINOR && patch,
        "tc_version");
  char *p = tc_malloc(100);
  CHECK(p && tc_malloc_size(p) >= 100, "tc_malloc");
  memset(p, 1, 100);
  p = tc_realloc(p, 10000);
  CHECK(p && p[99] == 1 && tc_malloc_size(p) >= 10000, "tc_realloc");
  tc_free(p);
  int *z = tc_calloc(100, sizeof(int));
  CHECK(z && z[0] == 0 && z[99] == 0, "tc_calloc");
  tc_cfree(z);
  p = tc_malloc_skip_new_handler(50);
  CHECK(p, "tc_malloc_skip_new_handler");
  tc_free_sized(p, 50);
  p = tc_memalign(4096, 100);
  CHECK(p && ((uintptr_t)p & 4095) == 0, "tc_memalign");
  tc_free(p);
  void *v = NULL;
  CHECK(tc_posix_memalign(&v, 64, 100) == 0 && ((uintptr_t)v & 63) == 0, "tc_posix_memalign");
  tc_free(v);
  CHECK(tc_posix_memalign(&v, 3, 100) == EINVAL, "tc_posix_memalign(3) must be EINVAL");
  long pg = sysconf(_SC_PAGESIZE);
  p = tc_valloc(100);
  CHECK(p && ((uintptr_t)p % (uintptr_t)pg) == 0, "tc_valloc");
  tc_free(p);
  p = tc_pvalloc(100);
  CHECK(p && ((uintptr_t)p % (uintptr_t)pg) == 0 && tc_malloc_size(p) >= (size_t)pg, "tc_pvalloc");
  tc_free(p);
  CHECK(tc_mallopt(1, 1) == 1, "tc_mallopt");
  p = tc_malloc(1 << 20);
  struct mallinfo mi = tc_mallinfo();
  CHECK(mi.uordblks >= (1 << 20), "tc_mallinfo: uordblks %d", mi.uordblks);
  tc_free(p);
  tc_malloc_stats(); /* to stderr */
  CHECK(tc_malloc_size(NULL) == 0, "tc_malloc_size(NULL)");
  /* nallocx is what malloc gives. */
  static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1000, 4097, 100000, 300000, 1 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *b = malloc(sizes[i]);
    CHECK(nallocx(sizes[i], 0) == malloc_usable_size(b) && tc_nallocx(sizes[i], 0) == nallocx(sizes[i], 0),
          "nallocx(%zu) = %zu, malloc gave %zu", sizes[i], nallocx(sizes[i], 0), malloc_usable_size(b));
    free(b);
    for (int lg = 5; lg <= 12; lg++) {
      size_t n = sizes[i] ? sizes[i] : 1;
      void *a = aligned_alloc((size_t)1 << lg, n);
      CHECK(nallocx(n, MALLOCX_LG_ALIGN(lg)) == malloc_usable_size(a),
            "nallocx(%zu, lg %d) = %zu, aligned_alloc gave %zu", n, lg,
            nallocx(n, MALLOCX_LG_ALIGN(lg)), malloc_usable_size(a));
      free(a);
    }
  }
  printf("ok tc\n");
}

/* ---- stacktrace.h -------------------------------------------------------- */
static void *trace[16];
static int sizes_out[16];
static int depth;

NOINLINE void st_leaf(int skip, int frames) {
  memset(trace, 0, sizeof trace);
  if (frames) depth = GetStackFrames(trace, sizes_out, 16, skip);
  else depth = GetStackTrace(trace, 16, skip);
  __asm__ volatile("" ::: "memory");
}
NOINLINE void st_mid(int skip, int frames) {
  st_leaf(skip, frames);
  __asm__ volatile("" ::: "memory");
}
NOINLINE void st_top(int skip, int frames) {
  st_mid(skip, frames);
  __asm__ volatile("" ::: "memory");
}
static void *ctx_trace[16];
static int ctx_depth;
void on_usr1(int sig, siginfo_t *si, void *uc) {
  ctx_depth = GetStackTraceWithContext(ctx_trace, 16, 0, uc);
  int s[16];
  void *t[16];
  if (GetStackFramesWithContext(t, s, 16, 0, uc) <= 0) ctx_depth = -1;
}

static void check_stacktrace(void) {
  st_top(0, 0);
  CHECK(depth >= 3 && !strcmp(fn_of(trace[0]), "st_leaf") && !strcmp(fn_of(trace[1]), "st_mid") &&
            !strcmp(fn_of(trace[2]), "st_top"),
        "GetStackTrace: %d frames %s %s %s", depth, fn_of(trace[0]), fn_of(trace[1]),
        fn_of(trace[2]));
  st_top(1, 0);
  CHECK(depth >= 2 && !strcmp(fn_of(trace[0]), "st_mid"), "skip_count 1: frame 0 in %s",
        fn_of(trace[0]));
  st_top(0, 1);
  CHECK(depth >= 3 && !strcmp(fn_of(trace[0]), "st_leaf") && sizes_out[0] == 0,
        "GetStackFrames: %s, size %d", fn_of(trace[0]), sizes_out[0]);
  int few = GetStackTrace(trace, 2, 0);
  CHECK(few == 2, "max_depth 2 gave %d", few);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  CHECK(ctx_depth > 0 && !strcmp(fn_of(ctx_trace[0]), "on_usr1"),
        "GetStackTraceWithContext in a handler: %d frames, frame 0 in %s", ctx_depth,
        fn_of(ctx_trace[0]));
  signal(SIGUSR1, SIG_DFL);
  printf("ok stacktrace\n");
}

/* ---- MallocExtension_* ------------------------------------------------- */
static size_t prop(const char *name) {
  size_t v = 0;
  CHECK(MallocExtension_GetNumericProperty(name, &v), "property %s unknown", name);
  return v;
}

static void check_malloc_extension(void) {
  static const char *const props[] = {
      "generic.current_allocated_bytes",     "generic.heap_size",
      "generic.total_physical_bytes",        "tcmalloc.pageheap_free_bytes",
      "tcmalloc.pageheap_unmapped_bytes",    "tcmalloc.slack_bytes",
      "tcmalloc.central_cache_free_bytes",   "tcmalloc.transfer_cache_free_bytes",
      "tcmalloc.thread_cache_free_bytes",    "tcmalloc.current_total_thread_cache_bytes",
      "tcmalloc.max_total_thread_cache_bytes", "tcmalloc.aggressive_memory_decommit",
  };
  for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) prop(props[i]);
  size_t dummy;
  CHECK(!MallocExtension_GetNumericProperty("no.such.property", &dummy), "unknown property");
  size_t before = prop("generic.current_allocated_bytes");
  void *big = malloc(8 << 20);
  size_t during = prop("generic.current_allocated_bytes");
  CHECK(during >= before + (8 << 20), "current_allocated_bytes %zu -> %zu", before, during);
  CHECK(prop("generic.heap_size") >= during, "heap_size below allocated");
  /* Writable properties map onto the allocator; read-only ones refuse. */
  CHECK(MallocExtension_SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", 1 << 20) &&
            prop("tcmalloc.max_total_thread_cache_bytes") == 1 << 20 &&
            prop("heapscope.thread_cache_limit_bytes") == 1 << 20,
        "max_total_thread_cache_bytes");
  CHECK(MallocExtension_SetNumericProperty("tcmalloc.max_total_thread_cache_bytes", 4 << 20),
        "restore");
  CHECK(!MallocExtension_SetNumericProperty("generic.heap_size", 1), "heap_size is read-only");
  CHECK(!MallocExtension_SetNumericProperty("no.such.property", 1), "unknown set");
  CHECK(MallocExtension_SetNumericProperty("heapscope.release_rate_milli", 2500) &&
            prop("heapscope.release_rate_milli") == 2500,
        "release rate");
  MallocExtension_SetNumericProperty("heapscope.release_rate_milli", 1000);
  free(big);
  /* Aggressive decommit: a freed 1 MiB block goes back at once (by default
   * up to 32 MiB of free pages stay mapped). */
  CHECK(MallocExtension_SetNumericProperty("tcmalloc.aggressive_memory_decommit", 1) &&
            prop("tcmalloc.aggressive_memory_decommit") == 1,
        "aggressive_memory_decommit");
  void *mid = malloc(1 << 20);
  memset(mid, 1, 1 << 20);
  free(mid);
  CHECK(prop("tcmalloc.pageheap_free_bytes") == 0, "aggressive decommit left %zu free bytes mapped",
        prop("tcmalloc.pageheap_free_bytes"));
  CHECK(MallocExtension_SetNumericProperty("tcmalloc.aggressive_memory_decommit", 0) &&
            prop("tcmalloc.aggressive_memory_decommit") == 0,
        "aggressive_memory_decommit off");
  mid = malloc(1 << 20);
  free(mid);
  MallocExtension_ReleaseFreeMemory();
  CHECK(prop("tcmalloc.pageheap_free_bytes") == 0, "ReleaseFreeMemory left %zu",
        prop("tcmalloc.pageheap_free_bytes"));
  mid = malloc(1 << 20);
  free(mid);
  MallocExtension_ReleaseToSystem(1 << 20);
  CHECK(prop("tcmalloc.pageheap_free_bytes") == 0, "ReleaseToSystem");

  char stats[4096];
  MallocExtension_GetStats(stats, sizeof stats);
  CHECK(strstr(stats, "MALLOC:") && strlen(stats) < sizeof stats, "GetStats");
  MallocExtension_GetStats(stats, 10);
  CHECK(strlen(stats) == 9, "GetStats truncates");

  char *p = malloc(1000);
  int on_stack;
  CHECK(MallocExtension_GetAllocatedSize(p) >= 1000 && MallocExtension_GetAllocatedSize(NULL) == 0,
        "GetAllocatedSize");
  CHECK(MallocExtension_GetEstimatedAllocatedSize(1000) == MallocExtension_GetAllocatedSize(p),
        "GetEstimatedAllocatedSize");
  CHECK(MallocExtension_GetOwnership(p) == MallocExtension_kOwned &&
            MallocExtension_GetOwnership(&on_stack) == MallocExtension_kNotOwned &&
            MallocExtension_GetOwnership(NULL) == MallocExtension_kNotOwned,
        "GetOwnership");
  CHECK(MallocExtension_VerifyAllMemory() && MallocExtension_VerifyMallocMemory(p) &&
            MallocExtension_VerifyNewMemory(p) && MallocExtension_VerifyArrayNewMemory(p) &&
            MallocExtension_VerifyMallocMemory(NULL) && !MallocExtension_VerifyMallocMemory(&on_stack) &&
            !MallocExtension_VerifyMallocMemory(p + 8),
        "Verify*Memory");
  free(p);
  /* The thread cache fills with freed small blocks and empties when idle. */
  void *small[64];
  for (int i = 0; i < 64; i++) small[i] = malloc(48);
  for (int i = 0; i < 64; i++) free(small[i]);
  CHECK(MallocExtension_GetThreadCacheSize() >= 48, "GetThreadCacheSize %zu",
        MallocExtension_GetThreadCacheSize());
  MallocExtension_MarkThreadIdle();
  CHECK(MallocExtension_GetThreadCacheSize() == 0, "MarkThreadIdle left %zu",
        MallocExtension_GetThreadCacheSize());
  MallocExtension_MarkThreadBusy();
  for (int i = 0; i < 64; i++) small[i] = malloc(48);
  for (int i = 0; i < 64; i++) free(small[i]);
  MallocExtension_MarkThreadTemporarilyIdle();
  CHECK(MallocExtension_GetThreadCacheSize() == 0, "MarkThreadTemporarilyIdle");
  int blocks = -1, hist[kMallocExtensionHistogramSize];
  size_t total = 1;
  int recording = MallocExtension_MallocMemoryStats(&blocks, &total, hist);
  CHECK(recording == heapscope_is_recording(), "MallocMemoryStats: %d while recording=%d",
        recording, heapscope_is_recording());
  if (recording) CHECK(blocks > 0 && total > 0, "MallocMemoryStats while recording");
  else CHECK(blocks == 0 && total == 0 && hist[0] == 0, "MallocMemoryStats zeros");
  printf("ok malloc_extension\n");
}

/* ---- heap profiler ------------------------------------------------------- */
NOINLINE void *profiled_alloc(void) { return malloc(4242); }

static void check_heap_profiler(const char *dir) {
  char prefix[512], path[600];
  snprintf(prefix, sizeof prefix, "%s/hp", dir);
  char *s = GetHeapProfile();
  CHECK(s && !strncmp(s, "heap profile:", 13) && strstr(s, "MAPPED_LIBRARIES:"),
        "GetHeapProfile while stopped: %.80s", s ? s : "(null)");
  free(s);
  CHECK(!IsHeapProfilerRunning(), "running before start");
  HeapProfilerStart(prefix);
  CHECK(IsHeapProfilerRunning(), "not running after start");
  void *keep = profiled_alloc();
  HeapProfilerDump("compat");
  snprintf(path, sizeof path, "%s.0001.heap", prefix);
  struct stat st;
  CHECK(stat(path, &st) == 0 && st.st_size > 0, "no dump %s", path);
  s = GetHeapProfile();
  CHECK(s && !strncmp(s, "heap profile:", 13) && strstr(s, " 4242 ["), "GetHeapProfile: no 4242");
  free(s);
  HeapProfilerStop();
  CHECK(!IsHeapProfilerRunning(), "running after stop");
  free(keep);
  printf("ok heap_profiler\n");
}

/* ---- profiler.h (the CPU profiler): every function, with behaviour -------- */
static atomic_int filtered; /* filter_in_thread calls (in the signal handler) */
static int count_samples(void *arg) {
  atomic_fetch_add_explicit(&filtered, 1, memory_order_relaxed);
  return arg != NULL; /* keep the sample */
}

static volatile double burn_sink;
NOINLINE static void burn_cpu_until_samples(int want) {
  time_t end = time(NULL) + 20;
  double x = 1;
  while (atomic_load(&filtered) < want && time(NULL) < end)
    for (int i = 0; i < 100000; i++) x = x * 1.0000001 + 1e-9;
  burn_sink = x;
}

static void check_cpu_profiler(const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/cpu.prof", dir);
  unlink(path);
  struct ProfilerOptions opts;
  memset(&opts, 0, sizeof opts);
  opts.filter_in_thread = count_samples;
  opts.filter_in_thread_arg = path;
  CHECK(!ProfilingIsEnabledForAllThreads(), "profiling before start");
  CHECK(ProfilerStartWithOptions(path, &opts), "ProfilerStartWithOptions");
  CHECK(!ProfilerStart(path), "ProfilerStart while profiling returns 0");
  ProfilerRegisterThread();
  ProfilerEnable();  /* deprecated no-ops */
  ProfilerDisable();
  CHECK(ProfilingIsEnabledForAllThreads(), "ProfilingIsEnabledForAllThreads");
  burn_cpu_until_samples(5);
  CHECK(atomic_load(&filtered) >= 5, "filter_in_thread called for samples (%d)", atomic_load(&filtered));
  struct ProfilerState state;
  ProfilerGetCurrentState(&state);
  CHECK(state.enabled && !strcmp(state.profile_name, path) && state.start_time > 0 &&
            state.samples_gathered > 0,
        "ProfilerGetCurrentState: %d '%s' %d", state.enabled, state.profile_name,
        state.samples_gathered);
  ProfilerFlush();
  void *pcs[8];
  int n = ProfilerGetStackTrace(pcs, 8, 0, NULL);
  CHECK(n >= 2 && n <= 8, "ProfilerGetStackTrace: %d frames", n);
  ProfilerStop();
  CHECK(!ProfilingIsEnabledForAllThreads(), "profiling after stop");
  ProfilerGetCurrentState(&state);
  CHECK(!state.enabled && state.profile_name[0] == 0, "state after stop");
  /* gperftools' legacy CPU profile: header words 0, 3, 0, period (us), 0. */
  FILE *f = fopen(path, "rb");
  uintptr_t hdr[5] = {1, 1, 1, 1, 1};
  CHECK(f && fread(hdr, sizeof hdr[0], 5, f) == 5, "read %s", path);
  fclose(f);
  CHECK(hdr[0] == 0 && hdr[1] == 3 && hdr[2] == 0 && hdr[3] == 10000 && hdr[4] == 0,
        "legacy CPU profile header (period %zu)", (size_t)hdr[3]);
  CHECK(ProfilerStart(path), "ProfilerStart after stop");
  ProfilerStop();
  printf("ok cpu_profiler\n");
}

/* ---- parts run under particular environments --------------------------- */
static void wait_for_driver(void) {
  void *keep = profiled_alloc();
  printf("ready\n");
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) CHECK(0, "stdin closed");
  free(keep);
  printf("alive\n");
}

static void proto_profile(const char *dir) {
  void *keep = profiled_alloc();
  size_t len = 0;
  char *s = heapscope_heap_profile(&len);
  CHECK(s && len > 2 && (((unsigned char)s[0] == 0x1f && (unsigned char)s[1] == 0x8b) || s[0] == 0x0a),
        "heapscope_heap_profile in proto mode: %zu bytes, starts %02x", len, s ? (unsigned char)s[0] : 0);
  char path[600];
  snprintf(path, sizeof path, "%s/get.pb.gz", dir);
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(s, 1, len, f) == len && fclose(f) == 0, "write %s", path);
  free(s);
  s = GetHeapProfile();
  CHECK(s && strncmp(s, "heap profile:", 13) != 0, "GetHeapProfile in proto mode gave text");
  free(s);
  free(keep);
  printf("ok proto\n");
}

NOINLINE void *large_alloc(size_t n) { return malloc(n); }

static void large(void) {
  void *a = large_alloc(2000000);
  void *b = large_alloc(500000); /* under the threshold: silent */
  free(a);
  free(b);
  printf("ok large\n");
}

static void heaplimit(void) {
  errno = 0;
  void *p = malloc((size_t)100 << 20);
  CHECK(!p && errno == ENOMEM, "malloc(100 MiB) under a 64 MiB limit: %p errno %d", p, errno);
  p = malloc(1 << 20);
  CHECK(p, "malloc(1 MiB) under the limit");
  free(p);
  /* Blocks of 4 MiB and more own their mapping: the limit bounds the sum of
   * those and the page heap's spans. */
  void *blocks[64];
  size_t n = 0, held = 0;
  for (; n < 64; n++) {
    size_t size = n & 1 ? (size_t)1 << 20 : (size_t)8 << 20;
    errno = 0;
    if (!(blocks[n] = malloc(size))) break;
    held += size;
  }
  CHECK(n < 64 && errno == ENOMEM && held <= (size_t)64 << 20 && held >= (size_t)40 << 20,
        "8 MiB and 1 MiB blocks until the 64 MiB limit: %zu blocks, %zu MiB held, errno %d", n,
        held >> 20, errno);
  CHECK(prop("generic.heap_size") <= (size_t)64 << 20, "heap size %zu over the limit",
        prop("generic.heap_size"));
  void *grown = realloc(blocks[0], (size_t)80 << 20);
  CHECK(!grown && errno == ENOMEM, "realloc past the limit fails and keeps the block");
  while (n) free(blocks[--n]);
  p = malloc((size_t)8 << 20); /* the freed memory is reused under the limit */
  CHECK(p, "malloc(8 MiB) after freeing");
  free(p);
  CHECK(prop("heapscope.heap_limit_bytes") == (size_t)64 << 20, "heap_limit_bytes");
  printf("ok heaplimit\n");
}

/* Frees one block of mib MiB and prints the page heap's free bytes before
 * it, at once, and after 0.4, 0.8 and 1.6 s (each after a page-heap
 * operation, which is when decayed pages go back). rate_milli >= 0 sets the
 * release rate at run time first (MallocExtension::SetMemoryReleaseRate). */
static void page_heap_op(void) { free(malloc(1 << 20)); }

static void release(size_t mib, long rate_milli) {
  if (rate_milli >= 0)
    CHECK(MallocExtension_SetNumericProperty("heapscope.release_rate_milli", (size_t)rate_milli),
          "set release_rate_milli");
  size_t before = prop("tcmalloc.pageheap_free_bytes");
  void *p = malloc(mib << 20);
  memset(p, 1, mib << 20);
  free(p);
  printf("before=%zu now=%zu unmapped=%zu rate_milli=%zu\n", before,
         prop("tcmalloc.pageheap_free_bytes"), prop("tcmalloc.pageheap_unmapped_bytes"),
         prop("heapscope.release_rate_milli"));
  double at = 0;
  static const double times[] = {0.4, 0.8, 1.6};
  for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
    usleep((useconds_t)((times[i] - at) * 1e6));
    at = times[i];
    page_heap_op();
    printf("t%.1f=%zu\n", at, prop("tcmalloc.pageheap_free_bytes"));
  }
}

NOINLINE void *mmap_alloc(void) {
  return mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
NOINLINE void *malloc_alloc(void) { return malloc(3 << 20); }

static void mmaps(void) {
  void *m = mmap_alloc();
  void *h = malloc_alloc();
  HeapProfilerDump("mmaps");
  munmap(m, 2 << 20);
  free(h);
  printf("ok mmaps\n");
}

static void props(void) {
  printf("max_total_thread_cache_bytes=%zu thread_cache_limit=%zu aggressive=%zu rate_milli=%zu\n",
         prop("tcmalloc.max_total_thread_cache_bytes"), prop("heapscope.thread_cache_limit_bytes"),
         prop("tcmalloc.aggressive_memory_decommit"), prop("heapscope.release_rate_milli"));
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  const char *dir = argc > 2 ? argv[2] : ".";
  if (!strcmp(what, "all")) {
    check_hooks();
    check_hooks_threads();
    check_tc();
    check_stacktrace();
    check_malloc_extension();
    check_heap_profiler(dir);
    check_cpu_profiler(dir);
  } else if (!strcmp(what, "forksignal")) {
    fork_signal(dir);
  } else if (!strcmp(what, "wait")) {
    wait_for_driver();
  } else if (!strcmp(what, "proto")) {
    proto_profile(dir);
  } else if (!strcmp(what, "large")) {
    large();
  } else if (!strcmp(what, "heaplimit")) {
    heaplimit();
  } else if (!strcmp(what, "release")) {
    release(argc > 2 ? strtoul(argv[2], NULL, 10) : 8, argc > 3 ? strtol(argv[3], NULL, 10) : -1);
  } else if (!strcmp(what, "mmaps")) {
    mmaps();
  } else if (!strcmp(what, "props")) {
    props();
  } else if (strcmp(what, "exit")) {
    CHECK(0, "unknown part %s", what);
  }
  return 0;
}
