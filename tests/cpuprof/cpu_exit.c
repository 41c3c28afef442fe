/* Threads that exit while the profiler runs, each burning exactly one
 * sampling period's worth of its own CPU (UNIT seconds, default 10 ms):
 *   early_thread x N   created before ProfilerStart, released after it
 *                      (the profiler finds them in /proc/self/task)
 *   late_thread  x N   created after ProfilerStart
 * All have exited before ProfilerStop. A thread's CPU-clock timer expiry is
 * noticed only at a scheduler tick that finds the thread running: the time
 * a thread burns after its last such tick is owed by the timer but never
 * delivered, and only settling at the thread's exit puts it in the
 * profile. Prints "measured early_thread S" and "measured late_thread S".
 *
 *   cpu_exit PATH [UNIT [N]]     (linked with heapscope: the API) */
#include <gperftools/profiler.h>
#include <pthread.h>
#include <stdlib.h>

#include "cputest.h"

BURNER(f_early)
BURNER(f_late)

static double unit = 0.010;
static pthread_barrier_t go;

static void *early_thread(void *arg) {
  pthread_barrier_wait(&go);
  *(double *)arg = f_early(unit);
  return NULL;
}

static void *late_thread(void *arg) {
  *(double *)arg = f_late(unit);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (argc > 2) unit = atof(argv[2]);
  int n = argc > 3 ? atoi(argv[3]) : 40;
  if (n < 1 || n > 1000) return 2;
  pthread_t *t = calloc((size_t)n, sizeof *t);
  double *used = calloc((size_t)n, sizeof *used);
  if (!t || !used) return 2;
  pthread_barrier_init(&go, NULL, (unsigned)n + 1);
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, early_thread, &used[i])) return 2;
  if (!ProfilerStart(argv[1])) {
    fprintf(stderr, "ProfilerStart failed\n");
    return 2;
  }
  pthread_barrier_wait(&go);
  double early = 0, late = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(t[i], NULL);
    early += used[i];
  }
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, late_thread, &used[i])) return 2;
  for (int i = 0; i < n; i++) {
    pthread_join(t[i], NULL);
    late += used[i];
  }
  ProfilerStop();
  report("early_thread", early);
  report("late_thread", late);
  return 0;
}
