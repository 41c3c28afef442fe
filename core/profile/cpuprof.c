/* The CPU profiler's API and lifecycle: gperftools' <gperftools/profiler.h>
 * and variables, with the failures gperftools is known for designed out.
 *
 *   CPUPROFILE=PATH          start at load, stop at exit; PATH_<pid> with
 *                            CPUPROFILE_USE_PID, and in every child
 *   CPUPROFILESIGNAL=N       do not start at load; signal N toggles, files
 *                            PATH.0, PATH.1, ...
 *   CPUPROFILE_FREQUENCY=N   samples per second of CPU time (1..4000)
 *   CPUPROFILE_REALTIME      wall-clock time instead of CPU time
 *   CPUPROFILE_TIMER_SIGNAL  the signal timers send (SIGPROF)
 *   CPUPROFILE_PER_THREAD_TIMERS  accepted: every thread has its own timer
 *
 * Where gperftools loses data or the program, this does not:
 *   - an unwritable PATH is one heapscope: line; the program runs on
 *     (gperftools aborts it before main);
 *   - the file is written while the program runs and is a valid profile at
 *     every instant (cpuprof_file.c): a process killed by SIGKILL leaves
 *     every sample taken; a fatal signal with its default action (SIGTERM,
 *     SIGSEGV, ...) first compacts the file and writes PATH.tests, then
 *     takes its default action;
 *   - a forked child writes its own PATH_<pid> (gperftools' child rewrote
 *     the parent's samples into the parent's file);
 *   - a program that installs its own handler for the profiling signal is
 *     left alone: the timers stop, one line says so (gperftools delivered
 *     its ticks to the program's handler, or silently did not start);
 *   - ProfilerFlush leaves a file pprof can symbolize (gperftools' lacked
 *     the maps), and ProfilerStop deletes every timer.
 *
 * Start, stop and flush run one at a time (the control flag). Start and the
 * legacy stop are async-signal-safe, so CPUPROFILESIGNAL, fatal signals and
 * the forked child use the same code as the API; a stop inside a signal
 * handler writes the legacy format even when proto was asked for (the
 * symbolizer is not async-signal-safe). */
#include "core/profile/cpuprof_internal.h"

#include "core/base/settings.h"

#include <errno.h>
#include <gperftools/profiler.h>
#include <heapscope/heapscope.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

cp_session_t hs__cp = {.fd = -1};

typedef struct cp_config {
  int frequency;
  bool realtime, proto, use_pid;
  int signo;            /* the timers' signal */
  int toggle;           /* CPUPROFILESIGNAL, 0 = none */
  const char *env_path; /* CPUPROFILE */
} cp_config_t;

static cp_config_t cfg = {.frequency = 100, .signo = SIGPROF};

/* The control flag and the state it guards. One initialized struct, so in
 * .data beside cfg, whose page every process writes at load: a start that
 * touches no page of its own saves page faults, ~24 us each on this VM
 * (the zero-initialized flags sat in a .bss page of their own). */
static struct {
  _Atomic int flag;
  /* The holder's cancellation state from before it took the flag, or -1
   * (taken inside a signal handler: nothing to restore). Outside signal
   * handlers the flag is held with cancellation disabled: the holder makes
   * system calls that are cancellation points (open, write, fallocate),
   * and a thread cancelled there kept the flag, so every later start or
   * stop, the one at exit too, waited for it forever. */
  int cancel;
  unsigned toggle_count;
  bool took_signal_reported;
  bool started_alone; /* the last start found one thread, the caller */
} control = {.cancel = -1};

static bool take_control(bool in_signal) {
  int expected = 0;
  if (in_signal) {
    if (!atomic_compare_exchange_strong(&control.flag, &expected, 1)) return false;
    control.cancel = -1;
    return true;
  }
  int cancel = hs__cancel_disable();
  /* The holder is another thread, or a signal handler that interrupted
   * one: it finishes. (Never this thread: nothing here re-enters.) */
  for (;;) {
    expected = 0;
    if (atomic_compare_exchange_strong(&control.flag, &expected, 1)) break;
    sched_yield();
  }
  control.cancel = cancel;
  return true;
}
static void release_control(void) {
  int cancel = control.cancel;
  control.cancel = -1;
  atomic_store(&control.flag, 0);
  if (cancel >= 0) hs__cancel_restore(cancel);
}
/* Outside signal handlers; waits at most timeout_ns; false when another
 * holder keeps it. */
static bool take_control_for(uint64_t timeout_ns) {
  int cancel = hs__cancel_disable();
  uint64_t t0 = hs__now_ns();
  for (;;) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&control.flag, &expected, 1)) {
      control.cancel = cancel;
      return true;
    }
    if (hs__now_ns() - t0 > timeout_ns) {
      hs__cancel_restore(cancel);
      return false;
    }
    sched_yield();
  }
}

static const char *signame(int sig) {
  const char *n = sigabbrev_np(sig);
  return n ? n : "?";
}

/* ---- start and stop ------------------------------------------------------------------- */

static bool start_locked(const char *path, const struct ProfilerOptions *opt, bool in_signal) {
  cp_session_t *s = &hs__cp;
  if (atomic_load(&s->state) != CP_OFF || !path || !*path) return false;
  size_t len = strlen(path);
  if (len >= sizeof s->path - 32) {
    hs__errorf("CPU profile path is too long (%zu bytes); CPU profiler not started", len);
    return false;
  }
  if (!hs__cp_install_handler(cfg.signo)) {
    hs__errorf("the program handles signal %d (SIG%s) itself; CPU profiler not started "
               "(CPUPROFILE_TIMER_SIGNAL=N picks another signal)",
               cfg.signo, signame(cfg.signo));
    return false;
  }
  /* The handler's walker cannot map its rule cache itself. */
  if (!in_signal) hs__unwind_prepare();
  if (!hs__cp_reset_slots(in_signal)) {
    hs__errorf("CPU profiler busy registering a thread; not started");
    return false;
  }
  /* Files are written at stop by name: a relative name must not follow a
   * chdir of the program's (gperftools kept the descriptor). getcwd is a
   * system call into the caller's buffer: fine in a signal handler. */
  if (path[0] == '/' || !getcwd(s->path, sizeof s->path - len - 2)) {
    memcpy(s->path, path, len + 1);
    s->name = s->path;
  } else {
    size_t dl = strlen(s->path);
    s->path[dl] = '/';
    memcpy(s->path + dl + 1, path, len + 1);
    s->name = s->path + dl + 1;
  }
  s->signo = cfg.signo;
  s->realtime = cfg.realtime;
  s->proto = cfg.proto;
  s->period_us = (uint32_t)(1000000 / cfg.frequency);
  s->filter = opt ? opt->filter_in_thread : NULL;
  s->filter_arg = opt ? opt->filter_in_thread_arg : NULL;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  s->start_time = ts.tv_sec;
  s->start_ns = hs__now_ns();
  atomic_store(&s->lost, 0);
  /* /proc/self/maps (the file's maps lines and the stacks of the threads
   * that exist now) is read by the first sample, in one read, or by the
   * stop when something was recorded: not for a process that exits first. */
  hs__cp_snapshot_begin();
  hs__cp_maps_defer(in_signal);
  int err = 0;
  if (!hs__cp_file_open(&err)) {
    hs__errorf("cannot write CPU profile %s: %s; CPU profiler not started", path,
               hs__cp_strerror(err));
    hs__cp_free_stacks();
    return false;
  }
  atomic_fetch_add(&s->gen, 1);
  atomic_store(&s->state, CP_RUNNING);
  int threads;
  if (hs__cp_arm_all(in_signal, &threads) < 0) {
    /* A thread registering holds the slot table (only a signal handler
     * gets here): undo. */
    atomic_store(&s->state, CP_OFF);
    hs__cp_disarm_all();
    hs__cp_file_close(true);
    hs__cp_free_stacks();
    hs__errorf("CPU profiler busy registering a thread; not started");
    return false;
  }
  control.started_alone = threads == 1;
  return true;
}

/* Stops sampling and writes the profile. in_signal: inside a signal handler
 * (legacy format, bounded waits); sig: the fatal signal that ends the
 * process, or 0; at_exit: the process ends next, and the kernel frees what
 * the session mapped (unmapping the live file's 16 GiB reservation alone
 * cost a do-nothing process ~0.2 ms here; exit tears it down for nothing). */
static void stop_locked(bool in_signal, int sig, bool quiet, bool at_exit) {
  cp_session_t *s = &hs__cp;
  int st = atomic_load(&s->state);
  if (st == CP_OFF) return;
  atomic_store(&s->state, CP_STOPPING);
  hs__cp_disarm_all();
  bool drained = hs__cp_drain(in_signal ? 200000000ull : 2000000000ull);
  hs__cp_settle_all();
  /* The maps when something was recorded (a profile without samples names
   * nothing) and may have been mapped since they were read: a short
   * process reads them at most once. */
  if (hs__cp_file_has_records() && (in_signal || hs__cp_maps_stale()))
    hs__cp_file_sync_maps(in_signal);
  uint64_t samples, weight, lost;
  hs__cp_counts(&samples, &weight, &lost);
  bool proto = s->proto && !in_signal;
  cp_agg_t a;
  int err = 0, terr = 0;
  bool ok;
  if (!proto && hs__cp_file_is_compact()) {
    /* Nothing was recorded: the live file (header, trailer, maps) is the
     * compact profile already. It stays as it is: no second file, no
     * rename, and the live file's inode is not freed at exit. */
    memset(&a, 0, sizeof a);
    ok = true;
    if (!hs__cp_write_tests(&a, s->path, &terr))
      hs__errorf("cannot write %s.tests: %s", s->path, hs__cp_strerror(terr));
  } else if (!(ok = hs__cp_aggregate(&a))) {
    err = ENOMEM;
  } else if (proto) {
    hs__runtime_enter();
    ok = hs__cp_write_proto(&a, s->path, &err);
    hs__runtime_leave();
    char side[4200];
    hs__snprintf(side, sizeof side, "%s.tests", s->path);
    unlink(side); /* labels are in the profile */
  } else {
    ok = hs__cp_write_legacy(&a, s->path, &err);
    if (!hs__cp_write_tests(&a, s->path, &terr))
      hs__errorf("cannot write %s.tests: %s", s->path, hs__cp_strerror(terr));
  }
  int ferr = atomic_load(&s->file_error);
  if (!at_exit) hs__cp_agg_free(&a);
  hs__cp_file_close(drained && !at_exit);
  if (drained && !at_exit) {
    hs__cp_free_stacks();
    hs__cp_maps_free_retired();
  }
  atomic_store(&s->state, CP_OFF);

  uint64_t ms = weight * s->period_us / 1000;
  char extra[200] = "";
  size_t el = 0;
  if (sig)
    el += (size_t)hs__snprintf(extra, sizeof extra, ", written on signal %d (SIG%s)", sig,
                               signame(sig));
  if (s->proto && in_signal && el < sizeof extra)
    hs__snprintf(extra + el, sizeof extra - el,
                 ", in the legacy format (no symbolizer inside a signal handler)");
  if (quiet && ok) {
    /* The caller said it all. */
  } else if (!ok) {
    /* The live file is still a valid (uncompacted) profile. */
    hs__errorf("CPU profile %s not compacted: %s; the file holds the raw samples", s->path,
               hs__cp_strerror(err));
  } else {
    hs__errorf("CPU profile %s: %llu samples, %llu.%03llu s %s%s", s->path,
               (unsigned long long)samples, (unsigned long long)(ms / 1000),
               (unsigned long long)(ms % 1000), s->realtime ? "wall-clock" : "of CPU", extra);
  }
  if (lost || ferr)
    hs__errorf("CPU profile %s: %llu periods of samples lost%s%s", s->path,
               (unsigned long long)lost, ferr ? ": the file could not grow: " : "",
               ferr ? hs__cp_strerror(ferr) : "");
  if (hs__cp_unregistered())
    hs__errorf("CPU profile %s: %llu threads not sampled (more than %d at once)", s->path,
               (unsigned long long)hs__cp_unregistered(), CP_MAX_SLOTS);
}

/* ---- fatal signals -----------------------------------------------------------------------
 * Signals whose default action ends the process, caught while their
 * disposition is the default: the profile is compacted and PATH.tests
 * written, then the default action is taken. A program that installs its
 * own handler replaces ours (the sigaction interposer below). */

static const int fatal_signals[] = {SIGHUP, SIGINT,  SIGQUIT, SIGILL,  SIGABRT, SIGBUS,
                                    SIGFPE, SIGSEGV, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1,
                                    SIGUSR2, SIGXCPU, SIGXFSZ, SIGSYS};

static void on_fatal_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  if (atomic_load(&hs__cp.state) != CP_OFF && take_control(true)) {
    stop_locked(true, sig, false, true);
    release_control();
  }
  /* The default action, as if we had never been here. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  hs__cp_forget_handler(sig, &dfl);
  __sigaction(sig, &dfl, NULL);
  syscall(SYS_tgkill, getpid(), hs__cp_gettid(), sig);
  errno = saved;
}

static void catch_fatal_signals(void) {
  int sigs[sizeof fatal_signals / sizeof fatal_signals[0]];
  size_t n = 0;
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
    if (fatal_signals[i] != cfg.signo && fatal_signals[i] != cfg.toggle)
      sigs[n++] = fatal_signals[i];
  /* The only thread (every program at load): one system call a signal. */
  if (control.started_alone) {
    hs__cp_take_default_signals_alone(sigs, n, on_fatal_signal);
    return;
  }
  for (size_t i = 0; i < n; i++) hs__cp_take_signal(sigs[i], on_fatal_signal, true);
}

/* ---- CPUPROFILESIGNAL ------------------------------------------------------------------------ */

static void on_toggle_signal(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  if (!take_control(true)) {
    hs__errorf("CPUPROFILESIGNAL: the CPU profiler is busy; signal %d ignored", sig);
    errno = saved;
    return;
  }
  if (atomic_load(&hs__cp.state) != CP_OFF) {
    stop_locked(true, 0, false, false);
  } else {
    char path[4200];
    const char *base = cfg.env_path;
    if (cfg.use_pid)
      hs__snprintf(path, sizeof path, "%s_%d.%u", base, (int)getpid(), control.toggle_count++);
    else
      hs__snprintf(path, sizeof path, "%s.%u", base, control.toggle_count++);
    if (start_locked(path, NULL, true)) catch_fatal_signals();
  }
  release_control();
  errno = saved;
}

/* ---- exec'd children ----------------------------------------------------------------------------
 * A program the profiled process execs reads the same CPUPROFILE: it must
 * not overwrite the parent's file. As gperftools 2.18 does, children are
 * told to add their pid: CPUPROFILE_USE_PID=1 joins the environment (a new
 * array on the internal heap; the strings are not touched, so nothing
 * sees a changed CPUPROFILE as with gperftools' older high-bit trick). */
extern char **environ;
static void mark_children(void) {
  char **env = environ;
  size_t n = 0;
  if (!env) return;
  for (; env[n]; n++)
    if (!strncmp(env[n], "CPUPROFILE_USE_PID=", 19)) return;
  /* Pages of its own: a process that profiles nothing else never touches
   * the internal heap (its first use costs a few page faults and mmaps). */
  char **copy = hs__os_map((n + 2) * sizeof *copy);
  if (!copy) return;
  memcpy(copy, env, n * sizeof *copy);
  copy[n] = "CPUPROFILE_USE_PID=1";
  copy[n + 1] = NULL;
  environ = copy;
}

/* ---- the program's own handlers ------------------------------------------------------------------
 * While our handler holds a signal, the program sees what it would see
 * without us (sigaction's old action), and setting its own handler takes
 * the signal over. For the profiling signal that stops the profiler. */

void hs__cp_program_takes_signal(int signo) {
  if (signo != hs__cp.signo || atomic_load(&hs__cp.state) != CP_RUNNING) return;
  /* Timers off now, without waiting for anything; the profile is written
   * now if nothing else is starting or stopping, else at exit. */
  hs__cp_disarm_all();
  if (!control.took_signal_reported) {
    control.took_signal_reported = true;
    hs__errorf("the program installs its own handler for signal %d (SIG%s): CPU profiling "
               "stops here, the profile is %s (CPUPROFILE_TIMER_SIGNAL=N profiles such programs)",
               signo, signame(signo), hs__cp.path);
  }
  if (take_control_for(0)) {
    stop_locked(false, 0, true, false);
    release_control();
  }
}

HS_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (HS_UNLIKELY(hs__cp_owns_signal(sig))) {
    if (old) hs__cp_program_action(sig, old);
    if (!act) return 0;
    hs__cp_program_takes_signal(sig);
    int r = __sigaction(sig, act, NULL);
    if (r == 0) hs__cp_forget_handler(sig, act);
    return r;
  }
  return __sigaction(sig, act, old);
}

HS_EXPORT __sighandler_t signal(int sig, __sighandler_t handler) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  act.sa_flags = SA_RESTART; /* BSD semantics, as glibc's signal() */
  sigemptyset(&act.sa_mask);
  if (sig > 0 && sig < 65) sigaddset(&act.sa_mask, sig);
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

/* ---- <gperftools/profiler.h> ------------------------------------------------------------------- */

HS_EXPORT int ProfilerStartWithOptions(const char *fname, const struct ProfilerOptions *options) {
  hs__settings_init();
  if (!take_control(false)) return 0;
  bool ok = start_locked(fname, options, false);
  if (ok) catch_fatal_signals();
  release_control();
  return ok;
}

HS_EXPORT int ProfilerStart(const char *fname) { return ProfilerStartWithOptions(fname, NULL); }

static void stop(bool at_exit) {
  if (atomic_load(&hs__cp.state) == CP_OFF) return;
  take_control(false);
  stop_locked(false, 0, false, at_exit);
  release_control();
}

HS_EXPORT void ProfilerStop(void) { stop(false); }

HS_EXPORT void ProfilerFlush(void) {
  if (atomic_load(&hs__cp.state) != CP_RUNNING) return;
  take_control(false);
  if (atomic_load(&hs__cp.state) == CP_RUNNING) {
    /* The samples are in the file already; make sure its maps name every
     * module loaded since, and PATH.tests holds the tests so far. */
    hs__cp_file_sync_maps(false);
    if (!hs__cp.proto) {
      cp_agg_t a;
      int err = 0;
      if (hs__cp_aggregate(&a) && !hs__cp_write_tests(&a, hs__cp.path, &err))
        hs__errorf("cannot write %s.tests: %s", hs__cp.path, hs__cp_strerror(err));
      hs__cp_agg_free(&a);
    }
  }
  release_control();
}

/* Deprecated in gperftools: they do nothing there either. */
HS_EXPORT void ProfilerEnable(void) {}
HS_EXPORT void ProfilerDisable(void) {}

HS_EXPORT int ProfilingIsEnabledForAllThreads(void) {
  return atomic_load(&hs__cp.state) == CP_RUNNING;
}

/* Every thread is registered already (threads the program starts through
 * pthread_create, and all threads at start); this covers threads made some
 * other way (a raw clone). */
HS_EXPORT void ProfilerRegisterThread(void) { hs__cp_register_self(); }

HS_EXPORT void ProfilerGetCurrentState(struct ProfilerState *state) {
  if (!state) return;
  memset(state, 0, sizeof *state);
  if (atomic_load(&hs__cp.state) != CP_RUNNING) return;
  uint64_t samples, weight, lost;
  hs__cp_counts(&samples, &weight, &lost);
  state->enabled = 1;
  state->start_time = hs__cp.start_time;
  hs__snprintf(state->profile_name, sizeof state->profile_name, "%s", hs__cp.name);
  state->samples_gathered = weight > 0x7fffffff ? 0x7fffffff : (int)weight;
}

HS_EXPORT HS_NOINLINE int ProfilerGetStackTrace(void **result, int max_depth, int skip_count,
                                               const void *uc) {
  return hs__cp_stack_trace(result, max_depth, skip_count, uc);
}

/* heapscope_ spellings (<heapscope/heapscope.h>). */
HS_EXPORT int heapscope_cpu_profiler_start(const char *path) {
  return ProfilerStart(path) ? 0 : -EINVAL;
}
HS_EXPORT void heapscope_cpu_profiler_stop(void) { ProfilerStop(); }
HS_EXPORT void heapscope_cpu_profiler_flush(void) { ProfilerFlush(); }
HS_EXPORT void heapscope_cpu_profiler_set_test(const char *group, const char *name) {
  hs__cpuprof_set_test(group, name);
}

/* ---- the runtime's hooks (cpuprof.h) ------------------------------------------------------------ */

HS_NOINLINE void hs__cpuprof_set_test(const char *group, const char *name) {
  uint32_t id = name ? hs__cp_test_id(group, name) : 0;
  hs__cp_settle_test(atomic_load_explicit(&hs__cp_current_test, memory_order_relaxed));
  atomic_store_explicit(&hs__cp_current_test, id, memory_order_relaxed);
}

int hs__cpuprof_write_test(const char *group, const char *name, const char *path) {
  if (!name || atomic_load(&hs__cp.state) != CP_RUNNING) return 0;
  take_control(false);
  int rc = 0;
  if (atomic_load(&hs__cp.state) == CP_RUNNING) {
    uint32_t id = hs__cp_test_id(group, name);
    cp_agg_t a;
    if (!id || !hs__cp_aggregate(&a)) {
      errno = ENOMEM;
      rc = -1;
    } else {
      bool sampled = false;
      for (size_t i = 0; i < a.by_test.n && !sampled; i++) sampled = a.by_test.e[i].test == id;
      int err = 0;
      if (sampled) rc = hs__cp_write_legacy_test(&a, id, path, &err) ? 1 : (errno = err, -1);
      hs__cp_agg_free(&a);
    }
  }
  release_control();
  return rc;
}

bool hs__cpuprof_test_leaves(const char *group, const char *name, hs_cpu_leaf_t *out,
                             size_t max, size_t *n, uint64_t *total, uint64_t *period_ns) {
  *n = 0;
  *total = 0;
  *period_ns = 0;
  if (!name || atomic_load(&hs__cp.state) != CP_RUNNING) return false;
  take_control(false);
  bool ok = false;
  if (atomic_load(&hs__cp.state) == CP_RUNNING) {
    *period_ns = (uint64_t)hs__cp.period_us * 1000u;
    uint32_t id = hs__cp_test_id(group, name);
    cp_agg_t a;
    ok = id && hs__cp_aggregate(&a);
    if (ok) {
      /* The records of the live file are leaf first; one entry per
       * (test, stack): sum the test's per leaf, keep the largest. */
      const cp_table_t *t = &a.by_test;
      for (size_t i = 0; i < t->n; i++) {
        const cp_entry_t *e = &t->e[i];
        if (e->test != id || !e->depth) continue;
        *total += e->count;
        uintptr_t pc = (uintptr_t)hs__cp.base[e->off];
        size_t k = 0;
        while (k < *n && out[k].pc != pc) k++;
        if (k == *n) {
          if (*n < max) out[(*n)++] = (hs_cpu_leaf_t){pc, 0};
          else continue; /* a rare leaf past max: counted in *total only */
        }
        out[k].periods += e->count;
        for (; k > 0 && out[k - 1].periods < out[k].periods; k--) {
          hs_cpu_leaf_t x = out[k - 1];
          out[k - 1] = out[k];
          out[k] = x;
        }
      }
      hs__cp_agg_free(&a);
    }
  }
  release_control();
  return ok;
}

bool hs__cpuprof_running(void) {
  return atomic_load_explicit(&hs__cp.state, memory_order_relaxed) == CP_RUNNING;
}

/* Before a dlclose: the library's mapping lines join the profile while
 * it is still mapped, so its samples stay named. Under the control flag:
 * a stop on another thread closes and unmaps the live file (the append
 * wrote through the unmapped file, or grew whichever file had been given
 * the closed descriptor's number), a start sets it up anew. Waited for
 * 1 s at most: the holder may be waiting for the loader's lock, which a
 * dlclose called from a library's constructor or destructor holds. */
static void before_unload(void) {
  if (atomic_load(&hs__cp.state) != CP_RUNNING || !take_control_for(1000000000ull)) return;
  if (atomic_load(&hs__cp.state) == CP_RUNNING) hs__cp_file_sync_maps(false);
  release_control();
}

static __attribute__((noinline)) void start_with_pid(const char *base) {
  char path[4200];
  hs__snprintf(path, sizeof path, "%s_%d", base, (int)getpid());
  ProfilerStart(path);
}

void hs__cpuprof_init(void) {
  hs__cp_sampler_init();
  hs__modules_set_unload_listener(before_unload);
  cfg.frequency = (int)hs__setting_int(HS_SET_CPUPROFILE_FREQUENCY);
  cfg.realtime = hs__setting_given(HS_SET_CPUPROFILE_REALTIME);
  cfg.use_pid = hs__setting_bool(HS_SET_CPUPROFILE_USE_PID);
  int timer_signal = (int)hs__setting_int(HS_SET_CPUPROFILE_TIMER_SIGNAL);
  if (timer_signal) cfg.signo = timer_signal;
  const char *fmt = hs__setting_str(HS_SET_HEAPSCOPE_PROFILE_FORMAT);
  cfg.proto = fmt && !strcmp(fmt, "proto");
  cfg.env_path = hs__setting_str(HS_SET_CPUPROFILE);
  cfg.toggle = (int)hs__setting_int(HS_SET_CPUPROFILESIGNAL);
  if (!cfg.env_path) {
    if (cfg.toggle) hs__errorf("CPUPROFILESIGNAL is set but CPUPROFILE is not; ignored");
    return;
  }
  mark_children();
  if (cfg.toggle) {
    if (cfg.toggle == cfg.signo || !hs__cp_take_signal(cfg.toggle, on_toggle_signal, false))
      hs__errorf("CPUPROFILESIGNAL=%d: the signal is in use; CPU profiling cannot be toggled",
                 cfg.toggle);
    else hs__unwind_prepare(); /* profiling starts in a signal handler */
    return;
  }
  /* (No copy of CPUPROFILE on the stack: a 4 KiB buffer written at its
   * far end cost the start a page fault of a stack page, ~24 us here.) */
  if (cfg.use_pid) start_with_pid(cfg.env_path);
  else ProfilerStart(cfg.env_path); /* it catches the fatal signals */
}

/* After the program's destructors (and before the leak checker's exit
 * check, priority 101). */
__attribute__((destructor(102))) static void cpuprof_at_exit(void) { stop(true); }

/* Fork: control is not held across fork (a stop writing proto holds it
 * while it waits for the symbolizer's lock, which the fork handlers take
 * first). The child starts from scratch instead. */
void hs__cpuprof_postfork_child(void) {
  /* The child: one thread, no timers, the parent's file still mapped.
   * Drop the parent's profile without touching its file, then profile
   * this process into PATH_<pid> if the parent was profiling. */
  cp_session_t *s = &hs__cp;
  bool was_running = atomic_load(&s->state) == CP_RUNNING, started = false;
  atomic_store(&control.flag, 1);
  control.cancel = -1; /* (a parent's holder's, not this thread's) */
  hs__cp_sampler_postfork_child();
  hs__cp_file_postfork_child();
  hs__cp_free_stacks();
  atomic_store(&s->state, CP_OFF);
  if (was_running) {
    char path[4200];
    hs__snprintf(path, sizeof path, "%s_%d", s->path, (int)getpid());
    struct ProfilerOptions opt = {s->filter, s->filter_arg};
    started = start_locked(path, &opt, true);
  }
  release_control();
  /* Without _dl_find_object, the thread that learns modules for the
   * handlers (the parent's stayed in the parent): else the child's samples
   * in code it dlopens keep only their frame-pointer walk. */
  if (started) hs__unwind_restart_learner();
}
