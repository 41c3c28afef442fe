/* A second library with testlib's shape, loaded after testlib was closed:
 * it usually lands at the same addresses, and epochs must tell them apart. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default"), noinline))

static int expected_line;

EXPORT uintptr_t other_return_address(void) {
  return (uintptr_t)__builtin_return_address(0);
}

static __attribute__((noinline)) uintptr_t other_static_caller(void) {
  expected_line = __LINE__; return other_return_address();
}

EXPORT uintptr_t other_entry(void) { return other_static_caller(); }

EXPORT int other_line(void) { return expected_line; }

EXPORT const char *other_file(void) { return __FILE__; }
