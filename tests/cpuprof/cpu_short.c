/* Threads that each run for less than a sampling period: 160 threads, one
 * after another, each burning 4 ms of CPU in f_short (at 100 Hz a period
 * is 10 ms). With a first expiry drawn at random in (0, period] about 40 %
 * of them owe a period. A CPU-clock expiry is delivered only at a tick
 * that finds the thread running, so some are sampled in f_short; the
 * others' periods are settled at their exit, on their start routine
 * (short_thread). With a fixed first expiry of one period none would be
 * sampled at all. Prints "measured f_short S". */
#include <pthread.h>

#include "cputest.h"

BURNER(f_short)

static void *short_thread(void *arg) {
  *(double *)arg = f_short(0.004);
  return NULL;
}

int main(void) {
  double total = 0;
  for (int i = 0; i < 160; i++) {
    double used = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, short_thread, &used)) return 2;
    pthread_join(t, NULL);
    total += used;
  }
  report("f_short", total);
  return 0;
}
