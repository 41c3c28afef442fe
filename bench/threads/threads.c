/* Thread creation cost under an allocator or leak checker: THREADS threads
 * are created and joined, BATCH at a time; each does WORK:
 *   none    nothing
 *   malloc  a few malloc/free pairs from its own code
 *   libc    allocations made inside the C library (strdup, asprintf,
 *           fopen/fclose of /proc/self/stat), as most real threads do;
 *           their callers' frames lack frame pointers
 * Prints one line:
 *   RESULT name=threads_WORK secs=... cpu_secs=... us_per_thread=... threads=N alloc=LIB
 * `alloc` is the object that defines the malloc this program calls. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *work;

static void *thread_main(void *arg) {
  unsigned i = (unsigned)(uintptr_t)arg;
  if (!strcmp(work, "malloc")) {
    for (int k = 0; k < 4; k++) {
      char *volatile p = malloc(32 + 16 * (size_t)k + i % 64);
      p[0] = 1;
      free(p);
    }
  } else if (!strcmp(work, "libc")) {
    char *s = strdup("thread name");
    char *t = NULL;
    if (asprintf(&t, "worker-%u", i) < 0) t = NULL;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) fclose(f);
    free(t);
    free(s);
  }
  return NULL;
}

static double now(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "libc";
  int threads = argc > 2 ? atoi(argv[2]) : 10000;
  int batch = argc > 3 ? atoi(argv[3]) : 1;
  if (threads < 1 || batch < 1 || (strcmp(work, "none") && strcmp(work, "malloc") &&
                                   strcmp(work, "libc"))) {
    fprintf(stderr, "usage: threads none|malloc|libc [THREADS [BATCH]]\n");
    return 2;
  }
  pthread_t *t = calloc((size_t)batch, sizeof *t);
  double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
  for (int i = 0; i < threads; i += batch) {
    int n = threads - i < batch ? threads - i : batch;
    for (int k = 0; k < n; k++)
      if (pthread_create(&t[k], NULL, thread_main, (void *)(uintptr_t)(i + k))) {
        perror("pthread_create");
        return 1;
      }
    for (int k = 0; k < n; k++) pthread_join(t[k], NULL);
  }
  double secs = now(CLOCK_MONOTONIC) - w0, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
  free(t);
  Dl_info info;
  const char *lib = dladdr((void *)malloc, &info) && info.dli_fname ? info.dli_fname : "?";
  const char *base = strrchr(lib, '/');
  printf("RESULT name=threads_%s secs=%.3f cpu_secs=%.3f us_per_thread=%.1f threads=%d alloc=%s\n",
         work, secs, cpu, secs * 1e6 / threads, threads, base ? base + 1 : lib);
  return 0;
}
