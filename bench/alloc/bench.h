/* Shared helpers for the allocator benchmarks in bench/alloc/.
 *
 * The benchmarks are plain C programs that call malloc/free/realloc and are
 * NOT linked against any allocator: bench/run-alloc.sh swaps allocators with
 * LD_PRELOAD. Each program prints exactly one line on stdout:
 *
 *   RESULT name=<bench> secs=<wall time of the timed region>
 *          cpu_secs=<process CPU time in it> ns_per_op=<wall ns per op>
 *          ops=<...> [extra key=value ...] alloc=<object defining malloc>
 *
 * "alloc=" names the object that actually provides the malloc the program
 * calls (dladdr on the resolved symbol), so a preload that silently failed
 * shows up as alloc=libc.so.6 instead of the expected library.
 *
 * Compile with -fno-builtin-malloc etc. (the script does): otherwise GCC may
 * delete a malloc/free pair whose pointer does not escape. */
#ifndef BENCH_ALLOC_BENCH_H
#define BENCH_ALLOC_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (all threads, user + system). Unlike wall
 * time it does not grow while the benchmark is preempted by other load, so
 * it is the steadier number on a busy machine; system time (page faults,
 * madvise, futex waits' syscalls) stays in, as it is the allocator's cost. */
static inline uint64_t bench_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Start/stop of the timed region: wall and CPU clocks together. */
typedef struct { uint64_t wall, cpu; } bench_clock_t;
static inline bench_clock_t bench_clock(void) {
  bench_clock_t c = {bench_now_ns(), bench_cpu_ns()};
  return c;
}

/* xorshift64*: cheap, deterministic, same stream for every allocator. */
typedef struct { uint64_t s; } bench_rng_t;
static inline void bench_rng_seed(bench_rng_t *r, uint64_t seed) {
  r->s = seed ? seed : 0x9E3779B97F4A7C15ull;
}
static inline uint64_t bench_rng_next(bench_rng_t *r) {
  uint64_t x = r->s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [lo, hi]. */
static inline size_t bench_rng_range(bench_rng_t *r, size_t lo, size_t hi) {
  return lo + (size_t)(bench_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Iteration count: argv[1] if given, else the program's default. */
static inline long bench_arg_long(int argc, char **argv, int idx, long dflt) {
  if (argc > idx && argv[idx][0]) return strtol(argv[idx], NULL, 10);
  return dflt;
}

/* Basename of the shared object that defines the malloc this process calls. */
static inline const char *bench_malloc_owner(void) {
  static char buf[256];
  void *sym = dlsym(RTLD_DEFAULT, "malloc");
  Dl_info info;
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return "unknown";
  const char *base = strrchr(info.dli_fname, '/');
  snprintf(buf, sizeof buf, "%s", base ? base + 1 : info.dli_fname);
  return buf;
}

/* VmHWM / VmRSS from /proc/self/status, in KiB (0 if unavailable). */
static inline void bench_rss_kb(long *hwm, long *rss) {
  *hwm = *rss = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "VmHWM:", 6)) *hwm = strtol(line + 6, NULL, 10);
    else if (!strncmp(line, "VmRSS:", 6)) *rss = strtol(line + 6, NULL, 10);
  }
  fclose(f);
}

/* Keeps a value alive so the optimiser cannot drop the work producing it. */
static volatile uintptr_t bench_sink;
static inline void bench_consume(const void *p) {
  bench_sink ^= (uintptr_t)p;
}

/* secs: wall time of the timed region; cpu_secs: process CPU time in it;
 * ns_per_op: wall ns per op. */
static inline void bench_report(const char *name, bench_clock_t t0,
                                bench_clock_t t1, long ops, const char *extra) {
  uint64_t ns = t1.wall - t0.wall, cpu = t1.cpu - t0.cpu;
  printf("RESULT name=%s secs=%.6f cpu_secs=%.6f ns_per_op=%.3f ops=%ld%s%s "
         "alloc=%s\n",
         name, ns / 1e9, cpu / 1e9,
         ops > 0 ? (double)ns / (double)ops : 0.0, ops,
         extra && *extra ? " " : "", extra ? extra : "", bench_malloc_owner());
  fflush(stdout);
}

#endif
