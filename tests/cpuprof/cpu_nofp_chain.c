/* Built with -O2 -fomit-frame-pointer (tests/cpuprof/CMakeLists.txt): a call
 * chain whose frames only CFI describes. See cpu_nofp.c. */
#include "cputest.h"

double nofp_leaf(double seconds);
double nofp_mid(double seconds);
double nofp_outer(double seconds);
void *nofp_thread(void *arg);

/* noinline, and a use of the result after each call: no inlining, no tail
 * calls, so every function keeps its frame. */
__attribute__((noinline)) double nofp_leaf(double seconds) {
  double used = burn_cpu(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) double nofp_mid(double seconds) {
  double used = nofp_leaf(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) double nofp_outer(double seconds) {
  double used = nofp_mid(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) void *nofp_thread(void *arg) {
  *(double *)arg = nofp_outer(0.2);
  __asm__ volatile("" ::: "memory");
  return NULL;
}
