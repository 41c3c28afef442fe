/* Built with -O2 -fomit-frame-pointer (tests/cpuprof/CMakeLists.txt): a call
 * chain whose frames only CFI describes. See cpu_nofp.c. */
#include "cputest.h"

void *nofp_thread(void *arg);

CALLER(nofp_leaf, burn_cpu)
CALLER(nofp_mid, nofp_leaf)
CALLER(nofp_outer, nofp_mid)

__attribute__((noinline)) void *nofp_thread(void *arg) {
  *(double *)arg = nofp_outer(0.2);
  __asm__ volatile("" ::: "memory");
  return NULL;
}
