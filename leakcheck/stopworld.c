/* Stopping the world with signals, not ptrace: it works under gdb, strace
 * and in containers without CAP_SYS_PTRACE (LeakSanitizer's and gperftools'
 * ptrace-based stoppers fail there).
 *
 * Every other thread (found in /proc/self/task, read with getdents64 so
 * nothing allocates) gets a real-time signal; its handler stores the
 * interrupted registers, stack pointer and thread pointer in a slot,
 * publishes the slot (a release store of the round number: the checker
 * reads a slot only after an acquire load sees it), then acknowledges and
 * sleeps on a futex until resumed. The checker waits for each thread it
 * signalled by tid: until its slot is published, or the thread is gone
 * (it exited meanwhile; a pending signal dies with it).
 *
 * Threads created while the checker lists /proc are found by listing again:
 * once every listed thread is paused, only those can create more, so the
 * listing repeats until a pass finds no thread it has not handled. A thread
 * that blocks the signal (a sigwait loop, or a thread in glibc's start-up or
 * exit path, which briefly blocks every signal) is not signalled while it
 * does: if it unblocks within the wait it is signalled then; if it sits in a
 * system call, the stack pointer /proc reports is scanned instead; else it is
 * reported and the stop is incomplete (lc_stop_world returns false), and the
 * caller must not trust a report of leaks (that thread's stack, a root, was
 * not scanned). */
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
#define MAX_PASSES 64

typedef struct slot {
  lc_thread_t t;
  _Atomic int round;   /* == stop_round once t is written (release) */
} slot_t;

static slot_t slots[MAX_THREADS];
const hs_range_t lc_stop_slots_range = {(uintptr_t)slots, (uintptr_t)(slots + MAX_THREADS)};
static _Atomic int claimed;     /* slots handed out this round */
static _Atomic int acked;       /* slots published this round (futex word) */
static _Atomic int stop_round;
static _Atomic int resume_word;
static _Atomic int released;
static _Atomic int stopping; /* a late signal outside a stop is ignored */
static struct sigaction saved_action;
static int stop_signal;

static void futex_wait(_Atomic int *addr, int val, long ns) {
  struct timespec ts = {0, ns};
  syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static void futex_wake_all(_Atomic int *addr) {
  syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, 1 << 30, NULL, NULL, 0);
}

static void stop_handler(int sig, siginfo_t *info, void *ctx_) {
  (void)sig;
  (void)info;
  /* resume_word before stopping: lc_resume_world clears stopping before it
   * bumps resume_word, so a handler that sees stopping set also sees the
   * bump it must wait for. */
  int resume_at = atomic_load(&resume_word);
  if (!atomic_load(&stopping)) return;
  int saved = errno;
  ucontext_t *uc = ctx_;
  int round = atomic_load_explicit(&stop_round, memory_order_relaxed);
  int i = atomic_fetch_add(&claimed, 1);
  if (i < MAX_THREADS) {
    lc_thread_t *t = &slots[i].t;
    t->tid = (int)syscall(SYS_gettid);
    t->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    t->interrupted = true;
    uintptr_t tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
    t->tp = tp;
    t->nregs = NGREG < 24 ? NGREG : 24;
    for (int r = 0; r < t->nregs; r++) t->regs[r] = (uintptr_t)uc->uc_mcontext.gregs[r];
    /* Publish the slot, then acknowledge: the checker reads the slot only
     * after it saw this store. */
    atomic_store_explicit(&slots[i].round, round, memory_order_release);
  }
  atomic_fetch_add_explicit(&acked, 1, memory_order_release);
  futex_wake_all(&acked);
  while (atomic_load(&resume_word) == resume_at) futex_wait(&resume_word, resume_at, 50000000);
  atomic_fetch_add(&released, 1);
  errno = saved;
}

/* HEAPSCOPE_STOP_SIGNAL: a signal the checker can catch and that nothing
 * else relies on, or the default. */
static int choose_signal(void) {
  static int sig;
  if (sig) return sig;
  int dflt = SIGRTMIN + 6;
  int s = (int)hs__setting_int(HS_SET_HEAPSCOPE_STOP_SIGNAL);
  const char *why = NULL;
  if (s == 0) s = dflt;
  else if (s == SIGKILL || s == SIGSTOP) why = "cannot be caught";
  else if (s > 31 && s < SIGRTMIN) why = "is reserved by the C library (cancellation, setxid)";
  else if (s > SIGRTMAX) why = "does not exist";
  else if (s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL || s == SIGTRAP)
    why = "is raised by faults";
  if (why) {
    hs__errorf("invalid HEAPSCOPE_STOP_SIGNAL=%d (signal %d %s); using %d", s, s, why, dflt);
    s = dflt;
  }
  sig = s;
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

/* Does thread tid block sig? (SigBlk in /proc/self/task/TID/status.) -1:
 * the thread is gone. */
static int blocks_signal(int tid, int sig) {
  char path[64], buf[2048];
  hs__snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  if (read_proc(path, buf, sizeof buf) < 0) return -1;
  const char *p = strstr(buf, "SigBlk:");
  if (!p) return 0;
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

static bool thread_gone(pid_t pid, int tid) {
  return syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH;
}

enum { T_SIGNAL, T_SCANNED, T_GONE, T_FAILED };

/* A thread that blocks our signal cannot be paused. Signalling it anyway
 * would hand sigwait() a signal it never asked for, so it is left alone
 * while it blocks it: if it sits in a system call, /proc reports its stack
 * pointer and its stack is scanned (its static TLS and TCB lie in the same
 * mapping, above the stack). A thread between system calls is usually about
 * to block, or about to unblock: glibc blocks every signal while a thread
 * starts and while it exits, for microseconds, but on a loaded machine a
 * runnable thread can wait long for a processor. It is watched until the
 * stop's deadline. */
static int unstoppable_thread(int tid, int sig, lc_thread_t *t, uint64_t deadline) {
  char path[64], buf[512];
  hs__snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  for (;;) {
    if (read_proc(path, buf, sizeof buf) <= 0) return T_GONE;
    if (buf[0] >= '0' && buf[0] <= '9' && strncmp(buf, "128 ", 4) != 0 &&
        blocks_signal(tid, sig) == 0)
      return T_SIGNAL; /* it unblocked: pause it like the others */
    if (buf[0] >= '0' && buf[0] <= '9') break;
    int b = blocks_signal(tid, sig);
    if (b < 0) return T_GONE;
    if (b == 0) return T_SIGNAL;
    if (hs__now_ns() > deadline) return T_FAILED;
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  /* "NR arg1 ... arg6 SP PC" */
  const char *p = buf;
  for (int field = 0; field < 7 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return T_FAILED;
  memset(t, 0, sizeof *t);
  t->tid = tid;
  t->sp = (uintptr_t)parse_hex(p);
  t->interrupted = true;
  return t->sp ? T_SCANNED : T_FAILED;
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Threads handled this round, sorted by tid (an insertion sort on the mmap
 * vector: nothing here may allocate from a heap). */
typedef struct known {
  int tid;
  int state;      /* T_* */
} known_t;

static long known_find(const lc_vec_t *k, int tid) {
  size_t lo = 0, hi = k->len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int t = LC_AT(k, known_t, mid).tid;
    if (t == tid) return (long)mid;
    if (t < tid) lo = mid + 1;
    else hi = mid;
  }
  return -(long)lo - 1;
}

static bool known_add(lc_vec_t *k, int tid, int state) {
  long at = known_find(k, tid);
  if (at >= 0) return true;
  known_t item = {tid, state};
  if (!lc_vec_push(k, &item)) return false;
  size_t pos = (size_t)(-at - 1);
  known_t *a = (known_t *)k->data;
  memmove(&a[pos + 1], &a[pos], (k->len - 1 - pos) * sizeof *a);
  a[pos] = item;
  return true;
}

/* One listing of /proc/self/task: every thread not handled yet is signalled
 * or scanned from /proc. Returns the number of threads newly signalled;
 * *fresh counts every thread seen for the first time. */
static int list_pass(pid_t pid, int self, lc_vec_t *known, lc_vec_t *threads, int *fresh,
                     bool *complete, uint64_t deadline) {
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    hs__errorf("cannot list /proc/self/task: %s; other threads are not paused", strerror(errno));
    *complete = false;
    return 0;
  }
  int sent = 0;
  char buf[8192];
  long n;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      int tid = 0;
      for (const char *c = d->d_name; *c; c++) tid = tid * 10 + (*c - '0');
      if (tid == self || known_find(known, tid) >= 0) continue;
      (*fresh)++;
      int state = T_SIGNAL;
      lc_thread_t t;
      if (in_sigwait(tid) || blocks_signal(tid, stop_signal) > 0) {
        state = unstoppable_thread(tid, stop_signal, &t, deadline);
        if (state == T_SCANNED && !lc_vec_push(threads, &t)) *complete = false;
        if (state == T_FAILED) {
          hs__errorf("thread %d blocks signal %d and is running: it cannot be paused and its "
                     "stack is not scanned (HEAPSCOPE_STOP_SIGNAL picks another signal)",
                     tid, stop_signal);
          *complete = false;
        }
      }
      if (state == T_SIGNAL) {
        if (syscall(SYS_tgkill, pid, tid, stop_signal) == 0) sent++;
        else state = T_GONE;
      }
      if (!known_add(known, tid, state)) *complete = false;
    }
  }
  close(fd);
  return sent;
}

/* Waits until every signalled thread published its slot or is gone. */
static bool wait_for_slots(pid_t pid, int round, lc_vec_t *known) {
  uint64_t deadline = hs__now_ns() + 2000000000ull;
  int cursor = 0;
  for (;;) {
    int seen = atomic_load_explicit(&acked, memory_order_acquire);
    int n = atomic_load(&claimed);
    if (n > MAX_THREADS) n = MAX_THREADS;
    for (; cursor < n; cursor++) {
      if (atomic_load_explicit(&slots[cursor].round, memory_order_acquire) != round) break;
      long k = known_find(known, slots[cursor].t.tid);
      if (k >= 0) LC_AT(known, known_t, k).state = T_SCANNED;
    }
    bool waiting = false, timed_out = hs__now_ns() > deadline;
    for (size_t i = 0; i < known->len; i++) {
      known_t *k = &LC_AT(known, known_t, i);
      if (k->state != T_SIGNAL) continue;
      if (thread_gone(pid, k->tid)) k->state = T_GONE;
      else if (timed_out) {
        hs__errorf("thread %d did not stop for the leak check (signal %d blocked, or the "
                   "thread is stopped or in uninterruptible sleep): its stack is not scanned",
                   k->tid, stop_signal);
        k->state = T_FAILED;
      } else {
        waiting = true;
      }
    }
    if (!waiting) break;
    futex_wait(&acked, seen, 1000000);
  }
  bool complete = atomic_load(&claimed) <= MAX_THREADS;
  for (size_t i = 0; i < known->len; i++)
    if (LC_AT(known, known_t, i).state == T_FAILED) complete = false;
  return complete;
}

bool lc_stop_world(lc_vec_t *threads) {
  pid_t pid = getpid();
  int self = hs__gettid();
  stop_signal = choose_signal();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = stop_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  if (sigaction(stop_signal, &sa, &saved_action) != 0) {
    hs__errorf("cannot install the handler for signal %d: %s; other threads are not paused",
               stop_signal, strerror(errno));
    atomic_store(&stopping, 0);
    return false;
  }
  int round = atomic_fetch_add(&stop_round, 1) + 1;
  atomic_store(&claimed, 0);
  atomic_store(&acked, 0);
  atomic_store(&released, 0);
  atomic_store(&stopping, 1);

  lc_vec_t known = {.elem = sizeof(known_t)};
  bool complete = true;
  uint64_t deadline = hs__now_ns() + 2000000000ull;
  /* Once every listed thread is paused, only those found in the last pass
   * may have created threads: list until a pass finds none. */
  int pass = 0;
  for (;; pass++) {
    int fresh = 0;
    list_pass(pid, self, &known, threads, &fresh, &complete, deadline);
    if (!wait_for_slots(pid, round, &known)) complete = false;
    if (fresh == 0) break;
    if (pass == MAX_PASSES) {
      hs__errorf("threads kept appearing while the leak check paused them; some may not be "
                 "paused");
      complete = false;
      break;
    }
  }
  int n = atomic_load(&claimed);
  if (n > MAX_THREADS) {
    hs__errorf("%d threads: only %d can be paused for a leak check", n, MAX_THREADS);
    n = MAX_THREADS;
  }
  for (int i = 0; i < n; i++)
    if (atomic_load_explicit(&slots[i].round, memory_order_acquire) == round &&
        !lc_vec_push(threads, &slots[i].t))
      complete = false;
  lc_vec_free(&known);
  return complete;
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
  if (atomic_load(&released) >= atomic_load(&acked))
    sigaction(stop_signal, &saved_action, NULL);
}
