/* Workloads for the CPU profiler benchmark (bench/cpuprof/run.sh). A fixed
 * amount of work, so a profiler's cost shows as extra time.
 *
 *   cpuwork cpu N        N rounds of compute at the bottom of a 30-deep
 *                        call chain (the stack a sample unwinds)
 *   cpuwork syscall N    N rounds of small system calls (getppid, a 64-byte
 *                        read from /dev/zero, a write to /dev/null) with a
 *                        little compute between them
 *   cpuwork nothing      returns at once (start-up cost)
 *
 * Prints "cpu_s=S" (process CPU time, user+system, at the end). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long leaf(unsigned long x) {
  for (int i = 0; i < 4000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return x;
}

__attribute__((noinline)) static unsigned long chain(int depth, unsigned long x) {
  if (depth == 0) return leaf(x);
  unsigned long r = chain(depth - 1, x + (unsigned long)depth);
  __asm__ volatile("" ::: "memory"); /* no tail call: keep every frame */
  return r ^ (unsigned long)depth;
}

__attribute__((noinline)) static void syscalls(long rounds) {
  int zero = open("/dev/zero", O_RDONLY), null = open("/dev/null", O_WRONLY);
  char buf[64];
  unsigned long x = 1;
  for (long i = 0; i < rounds; i++) {
    x += (unsigned long)syscall(SYS_getppid);
    if (read(zero, buf, sizeof buf) != (ssize_t)sizeof buf) abort();
    if (write(null, buf, sizeof buf) != (ssize_t)sizeof buf) abort();
    for (int k = 0; k < 200; k++) x = x * 6364136223846793005ul + 1;
  }
  sink = x;
  close(zero);
  close(null);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "nothing";
  long n = argc > 2 ? atol(argv[2]) : 0;
  if (!strcmp(what, "cpu")) {
    unsigned long x = 0;
    for (long i = 0; i < n; i++) x += chain(30, (unsigned long)i);
    sink = x;
  } else if (!strcmp(what, "syscall")) {
    syscalls(n);
  }
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  printf("cpu_s=%.6f\n", (double)t.tv_sec + (double)t.tv_nsec * 1e-9);
  return 0;
}
