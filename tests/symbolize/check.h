/* Minimal checks for the symbolizer tests (stdio is fine in test code). */
#ifndef HS_SYM_TEST_CHECK_H
#define HS_SYM_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);  \
      check_failures++;                                                      \
    }                                                                        \
  } while (0)
#define CHECK_STR(a, b)                                                      \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" vs \"%s\")\n",  \
              __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",                \
              b_ ? b_ : "(null)");                                           \
      check_failures++;                                                      \
    }                                                                        \
  } while (0)
#define CHECK_INT(a, b)                                                      \
  do {                                                                       \
    long long a_ = (long long)(a), b_ = (long long)(b);                      \
    if (a_ != b_) {                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n",      \
              __FILE__, __LINE__, #a, #b, a_, b_);                           \
      check_failures++;                                                      \
    }                                                                        \
  } while (0)
#define CHECK_DONE()                                                         \
  do {                                                                       \
    if (check_failures) {                                                    \
      fprintf(stderr, "%d check(s) failed\n", check_failures);              \
      return 1;                                                              \
    }                                                                        \
    printf("ok\n");                                                          \
    return 0;                                                                \
  } while (0)

static inline int ends_with(const char *s, const char *suffix) {
  size_t a = s ? strlen(s) : 0, b = strlen(suffix);
  return s && a >= b && strcmp(s + a - b, suffix) == 0;
}
#endif
