/* Like thread_running, but the thread blocks every signal and waits in
 * sigwait(), as signal-handling threads of daemons do. Its stack holds the
 * only pointer to a block: not a leak. A checker that stops threads with a
 * signal cannot stop this one and must still treat its stack as a root. */
#include "corpus.h"
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>

static sem_t ready;

NOINLINE void *blocked_alloc(size_t n) {
  void *p = malloc(n); /* @sb_alloc */
  memset(p, 4, n);
  return p;
}

static void *worker(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  void *volatile mine = blocked_alloc(80); /* @sb_call */
  sem_post(&ready);
  int sig;
  for (;;) sigwait(&all, &sig);
  return (void *)mine;
}

int main(void) {
  pthread_t t;
  sem_init(&ready, 0, 0);
  if (pthread_create(&t, NULL, worker, NULL)) return 99;
  while (sem_wait(&ready) != 0) {
  }
  return 0;
}
