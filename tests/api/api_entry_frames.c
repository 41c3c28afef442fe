/* Every malloc-family entry point's recorded stack starts at its caller.
 *
 * malloc, free, calloc, realloc and a few more keep no frame of their own
 * and reach the recorder by a jump (core/api/malloc.c, HS_FRAMELESS); the
 * others keep theirs and call it. Either way the first frame the recorder
 * captures must be the function that called the entry point. A new and a
 * delete hook (gperftools' MallocHook) send every call down the recording
 * path and ask for the caller's stack there, with the same capture the
 * recorder uses (run once per unwinder: HEAPSCOPE_UNWINDER). Each call is
 * made from its own function, which does more after the call (no tail
 * call of its own), and frame 0 must lie in that function.
 *
 * Functions heapscope has and glibc may not (the hooks, cfree, free_sized,
 * tc_*) are looked up with dlsym, so the same program runs linked and
 * preloaded. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <gperftools/malloc_hook_c.h>

#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

static int failures;
static volatile int after_call; /* written after each call: no tail calls */

static int (*get_caller_stack)(void **result, int max_depth, int skip_count);

static volatile struct {
  int news, deletes;
  const void *new_pc, *delete_pc;
} seen;

static void new_hook(const void *p, size_t n) {
  (void)p;
  (void)n;
  void *pcs[4];
  int d = get_caller_stack(pcs, 4, 0);
  seen.new_pc = d > 0 ? pcs[0] : NULL;
  seen.news++;
}

static void delete_hook(const void *p) {
  if (!p) return;
  void *pcs[4];
  int d = get_caller_stack(pcs, 4, 0);
  seen.delete_pc = d > 0 ? pcs[0] : NULL;
  seen.deletes++;
}

/* The function pc lies in (the program exports its symbols). */
static const char *fn_of(const void *pc) {
  Dl_info info;
  if (!pc || !dladdr((const char *)pc - 1, &info) || !info.dli_sname) return "?";
  return info.dli_sname;
}

static void expect(const char *what, int calls, const void *pc, const char *fn) {
  if (calls != 1) {
    fprintf(stderr, "FAIL %s: %d hook calls, expected 1\n", what, calls);
    failures++;
  } else if (strcmp(fn_of(pc), fn)) {
    fprintf(stderr, "FAIL %s: frame 0 in %s, expected %s\n", what, fn_of(pc), fn);
    failures++;
  }
}
static void reset(void) { memset((void *)&seen, 0, sizeof seen); }
#define EXPECT_NEW(what, fn) expect(what, seen.news, seen.new_pc, #fn)
#define EXPECT_DELETE(what, fn) expect(what, seen.deletes, seen.delete_pc, #fn)

static void *sym(const char *name) {
  void *f = dlsym(RTLD_DEFAULT, name);
  if (!f) {
    fprintf(stderr, "FAIL %s: not defined (is heapscope loaded?)\n", name);
    exit(1);
  }
  return f;
}

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);

/* One caller per entry point; exported so that dladdr names them. */
NOINLINE void *call_malloc(size_t n) { void *p = malloc(n); after_call++; return p; }
NOINLINE void *call_calloc(size_t n) { void *p = calloc(1, n); after_call++; return p; }
NOINLINE void *call_realloc(void *q, size_t n) { void *p = realloc(q, n); after_call++; return p; }
NOINLINE void *call_reallocarray(void *q, size_t n) {
  void *p = reallocarray(q, 1, n);
  after_call++;
  return p;
}
NOINLINE void *call_memalign(size_t n) { void *p = memalign(64, n); after_call++; return p; }
NOINLINE void *call_posix_memalign(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n)) p = NULL;
  after_call++;
  return p;
}
NOINLINE void *call_aligned_alloc(size_t n) { void *p = aligned_alloc(64, n); after_call++; return p; }
NOINLINE void *call_valloc(size_t n) { void *p = valloc(n); after_call++; return p; }
NOINLINE void *call_pvalloc(size_t n) { void *p = pvalloc(n); after_call++; return p; }
NOINLINE void *call_tc_malloc(alloc_fn f, size_t n) { void *p = f(n); after_call++; return p; }
NOINLINE void call_free(void *p) { free(p); after_call++; }
NOINLINE void call_free_fn(free_fn f, void *p) { f(p); after_call++; }
NOINLINE void call_free_sized(void *p, size_t n) {
  ((void (*)(void *, size_t))sym("free_sized"))(p, n);
  after_call++;
}
NOINLINE void call_free_aligned_sized(void *p, size_t n) {
  ((void (*)(void *, size_t, size_t))sym("free_aligned_sized"))(p, 64, n);
  after_call++;
}

int main(void) {
  get_caller_stack = (int (*)(void **, int, int))sym("MallocHook_GetCallerStackTrace");
  int (*add_new)(MallocHook_NewHook) = (int (*)(MallocHook_NewHook))sym("MallocHook_AddNewHook");
  int (*add_delete)(MallocHook_DeleteHook) =
      (int (*)(MallocHook_DeleteHook))sym("MallocHook_AddDeleteHook");
  if (!add_new(new_hook) || !add_delete(delete_hook)) {
    fprintf(stderr, "FAIL: cannot install the hooks\n");
    return 1;
  }
  void *p;
  /* Small and large sizes: the fast path and the page heap's. */
  static const size_t sizes[] = {32, 100000};
  for (int i = 0; i < 2; i++) {
    size_t n = sizes[i];
    reset(); p = call_malloc(n); EXPECT_NEW("malloc", call_malloc);
    reset(); call_free(p); EXPECT_DELETE("free", call_free);
    reset(); p = call_calloc(n); EXPECT_NEW("calloc", call_calloc);
    reset(); call_free(p);
    reset(); p = call_realloc(NULL, n); EXPECT_NEW("realloc(NULL)", call_realloc);
    reset(); p = call_realloc(p, 2 * n);
    EXPECT_NEW("realloc (grow)", call_realloc);
    EXPECT_DELETE("realloc (grow), the old block", call_realloc);
    reset(); call_realloc(p, 0); EXPECT_DELETE("realloc(p, 0)", call_realloc);
    reset(); p = call_reallocarray(NULL, n); EXPECT_NEW("reallocarray", call_reallocarray);
    reset(); call_free_fn((free_fn)sym("cfree"), p); EXPECT_DELETE("cfree", call_free_fn);
    reset(); p = call_memalign(n); EXPECT_NEW("memalign", call_memalign);
    reset(); call_free_sized(p, n); EXPECT_DELETE("free_sized", call_free_sized);
    reset(); p = call_posix_memalign(n); EXPECT_NEW("posix_memalign", call_posix_memalign);
    reset(); call_free_aligned_sized(p, n);
    EXPECT_DELETE("free_aligned_sized", call_free_aligned_sized);
    reset(); p = call_aligned_alloc(n); EXPECT_NEW("aligned_alloc", call_aligned_alloc);
    reset(); call_free(p);
    reset(); p = call_valloc(n); EXPECT_NEW("valloc", call_valloc);
    reset(); call_free(p);
    reset(); p = call_pvalloc(n); EXPECT_NEW("pvalloc", call_pvalloc);
    reset(); call_free(p);
    reset(); p = call_tc_malloc((alloc_fn)sym("tc_malloc"), n);
    EXPECT_NEW("tc_malloc", call_tc_malloc);
    reset(); call_free_fn((free_fn)sym("tc_free"), p); EXPECT_DELETE("tc_free", call_free_fn);
  }
  ((int (*)(MallocHook_NewHook))sym("MallocHook_RemoveNewHook"))(new_hook);
  ((int (*)(MallocHook_DeleteHook))sym("MallocHook_RemoveDeleteHook"))(delete_hook);
  if (failures) return 1;
  printf("ok: every entry point's first frame is its caller\n");
  return 0;
}
