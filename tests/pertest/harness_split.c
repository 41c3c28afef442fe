/* A hand-written test harness (no CMocka) that names its tests to both
 * profilers through the public calls: heapscope_profiler_set_test (heap)
 * and heapscope_cpu_profiler_set_test (CPU). tests/pertest/check_split.py
 * (case harness_split) runs it under HEAPPROFILE and checks the split with
 * `heapscope report --test=NAME` and `--tests`.
 *
 *   before every test   before_alloc: BEFORE bytes, kept to the end
 *   hand/test_one       one_alloc: ONE_BLOCKS x ONE_BLOCK, freed;
 *                       one_keep: KEEP bytes, freed by test_two (it stays
 *                       test_one's allocation, and leaves its in-use)
 *   between the tests   between_alloc: BETWEEN bytes, freed (no test's)
 *   hand/test_two       two_alloc: TWO_BLOCKS x TWO_BLOCK, freed, and
 *                       two_worker_alloc: WORKER bytes from a thread
 *   hand/test_empty     nothing (a test without a sample)
 * Argument "dump": a dump as test_two begins (HeapProfilerDump). */
#include <heapscope/heapscope.h>
#include <gperftools/heap-profiler.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEFORE 5000
#define ONE_BLOCKS 8
#define ONE_BLOCK 1024
#define KEEP 500
#define BETWEEN 2222
#define TWO_BLOCKS 3
#define TWO_BLOCK 300
#define WORKER 200

static void *kept, *before;
static int dump_in_two;

/* One function per allocation site, so the split can be checked by name. */
#define ALLOCATOR(name, fill)                                                                      \
  __attribute__((noinline)) void *name(size_t n) {                                              \
    void *p = malloc(n);                                                                           \
    if (p) memset(p, fill, n);                                                                     \
    return p;                                                                                      \
  }
ALLOCATOR(before_alloc, 1)
ALLOCATOR(one_alloc, 2)
ALLOCATOR(one_keep, 3)
ALLOCATOR(between_alloc, 4)
ALLOCATOR(two_alloc, 5)
ALLOCATOR(two_worker_alloc, 6)

static void test_one(void) {
  void *b[ONE_BLOCKS];
  for (int i = 0; i < ONE_BLOCKS; i++) b[i] = one_alloc(ONE_BLOCK);
  for (int i = 0; i < ONE_BLOCKS; i++) free(b[i]);
  kept = one_keep(KEEP);
}

static void *worker(void *arg) {
  free(two_worker_alloc(WORKER));
  return arg;
}

static void test_two(void) {
  if (dump_in_two) HeapProfilerDump("test_two begins");
  void *b[TWO_BLOCKS];
  for (int i = 0; i < TWO_BLOCKS; i++) b[i] = two_alloc(TWO_BLOCK);
  for (int i = 0; i < TWO_BLOCKS; i++) free(b[i]);
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) == 0) pthread_join(t, NULL);
  free(kept); /* test_one's block */
  kept = NULL;
}

static void test_empty(void) {}

/* The harness: what another framework's begin/end hooks would call. */
static void run_test(const char *name, void (*fn)(void)) {
  heapscope_profiler_set_test("hand", name);
  heapscope_cpu_profiler_set_test("hand", name);
  fn();
  heapscope_cpu_profiler_set_test(NULL, NULL);
  heapscope_profiler_set_test(NULL, NULL);
  printf("ok %s\n", name);
}

int main(int argc, char **argv) {
  dump_in_two = argc > 1 && !strcmp(argv[1], "dump");
  before = before_alloc(BEFORE);
  run_test("test_one", test_one);
  free(between_alloc(BETWEEN));
  run_test("test_two", test_two);
  run_test("test_empty", test_empty);
  free(before);
  return 0;
}
