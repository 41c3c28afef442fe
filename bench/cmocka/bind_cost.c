/* What finding CMocka costs at start-up (adapters/cmocka/cmocka_bind.c): the
 * primitives it runs on /proc/self/exe, timed in this process. Built by
 * bench/cmocka/startup.sh against the runtime's internal archive.
 *   probes    a program without CMocka: its mapped read-only data and
 *             dynamic string table searched (all most processes pay)
 *   search    a CMocka suite: the file mapped, every symbol compared
 * Prints the first (cold) call and the median of 200 in microseconds; with
 * the argument "once", only the first call of the one kind named next
 * (what a process pays: startup.sh runs it many times). */
#include "core/module/exe_symbols.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *names[] = {"_cmocka_run_group_tests", "cm_print_error", "cmocka_print_error",
                              "_fail", "cmocka_set_test_filter", "cmocka_set_skip_filter",
                              "_run_tests"};
enum { N = sizeof names / sizeof names[0], RUNS = 200 };

static void time_it(const char *what, int kind) {
  double t[RUNS];
  for (int r = 0; r < RUNS; r++) {
    hs_exe_sym_t s[N];
    for (int i = 0; i < N; i++) s[i].name = names[i];
    double t0 = now_us();
    if (kind == 0) {
      if (!hs__exe_rodata_contains("CMOCKA_MESSAGE_OUTPUT")) hs__exe_dynstr_contains("cmocka");
    } else {
      hs__exe_symbols(s, N);
    }
    t[r] = now_us() - t0;
  }
  double first = t[0];
  qsort(t, RUNS, sizeof t[0], cmp);
  printf("%-8s first %7.1f us   median %7.1f us\n", what, first, t[RUNS / 2]);
}

static double once(int kind) {
  hs_exe_sym_t s[N];
  for (int i = 0; i < N; i++) s[i].name = names[i];
  double t0 = now_us();
  if (kind == 0) {
    if (!hs__exe_rodata_contains("CMOCKA_MESSAGE_OUTPUT")) hs__exe_dynstr_contains("cmocka");
  } else {
    hs__exe_symbols(s, N);
  }
  return now_us() - t0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "once")) {
    printf("%.1f\n", once(atoi(argv[2])));
    return 0;
  }
  time_it("probes", 0);
  time_it("search", 1);
  return 0;
}
