/* The CPU profiler's sampler: one timer per thread, and the signal handler.
 *
 * gperftools samples with one process-wide ITIMER_PROF: the kernel hands
 * each tick's signal to some running thread (busy threads are sampled
 * unevenly), at most one per tick for the whole process (past ~2.5 busy
 * cores time goes missing), and its per-thread timers are opt-in, need
 * ProfilerRegisterThread() in every thread and keep firing after
 * ProfilerStop. Here every thread gets its own POSIX timer on its own CPU
 * clock (CLOCK_MONOTONIC with CPUPROFILE_REALTIME) that signals that
 * thread (SIGEV_THREAD_ID), automatically:
 *   - threads that exist at start are found in /proc/self/task;
 *   - threads started later come through our pthread_create, which arms
 *     the new thread's timer before its start routine runs;
 *   - a thread's timer is deleted when it exits (a pthread key destructor)
 *     and every timer is deleted at stop.
 * Settling: a CPU-clock expiry is noticed only at a scheduler tick that
 * finds the thread running, so the periods a thread burns after its last
 * such tick are owed but never delivered. They are added from the
 * thread's own CPU clock: at exit for every thread our pthread_create
 * started, whether before or after the profile did (the exit key is set
 * in every such thread, and the slot found by tid), and at stop for the
 * threads still alive. Only a thread that neither came through our
 * pthread_create nor lives until the stop (one started before the runtime
 * loaded, or by a raw clone) keeps its last owed periods out.
 * The first expiry is drawn at random in (0, period], so threads that run
 * for less than a period are sampled in proportion (Go does the same).
 * CPU-clock timers are checked at the scheduler tick (HZ), so above HZ a
 * timer expires fewer times than asked, with overruns: each sample weighs
 * 1 + si_overrun periods, and totals stay right at every rate.
 *
 * The handler finds its thread's slot in the signal's own value
 * (sigev_value), so it needs no thread-local lookup and no gettid(). It
 * saves errno, takes no lock, allocates nothing, makes no system call
 * while it walks, and writes into its thread's chunk of the profile file
 * (cpuprof_file.c), counting the samples it had to drop. Signals other
 * than our timers' get what the program had before us (default action,
 * ignore).
 *
 * Stack walk: core/stack's signal-safe CFI walker from the interrupted
 * context (frame pointers for code dlopen'ed since start, whose CFI a
 * handler cannot copy), every read inside the thread's stack. The stack's
 * bounds are never asked for in the handler (pthread_getattr_np allocates
 * and locks): threads we start
 * record theirs before their start routine runs; for threads that existed
 * at start the handler matches the interrupted stack pointer against a
 * snapshot of the anonymous mappings taken at start, and accepts the range
 * only when it also holds the thread pointer (glibc keeps the thread
 * descriptor at the top of every thread's stack) or is the main stack. A
 * thread running on any other stack (a coroutine's, an alternate signal
 * stack) gets its interrupted pc only. */
#include "core/profile/cpuprof_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

extern void *__libc_stack_end;

cp_slot_t hs__cp_slots[CP_MAX_SLOTS];
const hs_range_t hs__cp_slots_range = {(uintptr_t)hs__cp_slots,
                                       (uintptr_t)(hs__cp_slots + CP_MAX_SLOTS)};
_Atomic uint32_t hs__cp_nslots;
_Atomic uint32_t hs__cp_current_test;
static hs_lock_t reg_lock;
static _Atomic uint64_t unregistered; /* threads over CP_MAX_SLOTS */

/* ---- the program's view of our signal ------------------------------------------- */

static struct sigaction program_act[65]; /* what the program had (or set) */
static _Atomic bool owned[65];          /* our handler is installed on the signal */
static void *owned_by[65];              /* which of our handlers (take_signal) */
static bool default_ignores(int sig) {
  return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT;
}

void hs__cp_program_action(int signo, struct sigaction *out) { *out = program_act[signo]; }
bool hs__cp_owns_signal(int signo) {
  return signo > 0 && signo < 65 && atomic_load(&owned[signo]);
}
void hs__cp_forget_handler(int signo, const struct sigaction *act) {
  if (signo <= 0 || signo >= 65) return;
  atomic_store(&owned[signo], false);
  if (act) program_act[signo] = *act;
}

/* A signal on our number that no timer of ours sent (kill, the program's
 * own timer): what would have happened without us. */
static void not_ours(int sig) {
  struct sigaction *pa = &program_act[sig];
  if (pa->sa_handler == SIG_IGN) return;
  if (pa->sa_handler == SIG_DFL) {
    if (default_ignores(sig)) return;
    /* The default action ends the process: let it. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    __sigaction(sig, &dfl, NULL);
    atomic_store(&owned[sig], false);
    syscall(SYS_tgkill, getpid(), hs__cp_gettid(), sig);
  }
}

/* ---- the stack walk -------------------------------------------------------------- */

static inline uintptr_t thread_pointer(void) {
  uintptr_t tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  return tp;
}

static _Atomic bool stacks_ready;  /* the snapshot is taken (release) */
static _Atomic int snapshot_busy;   /* a handler is taking it */

/* The snapshot range holding a, or NULL (binary search; sorted). */
static const cp_range_t *range_of(uintptr_t a) {
  const cp_range_t *r = hs__cp.stacks;
  size_t lo = 0, hi = hs__cp.nstacks;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a < r[mid].lo) hi = mid;
    else if (a >= r[mid].hi) lo = mid + 1;
    else return &r[mid];
  }
  return NULL;
}

/* Where this thread's frames may be read: [sp, *hi). false when sp is not
 * on a stack known to be this thread's own. */
static bool stack_bounds(cp_slot_t *s, uintptr_t sp, uintptr_t *hi) {
  if (!s->stack_hi) {
    /* First sample of a thread that existed at start (see the header):
     * the snapshot, taken by the first such sample of the process. */
    if (!atomic_load_explicit(&stacks_ready, memory_order_acquire) && !hs__cp_snapshot_take())
      return false;
    const cp_range_t *r = range_of(sp);
    if (!r) return false;
    uintptr_t tp = thread_pointer();
    if (!(tp >= r->lo && tp < r->hi) && !(r->main_stack && sp <= hs__cp.main_stack_hi))
      return false;
    s->stack_lo = r->lo;
    s->stack_hi = r->main_stack ? hs__cp.main_stack_hi : r->hi;
  }
  if (sp < s->stack_lo || sp >= s->stack_hi) return false;
  *hi = s->stack_hi;
  return true;
}

/* Frame pointers from fp; every frame read lies in [lo, hi). Frames are
 * 16-byte aligned on x86-64 and each caller's frame lies above its
 * callee's; anything else ends the walk. */
static int fp_walk(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t *pcs, int n, int max,
                   uint64_t *acc) {
  while (n < max) {
    if (fp < lo || fp >= hi || hi - fp < 16 || (fp & 15)) break;
    const uintptr_t *f = (const uintptr_t *)fp;
    uintptr_t next = f[0], ret = f[1];
    if (ret < 4096) break;
    *acc += HS_FRAME_HASH(ret, n);
    pcs[n++] = ret;
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

/* The sampler's unwinder (and ProfilerGetStackTrace's): pcs[0] is st.pc
 * (a signal's interrupted pc), then return addresses, by the shared
 * signal-safe walker of core/stack/ (CFI rules,
 * so code built without frame pointers keeps its callers), reading only
 * [sp, the slot's stack top). The walker finds every loaded object's CFI
 * itself, libraries dlopen'ed since the start included; a stack whose walk
 * ends in code of no loaded object (or code without CFI) is walked by
 * frame pointers too, and the longer walk is kept. */
static int walk_bounded(hs_unwind_regs_t st, uintptr_t hi, uintptr_t *pcs, int max,
                        uint64_t *hash) {
  hs_stack_ranges_t r = {.lo = st.sp, .hi = hi, .own = true};
  int n = hs__unwind_walk(&st, &r, HS_UNWIND_IN_SIGNAL, pcs, max, hash, NULL);
  if (HS_LIKELY(n >= 1 && (n == max || hs__unwind_known_text(pcs[n - 1] - (n > 1)))))
    return n;
  uintptr_t fp_pcs[CP_MAX_DEPTH];
  uint64_t acc = HS_FRAME_HASH(st.pc, 0);
  fp_pcs[0] = st.pc;
  int m = fp_walk(st.bp, st.sp, hi, fp_pcs, 1, max, &acc);
  if (m > n) {
    memcpy(pcs, fp_pcs, (size_t)m * sizeof *pcs);
    n = m;
    *hash = hs__stack_hash_final(acc, n);
  }
  return n;
}

static hs_unwind_regs_t context_regs(const ucontext_t *uc) {
  const greg_t *g = uc->uc_mcontext.gregs;
  return (hs_unwind_regs_t){.pc = (uintptr_t)g[REG_RIP], .sp = (uintptr_t)g[REG_RSP],
                            .bp = (uintptr_t)g[REG_RBP], .exact = true};
}

static int unwind_context(const ucontext_t *uc, cp_slot_t *s, uintptr_t *pcs, int max,
                          uint64_t *hash) {
  hs_unwind_regs_t st = context_regs(uc);
  uintptr_t hi;
  if (!stack_bounds(s, st.sp, &hi)) {
    pcs[0] = st.pc;
    *hash = hs__stack_hash(pcs, 1);
    return 1;
  }
  return walk_bounded(st, hi, pcs, max, hash);
}

/* ---- the handler ------------------------------------------------------------------- */

static bool slot_pointer(const void *p) {
  uintptr_t a = (uintptr_t)p, lo = (uintptr_t)hs__cp_slots;
  return a >= lo && a < lo + sizeof hs__cp_slots && (a - lo) % sizeof(cp_slot_t) == 0;
}

static void on_profile_signal(int sig, siginfo_t *si, void *ucv) {
  int saved_errno = errno;
  cp_slot_t *s = si && si->si_code == SI_TIMER ? si->si_value.sival_ptr : NULL;
  if (!slot_pointer(s)) {
    atomic_fetch_add_explicit(&hs__cp.unknown, 1, memory_order_relaxed);
    not_ours(sig);
    errno = saved_errno;
    return;
  }
  /* A deleted timer's last signal, or one for a slot since reused. */
  if (atomic_load_explicit(&s->state, memory_order_acquire) != CP_SLOT_ARMED ||
      atomic_load_explicit(&s->timer_id, memory_order_relaxed) != si->si_timerid) {
    errno = saved_errno;
    return;
  }
  /* Paired with stop(): it sets the state, then waits for in_handler == 0. */
  atomic_store(&s->in_handler, 1);
  uint64_t w = 1 + (uint64_t)(si->si_overrun > 0 ? si->si_overrun : 0);
  if (s->ahead) { /* a test boundary credited these periods already */
    uint64_t take = s->ahead < w ? s->ahead : w;
    s->ahead -= take;
    w -= take;
    if (!w) {
      atomic_store_explicit(&s->in_handler, 0, memory_order_release);
      errno = saved_errno;
      return;
    }
  }
  if (atomic_load(&hs__cp.state) == CP_RUNNING && s->gen == atomic_load(&hs__cp.gen))
    atomic_store_explicit(&s->delivered, atomic_load_explicit(&s->delivered, memory_order_relaxed) + w,
                          memory_order_relaxed);
  if (atomic_load(&hs__cp.state) == CP_RUNNING && s->gen == atomic_load(&hs__cp.gen) &&
      (!hs__cp.filter || hs__cp.filter(hs__cp.filter_arg))) {
    uintptr_t pcs[CP_MAX_DEPTH];
    uint64_t hash;
    int n = unwind_context(ucv, s, pcs, CP_MAX_DEPTH, &hash);
    uint32_t test = atomic_load_explicit(&hs__cp_current_test, memory_order_relaxed);
    if (hs__cp_append(s, pcs, (uint32_t)n, hash, w, test)) {
      s->samples++;
      s->weight += w;
    } else {
      s->lost += w;
    }
    /* Code loaded since the file's maps were written (a dlopen): record
     * its mapping now, so even a killed process's profile names it. */
    hs__cp_maps_note_pc(pcs[0]);
  }
  atomic_store_explicit(&s->in_handler, 0, memory_order_release);
  errno = saved_errno;
}

/* glibc's cancellation signal (SIGRTMIN's first, which sigfillset leaves
 * out) in a handler's mask: a thread in asynchronous cancellation mode
 * cancelled inside one of our handlers unwound out of it, leaving taken
 * for good what the handler held (an in-place reader, which every later
 * dlclose waited 1 s for; the control flag of a start or stop). Blocked,
 * the cancellation acts as the handler returns. (sigaddset refuses the
 * signal; the kernel takes the mask as given.) */
static void mask_cancellation(sigset_t *mask) {
  mask->__val[(__SIGRTMIN - 1) / (8 * sizeof mask->__val[0])] |=
      1ul << ((__SIGRTMIN - 1) % (8 * sizeof mask->__val[0]));
}

/* The action our handlers are installed with. SA_RESTART: a read() or
 * waitpid() they interrupt goes on. The full mask keeps our other handlers
 * from running inside one (callers may let faults through). */
static struct sigaction our_action(void (*fn)(int, siginfo_t *, void *)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  mask_cancellation(&sa.sa_mask);
  return sa;
}

bool hs__cp_install_handler(int signo) {
  if (signo <= 0 || signo >= 65) return false;
  struct sigaction cur;
  if (__sigaction(signo, NULL, &cur) != 0) return false;
  bool ours = (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_profile_signal;
  if (ours) {
    atomic_store(&owned[signo], true);
    return true;
  }
  if (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN) return false;
  program_act[signo] = cur;
  struct sigaction sa = our_action(on_profile_signal);
  /* Faults stay deliverable inside the profiling handler. */
  static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&sa.sa_mask, faults[i]);
  if (__sigaction(signo, &sa, NULL) != 0) return false;
  owned_by[signo] = (void *)on_profile_signal;
  atomic_store(&owned[signo], true);
  return true;
}

bool hs__cp_take_signal(int signo, void (*fn)(int, siginfo_t *, void *), bool only_default) {
  if (signo <= 0 || signo >= 65) return false;
  /* Ours since an earlier start (the program taking it over clears owned):
   * no system call. */
  if (atomic_load(&owned[signo]) && owned_by[signo] == (void *)fn) return true;
  struct sigaction cur;
  if (__sigaction(signo, NULL, &cur) != 0) return false;
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == fn) return true;
  if (cur.sa_handler != SIG_DFL && (only_default || cur.sa_handler != SIG_IGN)) return false;
  program_act[signo] = cur;
  struct sigaction sa = our_action(fn);
  if (__sigaction(signo, &sa, NULL) != 0) return false;
  owned_by[signo] = (void *)fn;
  atomic_store(&owned[signo], true);
  return true;
}

void hs__cp_take_default_signals_alone(const int *sigs, size_t n,
                                       void (*fn)(int, siginfo_t *, void *)) {
  /* Each disposition is swapped for ours and put back when it was not the
   * default (ignored, inherited through exec). No other thread exists to
   * take a signal meanwhile and this one blocks them all, so a signal sent
   * in between finds what it would have found: ours where the default
   * was, and a pending one is discarded when SIG_IGN goes back (as the
   * kernel does for any ignored signal). A query before each install
   * doubled the system calls. */
  struct sigaction sa = our_action(fn);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (size_t i = 0; i < n; i++) {
    int sig = sigs[i];
    if (sig <= 0 || sig >= 65 || (atomic_load(&owned[sig]) && owned_by[sig] == (void *)fn))
      continue;
    struct sigaction cur;
    if (__sigaction(sig, &sa, &cur) != 0) continue;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == fn) continue;
    if (cur.sa_handler != SIG_DFL) {
      __sigaction(sig, &cur, NULL);
      continue;
    }
    program_act[sig] = cur;
    owned_by[sig] = (void *)fn;
    atomic_store(&owned[sig], true);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- stacks of the threads that exist at start -------------------------------------- */

static uintptr_t parse_hex(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

void hs__cp_free_stacks(void) {
  atomic_store(&stacks_ready, false);
  hs__cp_unmap(hs__cp.stacks, hs__cp.stacks_bytes);
  hs__cp.stacks = NULL;
  hs__cp.nstacks = hs__cp.stacks_bytes = 0;
}

void hs__cp_snapshot_begin(void) {
  cp_session_t *s = &hs__cp;
  atomic_store(&stacks_ready, false);
  s->stacks = NULL;
  s->nstacks = s->stacks_bytes = 0;
  s->main_stack_hi = (uintptr_t)__libc_stack_end;
}

/* The stacks come from the same read of /proc/self/maps that gives the
 * file its maps lines: a process that exits before its first sample reads
 * neither (a start read them both: ~0.3 ms of a do-nothing process here). */
bool hs__cp_snapshot_take(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&snapshot_busy, &expected, 1)) return false;
  bool ok = atomic_load(&stacks_ready);
  if (!ok) {
    hs__cp.nstacks = 0; /* what a failed attempt left */
    ok = hs__cp_file_sync_maps_with(true, hs__cp_snapshot_line, NULL);
    if (ok) atomic_store_explicit(&stacks_ready, true, memory_order_release);
  }
  atomic_store(&snapshot_busy, 0);
  return ok;
}

/* Anonymous read-write mappings (where glibc puts thread stacks) and the
 * main stack. */
void hs__cp_snapshot_line(const char *line, void *ctx) {
  cp_session_t *s = &hs__cp;
  const char *p = line;
  uintptr_t lo = parse_hex(&p);
  if (*p++ != '-') return;
  uintptr_t hi = parse_hex(&p);
  if (*p++ != ' ' || p[0] != 'r' || p[1] != 'w') return;
  const char *path = strchr(p, '/');
  const char *br = strchr(p, '[');
  bool main_stack = br && !strncmp(br, "[stack]", 7);
  if (path || (br && !main_stack)) return; /* file mappings, [heap], [vvar] */
  if (s->nstacks * sizeof(cp_range_t) == s->stacks_bytes) {
    size_t bytes = s->stacks_bytes ? s->stacks_bytes * 2 : 256 * sizeof(cp_range_t);
    cp_range_t *r = hs__cp_map(bytes);
    if (!r) return;
    if (s->nstacks) memcpy(r, s->stacks, s->nstacks * sizeof *r);
    hs__cp_unmap(s->stacks, s->stacks_bytes);
    s->stacks = r;
    s->stacks_bytes = bytes;
  }
  if (main_stack) {
    /* The main stack grows down past where it ends now. */
    struct rlimit rl;
    uintptr_t room = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) room = rl.rlim_cur;
    if (room > (1ul << 30)) room = 1ul << 30;
    if (hi > room && hi - room < lo) lo = hi - room;
    if ((uintptr_t)__libc_stack_end > lo && (uintptr_t)__libc_stack_end <= hi)
      s->main_stack_hi = (uintptr_t)__libc_stack_end;
    else
      s->main_stack_hi = hi;
  }
  s->stacks[s->nstacks++] = (cp_range_t){lo, hi, main_stack};
}

/* ---- timers ------------------------------------------------------------------------------ */

static uint64_t next_rand(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* The thread's own CPU clock, named by its tid (pthread_getcpuclockid's
 * encoding: CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD). */
static clockid_t thread_cpu_clock(int tid) {
  return (clockid_t)((~(unsigned)tid << 3) | 6);
}

static bool create_timer(cp_slot_t *s) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = hs__cp.signo;
  sev.sigev_value.sival_ptr = s;
  sev.sigev_notify_thread_id = s->tid;
  int id = -1;
  clockid_t clock = hs__cp.realtime ? CLOCK_MONOTONIC : thread_cpu_clock(s->tid);
  if (syscall(SYS_timer_create, clock, &sev, &id) != 0) return false;
  atomic_store(&s->timer_id, id);
  return true;
}

static uint64_t clock_ns(clockid_t c, bool *ok) {
  struct timespec ts;
  *ok = clock_gettime(c, &ts) == 0;
  return *ok ? (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec : 0;
}

static void start_timer(cp_slot_t *s) {
  uint64_t period = (uint64_t)hs__cp.period_us * 1000;
  uint64_t first = 1 + next_rand(&s->rand) % period;
  bool ok;
  s->first_ns = first;
  s->cpu0_ns = hs__cp.realtime ? 0 : clock_ns(thread_cpu_clock(s->tid), &ok);
  atomic_store(&s->delivered, 0);
  s->last_rec = NULL; /* a reused slot's record is the last thread's */
  s->settle_at_stop = false;
  struct itimerspec its = {
      .it_interval = {(time_t)(period / 1000000000), (long)(period % 1000000000)},
      .it_value = {(time_t)(first / 1000000000), (long)(first % 1000000000)},
  };
  syscall(SYS_timer_settime, atomic_load(&s->timer_id), 0, &its, NULL);
}

static void delete_timer(cp_slot_t *s) {
  syscall(SYS_timer_delete, atomic_load(&s->timer_id));
}

/* See hs__cp_settle_all. clock: the thread's CPU clock. Only on a slot no
 * handler can be using (timers deleted and drained, or the thread itself
 * with the signal blocked). */
static void settle(cp_slot_t *s, clockid_t clock) {
  if (hs__cp.realtime || hs__cp.filter || s->gen != atomic_load(&hs__cp.gen)) return;
  if (!s->last_rec && !s->start_fn) return; /* no stack to put the time on */
  bool ok;
  uint64_t now = clock_ns(clock, &ok), period = (uint64_t)hs__cp.period_us * 1000;
  if (!ok || now < s->cpu0_ns + s->first_ns) return;
  uint64_t owed = 1 + (now - s->cpu0_ns - s->first_ns) / period;
  uint64_t got = atomic_load(&s->delivered);
  if (owed <= got) return;
  /* A few ticks' worth at most: more would mean the thread blocked the
   * signal, and its time is not this stack's. */
  uint64_t cap = 40000000ull / period + 1;
  if (cap < owed / 20) cap = owed / 20;
  uint64_t add = owed - got < cap ? owed - got : cap;
  if (s->last_rec) {
    __atomic_store_n(&s->last_rec[0], s->last_rec[0] + add, __ATOMIC_RELEASE);
  } else {
    /* Never sampled (it ran for less than a tick, or between ticks): its
     * start routine stands for the stack. */
    uintptr_t pc = s->start_fn;
    uint32_t test = atomic_load_explicit(&hs__cp_current_test, memory_order_relaxed);
    if (!hs__cp_append(s, &pc, 1, hs__stack_hash(&pc, 1), add, test)) {
      s->lost += add;
      atomic_store(&s->delivered, got + add);
      return;
    }
    s->samples++;
  }
  s->weight += add;
  atomic_store(&s->delivered, got + add);
}

/* A CPU-clock expiry is seen only at a tick that finds its thread running:
 * on a loaded machine a thread can run a whole short test without a
 * delivered sample, and the next delivery (or the stop's settle) then put
 * the test's periods on a sample of another test (a 40 ms test showed no
 * sample at all). So at each boundary the test's thread settles what its
 * timer owes from its own CPU clock: onto its last sample when that is in
 * the ending test, else onto a record of the boundary's own stack (the
 * test runner's frames), labelled with the ending test; the timer's later
 * deliveries of those periods are taken off through `ahead`. */
static cp_slot_t *own_slot(int tid);

/* The calling thread's slot (NULL if it has none), with the profiling
 * signal blocked (the handler writes the same fields), the registry
 * locked and cancellation disabled (growing the file calls fallocate or
 * pwrite, cancellation points: a thread cancelled there kept the lock, and
 * its own exit, like every thread created after, waited for it forever),
 * until release_own_slot. */
typedef struct own_hold {
  sigset_t mask;
  int cancel;
} own_hold_t;

static cp_slot_t *hold_own_slot(own_hold_t *h) {
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, hs__cp.signo);
  h->cancel = hs__cancel_disable();
  pthread_sigmask(SIG_BLOCK, &block, &h->mask);
  hs__lock(&reg_lock);
  return own_slot(hs__cp_gettid());
}

static void release_own_slot(const own_hold_t *h) {
  hs__unlock(&reg_lock);
  pthread_sigmask(SIG_SETMASK, &h->mask, NULL);
  hs__cancel_restore(h->cancel);
}

/* A settle outside the handler writes into the live file too: it counts
 * as the handler does (stop() waits for in_handler == 0 before it unmaps
 * the file), and writes nothing once a stop has begun. false: stopping. */
static bool use_slot(cp_slot_t *s) {
  atomic_store(&s->in_handler, 1);
  if (atomic_load(&hs__cp.state) == CP_RUNNING) return true;
  atomic_store_explicit(&s->in_handler, 0, memory_order_release);
  return false;
}
static void unuse_slot(cp_slot_t *s) {
  atomic_store_explicit(&s->in_handler, 0, memory_order_release);
}

HS_NOINLINE void hs__cp_settle_test(uint32_t test) {
  if (atomic_load(&hs__cp.state) != CP_RUNNING || hs__cp.realtime || hs__cp.filter) return;
  own_hold_t hold;
  cp_slot_t *s = hold_own_slot(&hold);
  if (s && !use_slot(s)) s = NULL;
  bool ok;
  uint64_t now = s ? clock_ns(CLOCK_THREAD_CPUTIME_ID, &ok) : 0;
  uint64_t period = (uint64_t)hs__cp.period_us * 1000;
  if (s && ok && now >= s->cpu0_ns + s->first_ns) {
    uint64_t owed = 1 + (now - s->cpu0_ns - s->first_ns) / period;
    uint64_t got = atomic_load(&s->delivered);
    if (owed > got) {
      uint64_t add = owed - got;
      bool kept = true;
      if (s->last_rec && s->stream_test == test) {
        __atomic_store_n(&s->last_rec[0], s->last_rec[0] + add, __ATOMIC_RELEASE);
      } else {
        uintptr_t pcs[CP_MAX_DEPTH];
        /* skip: this function and hs__cpuprof_set_test */
        int n = hs__cp_stack_trace((void **)pcs, CP_MAX_DEPTH, 1, NULL);
        if (n <= 0) {
          pcs[0] = (uintptr_t)__builtin_return_address(0);
          n = 1;
        }
        kept = hs__cp_append(s, pcs, (uint32_t)n, hs__stack_hash(pcs, n), add, test);
        if (kept) s->samples++;
      }
      if (kept) s->weight += add;
      else s->lost += add;
      atomic_store(&s->delivered, got + add);
      s->ahead += add;
    }
  }
  if (s) unuse_slot(s);
  release_own_slot(&hold);
}

void hs__cp_settle_all(void) {
  uint32_t n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++) {
    cp_slot_t *s = &hs__cp_slots[i];
    if (s->settle_at_stop && !atomic_load(&s->in_handler)) settle(s, thread_cpu_clock(s->tid));
    s->settle_at_stop = false;
  }
}

/* A slot for thread tid, its timer created but not started (activate()
 * starts it). Called with reg_lock held. NULL when the thread is gone,
 * already has a slot, or none is free. */
static cp_slot_t *claim(int tid, uintptr_t lo, uintptr_t hi, uintptr_t start_fn) {
  uint32_t gen = atomic_load(&hs__cp.gen);
  uint32_t n = atomic_load(&hs__cp_nslots);
  cp_slot_t *free_slot = NULL;
  for (uint32_t i = 0; i < n; i++) {
    cp_slot_t *s = &hs__cp_slots[i];
    int st = atomic_load(&s->state);
    if (s->gen == gen && s->tid == tid && st == CP_SLOT_ARMED) return NULL; /* has one */
    /* A thread of this run that exited: its chunk goes on with the next. */
    if (!free_slot && (st == CP_SLOT_FREE || (st == CP_SLOT_DEAD && s->gen == gen)) &&
        !atomic_load(&s->in_handler))
      free_slot = s;
  }
  if (!free_slot) {
    if (n >= CP_MAX_SLOTS) {
      atomic_fetch_add(&unregistered, 1);
      return NULL;
    }
    free_slot = &hs__cp_slots[n];
    atomic_store(&hs__cp_nslots, n + 1);
  }
  cp_slot_t *s = free_slot;
  if (atomic_load(&s->state) == CP_SLOT_FREE) s->chunk = NULL;
  atomic_store(&s->state, CP_SLOT_CLAIMED);
  s->gen = gen;
  s->tid = tid;
  s->stack_lo = lo;
  s->stack_hi = hi;
  s->start_fn = start_fn;
  s->rand = (hs__now_ns() ^ ((uint64_t)tid * 0x9e3779b97f4a7c15ull)) | 1;
  if (!create_timer(s)) { /* the thread exited meanwhile */
    atomic_store(&s->state, CP_SLOT_DEAD);
    return NULL;
  }
  atomic_store(&s->state, CP_SLOT_ARMED);
  return s;
}

/* Claimed slots: with chunks, a first chunk of the file for each that has
 * none (one growth for all, outside any handler: threads that start
 * together would otherwise all grow the file in their first sample), then
 * their timers. Without, each slot's first sample grows the file (a lone
 * thread at start: a process that exits before its first sample then
 * never grows the file, and its stop has nothing to compact).
 * Called with reg_lock held. */
static void activate(cp_slot_t *const *slots, size_t n, bool chunks) {
  static cp_slot_t *need[CP_MAX_SLOTS]; /* reg_lock */
  size_t k = 0;
  for (size_t i = 0; i < n && chunks; i++)
    if (!slots[i]->chunk) need[k++] = slots[i];
  hs__cp_file_first_chunks(need, k); /* failing that, handlers try later */
  uint32_t gen = atomic_load(&hs__cp.gen);
  for (size_t i = 0; i < n; i++) start_timer(slots[i]);
  /* stop() may have run since the slots were claimed: whoever turns ARMED
   * into DEAD deletes the timer (seq_cst on both sides). */
  if (atomic_load(&hs__cp.state) != CP_RUNNING || atomic_load(&hs__cp.gen) != gen)
    for (size_t i = 0; i < n; i++) {
      int armed = CP_SLOT_ARMED;
      if (atomic_compare_exchange_strong(&slots[i]->state, &armed, CP_SLOT_DEAD))
        delete_timer(slots[i]);
    }
}

static bool lock_reg(bool in_signal) {
  if (in_signal) return hs__trylock(&reg_lock);
  hs__lock(&reg_lock);
  return true;
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* The calling thread's stack, [*lo, *hi); left as they are when unknown.
 * Not in a signal handler: pthread_getattr_np allocates (callers are
 * inside the runtime). */
static void own_stack(uintptr_t *lo, uintptr_t *hi) {
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  void *addr;
  size_t size;
  if (pthread_attr_getstack(&a, &addr, &size) == 0) {
    *lo = (uintptr_t)addr;
    *hi = *lo + size;
  }
  pthread_attr_destroy(&a);
}

/* Claims a slot for thread tid (reg_lock held). The caller's own stack is
 * known exactly when it is not a signal handler (pthread_getattr_np is not
 * async-signal-safe). Not asked for the main thread: glibc reads
 * /proc/self/maps for it (with sscanf, ~100,000 instructions), and the
 * handler finds the main stack in the snapshot taken from the same file. */
static cp_slot_t *claim_found(int tid, int self, bool in_signal) {
  uintptr_t lo = 0, hi = 0;
  if (tid == self && !in_signal && tid != getpid()) {
    hs__runtime_enter(); /* it allocates (and reads /proc for the main thread) */
    own_stack(&lo, &hi);
    hs__runtime_leave();
  }
  return claim(tid, lo, hi, 0);
}

/* The process's thread count, from one stat: procfs gives a task
 * directory 2 + (its threads) links. 0 when unknown. */
static int thread_count(void) {
  struct stat st;
  if (stat("/proc/self/task", &st) != 0 || st.st_nlink < 3) return 0;
  return (int)(st.st_nlink - 2);
}

/* glibc (2.32+) keeps it true until the process's first pthread_create;
 * weak: absent from older glibc. */
extern char __libc_single_threaded __attribute__((weak));

/* The caller is the process's only thread. glibc's flag answers without a
 * system call (the stat of /proc/self/task cost ~30 us of a new process's
 * CPU here: procfs builds the process's /proc entries on first use); a
 * thread made by a raw clone does not clear it (as for the rest of glibc),
 * and such a thread is registered by ProfilerRegisterThread. */
static bool alone(void) {
  if (&__libc_single_threaded && __libc_single_threaded) return true;
  return thread_count() == 1;
}

/* Every thread in /proc/self/task, claimed and armed (reg_lock taken
 * here). Its own function: the listing's 4 KiB buffer would otherwise
 * deepen the lone thread's start by a stack page (a page fault). */
static __attribute__((noinline)) int arm_listed(bool in_signal, int self, int *threads) {
  static cp_slot_t *claimed[CP_MAX_SLOTS]; /* reg_lock */
  size_t nclaimed = 0;
  int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  if (!lock_reg(in_signal)) {
    close(fd);
    return -1;
  }
  char buf[4096] __attribute__((aligned(8)));
  long n;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      off += d->d_reclen;
      int tid = 0;
      const char *p = d->d_name;
      for (; *p >= '0' && *p <= '9'; p++) tid = tid * 10 + (*p - '0');
      if (*p || tid <= 0) continue;
      ++*threads;
      cp_slot_t *s = claim_found(tid, self, in_signal);
      if (s) claimed[nclaimed++] = s;
    }
  }
  /* Threads that start together get their chunks together; a lone one
   * gets its own at its first sample. */
  activate(claimed, nclaimed, nclaimed > 1);
  hs__unlock(&reg_lock);
  close(fd);
  return (int)nclaimed;
}

int hs__cp_arm_all(bool in_signal, int *threads) {
  *threads = 0;
  int self = hs__cp_gettid();
  /* The caller alone (every program at load): no listing of
   * /proc/self/task, whose open and reads cost several times the stat. A
   * thread started meanwhile registers itself (our pthread_create). */
  if (!alone()) return arm_listed(in_signal, self, threads);
  if (!lock_reg(in_signal)) return -1;
  cp_slot_t *s = claim_found(self, self, in_signal);
  *threads = 1;
  /* A lone thread gets its first chunk at its first sample. */
  if (s) activate(&s, 1, false);
  hs__unlock(&reg_lock);
  return s ? 1 : 0;
}

void hs__cp_disarm_all(void) {
  uint32_t n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++) {
    cp_slot_t *s = &hs__cp_slots[i];
    int armed = CP_SLOT_ARMED;
    if (atomic_compare_exchange_strong(&s->state, &armed, CP_SLOT_DEAD)) {
      delete_timer(s);
      s->settle_at_stop = true; /* its thread was alive until now */
    }
  }
}

bool hs__cp_drain(uint64_t timeout_ns) {
  uint64_t t0 = hs__now_ns();
  uint32_t n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++)
    while (atomic_load(&hs__cp_slots[i].in_handler)) {
      if (hs__now_ns() - t0 > timeout_ns) return false;
      sched_yield();
    }
  return true;
}

bool hs__cp_reset_slots(bool in_signal) {
  if (!lock_reg(in_signal)) return false;
  uint32_t n = atomic_load(&hs__cp_nslots), keep = 0;
  for (uint32_t i = 0; i < n; i++) {
    cp_slot_t *s = &hs__cp_slots[i];
    /* A handler that never left (a thread stopped inside it) keeps its
     * slot: it may still write through it. */
    if (atomic_load(&s->in_handler)) {
      keep = i + 1;
      continue;
    }
    memset(s, 0, sizeof *s);
  }
  atomic_store(&hs__cp_nslots, keep);
  atomic_store(&unregistered, 0);
  hs__unlock(&reg_lock);
  return true;
}

void hs__cp_counts(uint64_t *samples, uint64_t *weight, uint64_t *lost) {
  uint64_t sa = 0, we = 0, lo = atomic_load(&hs__cp.lost);
  uint32_t n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++) {
    sa += hs__cp_slots[i].samples;
    we += hs__cp_slots[i].weight;
    lo += hs__cp_slots[i].lost;
  }
  *samples = sa;
  *weight = we;
  *lost = lo;
}

uint64_t hs__cp_unregistered(void) { return atomic_load(&unregistered); }

/* ---- threads we start ------------------------------------------------------------------------ */

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static _Atomic(pthread_create_fn) real_create;
static pthread_key_t exit_key;
static bool exit_key_ready;

/* What our pthread_create hands a new thread: its start routine, and until
 * the thread exits the value of exit_key (so the key's destructor runs). */
typedef struct thread_start {
  void *(*fn)(void *);
  void *arg;
} thread_start_t;

/* This thread's armed slot of the current session, or NULL. reg_lock held:
 * start (arm_all) or a registration cannot claim or arm it meanwhile. */
static cp_slot_t *own_slot(int tid) {
  uint32_t gen = atomic_load(&hs__cp.gen), n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++) {
    cp_slot_t *s = &hs__cp_slots[i];
    if (s->tid == tid && s->gen == gen && atomic_load(&s->state) == CP_SLOT_ARMED) return s;
  }
  return NULL;
}

/* The thread is leaving: its timer goes with it (its samples stay), and
 * the periods its timer owed but never delivered join the profile, from
 * its own CPU clock. Runs in every thread our pthread_create started,
 * profiled or not. */
static void on_thread_exit(void *p) {
  thread_start_t *ts = p;
  if (atomic_load(&hs__cp.state) == CP_RUNNING) {
    /* stop() may get there first (whoever turns ARMED into DEAD settles). */
    own_hold_t hold;
    cp_slot_t *s = hold_own_slot(&hold);
    int armed = CP_SLOT_ARMED;
    if (s && use_slot(s)) {
      if (atomic_compare_exchange_strong(&s->state, &armed, CP_SLOT_DEAD)) {
        delete_timer(s);
        if (!s->start_fn) s->start_fn = (uintptr_t)ts->fn; /* found in /proc at start */
        settle(s, CLOCK_THREAD_CPUTIME_ID);
      }
      unuse_slot(s);
    }
    release_own_slot(&hold);
  }
  hs__arena_free(ts);
}

static void register_current(uintptr_t start_fn) {
  if (atomic_load(&hs__cp.state) != CP_RUNNING) return;
  uintptr_t lo = 0, hi = 0;
  hs__runtime_enter(); /* pthread_getattr_np allocates */
  own_stack(&lo, &hi);
  hs__lock(&reg_lock);
  cp_slot_t *s = claim(hs__cp_gettid(), lo, hi, start_fn);
  if (s && use_slot(s)) { /* its first chunk is written into the file */
    activate(&s, 1, true);
    unuse_slot(s);
  } else if (s) { /* a stop began: whoever turns ARMED into DEAD deletes the timer */
    int armed = CP_SLOT_ARMED;
    if (atomic_compare_exchange_strong(&s->state, &armed, CP_SLOT_DEAD)) delete_timer(s);
  }
  hs__unlock(&reg_lock);
  hs__runtime_leave();
}

void hs__cp_register_self(void) { register_current(0); }

/* What a new thread runs first (hs__cp_thread_trampoline, below): the exit
 * key is set whether or not a profile runs now, since a profile started
 * later finds the thread in /proc/self/task and its exit must still
 * settle. Returns the start routine and its argument (rax:rdx). */
typedef struct thread_entry {
  void *(*fn)(void *);
  void *arg;
} thread_entry_t;

__attribute__((visibility("hidden"))) thread_entry_t hs__cp_thread_setup(thread_start_t *ts);
thread_entry_t hs__cp_thread_setup(thread_start_t *ts) {
  thread_entry_t e = {ts->fn, ts->arg};
  if (!exit_key_ready || pthread_setspecific(exit_key, ts) != 0) hs__arena_free(ts);
  register_current((uintptr_t)e.fn);
  return e;
}

/* The new thread's first instructions: the setup above, then a jump (not a
 * call) into the start routine, so no frame of ours stays on the thread's
 * stack: its stacks (leak reports, heap and CPU profiles) read
 * routine <- start_thread <- clone3 as without the runtime, and the leak
 * report, which cuts a stack at the first runtime frame, keeps them. */
void *hs__cp_thread_trampoline(void *ts);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl hs__cp_thread_trampoline\n"
        ".hidden hs__cp_thread_trampoline\n"
        ".type hs__cp_thread_trampoline, @function\n"
        "hs__cp_thread_trampoline:\n"
        ".cfi_startproc\n"
        "  endbr64\n"
        "  sub $8, %rsp\n" /* the call below needs a 16-byte aligned stack */
        ".cfi_adjust_cfa_offset 8\n"
        "  call hs__cp_thread_setup\n"
        "  add $8, %rsp\n"
        ".cfi_adjust_cfa_offset -8\n"
        "  mov %rdx, %rdi\n"
        "  jmp *%rax\n"
        ".cfi_endproc\n"
        ".size hs__cp_thread_trampoline, .-hs__cp_thread_trampoline\n");

static pthread_create_fn find_real_create(void) {
  pthread_create_fn real = atomic_load_explicit(&real_create, memory_order_acquire);
  if (HS_UNLIKELY(!real)) {
    hs__runtime_enter(); /* dlsym may allocate */
    real = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    hs__runtime_leave();
    atomic_store_explicit(&real_create, real, memory_order_release);
  }
  return real;
}

HS_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                             void *(*start)(void *), void *arg) {
  pthread_create_fn real = find_real_create();
  if (!real) return EAGAIN;
  thread_start_t *ts = hs__arena_alloc(sizeof *ts);
  if (!ts) return real(thread, attr, start, arg);
  ts->fn = start;
  ts->arg = arg;
  int rc = real(thread, attr, hs__cp_thread_trampoline, ts);
  if (rc != 0) hs__arena_free(ts);
  return rc;
}

void hs__cp_sampler_init(void) {
  find_real_create();
  if (!exit_key_ready && pthread_key_create(&exit_key, on_thread_exit) == 0) exit_key_ready = true;
}

void hs__cp_sampler_postfork_child(void) {
  hs__lock_reset(&reg_lock);
  /* The child has one thread and no timers (POSIX timers are not
   * inherited); every slot describes the parent. */
  uint32_t n = atomic_load(&hs__cp_nslots);
  for (uint32_t i = 0; i < n; i++) memset(&hs__cp_slots[i], 0, sizeof hs__cp_slots[i]);
  atomic_store(&hs__cp_nslots, 0);
}

/* ---- ProfilerGetStackTrace ----------------------------------------------------------------- */

/* This thread's stack from sp upward, without a slot: the thread pointer
 * tops every glibc thread's stack; the main thread's ends at
 * __libc_stack_end. */
static uintptr_t own_stack_hi(uintptr_t sp) {
  uintptr_t tp = thread_pointer(), end = (uintptr_t)__libc_stack_end;
  if (tp > sp && tp - sp < (1ul << 30)) return tp;
  if (end > sp && end - sp < (1ul << 30)) return end;
  return 0;
}

/* noipa: its frame must be the one ProfilerGetStackTrace calls (GCC split it
 * into a part called from here once a second caller appeared, which added a
 * frame the skip below did not count). */
__attribute__((noipa)) int hs__cp_stack_trace(void **result, int max_depth, int skip,
                                            const void *ucv) {
  if (!result || max_depth <= 0) return 0;
  uintptr_t pcs[CP_MAX_DEPTH + 1];
  int max = max_depth + skip < CP_MAX_DEPTH ? max_depth + skip : CP_MAX_DEPTH;
  uint64_t acc = 0;
  int n = 0;
  if (ucv) {
    /* From a signal handler's context: its pc, then its frames (skip does
     * not apply, as in gperftools' frame-pointer unwinder), walked as the
     * profiler's own samples are. */
    hs_unwind_regs_t st = context_regs(ucv);
    uintptr_t hi = own_stack_hi(st.sp);
    pcs[n++] = st.pc;
    if (hi) n = walk_bounded(st, hi, pcs, max_depth < CP_MAX_DEPTH ? max_depth : CP_MAX_DEPTH,
                             &acc);
    skip = 0;
  } else {
    /* From here (the runtime keeps frame pointers): frame 0 is
     * ProfilerGetStackTrace, frame 1 its caller. */
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0), hi = own_stack_hi(fp);
    if (hi && fp + 16 <= hi && !(fp & 7)) {
      const uintptr_t *f = (const uintptr_t *)fp;
      hs_unwind_regs_t st = {.pc = f[1], .sp = fp + 16, .bp = f[0], .exact = false};
      n = walk_bounded(st, hi, pcs, max + 1 < CP_MAX_DEPTH ? max + 1 : CP_MAX_DEPTH, &acc);
    }
    skip += 1; /* ProfilerGetStackTrace itself */
  }
  int out = 0;
  for (int i = skip; i < n && out < max_depth; i++) result[out++] = (void *)pcs[i];
  return out;
}
