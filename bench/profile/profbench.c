/* Heap-profiler benchmark workload: millions of allocations made through
 * call stacks 5..30 frames deep, with a steady live set.
 *
 *   profbench [ALLOCS [LIVE [ROUTES [SEED]]]]
 *     ALLOCS  allocations (default 7000000); each one replaces a random
 *             slot of the live window, freeing the slot's old object
 *     LIVE    live window, objects (default 100000)
 *     ROUTES  distinct call paths (default 1024): route r descends through
 *             5 + r%26 frames, each frame one of four functions chosen by
 *             two bits of r, so ROUTES is (about) the number of distinct
 *             stacks the profiler sees
 *     SEED    xorshift seed (default 1): every run makes identical requests
 *
 * Sizes: 16..512 bytes, one allocation in 64 is 4..32 KiB.
 * Prints one line:
 *   RESULT secs=S cpu_secs=C ns_per_alloc=N cpu_ns_per_alloc=M allocs=A live=L
 *          routes=R internal_kb=K alloc=LIB
 * secs (wall) and cpu_secs (process CPU time, less sensitive to other load
 * on the machine) cover the allocation loop only: not start-up, not the
 * exit-time profile dump. internal_kb is heapscope's internal heap (stack depot,
 * per-object records, ...) when heapscope is the allocator, else -1. LIB is
 * the object that defines the malloc this program calls (dladdr). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static uint64_t rng;
static inline uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Four interchangeable frames; the route's bits pick one per level. The
 * volatile sink keeps the calls from becoming tail calls or being folded. */
static void *volatile sink;
NOINLINE void *frame_a(uint64_t route, int left, size_t n);
NOINLINE void *frame_b(uint64_t route, int left, size_t n);
NOINLINE void *frame_c(uint64_t route, int left, size_t n);
NOINLINE void *frame_d(uint64_t route, int left, size_t n);

static inline void *descend(uint64_t route, int left, size_t n) {
  if (left <= 0) return malloc(n);
  switch (route & 3) {
  case 0: return frame_a(route >> 2 | route << 62, left - 1, n);
  case 1: return frame_b(route >> 2 | route << 62, left - 1, n);
  case 2: return frame_c(route >> 2 | route << 62, left - 1, n);
  default: return frame_d(route >> 2 | route << 62, left - 1, n);
  }
}
NOINLINE void *frame_a(uint64_t route, int left, size_t n) {
  void *p = descend(route, left, n);
  sink = p;
  return p;
}
NOINLINE void *frame_b(uint64_t route, int left, size_t n) {
  void *p = descend(route, left, n);
  sink = p;
  return p;
}
NOINLINE void *frame_c(uint64_t route, int left, size_t n) {
  void *p = descend(route, left, n);
  sink = p;
  return p;
}
NOINLINE void *frame_d(uint64_t route, int left, size_t n) {
  void *p = descend(route, left, n);
  sink = p;
  return p;
}

int main(int argc, char **argv) {
  long allocs = argc > 1 ? atol(argv[1]) : 7000000;
  long live = argc > 2 ? atol(argv[2]) : 100000;
  long nroutes = argc > 3 ? atol(argv[3]) : 1024;
  rng = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
  if (allocs < 1 || live < 1 || nroutes < 1 || !rng) {
    fprintf(stderr, "usage: profbench [ALLOCS [LIVE [ROUTES [SEED]]]]\n");
    return 2;
  }
  /* Routes: a 64-bit pattern plus a depth of 5..30 frames (the frames below
   * main: descend's frame_* chain; malloc's caller is the last of them). */
  uint64_t *route = calloc((size_t)nroutes, sizeof *route);
  int *depth = calloc((size_t)nroutes, sizeof *depth);
  void **slot = calloc((size_t)live, sizeof *slot);
  if (!route || !depth || !slot) return 2;
  for (long i = 0; i < nroutes; i++) {
    route[i] = next();
    depth[i] = 5 + (int)(i % 26);
  }

  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  for (long i = 0; i < allocs; i++) {
    uint64_t r = next();
    long s = (long)(r % (uint64_t)live);
    long k = (long)((r >> 20) % (uint64_t)nroutes);
    size_t n = (r >> 40) & 63 ? 16 + ((r >> 44) % 497) : 4096 + ((r >> 44) % 28673);
    free(slot[s]);
    slot[s] = descend(route[k], depth[k] - 1, n);
    ((char *)slot[s])[0] = 1;
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;

  long internal_kb = -1;
  int (*prop)(const char *, size_t *) =
      (int (*)(const char *, size_t *))dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
  size_t v;
  if (prop && prop("heapscope.internal_bytes", &v)) internal_kb = (long)(v >> 10);

  Dl_info info;
  const char *lib = "?";
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  if (m && dladdr(m, &info) && info.dli_fname) {
    lib = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
  }
  printf("RESULT secs=%.4f cpu_secs=%.4f ns_per_alloc=%.1f cpu_ns_per_alloc=%.1f allocs=%ld "
         "live=%ld routes=%ld internal_kb=%ld alloc=%s\n",
         secs, cpu, secs * 1e9 / (double)allocs, cpu * 1e9 / (double)allocs, allocs, live,
         nroutes, internal_kb, lib);
  /* Leave the live set allocated: the exit-time dump then has something to
   * write, as a real program's would. */
  return 0;
}
