/* Stack capture for recorded allocations.
 *
 * HEAPSCOPE_UNWINDER selects how:
 *   auto (default)  the CFI walker (core/stack/unwind.c): whole stacks
 *                   through code built with or without frame pointers;
 *                   libunwind only for CFI the walker cannot follow
 *   fp              frame pointers only (code built without them loses
 *                   frames, as LeakSanitizer's fast unwinder does)
 *   libunwind       libunwind for every stack (the slowest)
 * Every walk reads only inside the readable stack ranges of
 * core/stack/stackrange.c, so no value found on a stack can fault it.
 *
 * libunwind is loaded on first use (core/module/lazylib.c), never at
 * start-up. */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"
#include "core/base/settings.h"
#include "core/module/module.h"

#include <string.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <sys/auxv.h>

int hs__unwinder = HS_UNWIND_AUTO;
int hs__stack_depth = 30;

uintptr_t hs__ldso_lo, hs__ldso_hi;
uintptr_t hs__self_lo, hs__self_hi;

/* The dynamic linker's code range, from AT_BASE and its program headers in
 * memory: usable from the first malloc, before dl_iterate_phdr is safe. */
static void find_ldso(void) {
  uintptr_t base = (uintptr_t)getauxval(AT_BASE);
  if (!base) return;
  const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return;
  const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X)) {
      hs__ldso_lo = base + ph[i].p_vaddr;
      hs__ldso_hi = hs__ldso_lo + ph[i].p_memsz;
    }
}

void hs__stack_init(void) {
  const char *u = hs__setting_str(HS_SET_HEAPSCOPE_UNWINDER);
  if (u && *u) {
    if (!strcmp(u, "fp")) hs__unwinder = HS_UNWIND_FP;
    else if (!strcmp(u, "libunwind")) hs__unwinder = HS_UNWIND_LIBUNWIND;
    else if (!strcmp(u, "auto")) hs__unwinder = HS_UNWIND_AUTO;
    else hs__errorf("invalid HEAPSCOPE_UNWINDER='%s' (expected auto, fp or libunwind); using auto", u);
  }
  hs__stack_depth = (int)hs__setting_int(HS_SET_HEAPSCOPE_STACK_DEPTH);
  const char *hooks = hs__setting_str(HS_SET_HEAPSCOPE_TEST_HOOKS);
  if (hooks && strstr(hooks, "no-dl-find-object")) hs__unwind_no_dl_find_object = true;
  find_ldso();
  hs__stack_range_init();
}

static int self_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  (void)size;
  (void)ctx;
  /* Linked statically into the program, the runtime shares its text with
   * the user's code: then there is no range of our own to trim. */
  if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
  uintptr_t me = (uintptr_t)&hs__capture_hashed;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < lo + ph->p_memsz) {
      hs__self_lo = lo;
      hs__self_hi = lo + ph->p_memsz;
      return 1;
    }
  }
  return 0;
}

void hs__stack_find_self(void) { dl_iterate_phdr(self_cb, NULL); }

/* ---- libunwind, on first use ----------------------------------------------- */

static const char *const unw_names[] = {
    "unw_backtrace",        "_ULx86_64_set_caching_policy", "_ULx86_64_local_addr_space",
    "_Ux86_64_getcontext",  "_ULx86_64_init_local",         "_ULx86_64_get_reg",
    "_ULx86_64_step"};
static struct {
  int (*backtrace)(void **, int);
  int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
  unw_addr_space_t *local_addr_space;
  int (*getcontext)(unw_context_t *);
  int (*init_local)(unw_cursor_t *, unw_context_t *);
  int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
  int (*step)(unw_cursor_t *);
} unw;
static hs_lazy_lib_t unw_lib = {.soname = "libunwind.so.8", .names = unw_names,
                                .syms = (void **)&unw, .count = 7,
                                .without = "stacks through such code end there"};

static bool load_libunwind(void) {
  if (HS_LIKELY(atomic_load_explicit(&unw_lib.state, memory_order_acquire) > 0)) return true;
  if (!hs__lib_load(&unw_lib)) return false;
  /* Per-thread caches: libunwind then takes no global lock, and so does not
   * block and unblock every signal (two sigprocmask calls) per backtrace. */
  static _Atomic bool policy_set;
  if (!atomic_exchange(&policy_set, true)) {
    hs__runtime_enter();
    unw.set_caching_policy(*unw.local_addr_space, UNW_CACHE_PER_THREAD);
    hs__runtime_leave();
  }
  return true;
}

/* unw_backtrace keeps a trace cache per thread: 256 KiB, built (every page
 * faulted in) on the thread's first call and unmapped when the thread
 * exits. Threads that allocate a few times and exit paid that each: 10,000
 * threads allocating in libc ran 20-50x slower with libunwind than without
 * recording. A thread's first STEP_BACKTRACES captures walk with unw_step
 * instead (no cache); a thread that goes on allocating switches to the
 * cached walk (1-4 us a capture). Both give the same frames. The step walk
 * starts here, with every register true (a frame's CFI may use any of
 * them: the CFA-in-rbx frames the CFI walker hands over), and keeps the
 * frames after the public entry point's, as the cached walk does. */
#define STEP_BACKTRACES 32
static HS_TLS uint32_t libunwind_calls;

__attribute__((noinline)) static int step_backtrace(uintptr_t *pcs, int max,
                                                    uintptr_t entry_ret) {
  unw_context_t uc;
  unw_cursor_t c;
  if (unw.getcontext(&uc) != 0 || unw.init_local(&c, &uc) != 0) return 0;
  int n = 0, skipped = 0;
  bool user = false;
  do {
    unw_word_t ip;
    if (unw.get_reg(&c, UNW_REG_IP, &ip) != 0 || !ip) break;
    if (user) pcs[n++] = ip;
    else if (ip == entry_ret) user = true;
    else if (++skipped > 16) break; /* not below the entry point: no stack */
  } while (n < max && unw.step(&c) > 0);
  return n;
}

static int capture_libunwind(uintptr_t *pcs, int max, void *frame) {
  if (!load_libunwind()) return 0;
  /* The entry point's return address marks where the user's frames start. */
  uintptr_t entry_ret = ((uintptr_t *)frame)[1];
  if (libunwind_calls < STEP_BACKTRACES) {
    libunwind_calls++;
    hs__runtime_enter();
    int n = step_backtrace(pcs, max, entry_ret);
    hs__runtime_leave();
    return n;
  }
  void *buf[HS_MAX_DEPTH + 8];
  hs__runtime_enter();
  int got = unw.backtrace(buf, max + 8 < HS_MAX_DEPTH + 8 ? max + 8 : HS_MAX_DEPTH + 8);
  hs__runtime_leave();
  int start = -1;
  for (int i = 0; i < got; i++)
    if ((uintptr_t)buf[i] == entry_ret) {
      start = i + 1;
      break;
    }
  if (start < 0) return 0;
  int n = 0;
  for (int i = start; i < got && n < max; i++) pcs[n++] = (uintptr_t)buf[i];
  return n;
}

/* ---- frame pointers ----------------------------------------------------------- */

/* A frame record [fp] (saved frame pointer) and [fp + 8] (return address)
 * is usable when it lies wholly inside [above, hi) and is aligned. Written
 * so that no sum can wrap: a caller's %rbp may hold any value (-16, a
 * small integer, a heap address). */
static inline bool frame_in(uintptr_t fp, uintptr_t above, uintptr_t hi) {
  return fp >= above && fp < hi && hi - fp >= 16 && !(fp & 7);
}

/* Walks the frame-pointer chain, hashing as it goes. Every frame must lie above the one
 * before it, inside the readable range of the stack the walk is on; a walk
 * that starts on another stack (a coroutine's, an alternate signal stack)
 * may continue on the thread's own stack, never anywhere else. */
static int capture_fp(uintptr_t *pcs, int max, void *frame, uint64_t *hash) {
  uintptr_t fp = (uintptr_t)frame;
  hs_stack_ranges_t r;
  hs__stack_ranges(fp, true, &r);
  int n = 0;
  uint64_t acc = 0, seed = HS_FRAME_SEED;
  *hash = hs__stack_hash_final(0, 0);
  /* frame[0] is the public entry point's frame, whose return address is the
   * user's frame #0. */
  if (!frame_in(fp, r.lo, r.hi)) return 0;
  uintptr_t lo = fp + 16, hi16 = r.hi - 16; /* (frame_in, as separate branches) */
  while (n < max) {
    uintptr_t next = ((uintptr_t *)fp)[0];
    if (HS_UNLIKELY(next < lo || next > hi16 || (next & 7))) {
      if (!frame_in(next, r.home_lo, r.home_hi)) break;
      hi16 = r.home_hi - 16; /* back on the thread's own stack */
      r.home_lo = r.home_hi = 0;
    }
    fp = next;
    lo = fp + 16;
    uintptr_t ret = ((uintptr_t *)fp)[1];
    if (ret < 4096) break;
    acc += HS_FRAME_HASH_SEEDED(ret, seed);
    seed += HS_FRAME_SEED;
    pcs[n++] = ret;
  }
  *hash = hs__stack_hash_final(acc, n);
  return n;
}

/* ---- CFI ------------------------------------------------------------------------ */

/* The walks the fast path does not take: a stack the thread does not own
 * (an alternate signal stack, a coroutine's), a rule it does not step by. */
static HS_NOINLINE int capture_cfi_slow(hs_unwind_regs_t *st, hs_stack_ranges_t *r,
                                        uintptr_t *pcs, int max, void *frame, uint64_t *hash) {
  int status;
  int n = hs__unwind_walk(st, r, 0, pcs, max, hash, &status);
  if (HS_UNLIKELY(status & HS_UNWIND_NEEDS_SLOW)) {
    /* CFI the walker cannot follow (hand-written assembly): libunwind can,
     * unless this malloc comes from inside the dynamic loader, where
     * loading libunwind could deadlock or corrupt its state. */
    bool in_loader = false;
    for (int i = 0; i < n; i++)
      if (pcs[i] - hs__ldso_lo < hs__ldso_hi - hs__ldso_lo) in_loader = true;
    if (!in_loader || atomic_load(&unw_lib.state) > 0) {
      uintptr_t slow[HS_MAX_DEPTH];
      int m = capture_libunwind(slow, max, frame);
      if (m > n) {
        memcpy(pcs, slow, (size_t)m * sizeof *pcs);
        n = m;
        *hash = hs__stack_hash(pcs, n);
      }
    }
  }
  return n;
}

static inline int capture_cfi(uintptr_t *pcs, int max, void *frame, uint64_t *hash,
                              uint32_t *id) {
  uintptr_t fp = (uintptr_t)frame;
  hs_stack_ranges_t r;
  hs__stack_ranges(fp, true, &r);
  *hash = hs__stack_hash_final(0, 0);
  /* Our own two frames (the recorder's and the public entry point's) keep
   * frame pointers: the user's frame #0 starts where the entry point's
   * frame ends. */
  if (!frame_in(fp, r.lo, r.hi)) return 0;
  uintptr_t entry = ((uintptr_t *)fp)[0];
  if (!frame_in(entry, fp + 16, r.hi)) return 0;
  hs_unwind_regs_t st = {
      .pc = ((uintptr_t *)entry)[1],
      .sp = entry + 16,
      .bp = ((uintptr_t *)entry)[0],
      .exact = false,
  };
  r.lo = st.sp; /* nothing below the user's frame is read */
  int n = r.own ? hs__unwind_fast(&st, r.hi, pcs, max, hash, id) : -1;
  if (HS_LIKELY(n >= 0)) return n;
  return capture_cfi_slow(&st, &r, pcs, max, frame, hash);
}

static inline int capture(uintptr_t *pcs, int max, void *frame, uint64_t *hash, uint32_t *id) {
  if (max > hs__stack_depth) max = hs__stack_depth;
  if (HS_LIKELY(hs__unwinder == HS_UNWIND_AUTO)) return capture_cfi(pcs, max, frame, hash, id);
  switch (hs__unwinder) {
  case HS_UNWIND_FP:
    return capture_fp(pcs, max, frame, hash);
  case HS_UNWIND_LIBUNWIND: {
    int n = capture_libunwind(pcs, max, frame);
    *hash = hs__stack_hash(pcs, n);
    return n;
  }
  default:
    return capture_cfi(pcs, max, frame, hash, id);
  }
}

int hs__capture_hashed(uintptr_t *pcs, int max, void *frame, uint64_t *hash) {
  return capture(pcs, max, frame, hash, NULL);
}

int hs__capture_hashed_id(uintptr_t *pcs, int max, void *frame, uint64_t *hash, uint32_t *id) {
  *id = 0;
  return capture(pcs, max, frame, hash, id);
}
