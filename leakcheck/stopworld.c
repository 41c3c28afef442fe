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
#include <time.h>
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
    long s = hs__setting_int(HS_SET_HEAPSCOPE_STOP_SIGNAL);
    if (!s) s = SIGRTMIN + 6;
    sig = (int)s;
  }
  return sig;
}

/* Read a small /proc file into buf (NUL-terminated); length or -1. */
static int read_proc(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return (int)n;
}

static unsigned long long parse_hex(const char *s) {
  unsigned long long v = 0;
  if (s[0] == '0' && s[1] == 'x') s += 2;
  for (;; s++) {
    int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
    if (d < 0) return v;
    v = v * 16 + (unsigned)d;
  }
}

/* Does thread tid block sig? (SigBlk in /proc/self/task/TID/status.) */
static bool blocks_signal(int tid, int sig) {
  char path[64], buf[2048];
  hs__snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  if (read_proc(path, buf, sizeof buf) < 0) return false;
  const char *p = strstr(buf, "SigBlk:");
  if (!p) return false;
  unsigned long long mask = parse_hex(p + 7 + strspn(p + 7, " \t"));
  return (mask >> (sig - 1)) & 1;
}

/* In rt_sigtimedwait (sigwait, sigwaitinfo), a thread's blocked set omits
 * the signals it waits for, so /proc shows them unblocked: our signal would
 * be returned to the program by sigwait instead of running our handler. */
static bool in_sigwait(int tid) {
  char path[64], buf[64];
  hs__snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  return read_proc(path, buf, sizeof buf) > 0 && !strncmp(buf, "128 ", 4); /* x86-64 */
}

/* A thread that blocks our signal (a sigwait() loop, say) cannot be paused.
 * Signalling it anyway would hand sigwait() a signal it never asked for, so
 * it is left alone; if it sits in a system call, /proc reports its stack
 * pointer and its stack is still scanned (its static TLS and TCB lie in the
 * same mapping, above the stack). */
static bool unstoppable_thread(int tid, lc_thread_t *t) {
  char path[64], buf[512];
  hs__snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  /* "running" means it is between system calls; such threads are usually
   * about to block (in sigwait), so give them a moment. */
  for (int tries = 0;; tries++) {
    if (read_proc(path, buf, sizeof buf) <= 0) return false;
    if (buf[0] >= '0' && buf[0] <= '9') break;
    if (tries == 50) return false;
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  /* "NR arg1 ... arg6 SP PC" */
  const char *p = buf;
  for (int field = 0; field < 7 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return false;
  memset(t, 0, sizeof *t);
  t->tid = tid;
  t->sp = (uintptr_t)parse_hex(p);
  return t->sp != 0;
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
        if (in_sigwait(tid) || blocks_signal(tid, stop_signal)) {
          lc_thread_t t;
          if (unstoppable_thread(tid, &t)) lc_vec_push(threads, &t);
          else
            hs__errorf("thread %d blocks signal %d and is running: its stack is not scanned "
                       "(HEAPSCOPE_STOP_SIGNAL picks another signal)", tid, stop_signal);
          continue;
        }
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
