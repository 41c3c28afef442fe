/* The library cpu_dl loads and unloads. */
#include "cputest.h"

BURNER(dl_inner)

double dl_burn(double s);
double dl_burn(double s) {
  double used = dl_inner(s);
  __asm__ volatile("" ::: "memory");
  return used;
}
