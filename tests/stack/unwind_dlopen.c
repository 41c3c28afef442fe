/* Stacks through dlopen'ed libraries, and the unwinder following dlopen and
 * dlclose: the libraries of stack.unwind_dlopen (unwlib.c, built several
 * ways) are opened and closed in a loop, at addresses the loader reuses,
 * and every recorded stack is checked. Meanwhile another thread allocates
 * through deep stacks and opens and closes its own copy, so walks,
 * module refreshes and unloads race.
 *
 *   unwind_dlopen DIR     (DIR holds libunw_cfi.so, libunw_fp.so,
 *                          libunw_bare.so, libunw_cfi2.so)
 *
 * libunw_cfi  -O2, no frame pointers, CFI: whole stacks
 * libunw_fp   frame pointers, no .eh_frame: whole stacks (one validated
 *             frame-pointer step per frame)
 * libunw_bare neither: the stack ends cleanly inside the library
 *
 * First, deterministically, the window of a dlclose in another thread:
 * libunw_cfi.so unmapped by the loader, not yet known unloaded by the
 * tracker, and libunw_fp.so dlopen'ed at its addresses (under load this
 * happened in the loop below once in ~20 runs: the walk used the unloaded
 * library's CFI and cached rules for the new one's code). */
#include "tests/stack/stack_test.h"

#include "core/symbol/symbolize.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static const char *dir;
static volatile int stop;

typedef struct fname {
  const char *name;
} fname_t;
static void take(const hs_symbol_t *sym, void *ctx) {
  fname_t *f = ctx;
  if (!f->name) f->name = sym->function;
}
static const char *fn_at(uintptr_t pc, uint32_t epoch) {
  fname_t f = {NULL};
  hs__symbolize(pc, epoch, take, &f);
  return f.name ? f.name : "?";
}

static void *open_lib(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECKF(h != NULL, "dlopen %s: %s", path, dlerror());
  return h;
}

typedef void *(*alloc_fn)(size_t);

/* The recorded stack of p, as function names (symbolized against the
 * module epoch of the bucket, so after dlclose too). */
static int names_of(const void *p, const char **names, int max) {
  hs_rec_t *r = hs__record_of((uintptr_t)p, NULL);
  CHECK(r != NULL);
  hs_bucket_t *b = hs__depot_get(r->bucket);
  CHECK(b != NULL);
  int n = (int)b->depth < max ? (int)b->depth : max;
  for (int i = 0; i < n; i++) names[i] = fn_at(b->pcs[i], b->epoch);
  return n;
}

NOINLINE static void *call_lib(alloc_fn f) {
  void *p = f(40);
  __asm__ volatile("" ::: "memory");
  return p;
}

NOINLINE static void one_round(const char *lib, int whole, int round) {
  void *h = open_lib(lib);
  alloc_fn f = (alloc_fn)dlsym(h, "unwlib_alloc");
  CHECK(f != NULL);
  void *p = call_lib(f);
  const char *names[16];
  int n = names_of(p, names, 16);
  CHECKF(n >= 1 && !strcmp(names[0], "lib_c"), "%s round %d: frame #0 is %s", lib, round,
         n ? names[0] : "(none)");
  if (whole) {
    const char *want[] = {"lib_c", "lib_b", "unwlib_alloc", "call_lib", "one_round"};
    int bad = n < 5;
    for (int i = 0; i < 5 && i < n; i++) bad |= strcmp(names[i], want[i]) != 0;
    if (bad) {
      hs_bucket_t *b = hs__depot_get(hs__record_of((uintptr_t)p, NULL)->bucket);
      fprintf(stderr, "%s round %d: lib at %p, stack (epoch %u, now %u):\n", lib, round, (void *)f,
              b->epoch, hs__modules_epoch());
      for (int i = 0; i < n; i++) fprintf(stderr, "  #%d %#lx %s\n", i, (unsigned long)b->pcs[i], names[i]);
      for (uint32_t i = 0; i < hs__module_count(); i++) {
        const hs_module_t *m = hs__module_at(i);
        if ((uintptr_t)f >= m->lo && (uintptr_t)f < m->hi)
          fprintf(stderr, "  module %u %s load %u unload %u cfi %p hdr %#lx\n", i, m->path, m->load_epoch,
                  m->unload_epoch, (void *)m->unwind_cfi, (unsigned long)m->eh_frame_hdr);
      }
    }
    for (int i = 0; i < 5; i++)
      CHECKF(i < n && !strcmp(names[i], want[i]), "%s round %d: frame #%d is %s, expected %s", lib,
             round, i, i < n ? names[i] : "(none)", want[i]);
    int main_seen = 0;
    for (int i = 5; i < n; i++) main_seen |= !strcmp(names[i], "main");
    CHECKF(main_seen, "%s round %d: the stack does not reach main", lib, round);
  }
  free(p);
  CHECK(dlclose(h) == 0);
}

typedef int (*dlclose_fn)(void *);

/* What the dlclose interposer does, with the window between the loader's
 * unmap and the tracker's refresh held open while this thread loads
 * another library at the same addresses and allocates through it. */
NOINLINE static void unload_window(void) {
  void *h = open_lib("libunw_cfi.so");
  alloc_fn f = (alloc_fn)dlsym(h, "unwlib_alloc");
  CHECK(f != NULL);
  free(call_lib(f)); /* the registry knows it; the rule cache holds its rules */
  free(call_lib(f));
  const hs_module_t *old = hs__module_live_text((uintptr_t)f);
  CHECK(old != NULL);
  dlclose_fn real_dlclose = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
  CHECK(real_dlclose != NULL && real_dlclose != dlclose);
  hs__modules_unload_begin();
  CHECK(real_dlclose(h) == 0);
  void *h2 = open_lib("libunw_fp.so");
  alloc_fn f2 = (alloc_fn)dlsym(h2, "unwlib_alloc");
  CHECK(f2 != NULL);
  CHECKF((uintptr_t)f2 >= old->text_lo && (uintptr_t)f2 < old->text_hi,
         "the loader did not reuse the unloaded library's addresses (%p outside %#lx-%#lx): "
         "nothing tested", (void *)f2, (unsigned long)old->text_lo, (unsigned long)old->text_hi);
  void *p = call_lib(f2);
  const char *names[16];
  int n = names_of(p, names, 16);
  const char *want[] = {"lib_c", "lib_b", "unwlib_alloc", "call_lib", "unload_window", "main"};
  for (int i = 0; i < 6; i++)
    CHECKF(i < n && !strcmp(names[i], want[i]),
           "inside another thread's dlclose: frame #%d is %s, expected %s", i,
           i < n ? names[i] : "(none)", want[i]);
  free(p);
  hs__modules_unload_end();
  CHECK(dlclose(h2) == 0);
  printf("unload window: whole stack through the library loaded at the unloaded one's place\n");
}

/* The other thread: deep stacks in this program, and its own library. */
NOINLINE static void *deep(int d) {
  void *p = d ? deep(d - 1) : malloc(24);
  __asm__ volatile("" ::: "memory");
  return p;
}

static void *churn(void *arg) {
  (void)arg;
  long rounds = 0;
  while (!stop) {
    void *p = deep(12);
    const char *names[20];
    int n = names_of(p, names, 20);
    CHECKF(n >= 14 && !strcmp(names[0], "deep") && !strcmp(names[12], "deep") &&
               !strcmp(names[13], "churn"),
           "second thread: deep(12) came out %d frames deep (#12 %s, #13 %s)", n,
           n > 12 ? names[12] : "", n > 13 ? names[13] : "");
    free(p);
    void *h = open_lib("libunw_cfi2.so");
    alloc_fn f = (alloc_fn)dlsym(h, "unwlib_alloc");
    free(f(8));
    CHECK(dlclose(h) == 0);
    rounds++;
  }
  printf("second thread: %ld rounds\n", rounds);
  return NULL;
}

/* The leaf memo (whole walks from a frame without a frame pointer, kept
 * per thread) follows unloads: the module epoch is part of its key, so a
 * walk it answered before a dlclose is walked again after it (the unloaded
 * module's rules may have been among those the memo's walk used), then
 * answered again. (Before the second thread starts: the hit counts are
 * exact.) */
NOINLINE static void *leaf_alloc(void) {
  void *p = malloc(24);
  __asm__ volatile("" ::: "memory");
  return p;
}

NOINLINE static void leaf_memo_unload(void) {
  for (int i = 0; i < 104; i++) { /* one call site: the same registers each time */
    uint64_t h0 = hs__unwind_leaf_hits;
    void *p = leaf_alloc();
    unsigned long hits = (unsigned long)(hs__unwind_leaf_hits - h0);
    if (i == 100) CHECKF(hits == 1, "before dlclose: %lu leaf memo hits, expected 1", hits);
    if (i == 101) {
      CHECKF(hits == 0, "after dlclose: %lu leaf memo hits, expected none", hits);
      const char *names[8];
      int n = names_of(p, names, 8);
      CHECKF(n >= 2 && !strcmp(names[0], "leaf_alloc") && !strcmp(names[1], "leaf_memo_unload"),
             "after dlclose: the stack is %s <- %s", n > 0 ? names[0] : "-",
             n > 1 ? names[1] : "-");
    }
    /* (Walk 101 found the rule cache retired too; 102 refills the memo.) */
    if (i == 103) CHECKF(hits == 1, "after the walks again: %lu leaf memo hits, expected 1", hits);
    free(p);
    if (i == 100) CHECK(dlclose(open_lib("libunw_cfi.so")) == 0);
  }
}

/* The same for the frame-pointer memo (whole walks from a frame with a
 * frame pointer): its key holds the epoch too. */
#define WITH_FP __attribute__((noinline, optimize("no-omit-frame-pointer")))
WITH_FP static void *fp_leaf_alloc(void) {
  void *p = malloc(24);
  __asm__ volatile("" ::: "memory");
  return p;
}

WITH_FP static void fp_memo_unload(void) {
  for (int i = 0; i < 104; i++) { /* one call site: the same registers each time */
    uint64_t h0 = hs__unwind_fp_memo_hits;
    void *p = fp_leaf_alloc();
    unsigned long hits = (unsigned long)(hs__unwind_fp_memo_hits - h0);
    if (i == 100) CHECKF(hits == 1, "before dlclose: %lu fp memo hits, expected 1", hits);
    if (i == 101) {
      CHECKF(hits == 0, "after dlclose: %lu fp memo hits, expected none", hits);
      const char *names[8];
      int n = names_of(p, names, 8);
      CHECKF(n >= 2 && !strcmp(names[0], "fp_leaf_alloc") && !strcmp(names[1], "fp_memo_unload"),
             "after dlclose: the stack is %s <- %s", n > 0 ? names[0] : "-",
             n > 1 ? names[1] : "-");
    }
    /* Walk 101 went the slow way (the rule cache was retired too) and
     * refilled the rule cache: walk 102 meets the memo's entry of the old
     * epoch, which must not answer. */
    if (i == 102) CHECKF(hits == 0, "the walk after: %lu fp memo hits, expected none", hits);
    if (i == 103) CHECKF(hits == 1, "after the walks again: %lu fp memo hits, expected 1", hits);
    free(p);
    if (i == 100) CHECK(dlclose(open_lib("libunw_cfi.so")) == 0);
  }
}

/* The stack recorded for a block when a memo answers the walk with the
 * stack's depot id (no frames copied, no lookup): two stacks from one call
 * site at one depth, told apart only by their fifth frame (the callers
 * _x and _y are the same code), must each keep their own, with and
 * without frame pointers. */
#define WITHOUT_FP __attribute__((noinline, optimize("omit-frame-pointer")))
static volatile int id_sink;
/* (Bodies that differ a little: identical functions would be folded.) */
#define ID_CASE(tag, ATTR)                                                    \
  ATTR static void *tag##_leaf(void) {                                        \
    void *p = malloc(sizeof #tag);                                            \
    __asm__ volatile("" ::: "memory");                                        \
    return p;                                                                 \
  }                                                                           \
  ATTR static void *tag##_mid1(void) {                                        \
    void *p = tag##_leaf();                                                   \
    __asm__ volatile("" ::: "memory");                                        \
    return p;                                                                 \
  }                                                                           \
  ATTR static void *tag##_mid2(void) {                                        \
    void *p = tag##_mid1();                                                   \
    __asm__ volatile("" ::: "memory");                                        \
    return p;                                                                 \
  }                                                                           \
  ATTR static void *tag##_mid3(void) {                                        \
    void *p = tag##_mid2();                                                   \
    __asm__ volatile("" ::: "memory");                                        \
    return p;                                                                 \
  }                                                                           \
  ATTR static void *tag##_x(void) {                                           \
    void *p = tag##_mid3();                                                   \
    id_sink = 1;                                                              \
    return p;                                                                 \
  }                                                                           \
  ATTR static void *tag##_y(void) {                                           \
    void *p = tag##_mid3();                                                   \
    id_sink = 2;                                                              \
    return p;                                                                 \
  }
ID_CASE(idfp, WITH_FP)
ID_CASE(idleaf, WITHOUT_FP)

static void id_cases(void *(*x)(void), void *(*y)(void), const char *xname, const char *yname,
                     const char *leaf, uint64_t *hits_counter) {
  uint64_t h0 = *hits_counter;
  for (int i = 0; i < 200; i++) {
    bool is_x = i % 3 != 0;
    void *p = (is_x ? x : y)();
    const char *names[8];
    int n = names_of(p, names, 8);
    const char *want = is_x ? xname : yname;
    CHECKF(n >= 6 && !strcmp(names[0], leaf) && !strcmp(names[4], want),
           "walk %d: %s's stack recorded as %s <- ... <- %s", i, want, n > 0 ? names[0] : "-",
           n > 4 ? names[4] : "-");
    free(p);
  }
  unsigned long hits = (unsigned long)(*hits_counter - h0);
  CHECKF(hits >= 190, "%s/%s: %lu of 200 walks from the memo", xname, yname, hits);
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  dir = argv[1];
  heapscope_start_recording();
  leaf_memo_unload();
  fp_memo_unload();
  id_cases(idfp_x, idfp_y, "idfp_x", "idfp_y", "idfp_leaf", &hs__unwind_fp_memo_hits);
  id_cases(idleaf_x, idleaf_y, "idleaf_x", "idleaf_y", "idleaf_leaf", &hs__unwind_leaf_hits);
  unload_window();
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
  for (int round = 0; round < 60; round++) {
    one_round("libunw_cfi.so", 1, round);
    one_round("libunw_fp.so", 1, round);
    one_round("libunw_bare.so", 0, round);
  }
  stop = 1;
  CHECK(pthread_join(t, NULL) == 0);
  printf("unwind_dlopen: ok\n");
  return 0;
}
