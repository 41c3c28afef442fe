/* dlopen a library, burn CPU in it, dlclose it, burn some more: the
 * library's samples must still be named. argv[1]: the library. */
#include <dlfcn.h>

#include "cputest.h"

BURNER(f_main)

int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    printf("dlopen: %s\n", dlerror());
    return 2;
  }
  double (*dl_burn)(double) = (double (*)(double))dlsym(h, "dl_burn");
  report("dl_burn", dl_burn(0.2));
  dlclose(h);
  report("f_main", f_main(0.1));
  return 0;
}
