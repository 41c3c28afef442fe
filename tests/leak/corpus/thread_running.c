/* A thread still running at exit holds the only pointer to a block on its
 * stack: the block is reachable, not a leak. */
#include "corpus.h"
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <unistd.h>

static sem_t ready;

NOINLINE void *running_alloc(size_t n) {
  void *p = malloc(n); /* @tr_alloc */
  memset(p, 3, n);
  return p;
}

static void *worker(void *arg) {
  (void)arg;
  void *volatile mine = running_alloc(88);
  sem_post(&ready);
  for (;;) pause();
  return (void *)mine;
}

int main(void) {
  pthread_t t;
  sem_init(&ready, 0, 0);
  if (pthread_create(&t, NULL, worker, NULL)) return 99;
  while (sem_wait(&ready) != 0) {
  }
  return 0; /* exit() with the worker still blocked in pause() */
}
