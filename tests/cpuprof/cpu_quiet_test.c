/* A test during which the profiling signal cannot be delivered (blocked
 * here; on a loaded machine the CPU-clock timer's expiries can go unseen
 * for a whole short test the same way), then a test that receives it: the
 * first test's periods must stay the first test's. Prints
 * "measured quiet S" and "measured next S". */
#include <heapscope/heapscope.h>
#include <signal.h>

#include "cputest.h"

BURNER(quiet_burn)
BURNER(next_burn)

int main(void) {
  sigset_t prof, old;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  heapscope_cpu_profiler_set_test("suite", "quiet");
  pthread_sigmask(SIG_BLOCK, &prof, &old);
  double q = quiet_burn(0.1);
  heapscope_cpu_profiler_set_test("suite", "next");
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  double n = next_burn(0.03);
  heapscope_cpu_profiler_set_test(NULL, NULL);
  report("quiet", q);
  report("next", n);
  return 0;
}
