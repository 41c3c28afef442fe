/* Test library for dlopen/dlclose symbolization (-O0 -g). */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default"), noinline))

static int expected_line;

EXPORT uintptr_t testlib_return_address(void) {
  return (uintptr_t)__builtin_return_address(0);
}

static __attribute__((noinline)) uintptr_t testlib_static_caller(void) {
  expected_line = __LINE__; return testlib_return_address();
}

EXPORT uintptr_t testlib_entry(void) { return testlib_static_caller(); }

EXPORT int testlib_line(void) { return expected_line; }

EXPORT const char *testlib_file(void) { return __FILE__; }
