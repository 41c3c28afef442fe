/* A thread allocates, keeps the only pointer in a local and exits. glibc
 * caches the dead thread's stack (the pointer is still in that memory),
 * but a dead stack is not a root: this is a leak (gperftools #540 missed
 * it). */
#include "corpus.h"
#include <pthread.h>
#include <string.h>

NOINLINE void *thread_alloc(size_t n) {
  void *p = malloc(n); /* @te_alloc */
  memset(p, 7, n);
  return p;
}

static void *worker(void *arg) {
  (void)arg;
  void *volatile keep = thread_alloc(72); /* @te_call */
  (void)keep;
  return NULL;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL)) return 99;
  pthread_join(t, NULL);
  return 0;
}
