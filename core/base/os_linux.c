/* OS primitives for Linux. Every call here is a raw system call wrapper:
 * none of them allocates, and all of them leave errno as they found it. */
#include "core/base/base.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *hs__os_map(size_t size) {
  int saved = errno;
  /* No MAP_NORESERVE: the kernel's overcommit heuristic must refuse sizes
   * no machine could back (as it does for glibc), or malloc(1 << 45) would
   * succeed and the page map, 8 bytes per page, would exhaust memory. */
  /* Raw system calls: the runtime exports mmap/munmap for HEAP_PROFILE_MMAP
   * (core/mmap_profile.c), and its own mappings must not be profiled. */
  long r = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  errno = saved;
  return (unsigned long)r >= (unsigned long)-4095 ? NULL : (void *)r;
}

void *hs__os_map_aligned(size_t size, size_t align) {
  size_t total = size + align;
  char *p = hs__os_map(total);
  if (!p) return NULL;
  uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = a - (uintptr_t)p, tail = total - head - size;
  if (head) hs__os_unmap(p, head);
  if (tail) hs__os_unmap((char *)a + size, tail);
  return (void *)a;
}

void hs__os_unmap(void *p, size_t size) {
  int saved = errno;
  syscall(SYS_munmap, p, size);
  errno = saved;
}

void hs__os_release(void *p, size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);
  errno = saved;
}

static bool os_failed(long r) { return (unsigned long)r >= (unsigned long)-4095; }

void *hs__os_remap(void *p, size_t old, size_t size, bool may_move, size_t align) {
  int saved = errno;
  long r = syscall(SYS_mremap, p, old, size, 0, 0);
  if (os_failed(r) && may_move) {
    /* Reserve an aligned range (a mapping the move replaces), then move the
     * pages there; mremap alone may pick any 4 KiB-aligned address. */
    size_t total = size + align;
    long res = syscall(SYS_mmap, NULL, total, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!os_failed(res)) {
      uintptr_t a = ((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1);
      r = syscall(SYS_mremap, p, old, size, MREMAP_MAYMOVE | MREMAP_FIXED, a);
      size_t head = a - (uintptr_t)res, tail = total - head - size;
      if (os_failed(r)) {
        syscall(SYS_munmap, res, total);
      } else {
        if (head) syscall(SYS_munmap, res, head);
        if (tail) syscall(SYS_munmap, a + size, tail);
      }
    }
  }
  errno = saved;
  return os_failed(r) ? NULL : (void *)r;
}

bool hs__os_move(void *p, size_t size, void *to) {
  int saved = errno;
  long r = syscall(SYS_mremap, p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
  errno = saved;
  return !os_failed(r);
}

void *hs__os_reserve(size_t size) {
  int saved = errno;
  long r = syscall(SYS_mmap, NULL, size, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  errno = saved;
  return os_failed(r) ? NULL : (void *)r;
}

bool hs__os_map_fixed(void *p, size_t size) {
  int saved = errno;
  long r = syscall(SYS_mmap, p, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  errno = saved;
  return !os_failed(r);
}

bool hs__os_protect(void *p, size_t size, bool writable) {
  int saved = errno;
  long r = syscall(SYS_mprotect, p, size, writable ? PROT_READ | PROT_WRITE : PROT_READ);
  errno = saved;
  return !os_failed(r);
}

bool hs__os_address_space_limited(void) {
  struct rlimit rl;
  int saved = errno;
  long r = syscall(SYS_getrlimit, RLIMIT_AS, &rl);
  errno = saved;
  return r != 0 || rl.rlim_cur != RLIM_INFINITY;
}

uint64_t hs__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hs__now_coarse_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int hs__gettid(void) { return (int)syscall(SYS_gettid); }

int hs__cancel_disable(void) {
  int old = PTHREAD_CANCEL_ENABLE;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  return old;
}

void hs__cancel_restore(int state) { pthread_setcancelstate(state, NULL); }
/* rt_sigprocmask reads the new mask from user memory before it checks
 * `how`: with an invalid `how` it changes nothing and answers EFAULT when
 * the 8 bytes at addr cannot be read, EINVAL when they can. */
bool hs__os_readable(uintptr_t addr) {
  int saved = errno;
  long r = syscall(SYS_rt_sigprocmask, 0x7fffffff, (void *)addr, NULL, 8);
  bool ok = r < 0 && errno == EINVAL;
  errno = saved;
  return ok;
}
