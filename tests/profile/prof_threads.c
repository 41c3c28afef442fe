/* Four threads allocate concurrently under their own named functions.
 * Thread i (0..3): (i+1)*500 objects of 48*(i+1) bytes, every other one
 * freed, so leaf thread_work_i = (i+1)*250: (i+1)^2*12000 [(i+1)*500:
 * (i+1)^2*24000]. Dumped at exit (HEAPPROFILE). */
#include "proftest.h"

#include <pthread.h>

static pthread_barrier_t barrier;

static void work(int i, void **slots) {
  int n = (i + 1) * 500;
  size_t size = 48u * (size_t)(i + 1);
  pthread_barrier_wait(&barrier);
  for (int k = 0; k < n; k++) slots[k] = malloc(size);
  for (int k = 0; k < n; k += 2) free(slots[k]);
}

NOINLINE void thread_work_0(void **s) { work(0, s); }
NOINLINE void thread_work_1(void **s) { work(1, s); }
NOINLINE void thread_work_2(void **s) { work(2, s); }
NOINLINE void thread_work_3(void **s) { work(3, s); }

static void *slots[4][2000];

static void *run(void *arg) {
  int i = (int)(long)arg;
  void (*fns[4])(void **) = {thread_work_0, thread_work_1, thread_work_2, thread_work_3};
  fns[i](slots[i]);
  return NULL;
}

int main(void) {
  pthread_t t[4];
  pthread_barrier_init(&barrier, NULL, 4);
  for (long i = 0; i < 4; i++)
    if (pthread_create(&t[i], NULL, run, (void *)i)) die("pthread_create\n");
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  say("threads done\n");
  return 0;
}
