/* Inlined frames (-O2): get_pc's return address lies in leaf(), inlined into
 * middle(), inlined into outer(). Expect three logical frames, innermost
 * first, with the call lines of each level. */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#include "sym_helpers.h"

#include <heapscope/heapscope.h>

#include <stdint.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))


volatile uintptr_t g_pc;
volatile int g_sink;
volatile int line_leaf, line_middle, line_outer;

__attribute__((noinline)) void get_pc(void) {
  g_pc = (uintptr_t)__builtin_return_address(0);
  __asm__ volatile("" ::: "memory");
}

ALWAYS_INLINE void leaf(int x) {
  get_pc(); line_leaf = __LINE__;
  g_sink += x; /* no tail call */
}

ALWAYS_INLINE void middle(int x) {
  leaf(x + 1); line_middle = __LINE__;
  g_sink += x;
}

__attribute__((noinline)) void outer(int x) {
  middle(x * 3); line_outer = __LINE__;
  g_sink += x;
}

int main(void) {
  outer(2);
  uintptr_t pc = g_pc;
  frames_t fr;
  memset(&fr, 0, sizeof fr);
  int n = hs__symbolize(pc, hs__modules_epoch(), collect, &fr);
  for (int i = 0; i < fr.n; i++)
    printf("#%d %s %s:%d%s\n", i, fr.f[i].function ? fr.f[i].function : "??",
           fr.f[i].file ? fr.f[i].file : "??", fr.f[i].line,
           fr.f[i].inlined ? " (inlined)" : "");
  CHECK_INT(n, 3);
  CHECK_INT(fr.n, 3);
  CHECK_STR(fr.f[0].function, "leaf");
  CHECK_STR(fr.f[0].file, __FILE__);
  CHECK_INT(fr.f[0].line, line_leaf);
  CHECK(fr.f[0].inlined);
  CHECK_STR(fr.f[1].function, "middle");
  CHECK_STR(fr.f[1].file, __FILE__);
  CHECK_INT(fr.f[1].line, line_middle);
  CHECK(fr.f[1].inlined);
  CHECK_STR(fr.f[2].function, "outer");
  CHECK_STR(fr.f[2].file, __FILE__);
  CHECK_INT(fr.f[2].line, line_outer);
  CHECK(!fr.f[2].inlined);
  for (int i = 0; i < fr.n; i++) CHECK(fr.f[i].module_offset == fr.f[0].module_offset);

  /* The public one-liner shows the innermost frame. */
  char buf[4096], expect[4096];
  snprintf(expect, sizeof expect, "leaf %s:%d", __FILE__, line_leaf);
  CHECK_INT(heapscope_symbolize(pc, buf, sizeof buf), 0);
  CHECK_STR(buf, expect);

  /* Cached: same frames, same strings. */
  frames_t again;
  memset(&again, 0, sizeof again);
  hs__symbolize(pc, hs__modules_epoch(), collect, &again);
  CHECK_INT(again.n, 3);
  for (int i = 0; i < 3 && i < again.n; i++) {
    CHECK(again.f[i].function == fr.f[i].function);
    CHECK(again.f[i].file == fr.f[i].file);
    CHECK_INT(again.f[i].line, fr.f[i].line);
  }
  CHECK_DONE();
}
