/* gperftools' MallocHook: the program's callbacks on every allocation and
 * free (and on mmap, mremap, munmap and sbrk calls), behind
 * <gperftools/malloc_hook_c.h> (core/api/malloc_hook.c).
 *
 * Each kind has HOOK_SLOTS slots filled by Add (gperftools has 7) plus one
 * for the deprecated singular Set*Hook; the mmap and munmap replacements
 * have one slot each. Slots are atomic pointers: adding and removing take
 * hook_lock, calling takes nothing (a snapshot of the slots is taken first,
 * so a hook may remove itself or add others; those added run from the next
 * call on, as gperftools documents).
 *
 * New and delete hooks run on the recording slow path (core/record/record.c)
 * after the allocator is done, so no allocator lock is held: while at least
 * one is installed hs__hooked carries HS_HOOKED_USER and every call of the
 * malloc family leaves its fast path; with none installed the fast paths
 * are exactly what they were. They never run for the runtime's own
 * allocations (a thread inside the runtime), and never recursively: what a
 * hook allocates is allocated, and recorded, but calls no hook. errno is
 * kept across them.
 *
 * SYNCHRONIZATION: hook_lock serializes Add/Remove/Set; slots are read
 * lock-free (acquire). */
#include "core/record/record.h"

#include <errno.h>

#define HOOK_SLOTS 7
#define SINGULAR HOOK_SLOTS

static _Atomic(void *) slots[HS_HOOK_KINDS][HOOK_SLOTS + 1];
/* Bit i set while slots[kind][i] is filled (hook_lock): callers scan only
 * those, not all eight slots, on every hooked malloc and free. */
static _Atomic unsigned filled[HS_HOOK_KINDS];
static int installed[HS_HOOK_KINDS]; /* filled slots per kind; hook_lock */
static hs_lock_t hook_lock;
_Atomic int hs__mmap_hooks_on;
static HS_TLS bool in_hook;
/* The recording entry function's frame while this thread runs hooks, for
 * MallocHook_GetCallerStackTrace. */
static HS_TLS void *hook_frame;

static bool is_malloc_kind(hs_hook_kind_t k) { return k == HS_HOOK_NEW || k == HS_HOOK_DELETE; }

/* Called with hook_lock held after installed[kind] moved by delta. */
static void update_flags(hs_hook_kind_t kind, int delta) {
  installed[kind] += delta;
  if (is_malloc_kind(kind)) {
    bool any = installed[HS_HOOK_NEW] + installed[HS_HOOK_DELETE] > 0;
    if (any) atomic_fetch_or(&hs__hooked, HS_HOOKED_USER);
    else atomic_fetch_and(&hs__hooked, ~HS_HOOKED_USER);
  } else {
    atomic_fetch_add(&hs__mmap_hooks_on, delta);
  }
}

bool hs__hook_add(hs_hook_kind_t kind, void *fn) {
  if (!fn || kind >= HS_HOOK_KINDS) return false;
  int slots_for_add = kind == HS_HOOK_MMAP_REPLACE || kind == HS_HOOK_MUNMAP_REPLACE ? 1 : HOOK_SLOTS;
  bool ok = false;
  hs__lock(&hook_lock);
  for (int i = 0; i < slots_for_add && !ok; i++) {
    if (atomic_load_explicit(&slots[kind][i], memory_order_relaxed)) continue;
    atomic_store_explicit(&slots[kind][i], fn, memory_order_release);
    atomic_fetch_or_explicit(&filled[kind], 1u << i, memory_order_release);
    update_flags(kind, 1);
    ok = true;
  }
  hs__unlock(&hook_lock);
  return ok;
}

bool hs__hook_remove(hs_hook_kind_t kind, void *fn) {
  if (!fn || kind >= HS_HOOK_KINDS) return false;
  bool ok = false;
  hs__lock(&hook_lock);
  for (int i = 0; i < HOOK_SLOTS && !ok; i++) {
    if (atomic_load_explicit(&slots[kind][i], memory_order_relaxed) != fn) continue;
    atomic_store_explicit(&slots[kind][i], NULL, memory_order_release);
    atomic_fetch_and_explicit(&filled[kind], ~(1u << i), memory_order_release);
    update_flags(kind, -1);
    ok = true;
  }
  hs__unlock(&hook_lock);
  return ok;
}

void *hs__hook_set_singular(hs_hook_kind_t kind, void *fn) {
  if (kind >= HS_HOOK_KINDS) return NULL;
  hs__lock(&hook_lock);
  void *old = atomic_exchange(&slots[kind][SINGULAR], fn);
  if (fn) atomic_fetch_or_explicit(&filled[kind], 1u << SINGULAR, memory_order_release);
  else atomic_fetch_and_explicit(&filled[kind], ~(1u << SINGULAR), memory_order_release);
  if (!old != !fn) update_flags(kind, fn ? 1 : -1);
  hs__unlock(&hook_lock);
  return old;
}

void *hs__hook_singular(hs_hook_kind_t kind) {
  return kind < HS_HOOK_KINDS ? atomic_load_explicit(&slots[kind][SINGULAR], memory_order_acquire)
                              : NULL;
}

/* The installed hooks of kind, in slot order. A slot emptied after the
 * mask was read reads NULL and is skipped. */
static int snapshot(hs_hook_kind_t kind, void **out) {
  int n = 0;
  for (unsigned m = atomic_load_explicit(&filled[kind], memory_order_acquire); m; m &= m - 1) {
    void *fn = atomic_load_explicit(&slots[kind][__builtin_ctz(m)], memory_order_acquire);
    if (fn) out[n++] = fn;
  }
  return n;
}

/* Enter hook context: false when hooks must not run now (the runtime's own
 * call, or a hook's allocation). */
static bool enter(void *frame, void **saved_frame) {
  if (hs__tstate.in_runtime || in_hook) return false;
  in_hook = true;
  *saved_frame = hook_frame;
  hook_frame = frame;
  return true;
}

static void leave(void *saved_frame) {
  hook_frame = saved_frame;
  in_hook = false;
}

#define RUN_HOOKS(kind, type, frame, ...)                          \
  do {                                                             \
    void *fns_[HOOK_SLOTS + 1], *saved_;                           \
    int n_ = snapshot(kind, fns_);                                 \
    if (!n_ || !enter(frame, &saved_)) break;                      \
    int errno_ = errno;                                            \
    for (int i_ = 0; i_ < n_; i_++) ((type)fns_[i_])(__VA_ARGS__); \
    errno = errno_;                                                \
    leave(saved_);                                                 \
  } while (0)

typedef void (*new_fn)(const void *, size_t);
typedef void (*delete_fn)(const void *);
typedef void (*pre_mmap_fn)(const void *, size_t, int, int, int, off_t);
typedef void (*mmap_fn)(const void *, const void *, size_t, int, int, int, off_t);
typedef int (*mmap_replace_fn)(const void *, size_t, int, int, int, off_t, void **);
typedef void (*munmap_fn)(const void *, size_t);
typedef int (*munmap_replace_fn)(const void *, size_t, int *);
typedef void (*mremap_fn)(const void *, const void *, size_t, size_t, int, const void *);
typedef void (*pre_sbrk_fn)(ptrdiff_t);
typedef void (*sbrk_fn)(const void *, ptrdiff_t);

void hs__hooks_run_new(const void *p, size_t n, void *frame) {
  RUN_HOOKS(HS_HOOK_NEW, new_fn, frame, p, n);
}

void hs__hooks_run_delete(const void *p, void *frame) {
  /* A block the runtime got while inside itself (libdw's) freed later from
   * outside: no new hook saw it, so no delete hook hears of it either. */
  if (p && hs__arena_owns(p)) return;
  RUN_HOOKS(HS_HOOK_DELETE, delete_fn, frame, p);
}

void hs__hooks_run_pre_mmap(const void *start, size_t size, int prot, int flags, int fd,
                            off_t off, void *frame) {
  RUN_HOOKS(HS_HOOK_PRE_MMAP, pre_mmap_fn, frame, start, size, prot, flags, fd, off);
}

void hs__hooks_run_mmap(const void *result, const void *start, size_t size, int prot, int flags,
                        int fd, off_t off, void *frame) {
  RUN_HOOKS(HS_HOOK_MMAP, mmap_fn, frame, result, start, size, prot, flags, fd, off);
}

void hs__hooks_run_munmap(const void *p, size_t size, void *frame) {
  RUN_HOOKS(HS_HOOK_MUNMAP, munmap_fn, frame, p, size);
}

void hs__hooks_run_mremap(const void *result, const void *old, size_t old_size, size_t new_size,
                          int flags, const void *new_addr, void *frame) {
  RUN_HOOKS(HS_HOOK_MREMAP, mremap_fn, frame, result, old, old_size, new_size, flags, new_addr);
}

void hs__hooks_run_pre_sbrk(ptrdiff_t inc, void *frame) {
  RUN_HOOKS(HS_HOOK_PRE_SBRK, pre_sbrk_fn, frame, inc);
}

void hs__hooks_run_sbrk(const void *result, ptrdiff_t inc, void *frame) {
  RUN_HOOKS(HS_HOOK_SBRK, sbrk_fn, frame, result, inc);
}

/* The replacements run even where hooks do not (gperftools' Unhooked*
 * calls use them too), but never for the runtime itself. */
bool hs__hooks_mmap_replace(const void *start, size_t size, int prot, int flags, int fd,
                            off_t off, void **result) {
  mmap_replace_fn fn = (mmap_replace_fn)atomic_load_explicit(
      &slots[HS_HOOK_MMAP_REPLACE][0], memory_order_acquire);
  if (!fn || hs__tstate.in_runtime) return false;
  return fn(start, size, prot, flags, fd, off, result) != 0;
}

bool hs__hooks_munmap_replace(const void *p, size_t size, int *result) {
  munmap_replace_fn fn = (munmap_replace_fn)atomic_load_explicit(
      &slots[HS_HOOK_MUNMAP_REPLACE][0], memory_order_acquire);
  if (!fn || hs__tstate.in_runtime) return false;
  return fn(p, size, result) != 0;
}

/* Calls the hooks of kind with the arguments in a (heapscope_malloc_hook_
 * invoke: MallocHook::Invoke*Hook in <gperftools/malloc_hook.h>). */
int hs__hooks_invoke(hs_hook_kind_t kind, const hs_hook_args_t *a, void *frame) {
  switch (kind) {
  case HS_HOOK_NEW: hs__hooks_run_new(a->result, a->size, frame); return 0;
  case HS_HOOK_DELETE: hs__hooks_run_delete(a->result, frame); return 0;
  case HS_HOOK_PRE_MMAP:
    hs__hooks_run_pre_mmap(a->start, a->size, a->prot, a->flags, a->fd, a->offset, frame);
    return 0;
  case HS_HOOK_MMAP:
    hs__hooks_run_mmap(a->result, a->start, a->size, a->prot, a->flags, a->fd, a->offset, frame);
    return 0;
  case HS_HOOK_MUNMAP: hs__hooks_run_munmap(a->start, a->size, frame); return 0;
  case HS_HOOK_MREMAP:
    hs__hooks_run_mremap(a->result, a->start, a->size, a->new_size, a->flags, a->new_addr, frame);
    return 0;
  case HS_HOOK_PRE_SBRK: hs__hooks_run_pre_sbrk(a->increment, frame); return 0;
  case HS_HOOK_SBRK: hs__hooks_run_sbrk(a->result, a->increment, frame); return 0;
  case HS_HOOK_MMAP_REPLACE:
    return hs__hooks_mmap_replace(a->start, a->size, a->prot, a->flags, a->fd, a->offset,
                                  a->out_result);
  case HS_HOOK_MUNMAP_REPLACE:
    return hs__hooks_munmap_replace(a->start, a->size, a->out_int);
  default: return 0;
  }
}

/* MallocHook_GetCallerStackTrace: inside a hook, the stack of the code that
 * called the malloc-family (or mmap-family) function; elsewhere the stack
 * of frame's caller's caller, skip_count frames fewer. */
int hs__hooks_caller_stack(void **result, int max_depth, int skip_count, void *frame) {
  if (!result || max_depth <= 0) return 0;
  void *from = hook_frame;
  int skip = 0;
  if (!from) {
    from = frame;
    skip = skip_count > 0 ? skip_count : 0;
  }
  uintptr_t pcs[HS_MAX_DEPTH];
  uint64_t hash;
  int want = max_depth + skip < HS_MAX_DEPTH ? max_depth + skip : HS_MAX_DEPTH;
  hs__tstate.in_runtime++;
  int n = hs__capture_hashed(pcs, want, from, &hash);
  hs__tstate.in_runtime--;
  int out = 0;
  for (int i = skip; i < n && out < max_depth; i++) result[out++] = (void *)pcs[i];
  return out;
}
