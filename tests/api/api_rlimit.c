/* A program that sets a finite RLIMIT_AS while it runs (to test its
 * out-of-memory paths, or to sandbox itself) can still map memory of its
 * own right after: the page heap's reserved address range must not count
 * against the new limit. Each way of setting the limit runs in its own
 * child: setrlimit, setrlimit64, prlimit and prlimit64 (pid 0 and its own
 * pid), and prlimit from another thread on that thread's id (any thread id
 * of the process names the process). Before the interposers, the child's
 * first mmap failed with ENOMEM; before they asked the kernel whose limit
 * changed, so did the last way's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT ((rlim_t)4 << 30) /* far above this program, far below the reservation */

static void *thread_body(void *arg) { return arg; }

static void *limit_by_tid(void *arg) {
  struct rlimit rl = {LIMIT, LIMIT};
  *(int *)arg = prlimit((pid_t)syscall(SYS_gettid), RLIMIT_AS, &rl, NULL);
  return NULL;
}

static int set_limit(int how) {
  struct rlimit rl = {LIMIT, LIMIT};
  struct rlimit64 rl64 = {LIMIT, LIMIT};
  switch (how) {
  case 0: return setrlimit(RLIMIT_AS, &rl);
  case 1: return setrlimit64(RLIMIT_AS, &rl64);
  case 2: return prlimit(0, RLIMIT_AS, &rl, NULL);
  case 3: return prlimit64(getpid(), RLIMIT_AS, &rl64, NULL);
  case 4: {
    pthread_t t;
    int r = -1;
    if (pthread_create(&t, NULL, limit_by_tid, &r) != 0) return -1;
    pthread_join(t, NULL);
    return r;
  }
  }
  return -1;
}

static const char *const names[] = {"setrlimit", "setrlimit64", "prlimit(0)", "prlimit64(getpid())",
                                   "prlimit(gettid()) in a thread"};

/* Exit status: 0 fine, 2 the limit was not set, 3 mmap refused, 4 thread
 * refused, 5 malloc refused, 6 the limit reads back wrong. */
static int child(int how) {
  if (set_limit(how) != 0) return 2;
  void *m = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    fprintf(stderr, "%s: mmap of 64 MiB: %s\n", names[how], strerror(errno));
    return 3;
  }
  memset(m, 1, 64 << 20);
  pthread_t t;
  if (pthread_create(&t, NULL, thread_body, NULL) != 0) return 4;
  pthread_join(t, NULL);
  for (int i = 0; i < 64; i++) { /* the heap grows under the limit too */
    char *p = malloc(1 << 20);
    if (!p) return 5;
    p[0] = 1;
  }
  struct rlimit now;
  if (getrlimit(RLIMIT_AS, &now) != 0 || now.rlim_cur != LIMIT) return 6;
  return 0;
}

int main(void) {
  int failed = 0;
  free(malloc(100)); /* the page heap has grown, its range is reserved */
  for (int how = 0; how < 5; how++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) _exit(child(how));
    int st;
    if (waitpid(pid, &st, 0) != pid) return 1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      printf("FAIL %s: status %#x\n", names[how], st);
      failed = 1;
    } else {
      printf("ok %s\n", names[how]);
    }
  }
  return failed;
}
