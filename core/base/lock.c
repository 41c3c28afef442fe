/* Futex mutex (Drepper, "Futexes Are Tricky", mutex #2). It needs no
 * initialisation, so the allocator can take it before libc or pthreads are
 * ready, and it never allocates. */
#include "core/base/base.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(_Atomic int *addr, int val) {
  int saved = errno;
  syscall(SYS_futex, (int *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
  errno = saved;
}

static void futex_wake(_Atomic int *addr) {
  int saved = errno;
  syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  errno = saved;
}

void hs__lock_slow(hs_lock_t *l) {
  /* Spin briefly: critical sections here are a few dozen instructions. */
  for (int i = 0; i < 100; i++) {
    int expected = 0;
    if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->state, &expected, 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return;
    __builtin_ia32_pause();
  }
  while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
    futex_wait(&l->state, 2);
}

void hs__unlock_slow(hs_lock_t *l) { futex_wake(&l->state); }
