/* The stack walker: whole stacks through code with or without frame
 * pointers, at close to frame-pointer cost, also from signal handlers.
 *
 * Each step from a frame (pc, sp, bp) to its caller needs the unwind rule
 * at pc (core/stack/cfi.c: CFA = rsp+N | rbp+N | *(rbp+N), return address
 * at CFA-8, rbp unchanged or saved). Rules come from a process-wide cache
 * keyed by code address (direct-mapped, 16 K entries of 16 bytes, mapped
 * on first use); a miss reads the module's .eh_frame_hdr and runs one
 * FDE's program (about a microsecond), then fills the entry. A program's
 * hot return addresses stay in the cache, so a step is one hash, one
 * 16-byte load and two stack loads.
 *
 * What the walk does with each kind of frame:
 *   CFI rule (rsp/rbp/realigned)  exact step
 *   PLT stub, signal trampoline   exact step (the latter reads the
 *                                 ucontext the kernel pushed: a handler's
 *                                 stack continues into the interrupted code)
 *   outermost (_start, clone)     end
 *   no CFI (JIT, stripped of      one frame-pointer step, kept only when
 *   .eh_frame, unknown module)    the return address it finds lies in a
 *                                 loaded module; else end
 *   CFI we cannot hold            end, and the caller may ask libunwind
 *                                 (HS_UNWIND_NEEDS_SLOW)
 * Every address read is checked against the readable stack ranges
 * (core/stack/stackrange.c) without overflow, and the stack pointer must
 * grow at each step, so no value found on a stack can fault or loop.
 *
 * Cache entries are two words written without locks: the key (the code
 * address) and the rule with a 32-bit check binding it to that key and to
 * the module epoch (bumped when a module is unloaded, which retires every
 * entry at once). A reader that races a writer sees a check that does not
 * match and takes the slow path; so does a signal handler that interrupts
 * one. Signal handlers (no system call, lock or allocation) read the
 * cache, look rules up in modules already known, and fill the cache, but
 * learn no new modules. */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"
#include "core/module/module.h"

#include <link.h>
#include <pthread.h>
#include <string.h>
#include <ucontext.h>

#define CACHE_BITS 15
#define CACHE_SIZE (1u << CACHE_BITS)

/* One entry: the rule in the low half, a tag in the high half: the code
 * address's bits above the index, mixed with the module epoch. One 64-bit
 * word, so a reader never sees half of a concurrent write. */
static _Atomic(_Atomic uint64_t *) rule_cache;

static inline uint32_t cache_index(uintptr_t ret) { return (uint32_t)ret & (CACHE_SIZE - 1); }
static inline uint32_t epoch_mix(uint32_t epoch) { return epoch * 0x9e3779b1u + 1; }
static inline uint64_t cache_tag(uintptr_t ret, uint32_t epoch) {
  return (uint64_t)((uint32_t)(ret >> CACHE_BITS) ^ epoch_mix(epoch)) << 32;
}

static _Atomic uint64_t *cache_get(bool may_map) {
  _Atomic uint64_t *c = atomic_load_explicit(&rule_cache, memory_order_acquire);
  if (HS_LIKELY(c != NULL) || !may_map) return c;
  _Atomic uint64_t *fresh = hs__os_map(CACHE_SIZE * sizeof *fresh); /* zero pages, touched lazily */
  if (!fresh) return NULL;
  _Atomic uint64_t *expected = NULL;
  if (!atomic_compare_exchange_strong(&rule_cache, &expected, fresh)) {
    hs__os_unmap(fresh, CACHE_SIZE * sizeof *fresh);
    return expected;
  }
  return fresh;
}

/* ---- one walk ------------------------------------------------------------ */

typedef struct walk {
  uintptr_t lo, hi;           /* the stack being walked: readable */
  uintptr_t home_lo, home_hi; /* the thread's own stack, if the walk started elsewhere */
  _Atomic uint64_t *cache;
  uint32_t epoch;
  int flags;                  /* HS_UNWIND_IN_SIGNAL */
  bool refreshed;             /* modules were refreshed during this walk */
  int status;
} walk_t;

/* ---- each module's CFI, copied on first use ---------------------------------
 * Copies are shared by the records of one file (same path and build-id: a
 * library dlopen'ed and dlclose'd in a loop is copied once); each record
 * gets its own index, whose delta maps the copy to its load address. */
typedef struct shared_cfi {
  struct shared_cfi *next;
  const char *path;
  uint8_t build_id_len;
  uint8_t build_id[HS_BUILD_ID_MAX];
  uintptr_t hdr;                /* where the file's record that made it had it */
  const hs_cfi_index_t *ix;
} shared_cfi_t;

static hs_lock_t copy_lock;     /* one copier at a time; guards shared */
static shared_cfi_t *shared;
static const hs_cfi_index_t no_cfi; /* published for modules without usable CFI */

void hs__unwind_prefork(void) { hs__lock(&copy_lock); }
void hs__unwind_postfork(bool child) {
  if (child) hs__lock_reset(&copy_lock);
  else hs__unlock(&copy_lock);
}

/* Called with the loader's list lock held (inside dl_iterate_phdr), so the
 * module cannot be unmapped while it is read: libgcc's unwinder reads
 * .eh_frame the same way. */
static const hs_cfi_index_t *copy_cfi(hs_module_t *m) {
  shared_cfi_t *sh = NULL;
  if (m->build_id_len)
    for (sh = shared; sh; sh = sh->next)
      if (sh->build_id_len == m->build_id_len &&
          !memcmp(sh->build_id, m->build_id, m->build_id_len) && !strcmp(sh->path, m->path))
        break;
  if (sh) {
    hs_cfi_index_t *ix = hs__arena_alloc(sizeof *ix);
    if (!ix) return NULL;
    *ix = *sh->ix;
    ix->delta += (intptr_t)(m->eh_frame_hdr - sh->hdr);
    return ix;
  }
  const hs_cfi_index_t *ix = hs__cfi_copy(m->eh_frame_hdr, m->eh_frame_hdr_size, m->eh_frame_limit);
  if (ix && m->build_id_len && (sh = hs__arena_alloc(sizeof *sh))) {
    sh->path = m->path;
    sh->build_id_len = m->build_id_len;
    memcpy(sh->build_id, m->build_id, m->build_id_len);
    sh->hdr = m->eh_frame_hdr;
    sh->ix = ix;
    sh->next = shared;
    shared = sh;
  }
  return ix ? ix : &no_cfi;
}

typedef struct copy_job {
  hs_module_t *m;
  const hs_cfi_index_t *ix;
} copy_job_t;

/* Copies the CFI of the loaded object that is job->m (same load bias and
 * .eh_frame_hdr); nothing when m is no longer loaded. */
static int copy_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  copy_job_t *job = data;
  if (info->dlpi_addr != job->m->base) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_GNU_EH_FRAME && info->dlpi_addr + ph->p_vaddr == job->m->eh_frame_hdr) {
      job->ix = copy_cfi(job->m);
      return 1;
    }
  }
  return 0;
}

/* m's CFI; NULL when there is none, or none yet (*cacheable false: a
 * signal handler cannot copy it, nor can anyone once m is unloaded). */
static const hs_cfi_index_t *module_cfi(walk_t *w, const hs_module_t *m, bool *cacheable) {
  hs_module_t *mm = (hs_module_t *)m;
  const hs_cfi_index_t *ix = atomic_load_explicit(&mm->unwind_cfi, memory_order_acquire);
  if (HS_LIKELY(ix != NULL)) return ix == &no_cfi ? NULL : ix;
  if (!m->eh_frame_hdr) return NULL;
  *cacheable = false;
  if (w->flags & HS_UNWIND_IN_SIGNAL) return NULL;
  hs__runtime_enter();
  hs__lock(&copy_lock);
  ix = atomic_load_explicit(&mm->unwind_cfi, memory_order_relaxed);
  if (!ix) {
    copy_job_t job = {mm, NULL};
    dl_iterate_phdr(copy_cb, &job);
    ix = job.ix;
    if (ix) atomic_store_explicit(&mm->unwind_cfi, ix, memory_order_release);
  }
  hs__unlock(&copy_lock);
  hs__runtime_leave();
  if (!ix) return NULL;
  *cacheable = true;
  return ix == &no_cfi ? NULL : ix;
}

/* The rule at a, read from its module's CFI; *cacheable says whether it
 * holds until the next unload (not when the module's CFI could not be had
 * yet, nor "no module" before the module list was refreshed). */
static uint32_t module_rule(walk_t *w, uintptr_t a, bool *cacheable) {
  const hs_module_t *m = hs__module_live_text(a);
  if (!m && !(w->flags & HS_UNWIND_IN_SIGNAL) && !w->refreshed) {
    /* A module dlopen'ed since the last look (the tracker's refresh is
     * cheap when the loader's counters did not move). */
    w->refreshed = true;
    hs__modules_refresh();
    m = hs__module_live_text(a);
  }
  *cacheable = m || w->refreshed;
  if (!m) return HS_CFI_NONE;
  const hs_cfi_index_t *ix = module_cfi(w, m, cacheable);
  return ix ? hs__cfi_lookup(ix, a) : HS_CFI_NONE;
}

/* A return address's rule: from the cache, else from its module's CFI
 * (then cached). Exact pcs (a signal's interrupted instruction) are looked
 * up at pc itself and not cached: one per signal. */
static HS_NOINLINE uint32_t rule_slow(walk_t *w, uintptr_t pc, bool exact) {
  bool cacheable;
  uint32_t r = module_rule(w, exact ? pc : pc - 1, &cacheable);
  if (w->cache && cacheable && !exact)
    atomic_store_explicit(&w->cache[cache_index(pc)], r | cache_tag(pc, w->epoch),
                          memory_order_relaxed);
  return r;
}

/* The cache probe: true and *rule on a hit. An entry whose tag happens to
 * be 0 reads as empty: that address always takes the slow path. */
static inline bool cache_probe(_Atomic uint64_t *cache, uint32_t epoch_mix, uintptr_t ret,
                               uint32_t *rule) {
  uint64_t e = atomic_load_explicit(&cache[cache_index(ret)], memory_order_relaxed);
  *rule = (uint32_t)e;
  return (uint32_t)(e >> 32) == ((uint32_t)(ret >> CACHE_BITS) ^ epoch_mix) && e;
}

/* addr..addr+8 is readable in the walk's current range. */
static inline bool readable8(const walk_t *w, uintptr_t addr) {
  return addr >= w->lo && addr < w->hi && w->hi - addr >= 8;
}

/* A new CFA must lie above sp, with the return address below it readable.
 * It may also lead back to the thread's own stack from another one. */
static inline bool cfa_ok(walk_t *w, uintptr_t cfa, uintptr_t sp) {
  if (HS_LIKELY(cfa > sp && cfa <= w->hi && cfa - w->lo >= 8)) return true;
  if (cfa - 8 >= w->home_lo && cfa <= w->home_hi && cfa - w->home_lo >= 8 && w->home_hi) {
    w->lo = w->home_lo;
    w->hi = w->home_hi;
    w->home_lo = w->home_hi = 0;
    return true;
  }
  return false;
}

static inline bool in_range(const walk_t *w, uintptr_t addr) {
  return addr >= w->lo && addr < w->hi;
}

/* The frames the fast loop does not handle. Returns false to end the walk. */
static HS_NOINLINE bool step_slow(walk_t *w, uint32_t r, hs_unwind_regs_t *st) {
  uintptr_t sp = st->sp, bp = st->bp, cfa;
  switch (hs__cfi_kind(r)) {
  case HS_CFI_DEREF_RBP: {
    uintptr_t slot = bp + (uintptr_t)hs__cfi_cfa_off(r);
    if (!readable8(w, slot)) return false;
    cfa = *(const uintptr_t *)slot;
    break;
  }
  case HS_CFI_PLT:
    cfa = sp + 8 + ((st->pc & 15) >= (uintptr_t)hs__cfi_cfa_off(r) ? 8 : 0);
    break;
  case HS_CFI_SIGFRAME: {
    /* The ucontext_t the kernel pushed is at sp. */
    const ucontext_t *uc = (const ucontext_t *)sp;
    uintptr_t end = sp + sizeof(ucontext_t);
    if (!in_range(w, sp) || end > w->hi || end < sp) return false;
    uintptr_t nsp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
    if (!in_range(w, nsp)) {
      if (!(nsp >= w->home_lo && nsp < w->home_hi)) return false;
      w->lo = w->home_lo;
      w->hi = w->home_hi;
      w->home_lo = w->home_hi = 0;
    }
    st->pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    st->bp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
    st->sp = nsp;
    st->exact = true; /* the interrupted instruction, not a return address */
    return st->pc >= 4096;
  }
  case HS_CFI_UNSUPPORTED:
    w->status |= HS_UNWIND_NEEDS_SLOW;
    if (!(w->flags & HS_UNWIND_IN_SIGNAL)) return false;
    __attribute__((fallthrough)); /* a signal handler has no slower unwinder */
  case HS_CFI_NONE: {
    /* A frame-pointer step, kept only if it returns into known code. */
    if (bp < sp || !readable8(w, bp) || !readable8(w, bp + 8) || (bp & 7)) return false;
    uintptr_t ret = ((const uintptr_t *)bp)[1];
    if (!hs__module_live_text(ret - 1)) return false;
    st->pc = ret;
    st->sp = bp + 16;
    st->bp = ((const uintptr_t *)bp)[0];
    st->exact = false;
    return true;
  }
  case HS_CFI_STOP:
  default:
    return false;
  }
  if (!cfa_ok(w, cfa, sp)) return false;
  uintptr_t ret = *(const uintptr_t *)(cfa - 8);
  switch (hs__cfi_bp_kind(r)) {
  case HS_CFI_BP_AT_CFA: {
    uintptr_t slot = cfa + (uintptr_t)hs__cfi_bp_off(r);
    if (!readable8(w, slot)) return false;
    bp = *(const uintptr_t *)slot;
    break;
  }
  case HS_CFI_BP_AT_RBP: {
    uintptr_t slot = bp + (uintptr_t)hs__cfi_bp_off(r);
    if (!readable8(w, slot)) return false;
    bp = *(const uintptr_t *)slot;
    break;
  }
  default: break;
  }
  st->pc = ret;
  st->sp = cfa;
  st->bp = bp;
  st->exact = false;
  return ret >= 4096;
}

/* ---- the thread's previous walk ---------------------------------------------
 * Consecutive allocations of a thread mostly share the outer part of their
 * stacks (main, the test runner, the test, its helpers). Each thread keeps
 * the frames of its last walk on its own stack, outermost first: per frame
 * its state (sp, pc, bp) and the stack slot its bp was loaded from (0 when
 * bp came through unchanged). When a new walk reaches a frame whose state
 * equals a remembered one, the frames beyond it are the remembered ones as
 * long as the words those steps read are unchanged (same rules: same
 * module epoch): every return-address slot and bp slot is compared, and
 * these loads do not depend on each other, so the check costs about a cycle
 * per frame instead of a dependent step. Frames beyond the first mismatch
 * are walked again. Only walks on the thread's own stack (never freed while
 * the thread lives) and made of plain steps are remembered; signal handlers
 * neither use nor change them. */
typedef struct memo_frame {
  uintptr_t sp, pc, bp, slot;
  uint64_t hsum; /* stack hash terms of this frame and all outer ones */
} memo_frame_t;

typedef struct memo {
  int n;         /* frames; f[0] is the outermost */
  bool complete; /* f[0] had no caller (not cut by the depth limit) */
  uint32_t epoch;
  uintptr_t hi;  /* top of the stack it was walked on */
  memo_frame_t f[HS_MAX_DEPTH];
} memo_t;

static HS_TLS memo_t *tl_memo;
static HS_TLS bool tl_memo_busy; /* a walk of this thread uses it (a nested one does not) */
static pthread_key_t memo_key;
static _Atomic int memo_key_state; /* 0 none, 1 creating, 2 ready, -1 failed */

static void memo_free(void *m) {
  tl_memo = NULL;
  hs__arena_free(m);
}

static memo_t *memo_get(void) {
  if (HS_LIKELY(tl_memo != NULL)) return tl_memo;
  int ks = atomic_load_explicit(&memo_key_state, memory_order_acquire);
  if (ks == 0 && atomic_compare_exchange_strong(&ks, &(int){0}, 1)) {
    ks = pthread_key_create(&memo_key, memo_free) == 0 ? 2 : -1;
    atomic_store_explicit(&memo_key_state, ks, memory_order_release);
  }
  if (ks != 2) return NULL;
  memo_t *m = hs__arena_alloc(sizeof *m);
  if (!m) return NULL;
  if (pthread_setspecific(memo_key, m) != 0) { /* freed with the thread */
    hs__arena_free(m);
    return NULL;
  }
  tl_memo = m;
  return m;
}

/* The walk state shared by the loop and its helpers. Frames [0, n) of the
 * walk are in pcs and the parallel state arrays. */
typedef struct frames {
  uintptr_t *pcs;
  uintptr_t sp[HS_MAX_DEPTH], bp[HS_MAX_DEPTH], slot[HS_MAX_DEPTH];
} frames_t;

/* Frame k of the walk (already recorded) equals memo frame c: checks the
 * words the steps to the frames beyond c read (independent loads) and
 * returns the outermost memo frame that still holds: 0 when all do, c when
 * none does. */
static HS_NOINLINE int memo_check(const memo_t *m, int c) {
  int i = c - 1;
  for (; i >= 0; i--) {
    const memo_frame_t *f = &m->f[i];
    if (*(const uintptr_t *)(f->sp - 8) != f->pc) break;
    if (f->slot && *(const uintptr_t *)f->slot != f->bp) break;
  }
  return i + 1;
}

/* Appends memo frames c-1 down to held (as far as out may go); with
 * states, their states too (the walk goes on and will be stored whole). */
static HS_NOINLINE void memo_copy(const memo_t *m, int c, int held, frames_t *fr,
                                  uintptr_t **outp, uintptr_t *end, bool states) {
  uintptr_t *out = *outp;
  size_t k = (size_t)(out - fr->pcs);
  int j = c - 1;
  for (; j >= held && out < end; j--, k++) *out++ = m->f[j].pc;
  if (states) {
    k = (size_t)(*outp - fr->pcs);
    for (int i = c - 1; i > j; i--, k++) {
      fr->sp[k] = m->f[i].sp;
      fr->bp[k] = m->f[i].bp;
      fr->slot[k] = m->f[i].slot;
    }
  }
  *outp = out;
}

/* Stores the walk of n frames as the thread's memo. With shared_c >= 0 the
 * walk's frame shared_k is memo frame shared_c and every frame beyond it is
 * the memo's: f[0..shared_c] stay, only the walk's frames [0, shared_k) are
 * written. */
static void memo_store(memo_t *m, const frames_t *fr, int n, bool complete, uint32_t epoch,
                       uintptr_t hi, int shared_c, int shared_k) {
  int base = 0, from = n - 1;
  uint64_t h = 0;
  if (shared_c >= 0 && shared_c + 1 + shared_k <= HS_MAX_DEPTH) {
    base = shared_c + 1;
    from = shared_k - 1;
    h = m->f[shared_c].hsum;
    /* The join frame's state is the memo's, but this walk reached it from
     * another frame, through another slot: a later check must read that. */
    m->f[shared_c].slot = fr->slot[shared_k];
  } else {
    m->complete = complete;
    m->epoch = epoch;
    m->hi = hi;
  }
  for (int k = from, i = base; k >= 0; k--, i++) {
    memo_frame_t *f = &m->f[i];
    f->sp = fr->sp[k];
    f->pc = fr->pcs[k];
    f->bp = fr->bp[k];
    f->slot = fr->slot[k];
    h += HS_FRAME_HASH(f->pc, i);
    f->hsum = h;
  }
  m->n = base + from + 1;
}

int hs__unwind_walk(hs_unwind_regs_t *st, const hs_stack_ranges_t *ranges, int flags,
                    uintptr_t *pcs, int max, uint64_t *hash, int *status) {
  walk_t w;
  w.lo = ranges->lo;
  w.hi = ranges->hi;
  w.home_lo = ranges->home_lo;
  w.home_hi = ranges->home_hi;
  w.flags = flags;
  w.cache = cache_get(!(flags & HS_UNWIND_IN_SIGNAL));
  w.epoch = hs__modules_epoch();
  w.refreshed = false;
  w.status = 0;
  if (max > HS_MAX_DEPTH) max = HS_MAX_DEPTH;
  /* The rule of a frame built with a frame pointer: CFA = rbp + 16, rbp
   * saved at CFA - 16. Its step follows the %rbp chain, which does not
   * wait for the rule lookup: the lookup only confirms the step, off the
   * chain of dependent loads, so such frames walk at frame-pointer speed.
   * The loop keeps few values live so that they stay in registers; the
   * hash is a separate pass over the result. */
  const uint32_t fp_rule = hs__cfi_rule(HS_CFI_RBP, 16, HS_CFI_BP_AT_CFA, -16);
  _Atomic uint64_t *const cache = w.cache;
  const uint32_t mix = epoch_mix(w.epoch);
  uintptr_t pc = st->pc, sp = st->sp, bp = st->bp, hi = w.hi, slot = 0;
  uintptr_t *out = pcs, *const end = pcs + (max > 0 ? max : 0);
  bool exact = st->exact;
  if (!in_range(&w, sp)) out = end; /* the ranges always hold the start */

  frames_t fr;
  fr.pcs = pcs;
  memo_t *memo = NULL;
  int c = -1;                        /* memo frame the walk may meet next */
  uintptr_t next_sp = UINTPTR_MAX;   /* its sp */
  int shared_c = -1, shared_k = -1;  /* where it joined, when nothing was walked after */
  bool plain = true, ended = false;
  if (!(flags & HS_UNWIND_IN_SIGNAL) && ranges->own && !tl_memo_busy && (memo = memo_get())) {
    tl_memo_busy = true;
    if (memo->n && memo->epoch == w.epoch && memo->hi == w.hi) {
      c = memo->n - 1;
      next_sp = memo->f[c].sp;
    }
  }

  while (out < end && pc >= 4096) {
    size_t k = (size_t)(out - pcs);
    *out++ = pc;
    fr.sp[k] = sp;
    fr.bp[k] = bp;
    fr.slot[k] = slot;
    if (HS_UNLIKELY(sp >= next_sp)) {
      while (c >= 0 && memo->f[c].sp < sp) c--;
      next_sp = c >= 0 ? memo->f[c].sp : UINTPTR_MAX;
      if (c >= 0 && memo->f[c].sp == sp && memo->f[c].pc == pc && memo->f[c].bp == bp) {
        int held = memo_check(memo, c);
        bool rest = held == 0 && memo->complete;
        memo_copy(memo, c, held, &fr, &out, end, !rest);
        if (rest || (held == 0 && out == end)) {
          /* The rest of the stack is the remembered one. */
          shared_c = c;
          shared_k = (int)k;
          ended = memo->complete;
          break;
        }
        if (out == end) break;
        /* Go on walking from the outermost frame that held. */
        const memo_frame_t *f = &memo->f[held];
        pc = f->pc;
        sp = f->sp;
        bp = f->bp;
        c = held - 1;
        next_sp = c >= 0 ? memo->f[c].sp : UINTPTR_MAX;
      }
    }
    uint32_t r;
    if (HS_UNLIKELY(!cache || exact || !cache_probe(cache, mix, pc, &r))) {
      r = rule_slow(&w, pc, exact);
      hi = w.hi;
    }
    if (HS_LIKELY(r == fp_rule)) {
      if (HS_LIKELY(bp >= sp && bp < hi && hi - bp >= 16)) {
        slot = bp;
        pc = ((const uintptr_t *)bp)[1];
        sp = bp + 16;
        bp = ((const uintptr_t *)bp)[0];
        continue;
      }
    } else if (HS_LIKELY(hs__cfi_kind(r) == HS_CFI_RSP || hs__cfi_kind(r) == HS_CFI_RBP)) {
      /* cfa >= sp + 8 keeps the return address slot above sp (so inside
       * the range) and makes every step progress. */
      uintptr_t cfa = (hs__cfi_kind(r) == HS_CFI_RSP ? sp : bp) + (uintptr_t)hs__cfi_cfa_off(r);
      int bpk = hs__cfi_bp_kind(r);
      if (HS_LIKELY(cfa - 8 >= sp && cfa <= hi && cfa - 8 < hi && bpk != HS_CFI_BP_AT_RBP)) {
        uintptr_t ret = ((const uintptr_t *)cfa)[-1];
        slot = 0;
        if (bpk == HS_CFI_BP_AT_CFA) {
          slot = cfa + (uintptr_t)hs__cfi_bp_off(r);
          if (HS_UNLIKELY(!(slot >= sp && slot < hi && hi - slot >= 8))) {
            ended = true;
            break;
          }
          bp = *(const uintptr_t *)slot;
        }
        pc = ret;
        sp = cfa;
        exact = false;
        continue;
      }
    }
    if (hs__cfi_kind(r) == HS_CFI_STOP) { /* the outermost frame */
      ended = true;
      break;
    }
    st->pc = pc;
    st->sp = sp;
    st->bp = bp;
    st->exact = exact;
    plain = false; /* steps the memo cannot check */
    if (!step_slow(&w, r, st)) {
      ended = true;
      break;
    }
    hi = w.hi;
    pc = st->pc;
    sp = st->sp;
    bp = st->bp;
    exact = st->exact;
  }
  int n = (int)(out - pcs);
  if (!ended && out < end) ended = true; /* the loop ended at a pc < 4096 */
  uint64_t h = 0;
  bool have_hash = false;
  if (memo) {
    /* With the whole rest of the stack taken from the memo, its outer
     * frames' hash terms are already summed. */
    if (shared_c >= 0 && n == shared_c + 1 + shared_k) {
      h = memo->f[shared_c].hsum;
      for (int k = 0; k < shared_k; k++) h += HS_FRAME_HASH(pcs[k], n - 1 - k);
      h = hs__stack_hash_final(h, n);
      have_hash = true;
    }
    if (plain && n > 0) memo_store(memo, &fr, n, ended, w.epoch, w.hi, shared_c, shared_k);
    else memo->n = 0;
    tl_memo_busy = false;
  }
  if (hash) *hash = have_hash ? h : hs__stack_hash(pcs, n);
  if (status) *status = w.status;
  return n;
}

int hs__unwind_signal(const void *ucontext, uintptr_t *pcs, int max) {
  const ucontext_t *uc = ucontext;
  hs_unwind_regs_t st = {
      .pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
      .sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP],
      .bp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP],
      .exact = true,
  };
  hs_stack_ranges_t r;
  hs__stack_ranges(st.sp, false, &r);
  if (max > HS_MAX_DEPTH) max = HS_MAX_DEPTH;
  return hs__unwind_walk(&st, &r, HS_UNWIND_IN_SIGNAL, pcs, max, NULL, NULL);
}

void hs__unwind_prepare(void) {
  hs__runtime_enter();
  cache_get(true);
  hs__modules_refresh();
  /* A signal handler cannot copy a module's CFI: copy every live one now. */
  walk_t w;
  memset(&w, 0, sizeof w);
  for (uint32_t i = 0, n = hs__module_count(); i < n; i++) {
    const hs_module_t *m = hs__module_at(i);
    bool cacheable;
    if (atomic_load_explicit((_Atomic uint32_t *)&m->unload_epoch, memory_order_acquire) ==
        UINT32_MAX)
      module_cfi(&w, m, &cacheable);
  }
  hs_stack_ranges_t r;
  hs__stack_ranges((uintptr_t)__builtin_frame_address(0), true, &r);
  hs__runtime_leave();
}
