/* HEAP_PROFILE_MMAP: mmap, mremap, munmap and sbrk regions in the heap
 * profile, as gperftools' heap profiler did before 2.17 removed it. The
 * runtime exports these four functions; they are plain system calls (sbrk:
 * glibc's) unless the profiler runs with HEAP_PROFILE_MMAP=true and the
 * caller is not the runtime itself. Regions are counted in the same stack
 * buckets as heap blocks, under the caller's stack.
 *
 * The same functions run gperftools' mmap-family MallocHooks (core/record/
 * hooks.c) and replacements while any is installed, and log each call
 * (HEAP_PROFILE_MMAP_LOG) while the profiler runs: one flag test when
 * neither is asked for.
 *
 * SYNCHRONIZATION: region_lock guards the region table (internal heap). */
#include "core/profile/heapprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <heapscope/heapscope.h>

typedef struct region {
  uintptr_t start, end;
  uint32_t bucket;
} region_t;

static region_t *regions; /* sorted by start, disjoint */
static size_t nregions, cap;
static hs_lock_t region_lock;
hs_lock_t *const hs__mmap_region_lock = &region_lock;
bool hs__mmap_profiling;  /* set by the profiler at start */
bool hs__mmap_log;        /* HEAP_PROFILE_MMAP_LOG, set by the profiler at start */

static bool active(void) {
  return hs__mmap_profiling && !hs__tstate.in_runtime && hs__heapprof_running();
}

static void count(uint32_t bucket, size_t bytes, bool alloc, bool whole) {
  hs_bucket_t *b = hs__depot_get(bucket);
  if (!b) return;
  if (alloc) {
    atomic_fetch_add_explicit(&b->allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->alloc_bytes, bytes, memory_order_relaxed);
    hs__heapprof_on_event(bytes, true);
  } else {
    if (whole) atomic_fetch_add_explicit(&b->frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->free_bytes, bytes, memory_order_relaxed);
    hs__heapprof_on_event(bytes, false);
  }
}

/* Remove [lo, hi) from the table, charging the bytes back to their stacks. */
static void forget(uintptr_t lo, uintptr_t hi) {
  hs__lock(&region_lock);
  for (size_t i = 0; i < nregions;) {
    region_t *r = &regions[i];
    if (r->end <= lo || r->start >= hi) {
      i++;
      continue;
    }
    uintptr_t cut_lo = r->start > lo ? r->start : lo;
    uintptr_t cut_hi = r->end < hi ? r->end : hi;
    bool whole = cut_lo == r->start && cut_hi == r->end;
    count(r->bucket, cut_hi - cut_lo, false, whole);
    if (whole) {
      memmove(r, r + 1, (nregions - i - 1) * sizeof *r);
      nregions--;
    } else if (cut_lo == r->start) {
      r->start = cut_hi;
      i++;
    } else if (cut_hi == r->end) {
      r->end = cut_lo;
      i++;
    } else { /* a hole in the middle: split, the tail keeps the stack */
      region_t tail = {cut_hi, r->end, r->bucket};
      r->end = cut_lo;
      if (nregions == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        region_t *grown = hs__arena_realloc(regions, ncap * sizeof *grown);
        if (!grown) break;
        regions = grown;
        cap = ncap;
        r = &regions[i];
      }
      memmove(&regions[i + 2], &regions[i + 1], (nregions - i - 1) * sizeof *r);
      regions[i + 1] = tail;
      nregions++;
      i += 2;
    }
  }
  hs__unlock(&region_lock);
}

/* frame: that of the function the exported entry point called (NULL: this
 * one's, when the entry point calls it directly). */
static HS_NOINLINE void remember(uintptr_t start, size_t len, void *frame) {
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  hs__runtime_enter();
  int depth = hs__capture_hashed(pcs, HS_MAX_DEPTH, frame ? frame : __builtin_frame_address(0),
                                 &hash);
  if (depth <= 0) {
    pcs[0] = 0;
    depth = 1;
    hash = hs__stack_hash(pcs, 1);
  }
  uint32_t id = hs__depot_intern_hashed(pcs, depth, hash);
  hs__runtime_leave();
  if (!id) return;
  forget(start, start + len); /* MAP_FIXED over an old region */
  hs__lock(&region_lock);
  if (nregions == cap) {
    size_t ncap = cap ? cap * 2 : 64;
    region_t *grown = hs__arena_realloc(regions, ncap * sizeof *grown);
    if (!grown) {
      hs__unlock(&region_lock);
      return;
    }
    regions = grown;
    cap = ncap;
  }
  size_t i = nregions;
  while (i > 0 && regions[i - 1].start > start) i--;
  memmove(&regions[i + 1], &regions[i], (nregions - i) * sizeof *regions);
  regions[i] = (region_t){start, start + len, id};
  nregions++;
  hs__unlock(&region_lock);
  count(id, len, true, true);
}

static size_t page_round(size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return (n + pg - 1) & ~(pg - 1);
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
  if ((unsigned long)r >= (unsigned long)-4095) {
    errno = (int)-r;
    return MAP_FAILED;
  }
  return (void *)r;
}

static bool hooked(void) {
  return HS_UNLIKELY(atomic_load_explicit(&hs__mmap_hooks_on, memory_order_relaxed) ||
                     hs__mmap_log) &&
         !hs__tstate.in_runtime;
}

static bool logging(void) { return hs__mmap_log && hs__heapprof_running(); }

static HS_NOINLINE void *mmap_hooked(void *addr, size_t len, int prot, int flags, int fd,
                                     off_t off) {
  void *frame = __builtin_frame_address(0);
  hs__hooks_run_pre_mmap(addr, len, prot, flags, fd, off, frame);
  void *p;
  if (!hs__hooks_mmap_replace(addr, len, prot, flags, fd, off, &p))
    p = sys_mmap(addr, len, prot, flags, fd, off);
  int saved = errno;
  if (p != MAP_FAILED && active()) remember((uintptr_t)p, page_round(len), frame);
  if (logging())
    hs__errorf("mmap(start=%p, len=%zu, prot=0x%x, flags=0x%x, fd=%d, offset=0x%llx) = %p", addr,
               len, (unsigned)prot, (unsigned)flags, fd, (unsigned long long)off, p);
  hs__hooks_run_mmap(p, addr, len, prot, flags, fd, off, frame);
  errno = saved;
  return p;
}

HS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (hooked()) return mmap_hooked(addr, len, prot, flags, fd, off);
  void *p = sys_mmap(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED && active()) remember((uintptr_t)p, page_round(len), NULL);
  return p;
}

HS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

static int sys_munmap(void *addr, size_t len) {
  long r = syscall(SYS_munmap, addr, len);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return 0;
}

/* gperftools runs the munmap hooks before the call. */
static HS_NOINLINE int munmap_hooked(void *addr, size_t len) {
  void *frame = __builtin_frame_address(0);
  hs__hooks_run_munmap(addr, len, frame);
  int r;
  if (!hs__hooks_munmap_replace(addr, len, &r)) r = sys_munmap(addr, len);
  int saved = errno;
  if (r == 0 && active()) forget((uintptr_t)addr, (uintptr_t)addr + page_round(len));
  if (logging()) hs__errorf("munmap(start=%p, len=%zu) = %d", addr, len, r);
  errno = saved;
  return r;
}

HS_EXPORT int munmap(void *addr, size_t len) {
  if (hooked()) return munmap_hooked(addr, len);
  if (sys_munmap(addr, len) != 0) return -1;
  if (active()) forget((uintptr_t)addr, (uintptr_t)addr + page_round(len));
  return 0;
}

static HS_NOINLINE void *mremap_hooked(void *old, size_t old_len, size_t new_len, int flags,
                                       void *new_addr, void *r) {
  void *frame = __builtin_frame_address(0);
  int saved = errno;
  if (r != MAP_FAILED && active()) {
    forget((uintptr_t)old, (uintptr_t)old + page_round(old_len));
    remember((uintptr_t)r, page_round(new_len), frame);
  }
  if (logging())
    hs__errorf("mremap(old_addr=%p, old_size=%zu, new_size=%zu, flags=0x%x, new_addr=%p) = %p", old,
               old_len, new_len, (unsigned)flags, new_addr, r);
  hs__hooks_run_mremap(r, old, old_len, new_len, flags, new_addr, frame);
  errno = saved;
  return r;
}

HS_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  void *new_addr = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void *);
    va_end(ap);
  }
  long r = syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
  void *res = (void *)r;
  if ((unsigned long)r >= (unsigned long)-4095) {
    errno = (int)-r;
    res = MAP_FAILED;
  }
  if (hooked()) return mremap_hooked(old, old_len, new_len, flags, new_addr, res);
  if (res != MAP_FAILED && active()) {
    forget((uintptr_t)old, (uintptr_t)old + page_round(old_len));
    remember((uintptr_t)r, page_round(new_len), NULL);
  }
  return res;
}

typedef void *(*sbrk_fn)(intptr_t);

static HS_NOINLINE void *sbrk_hooked(sbrk_fn real, intptr_t inc) {
  void *frame = __builtin_frame_address(0);
  /* As gperftools: sbrk(0) only reads the break; no hooks. */
  if (inc != 0) hs__hooks_run_pre_sbrk(inc, frame);
  void *old = real(inc);
  int saved = errno;
  if (old != (void *)-1 && inc != 0 && active()) {
    if (inc > 0) remember((uintptr_t)old, (size_t)inc, frame);
    else forget((uintptr_t)old + (uintptr_t)inc, (uintptr_t)old);
  }
  if (inc != 0) {
    if (logging()) hs__errorf("sbrk(inc=%lld) = %p", (long long)inc, old);
    hs__hooks_run_sbrk(old, inc, frame);
  }
  errno = saved;
  return old;
}

HS_EXPORT void *sbrk(intptr_t inc) {
  static sbrk_fn real;
  if (!real) {
    hs__runtime_enter();
    real = (sbrk_fn)dlsym(RTLD_NEXT, "sbrk");
    hs__runtime_leave();
    if (!real) {
      errno = ENOMEM;
      return (void *)-1;
    }
  }
  if (hooked()) return sbrk_hooked(real, inc);
  void *old = real(inc);
  if (old != (void *)-1 && inc != 0 && active()) {
    if (inc > 0) remember((uintptr_t)old, (size_t)inc, NULL);
    else forget((uintptr_t)old + (uintptr_t)inc, (uintptr_t)old);
  }
  return old;
}

/* MallocHook::UnhookedMMap/UnhookedMUnmap (<gperftools/malloc_hook.h>): no
 * hooks and no profiling, but the replacements apply, as in gperftools. */
HS_EXPORT void *heapscope_mmap_unhooked(void *addr, size_t len, int prot, int flags, int fd,
                                        int64_t off) {
  void *p;
  if (hs__hooks_mmap_replace(addr, len, prot, flags, fd, (off_t)off, &p)) return p;
  return sys_mmap(addr, len, prot, flags, fd, (off_t)off);
}

HS_EXPORT int heapscope_munmap_unhooked(void *addr, size_t len) {
  int r;
  if (hs__hooks_munmap_replace(addr, len, &r)) return r;
  return sys_munmap(addr, len);
}

/* See hs__runtime_anchor: keeps the mmap hooks in static links. */
void hs__mmap_profile_anchor(void) {}
