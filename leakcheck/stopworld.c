/* Stopping the world with signals, not ptrace: it works under gdb, strace
 * and in containers without CAP_SYS_PTRACE (LeakSanitizer's and gperftools'
 * ptrace-based stoppers fail there).
 *
 * Every other thread (found in /proc/self/task, read with getdents64 so
 * nothing allocates) gets a real-time signal; its handler stores the
 * interrupted registers, stack pointer and thread pointer, acknowledges,
 * and sleeps on a futex until resumed. A thread that has the signal blocked
 * or never answers within the timeout is reported once and scanned no
 * further (its stack is not a root then: the check may over-report). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <sched.h>
#include <unistd.h>

#define MAX_THREADS 4096

static lc_thread_t slots[MAX_THREADS];
static _Atomic int acked;
static _Atomic int resume_word;
static _Atomic int released;
static _Atomic int stopping; /* a late signal outside a stop is ignored */
static struct sigaction saved_action;
static int stop_signal;
static int stopped_count;

static void futex_wait(_Atomic int *addr, int val) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic int *addr) {
  syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
}

static void stop_handler(int sig, siginfo_t *info, void *ctx_) {
  (void)sig;
  (void)info;
  if (!atomic_load(&stopping)) return;
  int saved = errno;
  ucontext_t *uc = ctx_;
  int resume_at = atomic_load(&resume_word);
  int i = atomic_fetch_add(&acked, 1);
  if (i < MAX_THREADS) {
    lc_thread_t *t = &slots[i];
    t->tid = (int)syscall(SYS_gettid);
    t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    t->tp = tp;
    t->nregs = NGREG < 24 ? NGREG : 24;
    for (int r = 0; r < t->nregs; r++) t->regs[r] = (uintptr_t)uc->uc_mcontext.gregs[r];
  }
  futex_wake_all(&acked);
  while (atomic_load(&resume_word) == resume_at) futex_wait(&resume_word, resume_at);
  atomic_fetch_add(&released, 1);
  errno = saved;
}

static int choose_signal(void) {
  static int sig;
  if (!sig) {
    long s = hs__env_int("HEAPSCOPE_STOP_SIGNAL", SIGRTMIN + 6, 1, SIGRTMAX);
    sig = (int)s;
  }
  return sig;
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int lc_stop_world(lc_vec_t *threads) {
  pid_t pid = getpid();
  int self = hs__gettid();
  stop_signal = choose_signal();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = stop_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  if (sigaction(stop_signal, &sa, &saved_action) != 0) return -1;
  atomic_store(&acked, 0);
  atomic_store(&released, 0);
  atomic_store(&stopping, 1);

  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int sent = 0;
  if (fd >= 0) {
    char buf[8192];
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
      for (long off = 0; off < n;) {
        struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
        off += d->d_reclen;
        if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
        int tid = 0;
        for (const char *c = d->d_name; *c; c++) tid = tid * 10 + (*c - '0');
        if (tid == self) continue;
        if (syscall(SYS_tgkill, pid, tid, stop_signal) == 0) sent++;
      }
    }
    close(fd);
  }
  /* Threads created while we listed are not stopped; they start with no
   * pointers the marking could miss except what their creator passed,
   * which the creator's stack or the heap still holds. */
  uint64_t deadline = hs__now_ns() + 2000000000ull;
  int seen;
  while ((seen = atomic_load(&acked)) < sent) {
    if (hs__now_ns() > deadline) {
      hs__errorf("%d thread(s) did not stop for the leak check (signal %d blocked?); "
                 "their stacks are not scanned", sent - seen, stop_signal);
      break;
    }
    futex_wait(&acked, seen);
  }
  stopped_count = sent;
  int n = atomic_load(&acked);
  if (n > MAX_THREADS) n = MAX_THREADS;
  for (int i = 0; i < n; i++) lc_vec_push(threads, &slots[i]);
  return n;
}

void lc_resume_world(void) {
  atomic_store(&stopping, 0);
  atomic_fetch_add(&resume_word, 1);
  futex_wake_all(&resume_word);
  /* Keep our handler installed until every stopped thread has left it, so a
   * late signal never meets the default action (which would kill). */
  uint64_t deadline = hs__now_ns() + 2000000000ull;
  while (atomic_load(&released) < atomic_load(&acked) && hs__now_ns() < deadline)
    sched_yield();
  if (atomic_load(&acked) >= stopped_count) sigaction(stop_signal, &saved_action, NULL);
}
