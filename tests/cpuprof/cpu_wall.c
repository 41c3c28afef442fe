/* CPUPROFILE_REALTIME: wall-clock time. f_sleep sleeps 0.3 s, f_burn burns
 * 0.1 s of CPU. */
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>

#include "cputest.h"

BURNER(f_burn)

/* The system call is made here, not in libc: Debian's libc has no frame
 * pointers, so a frame-pointer walk from inside nanosleep() would skip its
 * caller (the CFI unwinder will not). */
__attribute__((noinline)) void f_sleep(double s) {
  struct timespec ts = {0, (long)(s * 1e9)}, rem;
  long r;
  do {
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_nanosleep), "D"(&ts), "S"(&rem)
                     : "rcx", "r11", "memory");
    ts = rem;
  } while (r == -EINTR);
}

int main(void) {
  f_sleep(0.3);
  f_burn(0.1);
  return 0;
}
