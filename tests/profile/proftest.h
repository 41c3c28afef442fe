/* Shared helpers for the heap-profile test programs. Output goes through
 * write(2), never stdio, so the programs' own allocation pattern is the only
 * thing in their profiles (stdio would add its 4 KiB buffer). */
#ifndef HS_PROFTEST_H
#define HS_PROFTEST_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))

static inline void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void say(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  if (n > 0 && write(1, buf, (size_t)n) < 0) _exit(99);
}

static inline void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static inline void die(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  if (n > 0 && write(2, buf, (size_t)n) < 0) _exit(99);
  _exit(1);
}

static inline int exists(const char *path) { return access(path, F_OK) == 0; }

/* PREFIX.NNNN.heap (or .pb.gz / .pb with ext) */
static inline const char *dump_name(char *buf, size_t n, const char *prefix, int i,
                                    const char *ext) {
  snprintf(buf, n, "%s.%04d.%s", prefix, i, ext);
  return buf;
}

/* Count consecutive dumps PREFIX.0001.heap .. upward. */
static inline int count_dumps(const char *prefix) {
  char buf[4200];
  int i = 1;
  while (exists(dump_name(buf, sizeof buf, prefix, i, "heap"))) i++;
  return i - 1;
}

/* Keep pointers alive where the compiler can not see them die. */
static void *volatile sink;
#endif
