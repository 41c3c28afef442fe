/* A CPU-bound call chain built as CMake's Release and RelWithDebInfo build
 * test suites: -O2, no frame pointers. The SIGPROF handler walks the CFI
 * (core/stack/unwind.c), so every sample's stack must reach main through
 * each level; a frame-pointer walk loses the levels here. */
#include "cputest.h"

BURNER(nofp_leaf)

#define LEVEL(name, callee)                                  \
  __attribute__((noinline)) double name(double seconds);     \
  __attribute__((noinline)) double name(double seconds) {    \
    double used = callee(seconds);                           \
    __asm__ volatile("" ::: "memory"); /* no tail call */    \
    return used;                                             \
  }
LEVEL(nofp_level3, nofp_leaf)
LEVEL(nofp_level2, nofp_level3)
LEVEL(nofp_level1, nofp_level2)

int main(int argc, char **argv) {
  double unit = argc > 1 ? atof(argv[1]) : 0.3;
  report("nofp_leaf", nofp_level1(unit));
  return 0;
}
