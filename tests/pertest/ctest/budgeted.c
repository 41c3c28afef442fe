/* Three CMocka tests for the CTest module's budgets and measurements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((noinline)) static void *grow_big(size_t n) {
  void *p = malloc(n);
  memset(p, 1, n);
  return p;
}

static void test_small(void **state) {
  (void)state;
  void *volatile p = malloc(100);
  free(p);
}

static void test_big(void **state) {
  (void)state;
  void *p = grow_big(8 << 20);
  free(p);
}

static void test_spin(void **state) {
  (void)state;
  struct timespec t;
  double until;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  until = (double)t.tv_sec + (double)t.tv_nsec / 1e9 + 0.2;
  do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  while ((double)t.tv_sec + (double)t.tv_nsec / 1e9 < until);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small),
      cmocka_unit_test(test_big),
      cmocka_unit_test(test_spin),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
