/* A thread that leaks one block and burns 50 ms of CPU in f_leak: its
 * stacks, in the leak report and in the CPU profile, must read
 * leaky_thread <- start_thread, with no frame of the runtime's between
 * (our pthread_create runs every thread's first instructions). */
#include <pthread.h>
#include <stdlib.h>

#include "cputest.h"

BURNER(f_leak)

static void *leaky_thread(void *arg) {
  void *volatile p = malloc(77);
  (void)p;
  *(double *)arg = f_leak(0.05);
  return NULL;
}

int main(void) {
  double used = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, leaky_thread, &used)) return 2;
  pthread_join(t, NULL);
  report("f_leak", used);
  return 0;
}
