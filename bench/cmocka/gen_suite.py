#!/usr/bin/env python3
"""Generate a CMocka suite of N small clean tests (each allocates and frees a
few blocks, as a typical unit test does)."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
print("#include <setjmp.h>\n#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>")
print("#include <stdlib.h>\n#include <string.h>\n#include <cmocka.h>\n")
print("__attribute__((noinline)) static char *dup_n(const char *s, int k) {")
print("  size_t n = strlen(s) + 8; char *p = malloc(n); memcpy(p, s, n - 8); p[n - 8] = (char)k; return p;\n}")
for i in range(n):
    print(f"static void t{i}(void **st) {{ (void)st; char *a = dup_n(\"test {i}\", {i % 7});")
    print(f"  int *v = calloc({i % 13 + 1}, sizeof *v); v[0] = {i}; assert_int_equal(v[0], {i});")
    print("  free(v); free(a); }")
print("int main(void) {\n  const struct CMUnitTest tests[] = {")
for i in range(n):
    print(f"    cmocka_unit_test(t{i}),")
print("  };\n  return cmocka_run_group_tests(tests, NULL, NULL);\n}")
