/* A program with no leaks that uses the parts of libc that keep memory
 * alive on purpose: stdio buffers, threads, TLS, pthread keys, getline,
 * fopen/fclose, setenv, qsort, localtime (tz data), setlocale, opendir,
 * dlopen. Every block is either freed or reachable: any report is a false
 * positive. argv[1] = path of libleak_cleanlib.so */
#include "corpus.h"
#include <dirent.h>
#include <dlfcn.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static __thread char *tls_buf;       /* main thread's static TLS keeps it */
static pthread_key_t key;            /* value lives in the thread's TCB */
static char *g_list_head;

struct item {
  struct item *next;
  int v;
};
static struct item *g_items;

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  char line[128];
  for (int i = 0; i < 2000; i++) {
    char *p = malloc((size_t)(16 + (i * 37 + id) % 500));
    snprintf(line, sizeof line, "thread %d iteration %d", id, i);
    memcpy(p, line, 8);
    free(p);
  }
  static __thread char *worker_tls;
  worker_tls = malloc(64);
  free(worker_tls);
  worker_tls = NULL;
  printf("worker %d done\n", id);
  return NULL;
}

int main(int argc, char **argv) {
  /* stdio: stdout is fully buffered into a pipe: its buffer is malloc'd and
   * kept by the FILE. */
  printf("clean program starting\n");
  setvbuf(stderr, NULL, _IOLBF, 0);

  /* TLS and pthread keys in the main thread. */
  tls_buf = malloc(100);
  strcpy(tls_buf, "tls");
  pthread_key_create(&key, NULL);
  pthread_setspecific(key, malloc(50));

  /* Threads that allocate and exit cleanly. */
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

  /* getline over a file opened with fopen. */
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) n++;
    free(line);
    fclose(f);
    printf("status lines: %d\n", n > 0);
  }

  /* setenv keeps its strings in environ. */
  setenv("HEAPSCOPE_CORPUS_VAR", "some value", 1);
  setenv("HEAPSCOPE_CORPUS_VAR", "another value", 1);
  unsetenv("HEAPSCOPE_CORPUS_VAR2");

  /* qsort with a temporary buffer. */
  int n = 50000;
  int *a = malloc((size_t)n * sizeof *a);
  for (int i = 0; i < n; i++) a[i] = (i * 7919) % n;
  qsort(a, (size_t)n, sizeof *a, cmp_int);
  free(a);

  /* localtime loads tz data into libc's statics. */
  time_t now = 1700000000;
  struct tm *tm = localtime(&now);
  char tbuf[64];
  strftime(tbuf, sizeof tbuf, "%Y", tm);
  setlocale(LC_ALL, "C.UTF-8");

  DIR *d = opendir("/proc/self/fd");
  if (d) {
    while (readdir(d)) {
    }
    closedir(d);
  }

  /* A dlopen'd library kept loaded, plus one loaded and unloaded. */
  if (argc > 1) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
      fprintf(stderr, "dlopen: %s\n", dlerror());
      return 98;
    }
    int (*work)(int) = (int (*)(int))dlsym(h, "cleanlib_work");
    int total = 0;
    for (int i = 0; i < 100; i++) total += work(i);
    printf("cleanlib total %d\n", total > 0);
    void *h2 = dlopen("libm.so.6", RTLD_NOW);
    if (h2) dlclose(h2);
  }

  /* A linked list owned by a global. */
  for (int i = 0; i < 100; i++) {
    struct item *it = malloc(sizeof *it);
    it->v = i;
    it->next = g_items;
    g_items = it;
  }
  g_list_head = strdup("global string");

  printf("clean program done\n");
  return 0;
}
