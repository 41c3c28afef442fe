/* frag: fragmentation and memory footprint.
 *
 *  1. allocate OBJS objects of mixed sizes in random order (70% 16..256 B,
 *     25% 257..2048 B, 5% 2049..16384 B) and write all of them;
 *  2. free 4 of every 5 (keep i % 5 == 0): the survivors are spread evenly
 *     over the heap, pinning every page/span they sit in;
 *  3. allocate bigger objects (1..32 KiB) until the live bytes are back to
 *     60% of the phase-1 total, writing them; then free a random half of
 *     them and allocate again (two rounds), so holes are reused or not.
 *
 * Reports VmHWM (peak RSS) and VmRSS at the end of phase 3 ("final"), after
 * phase 2 and after freeing everything, all in KiB, plus the bytes the
 * program asked for at the peak and at the end. The script also records the
 * peak RSS of the process with /usr/bin/time -f %M. Lower is better; a
 * perfect allocator would sit near live_kb. With BENCH_MALLOC_STATS set, the
 * allocator's MallocExtension_GetStats text (tcmalloc, heapscope) goes to
 * stderr at the end of phase 3.
 *
 * usage: frag [objs=400000] */
#include "bench.h"

static size_t small_mix(bench_rng_t *r) {
  unsigned pick = (unsigned)(bench_rng_next(r) % 100);
  if (pick < 70) return bench_rng_range(r, 16, 256);
  if (pick < 95) return bench_rng_range(r, 257, 2048);
  return bench_rng_range(r, 2049, 16384);
}

int main(int argc, char **argv) {
  long objs = bench_arg_long(argc, argv, 1, 400000);
  bench_rng_t r;
  bench_rng_seed(&r, 11);
  char **obj = calloc((size_t)objs, sizeof *obj);
  size_t *len = calloc((size_t)objs, sizeof *len);
  size_t live = 0, peak_live = 0;
  long ops = 0;
  bench_clock_t t0 = bench_clock();

  /* Phase 1 */
  for (long i = 0; i < objs; i++) {
    size_t n = small_mix(&r);
    obj[i] = malloc(n);
    memset(obj[i], (int)i, n);
    len[i] = n;
    live += n;
    ops++;
  }
  size_t phase1 = live;
  peak_live = live;

  /* Phase 2 */
  for (long i = 0; i < objs; i++) {
    if (i % 5 == 0) continue;
    free(obj[i]);
    live -= len[i];
    obj[i] = NULL;
    ops++;
  }
  long hwm2, rss2;
  bench_rss_kb(&hwm2, &rss2);

  /* Phase 3: bigger objects reuse the freed slots of obj[]. */
  size_t target = phase1 / 10 * 6;
  for (int round = 0; round < 3; round++) {
    for (long i = 0; i < objs && live < target; i++) {
      if (i % 5 == 0 || obj[i]) continue;
      size_t n = bench_rng_range(&r, 1024, 32768);
      obj[i] = malloc(n);
      memset(obj[i], (int)i, n);
      len[i] = n;
      live += n;
      ops++;
    }
    if (live > peak_live) peak_live = live;
    if (round == 2) break;
    for (long i = 0; i < objs; i++) {
      if (i % 5 == 0 || !obj[i] || (bench_rng_next(&r) & 1)) continue;
      free(obj[i]);
      live -= len[i];
      obj[i] = NULL;
      ops++;
    }
  }
  bench_clock_t t1 = bench_clock();
  long hwm, rss;
  bench_rss_kb(&hwm, &rss);
  if (getenv("BENCH_MALLOC_STATS")) {
    /* tcmalloc and heapscope: their own view of where the memory sits. */
    void (*stats)(char *, int) =
        (void (*)(char *, int))dlsym(RTLD_DEFAULT, "MallocExtension_GetStats");
    if (stats) {
      static char buf[16384];
      stats(buf, sizeof buf);
      fputs(buf, stderr);
    }
  }
  size_t final_live = live;

  for (long i = 0; i < objs; i++) free(obj[i]);
  long hwm_end, rss_end;
  bench_rss_kb(&hwm_end, &rss_end);
  free(obj);
  free(len);

  char extra[256];
  snprintf(extra, sizeof extra,
           "peak_kb=%ld final_kb=%ld after_free_kb=%ld end_kb=%ld "
           "peak_live_kb=%zu final_live_kb=%zu",
           hwm, rss, rss2, rss_end, peak_live >> 10, final_live >> 10);
  bench_report("frag", t0, t1, ops, extra);
  return 0;
}
