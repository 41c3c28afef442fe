/* Which of the libraries heapscope loads on first use (libdw, libelf,
 * libunwind, zlib and the compression libraries they pull in) are mapped
 * in this process now, after it allocated: one line "lazy: NAME" each, or
 * "lazy: none". Run preloaded by stack.lazy_load (lazy_load.cmake). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  char *volatile p = malloc(argc > 1 ? (size_t)atoi(argv[1]) : 24);
  free(p);
  static const char *const libs[] = {"libdw", "libelf", "libunwind", "libz.", "liblzma",
                                     "libzstd", "libbz2", "libm."};
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 2;
  char line[4096];
  int seen[sizeof libs / sizeof libs[0]] = {0}, any = 0;
  while (fgets(line, sizeof line, f)) {
    const char *path = strchr(line, '/');
    const char *base = path ? strrchr(path, '/') + 1 : NULL;
    for (size_t i = 0; base && i < sizeof libs / sizeof libs[0]; i++)
      if (!seen[i] && !strncmp(base, libs[i], strlen(libs[i]))) {
        seen[i] = any = 1;
        printf("lazy: %s", base);
      }
  }
  fclose(f);
  if (!any) printf("lazy: none\n");
  return 0;
}
