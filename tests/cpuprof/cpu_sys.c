/* System calls behave as without the profiler, while two threads keep the
 * profiler's timers busy at CPUPROFILE_FREQUENCY: a blocking read() gets
 * all its data, nanosleep(), sleep() and poll() wait their whole time
 * without EINTR, waitpid()
 * returns the child, reads done by the busy threads themselves (which
 * the timers do interrupt) complete, and errno survives the handler. Exit status 0 when all held; every
 * deviation is printed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cputest.h"

static atomic_int stop;
static atomic_long busy_reads;
static int failures;

static void fail(const char *what, int err) {
  printf("FAIL %s: %s\n", what, strerror(err));
  failures++;
}

__attribute__((noinline)) static void *busy(void *arg) {
  int fd = open("/dev/zero", O_RDONLY);
  static char buf[1 << 16];
  while (!atomic_load(&stop)) {
    /* The handler runs between any two instructions here: errno stays. */
    errno = 4242;
    burn_cpu(0.005);
    if (errno != 4242) printf("FAIL errno changed under the profiler: %d\n", errno), failures++;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n != (ssize_t)sizeof buf) fail("busy thread read", errno);
    else atomic_fetch_add(&busy_reads, 1);
  }
  close(fd);
  return NULL;
}

static int pipefd[2];
static void *writer(void *arg) {
  struct timespec ts = {0, 150 * 1000000};
  nanosleep(&ts, NULL);
  static char chunk[4096];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 16; i++) {
    if (write(pipefd[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk) fail("write", errno);
    nanosleep(&(struct timespec){0, 5 * 1000000}, NULL);
  }
  close(pipefd[1]);
  return NULL;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void) {
  pthread_t b1, b2, w;
  pthread_create(&b1, NULL, busy, NULL);
  pthread_create(&b2, NULL, busy, NULL);

  /* read(): blocks while the writer sleeps, then drains 64 KiB. */
  if (pipe(pipefd) != 0) return 2;
  pthread_create(&w, NULL, writer, NULL);
  long got = 0;
  char buf[4096];
  for (;;) {
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n > 0) got += n;
    else if (n == 0) break;
    else {
      fail("read", errno);
      if (errno != EINTR) break;
    }
  }
  if (got != 16 * 4096) printf("FAIL read got %ld bytes\n", got), failures++;
  pthread_join(w, NULL);

  /* nanosleep(): never interrupted, sleeps its full time. */
  double t0 = now();
  struct timespec ts = {0, 300 * 1000000}, rem;
  if (nanosleep(&ts, &rem) != 0) fail("nanosleep", errno);
  if (now() - t0 < 0.299) printf("FAIL nanosleep returned early\n"), failures++;
  /* poll() with a timeout is never restarted after a signal (SA_RESTART
   * or not): it must not see one. */
  int quiet[2];
  if (pipe(quiet) != 0) return 2;
  struct pollfd pfd = {quiet[0], POLLIN, 0};
  t0 = now();
  int pr = poll(&pfd, 1, 300);
  if (pr != 0) fail("poll", pr < 0 ? errno : 0);
  if (now() - t0 < 0.299) printf("FAIL poll returned early\n"), failures++;
  unsigned left = sleep(1);
  if (left) printf("FAIL sleep left %u s\n", left), failures++;

  /* waitpid(): the child's exit, on the first call. */
  pid_t c = fork();
  if (c == 0) {
    nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
    _exit(7);
  }
  int st;
  pid_t r = waitpid(c, &st, 0);
  if (r != c) fail("waitpid", errno);
  else if (!WIFEXITED(st) || WEXITSTATUS(st) != 7) printf("FAIL child status\n"), failures++;

  atomic_store(&stop, 1);
  pthread_join(b1, NULL);
  pthread_join(b2, NULL);
  printf("busy_reads %ld failures %d\n", atomic_load(&busy_reads), failures);
  return failures ? 1 : 0;
}
