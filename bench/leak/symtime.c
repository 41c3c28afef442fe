/* Time to symbolize the first leak report (linked against libheapscope,
 * HEAPCHECK=local). GROUPS distinct leak stacks, each DEPTH frames deep
 * through this program, then heapscope_leaks_report(): the first call
 * symbolizes with cold caches (reads DWARF of this program and libc); the
 * second, on a fresh diff of the same leaks, shows the warm cost.
 *   symtime [groups=20]
 *   RESULT symtime groups=G frames=F first_report_ms=.. warm_report_ms=..
 *          diff_ms=.. */
#define _GNU_SOURCE
#include <heapscope/heapscope.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *volatile sink;

/* 20 leaf sites x a 10-deep chain: distinct stacks per (site, group). */
#define SITE(k)                                                                \
  NOINLINE static void leak_site_##k(size_t n) {                               \
    void *p = malloc(n + k);                                                   \
    memset(p, 0, n + k);                                                       \
    sink = NULL;                                                               \
    __asm__ volatile("" ::"r"(p) : "memory");                                  \
  }
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7) SITE(8) SITE(9)
SITE(10) SITE(11) SITE(12) SITE(13) SITE(14) SITE(15) SITE(16) SITE(17) SITE(18) SITE(19)
static void (*const sites[20])(size_t) = {
    leak_site_0,  leak_site_1,  leak_site_2,  leak_site_3,  leak_site_4,
    leak_site_5,  leak_site_6,  leak_site_7,  leak_site_8,  leak_site_9,
    leak_site_10, leak_site_11, leak_site_12, leak_site_13, leak_site_14,
    leak_site_15, leak_site_16, leak_site_17, leak_site_18, leak_site_19};

NOINLINE static void chain(int depth, int site) {
  if (depth == 0) {
    sites[site](32);
    return;
  }
  chain(depth - 1, site);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
  int groups = argc > 1 ? atoi(argv[1]) : 20;
  if (groups < 1 || groups > 20) groups = 20;
  if (!heapscope_is_recording()) {
    fprintf(stderr, "symtime: run with HEAPCHECK=local\n");
    return 2;
  }
  heapscope_snapshot_t s = heapscope_snapshot();
  for (int g = 0; g < groups; g++) chain(10, g);
  double a = now_ms();
  heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  double b = now_ms();
  if (!l) {
    fprintf(stderr, "symtime: no leaks found\n");
    return 1;
  }
  size_t frames = 0;
  for (size_t i = 0; i < l->group_count; i++) frames += l->groups[i].depth;
  const char *r1 = heapscope_leaks_report(l);
  double c = now_ms();
  heapscope_leaks_t *l2 = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  double d = now_ms();
  const char *r2 = heapscope_leaks_report(l2);
  double e = now_ms();
  int ok = strstr(r1, "leak_site_0") && strstr(r1, "symtime.c:") && strlen(r1) == strlen(r2);
  printf("RESULT symtime groups=%zu frames=%zu first_report_ms=%.2f warm_report_ms=%.2f "
         "diff_ms=%.2f report_bytes=%zu ok=%d\n",
         l->group_count, frames, c - b, e - d, b - a, strlen(r1), ok);
  heapscope_leaks_free(l);
  heapscope_leaks_free(l2);
  return ok ? 0 : 1;
}
