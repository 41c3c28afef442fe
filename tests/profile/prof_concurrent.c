/* Dumps from several threads while others allocate: HeapProfilerDump and
 * GetHeapProfile in loops on two threads, two threads allocating and
 * freeing under churn_a / churn_b (and triggering interval dumps when
 * HEAP_PROFILE_ALLOCATION_INTERVAL is set). A deadlock trips alarm(). Linked.
 * argv[1] = prefix (HeapProfilerStart). */
#include "proftest.h"

#include <gperftools/heap-profiler.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_int stop;

/* Two functions chosen bit by bit over 9 levels: 512 distinct stacks per
 * allocator, so a dump walks many buckets while they change under it. */
NOINLINE void *path_l(int level, unsigned bits, size_t n);
NOINLINE void *path_r(int level, unsigned bits, size_t n);
NOINLINE void *path_l(int level, unsigned bits, size_t n) {
  if (!level) return malloc(n);
  void *p = (bits & 1) ? path_r(level - 1, bits >> 1, n) : path_l(level - 1, bits >> 1, n);
  sink = p;
  return p;
}
NOINLINE void *path_r(int level, unsigned bits, size_t n) {
  if (!level) return malloc(n);
  void *p = (bits & 1) ? path_r(level - 1, bits >> 1, n) : path_l(level - 1, bits >> 1, n);
  sink = p;
  return p;
}

static void churn(unsigned seed) {
  void *slots[256] = {0};
  while (!atomic_load(&stop)) {
    for (int k = 0; k < 1000; k++) {
      seed = seed * 1103515245u + 12345u;
      unsigned i = (seed >> 8) & 255;
      free(slots[i]);
      slots[i] = path_l(9, seed >> 3, 16 + (seed >> 16) % 2000);
    }
  }
  for (int i = 0; i < 256; i++) free(slots[i]);
}
NOINLINE void churn_a(void) { churn(1); }
NOINLINE void churn_b(void) { churn(2); }

static void *allocator(void *arg) {
  if (arg) churn_a();
  else churn_b();
  return NULL;
}

static void *dumper(void *arg) {
  for (int i = 0; i < 25; i++) {
    HeapProfilerDump(arg ? "dumper a" : "dumper b");
    char *s = GetHeapProfile();
    /* HEAPSCOPE_PROFILE_FORMAT=proto: a gzipped (or plain) profile.proto. */
    const char *fmt = getenv("HEAPSCOPE_PROFILE_FORMAT");
    bool proto = fmt && !strcmp(fmt, "proto");
    if (!s) die("GetHeapProfile failed\n");
    if (proto ? !(((unsigned char)s[0] == 0x1f && (unsigned char)s[1] == 0x8b) || s[0] == 0x0a)
              : strncmp(s, "heap profile:", 13) != 0)
      die("GetHeapProfile: not a %s profile\n", proto ? "proto" : "text");
    free(s);
  }
  return NULL;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "prof_concurrent: deadlock (alarm)\n";
  if (write(2, msg, sizeof msg - 1) < 0) _exit(2);
  _exit(2);
}

#include <signal.h>
int main(int argc, char **argv) {
  if (argc != 2) die("usage: prof_concurrent PREFIX\n");
  signal(SIGALRM, on_alarm);
  alarm(120);
  HeapProfilerStart(argv[1]);
  pthread_t a[2], d[2];
  for (long i = 0; i < 2; i++) pthread_create(&a[i], NULL, allocator, (void *)i);
  for (long i = 0; i < 2; i++) pthread_create(&d[i], NULL, dumper, (void *)i);
  for (int i = 0; i < 2; i++) pthread_join(d[i], NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++) pthread_join(a[i], NULL);
  HeapProfilerStop();
  alarm(0);
  say("dumps=%d\n", count_dumps(argv[1]));
  return 0;
}
