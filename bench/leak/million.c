/* One million 16-byte objects leaked from one site (5 frames deep), each
 * written with a non-pointer pattern as real data would be. Measures how
 * long a leak checker takes to find, group, symbolize and report them: the
 * program prints the CLOCK_MONOTONIC time at the end of main; the driver
 * subtracts it from the time the process ended.
 *   RESULT million leaked=1000000 main_end_ns=T */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

NOINLINE static void *make_record(uint64_t i) {
  uint64_t *p = malloc(16);
  p[0] = i * 2654435761u;       /* small integers: not pointers */
  p[1] = 0x1122334455667788ull;
  return p;
}
NOINLINE static void *level3(uint64_t i) { return make_record(i); }
NOINLINE static void *level2(uint64_t i) { return level3(i); }
NOINLINE static void leak_one(uint64_t i) {
  void *p = level2(i);
  __asm__ volatile("" ::"r"(p) : "memory");
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  for (long i = 0; i < n; i++) leak_one((uint64_t)i);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("RESULT million leaked=%ld main_end_ns=%llu\n", n,
         (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec);
  fflush(stdout);
  return 0;
}
