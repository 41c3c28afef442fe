/* fork() from a multi-threaded program: while worker threads hammer the
 * allocator, the main thread forks 50 times. Each child allocates, frees,
 * starts a thread that allocates, and exits 0. Allocator locks held by other
 * threads at the fork must not deadlock the child; alarm() turns a deadlock
 * into a failure instead of a hang. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/check.h"

static atomic_int stop;

static void *hammer(void *arg) {
  uint64_t rng = (uintptr_t)arg * 2654435761u + 1;
  enum { N = 256 };
  void *p[N] = {0};
  size_t sz[N] = {0};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int i = (int)(rng % N);
    if (p[i]) {
      CHECK(((unsigned char *)p[i])[0] == (unsigned char)i);
      CHECK(((unsigned char *)p[i])[sz[i] - 1] == (unsigned char)i);
      free(p[i]);
      p[i] = NULL;
    } else {
      sz[i] = rng % 64 == 0 ? 1 + (rng >> 8) % (512 << 10) : 1 + (rng >> 8) % 2000;
      p[i] = rng % 16 == 0 ? memalign(64, sz[i]) : malloc(sz[i]);
      CHECK(p[i]);
      ((unsigned char *)p[i])[0] = (unsigned char)i;
      ((unsigned char *)p[i])[sz[i] - 1] = (unsigned char)i;
    }
  }
  for (int i = 0; i < N; i++) free(p[i]);
  return NULL;
}

static void *child_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) free(malloc((size_t)(i % 300) * 8 + 1));
  return malloc(100);
}

static int child_main(void) {
  alarm(20); /* a deadlocked child dies of SIGALRM; the parent reports it */
  enum { N = 500 };
  static char *blocks[N];
  for (int i = 0; i < N; i++) {
    size_t n = i % 50 == 0 ? (size_t)300000 + i : (size_t)(i * 7) % 3000 + 1;
    blocks[i] = malloc(n);
    if (!blocks[i]) return 2;
    memset(blocks[i], i & 0xff, n);
  }
  for (int i = 0; i < N; i++) {
    size_t n = i % 50 == 0 ? (size_t)300000 + i : (size_t)(i * 7) % 3000 + 1;
    for (size_t j = 0; j < n; j += 97)
      if ((unsigned char)blocks[i][j] != (i & 0xff)) return 3;
    blocks[i] = realloc(blocks[i], n * 2);
    if (!blocks[i]) return 4;
  }
  for (int i = 0; i < N; i++) free(blocks[i]);
  char *z = calloc(1000, 10);
  for (int i = 0; i < 10000; i++)
    if (z[i]) return 5;
  free(z);
  pthread_t t;
  void *res = NULL;
  if (pthread_create(&t, NULL, child_thread, NULL) != 0) return 6;
  if (pthread_join(t, &res) != 0 || !res) return 7;
  free(res);
  return 0;
}

int main(void) {
  /* Watchdog for the parent: a deadlock fails the test. 50 forks take
   * 27-45 s at load average 16 on 2 cores (ctest TIMEOUT is 90). */
  alarm(80);
  enum { THREADS = 3, FORKS = 50 };
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, hammer, (void *)(uintptr_t)(i + 1)) == 0);
  int failures = 0;
  for (int f = 0; f < FORKS; f++) {
    usleep(2000); /* let the workers get into the allocator */
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(child_main());
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork %d: child %s %d\n", f,
              WIFSIGNALED(status) ? "killed by signal" : "exited with",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      failures++;
      break; /* one is enough; more would only take longer */
    }
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
  CHECKF(failures == 0, "a child failed");
  printf("%d forks ok\n", FORKS);
  return 0;
}
