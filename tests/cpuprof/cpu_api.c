/* gperftools' <gperftools/profiler.h>, as a program linked with the runtime
 * sees it. argv[1]: a directory for the profiles. Prints "FAIL ..." for
 * every broken rule (exit status 1); the driver then checks the files:
 *   one.prof      f_one, f_flushed, f_registered (once), not f_after_stop
 *   flushed.prof  a copy taken right after ProfilerFlush: readable, names
 *                 f_one and f_flushed
 *   two.prof      f_kept, not f_filtered_out (filter_in_thread) */
#include <dlfcn.h>
#include <fcntl.h>
#include <gperftools/profiler.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "cputest.h"

BURNER(f_one)
BURNER(f_flushed)
BURNER(f_registered)
BURNER(f_after_stop)
BURNER(f_kept)
BURNER(f_filtered_out)

static int failures;
#define CHECK(cond, ...)           \
  do {                             \
    if (!(cond)) {                 \
      printf("FAIL " __VA_ARGS__); \
      printf("\n");                \
      failures++;                  \
    }                              \
  } while (0)

static char dir[2048];
static const char *in_dir(const char *name) {
  static char buf[4][2200];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  char buf[65536];
  ssize_t n;
  while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) write(out, buf, (size_t)n);
  close(in);
  close(out);
}

static __thread int profile_me = 1;
static int filter(void *arg) { return profile_me && arg == (void *)0x1234; }

static void *filtered_thread(void *a) {
  profile_me = 0;
  f_filtered_out(0.15);
  return NULL;
}

static void *registered_thread(void *a) {
  ProfilerRegisterThread(); /* already registered: must not double its samples */
  ProfilerRegisterThread();
  f_registered(0.15);
  return NULL;
}

/* A thread that runs from before ProfilerStop to after it: its timer
 * must be deleted at stop as well. */
static atomic_int linger_stop, linger_started;
static void *lingering_thread(void *a) {
  atomic_store(&linger_started, 1);
  while (!atomic_load(&linger_stop)) burn_cpu(0.01);
  return NULL;
}

/* POSIX timers of this process (/proc/self/timers, one "ID:" line each);
 * -1 when the kernel does not list them. */
static int posix_timers(void) {
  FILE *f = fopen("/proc/self/timers", "r");
  if (!f) return -1;
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "ID:", 3)) n++;
  fclose(f);
  return n;
}

static volatile int timer_signals, other_signals;
static void count_prof(int sig, siginfo_t *si, void *uc) {
  if (si->si_code == SI_TIMER) timer_signals++;
  else other_signals++;
}

static const char *name_of(void *pc, int exact) {
  Dl_info info;
  if (dladdr((char *)pc - (exact ? 0 : 1), &info) && info.dli_sname) return info.dli_sname;
  return "?";
}

__attribute__((noinline)) int inner_trace(void **r, int n, int skip);
__attribute__((noinline)) int inner_trace(void **r, int n, int skip) {
  int d = ProfilerGetStackTrace(r, n, skip, NULL);
  __asm__ volatile("" ::: "memory");
  return d;
}
__attribute__((noinline)) int outer_trace(void **r, int n, int skip);
__attribute__((noinline)) int outer_trace(void **r, int n, int skip) {
  int d = inner_trace(r, n, skip);
  __asm__ volatile("" ::: "memory");
  return d;
}

static void *uc_trace[32];
static int uc_depth;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  uc_depth = ProfilerGetStackTrace(uc_trace, 32, 5 /* ignored with uc */, uc);
}
/* cpu_api_nofp.c, built without frame pointers */
void nofp_raise(int sig);
int nofp_trace_outer(void **r, int n);

__attribute__((noinline)) void raiser(void);
__attribute__((noinline)) void raiser(void) {
  raise(SIGUSR1);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
  snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : ".");
  struct ProfilerState st;

  CHECK(!ProfilingIsEnabledForAllThreads(), "enabled before start");
  memset(&st, 0x55, sizeof st);
  ProfilerGetCurrentState(&st);
  CHECK(!st.enabled && !st.profile_name[0] && !st.samples_gathered, "state before start");
  CHECK(ProfilerStart(NULL) == 0, "ProfilerStart(NULL) succeeded");
  CHECK(ProfilerStart("") == 0, "ProfilerStart(\"\") succeeded");

  time_t t0 = time(NULL);
  CHECK(ProfilerStart(in_dir("one.prof")) != 0, "ProfilerStart failed");
  CHECK(ProfilingIsEnabledForAllThreads(), "not enabled after start");
  CHECK(ProfilerStart(in_dir("second.prof")) == 0, "a second ProfilerStart succeeded");
  CHECK(access(in_dir("second.prof"), F_OK) != 0, "a second ProfilerStart created its file");

  f_one(0.15);
  ProfilerGetCurrentState(&st);
  CHECK(st.enabled == 1, "state.enabled %d", st.enabled);
  CHECK(!strcmp(st.profile_name, in_dir("one.prof")), "state.profile_name '%s'", st.profile_name);
  CHECK(st.start_time >= t0 - 1 && st.start_time <= time(NULL) + 1, "state.start_time");
  CHECK(st.samples_gathered >= 5, "state.samples_gathered %d after 0.15 s", st.samples_gathered);

  f_flushed(0.1);
  ProfilerFlush();
  copy_file(in_dir("one.prof"), in_dir("flushed.prof"));

  pthread_t t;
  pthread_create(&t, NULL, registered_thread, NULL);
  pthread_join(t, NULL);

  pthread_t lingering;
  pthread_create(&lingering, NULL, lingering_thread, NULL);
  while (!atomic_load(&linger_started)) sched_yield();
  int timers = posix_timers();
  CHECK(timers == -1 || timers >= 2, "%d POSIX timers while two threads are profiled", timers);
  ProfilerStop();
  int left = posix_timers();
  CHECK(left <= 0, "%d POSIX timers left after ProfilerStop (a thread still runs)", left);
  if (timers == -1) printf("note: no /proc/self/timers; timers after stop not counted\n");
  CHECK(!ProfilingIsEnabledForAllThreads(), "enabled after stop");
  ProfilerGetCurrentState(&st);
  CHECK(!st.enabled && !st.profile_name[0], "state after stop");
  ProfilerStop(); /* no effect */
  ProfilerEnable();
  ProfilerDisable();
  CHECK(!ProfilingIsEnabledForAllThreads(), "ProfilerEnable started profiling");

  /* After stop no timer is left, neither the main thread's nor that of the
   * thread still running: a handler of the program's own gets no timer
   * signal (gperftools' per-thread timers kept firing). */
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = count_prof;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGPROF, &sa, &old);
  CHECK(old.sa_handler == SIG_DFL, "the program sees a SIGPROF handler it never set");
  f_after_stop(0.3);
  atomic_store(&linger_stop, 1);
  pthread_join(lingering, NULL);
  CHECK(timer_signals == 0, "%d timer signals after ProfilerStop", timer_signals);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = 0;
  sigaction(SIGPROF, &sa, NULL);

  /* A second profile, with a filter that drops one thread's samples. */
  struct ProfilerOptions opt;
  memset(&opt, 0, sizeof opt);
  opt.filter_in_thread = filter;
  opt.filter_in_thread_arg = (void *)0x1234;
  CHECK(ProfilerStartWithOptions(in_dir("two.prof"), &opt) != 0, "restart failed");
  pthread_create(&t, NULL, filtered_thread, NULL);
  f_kept(0.15);
  pthread_join(t, NULL);
  ProfilerStop();

  /* ProfilerGetStackTrace from code: frame 0 is the caller. */
  void *r[8];
  int d = outer_trace(r, 8, 0);
  CHECK(d >= 3 && !strcmp(name_of(r[0], 0), "inner_trace") &&
            !strcmp(name_of(r[1], 0), "outer_trace") && !strcmp(name_of(r[2], 0), "main"),
        "ProfilerGetStackTrace: %d frames: %s %s %s", d, d > 0 ? name_of(r[0], 0) : "",
        d > 1 ? name_of(r[1], 0) : "", d > 2 ? name_of(r[2], 0) : "");
  d = outer_trace(r, 8, 1);
  CHECK(d >= 2 && !strcmp(name_of(r[0], 0), "outer_trace"), "skip_count 1: %s",
        d > 0 ? name_of(r[0], 0) : "");
  d = outer_trace(r, 1, 0);
  CHECK(d == 1, "max_depth 1 gave %d frames", d);
  /* From code without frame pointers: its callers are kept. */
  d = nofp_trace_outer(r, 8);
  CHECK(d >= 3 && !strcmp(name_of(r[0], 0), "nofp_trace_inner") &&
            !strcmp(name_of(r[1], 0), "nofp_trace_outer") && !strcmp(name_of(r[2], 0), "main"),
        "ProfilerGetStackTrace without frame pointers: %d frames: %s %s %s", d,
        d > 0 ? name_of(r[0], 0) : "", d > 1 ? name_of(r[1], 0) : "", d > 2 ? name_of(r[2], 0) : "");

  /* From a signal handler's context: the interrupted pc, then its frames. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raiser();
  int found_main = 0;
  for (int i = 1; i < uc_depth; i++)
    if (!strcmp(name_of(uc_trace[i], 0), "main")) found_main = 1;
  Dl_info info;
  CHECK(uc_depth >= 2 && dladdr(uc_trace[0], &info) && strstr(info.dli_fname, "libc"),
        "ProfilerGetStackTrace(uc): frame 0 is not the interrupted pc in libc");
  CHECK(found_main, "ProfilerGetStackTrace(uc): main not among %d frames", uc_depth);
  /* The same through code without frame pointers: its callers are kept. */
  uc_depth = 0;
  nofp_raise(SIGUSR1);
  int at_mid = -1, at_outer = -1;
  found_main = 0;
  for (int i = 1; i < uc_depth; i++) {
    const char *fn = name_of(uc_trace[i], 0);
    if (!strcmp(fn, "nofp_raise_mid") && at_mid < 0) at_mid = i;
    if (!strcmp(fn, "nofp_raise") && at_outer < 0) at_outer = i;
    if (!strcmp(fn, "main")) found_main = 1;
  }
  CHECK(at_mid > 0 && at_outer > at_mid && found_main,
        "ProfilerGetStackTrace(uc) through code without frame pointers: nofp_raise_mid at %d, "
        "nofp_raise at %d, main %s, of %d frames", at_mid, at_outer, found_main ? "found" : "missing",
        uc_depth);

  report("f_one", 0);
  printf("failures %d\n", failures);
  return failures ? 1 : 0;
}
