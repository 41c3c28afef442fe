/* A leak inside a dlopen'd library: reported with the library's function
 * and file:line. With argv[2] == "close" the library is dlclose'd (and
 * unmapped) before exit; the report must still be symbolized.
 * argv[1] = path of libleak_leaklib.so */
#include "corpus.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2) return 99;
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 98;
  }
  void (*leak)(void) = (void (*)(void))dlsym(h, "lib_leak");
  if (!leak) return 97;
  leak(); /* @dl_main */
  if (argc > 2 && !strcmp(argv[2], "close")) {
    if (dlclose(h)) return 96;
    /* The library must really be gone, or the case tests nothing. */
    if (dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD)) return 95;
  }
  return 0;
}
