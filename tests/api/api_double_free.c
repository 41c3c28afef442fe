/* Double frees, frees of pointers inside a block and realloc of freed
 * blocks abort with a "heapscope: invalid free" report, with and without
 * recording (HEAPCHECK=normal). Each case runs in a fresh child process
 * (this program re-executed with the case's name), so it starts from a
 * cold heap as the reproducers did, and its crash is contained.
 *
 * usage: api_double_free                 run every case, both modes
 *        api_double_free case NAME       run one case (the child) */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/check.h"
#include "child_stderr.h"

static volatile uintptr_t sink;

static void say_addr(void *p) {
  char msg[64];
  int len = snprintf(msg, sizeof msg, "ADDR %p\n", p);
  (void)!write(2, msg, (size_t)len);
}

/* After a missed double free: malloc hands the block out twice. */
static void show_duplicates(void) {
  void *seen[16];
  for (int i = 0; i < 16; i++) {
    seen[i] = malloc(32);
    for (int j = 0; j < i; j++)
      if (seen[j] == seen[i]) fprintf(stderr, "DUPLICATE %p\n", seen[i]);
  }
}

typedef struct {
  const char *name;
  const char *reason; /* expected in the report */
  int needs_recording; /* only caught with HEAPCHECK (documented limit) */
} case_t;

static const case_t cases[] = {
    {"immediate", "double free", 0},
    {"nonimmediate", "double free", 0},
    {"span_reused", "double free", 0},
    {"span_released", "double free", 1},
    {"interior16", "inside a block", 0},
    {"interior_tail", "inside a block", 0},
    {"realloc_freed_small", "free", 0}, /* "double free" with records */
    {"realloc_freed_grow", "free", 0},
    {"realloc_freed_large", "not allocated", 0},
    {"realloc_interior_large", "inside a block", 0},
};

static int run_case(const char *name) {
  if (!strcmp(name, "immediate")) {
    char *a = malloc(32);
    free(a);
    say_addr(a);
    free(a);
  } else if (!strcmp(name, "nonimmediate")) {
    /* A warm thread cache: a and b stay there after their frees. */
    void *warm[64];
    for (int i = 0; i < 64; i++) warm[i] = malloc(32);
    for (int i = 0; i < 64; i++) free(warm[i]);
    char *a = malloc(32), *b = malloc(32);
    free(a);
    free(b);
    say_addr(a);
    free(a);
    show_duplicates();
  } else if (!strcmp(name, "span_reused")) {
    /* Issue 9: a cold cache sends the frees to the span, which empties and
     * is reused by the next malloc(32). */
    char *a = malloc(32), *b = malloc(32), *x = malloc(32);
    free(a);
    free(b);
    free(x);
    sink += (uintptr_t)malloc(32);
    say_addr(a);
    free(a);
    show_duplicates();
  } else if (!strcmp(name, "span_released")) {
    /* As span_reused, but the emptied span's pages went back to the OS
     * (zeroed): no trace of the free is left in the block. */
    char *a = malloc(32), *b = malloc(32), *x = malloc(32);
    free(a);
    free(b);
    free(x);
    malloc_trim(0);
    sink += (uintptr_t)malloc(32);
    say_addr(a);
    free(a);
    show_duplicates();
  } else if (!strcmp(name, "interior16")) {
    char *a = malloc(100);
    say_addr(a + 16);
    free(a + 16);
    char *p = malloc(100);
    if (p == a + 16) fprintf(stderr, "OVERLAP %p\n", (void *)p);
  } else if (!strcmp(name, "interior_tail")) {
    /* 112-byte blocks: 73 fit in an 8 KiB span; the address after the last
     * block is a multiple of 16 inside the span but starts no block. */
    char *first = malloc(100);
    char *p = first;
    for (int i = 0; i < 200; i++) {
      char *q = malloc(100);
      if (q > p) p = q;
    }
    uintptr_t span = (uintptr_t)first & ~(uintptr_t)8191;
    char *tail = (char *)(span + 73 * 112);
    say_addr(tail);
    free(tail);
  } else if (!strcmp(name, "realloc_freed_small")) {
    /* Shrinking in place would hand the freed block back as live. */
    char *p = malloc(100), *q = malloc(100);
    free(p);
    free(q);
    say_addr(p);
    sink += (uintptr_t)realloc(p, 60);
  } else if (!strcmp(name, "realloc_freed_grow")) {
    char *p = malloc(100), *q = malloc(100);
    free(p);
    free(q);
    say_addr(p);
    sink += (uintptr_t)realloc(p, 5000);
  } else if (!strcmp(name, "realloc_freed_large")) {
    char *p = malloc(1 << 20);
    free(p);
    say_addr(p);
    sink += (uintptr_t)realloc(p, 2 << 20);
  } else if (!strcmp(name, "realloc_interior_large")) {
    char *p = malloc(1 << 20);
    say_addr(p + 8192);
    sink += (uintptr_t)realloc(p + 8192, 2 << 20);
  } else {
    fprintf(stderr, "unknown case %s\n", name);
    return 2;
  }
  fprintf(stderr, "NOT CAUGHT\n");
  return 0;
}

typedef struct case_run {
  const char *self, *name;
  int recording;
} case_run_t;

static void exec_case(int fd, const void *arg) {
  (void)fd;
  const case_run_t *run = arg;
  if (run->recording) setenv("HEAPCHECK", "normal", 1);
  else unsetenv("HEAPCHECK");
  execl(run->self, run->self, "case", run->name, (char *)NULL);
  _exit(127);
}

/* Runs `self case NAME` with HEAPCHECK set or unset; returns 0 when it
 * aborted with the expected report. */
static int check_case(const char *self, const case_t *c, int recording) {
  char out[8192];
  case_run_t run = {self, c->name, recording};
  int status = run_child_capturing_stderr(exec_case, &run, out, sizeof out);
  CHECK(status != -1);
  const char *mode = recording ? "HEAPCHECK=normal" : "plain";
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
    fprintf(stderr, "FAIL %s (%s): did not abort (status %#x), output:\n%s\n", c->name, mode,
            status, out);
    return 1;
  }
  char *a = strstr(out, "ADDR ");
  char addr[40];
  char want[128];
  if (!a || sscanf(a + 5, "%39s", addr) != 1) {
    fprintf(stderr, "FAIL %s (%s): no ADDR line:\n%s\n", c->name, mode, out);
    return 1;
  }
  snprintf(want, sizeof want, "heapscope: invalid free of %s: ", addr);
  char *report = strstr(out, want);
  if (!report || !strstr(report + strlen(want), c->reason)) {
    fprintf(stderr, "FAIL %s (%s): expected '%s...%s' in:\n%s\n", c->name, mode, want,
            c->reason, out);
    return 1;
  }
  printf("ok %s (%s)\n", c->name, mode);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "case")) return run_case(argv[2]);
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  CHECK(n > 0);
  self[n] = 0;
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (argc == 2 && strcmp(argv[1], cases[i].name)) continue;
    if (!cases[i].needs_recording) failed += check_case(self, &cases[i], 0);
    failed += check_case(self, &cases[i], 1);
  }
  if (failed) fprintf(stderr, "%d case(s) failed\n", failed);
  return failed ? 1 : 0;
}
