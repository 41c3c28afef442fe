/* A thread's exit on one thread while another stops the CPU profile. An
 * exiting thread settles the periods its timer owed into the live file
 * (cpuprof_sampler.c: on_thread_exit), as a test boundary does on the
 * test's thread; ProfilerStop closes and unmaps that file once no signal
 * handler uses it. The settle must count as such a user: it wrote into
 * the unmapped file (SIGSEGV), as a program whose threads end while it
 * stops the profile (at exit, say) would.
 *
 * The interleaving is made certain with this program's own clock_gettime,
 * which the settle reads the thread's CPU clock with: on the exiting
 * thread, once, it lets the main thread stop the profile before it
 * returns (waiting at most 300 ms, for a runtime that makes the stop wait
 * for the settle), and reports a second more CPU time than the thread
 * used, so the settle has periods to add.
 *
 *   cpu_exit_stop PROFILE */
#include "cputest.h"

#include <gperftools/profiler.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread int hook_armed;
static atomic_int hooked, stopping, stopped;

static double now_s(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
  if (syscall(SYS_clock_gettime, clk, ts) != 0) return -1;
  if (hook_armed && clk == CLOCK_THREAD_CPUTIME_ID) {
    hook_armed = 0;
    atomic_store(&hooked, 1);
    double t0 = now_s();
    while (!atomic_load(&stopped) && !(atomic_load(&stopping) && now_s() - t0 > 0.3) &&
           now_s() - t0 < 5)
      usleep(1000);
    ts->tv_sec += 1;
  }
  return 0;
}

static void *worker(void *arg) {
  (void)arg;
  burn_cpu(0.03);
  hook_armed = 1; /* the settle at its exit reads its CPU clock */
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  if (!ProfilerStart(argv[1])) return 2;
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  double t0 = now_s();
  while (!atomic_load(&hooked)) {
    if (now_s() - t0 > 10) {
      fprintf(stderr, "the thread's exit did not settle: nothing tested\n");
      return 2;
    }
    usleep(1000);
  }
  atomic_store(&stopping, 1);
  ProfilerStop();
  atomic_store(&stopped, 1);
  pthread_join(t, NULL);
  printf("ok: a thread's exit and ProfilerStop did not overlap\n");
  return 0;
}
