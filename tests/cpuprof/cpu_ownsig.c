/* A program that profiles itself with SIGPROF.
 *   cpu_ownsig after         (CPUPROFILE set, preloaded): installs its
 *                            handler in main, after the profiler started
 *   cpu_ownsig_linked before PATH: installs it, then calls ProfilerStart
 * It counts the SIGPROFs its handler gets by kind: setitimer's (SI_KERNEL)
 * and POSIX timers' (SI_TIMER, which would be the profiler's). */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#ifdef CPUTEST_LINKED
#include <gperftools/profiler.h>
#endif

#include "cputest.h"

BURNER(f_own)

static volatile int kernel_ticks, timer_signals, other;

static void on_prof(int sig, siginfo_t *si, void *uc) {
  if (si->si_code == SI_KERNEL) kernel_ticks++;
  else if (si->si_code == SI_TIMER) timer_signals++;
  else other++;
}

int main(int argc, char **argv) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_prof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGPROF, &sa, &old);
  printf("old_handler %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
#ifdef CPUTEST_LINKED
  printf("start %d\n", ProfilerStart(argv[2]));
#endif
  struct itimerval it = {{0, 10000}, {0, 10000}};
  setitimer(ITIMER_PROF, &it, NULL);
  double used = f_own(0.4);
  memset(&it, 0, sizeof it);
  setitimer(ITIMER_PROF, &it, NULL);
  printf("used %.3f kernel_ticks %d timer_signals %d other %d\n", used, kernel_ticks,
         timer_signals, other);
  return 0;
}
