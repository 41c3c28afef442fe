/* Built with -O2 -fomit-frame-pointer (tests/cpuprof/CMakeLists.txt): a
 * chain without frame pointers that raises a signal (for
 * ProfilerGetStackTrace(uc) in cpu_api.c), and one that asks for its own
 * stack. */
#include <gperftools/profiler.h>
#include <signal.h>

void nofp_raise_mid(int sig);
void nofp_raise(int sig);
int nofp_trace_inner(void **r, int n);
int nofp_trace_outer(void **r, int n);

/* ProfilerGetStackTrace from code without frame pointers. */
__attribute__((noinline)) int nofp_trace_inner(void **r, int n) {
  int d = ProfilerGetStackTrace(r, n, 0, 0);
  __asm__ volatile("" ::: "memory");
  return d;
}

__attribute__((noinline)) int nofp_trace_outer(void **r, int n) {
  int d = nofp_trace_inner(r, n);
  __asm__ volatile("" ::: "memory");
  return d;
}

__attribute__((noinline)) void nofp_raise_mid(int sig) {
  raise(sig);
  __asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline)) void nofp_raise(int sig) {
  nofp_raise_mid(sig);
  __asm__ volatile("" ::: "memory");
}
