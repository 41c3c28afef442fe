/* A thread in asynchronous cancellation mode, cancelled while the
 * profiling signal's handler is reading a loaded object in place (the
 * walk's _dl_find_object path, core/stack/unwind.c). The cancellation
 * unwound the thread out of the handler: the reader it had announced was
 * never counted out, and every later dlclose in the process waited 1 s
 * for it and printed a heapscope: line. The handlers now block glibc's
 * cancellation signal, so the cancellation acts as the handler returns.
 *
 * The interleaving is made certain with this program's own
 * _dl_find_object (the handler's reader calls it): on the spinning
 * thread, once, it waits until the main thread has cancelled that thread.
 *
 *   cpu_cancel_reader LIB PROFILE   (exit 77 without _dl_find_object) */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <gperftools/profiler.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*find_object_fn)(void *, struct dl_find_object *);
static find_object_fn real_find_object;
static atomic_int spinner_tid, hooked, cancel_sent;

static double now_s(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs in the handler: system calls only. */
int _dl_find_object(void *pc, struct dl_find_object *r) {
  int expected = 0;
  if ((int)syscall(SYS_gettid) == atomic_load(&spinner_tid) &&
      atomic_compare_exchange_strong(&hooked, &expected, 1)) {
    double t0 = now_s();
    while (!atomic_load(&cancel_sent) && now_s() - t0 < 5) syscall(SYS_sched_yield);
    t0 = now_s();
    while (now_s() - t0 < 0.05) syscall(SYS_sched_yield); /* the cancellation, if it can */
  }
  return real_find_object(pc, r);
}

static void *spinner(void *arg) {
  (void)arg;
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
  atomic_store(&spinner_tid, (int)syscall(SYS_gettid));
  volatile unsigned long x = 0;
  for (;;) x = x * 31 + 7;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  real_find_object = (find_object_fn)dlsym(RTLD_NEXT, "_dl_find_object");
  if (!real_find_object) {
    printf("skipped: no _dl_find_object (glibc before 2.35)\n");
    return 77;
  }
  if (!ProfilerStart(argv[2])) return 2;
  pthread_t t;
  pthread_create(&t, NULL, spinner, NULL);
  double t0 = now_s();
  while (!atomic_load(&hooked)) {
    if (now_s() - t0 > 10) {
      fprintf(stderr, "no in-place read in the handler: nothing tested\n");
      return 2;
    }
    usleep(1000);
  }
  pthread_cancel(t);
  atomic_store(&cancel_sent, 1);
  pthread_join(t, NULL);
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) return 2;
  t0 = now_s();
  dlclose(h);
  double dt = now_s() - t0;
  ProfilerStop();
  if (dt > 0.5) {
    fprintf(stderr, "dlclose after the cancellation took %.3f s\n", dt);
    return 1;
  }
  printf("ok: cancelled inside the handler, the next dlclose took %.3f s\n", dt);
  return 0;
}
