/* False leak reports and checks that could not run (issue 9). run.sh runs
 * each case and checks exit status and stderr.
 *
 *   stw N             N whole-program checks while busy threads hold blocks
 *                     only on their stacks and other threads are created and
 *                     joined all the time (a leak-free program: any leak
 *                     reported is false). Then exits; the exit check runs.
 *   child_clean       HEAPSCOPE_CHECK_CHILDREN=1: a thread of the parent
 *                     holds a block on its stack; the forked child exits
 *                     cleanly and must not report it
 *   child_leak        the same, and the child leaks a block after fork
 *   stop_signal       a thread holds a block only on its stack; one check
 *                     (HEAPSCOPE_STOP_SIGNAL from run.sh, maybe invalid)
 *   norecord          checks with recording off
 *   unstoppable       a thread that blocks the stop signal spins, holding a
 *                     block only in its registers/stack: the check cannot
 *                     pause it, so it cannot be trusted
 *   unstoppable_exit  the same at the exit-time check
 *   oom               a check with the address space exhausted
 *   realloc N         N checks while a thread reallocs, back and forth, the
 *                     only array that points to 16 blocks (a check pausing
 *                     it inside realloc must still see them)
 *
 * Linked with the shared runtime; HEAPCHECK comes from run.sh. */
#include <errno.h>
#include <heapscope/heapscope.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                          \
  do {                                                                     \
    fprintf(stderr, "FAIL: " __VA_ARGS__);                                 \
    fputc('\n', stderr);                                                   \
    exit(1);                                                               \
  } while (0)

static atomic_int stop;

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

typedef struct node {
  struct node *next;
  char payload[40];
} node_t;

/* A block (and one it points to) held only by this frame's volatile local,
 * i.e. on this thread's stack, while the thread keeps running. */
static __attribute__((noinline)) void hold_on_stack(unsigned seed, int spins) {
  node_t *volatile head = malloc(sizeof(node_t));
  head->next = malloc(32 + seed % 200);
  memset(head->payload, (int)seed, sizeof head->payload);
  for (int i = 0; i < spins; i++) head->payload[i % 40]++;
  free(head->next);
  free(head);
}

static void *busy(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    seed = seed * 1103515245u + 12345u;
    hold_on_stack(seed, 200 + (int)(seed >> 20) % 2000);
  }
  return NULL;
}

static void *short_lived(void *arg) {
  hold_on_stack((unsigned)(uintptr_t)arg, 5000);
  return NULL;
}

/* Creates and joins threads as fast as it can: some are created while a
 * check runs, and allocate before the check ends. */
static void *churn(void *arg) {
  (void)arg;
  unsigned i = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    pthread_t t[4];
    int n = 0;
    for (; n < 4; n++)
      if (pthread_create(&t[n], NULL, short_lived, (void *)(uintptr_t)i++)) break;
    for (int k = 0; k < n; k++) pthread_join(t[k], NULL);
  }
  return NULL;
}

static void report_and_fail(heapscope_leaks_t *l, int round) {
  fprintf(stderr, "FAIL: round %d: false leak report in a leak-free program\n", round);
  heapscope_leaks_print(l, 2);
  exit(1);
}

static void stw(int rounds) {
  pthread_t b[3], c;
  for (int i = 0; i < 3; i++) pthread_create(&b[i], NULL, busy, (void *)(uintptr_t)(i + 1));
  pthread_create(&c, NULL, churn, NULL);
  for (int r = 0; r < rounds; r++) {
    heapscope_leaks_t *l = heapscope_leaks_all(HEAPSCOPE_MODE_NORMAL);
    if (l) report_and_fail(l, r);
    if (r % 4 == 0) sleep_us(500); /* let the churn move on */
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(b[i], NULL);
  pthread_join(c, NULL);
  printf("ok stw rounds=%d\n", rounds);
}

/* ---- children ------------------------------------------------------------ */

static atomic_int holding;

static void *hold_forever(void *arg) {
  (void)arg;
  node_t *volatile held = malloc(sizeof(node_t));
  held->next = NULL;
  atomic_store(&holding, 1);
  while (!atomic_load(&stop)) sleep_us(1000);
  free(held);
  return NULL;
}

static void *volatile child_sink;

static __attribute__((noinline)) void child_leaks(void) {
  child_sink = malloc(77);
  child_sink = NULL;
}

static void children(int leak) {
  pthread_t t;
  pthread_create(&t, NULL, hold_forever, NULL);
  while (!atomic_load(&holding)) sleep_us(100);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (leak) child_leaks();
    exit(0); /* the child's exit check runs here */
  }
  int st;
  waitpid(pid, &st, 0);
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* ---- stop_signal ---------------------------------------------------------- */

static void *hold_until_stop(void *arg) {
  (void)arg;
  node_t *volatile held = malloc(sizeof(node_t));
  held->next = malloc(64);
  atomic_store(&holding, 1);
  while (!atomic_load(&stop)) sleep_us(1000);
  free(held->next);
  free(held);
  return NULL;
}

static void stop_signal(void) {
  pthread_t t;
  pthread_create(&t, NULL, hold_until_stop, NULL);
  while (!atomic_load(&holding)) sleep_us(100);
  heapscope_leaks_t *l = NULL;
  int rc = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
  if (l) report_and_fail(l, 0);
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("check rc=%d\n", rc);
}

/* ---- checks that cannot run ----------------------------------------------- */

static void norecord(void) {
  if (heapscope_is_recording()) FAIL("recording is on");
  heapscope_snapshot_t s = heapscope_snapshot();
  child_sink = malloc(10); /* something new since s */
  if (heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL)) FAIL("leaks without recording?");
  heapscope_leaks_t *l = (heapscope_leaks_t *)1;
  int rc = heapscope_check_since(&s, HEAPSCOPE_MODE_NORMAL, &l);
  if (rc != -ENOSYS || l) FAIL("check_since: rc %d (%s), leaks %p", rc, heapscope_strerror(rc), (void *)l);
  rc = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
  if (rc != -ENOSYS || l) FAIL("check_all: rc %d", rc);
  long n = heapscope_check_now();
  if (n != -ENOSYS) FAIL("check_now: %ld", n);
  printf("ok norecord: %s\n", heapscope_strerror(-ENOSYS));
}

static void *spin_blocked(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  node_t *volatile held = malloc(sizeof(node_t));
  held->next = NULL;
  atomic_store(&holding, 1);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) held->payload[0]++;
  free(held);
  return NULL;
}

static void unstoppable(int at_exit) {
  pthread_t t;
  pthread_create(&t, NULL, spin_blocked, NULL);
  while (!atomic_load(&holding)) sleep_us(100);
  if (at_exit) {
    printf("exiting with the thread running\n");
    fflush(stdout);
    exit(0); /* the exit check cannot pause the spinning thread */
  }
  heapscope_leaks_t *l = NULL;
  int rc = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  if (l) report_and_fail(l, 0);
  if (rc != -EAGAIN) FAIL("check_all: rc %d, expected -EAGAIN", rc);
  printf("ok unstoppable: %s\n", heapscope_strerror(rc));
}

static node_t *volatile global_list;

static void oom(void) {
  for (int i = 0; i < 100; i++) { /* reachable blocks: the check has work */
    node_t *n = malloc(sizeof *n);
    n->next = global_list;
    global_list = n;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_AS, &rl);
  /* Exhaust the address space: no new mapping can be made. */
  rl.rlim_cur = 0;
  if (setrlimit(RLIMIT_AS, &rl) != 0) FAIL("setrlimit: %s", strerror(errno));
  heapscope_leaks_t *l = NULL;
  int rc = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
  if (l) report_and_fail(l, 0);
  if (rc != -ENOMEM) FAIL("check_all: rc %d, expected -ENOMEM", rc);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_AS, &rl);
  printf("ok oom: %s\n", heapscope_strerror(rc));
}

static void **volatile grown;

static void *realloc_loop(void *arg) {
  (void)arg;
  grown = calloc(16, sizeof(void *));
  for (int i = 0; i < 16; i++) grown[i] = malloc(32);
  atomic_store(&holding, 1);
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    grown = realloc(grown, 512 * sizeof(void *)); /* moves */
    grown = realloc(grown, 16 * sizeof(void *));  /* moves back */
    grown = realloc(grown, 16 * sizeof(void *)); /* in place */
  }
  for (int i = 0; i < 16; i++) free(grown[i]);
  free(grown);
  return NULL;
}

static void realloc_checks(int rounds) {
  pthread_t t;
  pthread_create(&t, NULL, realloc_loop, NULL);
  while (!atomic_load(&holding)) sleep_us(100);
  for (int r = 0; r < rounds; r++) {
    heapscope_leaks_t *l = NULL;
    int rc = heapscope_check_all(HEAPSCOPE_MODE_NORMAL, &l);
    if (l) report_and_fail(l, r);
    if (rc) FAIL("round %d: %s", r, heapscope_strerror(rc));
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  printf("ok realloc rounds=%d\n", rounds);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "stw")) stw(argc > 2 ? atoi(argv[2]) : 300);
  else if (!strcmp(c, "child_clean")) children(0);
  else if (!strcmp(c, "child_leak")) children(1);
  else if (!strcmp(c, "stop_signal")) stop_signal();
  else if (!strcmp(c, "norecord")) norecord();
  else if (!strcmp(c, "unstoppable")) unstoppable(0);
  else if (!strcmp(c, "unstoppable_exit")) unstoppable(1);
  else if (!strcmp(c, "oom")) oom();
  else if (!strcmp(c, "realloc")) realloc_checks(argc > 2 ? atoi(argv[2]) : 300);
  else FAIL("usage: rel_verdicts CASE [ARG]");
  return 0;
}
