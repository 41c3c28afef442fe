/* A known multi-threaded CPU pattern: fa on the main thread burns 1 unit
 * of CPU time, fb on one thread 2 units, fc on another 3 units; each
 * function's measured CPU time is printed ("measured NAME SECONDS").
 *
 *   cpu_pattern [UNIT]              threads start while CPUPROFILE profiles
 *   cpu_pattern_linked UNIT PATH    threads exist before ProfilerStart(PATH)
 */
#include <pthread.h>
#include <stdlib.h>
#ifdef CPUTEST_LINKED
#include <gperftools/profiler.h>
#endif

#include "cputest.h"

BURNER(fa)
BURNER(fb)
BURNER(fc)

static double unit = 0.1;
static double used_b, used_c;
static pthread_barrier_t go;

static void *thread_b(void *arg) {
  pthread_barrier_wait(&go);
  used_b = fb(2 * unit);
  return NULL;
}

static void *thread_c(void *arg) {
  pthread_barrier_wait(&go);
  used_c = fc(3 * unit);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) unit = atof(argv[1]);
  pthread_barrier_init(&go, NULL, 3);
  pthread_t b, c;
  pthread_create(&b, NULL, thread_b, NULL);
  pthread_create(&c, NULL, thread_c, NULL);
#ifdef CPUTEST_LINKED
  /* The threads exist already: the profiler finds them in /proc. */
  if (argc < 3 || !ProfilerStart(argv[2])) {
    fprintf(stderr, "ProfilerStart failed\n");
    return 2;
  }
#endif
  pthread_barrier_wait(&go);
  double used_a = fa(unit);
  pthread_join(b, NULL);
  pthread_join(c, NULL);
#ifdef CPUTEST_LINKED
  ProfilerStop();
#endif
  report("fa", used_a);
  report("fb", used_b);
  report("fc", used_c);
  report("process", process_cpu());
  return 0;
}
