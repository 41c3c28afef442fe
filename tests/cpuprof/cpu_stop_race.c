/* ProfilerStop on the main thread while another thread writes into the
 * live profile file outside the signal handler. The stop closes and
 * unmaps that file once nothing uses it; each of these writers must count
 * as a user (or hold the profiler's control flag), else it writes through
 * the unmapped file (SIGSEGV) or grows whichever file got the closed
 * descriptor's number:
 *
 *   unload  a dlclose: the library's maps lines are appended first
 *           (cpuprof.c: before_unload)
 *   exit    a thread's exit: the periods its timer owed are settled into
 *           its last record (cpuprof_sampler.c: on_thread_exit)
 *   create  a new thread: its first chunk of the file is made when it
 *           registers (cpuprof_sampler.c: register_current)
 *
 *   cancel_settle  not a race either: a thread with a cancellation
 *           pending marks test boundaries (heapscope_cpu_profiler_set_test),
 *           each of which settles its owed periods into its chunk of the
 *           file until the chunk is full and the file grows, through
 *           fallocate, a cancellation point (the hook tests for a pending
 *           cancellation there, as glibc's does): the thread was cancelled
 *           holding the thread registry's lock, and the next thread
 *           created waited for it forever (here: SIGALRM after 5 s).
 *           Its clock reports ever more CPU time, so every boundary has
 *           periods to settle.
 *   cancel  not a race: a thread with a cancellation pending calls
 *           ProfilerStop, whose file writes are cancellation points; the
 *           thread was cancelled holding the profiler's control flag, and
 *           every later start or stop (the one at exit too) waited for it
 *           forever (here: SIGALRM after 5 s)
 *
 * The interleaving is made certain with this program's own fallocate and
 * clock_gettime, which the runtime calls there: on the other thread, once,
 * they let the main thread stop the profile before they return (waiting
 * at most 300 ms, for a runtime that makes the stop wait for the writer).
 * The clock reports a second more CPU time than the exiting thread used,
 * so its settle has periods to add.
 *
 *   cpu_stop_race CASE PROFILE [LIB] */
#include "cputest.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gperftools/profiler.h>
#include <heapscope/heapscope.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { NONE, ON_FALLOCATE, ON_CPU_CLOCK };
static atomic_int hook_armed; /* what the hook waits on, on another thread */
static int main_tid;
static atomic_int hooked, stopping, stopped;
static atomic_int settler_tid; /* cancel_settle: its clock runs fast, its fallocate cancels */
static long settler_clock_calls;
static atomic_int settler_grew;
static const char *lib;

static double now_s(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* On the other thread, once: the main thread stops the profile meanwhile. */
static int hold(int where) {
  if ((int)syscall(SYS_gettid) == main_tid) return 0;
  int expected = where;
  if (!atomic_compare_exchange_strong(&hook_armed, &expected, NONE)) return 0;
  atomic_store(&hooked, 1);
  double t0 = now_s();
  while (!atomic_load(&stopped) && !(atomic_load(&stopping) && now_s() - t0 > 0.3) &&
         now_s() - t0 < 5)
    usleep(1000);
  return 1;
}

int fallocate(int fd, int mode, off_t off, off_t len) {
  if ((int)syscall(SYS_gettid) == atomic_load(&settler_tid)) {
    pthread_testcancel();
    atomic_store(&settler_grew, 1);
  }
  long r = syscall(SYS_fallocate, fd, mode, off, len);
  int e = errno;
  hold(ON_FALLOCATE);
  errno = e;
  return r == 0 ? 0 : -1;
}

int clock_gettime(clockid_t clk, struct timespec *ts) {
  if (syscall(SYS_clock_gettime, clk, ts) != 0) return -1;
  if (clk == CLOCK_THREAD_CPUTIME_ID && hold(ON_CPU_CLOCK)) ts->tv_sec += 1;
  if (clk == CLOCK_THREAD_CPUTIME_ID && (int)syscall(SYS_gettid) == atomic_load(&settler_tid))
    ts->tv_sec += ++settler_clock_calls;
  return 0;
}

static void *closer(void *arg) {
  (void)arg;
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
    exit(2);
  }
  atomic_store(&hook_armed, ON_FALLOCATE); /* appending h's lines grows the file */
  dlclose(h);
  return NULL;
}

static void *exiter(void *arg) {
  (void)arg;
  burn_cpu(0.03);
  atomic_store(&hook_armed, ON_CPU_CLOCK); /* the settle at its exit reads its clock */
  return NULL;
}

static void *idle(void *arg) { return arg; }

static void *cancelled_settler(void *arg) {
  (void)arg;
  atomic_store(&settler_tid, (int)syscall(SYS_gettid));
  pthread_cancel(pthread_self()); /* deferred: acts at the next cancellation point */
  for (int i = 0; i < 100000 && !atomic_load(&settler_grew); i++) {
    char name[32];
    snprintf(name, sizeof name, "t%d", i);
    heapscope_cpu_profiler_set_test("g", name);
  }
  if (!atomic_load(&settler_grew)) {
    fprintf(stderr, "cancel_settle: the file never grew at a boundary: nothing tested\n");
    exit(2);
  }
  pthread_testcancel(); /* the cancellation acts here, outside the runtime */
  return NULL;
}

static void *cancelled_stopper(void *arg) {
  (void)arg;
  pthread_cancel(pthread_self()); /* deferred: acts at the next cancellation point */
  ProfilerStop();
  pthread_testcancel();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *c = argv[1];
  lib = argc > 3 ? argv[3] : NULL;
  main_tid = (int)syscall(SYS_gettid);
  if (!ProfilerStart(argv[2])) return 2;
  pthread_t t;
  if (!strcmp(c, "cancel_settle")) {
    alarm(5);
    pthread_create(&t, NULL, cancelled_settler, NULL);
    void *ret;
    pthread_join(t, &ret);
    if (ret != PTHREAD_CANCELED) return 2;
    pthread_create(&t, NULL, idle, NULL); /* registers with the profiler */
    pthread_join(t, NULL);
    heapscope_cpu_profiler_set_test(NULL, NULL);
    ProfilerStop();
    printf("ok cancel_settle: a thread cancelled at a boundary's file growth held nothing\n");
    return 0;
  }
  if (!strcmp(c, "cancel")) {
    alarm(5);
    pthread_create(&t, NULL, cancelled_stopper, NULL);
    void *ret;
    pthread_join(t, &ret);
    if (ret != PTHREAD_CANCELED) return 2;
    if (!ProfilerStart(argv[2])) {
      fprintf(stderr, "cancel: no profile starts after the cancelled stop\n");
      return 1;
    }
    ProfilerStop();
    printf("ok cancel: a stop cancelled midway leaves the profiler usable\n");
    return 0;
  }
  if (!strcmp(c, "unload") && lib) {
    pthread_create(&t, NULL, closer, NULL);
  } else if (!strcmp(c, "exit")) {
    pthread_create(&t, NULL, exiter, NULL);
  } else if (!strcmp(c, "create")) {
    atomic_store(&hook_armed, ON_FALLOCATE); /* its first chunk grows the file */
    pthread_create(&t, NULL, idle, NULL);
  } else {
    return 2;
  }
  double t0 = now_s();
  while (!atomic_load(&hooked)) {
    if (now_s() - t0 > 10) {
      fprintf(stderr, "%s: the runtime never got there: nothing tested\n", c);
      return 2;
    }
    usleep(1000);
  }
  atomic_store(&stopping, 1);
  ProfilerStop();
  atomic_store(&stopped, 1);
  pthread_join(t, NULL);
  printf("ok %s: the writer and ProfilerStop did not overlap\n", c);
  return 0;
}
