/* Tiny assertion helpers for heapscope's own tests: print file:line and the
 * failed condition (with a printf-style detail) and exit 1. They use stdio
 * only on failure, so they add no allocations to the code under test. */
#ifndef HEAPSCOPE_TESTS_CHECK_H
#define HEAPSCOPE_TESTS_CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

#define CHECKF(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)
#endif
