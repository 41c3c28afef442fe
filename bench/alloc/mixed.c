/* mixed: mixed sizes from 8 B to 1 MiB with realloc growth (issue 17's
 * pathological workload).
 *
 * SLOTS live objects. Each op picks one at random and either (70%) frees it
 * and allocates a fresh one (80% 8 B..1 KiB, 15% 1..64 KiB, 5% 64 KiB..1 MiB)
 * or (30%) grows it with realloc to 1.5x + 16 B. Every page of a fresh
 * object and every new page of a grown one is written, so page faults on
 * fresh or released memory count. A grown object past 64 MiB is replaced
 * instead (rare: a slot grows about 0.4 times in a row on average).
 *
 * After the timed region every object is freed (end_kb: RSS right then);
 * the program then idles for IDLE_MS and does a short trickle of small and
 * medium allocations, as a program that goes on after its load would
 * (idle_kb: RSS after that). idle_kb shows whether the allocator gives back
 * memory it no longer uses, without malloc_trim.
 *
 * usage: mixed [ops=300000] [slots=2000] [idle_ms=1500] */
#include "bench.h"

#include <unistd.h>

#define GROW_LIMIT ((size_t)64 << 20)

static size_t fresh_size(bench_rng_t *r) {
  unsigned pick = (unsigned)(bench_rng_next(r) % 100);
  if (pick < 80) return bench_rng_range(r, 8, 1024);
  if (pick < 95) return bench_rng_range(r, 1025, 64 << 10);
  return bench_rng_range(r, (64 << 10) + 1, 1 << 20);
}

static void touch(char *p, size_t from, size_t to, long v) {
  for (size_t off = from; off < to; off += 4096) p[off] = (char)v;
  p[to - 1] = (char)v;
}

int main(int argc, char **argv) {
  long ops = bench_arg_long(argc, argv, 1, 300000);
  long nslots = bench_arg_long(argc, argv, 2, 2000);
  long idle_ms = bench_arg_long(argc, argv, 3, 1500);
  if (nslots < 1) nslots = 1;
  char **slot = calloc((size_t)nslots, sizeof *slot);
  size_t *len = calloc((size_t)nslots, sizeof *len);
  bench_rng_t r;
  bench_rng_seed(&r, 17);
  for (long k = 0; k < nslots; k++) {
    len[k] = fresh_size(&r);
    slot[k] = malloc(len[k]);
    touch(slot[k], 0, len[k], k);
  }
  long reallocs = 0;
  bench_clock_t t0 = bench_clock();
  for (long i = 0; i < ops; i++) {
    size_t k = (size_t)(bench_rng_next(&r) % (uint64_t)nslots);
    size_t old = len[k];
    size_t n = old + old / 2 + 16;
    if ((bench_rng_next(&r) % 100) < 70 || n > GROW_LIMIT) {
      free(slot[k]);
      n = fresh_size(&r);
      slot[k] = malloc(n);
      touch(slot[k], 0, n, i);
    } else {
      slot[k] = realloc(slot[k], n);
      touch(slot[k], old, n, i);
      reallocs++;
    }
    len[k] = n;
  }
  bench_clock_t t1 = bench_clock();
  long hwm, rss_load, hwm_end, rss_end, hwm_idle, rss_idle;
  bench_rss_kb(&hwm, &rss_load);
  for (long k = 0; k < nslots; k++) free(slot[k]);
  bench_rss_kb(&hwm_end, &rss_end);
  usleep((useconds_t)idle_ms * 1000);
  for (long i = 0; i < 2000; i++) {
    size_t n = (i & 15) ? bench_rng_range(&r, 8, 1024) : bench_rng_range(&r, 8192, 256 << 10);
    char *p = malloc(n);
    touch(p, 0, n, i);
    free(p);
  }
  bench_rss_kb(&hwm_idle, &rss_idle);
  free(slot);
  free(len);
  char extra[160];
  snprintf(extra, sizeof extra, "reallocs=%ld peak_kb=%ld load_kb=%ld end_kb=%ld idle_kb=%ld",
           reallocs, hwm, rss_load, rss_end, rss_idle);
  bench_report("mixed", t0, t1, ops, extra);
  return 0;
}
