/* HEAPPROFILESIGNAL=N: each signal N dumps a heap profile and the program
 * goes on (gperftools dumps from the handler itself; unset, N killed the
 * program).
 *
 * A dump symbolizes (proto) and allocates from the internal heap, which a
 * signal handler must not do: the interrupted thread may hold any lock. So
 * the handler only writes a byte to a pipe, and one thread of the runtime's,
 * started when the variable is set and asleep in read() otherwise, does the
 * dump in an ordinary context. That thread blocks every signal (the
 * program's signals keep going to the program's threads). A forked child
 * gets a pipe and a thread of its own.
 *
 * SYNCHRONIZATION: the pipe is the only channel; the dump takes the
 * profiler's dump lock as HeapProfilerDump does. */
#include "core/profile/heapprof.h"

#include "core/base/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <gperftools/heap-profiler.h>

static int signo;
static int wake[2] = {-1, -1}; /* [0] read by the dump thread, [1] written by the handler */

static void on_signal(int sig) {
  int saved = errno;
  char c = 1;
  /* Non-blocking: with dumps pending already, one more adds nothing. */
  if (write(wake[1], &c, 1) < 0) {}
  errno = saved;
}

static void *dump_thread(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[64];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    if (hs__heapprof_running()) HeapProfilerDump("signal");
    else hs__errorf("HEAPPROFILESIGNAL: signal %d received, but the heap profiler is not running "
                    "(HEAPPROFILE or HeapProfilerStart); no dump", signo);
  }
}

/* The pipe and the thread; false (and one line) when either fails. */
static bool start_thread(void) {
  if (pipe2(wake, O_CLOEXEC) != 0) {
    hs__errorf("HEAPPROFILESIGNAL: pipe: %s; signal dumps are off", strerror(errno));
    return false;
  }
  fcntl(wake[1], F_SETFL, fcntl(wake[1], F_GETFL) | O_NONBLOCK);
  sigset_t all, old;
  sigfillset(&all);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the thread */
  pthread_t t;
  hs__runtime_enter(); /* what pthread_create allocates is the runtime's */
  int err = pthread_create(&t, &attr, dump_thread, (void *)(intptr_t)wake[0]);
  hs__runtime_leave();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err) {
    hs__errorf("HEAPPROFILESIGNAL: cannot start the dump thread: %s; signal dumps are off",
               strerror(err));
    close(wake[0]);
    close(wake[1]);
    wake[0] = wake[1] = -1;
    return false;
  }
  return true;
}

void hs__heapprof_signal_init(void) {
  if (!hs__setting_given(HS_SET_HEAPPROFILESIGNAL)) return;
  int sig = (int)hs__setting_int(HS_SET_HEAPPROFILESIGNAL);
  if (sig <= 0) return;
  if (sig == SIGKILL || sig == SIGSTOP || sig >= NSIG) {
    hs__errorf("HEAPPROFILESIGNAL=%d: that signal cannot be caught; signal dumps are off", sig);
    return;
  }
  struct sigaction old;
  if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    hs__errorf("HEAPPROFILESIGNAL=%d: the signal already has a handler; signal dumps are off", sig);
    return;
  }
  signo = sig;
  if (!start_thread()) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (sigaction(sig, &sa, NULL) != 0)
    hs__errorf("HEAPPROFILESIGNAL=%d: sigaction: %s; signal dumps are off", sig, strerror(errno));
}

/* The parent's thread did not come along, and the pipe is shared with it. */
void hs__heapprof_signal_postfork_child(void) {
  if (wake[0] < 0) return;
  close(wake[0]);
  close(wake[1]);
  wake[0] = wake[1] = -1;
  start_thread();
}
