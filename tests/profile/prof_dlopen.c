/* dlopen a library whose function allocates: dl_alloc = 7: 5439 [7: 5439].
 * argv[1] = library path; argv[2] = "close" dlcloses it before exit (the
 * legacy text format then can not name it; the proto format still does). */
#include "proftest.h"

#include <dlfcn.h>

int main(int argc, char **argv) {
  if (argc < 2) die("usage: prof_dlopen LIB [close]\n");
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) die("dlopen: %s\n", dlerror());
  void (*fn)(int) = (void (*)(int))dlsym(h, "dl_alloc");
  if (!fn) die("dlsym: %s\n", dlerror());
  fn(7);
  if (argc > 2 && !strcmp(argv[2], "close")) dlclose(h);
  say("dlopen done\n");
  return 0;
}
