/* heapscope runtime, bottom layer: attributes, locks, formatting, OS
 * primitives and assertions. Depends on nothing else in the runtime; every
 * other folder of core/ builds on it.
 *
 * Naming: public symbols are heapscope_* (include/), internal non-static
 * symbols are hs__*, file-local statics carry no prefix. Nothing in the
 * runtime may call the public malloc: internal memory comes from the
 * internal heap (core/alloc/alloc.h), output is formatted with hs__snprintf
 * into fixed buffers and written with write(2). */
#ifndef HEAPSCOPE_CORE_BASE_H
#define HEAPSCOPE_CORE_BASE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_EXPORT __attribute__((visibility("default")))
/* For the runtime's hot globals: a direct load, not one through the GOT. */
#define HS_HIDDEN __attribute__((visibility("hidden")))
#define HS_NOINLINE __attribute__((noinline))
#define HS_COLD __attribute__((cold, noinline))
#define HS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HS_TLS __thread __attribute__((tls_model("initial-exec")))

/* Runtime functions that call the program's code (the CMocka adapter's
 * fixtures calling a test) live in one section, so that leak stacks can be
 * cut where they re-enter the runtime, also when the runtime is linked
 * statically into the program (then it has no address range of its own). */
#define HS_CALLS_USER __attribute__((section("hs_calls_user"), noinline))
/* pc lies in an HS_CALLS_USER function (core/base/fmt.c). */
bool hs__calls_user(uintptr_t pc);

/* An address range [lo, hi). */
typedef struct hs_range {
  uintptr_t lo, hi;
} hs_range_t;

/* ---- assertions (core/base/fmt.c) ---------------------------------------
 * HEAPSCOPE_DEBUG (CMake option, 0-2) selects which invariants are checked:
 *   hs_assert           1+: cheap invariants on state changes
 *   hs_assert_expensive 2:  whole-structure walks (page map vs spans, lists)
 * Disabled checks still compile (their operands are type-checked) but are
 * never evaluated. A failure writes one line to stderr without allocating
 * and aborts. */
#ifndef HEAPSCOPE_DEBUG
#define HEAPSCOPE_DEBUG 0
#endif
static const int hs__debug_level = HEAPSCOPE_DEBUG;
_Noreturn void hs__assert_fail(const char *expr, const char *file, int line) HS_COLD;
#define hs_assert(e)                                                                    \
  ((void)(hs__debug_level >= 1 && !(e) ? (hs__assert_fail(#e, __FILE__, __LINE__), 0) : 0))
#define hs_assert_expensive(e)                                                          \
  ((void)(hs__debug_level >= 2 && !(e) ? (hs__assert_fail(#e, __FILE__, __LINE__), 0) : 0))

/* ---- formatting and diagnostics (core/base/fmt.c) ---------------------- */
/* printf subset: %d %i %u %x %X %p %s %c %% with l/ll/z/j modifiers, flags
 * '-' '0', width and precision (also '*'). Always NUL-terminates; returns
 * the length it would have written, like snprintf. Never allocates. */
int hs__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hs__snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* write(2) until done or a hard error; keeps errno unchanged. On failure
 * the error (ENOSPC, EBADF...) is left in the calling thread's
 * hs__write_error. */
bool hs__write_all(int fd, const char *data, size_t len);
extern HS_TLS int hs__write_error;
/* One "heapscope: ..." line on stderr (hs__report_fd). */
void hs__errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The fd for diagnostics and reports: fd 2 while it is open for writing,
 * else the process's stderr as it was at start-up (a private duplicate made
 * by hs__report_fd_init at the first malloc) while that is still the same
 * file. */
int hs__report_fd(void);
void hs__report_fd_init(void);

/* ---- locks (core/base/lock.c) ------------------------------------------ */
/* Futex-backed mutex usable before pthreads is initialised and from any
 * context except signal handlers. Zero-initialised is unlocked. */
typedef struct hs_lock {
  _Atomic int state; /* 0 free, 1 locked, 2 locked with waiters */
} hs_lock_t;
void hs__lock_slow(hs_lock_t *l);
void hs__unlock_slow(hs_lock_t *l);
static inline void hs__lock(hs_lock_t *l) {
  int expected = 0;
  if (!atomic_compare_exchange_strong_explicit(&l->state, &expected, 1,
                                               memory_order_acquire,
                                               memory_order_relaxed))
    hs__lock_slow(l);
}
static inline bool hs__trylock(hs_lock_t *l) {
  int expected = 0;
  return atomic_compare_exchange_strong_explicit(
      &l->state, &expected, 1, memory_order_acquire, memory_order_relaxed);
}
static inline void hs__unlock(hs_lock_t *l) {
  if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
    hs__unlock_slow(l);
}
/* A fork-reset hook: the child re-initialises instead of unlocking. */
static inline void hs__lock_reset(hs_lock_t *l) {
  atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

/* Locks in nesting order, outermost first: each layer adds its own, and
 * core/api/runtime.c lists them all for the fork handlers. */
#define HS_MAX_LOCKS 256
typedef struct hs_lock_list {
  hs_lock_t *lock[HS_MAX_LOCKS];
  const char *name[HS_MAX_LOCKS]; /* whose lock, for tests and messages */
  size_t n;
} hs_lock_list_t;
static inline void hs__lock_list_add(hs_lock_list_t *l, hs_lock_t *lock, const char *name) {
  if (l->n < HS_MAX_LOCKS) {
    l->lock[l->n] = lock;
    l->name[l->n++] = name;
  }
}

/* ---- exp and log without libm (core/base/mathlib.c) -------------------- */
double hs__log(double x);
double hs__exp(double x);

/* ---- OS primitives (core/base/os_linux.c) ------------------------------
 * Raw system calls: none allocates, all leave errno as they found it, and
 * none goes through the runtime's own exported mmap (so the runtime's
 * mappings are never profiled). */
void *hs__os_map(size_t size);           /* NULL on failure */
void *hs__os_map_aligned(size_t size, size_t align);
void hs__os_unmap(void *p, size_t size);
void hs__os_release(void *p, size_t size); /* MADV_DONTNEED, keeps mapping */
/* mremap(2): resize [p, p + old) to size, in place or (with may_move) moved
 * to an address aligned to align (a power of two >= 4096); NULL on failure,
 * the mapping unchanged. */
void *hs__os_remap(void *p, size_t old, size_t size, bool may_move, size_t align);
/* Moves the pages of [p, p + size) to [to, to + size), replacing what was
 * mapped there; false on failure (nothing moved). */
bool hs__os_move(void *p, size_t size, void *to);
/* Address space only: size bytes of PROT_NONE, MAP_NORESERVE (no commit
 * charge, no memory); NULL on failure. */
void *hs__os_reserve(size_t size);
/* Fresh read-write memory at exactly [p, p + size), replacing what the
 * caller reserved there (hs__os_reserve); committed as hs__os_map's is.
 * False on failure (the reservation stays). */
bool hs__os_map_fixed(void *p, size_t size);
/* Sets the protection of [p, p + size) (a whole-page range of a mapping the
 * caller owns) to read-only or read-write; false on failure (ENOMEM under
 * overcommit accounting, for example). */
bool hs__os_protect(void *p, size_t size, bool writable);
/* The address-space limit (RLIMIT_AS) is not infinite. */
bool hs__os_address_space_limited(void);
uint64_t hs__now_ns(void);               /* CLOCK_MONOTONIC */
/* CLOCK_MONOTONIC_COARSE: a few ms resolution, a tenth of the cost (on a
 * kvm-clock VM 15-45 ns against 141 ns). */
uint64_t hs__now_coarse_ns(void);
/* The 8 bytes at addr can be read (one system call, async-signal-safe):
 * false for unmapped and PROT_NONE memory. */
bool hs__os_readable(uintptr_t addr);
int hs__gettid(void);
/* pthread_setcancelstate(DISABLE), returning the previous state for
 * hs__cancel_restore. */
int hs__cancel_disable(void);
void hs__cancel_restore(int state);

#endif
