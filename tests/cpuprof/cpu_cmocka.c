/* A CMocka suite under CPUPROFILE: samples taken while a test runs carry
 * its name (PATH.tests beside a legacy profile, labels in proto); the
 * group setup runs outside any test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cputest.h"

BURNER(f_group_setup)
BURNER(fa)
BURNER(fb)

static int group_setup(void **state) {
  f_group_setup(0.1);
  return 0;
}

static void test_a(void **state) { fa(0.12); }
static void test_b(void **state) { fb(0.2); }

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_a), cmocka_unit_test(test_b)};
  return cmocka_run_group_tests_name("cpu_suite", tests, group_setup, NULL);
}
