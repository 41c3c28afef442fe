/* CPUPROFILESIGNAL=SIGUSR2: each raise toggles profiling. Expected:
 * PATH.0 holds f_on1, PATH.1 holds f_on2, neither holds f_off*. */
#include <signal.h>

#include "cputest.h"

BURNER(f_off1)
BURNER(f_on1)
BURNER(f_off2)
BURNER(f_on2)

int main(void) {
  f_off1(0.08);
  raise(SIGUSR2);
  f_on1(0.15);
  raise(SIGUSR2);
  f_off2(0.08);
  raise(SIGUSR2);
  f_on2(0.15); /* stopped at exit */
  return 0;
}
