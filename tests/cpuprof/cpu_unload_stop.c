/* A dlclose on one thread while another stops the CPU profile. Before a
 * dlclose the profiler appends the library's mapping lines to the live
 * file (cpuprof.c: before_unload); ProfilerStop closes and unmaps that
 * file. The two must not overlap: the append wrote through the unmapped
 * file (SIGSEGV), or grew whatever file had been given the closed
 * descriptor's number.
 *
 * The interleaving is made certain with this program's own fallocate,
 * which the runtime's file growth calls: on the closing thread, once, it
 * lets the main thread stop the profile before it returns (waiting at
 * most 300 ms, for a runtime that makes the stop wait for the append).
 *
 *   cpu_unload_stop LIB PROFILE */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gperftools/profiler.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread int hook_armed;
static atomic_int hooked, stopping, stopped;
static const char *lib;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int fallocate(int fd, int mode, off_t off, off_t len) {
  long r = syscall(SYS_fallocate, fd, mode, off, len);
  if (hook_armed) {
    hook_armed = 0;
    atomic_store(&hooked, 1);
    double t0 = now_s();
    while (!atomic_load(&stopped) && !(atomic_load(&stopping) && now_s() - t0 > 0.3) &&
           now_s() - t0 < 5)
      usleep(1000);
  }
  if (r != 0) {
    errno = (int)-r > 0 ? (int)-r : errno;
    return -1;
  }
  return 0;
}

static void *closer(void *arg) {
  (void)arg;
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
    exit(2);
  }
  hook_armed = 1; /* the append of h's lines grows the file */
  dlclose(h);
  if (hook_armed) {
    fprintf(stderr, "the dlclose did not grow the profile: nothing tested\n");
    exit(2);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  lib = argv[1];
  if (!ProfilerStart(argv[2])) return 2;
  pthread_t t;
  pthread_create(&t, NULL, closer, NULL);
  while (!atomic_load(&hooked)) usleep(1000);
  atomic_store(&stopping, 1);
  ProfilerStop();
  atomic_store(&stopped, 1);
  pthread_join(t, NULL);
  printf("ok: dlclose and ProfilerStop did not overlap\n");
  return 0;
}
