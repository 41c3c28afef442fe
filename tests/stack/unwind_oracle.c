/* The walker against an oracle: random call chains through functions
 * built with and without frame pointers, with alloca (only rbp finds the
 * CFA), large frames and loops are walked at their leaf by hs__unwind_walk
 * (the rule cache cold at first, then warm) and by libunwind; every pc and
 * the depth must agree. */
#include "tests/stack/stack_test.h"

#include <alloca.h>
#include <string.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define NOINLINE __attribute__((noinline))
#define WITH_FP __attribute__((noinline, optimize("no-omit-frame-pointer")))
#define WITHOUT_FP __attribute__((noinline, optimize("omit-frame-pointer")))

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static long walks, frames, fast;
static volatile uint64_t sink;

/* Walks from its own frame (it keeps a frame pointer, so its caller's
 * state is known exactly) and compares with libunwind. */
WITH_FP static void check_here(void) {
  uintptr_t *fp = __builtin_frame_address(0);
  hs_unwind_regs_t st = {.pc = fp[1], .sp = (uintptr_t)(fp + 2), .bp = fp[0]};
  hs_stack_ranges_t r;
  hs__stack_ranges((uintptr_t)fp, true, &r);
  uintptr_t a[HS_MAX_DEPTH];
  void *b[HS_MAX_DEPTH + 1];
  uint64_t ha;
  int status;
  int na = hs__unwind_walk(&st, &r, 0, a, 40, &ha, &status);
  int nb = unw_backtrace(b, 41) - 1; /* b[0] is this function's own pc */
  if (nb > 40) nb = 40;
  int same = na == nb;
  for (int i = 0; same && i < na; i++) same = a[i] == (uintptr_t)b[i + 1];
  if (!same) {
    for (int i = 0; i < na || i < nb; i++)
      fprintf(stderr, "  #%d %#lx %#lx\n", i, i < na ? (unsigned long)a[i] : 0ul,
              i < nb ? (unsigned long)b[i + 1] : 0ul);
  }
  CHECKF(same, "walk %ld: %d frames, libunwind %d (listed above: ours, libunwind's)", walks, na, nb);
  CHECK(ha == hs__stack_hash(a, na));
  /* The setup-free path (frame-pointer chain first, checked against the
   * rules) must agree too whenever it answers. */
  uintptr_t c[HS_MAX_DEPTH];
  uint64_t hc;
  hs_unwind_regs_t st2 = {.pc = fp[1], .sp = (uintptr_t)(fp + 2), .bp = fp[0]};
  int nc = hs__unwind_fast(&st2, r.hi, c, 40, &hc, NULL);
  if (nc >= 0) {
    fast++;
    CHECKF(nc == na && !memcmp(a, c, (size_t)na * sizeof *a) && hc == ha,
           "walk %ld: the fast path gives %d frames, the walker %d", walks, nc, na);
  }
  walks++;
  frames += na;
}

typedef void (*step_fn)(int depth);
static step_fn steps[6];

static void next(int depth) {
  if (depth <= 0) {
    check_here();
    return;
  }
  steps[next_rand() % 6](depth - 1);
}

WITH_FP static void s_fp(int d) { next(d); sink++; }
WITHOUT_FP static void s_nofp(int d) { next(d); sink += 2; }
WITHOUT_FP static void s_big(int d) {
  volatile char buf[3000]; /* a large frame: CFA = rsp + N with a big N */
  buf[d] = 1;
  next(d);
  sink += buf[d];
}
WITH_FP static void s_alloca(int d) {
  char *p = alloca(16 + (next_rand() & 255)); /* rsp moves: only rbp finds the CFA */
  p[0] = 1;
  next(d);
  sink += (uintptr_t)p[0];
}
WITHOUT_FP static void s_twice(int d) { /* two call sites in one function */
  if (next_rand() & 1) next(d);
  else next(d);
  sink += 3;
}
WITHOUT_FP static void s_loop(int d) { /* the same frame calls again */
  for (int i = 0; i < 2; i++) next(d);
}

/* The fast path's per-thread memos (core/stack/unwind.c) against walks
 * that must not reuse them. memo_leaf keeps a frame pointer, memo_mid
 * does not: the frame-pointer chain stops being trusted at memo_mid's
 * frame, and what lies below it (memo_x or memo_y, main, libc) comes from
 * the tail memo. memo_x and memo_y are the same code: both call memo_mid
 * with the same registers (the same %rsp, %rbp untouched), so only the
 * words the tail walk read on the stack tell the two tails apart. */
static int memo_walks, memo_fast;
static volatile int memo_sink;

WITH_FP static void memo_leaf(void) {
  check_here();
  memo_sink++;
}
WITHOUT_FP static void memo_mid(void) {
  memo_leaf();
  memo_sink++;
}
WITHOUT_FP static void memo_x(void) {
  memo_mid();
  memo_sink++;
}
WITHOUT_FP static void memo_y(void) {
  memo_mid();
  memo_sink++;
}

NOINLINE static void memo_cases(void) {
  long fast0 = fast, walks0 = walks;
  for (int i = 0; i < 200; i++) {
    if (i % 3) memo_x();
    else memo_y();
  }
  memo_walks = (int)(walks - walks0);
  memo_fast = (int)(fast - fast0);
  /* Each walk above checked the fast path's frames against the walker's;
   * most must have been answered by the fast path (the memos). */
  CHECKF(memo_fast >= memo_walks - 2, "memo cases: %d of %d walks by the fast path", memo_fast,
         memo_walks);
}

/* The leaf memo (core/stack/unwind.c: whole walks from a frame without a
 * frame pointer, kept per (pc, sp)). leaf_nofp is frame 0; below it
 * leaf_mid1 and leaf_mid2, then leaf_x or leaf_y (the same code). Every
 * walk starts from the same registers and reads the same first two return
 * addresses, so both stacks are filed together: only the third word tells
 * them apart. Each walk is checked against the walker and libunwind (in
 * check_here), and after the first few the memo must answer them all. */
WITHOUT_FP static void leaf_nofp(void) {
  check_here();
  memo_sink++;
}
WITHOUT_FP static void leaf_mid1(void) {
  leaf_nofp();
  memo_sink++;
}
WITHOUT_FP static void leaf_mid2(void) {
  leaf_mid1();
  memo_sink++;
}
WITHOUT_FP static void leaf_x(void) {
  leaf_mid2();
  memo_sink++;
}
WITHOUT_FP static void leaf_y(void) {
  leaf_mid2();
  memo_sink++;
}

/* Walks through x and y in turn (each checked by check_here): after the
 * first few, which make the thread's memo, the fast path must take every
 * one and the memo whose hit counter is *hits answer nearly all. */
NOINLINE static void memo_answers(const char *what, void (*x)(void), void (*y)(void),
                                const uint64_t *hits) {
  for (int i = 0; i < 40; i++) (i & 1 ? x : y)();
  long fast0 = fast, walks0 = walks;
  uint64_t hits0 = *hits;
  for (int i = 0; i < 300; i++) (i % 3 ? x : y)();
  long nwalks = walks - walks0, nfast = fast - fast0, nhits = (long)(*hits - hits0);
  CHECKF(nfast == nwalks, "%s: %ld of %ld walks by the fast path", what, nfast, nwalks);
  CHECKF(nhits >= nwalks - 4, "%s: %ld of %ld walks from the memo", what, nhits, nwalks);
}

NOINLINE static void leaf_cases(void) {
  memo_answers("leaf cases", leaf_x, leaf_y, &hs__unwind_leaf_hits);
}

/* The frame-pointer memo (core/stack/unwind.c: whole walks from a frame
 * with a frame pointer, kept per (pc, sp, bp)). Every frame keeps its frame
 * pointer: fpm_leaf is frame 0, below it fpm_mid1..3, then fpm_x or fpm_y
 * (the same code). Both stacks start from the same registers and share the
 * first three frame records, which the memo files them by: only the fourth
 * record's return address tells them apart. Each walk is checked against
 * the walker and libunwind (check_here), and after the first few the memo
 * must answer them all. */
WITH_FP static void fpm_leaf(void) {
  check_here();
  memo_sink++;
}
WITH_FP static void fpm_mid1(void) {
  fpm_leaf();
  memo_sink++;
}
WITH_FP static void fpm_mid2(void) {
  fpm_mid1();
  memo_sink++;
}
WITH_FP static void fpm_mid3(void) {
  fpm_mid2();
  memo_sink++;
}
WITH_FP static void fpm_x(void) {
  fpm_mid3();
  memo_sink++;
}
WITH_FP static void fpm_y(void) {
  fpm_mid3();
  memo_sink++;
}

NOINLINE static void fp_memo_cases(void) {
  memo_answers("fp memo cases", fpm_x, fpm_y, &hs__unwind_fp_memo_hits);
}

int main(int argc, char **argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 20000;
  steps[0] = s_fp;
  steps[1] = s_nofp;
  steps[2] = s_big;
  steps[3] = s_alloca;
  steps[4] = s_twice;
  steps[5] = s_loop;
  hs__unwind_prepare();
  memo_cases();
  leaf_cases();
  fp_memo_cases();
  while (walks < rounds) next(1 + (int)(next_rand() % 19));
  printf("unwind_oracle: %ld walks (mean depth %.1f) agree with libunwind, %ld of them also by "
         "the fast path\n", walks, (double)frames / (double)walks, fast);
  CHECK(fast > walks / 2);
  return 0;
}
