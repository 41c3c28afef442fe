/* fragphase: fragmentation in phases (issue 17's footprint benchmark).
 *
 *  1. allocate SMALL_MIB MiB (requested bytes) of 16..256 B objects, each
 *     written in full;
 *  2. free 90% of them in random order (the survivors are spread evenly
 *     over the heap and pin whatever page or span they sit in);
 *  3. allocate BIG_MIB MiB of 1..8 KiB objects, written in full.
 *
 * Peak RSS (VmHWM) is the figure that matters: an allocator that can reuse
 * the holes left by phase 2 for phase 3's bigger objects, or give back the
 * pages phase 2 emptied, peaks lower. The ideal is about
 * SMALL_MIB / 10 + BIG_MIB plus the program's own arrays (the pointer
 * array: 8 B per phase-1 object, and the shuffled order: 4 B per object).
 *
 * With BENCH_MALLOC_STATS set, the allocator's MallocExtension_GetStats text
 * (tcmalloc, heapscope) goes to stderr after phase 2 and at the end of
 * phase 3 (the peak), to account for where the memory sits.
 *
 * usage: fragphase [small_mib=1024] [big_mib=512] */
#include "bench.h"

#include <dlfcn.h>

static void print_malloc_stats(const char *when) {
  if (!getenv("BENCH_MALLOC_STATS")) return;
  void (*stats)(char *, int) =
      (void (*)(char *, int))dlsym(RTLD_DEFAULT, "MallocExtension_GetStats");
  if (!stats) return;
  static char buf[16384];
  stats(buf, sizeof buf);
  long hwm, rss;
  bench_rss_kb(&hwm, &rss);
  fprintf(stderr, "fragphase %s: VmHWM %ld KiB, VmRSS %ld KiB\n%s", when, hwm, rss, buf);
}

int main(int argc, char **argv) {
  long small_mib = bench_arg_long(argc, argv, 1, 1024);
  long big_mib = bench_arg_long(argc, argv, 2, 512);
  size_t small_bytes = (size_t)small_mib << 20, big_bytes = (size_t)big_mib << 20;
  size_t cap = small_bytes / 136 + small_bytes / 1000 + 16; /* mean size 136 B */
  char **obj = malloc(cap * sizeof *obj);
  uint32_t *order = malloc(cap * sizeof *order);
  bench_rng_t r;
  bench_rng_seed(&r, 23);
  long ops = 0;
  bench_clock_t t0 = bench_clock();

  size_t n_small = 0, live = 0;
  while (live < small_bytes && n_small < cap) {
    size_t n = bench_rng_range(&r, 16, 256);
    char *p = malloc(n);
    memset(p, (int)n_small, n);
    obj[n_small++] = p;
    live += n;
    ops++;
  }
  long hwm1, rss1;
  bench_rss_kb(&hwm1, &rss1);

  for (size_t i = 0; i < n_small; i++) order[i] = (uint32_t)i;
  for (size_t i = n_small - 1; i > 0; i--) {
    size_t j = (size_t)(bench_rng_next(&r) % (i + 1));
    uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  size_t n_free = n_small / 10 * 9;
  for (size_t i = 0; i < n_free; i++) {
    free(obj[order[i]]);
    obj[order[i]] = NULL;
    ops++;
  }
  long hwm2, rss2;
  bench_rss_kb(&hwm2, &rss2);
  print_malloc_stats("after phase 2");

  size_t big_live = 0, n_big = 0;
  char **big = malloc((big_bytes / 1024 + 16) * sizeof *big);
  while (big_live < big_bytes) {
    size_t n = bench_rng_range(&r, 1024, 8192);
    char *p = malloc(n);
    memset(p, (int)n_big, n);
    big[n_big++] = p;
    big_live += n;
    ops++;
  }
  bench_clock_t t1 = bench_clock();
  long hwm3, rss3;
  bench_rss_kb(&hwm3, &rss3);
  print_malloc_stats("end of phase 3");

  for (size_t i = 0; i < n_big; i++) free(big[i]);
  for (size_t i = 0; i < n_small; i++) free(obj[i]);
  long hwm_end, rss_end;
  bench_rss_kb(&hwm_end, &rss_end);
  free(big);
  free(order);
  free(obj);
  char extra[256];
  snprintf(extra, sizeof extra,
           "peak_kb=%ld phase1_kb=%ld after_free_kb=%ld final_kb=%ld end_kb=%ld "
           "ideal_kb=%zu",
           hwm3, rss1, rss2, rss3, rss_end,
           ((n_small - n_free) * 136 + big_live + cap * 12) >> 10);
  bench_report("fragphase", t0, t1, ops, extra);
  return 0;
}
