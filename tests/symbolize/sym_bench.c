/* First-symbolization cost: cold (module's Dwfl not open yet) and warm
 * (cached) timings for a main-program frame and libc frames (libc has
 * separate debug info when libc6-dbg is installed). Prints; always passes
 * unless symbolization fails. */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#define SYM_WANT_PC_PROBES
#include "sym_helpers.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <netdb.h>
#include <stdint.h>



typedef struct last {
  const char *fn, *file;
  int line, n;
} last_t;
static void keep(const hs_symbol_t *s, void *ctx) {
  last_t *l = ctx;
  if (!l->n++) {
    l->fn = s->function;
    l->file = s->file;
    l->line = s->line;
  }
}

static void timeit(const char *what, uintptr_t pc) {
  last_t l = {0};
  uint64_t t0 = hs__now_ns();
  hs__symbolize(pc, hs__modules_epoch(), keep, &l);
  uint64_t t1 = hs__now_ns();
  last_t w = {0};
  const int reps = 1000;
  for (int i = 0; i < reps; i++) hs__symbolize(pc, hs__modules_epoch(), keep, &w);
  uint64_t t2 = hs__now_ns();
  printf("%-34s cold %9.3f ms   warm %7.3f us   -> %s %s:%d\n", what, (t1 - t0) / 1e6,
         (t2 - t1) / 1e3 / reps, l.fn ? l.fn : "??", l.file ? l.file : "??", l.line);
  CHECK(l.n >= 1);
}

int main(void) {
  caller();
  int arr[6] = {3, 1, 2, 6, 5, 4};
  qsort(arr, 6, sizeof arr[0], cmp_int);
  hs__modules_refresh();
  timeit("main program (first ever)", g_pc);
  timeit("libc qsort callback (module cold)", g_libc_pc);
  timeit("libc printf (module warm, new CU)", (uintptr_t)&printf + 1);
  timeit("libc getaddrinfo (new CU)", (uintptr_t)&getaddrinfo + 1);
  timeit("libdw dwfl_begin (no debuginfo)", libdw_dwfl_begin() + 1);
  CHECK_DONE();
}
