/* Built with -O2 -fomit-frame-pointer (tests/cpuprof/CMakeLists.txt): a
 * chain without frame pointers that raises a signal, for
 * ProfilerGetStackTrace(uc) in cpu_api.c. */
#include <signal.h>

void nofp_raise_mid(int sig);
void nofp_raise(int sig);

__attribute__((noinline)) void nofp_raise_mid(int sig) {
  raise(sig);
  __asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void nofp_raise(int sig) {
  nofp_raise_mid(sig);
  __asm__ volatile("" ::: "memory");
}
