/* A library for stack.unwind_dlopen, built several ways (with CFI and no
 * frame pointer; frame pointers but no CFI at all; neither). Three real
 * frames between its entry point and malloc. */
#include <stddef.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

NOINLINE static void *lib_c(size_t n) {
  void *p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}
NOINLINE static void *lib_b(size_t n) {
  void *p = lib_c(n + 1);
  __asm__ volatile("" ::: "memory");
  return p;
}
NOINLINE void *unwlib_alloc(size_t n) {
  void *p = lib_b(n + 1);
  __asm__ volatile("" ::: "memory");
  return p;
}
