/* gperftools' stack-trace calls made for signal handlers must never wait on
 * a runtime lock: a handler that interrupts its own thread while that thread
 * holds the lock would wait forever. For every lock of the runtime (the
 * documented list, core/api/runtime.c), a fresh child (nothing unwound yet:
 * no CFI copied, no module list read) takes it, then raises a signal whose
 * handler calls GetStackTraceWithContext and GetStackFramesWithContext
 * (gperftools: "to be used from a signal handler") and
 * ProfilerGetStackTrace. Each must return the handler as frame 0. A hang is
 * a failure (SIGALRM in the child, and the driver's timeout).
 *
 * Links heapscope_internal to see the lock list. */
#include "core/api/runtime.h"

#include <gperftools/profiler.h>
#include <gperftools/stacktrace.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FRAMES 32

static void *frames[3][MAX_FRAMES];
static int depth[3];
static int sizes[MAX_FRAMES];

static HS_NOINLINE void on_signal(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)si;
  depth[0] = GetStackTraceWithContext(frames[0], MAX_FRAMES, 0, uc);
  depth[1] = GetStackFramesWithContext(frames[1], sizes, MAX_FRAMES, 0, uc);
  depth[2] = ProfilerGetStackTrace(frames[2], MAX_FRAMES, 0, NULL);
}

/* The pointer lies in on_signal's code (its first 512 bytes). */
static int in_handler(const void *pc) {
  uintptr_t lo = (uintptr_t)on_signal, a = (uintptr_t)pc;
  return a > lo && a < lo + 512;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "FAIL: a stack-trace call from a signal handler hung\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(3);
}

/* Pulls the CMocka adapter out of the archive: its constructor registers
 * the code patcher's lock. */
void heapscope_cmocka_skip_leak_check(void);
void (*volatile adapter_anchor)(void) = heapscope_cmocka_skip_leak_check;

static int child(hs_lock_t *lock, const char *name) {
  alarm(3);
  hs__lock(lock);
  raise(SIGUSR1);
  hs__unlock(lock);
  alarm(0);
  static const char *const call[] = {"GetStackTraceWithContext", "GetStackFramesWithContext",
                                     "ProfilerGetStackTrace"};
  int failures = 0;
  for (int k = 0; k < 3; k++)
    if (depth[k] < 1 || !in_handler(frames[k][0])) {
      fprintf(stderr, "FAIL: lock '%s' held: %s gave %d frames, frame 0 %p (handler at %p)\n",
              name, call[k], depth[k], depth[k] > 0 ? frames[k][0] : NULL, (void *)on_signal);
      failures++;
    }
  return failures != 0;
}

int main(void) {
  free(malloc(1)); /* runtime initialised */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGALRM, on_alarm);

  const hs_lock_list_t *list = hs__runtime_locks();
  int failures = 0;
  for (size_t i = 0; i < list->n; i++) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) _exit(child(list->lock[i], list->name[i]));
    int st;
    if (waitpid(pid, &st, 0) != pid) return 2;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failures++;
  }
  /* And the calls work at all (a cold child that never got this far would
   * pass the loop above without frames checked). */
  raise(SIGUSR1);
  if (depth[0] < 2 || !in_handler(frames[0][0])) {
    fprintf(stderr, "FAIL: GetStackTraceWithContext gave %d frames\n", depth[0]);
    failures++;
  }
  printf("%zu locks held in turn: %s\n", list->n, failures ? "FAILED" : "every call returned");
  return failures != 0;
}
