/* A library built without frame pointers (cpudl_nofp.c), dlopen'ed after the
 * profile started (CPUPROFILE starts it before main), burns CPU three frames
 * deep under two frames of the program's own, and is dlclose'd before the
 * profile is written. A frame-pointer walk from the library's leaf skips the
 * library's callers and main's own frame; the handler's CFI walk must keep
 * them all. argv[1]: the library. Prints "measured dl_chain S".
 * With argv[2] "fork", a forked child loads the library and burns (it
 * profiles into PATH_<pid>); the parent prints "child PID" after it. */
#include <dlfcn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int load_and_burn(const char *lib) {
  void *h = dlopen(lib, RTLD_NOW);
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

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (argc < 3 || strcmp(argv[2], "fork")) return load_and_burn(argv[1]);
  fflush(stdout);
  pid_t c = fork();
  if (c < 0) return 2;
  if (c == 0) exit(load_and_burn(argv[1]));
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 2;
  printf("child %d\n", (int)c);
  return 0;
}
