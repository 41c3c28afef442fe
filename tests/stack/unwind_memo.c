/* The walker's memo of each thread's previous walk (core/stack/unwind.c)
 * must never change a result: random call chains through functions built
 * with and without frame pointers, some of them alloca'ing, are walked
 * twice at their leaf, with the memo (the thread's previous walk was a
 * different random chain, sharing some outer frames or none) and without
 * it (the signal-handler mode, which neither reads nor writes the memo);
 * pcs, depth and hash must agree. */
#include "tests/stack/stack_test.h"

#include <alloca.h>
#include <string.h>

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

static long walks, joined_depth_total;
static volatile uint64_t sink;

/* Walks from its own frame (it keeps a frame pointer, so its caller's
 * state is known) with and without the memo and compares. */
WITH_FP static void check_here(void) {
  uintptr_t *fp = __builtin_frame_address(0);
  hs_unwind_regs_t start = {.pc = fp[1], .sp = (uintptr_t)(fp + 2), .bp = fp[0]};
  hs_stack_ranges_t r;
  hs__stack_ranges((uintptr_t)fp, true, &r);
  uintptr_t a[HS_MAX_DEPTH], b[HS_MAX_DEPTH];
  uint64_t ha, hb;
  int sa, sb;
  hs_unwind_regs_t st = start;
  int na = hs__unwind_walk(&st, &r, 0, a, 40, &ha, &sa);
  st = start;
  int nb = hs__unwind_walk(&st, &r, HS_UNWIND_IN_SIGNAL, b, 40, &hb, &sb);
  if (na != nb) {
    for (int i = 0; i < na || i < nb; i++)
      fprintf(stderr, "  #%d %#lx %#lx\n", i, i < na ? (unsigned long)a[i] : 0ul,
              i < nb ? (unsigned long)b[i] : 0ul);
  }
  CHECKF(na == nb, "walk %ld: %d frames with the memo, %d without", walks, na, nb);
  for (int i = 0; i < na; i++)
    CHECKF(a[i] == b[i], "walk %ld: frame #%d is %#lx with the memo, %#lx without", walks, i,
           (unsigned long)a[i], (unsigned long)b[i]);
  CHECKF(ha == hb && ha == hs__stack_hash(a, na), "walk %ld: hashes differ", walks);
  CHECKF(na >= 4, "walk %ld: only %d frames", walks, na);
  walks++;
  joined_depth_total += na;
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
WITHOUT_FP static void s_twice(int d) { /* two call sites: same function, different return addresses */
  if (next_rand() & 1) next(d);
  else next(d);
  sink += 3;
}
WITHOUT_FP static void s_loop(int d) { /* the same frame calls again: the memo's best case */
  for (int i = 0; i < 3; i++) next(d);
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
  for (long i = 0; i < rounds && walks < rounds; i++) next(2 + (int)(next_rand() % 14));
  printf("unwind_memo: %ld walks (mean depth %.1f) agree with and without the memo\n", walks,
         (double)joined_depth_total / (double)walks);
  return 0;
}
