/* Per-test diff cost (linked against libheapscope, run with
 * HEAPCHECK=local): with LIVE_MIB of live heap in 4 KiB blocks, a test-like
 * step (snapshot, 1000 malloc/free pairs, heapscope_leaks_since) is timed
 * RUNS times when nothing new stays live; then once when one new block
 * leaked (a full marking pass through the live heap).
 *   snapdiff [live_mib=1024] [runs=201]
 * Prints:
 *   RESULT snapdiff live_mib=M objects=N clean_us_median=.. clean_us_min=..
 *          clean_us_p90=.. clean_us_max=.. one_leak_ms=.. fill_ms=.. */
#define _GNU_SOURCE
#include <heapscope/heapscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
  int runs = argc > 2 ? atoi(argv[2]) : 201;
  if (!heapscope_is_recording()) {
    fprintf(stderr, "snapdiff: run with HEAPCHECK=local\n");
    return 2;
  }
  const size_t block = 4096;
  size_t count = mib * (1024 * 1024 / block);
  double t0 = now_us();
  void **blocks = malloc(count * sizeof *blocks);
  for (size_t i = 0; i < count; i++) {
    blocks[i] = malloc(block);
    memset(blocks[i], (int)i, 64);
  }
  double fill = now_us() - t0;
  double *us = malloc((size_t)runs * sizeof *us);
  int bad = 0;
  for (int r = 0; r < runs; r++) {
    heapscope_snapshot_t s = heapscope_snapshot();
    for (int i = 0; i < 1000; i++) free(malloc((size_t)(16 + i % 512)));
    double a = now_us();
    heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
    us[r] = now_us() - a;
    if (l) bad++;
    heapscope_leaks_free(l);
  }
  qsort(us, (size_t)runs, sizeof *us, cmp_double);
  heapscope_snapshot_t s = heapscope_snapshot();
  void *leak = malloc(24);
  memset(leak, 0, 24);
  __asm__ volatile("" ::"r"(leak) : "memory");
  leak = NULL;
  double a = now_us();
  heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  double one = now_us() - a;
  if (!l) bad++;
  heapscope_leaks_free(l);
  printf("RESULT snapdiff live_mib=%zu objects=%zu clean_us_median=%.2f clean_us_min=%.2f "
         "clean_us_p90=%.2f clean_us_max=%.2f one_leak_ms=%.1f fill_ms=%.0f wrong=%d\n",
         mib, count, us[runs / 2], us[0], us[runs * 9 / 10], us[runs - 1], one / 1e3, fill / 1e3,
         bad);
  for (size_t i = 0; i < count; i++) free(blocks[i]);
  free(blocks);
  free(us);
  return bad ? 1 : 0;
}
