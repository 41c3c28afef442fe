/* Stack capture for recorded allocations.
 *
 * Frame pointers are the fast path (a few ns per frame) but only code built
 * with them keeps the chain: Debian's libc, libstdc++ and libcmocka are not.
 * When the caller of malloc is in such code (strdup, getline, fopen,
 * operator new, cmocka's test_malloc...) a frame-pointer walk skips the
 * frame that matters most: the user function that called into the library.
 * "auto" therefore walks frame pointers and switches to libunwind (DWARF
 * CFI) only when frame #0 lies in a system library. Every frame-pointer step
 * is validated against the thread's stack bounds, so a broken chain ends the
 * walk instead of faulting. */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"
#include "core/base/settings.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <dlfcn.h>
#include <link.h>
#include <sys/auxv.h>

int hs__unwinder = HS_UNWIND_AUTO;
int hs__stack_depth = 30;

extern void *__libc_stack_end;

typedef struct text_range {
  uintptr_t lo, hi;
} text_range_t;
#define MAX_NOFP 64
static text_range_t nofp[MAX_NOFP];
static _Atomic int nofp_count;
static uintptr_t nofp_min = UINTPTR_MAX; /* lowest start: most callers are below */

uintptr_t hs__ldso_lo, hs__ldso_hi;

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
    else hs__errorf("invalid HEAPSCOPE_UNWINDER='%s' (expected fp, libunwind or auto); using auto", u);
  }
  hs__stack_depth = (int)hs__setting_int(HS_SET_HEAPSCOPE_STACK_DEPTH);
  find_ldso();
  hs__stack_range_init();
}

static bool is_system_path(const char *p) {
  return !strncmp(p, "/lib/", 5) || !strncmp(p, "/lib64/", 7) ||
         !strncmp(p, "/usr/lib/", 9) || !strncmp(p, "/usr/lib64/", 11);
}

uintptr_t hs__self_lo, hs__self_hi;

static void note_self(const struct dl_phdr_info *info) {
  uintptr_t me = (uintptr_t)&hs__capture_hashed;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < lo + ph->p_memsz) {
      hs__self_lo = lo;
      hs__self_hi = lo + ph->p_memsz;
    }
  }
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  int *n = ctx;
  /* Linked statically into the program, the runtime shares its text with
   * the user's code: then there is no range of our own to trim. */
  if (info->dlpi_name && info->dlpi_name[0]) note_self(info);
  if (!info->dlpi_name || !is_system_path(info->dlpi_name)) return 0;
  /* Our own runtime keeps frame pointers even when installed system-wide. */
  if (strstr(info->dlpi_name, "libheapscope")) return 0;
  for (int i = 0; i < info->dlpi_phnum && *n < MAX_NOFP; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    nofp[*n].lo = info->dlpi_addr + ph->p_vaddr;
    nofp[*n].hi = nofp[*n].lo + ph->p_memsz;
    if (nofp[*n].lo < nofp_min) nofp_min = nofp[*n].lo;
    (*n)++;
  }
  return 0;
}

void hs__stack_scan_modules(void) {
  /* Per-thread caches: libunwind then takes no global lock, and so does not
   * block and unblock every signal (two sigprocmask calls) per backtrace. */
  static bool caching_set;
  if (!caching_set) {
    caching_set = true;
    hs__runtime_enter();
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    hs__runtime_leave();
  }
  int n = 0;
  nofp_min = UINTPTR_MAX;
  dl_iterate_phdr(scan_cb, &n);
  atomic_store_explicit(&nofp_count, n, memory_order_release);
}

static bool in_nofp_code(uintptr_t pc) {
  /* A PIE program and its own libraries are mapped below the system
   * libraries: one compare settles the common case. */
  if (pc < nofp_min) return false;
  int n = atomic_load_explicit(&nofp_count, memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (pc >= nofp[i].lo && pc < nofp[i].hi) return true;
  return false;
}

/* A frame record [fp] (saved frame pointer) and [fp + 8] (return address)
 * is usable when it lies wholly inside [above, hi) and is aligned. Written
 * so that no sum can wrap: a caller's %rbp may hold any value (-16, a
 * small integer, a heap address). */
static inline bool frame_in(uintptr_t fp, uintptr_t above, uintptr_t hi) {
  return fp >= above && fp < hi && hi - fp >= 16 && !(fp & 7);
}

/* Walks the frame-pointer chain, hashing as it goes (saves a second pass
 * over the frames on the hot path). Every frame must lie above the one
 * before it, inside the readable range of the stack the walk is on; a walk
 * that starts on another stack (a coroutine's, an alternate signal stack)
 * may continue on the thread's own stack, never anywhere else. */
static int capture_fp(uintptr_t *pcs, int max, void *frame, uint64_t *hash) {
  uintptr_t fp = (uintptr_t)frame;
  hs_stack_ranges_t r;
  hs__stack_ranges(fp, true, &r);
  uint64_t acc = 0;
  int n = 0;
  *hash = hs__stack_hash_final(0, 0);
  /* frame[0] is the public entry point's frame, whose return address is the
   * user's frame #0. */
  if (!frame_in(fp, r.lo, r.hi)) return 0;
  uintptr_t lo = fp + 16, hi = r.hi;
  while (n < max) {
    uintptr_t next = ((uintptr_t *)fp)[0];
    if (!frame_in(next, lo, hi)) {
      if (!frame_in(next, r.home_lo, r.home_hi)) break;
      hi = r.home_hi; /* back on the thread's own stack */
      r.home_lo = r.home_hi = 0;
    }
    fp = next;
    lo = fp + 16;
    uintptr_t ret = ((uintptr_t *)fp)[1];
    if (ret < 4096) break;
    acc += HS_FRAME_HASH(ret, n);
    pcs[n++] = ret;
  }
  *hash = hs__stack_hash_final(acc, n);
  return n;
}

static int capture_libunwind(uintptr_t *pcs, int max, void *frame) {
  /* The entry point's return address marks where the user's frames start. */
  uintptr_t entry_ret = ((uintptr_t *)frame)[1];
  void *buf[HS_MAX_DEPTH + 8];
  hs__runtime_enter();
  int got = unw_backtrace(buf, max + 8 < HS_MAX_DEPTH + 8 ? max + 8 : HS_MAX_DEPTH + 8);
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

int hs__capture_hashed(uintptr_t *pcs, int max, void *frame, uint64_t *hash) {
  if (max > hs__stack_depth) max = hs__stack_depth;
  int n;
  switch (hs__unwinder) {
  case HS_UNWIND_FP:
    return capture_fp(pcs, max, frame, hash);
  case HS_UNWIND_LIBUNWIND:
    n = capture_libunwind(pcs, max, frame);
    break;
  default:
    n = capture_fp(pcs, max, frame, hash);
    if (n > 0 && !in_nofp_code(pcs[0])) return n;
    uintptr_t fp_pcs[HS_MAX_DEPTH];
    int fp_n = n;
    for (int i = 0; i < fp_n; i++) fp_pcs[i] = pcs[i];
    n = capture_libunwind(pcs, max, frame);
    if (n <= 0) {
      for (int i = 0; i < fp_n; i++) pcs[i] = fp_pcs[i];
      n = fp_n;
    }
  }
  *hash = hs__stack_hash(pcs, n);
  return n;
}

