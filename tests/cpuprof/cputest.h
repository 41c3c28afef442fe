/* Helpers for the CPU profiler's test programs: burn loops that stop after
 * a given amount of the calling thread's CPU time, so the expected profile
 * does not depend on how loaded the machine is. */
#ifndef HEAPSCOPE_TESTS_CPUTEST_H
#define HEAPSCOPE_TESTS_CPUTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double thread_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline double process_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static volatile unsigned long cputest_sink;

/* Spins until this thread has used `seconds` more CPU; returns what it used. */
__attribute__((noinline)) static double burn_cpu(double seconds) {
  double t0 = thread_cpu(), now = t0;
  unsigned long x = (unsigned long)(t0 * 1e9);
  while ((now = thread_cpu()) - t0 < seconds)
    for (int i = 0; i < 20000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  cputest_sink = x;
  return now - t0;
}

/* A named function that calls `callee` and keeps its frame: noinline, and
 * a use of the result after the call (no tail call). */
#define CALLER(name, callee)                                       \
  __attribute__((noinline)) double name(double seconds);           \
  __attribute__((noinline)) double name(double seconds) {          \
    double used = callee(seconds);                                 \
    __asm__ volatile("" ::: "memory");                             \
    return used;                                                   \
  }

/* A named function whose whole CPU time is `burn_cpu` under it. */
#define BURNER(name) CALLER(name, burn_cpu)

static inline void report(const char *name, double seconds) {
  printf("measured %s %.6f\n", name, seconds);
  fflush(stdout);
}

#endif
