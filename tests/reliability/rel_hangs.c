/* Hangs and deadlocks (issue 9): each case must finish; run.sh runs them
 * under `timeout` and checks their stderr.
 *
 *   cancel_dump DIR    threads cancelled while writing heap dumps or in
 *                      GetHeapProfile; later dumps, GetHeapProfile, fork
 *                      and the exit dump must still work
 *   cancel_check       threads cancelled during leak checks (which stop the
 *                      world and hold the page heap lock)
 *   reentrant_dump DIR a SIGUSR1 handler calls HeapProfilerDump while its
 *                      thread writes an interval-triggered dump (HEAPPROFILE
 *                      with a 1-byte interval: every malloc dumps)
 *   startstop DIR      HeapProfilerStart/Stop racing from four threads: after
 *                      all stopped, recording must be off
 *
 * Linked with the shared runtime. Output: "ok ..." lines on stdout. */
#include <errno.h>
#include <gperftools/heap-profiler.h>
#include <heapscope/heapscope.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                          \
  do {                                                                     \
    fprintf(stderr, "FAIL: " __VA_ARGS__);                                 \
    fputc('\n', stderr);                                                   \
    exit(1);                                                               \
  } while (0)

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* fork, let the child take the runtime's locks (malloc of a new span, a
 * dump), and require it to exit 0 within 10 s. */
static void fork_must_work(const char *what, int do_dump) {
  pid_t pid = fork();
  if (pid < 0) FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    void *p = malloc(1 << 20);
    free(p);
    if (do_dump) HeapProfilerDump("child");
    _exit(0);
  }
  for (int i = 0; i < 1000; i++) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("%s: child status %d", what, st);
      return;
    }
    sleep_us(10000);
  }
  kill(pid, SIGKILL);
  FAIL("%s: forked child hung (a lock inherited held)", what);
}

/* ---- cancel_dump ------------------------------------------------------- */

static void *dump_forever(void *arg) {
  (void)arg;
  for (;;) {
    HeapProfilerDump("cancel test"); /* open/write/close inside: cancellation points */
    pthread_testcancel();            /* where a cancellation may act */
  }
  return NULL;
}

/* GetHeapProfile reads /proc/self/maps (cancellation points) under the
 * dump lock, as a dump does. */
static void *get_profile_forever(void *arg) {
  (void)arg;
  for (;;) {
    free(GetHeapProfile());
    pthread_testcancel();
  }
  return NULL;
}

static void cancel_dump(const char *dir) {
  char prefix[4096];
  snprintf(prefix, sizeof prefix, "%s/c", dir);
  HeapProfilerStart(prefix);
  for (int round = 0; round < 20; round++) {
    pthread_t t;
    if (pthread_create(&t, NULL, round & 1 ? get_profile_forever : dump_forever, NULL))
      FAIL("pthread_create");
    sleep_us(2000 + 500 * round);
    pthread_cancel(t);
    void *res;
    pthread_join(t, &res);
    if (res != PTHREAD_CANCELED) FAIL("dumper not cancelled");
    HeapProfilerDump("after cancel"); /* hung here: dump lock left held */
    char *s = GetHeapProfile();
    if (!s) FAIL("GetHeapProfile after cancel: NULL");
    free(s);
  }
  fork_must_work("fork after cancelled dumps", 1);
  printf("ok cancel_dump\n");
  /* The exit dump must not hang either. */
}

/* ---- cancel_check ------------------------------------------------------ */

static void *volatile keep; /* a reachable block: the check has a candidate */

static void *check_forever(void *arg) {
  (void)arg;
  for (;;) {
    heapscope_leaks_t *l = heapscope_leaks_all(HEAPSCOPE_MODE_NORMAL);
    heapscope_leaks_free(l);
    pthread_testcancel();
  }
  return NULL;
}

static void cancel_check(void) {
  heapscope_start_recording();
  keep = malloc(100);
  for (int round = 0; round < 20; round++) {
    pthread_t t;
    if (pthread_create(&t, NULL, check_forever, NULL)) FAIL("pthread_create");
    sleep_us(3000 + 700 * round);
    pthread_cancel(t);
    pthread_join(t, NULL);
    heapscope_leaks_t *l = heapscope_leaks_all(HEAPSCOPE_MODE_NORMAL);
    if (l) FAIL("a reachable block reported as leaked");
    void *big = malloc(4 << 20); /* a new span: the page heap lock */
    free(big);
  }
  fork_must_work("fork after cancelled checks", 0);
  printf("ok cancel_check\n");
}

/* ---- reentrant_dump ---------------------------------------------------- */

static atomic_int handled, stop_alloc;
static pthread_t allocator;

static void on_usr1(int sig) {
  (void)sig;
  int saved = errno;
  HeapProfilerDump("signal"); /* deadlocked against the interrupted dump */
  atomic_fetch_add(&handled, 1);
  errno = saved;
}

/* One signal at a time (pending signals of one kind merge): the next is
 * sent once the handler returned from the previous one. */
static void *signaller(void *arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    pthread_kill(allocator, SIGUSR1);
    while (atomic_load(&handled) <= i) sleep_us(200);
    sleep_us(500);
  }
  atomic_store(&stop_alloc, 1);
  return NULL;
}

static void reentrant_dump(void) {
  /* HEAPPROFILE and a 1-byte interval come from run.sh: every malloc
   * triggers a dump, so most signals land inside one. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  allocator = pthread_self();
  pthread_t t;
  if (pthread_create(&t, NULL, signaller, NULL)) FAIL("pthread_create");
  long n = 0;
  while (!atomic_load(&stop_alloc)) {
    void *p = malloc(64 + (size_t)(n++ % 64));
    free(p);
  }
  pthread_join(t, NULL);
  if (atomic_load(&handled) != 200) FAIL("handled %d of 200 signals", atomic_load(&handled));
  printf("ok reentrant_dump allocations=%ld signals=200\n", n);
}

/* ---- startstop ---------------------------------------------------------- */

/* Both threads spin on `go` (a barrier's futex wake-up skews them by tens
 * of microseconds), so their Start calls overlap. */
static atomic_int go, done;
static char startstop_prefix[4096];
#define ROUNDS 20000
#define RACERS 4

static void *start_stop(void *arg) {
  (void)arg;
  for (int i = 1; i <= ROUNDS; i++) {
    for (int spin = 0; atomic_load_explicit(&go, memory_order_acquire) < i; spin++)
      if (spin % 1024 == 1023) sched_yield();
    HeapProfilerStart(startstop_prefix);
    HeapProfilerStop();
    atomic_fetch_add(&done, 1);
  }
  return NULL;
}

static void startstop(const char *dir) {
  snprintf(startstop_prefix, sizeof startstop_prefix, "%s/s", dir);
  if (heapscope_is_recording()) FAIL("recording on at start (HEAPCHECK set?)");
  pthread_t t[RACERS];
  for (int k = 0; k < RACERS; k++) pthread_create(&t[k], NULL, start_stop, NULL);
  for (int i = 1; i <= ROUNDS; i++) {
    atomic_store_explicit(&go, i, memory_order_release);
    while (atomic_load(&done) < RACERS * i) sched_yield();
    if (IsHeapProfilerRunning()) FAIL("round %d: profiler still running after both stopped", i);
    if (heapscope_is_recording()) FAIL("round %d: recording left on after the last Stop", i);
  }
  for (int k = 0; k < RACERS; k++) pthread_join(t[k], NULL);
  printf("ok startstop rounds=%d threads=%d\n", ROUNDS, RACERS);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *c = argc > 1 ? argv[1] : "";
  const char *dir = argc > 2 ? argv[2] : ".";
  if (!strcmp(c, "cancel_dump")) cancel_dump(dir);
  else if (!strcmp(c, "cancel_check")) cancel_check();
  else if (!strcmp(c, "reentrant_dump")) reentrant_dump();
  else if (!strcmp(c, "startstop")) startstop(dir);
  else FAIL("usage: rel_hangs CASE [DIR]");
  return 0;
}
