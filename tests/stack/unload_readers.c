/* dlclose and the in-place readers of loaded objects (a SIGPROF handler
 * reading .eh_frame through _dl_find_object, core/stack/unwind.c): the
 * interposer waits for readers that announced themselves before it
 * unmaps anything (core/module/modules.c). These cases check that the
 * count it waits on stays exact.
 *
 *   fork    a child forked while another thread is inside a reader: that
 *           thread does not exist in the child, so the child's dlclose
 *           has nobody to wait for (it waited 1 s and printed a line, at
 *           every dlclose, for the child's whole life).
 *   nested  a reader inside a reader on one thread (a handler that
 *           interrupted a handler), then a fork from inside the outer one
 *           (a handler that forks): the child's reader ends normally and
 *           its dlclose does not wait.
 *
 *   unload_readers LIB   (any small shared library) */
#include "core/module/module.h"
#include "tests/unit/check.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *lib;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int reading, done;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* In a child: one dlopen/dlclose of lib; 0 when it did not wait. The
 * child's stderr goes to the test's: a "heapscope:" line there shows. */
static int child_dlclose(void) {
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "child: dlopen %s: %s\n", lib, dlerror());
    return 2;
  }
  double t0 = now_s();
  int r = dlclose(h);
  double dt = now_s() - t0;
  if (r != 0 || dt > 0.5) {
    fprintf(stderr, "child: dlclose took %.3f s (returned %d): it waited for a reader that "
                    "only existed in the parent\n", dt, r);
    return 1;
  }
  if (atomic_load(&hs__module_readers) != 0) {
    fprintf(stderr, "child: %u readers counted, none running\n",
            (unsigned)atomic_load(&hs__module_readers));
    return 1;
  }
  return 0;
}

static int wait_child(pid_t pid) {
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECKF(WIFEXITED(st), "child ended by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return WEXITSTATUS(st);
}

/* A thread parked inside a reader, as a handler's walk would be. */
static void *parked_reader(void *arg) {
  (void)arg;
  CHECK(hs__modules_read_begin());
  pthread_mutex_lock(&mu);
  reading = 1;
  pthread_cond_broadcast(&cv);
  while (!done) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  hs__modules_read_end();
  return NULL;
}

static void case_fork(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, parked_reader, NULL) == 0);
  pthread_mutex_lock(&mu);
  while (!reading) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(child_dlclose());
  int rc = wait_child(pid);
  pthread_mutex_lock(&mu);
  done = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);
  CHECKF(rc == 0, "fork with a reader in another thread: child failed (%d)", rc);
  CHECK(atomic_load(&hs__module_readers) == 0);
  printf("fork: the child's dlclose did not wait for the parent's reader\n");
}

static void case_nested(void) {
  CHECK(hs__modules_read_begin());
  CHECK(hs__modules_read_begin());
  hs__modules_read_end();
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    hs__modules_read_end(); /* the outer reader ends in the child too */
    _exit(child_dlclose());
  }
  hs__modules_read_end();
  int rc = wait_child(pid);
  CHECKF(rc == 0, "fork inside a reader: child failed (%d)", rc);
  CHECK(atomic_load(&hs__module_readers) == 0);
  printf("nested: readers counted exactly across nesting and fork\n");
}

int main(int argc, char **argv) {
  CHECKF(argc == 2, "usage: unload_readers LIB");
  lib = argv[1];
  case_fork();
  case_nested();
  return 0;
}
