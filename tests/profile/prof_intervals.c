/* Interval-triggered dumps. argv[1] = mode, argv[2] = the HEAPPROFILE
 * prefix (to count PREFIX.NNNN.heap files while running; access(2) does
 * not allocate).
 *   alloc    10 MiB in 1 KiB blocks, each freed at once; with
 *            HEAP_PROFILE_ALLOCATION_INTERVAL=1000000: >= 10 dumps
 *   inuse    grow the heap to 5.5 MB in 64 KiB blocks (>= 5 dumps with
 *            HEAP_PROFILE_INUSE_INTERVAL=1000000), free it all and grow it
 *            back to 5.5 MB (no new dump: the high-water mark did not move),
 *            then grow on to 7.7 MB (>= 2 more)
 *   dealloc  keep 5.5 MB (no dump), then free it (>= 5 dumps with
 *            HEAP_PROFILE_DEALLOCATION_INTERVAL=1000000)
 *   time     allocate and free for 2.5 s; HEAP_PROFILE_TIME_INTERVAL=1:
 *            >= 2 dumps before exit
 *   plain    10 MiB in 1 KiB blocks, prints two lines, exits with status 3
 * Prints "dumps=N" lines for the driver. */
#include "proftest.h"

#include <time.h>

#define BLOCK (64 * 1024)
static void *blocks[200];

NOINLINE void alloc_chunk(size_t n) {
  char *p = malloc(n);
  p[0] = 1;
  sink = p;
  free(p);
}

NOINLINE void grow_to(int *have, int want) {
  for (; *have < want; (*have)++) {
    blocks[*have] = malloc(BLOCK);
    memset(blocks[*have], 1, 64);
  }
}

NOINLINE void shrink_all(int *have) {
  for (; *have > 0; (*have)--) free(blocks[*have - 1]);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) die("usage: prof_intervals MODE PREFIX\n");
  const char *mode = argv[1], *prefix = argv[2];
  if (!strcmp(mode, "alloc") || !strcmp(mode, "plain")) {
    for (int i = 0; i < 10 * 1024; i++) alloc_chunk(1024);
    if (!strcmp(mode, "plain")) {
      say("allocated 10 MiB\n");
      say("exiting with status 3\n");
      return 3;
    }
    say("dumps=%d\n", count_dumps(prefix));
  } else if (!strcmp(mode, "inuse")) {
    int have = 0;
    grow_to(&have, 84); /* 5.5 MB */
    int n1 = count_dumps(prefix);
    shrink_all(&have);
    grow_to(&have, 84);
    int n2 = count_dumps(prefix);
    grow_to(&have, 118); /* 7.7 MB */
    int n3 = count_dumps(prefix);
    say("dumps=%d %d %d\n", n1, n2, n3);
    if (n1 < 5 || n2 != n1 || n3 < n1 + 2) die("inuse: unexpected dump counts %d %d %d\n", n1, n2, n3);
  } else if (!strcmp(mode, "dealloc")) {
    int have = 0;
    grow_to(&have, 84);
    int n1 = count_dumps(prefix);
    shrink_all(&have);
    int n2 = count_dumps(prefix);
    say("dumps=%d %d\n", n1, n2);
    if (n1 != 0 || n2 < 5) die("dealloc: unexpected dump counts %d %d\n", n1, n2);
  } else if (!strcmp(mode, "time")) {
    double t0 = now();
    while (now() - t0 < 2.5)
      for (int i = 0; i < 1000; i++) alloc_chunk(64);
    int n = count_dumps(prefix);
    say("dumps=%d\n", n);
    if (n < 2) die("time: only %d dumps in 2.5 s\n", n);
  } else {
    die("unknown mode %s\n", mode);
  }
  return 0;
}
