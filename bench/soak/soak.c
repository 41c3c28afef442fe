/* Soak test: everything at once, for a while (issue 9). Run under
 * HEAPCHECK=normal with HEAPPROFILE set (bench/run-soak.sh; a short run is
 * the CTest case reliability.soak):
 *
 *   workers   allocate mixed sizes (16 B to 1 MiB, most small), fill each
 *             block with a pattern, realloc some, keep a few hundred live,
 *             free the rest, and hand some to another worker, which frees
 *             them (cross-thread frees); every block's pattern is checked
 *             before it is freed (an overlap or a stray write shows up)
 *   churn     creates and joins short-lived threads that allocate in libc
 *             and in their own code
 *   forker    forks; the child allocates, frees, checks its blocks and exits
 *             (every 8th through exit(), so its own exit-time leak check
 *             runs with HEAPSCOPE_CHECK_CHILDREN=1); a child that fails or
 *             reports leaks fails the soak
 *   profiler  GetHeapProfile every 100 ms, HeapProfilerDump every second
 *   checker   a whole-program leak check every 200 ms: every block is held
 *             somewhere (worker arrays, inboxes), so any leak reported, or a
 *             check without a verdict, fails the soak
 *
 * usage: soak SECONDS [WORKERS]
 * Prints "SOAK key=value ..." figures; exit 0 when nothing went wrong (then
 * the exit-time check runs: everything was freed).
 *
 * Built with -DSOAK_PLAIN it uses no heapscope API and runs only the
 * workers, the churn and the forks: the same load under any allocator or
 * leak checker, for comparison (bench/run-soak.sh). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#ifndef SOAK_PLAIN
#include <gperftools/heap-profiler.h>
#include <heapscope/heapscope.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 16
#define LIVE 256
#define INBOX 1024

static atomic_int stop, failed;
static atomic_long ops, xfrees, reallocs, threads_made, forks, child_checks, checks, dumps,
    profiles;
static atomic_long check_ns_max, check_ns_sum;
static int nworkers;

#define FAILF(...)                                  \
  do {                                              \
    fprintf(stderr, "SOAK FAIL: " __VA_ARGS__);     \
    fputc('\n', stderr);                            \
    atomic_store(&failed, 1);                       \
    atomic_store(&stop, 1);                         \
  } while (0)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Mostly small (16-512 B), some medium (1-17 KiB), a tail of large ones
 * (4 KiB to 1 MiB, beyond the size classes). */
static size_t pick_size(uint64_t *s) {
  uint64_t r = rng_next(s);
  if (r % 64 == 0) return 4096 + (size_t)(r >> 8) % (1 << 20);
  if (r % 8 == 1) return 1024 + (size_t)(r >> 8) % 16384;
  return 16 + (size_t)(r >> 8) % 512;
}

/* Blocks carry their size and a pattern derived from their address. */
typedef struct blk {
  size_t size;
  uint64_t tag;
} blk_t;

static blk_t *make_block(size_t size) {
  if (size < sizeof(blk_t)) size = sizeof(blk_t);
  blk_t *b = malloc(size);
  if (!b) return NULL;
  b->size = size;
  b->tag = (uint64_t)(uintptr_t)b * 0x9e3779b97f4a7c15ull;
  memset((char *)(b + 1), (int)(b->tag >> 56), size - sizeof *b);
  return b;
}

static int check_block(const blk_t *b) {
  if (b->tag != (uint64_t)(uintptr_t)b * 0x9e3779b97f4a7c15ull) return 0;
  const unsigned char *p = (const unsigned char *)(b + 1);
  unsigned char want = (unsigned char)(b->tag >> 56);
  size_t n = b->size - sizeof *b;
  size_t step = n > 4096 ? 61 : 1; /* sample big blocks */
  for (size_t i = 0; i < n; i += step)
    if (p[i] != want) return 0;
  return n == 0 || p[n - 1] == want;
}

static void free_block(blk_t *b, const char *who) {
  if (!check_block(b)) FAILF("%s: block %p (size %zu) corrupted", who, (void *)b, b->size);
  free(b);
}

/* ---- workers -------------------------------------------------------------- */

typedef struct inbox {
  pthread_mutex_t lock;
  blk_t **items; /* heap array: blocks in transit stay reachable */
  int n;
} inbox_t;

static inbox_t inboxes[MAX_WORKERS];

static void *worker(void *arg) {
  int me = (int)(uintptr_t)arg;
  uint64_t rng = 0x1234567ull + (uint64_t)me * 7919;
  blk_t **live = calloc(LIVE, sizeof *live);
  long local_ops = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    int slot = (int)(rng_next(&rng) % LIVE);
    if (live[slot]) {
      uint64_t r = rng_next(&rng);
      if (r % 8 == 0) { /* hand it to another worker */
        unsigned other = (unsigned)((r >> 8) % (uint64_t)(nworkers - 1));
        inbox_t *in = &inboxes[((unsigned)me + 1 + other) % (unsigned)nworkers];
        pthread_mutex_lock(&in->lock);
        if (in->n < INBOX) {
          in->items[in->n++] = live[slot];
          live[slot] = NULL;
        }
        pthread_mutex_unlock(&in->lock);
      } else if (r % 8 == 1) { /* realloc keeps the pattern of the old prefix */
        blk_t *b = live[slot];
        if (!check_block(b)) FAILF("worker %d: block corrupted before realloc", me);
        size_t ns = pick_size(&rng);
        blk_t *nb = realloc(b, ns < sizeof *b ? sizeof *b : ns);
        if (nb) {
          nb->size = ns < sizeof *nb ? sizeof *nb : ns;
          nb->tag = (uint64_t)(uintptr_t)nb * 0x9e3779b97f4a7c15ull;
          memset((char *)(nb + 1), (int)(nb->tag >> 56), nb->size - sizeof *nb);
          live[slot] = nb;
          atomic_fetch_add_explicit(&reallocs, 1, memory_order_relaxed);
        }
      }
      if (live[slot]) {
        free_block(live[slot], "worker");
        live[slot] = NULL;
      }
    } else {
      live[slot] = make_block(pick_size(&rng));
    }
    local_ops++;
    if ((local_ops & 63) == 0) { /* drain my inbox: cross-thread frees */
      inbox_t *in = &inboxes[me];
      pthread_mutex_lock(&in->lock);
      int n = in->n;
      for (int i = 0; i < n; i++) free_block(in->items[i], "cross-thread");
      in->n = 0;
      pthread_mutex_unlock(&in->lock);
      atomic_fetch_add_explicit(&xfrees, n, memory_order_relaxed);
      atomic_fetch_add_explicit(&ops, 64, memory_order_relaxed);
    }
  }
  for (int i = 0; i < LIVE; i++)
    if (live[i]) free_block(live[i], "worker end");
  free(live);
  return NULL;
}

/* ---- churn ------------------------------------------------------------------ */

static void *short_thread(void *arg) {
  uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
  char *s = strdup("short-lived thread");
  char *t = NULL;
  if (asprintf(&t, "thread %lu", (unsigned long)(uintptr_t)arg) < 0) t = NULL;
  blk_t *b[8];
  for (int i = 0; i < 8; i++) b[i] = make_block(pick_size(&rng) % 4096);
  for (int i = 0; i < 8; i++)
    if (b[i]) free_block(b[i], "short thread");
  free(t);
  free(s);
  return NULL;
}

static void *churn(void *arg) {
  (void)arg;
  unsigned long i = 0;
  while (!atomic_load(&stop)) {
    pthread_t t[4];
    int n = 0;
    for (; n < 4; n++)
      if (pthread_create(&t[n], NULL, short_thread, (void *)(uintptr_t)++i)) break;
    for (int k = 0; k < n; k++) pthread_join(t[k], NULL);
    atomic_fetch_add(&threads_made, n);
  }
  return NULL;
}

/* ---- fork --------------------------------------------------------------------- */

static void *forker(void *arg) {
  (void)arg;
  long n = 0;
  while (!atomic_load(&stop)) {
    n++;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      FAILF("fork: %s", strerror(errno));
      break;
    }
    if (pid == 0) {
      uint64_t rng = (uint64_t)getpid() | 1;
      blk_t *b[64];
      for (int i = 0; i < 64; i++) b[i] = make_block(pick_size(&rng));
      for (int i = 0; i < 64; i++)
        if (b[i] && !check_block(b[i])) _exit(3);
      for (int i = 0; i < 64; i++) free(b[i]);
      if (n % 8 == 0) exit(0); /* the child's own exit-time check */
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      FAILF("forked child %d: status %d", (int)pid, st);
      break;
    }
    atomic_fetch_add(&forks, 1);
    if (n % 8 == 0) atomic_fetch_add(&child_checks, 1);
    sleep_ms(20);
  }
  return NULL;
}

#ifndef SOAK_PLAIN
/* ---- profiler ---------------------------------------------------------------- */

static void *profiler(void *arg) {
  (void)arg;
  int tick = 0;
  while (!atomic_load(&stop)) {
    sleep_ms(100);
    char *p = GetHeapProfile();
    if (p) {
      if (strncmp(p, "heap profile: ", 14) != 0) FAILF("GetHeapProfile: bad header");
      free(p);
      atomic_fetch_add(&profiles, 1);
    }
    if (++tick % 10 == 0) {
      HeapProfilerDump("soak");
      atomic_fetch_add(&dumps, 1);
    }
  }
  return NULL;
}

/* ---- checker ------------------------------------------------------------------ */

static void *checker(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    double t0 = now();
    heapscope_leaks_t *l = NULL;
    int err = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
    long ns = (long)((now() - t0) * 1e9);
    if (err) {
      FAILF("leak check without a verdict: %s", heapscope_strerror(err));
    } else if (l) {
      FAILF("false leak report (every block is held)");
      heapscope_leaks_print(l, 2);
      heapscope_leaks_free(l);
    }
    atomic_fetch_add(&checks, 1);
    atomic_fetch_add(&check_ns_sum, ns);
    long m = atomic_load(&check_ns_max);
    while (ns > m && !atomic_compare_exchange_weak(&check_ns_max, &m, ns)) {
    }
    sleep_ms(200);
  }
  return NULL;
}
#endif

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 10;
  nworkers = argc > 2 ? atoi(argv[2]) : 4;
  if (secs <= 0 || nworkers < 2 || nworkers > MAX_WORKERS) {
    fprintf(stderr, "usage: soak SECONDS [WORKERS 2..%d]\n", MAX_WORKERS);
    return 2;
  }
#ifndef SOAK_PLAIN
  if (!heapscope_is_recording()) {
    fprintf(stderr, "soak: run it with HEAPCHECK=normal (and HEAPPROFILE=PREFIX)\n");
    return 2;
  }
#endif
  for (int i = 0; i < nworkers; i++) {
    pthread_mutex_init(&inboxes[i].lock, NULL);
    inboxes[i].items = calloc(INBOX, sizeof(blk_t *));
  }
  double t0 = now();
  pthread_t w[MAX_WORKERS], c, f;
#ifndef SOAK_PLAIN
  pthread_t p, k;
#endif
  for (int i = 0; i < nworkers; i++) pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i);
  pthread_create(&c, NULL, churn, NULL);
  pthread_create(&f, NULL, forker, NULL);
#ifndef SOAK_PLAIN
  pthread_create(&p, NULL, profiler, NULL);
  pthread_create(&k, NULL, checker, NULL);
#endif
  while (!atomic_load(&stop) && now() - t0 < secs) sleep_ms(100);
  atomic_store(&stop, 1);
  for (int i = 0; i < nworkers; i++) pthread_join(w[i], NULL);
  pthread_join(c, NULL);
  pthread_join(f, NULL);
#ifndef SOAK_PLAIN
  pthread_join(p, NULL);
  pthread_join(k, NULL);
#endif
  for (int i = 0; i < nworkers; i++) { /* blocks still in transit */
    for (int j = 0; j < inboxes[i].n; j++) free_block(inboxes[i].items[j], "final drain");
    free(inboxes[i].items);
  }
  double elapsed = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long nchecks = atomic_load(&checks);
  printf("SOAK secs=%.1f workers=%d ops=%ld ops_per_sec=%.0f cross_thread_frees=%ld reallocs=%ld "
         "threads_created=%ld forks=%ld child_exit_checks=%ld leak_checks=%ld "
         "check_ms_mean=%.2f check_ms_max=%.2f heap_profiles=%ld dumps=%ld peak_rss_mib=%.1f "
         "result=%s\n",
         elapsed, nworkers, atomic_load(&ops), (double)atomic_load(&ops) / elapsed,
         atomic_load(&xfrees), atomic_load(&reallocs), atomic_load(&threads_made),
         atomic_load(&forks), atomic_load(&child_checks), nchecks,
         nchecks ? (double)atomic_load(&check_ns_sum) / (double)nchecks / 1e6 : 0.0,
         (double)atomic_load(&check_ns_max) / 1e6, atomic_load(&profiles), atomic_load(&dumps),
         (double)ru.ru_maxrss / 1024.0, atomic_load(&failed) ? "FAIL" : "ok");
  fflush(stdout);
  return atomic_load(&failed) ? 1 : 0;
}
