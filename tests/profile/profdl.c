/* A library loaded with dlopen by prof_dlopen: dl_alloc keeps n * 777 B. */
#include <stdlib.h>

static void *keep[64];

__attribute__((noinline, visibility("default"))) void dl_alloc(int n) {
  for (int i = 0; i < n && i < 64; i++) keep[i] = malloc(777);
}
