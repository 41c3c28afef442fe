/* realloc: mixed sizes with realloc growth up to 1 MiB.
 *
 * SLOTS buffers; each op picks one at random. An empty slot gets a fresh
 * malloc of 16..1024 B; a full one grows by realloc to 1.25x..2x its size
 * (plus a little), and once past 1 MiB it is freed. Every page of newly
 * grown space is written once, so page faults from fresh or released memory
 * are part of the cost. Exercises realloc in place vs move+copy across all
 * size ranges (small classes, page-sized spans, large/mmapped blocks) and
 * the large-object paths (page heap, mremap, decay/purge of freed pages).
 * One op = one malloc, realloc or free.
 *
 * usage: realloc [ops=150000] [slots=64] */
#include "bench.h"

#define LIMIT ((size_t)1 << 20)

int main(int argc, char **argv) {
  long ops = bench_arg_long(argc, argv, 1, 150000);
  long nslots = bench_arg_long(argc, argv, 2, 64);
  if (nslots < 1) nslots = 1;
  char **slot = calloc((size_t)nslots, sizeof *slot);
  size_t *len = calloc((size_t)nslots, sizeof *len);
  bench_rng_t r;
  bench_rng_seed(&r, 3);
  long reallocs = 0;
  bench_clock_t t0 = bench_clock();
  for (long i = 0; i < ops; i++) {
    size_t k = (size_t)(bench_rng_next(&r) % (uint64_t)nslots);
    if (!slot[k]) {
      size_t n = bench_rng_range(&r, 16, 1024);
      char *p = malloc(n);
      p[0] = p[n - 1] = (char)i;
      slot[k] = p;
      len[k] = n;
      continue;
    }
    size_t old = len[k];
    size_t n = old + old / 4 + bench_rng_range(&r, 0, old * 3 / 4) +
               bench_rng_range(&r, 0, 64);
    if (n > LIMIT) {
      free(slot[k]);
      slot[k] = NULL;
      continue;
    }
    char *p = realloc(slot[k], n);
    for (size_t off = old; off < n; off += 4096) p[off] = (char)i;
    p[n - 1] = (char)i;
    slot[k] = p;
    len[k] = n;
    reallocs++;
  }
  bench_clock_t t1 = bench_clock();
  for (long k = 0; k < nslots; k++) free(slot[k]);
  free(slot);
  free(len);
  char extra[64];
  snprintf(extra, sizeof extra, "reallocs=%ld", reallocs);
  bench_report("realloc", t0, t1, ops, extra);
  return 0;
}
