/* Workloads with known shapes for the `heapscope report` tests.
 *
 *   rp_prog cpu MS     burn about MS ms of CPU through two call paths
 *                      (main -> path_a | path_b -> work_x/work_y/work_z,
 *                      plus a recursion), so no frame but main is common
 *                      to almost all samples (pprof strips such frames)
 *   rp_prog heap K     allocate a known pattern, scaled by K (1 or 2)
 *   rp_prog leak       leak a known set of blocks (for HEAPCHECK)
 *   rp_prog inline     an address inside inlined code: prints the
 *                      addresses of probe_outer's call sites
 *
 * Built -O0 with frame pointers and noinline functions (except the inline
 * case, which has its own -O2 build), so frames are exactly the source's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile double sink;
static volatile void *keep[4096];
static int nkeep;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

NOINLINE void work_x(int n) { double s = 0; for (int i = 0; i < n; i++) s += i * 0.5; sink = s; }
NOINLINE void work_y(int n) { double s = 0; for (int i = 0; i < n; i++) s += i * 0.25 + 1; sink = s; }
NOINLINE void work_z(int n) { double s = 1; for (int i = 0; i < n; i++) s = s * 1.0000001 + 1; sink = s; }
NOINLINE void rec(int depth, int n) {
  if (depth > 0) rec(depth - 1, n);
  else work_z(n);
}
NOINLINE void path_a(int n) { work_x(n); work_y(n / 2); }
NOINLINE void path_b(int n) { work_x(n / 2); rec(3, n); }

NOINLINE void *alloc_small(size_t n) { return malloc(n); }
NOINLINE void *alloc_big(size_t n) { return malloc(n); }
NOINLINE void alloc_freed(int k) {
  for (int i = 0; i < 20 * k; i++) free(malloc(3000));
}
NOINLINE void *rec_alloc(int depth) { return depth ? rec_alloc(depth - 1) : malloc(512); }
NOINLINE void heap_pattern(int k) {
  for (int i = 0; i < 10 * k; i++) keep[nkeep++] = alloc_small(100);
  for (int i = 0; i < 2 * k; i++) keep[nkeep++] = alloc_big(1 << 20);
  alloc_freed(k);
  keep[nkeep++] = rec_alloc(3);
}
NOINLINE void other_caller(int k) {
  for (int i = 0; i < 5; i++) keep[nkeep++] = alloc_small(40 * k);
}

NOINLINE void leak_some(void) {
  for (int i = 0; i < 3; i++) (void)alloc_small(64); /* lost at once */
  void *p = alloc_big(4096);
  p = NULL;
}

static inline __attribute__((always_inline)) int probe_inner(int x) {
  return x * 3 + (int)sink;
}
static inline __attribute__((always_inline)) int probe_middle(int x) {
  return probe_inner(x + 1) * 2;
}
NOINLINE int probe_outer(int x) { return probe_middle(x) + 1; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "cpu";
  if (!strcmp(mode, "cpu")) {
    double ms = argc > 2 ? atof(argv[2]) : 500, start = now_ms();
    while (now_ms() - start < ms) {
      path_a(200000);
      path_b(200000);
    }
  } else if (!strcmp(mode, "heap")) {
    int k = argc > 2 ? atoi(argv[2]) : 1;
    heap_pattern(k);
    other_caller(k);
    printf("heap done\n");
  } else if (!strcmp(mode, "leak")) {
    leak_some();
  } else if (!strcmp(mode, "inline")) {
    printf("%d\n", probe_outer(argc));
  } else {
    fprintf(stderr, "rp_prog: unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
