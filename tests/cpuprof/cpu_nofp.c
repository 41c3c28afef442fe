/* The callers of code built without frame pointers: main (built with them)
 * and a thread call a chain nofp_outer -> nofp_mid -> nofp_leaf in
 * cpu_nofp_chain.c, built with -O2 -fomit-frame-pointer. A walk by frame
 * pointers alone goes from the leaf straight to main's caller, losing
 * nofp_mid, nofp_outer, main and the thread's start routine; the CFI walk
 * keeps them. Prints "measured main_chain S" and "measured thread_chain S". */
#include <pthread.h>

#include "cputest.h"

double nofp_outer(double seconds);
void *nofp_thread(void *arg);

int main(void) {
  pthread_t t;
  static double thread_used;
  if (pthread_create(&t, NULL, nofp_thread, &thread_used)) return 2;
  double used = nofp_outer(0.3);
  pthread_join(t, NULL);
  report("main_chain", used);
  report("thread_chain", thread_used);
  return 0;
}
