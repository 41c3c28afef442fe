/* A known allocation pattern, each site in its own named function. The
 * expected numbers (io: ib [ao: ab] per leaf function) are in
 * tests/profile/run.sh; keep them in sync. Dumped at exit (HEAPPROFILE). */
#include "proftest.h"

#include <malloc.h>

static void *keep[64];
static int nkeep;

NOINLINE void alloc_small(void) { /* 10: 10000 [10: 10000] */
  for (int i = 0; i < 10; i++) keep[nkeep++] = malloc(1000);
}

NOINLINE void alloc_freed(void) { /* 0: 0 [20: 60000] */
  for (int i = 0; i < 20; i++) {
    char *p = malloc(3000);
    p[0] = 1;
    sink = p;
    free(p);
  }
}

NOINLINE void alloc_half(void) { /* 4: 16384 [8: 32768] */
  void *p[8];
  for (int i = 0; i < 8; i++) p[i] = malloc(4096);
  for (int i = 0; i < 8; i++) {
    if (i % 2) free(p[i]);
    else keep[nkeep++] = p[i];
  }
}

NOINLINE void alloc_calloc(void) { /* 3: 3000 [3: 3000] */
  for (int i = 0; i < 3; i++) keep[nkeep++] = calloc(5, 200);
}

NOINLINE void grow_buf(void) { /* 1: 5000 [2: 5100] (malloc 100, realloc to 5000) */
  char *p = malloc(100);
  p[0] = 1;
  keep[nkeep++] = realloc(p, 5000);
}

NOINLINE void alloc_large(void) { /* 2: 2097152 [3: 3145728] */
  void *a = malloc(1 << 20), *b = malloc(1 << 20), *c = malloc(1 << 20);
  keep[nkeep++] = a;
  free(b);
  keep[nkeep++] = c;
}

NOINLINE void alloc_aligned(void) { /* 4: 2560 [4: 2560] */
  for (int i = 0; i < 2; i++) {
    void *p = NULL;
    if (posix_memalign(&p, 64, 640)) die("posix_memalign\n");
    keep[nkeep++] = p;
  }
  keep[nkeep++] = aligned_alloc(64, 640);
  keep[nkeep++] = memalign(128, 640);
}

NOINLINE void dup_string(void) { /* via libc's strdup: 3: 300 [3: 300] */
  static const char s[100] = "0123456789012345678901234567890123456789012345678901234567890"
                             "12345678901234567890123456789012345678";
  for (int i = 0; i < 3; i++) keep[nkeep++] = strdup(s);
}

NOINLINE void run_pattern(void) {
  alloc_small();
  alloc_freed();
  alloc_half();
  alloc_calloc();
  grow_buf();
  alloc_large();
  alloc_aligned();
  dup_string();
}

int main(void) {
  run_pattern();
  say("pattern done\n");
  return 0;
}
