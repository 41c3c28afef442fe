/* A thread's cache goes back when the thread exits: 100 threads each churn
 * 1 MB of small objects and exit with a full cache; the heap must not grow
 * with the number of threads, and no dead thread's cache stays counted. */
#include <gperftools/malloc_extension_c.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"

static size_t prop(const char *name) {
  size_t v = 0;
  CHECKF(MallocExtension_GetNumericProperty(name, &v), "%s", name);
  return v;
}

static void *worker(void *arg) {
  uintptr_t seed = (uintptr_t)arg;
  enum { N = 4096 };
  void *p[N];
  size_t total = 0;
  int count = 0;
  /* 1 MB in small objects of mixed sizes, all freed: they end up in this
   * thread's cache. */
  while (total < (1u << 20)) {
    size_t n = 16 + ((seed * 7919 + (size_t)count * 104729) % 2000);
    CHECK(count < N);
    p[count] = malloc(n);
    CHECK(p[count]);
    memset(p[count], count, n);
    total += n;
    count++;
  }
  for (int i = 0; i < count; i++) free(p[i]);
  CHECK(prop("tcmalloc.thread_cache_free_bytes") > 0);
  return NULL;
}

static void run_threads(int count, int base) {
  for (int i = 0; i < count; i += 4) {
    pthread_t t[4];
    for (int j = 0; j < 4; j++)
      CHECK(pthread_create(&t[j], NULL, worker, (void *)(uintptr_t)(base + i + j)) == 0);
    for (int j = 0; j < 4; j++) CHECK(pthread_join(t[j], NULL) == 0);
  }
}

int main(void) {
  MallocExtension_MarkThreadIdle();
  size_t alloc0 = prop("generic.current_allocated_bytes");
  run_threads(12, 0);
  size_t heap1 = prop("generic.heap_size");
  size_t cache1 = prop("tcmalloc.thread_cache_free_bytes");
  run_threads(100, 12);
  size_t heap2 = prop("generic.heap_size");
  size_t cache2 = prop("tcmalloc.thread_cache_free_bytes");
  size_t alloc2 = prop("generic.current_allocated_bytes");
  printf("heap after 12 threads %zu, after 112 threads %zu; thread caches %zu -> %zu\n",
         heap1, heap2, cache1, cache2);
  /* Leaked caches would cost ~1 MB per thread: 100 MB here. */
  CHECKF(heap2 <= heap1 + (8u << 20), "heap grew %zu -> %zu", heap1, heap2);
  CHECKF(cache2 <= (256u << 10), "dead threads' caches still counted: %zu", cache2);
  CHECKF(alloc2 <= alloc0 + (512u << 10), "allocated bytes %zu -> %zu", alloc0, alloc2);
  puts("thread exit ok");
  return 0;
}
