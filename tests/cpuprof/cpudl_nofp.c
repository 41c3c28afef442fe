/* The library cpu_dlnofp loads, built with -O2 -fomit-frame-pointer: only
 * its CFI says where its frames' return addresses are. */
#include "cputest.h"

double dlnofp_leaf(double seconds);
double dlnofp_mid(double seconds);
double dlnofp_outer(double seconds);

/* noinline and a use after each call: every function keeps its frame. */
__attribute__((noinline)) double dlnofp_leaf(double seconds) {
  double used = burn_cpu(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) double dlnofp_mid(double seconds) {
  double used = dlnofp_leaf(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) double dlnofp_outer(double seconds) {
  double used = dlnofp_mid(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}
