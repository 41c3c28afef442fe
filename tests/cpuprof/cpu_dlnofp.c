/* A library built without frame pointers (cpudl_nofp.c), dlopen'ed after the
 * profile started (CPUPROFILE starts it before main), burns CPU three frames
 * deep under two frames of the program's own, and is dlclose'd before the
 * profile is written. A frame-pointer walk from the library's leaf skips the
 * library's callers and main's own frame; the handler's CFI walk must keep
 * them all. argv[1]: the library. Prints "measured dl_chain S". */
#include <dlfcn.h>

#include "cputest.h"

typedef double (*chain_fn)(double);

__attribute__((noinline)) double prog_mid(chain_fn f, double seconds) {
  double used = f(seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

__attribute__((noinline)) double prog_outer(chain_fn f, double seconds) {
  double used = prog_mid(f, seconds);
  __asm__ volatile("" ::: "memory");
  return used;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    printf("dlopen: %s\n", dlerror());
    return 2;
  }
  chain_fn outer = (chain_fn)dlsym(h, "dlnofp_outer");
  if (!outer) return 2;
  double used = prog_outer(outer, 0.3);
  if (dlclose(h) != 0) return 2;
  report("dl_chain", used);
  return 0;
}
