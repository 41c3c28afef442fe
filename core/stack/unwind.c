/* The stack walker: whole stacks through code with or without frame
 * pointers, at close to frame-pointer cost, also from signal handlers.
 *
 * Each step from a frame (pc, sp, bp) to its caller needs the unwind rule
 * at pc (core/stack/cfi.c: CFA = rsp+N | rbp+N | *(rbp+N), return address
 * at CFA-8, rbp unchanged or saved). Rules come from a process-wide cache
 * keyed by code address (direct-mapped, 32 K entries of one 64-bit word,
 * mapped on first use); a miss reads the module's .eh_frame_hdr and runs
 * one FDE's program (about a microsecond), then fills the entry. A
 * program's hot return addresses stay in the cache, so a step is one load
 * of the entry and one or two stack loads. On the recording path, per-thread
 * memos skip most of that for stacks seen before (see "per-thread memos"
 * and "the leaf memo" below).
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
 * A cache entry is one word written without locks: the rule and a tag made
 * of the address's upper bits and the module epoch (bumped when a module
 * is unloaded, which retires every entry at once), so a reader never sees
 * half of a write. While a dlclose is in progress (between the loader's
 * unmap and the tracker learning of it) walks neither read nor fill the
 * cache, and refresh the module registry before trusting it: a library
 * dlopen'ed meanwhile may sit at the unloaded one's addresses. Signal
 * handlers (no system call, lock or allocation) read the cache, look rules
 * up in modules already known, and fill the cache, but learn no new
 * modules. */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"
#include "core/module/module.h"

#include <dlfcn.h>
#include <emmintrin.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

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
  bool distrust;              /* a dlclose is in progress: refresh before a lookup */
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

hs_lock_t *const hs__unwind_copy_lock = &copy_lock;

/* A module that stays mapped as long as the process runs: the main
 * program, the vDSO, the dynamic loader, libc and this runtime (when it is
 * gone, nothing of ours walks). Recognized by an address each must hold;
 * an address that resolves elsewhere (a canonical PLT entry in a non-PIE
 * program) only means the module is copied. */
static bool permanent(const hs_module_t *m) {
  if (m->is_main) return true;
  const uintptr_t held[] = {(uintptr_t)&hs__unwind_prepare, (uintptr_t)&dl_iterate_phdr,
                            (uintptr_t)&_r_debug, (uintptr_t)getauxval(AT_SYSINFO_EHDR)};
  for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
    if (held[i] && held[i] >= m->lo && held[i] < m->hi) return true;
  return false;
}

/* Called with the loader's list lock held (inside dl_iterate_phdr), so the
 * module cannot be unmapped while it is read: libgcc's unwinder reads
 * .eh_frame the same way. A permanent module's CFI is indexed in place:
 * copying it (libc's is ~180 KiB) was most of what starting a CPU profile
 * cost a short process. */
static const hs_cfi_index_t *copy_cfi(hs_module_t *m) {
  if (permanent(m)) {
    hs_cfi_index_t *ix = hs__arena_alloc(sizeof *ix);
    if (!ix) return NULL;
    if (hs__cfi_parse_hdr(m->eh_frame_hdr, m->eh_frame_hdr_size, m->eh_frame_limit, 0, ix))
      return ix;
    hs__arena_free(ix);
    return &no_cfi;
  }
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

/* ---- modules a signal handler finds itself ----
 * A handler cannot learn modules (the registry allocates) nor copy CFI. It
 * finds the object holding an address with glibc's _dl_find_object (2.35:
 * lock-free and async-signal-safe; libgcc's unwinder uses it), which gives
 * the object's mapping and .eh_frame_hdr, and reads the search table and
 * .eh_frame in place, as hs__unwind_prepare did for the permanent modules.
 * So profiling starts without learning any module, and a library
 * dlopen'ed after the start (built without frame pointers: nothing else
 * finds its callers) is walked like the rest. The object must stay mapped
 * while it is read: hs__modules_read_begin/end around the reads, and the
 * dlclose interposer waits for such readers before the real dlclose (an
 * object that is executing, as every pc of a stack is, is past its dlopen,
 * so no failed dlopen unmaps it either). Rules found so are cached like
 * the registry's: the interposer's refresh learns an object before it is
 * unloaded, so its unload bumps the epoch. */
extern __typeof__(_dl_find_object) _dl_find_object __attribute__((weak));

/* HEAPSCOPE_TEST_HOOKS=no-dl-find-object: behave as with glibc before
 * 2.35, so that the fallback (hs__unwind_prepare) is tested here too. */
bool hs__unwind_no_dl_find_object;

static bool have_dl_find_object(void) { return _dl_find_object && !hs__unwind_no_dl_find_object; }

static bool find_object(uintptr_t a, struct dl_find_object *fo) {
  return have_dl_find_object() && _dl_find_object((void *)a, fo) == 0 && fo->dlfo_link_map;
}

/* ---- without _dl_find_object: a thread that learns modules for handlers ----
 * A handler can neither learn a module nor ready its CFI, and nothing
 * lock-free finds an object for it: a library dlopen'ed after
 * hs__unwind_prepare was walked by frame pointers only, so the callers of
 * its code built without them were lost. So hs__unwind_prepare starts a
 * thread of ours that learns the loaded modules and readies their CFI
 * whenever a handler's walk meets code of no known module: the handler
 * writes a byte to a pipe (write is async-signal-safe; the only system
 * call a walk makes, on this path alone, at most every 50 ms). The
 * samples taken before the thread is done keep their frame-pointer walk. */
static int learner_fd[2] = {-1, -1};
static _Atomic uint64_t learner_poked_ns;

/* Learns every loaded module and readies the CFI of each one still loaded. */
static void learn_modules(void) {
  hs__modules_refresh();
  walk_t w;
  memset(&w, 0, sizeof w);
  for (uint32_t i = 0, n = hs__module_count(); i < n; i++) {
    const hs_module_t *m = hs__module_at(i);
    bool cacheable;
    if (atomic_load_explicit((_Atomic uint32_t *)&m->unload_epoch, memory_order_acquire) ==
        UINT32_MAX)
      module_cfi(&w, m, &cacheable);
  }
}

static void *learner_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* never sampled, never interrupted */
  for (;;) {
    char c[64];
    ssize_t r = read(learner_fd[0], c, sizeof c);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return NULL;
    hs__runtime_enter();
    learn_modules();
    hs__runtime_leave();
  }
}

static _Atomic bool learner_started;
static bool learner_lost_in_fork; /* the parent had one; this child has none */

static void start_learner(void);

/* The forked child has no learner (fork copies the calling thread only);
 * the pipe is the parent's. hs__unwind_restart_learner (a child that
 * profiles on) or a later hs__unwind_prepare (ProfilerStart) starts its
 * own. */
void hs__unwind_postfork_child(void) {
  if (learner_fd[0] >= 0) close(learner_fd[0]);
  if (learner_fd[1] >= 0) close(learner_fd[1]);
  learner_fd[0] = learner_fd[1] = -1;
  learner_lost_in_fork = atomic_exchange(&learner_started, false);
}

/* Called from the runtime's atfork child handler, after every runtime lock
 * was reset. The modules and the CFI readied in the parent are inherited:
 * only the thread is missing. Starting it takes no lock that a fork
 * handler holds: the pipe and the thread's creation are system calls and
 * glibc's pthread_create, whose stack cache and malloc glibc resets before
 * the child handlers run (its malloc is ours, reset above); the thread
 * itself only blocks in read until a handler pokes it, by then the other
 * libraries' child handlers have long run. */
void hs__unwind_restart_learner(void) {
  if (!learner_lost_in_fork || have_dl_find_object()) return;
  learner_lost_in_fork = false;
  start_learner();
}

static void start_learner(void) {
  if (atomic_exchange(&learner_started, true)) return;
  pthread_t t;
  pthread_attr_t a;
  if (pipe2(learner_fd, O_CLOEXEC | O_NONBLOCK) != 0) return;
  /* Only the writer may not block (a handler); the learner waits. */
  fcntl(learner_fd[0], F_SETFL, 0);
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &a, learner_main, NULL) != 0) {
    close(learner_fd[0]);
    close(learner_fd[1]);
    learner_fd[0] = learner_fd[1] = -1;
  }
  pthread_attr_destroy(&a);
}

/* A handler's walk met code of no known module (async-signal-safe). */
static void poke_learner(void) {
  if (learner_fd[1] < 0) return;
  uint64_t now = hs__now_ns(), last = atomic_load_explicit(&learner_poked_ns, memory_order_relaxed);
  if (now - last < 50000000ull ||
      !atomic_compare_exchange_strong(&learner_poked_ns, &last, now))
    return;
  int saved = errno;
  ssize_t r = write(learner_fd[1], "", 1); /* a full pipe: one is pending already */
  (void)r;
  errno = saved;
}

/* The object's program headers (*n of them), NULL when its mapping does
 * not start with a sound ELF header or they are not in its first page.
 * The ELF header is at the start of its first segment (glibc maps every
 * object from file offset 0), and so are the program headers of objects
 * as linkers make them; only that first page is surely readable: a file
 * offset further on need not be where the same bytes are mapped, and may
 * fall in a PROT_NONE hole between segments (an object whose program
 * headers were moved to the end of its file faulted here). */
#define FIRST_PAGE 4096
static const ElfW(Phdr) *object_phdrs(const struct dl_find_object *fo, int *n) {
  uintptr_t start = (uintptr_t)fo->dlfo_map_start, end = (uintptr_t)fo->dlfo_map_end;
  const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)start;
  if (end <= start || end - start < sizeof *eh || eh->e_ident[EI_MAG0] != ELFMAG0 ||
      eh->e_ident[EI_MAG1] != ELFMAG1 || eh->e_ident[EI_MAG2] != ELFMAG2 ||
      eh->e_ident[EI_MAG3] != ELFMAG3 || eh->e_phentsize != sizeof(ElfW(Phdr)))
    return NULL;
  uintptr_t phs = (uintptr_t)eh->e_phnum * sizeof(ElfW(Phdr));
  uintptr_t room = end - start < FIRST_PAGE ? end - start : FIRST_PAGE;
  if (eh->e_phoff > room || phs > room - eh->e_phoff) return NULL;
  *n = eh->e_phnum;
  return (const ElfW(Phdr) *)(start + eh->e_phoff);
}

/* The object's PT_GNU_EH_FRAME table, indexed in place. */
static bool object_cfi(const struct dl_find_object *fo, hs_cfi_index_t *ix) {
  uintptr_t base = fo->dlfo_link_map->l_addr, hdr = (uintptr_t)fo->dlfo_eh_frame;
  int n;
  const ElfW(Phdr) *ph = hdr ? object_phdrs(fo, &n) : NULL;
  if (!ph) return false;
  size_t hdr_size = 0;
  uintptr_t limit = 0;
  for (int i = 0; i < n; i++) {
    uintptr_t lo = base + ph[i].p_vaddr;
    if (ph[i].p_type == PT_GNU_EH_FRAME && lo == hdr) hdr_size = ph[i].p_memsz;
    if (ph[i].p_type == PT_LOAD && hdr >= lo && hdr - lo < ph[i].p_memsz) limit = lo + ph[i].p_memsz;
  }
  if (!hdr_size || !limit || limit > (uintptr_t)fo->dlfo_map_end) return false;
  return hs__cfi_parse_hdr(hdr, hdr_size, limit, 0, ix);
}

/* The rule at a in whatever object holds it; *found: an object does. */
static uint32_t found_rule(uintptr_t a, bool *found) {
  struct dl_find_object fo;
  *found = false;
  if (!hs__modules_read_begin()) return HS_CFI_NONE;
  uint32_t r = HS_CFI_NONE;
  hs_cfi_index_t ix;
  if (find_object(a, &fo)) {
    *found = true;
    if (object_cfi(&fo, &ix)) r = hs__cfi_lookup(&ix, a);
  }
  hs__modules_read_end();
  return r;
}

/* a lies in an executable segment of the object that holds it (a value
 * found on a stack often points into an object's data instead). */
static bool object_text(uintptr_t a) {
  struct dl_find_object fo;
  if (!hs__modules_read_begin()) return false;
  bool text = false;
  int n;
  const ElfW(Phdr) *ph = find_object(a, &fo) ? object_phdrs(&fo, &n) : NULL;
  if (ph) {
    uintptr_t base = fo.dlfo_link_map->l_addr;
    for (int i = 0; i < n && !text; i++)
      text = ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X) && a >= base + ph[i].p_vaddr &&
             a - (base + ph[i].p_vaddr) < ph[i].p_memsz;
  }
  hs__modules_read_end();
  return text;
}

bool hs__unwind_known_text(uintptr_t a) { return hs__module_live_text(a) || object_text(a); }

/* a lies in code a walk may step into. */
static bool known_text(const walk_t *w, uintptr_t a) {
  if (hs__module_live_text(a)) return true;
  return (w->flags & HS_UNWIND_IN_SIGNAL) && object_text(a);
}

/* The rule at a, read from its module's CFI; *cacheable says whether it
 * holds until the next unload (not when the module's CFI could not be had
 * yet, nor "no module" before the module list was refreshed). */
static uint32_t module_rule(walk_t *w, uintptr_t a, bool *cacheable) {
  if (w->distrust && !w->refreshed) {
    /* The registry may still list a module another thread has just
     * dlclose'd, whose addresses a library dlopen'ed since may reuse. */
    w->refreshed = true;
    hs__modules_refresh();
  }
  const hs_module_t *m = hs__module_live_text(a);
  if (!m && !(w->flags & HS_UNWIND_IN_SIGNAL) && !w->refreshed) {
    /* A module dlopen'ed since the last look (the tracker's refresh is
     * cheap when the loader's counters did not move). */
    w->refreshed = true;
    hs__modules_refresh();
    m = hs__module_live_text(a);
  }
  *cacheable = m || w->refreshed;
  if (!m) {
    if (!(w->flags & HS_UNWIND_IN_SIGNAL)) return HS_CFI_NONE;
    /* Not cached when no object holds a (a later dlopen may map code
     * there without bumping the epoch). */
    if (!have_dl_find_object()) {
      poke_learner();
      *cacheable = false;
      return HS_CFI_NONE;
    }
    return found_rule(a, cacheable);
  }
  const hs_cfi_index_t *ix = module_cfi(w, m, cacheable);
  if (!ix && !*cacheable && (w->flags & HS_UNWIND_IN_SIGNAL)) return found_rule(a, cacheable);
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
    if (!known_text(w, ret - 1)) return false;
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

/* Any step: the plain kinds here (a rule just looked up), the others in
 * step_slow. */
static bool step_any(walk_t *w, uint32_t r, hs_unwind_regs_t *st) {
  int kind = hs__cfi_kind(r), bpk = hs__cfi_bp_kind(r);
  if ((kind == HS_CFI_RSP || kind == HS_CFI_RBP) && bpk != HS_CFI_BP_AT_RBP) {
    uintptr_t cfa = (kind == HS_CFI_RSP ? st->sp : st->bp) + (uintptr_t)hs__cfi_cfa_off(r);
    if (cfa - 8 >= st->sp && cfa <= w->hi && cfa - 8 < w->hi) {
      if (bpk == HS_CFI_BP_AT_CFA) {
        uintptr_t slot = cfa + (uintptr_t)hs__cfi_bp_off(r);
        if (!(slot >= st->sp && slot < w->hi && w->hi - slot >= 8)) return false;
        st->bp = *(const uintptr_t *)slot;
      }
      st->pc = ((const uintptr_t *)cfa)[-1];
      st->sp = cfa;
      st->exact = false;
      return true;
    }
  }
  return step_slow(w, r, st);
}

/* ---- the walk ----------------------------------------------------------------- */

/* The rule of a frame built with a frame pointer: CFA = rbp + 16, rbp saved
 * at CFA - 16. Its step follows the %rbp chain, which does not wait for the
 * rule lookup: the lookup only confirms the step, off the chain of
 * dependent loads, so such frames walk at frame-pointer speed. */
#define FP_RULE (HS_CFI_RBP | HS_CFI_BP_AT_CFA << 3 | (uint32_t)(-2 & 0xff) << 5 | 16u << 13)

/* The walk's current frame and output, as the hot loop and the rest share
 * them. The current frame is always already recorded (out[-1] is its pc). */
typedef struct cursor {
  uintptr_t pc, sp, bp;
  uintptr_t *out;
  uint64_t acc, seed; /* the stack hash so far, the next frame's seed */
  uint32_t rule;      /* the current frame's rule, when the hot loop stopped at it */
} cursor_t;

enum { HOT_END, HOT_FULL, HOT_MISS, HOT_OTHER };

/* The rules the hot loop steps by, as a set of their low 5 bits (kind and
 * where %rbp is): CFA = rsp+N or rbp+N, %rbp unchanged or saved at the CFA. */
#define PLAIN_RULES                                                                        \
  (1u << (HS_CFI_RSP | HS_CFI_BP_SAME << 3) | 1u << (HS_CFI_RBP | HS_CFI_BP_SAME << 3) |   \
   1u << (HS_CFI_RSP | HS_CFI_BP_AT_CFA << 3) | 1u << (HS_CFI_RBP | HS_CFI_BP_AT_CFA << 3))

/* Steps from the current frame while rules come from the cache and are one
 * of the plain kinds, recording each new frame; returns why it stopped
 * (HOT_MISS / HOT_OTHER: the current frame's rule is not in the cache / is
 * not plain). Its own frame pointer is not needed by anyone (walks start in
 * the recorder's frame), which frees %rbp for the loop's state: everything
 * stays in registers. A frame whose pc equals the previous one's
 * (recursion) reuses its rule without a lookup, so its step does not wait
 * for one; a frame-pointer frame's step (predicted) does not wait for its
 * lookup either. */
__attribute__((noinline, optimize("omit-frame-pointer"))) static int
walk_hot(cursor_t *cu, const uintptr_t *end, _Atomic uint64_t *cache, uint32_t mix,
         uintptr_t hi) {
  uintptr_t pc = cu->pc, sp = cu->sp, bp = cu->bp, prev_pc = 0;
  uintptr_t *out = cu->out;
  uint64_t acc = cu->acc, seed = cu->seed;
  uint32_t r = 0;
  /* Every address read lies in [sp, hi): a record of n bytes at a is in
   * when a >= sp and a <= hi - n (hi is an address, never below 16). */
  const uintptr_t hi8 = hi - 8;
  int why;
  for (;;) {
    if (pc != prev_pc) {
      uint64_t e = atomic_load_explicit(&cache[cache_index(pc)], memory_order_relaxed);
      r = (uint32_t)e;
      if (HS_UNLIKELY((uint32_t)(e >> 32) != ((uint32_t)(pc >> CACHE_BITS) ^ mix))) {
        why = HOT_MISS;
        break;
      }
      if (HS_UNLIKELY(!((PLAIN_RULES >> (r & 31)) & 1))) {
        /* (An empty entry whose tag happens to match reads as rule 0.) */
        why = !e ? HOT_MISS : hs__cfi_kind(r) == HS_CFI_STOP ? HOT_END : HOT_OTHER;
        break;
      }
      prev_pc = pc;
    }
    if (HS_LIKELY(r == FP_RULE)) {
      if (HS_UNLIKELY(!(bp >= sp && bp <= hi8 - 8))) { /* the frame record [bp, bp + 16) */
        why = HOT_OTHER;
        break;
      }
      pc = ((const uintptr_t *)bp)[1];
      sp = bp + 16;
      bp = ((const uintptr_t *)bp)[0];
    } else {
      /* The return address slot at or above sp (so inside the range) makes
       * every step progress; an offset that wraps lands outside. */
      uintptr_t ra = (hs__cfi_kind(r) == HS_CFI_RSP ? sp : bp) + (uintptr_t)hs__cfi_cfa_off(r) - 8;
      if (HS_UNLIKELY(!(ra >= sp && ra <= hi8))) { /* the return address slot */
        why = HOT_OTHER;
        break;
      }
      if (r & HS_CFI_BP_AT_CFA << 3) {
        uintptr_t slot = ra + 8 + (uintptr_t)hs__cfi_bp_off(r);
        if (HS_UNLIKELY(!(slot >= sp && slot <= hi8))) {
          why = HOT_OTHER;
          break;
        }
        bp = *(const uintptr_t *)slot;
      }
      pc = *(const uintptr_t *)ra;
      sp = ra + 8;
    }
    if (HS_UNLIKELY(pc < 4096)) {
      why = HOT_END;
      break;
    }
    if (HS_UNLIKELY(out == end)) {
      why = HOT_FULL;
      break;
    }
    *out++ = pc;
    acc += HS_FRAME_HASH_SEEDED(pc, seed); /* off the chain of dependent loads */
    seed += HS_FRAME_SEED;
  }
  cu->pc = pc;
  cu->sp = sp;
  cu->bp = bp;
  cu->out = out;
  cu->acc = acc;
  cu->seed = seed;
  cu->rule = r;
  return why;
}

int hs__unwind_walk(hs_unwind_regs_t *st, const hs_stack_ranges_t *ranges, int flags,
                    uintptr_t *pcs, int max, uint64_t *hash, int *status) {
  walk_t w;
  /* One load per field: ranges and st were just written field by field,
   * and a 16-byte load of two fields cannot be forwarded from those stores. */
  w.lo = __atomic_load_n(&ranges->lo, __ATOMIC_RELAXED);
  w.hi = __atomic_load_n(&ranges->hi, __ATOMIC_RELAXED);
  w.home_lo = __atomic_load_n(&ranges->home_lo, __ATOMIC_RELAXED);
  w.home_hi = __atomic_load_n(&ranges->home_hi, __ATOMIC_RELAXED);
  w.flags = flags;
  /* While a dlclose is in progress, rules cached under the current epoch
   * may belong to a module already unmapped (read before the epoch: the
   * unload's epoch bump precedes the count going down). */
  bool unloading = hs__modules_unload_pending();
  w.cache = unloading ? NULL : cache_get(!(flags & HS_UNWIND_IN_SIGNAL));
  w.epoch = hs__modules_epoch();
  w.refreshed = false;
  w.distrust = unloading && !(flags & HS_UNWIND_IN_SIGNAL);
  w.status = 0;
  if (max > HS_MAX_DEPTH) max = HS_MAX_DEPTH;
  if (max < 0) max = 0;
  const uint32_t mix = epoch_mix(w.epoch);
  uintptr_t *const end = pcs + max;
  cursor_t cu = {__atomic_load_n(&st->pc, __ATOMIC_RELAXED), __atomic_load_n(&st->sp, __ATOMIC_RELAXED),
                 __atomic_load_n(&st->bp, __ATOMIC_RELAXED), pcs, 0, HS_FRAME_SEED, 0};
  bool exact = st->exact;

  if (cu.out == end || cu.pc < 4096 || !in_range(&w, cu.sp)) goto done;
  *cu.out++ = cu.pc;
  cu.acc += HS_FRAME_HASH_SEEDED(cu.pc, cu.seed);
  cu.seed += HS_FRAME_SEED;
  for (;;) {
    int why = HOT_MISS;
    if (HS_LIKELY(!exact && w.cache)) {
      why = walk_hot(&cu, end, w.cache, mix, w.hi);
      if (why == HOT_END || why == HOT_FULL) break;
    }
    /* The current frame needs more than the hot loop: its rule from the
     * module, or a step the hot loop does not take. */
    uint32_t r = why == HOT_OTHER ? cu.rule : rule_slow(&w, cu.pc, exact);
    if (hs__cfi_kind(r) == HS_CFI_STOP) break; /* the outermost frame */
    st->pc = cu.pc;
    st->sp = cu.sp;
    st->bp = cu.bp;
    st->exact = exact;
    if (!step_any(&w, r, st)) break;
    cu.pc = st->pc;
    cu.sp = st->sp;
    cu.bp = st->bp;
    exact = st->exact;
    if (cu.pc < 4096 || cu.out == end) break;
    *cu.out++ = cu.pc;
    cu.acc += HS_FRAME_HASH_SEEDED(cu.pc, cu.seed);
    cu.seed += HS_FRAME_SEED;
  }
done:;
  int n = (int)(cu.out - pcs);
  if (hash) *hash = hs__stack_hash_final(cu.acc, n);
  if (status) *status = w.status;
  return n;
}

/* ---- per-thread memos of the fast path ------------------------------------------
 * Two facts a walk learns again and again on a thread:
 *  - which frames of a frame-pointer chain have the frame-pointer rule. That
 *    is a function of the chain's pcs and the module epoch alone, so it is
 *    kept per chain hash: a chain seen before skips its per-frame checks.
 *  - the frames below the first frame that is not such a frame (for most
 *    stacks: __libc_start_call_main and the libc frames under it, or
 *    start_thread and clone3). The walk from a frame is a function of its
 *    registers, the rules of the pcs it meets (module epoch) and the stack
 *    words it reads: the memo keeps those words with their addresses, and
 *    a later walk from the same registers that reads the same values there
 *    has the same frames. Re-reading them takes independent loads; walking
 *    takes a chain of dependent ones and a rule lookup per frame.
 * Both live on the internal heap, one block per thread, freed at thread
 * exit. A signal handler that records on this thread may interrupt a
 * memo's reader or writer: writers make seq odd while they write (and do
 * not write when it is odd already), readers skip the memo when it is odd
 * and discard what they read when it moved. */
#define CHAIN_BITS 8 /* 256 sets of four words: 8 KiB */
#define CHAIN_WAYS 4
#define TAIL_WAYS 4
#define TAIL_FRAMES 8
#define TAIL_READS (2 * TAIL_FRAMES)
#define TAIL_NONE 0xff /* a tail the memo cannot hold: walk it */

typedef struct tail_memo {
  uintptr_t pc, sp, bp, hi;  /* the registers the walk started from, the stack top */
  uint32_t mix;              /* the module epoch's mix */
  uint8_t nreads, ntail;     /* ntail TAIL_NONE: a negative entry */
  bool bp_read;              /* the walk read the starting %rbp (before restoring it) */
  uintptr_t addr[TAIL_READS], val[TAIL_READS];
  uintptr_t pcs[TAIL_FRAMES];
} tail_memo_t;

/* A chain memo entry is one word: the upper 58 bits of the key (the
 * chain's hash, depth and module epoch; never 0) and k, the first frame
 * that is walked by its own rule (frames 0..k-1 have the frame-pointer
 * rule). Four ways a set (one cache line), the newest first. */
#define CHAIN_K_MASK 63ull

typedef struct walk_memo {
  _Atomic uint32_t seq;
  tail_memo_t tail[TAIL_WAYS];
  _Alignas(64) _Atomic uint64_t chain[1u << CHAIN_BITS][CHAIN_WAYS];
  struct leaf_memo *leaf;    /* mapped on first use (leaf_memo_get) */
  struct fp_memo *fpm;       /* mapped on first use (fp_memo_get) */
  bool leaf_failed, fpm_failed;
  volatile bool leaf_reading; /* a leaf memo read is in progress on this thread */
} walk_memo_t;

static HS_TLS walk_memo_t *tl_memo;
static HS_TLS bool tl_memo_failed;
static pthread_key_t memo_key;
static _Atomic int memo_key_state; /* 0 none, 1 creating, 2 ready, -1 failed */

static void memo_tables_unmap(walk_memo_t *m);

static void memo_free(void *p) {
  tl_memo = NULL;
  tl_memo_failed = true; /* walks after this destructor go without */
  /* A signal handler's walk on this thread must see the stores above
   * before anything is unmapped: a compiler barrier is all it takes. */
  atomic_signal_fence(memory_order_seq_cst);
  memo_tables_unmap(p);
  hs__arena_free(p);
}

/* A memo table, mapped at its thread's first need (zero pages: every entry
 * empty). *failed is set first, so a signal handler's walk landing here
 * meanwhile goes without rather than mapping a second one, and stays set
 * when there is no memory. */
static HS_NOINLINE void *memo_table_map(bool *failed, size_t bytes) {
  *failed = true;
  void *t = hs__os_map(bytes);
  if (t) *failed = false;
  return t;
}

static HS_NOINLINE walk_memo_t *memo_make(void) {
  tl_memo_failed = true;
  if (!hs__thread_key_once(&memo_key, &memo_key_state, memo_free)) return NULL;
  walk_memo_t *m = hs__arena_alloc(sizeof *m); /* zeroed: every entry empty */
  if (!m) return NULL;
  if (!hs__thread_key_set(memo_key, m)) {
    hs__arena_free(m);
    return NULL;
  }
  tl_memo_failed = false;
  return tl_memo = m;
}

/* A thread's memo is made at its MEMO_AFTER-th walk: threads that record a
 * few allocations and exit (10,000 threads x 4 mallocs) do not pay for
 * ~10 KiB of zeroed memory each. */
#define MEMO_AFTER 32
static HS_TLS uint32_t tl_memo_walks;

static inline walk_memo_t *memo_get(void) {
  walk_memo_t *m = tl_memo;
  if (HS_UNLIKELY(!m) && !tl_memo_failed && ++tl_memo_walks > MEMO_AFTER) m = memo_make();
  return m;
}

static inline bool memo_write_begin(walk_memo_t *m) {
  if (atomic_load_explicit(&m->seq, memory_order_relaxed) & 1) return false;
  atomic_fetch_add_explicit(&m->seq, 1, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  return true;
}

static inline void memo_write_end(walk_memo_t *m) {
  atomic_signal_fence(memory_order_seq_cst);
  atomic_fetch_add_explicit(&m->seq, 1, memory_order_relaxed);
}

/* Frame-pointer frames first: when frame #0's rule is the frame-pointer
 * rule (code built with frame pointers), the %rbp chain is followed as a
 * plain frame-pointer walk would (two loads per frame, bounds checked,
 * hashed as it goes). Then each frame whose step used the chain must have
 * the frame-pointer rule: a chain seen before on this thread has its
 * answer in the memo; else the frames are checked in a second pass
 * (independent loads). From the first frame that fails (a libc frame
 * without a frame pointer, a cache miss) the walk goes on by its rules.
 * Returns the frames recorded so far and leaves in *cu the frame to go on
 * from. */
static int fp_first(const hs_unwind_regs_t *st, uintptr_t hi, uintptr_t *pcs, int max,
                    _Atomic uint64_t *cache, uint32_t mix, walk_memo_t *memo, cursor_t *cu) {
  const uintptr_t hi16 = hi - 16;
  uintptr_t fp = st->bp, lo = st->sp;
  uintptr_t *out = pcs + 1, *const stop = pcs + max;
  pcs[0] = st->pc;
  uint64_t acc = HS_FRAME_HASH_SEEDED(st->pc, HS_FRAME_SEED), seed = 2 * HS_FRAME_SEED;
  /* (Two branches for the bounds, not one combined test: gcc makes the
   * latter two setcc and a test, two instructions more a frame.) */
  if (out < stop) {
    for (;;) {
      if (fp < lo) break;
      if (fp > hi16) break;
      uintptr_t ret = ((const uintptr_t *)fp)[1];
      if (ret < 4096) break;
      *out++ = ret;
      acc += HS_FRAME_HASH_SEEDED(ret, seed); /* off the chain of dependent loads */
      seed += HS_FRAME_SEED;
      lo = fp + 16;
      fp = *(const uintptr_t *)fp;
      if (out == stop) break;
    }
  }
  const int n = (int)(out - pcs);
  /* The last frame's %rbp is fp, its %rsp lo (st->sp when it is frame 0). */
  /* Frames 0..n-2 were left by the chain: each must have the rule. */
  int k = -1;
  _Atomic uint64_t *set = NULL;
  uint64_t key = 0;
  if (HS_LIKELY(memo != NULL)) {
    key = hs__stack_hash_final(acc + (uint64_t)mix * 0xd6e8feb86659fd93ull, n) | (CHAIN_K_MASK + 1);
    key &= ~CHAIN_K_MASK;
    set = memo->chain[(key >> 6) & ((1u << CHAIN_BITS) - 1)];
    for (int w = 0; w < CHAIN_WAYS; w++) {
      uint64_t e = atomic_load_explicit(&set[w], memory_order_relaxed);
      if ((e & ~CHAIN_K_MASK) == key) {
        k = (int)(e & CHAIN_K_MASK);
        break;
      }
    }
    if (k >= n) k = -1; /* (only a hash collision) */
  }
  if (k < 0) {
    uintptr_t checked = 0; /* a pc already found to have the rule (recursion repeats it) */
    bool known = true;     /* k is the first frame without the rule, not a cache miss */
    for (k = 0; k < n - 1; k++) {
      uintptr_t pc = pcs[k];
      if (pc != checked) {
        uint64_t e = atomic_load_explicit(&cache[cache_index(pc)], memory_order_relaxed);
        uint64_t tag = (uint64_t)((uint32_t)(pc >> CACHE_BITS) ^ mix) << 32;
        if (e != (tag | FP_RULE)) {
          known = (e & 0xffffffff00000000ull) == tag && e;
          break;
        }
        checked = pc;
      }
    }
    if (set && known) {
      /* One word each: a signal handler's walk sees the old or the new. */
      for (int w = CHAIN_WAYS - 1; w > 0; w--)
        atomic_store_explicit(&set[w], atomic_load_explicit(&set[w - 1], memory_order_relaxed),
                              memory_order_relaxed);
      atomic_store_explicit(&set[0], key | (uint64_t)k, memory_order_relaxed);
    }
  }
  /* The hash of frames 0..k: the chain's, less the frames after k. */
  seed = (uint64_t)(k + 2) * HS_FRAME_SEED;
  for (int j = k + 1; j < n; j++) {
    acc -= HS_FRAME_HASH_SEEDED(pcs[j], seed);
    seed += HS_FRAME_SEED;
  }
  /* Frame k is right (the step into it was checked); on from it. Its
   * registers, when it is not the last frame of the chain, by following
   * the chain again (words read above, unchanged). */
  if (k < n - 1) {
    fp = st->bp;
    lo = st->sp;
    for (int j = 0; j < k; j++) {
      lo = fp + 16;
      fp = *(const uintptr_t *)fp;
    }
  }
  *cu = (cursor_t){pcs[k], lo, fp, pcs + k + 1, acc, (uint64_t)(k + 2) * HS_FRAME_SEED, 0};
  return k + 1;
}

/* The walk from the cursor's frame by cached rules, as walk_hot takes it,
 * into a tail memo with the stack words it reads. False when the tail is
 * not one the memo can hold (*keep: a negative entry is worth keeping; not
 * for a cache miss, which the slow walk fills). */
static bool tail_fill(tail_memo_t *t, const cursor_t *cu, _Atomic uint64_t *cache, uint32_t mix,
                      uintptr_t hi, bool *keep) {
  uintptr_t pc = cu->pc, sp = cu->sp, bp = cu->bp;
  int nr = 0, nt = 0;
  bool bp_start = true; /* bp is still the starting one */
  *keep = true;
  t->bp_read = false;
  for (;;) {
    uint64_t e = atomic_load_explicit(&cache[cache_index(pc)], memory_order_relaxed);
    if ((uint32_t)(e >> 32) != ((uint32_t)(pc >> CACHE_BITS) ^ mix) || !e) {
      *keep = false;
      return false;
    }
    uint32_t r = (uint32_t)e;
    int kind = hs__cfi_kind(r), bpk = hs__cfi_bp_kind(r);
    if (kind == HS_CFI_STOP) break;
    if ((kind != HS_CFI_RSP && kind != HS_CFI_RBP) || bpk == HS_CFI_BP_AT_RBP) return false;
    if (nt == TAIL_FRAMES) return false;
    uintptr_t ra = (kind == HS_CFI_RSP ? sp : bp) + (uintptr_t)hs__cfi_cfa_off(r) - 8;
    if (kind == HS_CFI_RBP && bp_start) t->bp_read = true;
    if (!(ra >= sp && ra <= hi - 8)) return false;
    if (bpk == HS_CFI_BP_AT_CFA) {
      uintptr_t slot = ra + 8 + (uintptr_t)hs__cfi_bp_off(r);
      if (!(slot >= sp && slot <= hi - 8)) return false;
      bp = *(const uintptr_t *)slot;
      bp_start = false;
      t->addr[nr] = slot;
      t->val[nr++] = bp;
    }
    pc = *(const uintptr_t *)ra;
    t->addr[nr] = ra;
    t->val[nr++] = pc;
    sp = ra + 8;
    if (pc < 4096) break;
    t->pcs[nt++] = pc;
  }
  t->nreads = (uint8_t)nr;
  t->ntail = (uint8_t)nt;
  return true;
}

/* From the cursor's frame to the end of the stack: by the tail memo when
 * it holds these registers and the stack still holds what it read, else
 * by walk_hot (and into the memo, for next time). Returns as walk_hot. */
static int walk_tail(walk_memo_t *memo, cursor_t *cu, const uintptr_t *end,
                     _Atomic uint64_t *cache, uint32_t mix, uintptr_t hi) {
  tail_memo_t *t = &memo->tail[(cu->sp >> 4) & (TAIL_WAYS - 1)];
  uint32_t seq = atomic_load_explicit(&memo->seq, memory_order_relaxed);
  atomic_signal_fence(memory_order_seq_cst);
  if (t->pc == cu->pc && t->sp == cu->sp && t->bp == cu->bp && t->hi == hi && t->mix == mix &&
      !(seq & 1)) {
    if (t->ntail == TAIL_NONE) return walk_hot(cu, end, cache, mix, hi);
    /* (Each address is checked again: a handler may have rewritten the
     * entry since the test above; seq says so only after the reads.) */
    int nr = t->nreads;
    bool same = nr <= TAIL_READS && t->ntail <= TAIL_FRAMES;
    for (int i = 0; same && i < nr; i++) {
      uintptr_t a = t->addr[i];
      same = a >= cu->sp && a <= hi - 8 && *(const uintptr_t *)a == t->val[i];
    }
    if (same) {
      uintptr_t *out = cu->out;
      uint64_t acc = cu->acc, seed = cu->seed;
      int nt = t->ntail;
      if (nt > end - out) nt = (int)(end - out);
      for (int i = 0; i < nt; i++) {
        uintptr_t pc = t->pcs[i];
        out[i] = pc;
        acc += HS_FRAME_HASH_SEEDED(pc, seed);
        seed += HS_FRAME_SEED;
      }
      atomic_signal_fence(memory_order_seq_cst);
      if (atomic_load_explicit(&memo->seq, memory_order_relaxed) == seq) {
        cu->out = out + nt;
        cu->acc = acc;
        cu->seed = seed;
        return out + nt == end && nt < t->ntail ? HOT_FULL : HOT_END;
      }
      return walk_hot(cu, end, cache, mix, hi);
    }
  }
  tail_memo_t fresh;
  bool keep, held = tail_fill(&fresh, cu, cache, mix, hi, &keep);
  if (held || keep) {
    if (!held) fresh.ntail = TAIL_NONE;
    if (memo_write_begin(memo)) {
      t->pc = 0; /* no reader matches it meanwhile */
      atomic_signal_fence(memory_order_seq_cst);
      t->sp = cu->sp;
      t->bp = cu->bp;
      t->hi = hi;
      t->mix = mix;
      t->nreads = fresh.nreads;
      t->ntail = fresh.ntail;
      if (fresh.ntail != TAIL_NONE) {
        memcpy(t->addr, fresh.addr, fresh.nreads * sizeof *t->addr);
        memcpy(t->val, fresh.val, fresh.nreads * sizeof *t->val);
        memcpy(t->pcs, fresh.pcs, fresh.ntail * sizeof *t->pcs);
      }
      atomic_signal_fence(memory_order_seq_cst);
      t->pc = cu->pc;
      memo_write_end(memo);
    }
  }
  return walk_hot(cu, end, cache, mix, hi);
}

/* ---- depot ids from the memos -------------------------------------------------------
 * A memo entry that holds a whole walk also keeps the depot's id of its
 * stack (hs__unwind_fast with id): a later walk it answers returns the id
 * and frame 0 only, so the recorder neither copies the frames nor looks the
 * stack up again. The id is learned after the walk that filled or hit the
 * entry (hs__unwind_memo_id), into that entry only if no memo write came in
 * between (the seq the walk saw; the store itself under seq, so a signal
 * handler's walk on this thread neither reads the entry half-written nor
 * rewrites it meanwhile). Entries rewritten for another walk start without
 * an id. */
static HS_TLS uint32_t *tl_id_slot; /* the entry of the last walk, when its id is unknown */
static HS_TLS uint32_t tl_id_seq;

static inline void id_slot_offer(walk_memo_t *memo, uint32_t *slot, uint32_t *id) {
  if (!id) return;
  *id = 0;
  tl_id_slot = slot;
  tl_id_seq = atomic_load_explicit(&memo->seq, memory_order_relaxed);
}

void hs__unwind_memo_id(uint32_t id) {
  uint32_t *slot = tl_id_slot;
  walk_memo_t *m = tl_memo;
  tl_id_slot = NULL;
  if (!slot || !m || !id) return;
  uint32_t seq = tl_id_seq;
  /* (A compare-exchange: a handler's write between the test and the
   * store would otherwise go unseen.) */
  if (!atomic_compare_exchange_strong_explicit(&m->seq, &seq, seq + 1, memory_order_relaxed,
                                               memory_order_relaxed))
    return;
  atomic_signal_fence(memory_order_seq_cst);
  *slot = id;
  memo_write_end(m);
}

/* ---- the leaf memo: whole walks from frames without a frame pointer ---------------
 * Code built without frame pointers has no chain to follow: each step waits
 * for its frame's rule (return address -> cache entry -> rule -> the next
 * slot, a chain of dependent loads) and costs ~50 instructions. But a walk
 * is a function of its starting registers, the rules of the pcs it meets
 * (module epoch) and the stack words it reads, and a test calls the same
 * allocation sites from the same stack depths again and again. So, per
 * (pc, sp) of frame 0, the memo keeps the frames of the walk and where each
 * return address was read (its offset from sp); a later walk from the same
 * registers reads those words (independent loads) into its output and,
 * when all equal the memo's frames, is done, hash and all.
 * %rbp counts only when a rule reads it (an rbp-based CFA, a frame-pointer
 * frame): then the word it was last restored from is compared too, or the
 * starting %rbp is part of the key when the rule read that. A walk longer
 * than LEAF_FRAMES goes on from the memo's last frame by walk_hot.
 * One (pc, sp) often has several stacks (the same leaf under different
 * callers, at the same depth): entries are filed by (pc, sp) and the words
 * at the first two return address slots, whose offsets a small hint table
 * keyed by (pc, sp) gives, so a lookup reads one set of one stack's entries.
 * Per thread: 512 sets x 4 ways of 448-byte entries, their tags and a
 * 1024-entry hint table (~940 KiB, mapped on a thread's first such walk
 * after its memo is made, pages touched as entries are). Written
 * under the walk memo's seq, never while a read is in progress on the
 * thread (leaf_reading: a signal handler that records may interrupt it),
 * so a reader trusts an entry whose key matches. */
#define LEAF_FRAMES 32
#define LEAF_EXTRA 4 /* other words compared: %rbp restores a rule read, a last return address < 4096 */
#define LEAF_SET_BITS 9
#define LEAF_WAYS 4
#define LEAF_HINT_BITS 10
#define LEAF_OFF_MAX 0xffff /* farther stack words are not held */
#define LEAF_MISSED (-2)    /* leaf_walk: not answered, walk by walk_hot */
enum { LEAF_END = 1, LEAF_CONT = 2, LEAF_NONE = 4, LEAF_BP = 8 };

HS_TLS uint64_t hs__unwind_leaf_hits;

typedef struct leaf_entry {
  _Alignas(64) uintptr_t pc; /* the key: pc, sp, bp (only with LEAF_BP), hi, mix */
  uintptr_t sp, bp, hi;
  uint64_t acc;             /* the hash of pcs[0..n) at output positions 1..n */
  uint32_t mix;
  uint32_t id;              /* the depot's id of the stack pc, pcs[0..n) (when whole); 0 not known */
  uint8_t n, nextra, flags; /* LEAF_END: the walk ends after pcs[n - 1]; LEAF_CONT: goes on;
                               LEAF_NONE: walk_hot cannot take it (a negative entry) */
  uintptr_t end_sp, end_bp; /* LEAF_CONT: the registers of the frame at pcs[n - 1] */
  uint16_t off[LEAF_FRAMES]; /* pcs[i] was read at sp + off[i] */
  uint16_t xoff[LEAF_EXTRA];
  uintptr_t xval[LEAF_EXTRA];
  uintptr_t pcs[LEAF_FRAMES];
} leaf_entry_t;

/* A set's tags (the filing hash of each way's entry, | 1; 0: empty), so a
 * lookup reads the one entry that may match, and which ways were hit since
 * the set's last fill (not the victim of the next). */
typedef struct leaf_tags {
  _Alignas(32) uint64_t tag[LEAF_WAYS];
} leaf_tags_t;

/* A hint: a tag of (pc, sp)'s hash (leaf_hint_tag) in the upper half, and
 * the offsets of the first two return address slots of the walk last filed
 * for them; two a hash index. */
typedef struct leaf_memo {
  leaf_tags_t tags[1u << LEAF_SET_BITS];
  uint8_t used[1u << LEAF_SET_BITS][LEAF_WAYS];
  uint64_t hint[1u << LEAF_HINT_BITS];
  leaf_entry_t e[(1u << LEAF_SET_BITS) * LEAF_WAYS];
} leaf_memo_t;

static inline leaf_memo_t *leaf_memo_get(walk_memo_t *m) {
  leaf_memo_t *lm = m->leaf;
  if (HS_UNLIKELY(!lm) && !m->leaf_failed)
    lm = m->leaf = memo_table_map(&m->leaf_failed, sizeof *lm);
  return lm;
}

static inline uint64_t leaf_key_hash(uintptr_t pc, uintptr_t sp) {
  return ((uint64_t)pc ^ (uint64_t)sp << 17 ^ (uint64_t)sp >> 3) * 0x9e3779b97f4a7c15ull;
}

/* A multiplicative hash's upper bits depend on all of the key's (its
 * lower ones only on the key's lower bits): the index and the tag come
 * from there. */
static inline uint32_t leaf_hint_index(uint64_t h) { /* the first of a pair */
  return (uint32_t)(h >> (64 - LEAF_HINT_BITS)) & ~1u;
}
static inline uint32_t leaf_hint_tag(uint64_t h) { return (uint32_t)(h >> 20); }

/* The hash a walk from (pc, sp) is filed by (h: leaf_key_hash; its top
 * bits pick the set), never 0. lim: the farthest offset from sp a word may
 * be read at. */
static inline uint64_t leaf_file_hash(leaf_memo_t *lm, uint64_t h, uintptr_t sp, uintptr_t lim) {
  const uint64_t *pair = &lm->hint[leaf_hint_index(h)];
  uint64_t hint = pair[0];
  if ((uint32_t)(hint >> 32) != leaf_hint_tag(h)) hint = pair[1];
  if ((uint32_t)(hint >> 32) == leaf_hint_tag(h)) {
    uintptr_t off0 = hint & 0xffff, off1 = (hint >> 16) & 0xffff;
    if (off0 <= lim && off1 <= lim)
      h ^= (*(const uintptr_t *)(sp + off0) * 0xff51afd7ed558ccdull) ^
           (*(const uintptr_t *)(sp + off1) * 0xc4ceb9fe1a85ec53ull);
    h *= 0x9e3779b97f4a7c15ull;
  }
  return h | 1;
}

/* The walk from frame 0's registers as walk_hot takes it, into e (all but
 * the key), at most cap frames. False when it is not one the memo can hold
 * (*keep: worth a negative entry; not after a rule cache miss, which the
 * slow walk fills). */
static bool leaf_fill(leaf_entry_t *e, uintptr_t pc, uintptr_t sp, uintptr_t bp, int cap,
                      _Atomic uint64_t *cache, uint32_t mix, uintptr_t hi, bool *keep) {
  const uintptr_t sp0 = sp, hi8 = hi - 8;
  /* The words read that are not return addresses; bp_src is where %rbp
   * now comes from (-1: the starting registers). */
  uint16_t rd_off[LEAF_FRAMES + 2];
  uintptr_t rd_val[LEAF_FRAMES + 2];
  bool rd_need[LEAF_FRAMES + 2];
  int nrd = 0, bp_src = -1, n = 0;
  bool bp_keyed = false;
  uint64_t acc = 0, seed = 2 * HS_FRAME_SEED;
  *keep = true;
  e->flags = LEAF_END;
  for (;;) {
    if (n == cap) { /* walk_hot goes on from here (if there is room), %rbp and all */
      e->flags = LEAF_CONT;
      e->end_sp = sp;
      e->end_bp = bp;
      if (bp_src < 0) bp_keyed = true;
      else rd_need[bp_src] = true;
      break;
    }
    uint64_t ce = atomic_load_explicit(&cache[cache_index(pc)], memory_order_relaxed);
    if ((uint32_t)(ce >> 32) != ((uint32_t)(pc >> CACHE_BITS) ^ mix) || !ce) {
      *keep = false;
      return false;
    }
    uint32_t r = (uint32_t)ce;
    if (!((PLAIN_RULES >> (r & 31)) & 1)) {
      if (hs__cfi_kind(r) == HS_CFI_STOP) break;
      return false;
    }
    if (r == FP_RULE || hs__cfi_kind(r) == HS_CFI_RBP) { /* this step reads %rbp */
      if (bp_src < 0) bp_keyed = true;
      else rd_need[bp_src] = true;
    }
    uintptr_t ra, slot;
    bool restores = true;
    if (r == FP_RULE) {
      if (!(bp >= sp && bp <= hi8 - 8)) return false;
      ra = bp + 8;
      slot = bp;
    } else {
      ra = (hs__cfi_kind(r) == HS_CFI_RSP ? sp : bp) + (uintptr_t)hs__cfi_cfa_off(r) - 8;
      if (!(ra >= sp && ra <= hi8)) return false;
      slot = ra + 8 + (uintptr_t)hs__cfi_bp_off(r);
      restores = r & HS_CFI_BP_AT_CFA << 3;
      if (restores && !(slot >= sp && slot <= hi8)) return false;
    }
    if (ra - sp0 > LEAF_OFF_MAX || (restores && slot - sp0 > LEAF_OFF_MAX)) return false;
    if (restores) {
      if (nrd == LEAF_FRAMES + 1) return false;
      bp = *(const uintptr_t *)slot;
      rd_off[nrd] = (uint16_t)(slot - sp0);
      rd_val[nrd] = bp;
      rd_need[nrd] = false;
      bp_src = nrd++;
    }
    pc = *(const uintptr_t *)ra;
    sp = ra + 8;
    if (pc < 4096) { /* the end: this word must read the same */
      rd_off[nrd] = (uint16_t)(ra - sp0);
      rd_val[nrd] = pc;
      rd_need[nrd++] = true;
      break;
    }
    e->off[n] = (uint16_t)(ra - sp0);
    e->pcs[n++] = pc;
    acc += HS_FRAME_HASH_SEEDED(pc, seed);
    seed += HS_FRAME_SEED;
  }
  int nx = 0;
  for (int i = 0; i < nrd; i++) {
    if (!rd_need[i]) continue;
    if (nx == LEAF_EXTRA) return false;
    e->xoff[nx] = rd_off[i];
    e->xval[nx++] = rd_val[i];
  }
  e->n = (uint8_t)n;
  e->nextra = (uint8_t)nx;
  e->acc = acc;
  if (bp_keyed) e->flags |= LEAF_BP;
  return true;
}

/* Frames 1..m of the walk are in pcs (m = n, or fewer when the caller's
 * room ends first), frame 0 in pcs[0]: the hash, and the walk on by
 * walk_hot from the memo's last frame when it goes on (cont). As
 * hs__unwind_fast returns. */
static int leaf_finish(uintptr_t *pcs, int max, int n, int m, bool cont, uintptr_t end_sp,
                       uintptr_t end_bp, uint64_t acc, _Atomic uint64_t *cache, uint32_t mix,
                       uintptr_t hi, uint64_t *hash) {
  if (m < n) { /* acc is the whole memo's: hash the frames kept instead */
    acc = HS_FRAME_HASH_SEEDED(pcs[0], HS_FRAME_SEED);
    uint64_t seed = 2 * HS_FRAME_SEED;
    for (int i = 1; i <= m; i++) {
      acc += HS_FRAME_HASH_SEEDED(pcs[i], seed);
      seed += HS_FRAME_SEED;
    }
  }
  if (m < n || !cont || n == max - 1) {
    *hash = hs__stack_hash_final(acc, m + 1);
    return m + 1;
  }
  cursor_t cu = {pcs[n], end_sp, end_bp, pcs + n + 1, acc, (uint64_t)(n + 2) * HS_FRAME_SEED, 0};
  int why = walk_hot(&cu, pcs + max, cache, mix, hi);
  if (HS_UNLIKELY(why != HOT_END && why != HOT_FULL)) return -1;
  int depth = (int)(cu.out - pcs);
  *hash = hs__stack_hash_final(cu.acc, depth);
  return depth;
}

/* out[i] = the word at sp + off[i] (i < n); true when they are val[0..n).
 * (Every offset of an entry whose key matched lies inside the stack.) Four
 * at a time: independent loads, one branch for all. */
static inline bool leaf_read_same(uintptr_t *out, const uint16_t *off, const uintptr_t *val, int n,
                                  uintptr_t sp) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    uintptr_t a = *(const uintptr_t *)(sp + off[i]), b = *(const uintptr_t *)(sp + off[i + 1]);
    uintptr_t c = *(const uintptr_t *)(sp + off[i + 2]), d = *(const uintptr_t *)(sp + off[i + 3]);
    out[i] = a;
    out[i + 1] = b;
    out[i + 2] = c;
    out[i + 3] = d;
    if ((a ^ val[i]) | (b ^ val[i + 1]) | (c ^ val[i + 2]) | (d ^ val[i + 3])) return false;
  }
  for (; i < n; i++) {
    uintptr_t a = *(const uintptr_t *)(sp + off[i]);
    out[i] = a;
    if (a != val[i]) return false;
  }
  return true;
}

/* The same without keeping the words, four at a time. */
static inline bool leaf_same4(const uint16_t *off, const uintptr_t *val, int n, uintptr_t sp) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    uintptr_t a = *(const uintptr_t *)(sp + off[i]), b = *(const uintptr_t *)(sp + off[i + 1]);
    uintptr_t c = *(const uintptr_t *)(sp + off[i + 2]), d = *(const uintptr_t *)(sp + off[i + 3]);
    if ((a ^ val[i]) | (b ^ val[i + 1]) | (c ^ val[i + 2]) | (d ^ val[i + 3])) return false;
  }
  for (; i < n; i++)
    if (*(const uintptr_t *)(sp + off[i]) != val[i]) return false;
  return true;
}

/* The same without keeping the words. */
static inline bool leaf_same(const uint16_t *off, const uintptr_t *val, int n, uintptr_t sp) {
  for (int i = 0; i < n; i++)
    if (*(const uintptr_t *)(sp + off[i]) != val[i]) return false;
  return true;
}

/* The walk from frame 0's registers when the leaf memo does not hold it:
 * walked as walk_hot would, into the memo, with a victim from its set. */
static HS_NOINLINE int leaf_miss(walk_memo_t *memo, leaf_memo_t *lm, uint64_t h, uintptr_t pc,
                                 uintptr_t sp, uintptr_t bp, uintptr_t hi, uintptr_t *pcs, int max,
                                 _Atomic uint64_t *cache, uint32_t mix, uint64_t *hash,
                                 uint32_t *id) {
  leaf_entry_t fresh;
  /* (Filled as far as the caller keeps: one HEAPSCOPE_STACK_DEPTH a process.) */
  int cap = max - 1 < LEAF_FRAMES ? max - 1 : LEAF_FRAMES;
  bool keep, held = leaf_fill(&fresh, pc, sp, bp, cap, cache, mix, hi, &keep);
  uint32_t *slot = NULL;
  /* Not while this thread reads the memo (a signal handler interrupted the
   * read): readers trust an entry whose key matches. */
  if ((held || keep) && !memo->leaf_reading && memo_write_begin(memo)) {
    if (held && fresh.n) { /* where the next walk from (pc, sp) looks first */
      /* Two hints share an index: this key's own, else the older one goes
       * (pair[1] moves to pair[0]: the newer stays). */
      uint64_t *pair = &lm->hint[leaf_hint_index(h)], tag = leaf_hint_tag(h);
      uint64_t hint = tag << 32 | (uint64_t)fresh.off[fresh.n > 1] << 16 | fresh.off[0];
      if (pair[0] >> 32 == tag) pair[0] = hint;
      else {
        if (pair[1] >> 32 != tag) pair[0] = pair[1];
        pair[1] = hint;
      }
    }
    uint64_t fh = leaf_file_hash(lm, h, sp, hi - 8 - sp);
    uint32_t set = (uint32_t)(fh >> (64 - LEAF_SET_BITS));
    uint8_t *used = lm->used[set];
    int w = 0;
    while (w < LEAF_WAYS && used[w]) w++;
    if (w == LEAF_WAYS) w = 0;
    memset(used, 0, LEAF_WAYS);
    used[w] = 1;
    leaf_entry_t *v = &lm->e[set * LEAF_WAYS + w];
    lm->tags[set].tag[w] = 0; /* no reader looks at v meanwhile */
    v->pc = 0; /* no reader matches it meanwhile */
    atomic_signal_fence(memory_order_seq_cst);
    if (held) {
      v->n = fresh.n;
      v->nextra = fresh.nextra;
      v->flags = fresh.flags;
      v->acc = fresh.acc;
      v->end_sp = fresh.end_sp;
      v->end_bp = fresh.end_bp;
      memcpy(v->off, fresh.off, fresh.n * sizeof *v->off);
      memcpy(v->pcs, fresh.pcs, fresh.n * sizeof *v->pcs);
      memcpy(v->xoff, fresh.xoff, fresh.nextra * sizeof *v->xoff);
      memcpy(v->xval, fresh.xval, fresh.nextra * sizeof *v->xval);
    } else {
      v->flags = LEAF_NONE | LEAF_BP;
      v->n = v->nextra = 0;
    }
    v->sp = sp;
    v->bp = bp;
    v->hi = hi;
    v->mix = mix;
    v->id = 0;
    atomic_signal_fence(memory_order_seq_cst);
    v->pc = pc;
    lm->tags[set].tag[w] = fh;
    memo_write_end(memo);
    slot = &v->id;
  }
  if (!held) return LEAF_MISSED;
  /* The entry holds the whole stack: its id is worth keeping. */
  if (slot && fresh.n <= max - 1 && (!(fresh.flags & LEAF_CONT) || fresh.n == max - 1))
    id_slot_offer(memo, slot, id);
  int n = fresh.n, m = n < max - 1 ? n : max - 1;
  pcs[0] = pc;
  memcpy(pcs + 1, fresh.pcs, (size_t)m * sizeof *pcs);
  return leaf_finish(pcs, max, n, m, fresh.flags & LEAF_CONT, fresh.end_sp, fresh.end_bp,
                     HS_FRAME_HASH_SEEDED(pc, HS_FRAME_SEED) + fresh.acc, cache, mix, hi, hash);
}

/* The walk from frame 0 (not a frame-pointer frame) by the leaf memo, and
 * into it when it does not hold this one. Returns as hs__unwind_fast, or
 * LEAF_MISSED: walk by walk_hot. (Out of line: inlined into
 * hs__unwind_fast it cost the frame-pointer path instructions.) */
/* (No SLP vectorization: it pairs leaf_read_same's stores through vector
 * registers, three instructions more a pair.) */
__attribute__((noinline, optimize("no-tree-slp-vectorize"))) static int
leaf_walk(walk_memo_t *memo, leaf_memo_t *lm, const hs_unwind_regs_t *st,
                                 uintptr_t hi, uintptr_t *pcs, int max,
                                 _Atomic uint64_t *cache, uint32_t mix, uint64_t *hash,
                                 uint32_t *id) {
  const uintptr_t pc = st->pc, sp = st->sp, bp = st->bp;
  if (!(sp < hi && hi - sp >= 8)) return LEAF_MISSED;
  uint32_t seq = atomic_load_explicit(&memo->seq, memory_order_relaxed);
  if (seq & 1) return LEAF_MISSED; /* a handler interrupted a write */
  const bool was_reading = memo->leaf_reading;
  memo->leaf_reading = true;
  atomic_signal_fence(memory_order_seq_cst);
  const uint64_t h = leaf_key_hash(pc, sp);
  const uint64_t fh = leaf_file_hash(lm, h, sp, hi - 8 - sp);
  const uint32_t set = (uint32_t)(fh >> (64 - LEAF_SET_BITS));
  const leaf_tags_t *tags = &lm->tags[set];
  for (int w = 0; w < LEAF_WAYS; w++) {
    if (tags->tag[w] != fh) continue;
    leaf_entry_t *e = &lm->e[set * LEAF_WAYS + w];
    if (e->pc != pc || e->sp != sp || e->hi != hi || e->mix != mix ||
        ((e->flags & LEAF_BP) && e->bp != bp))
      continue;
    uint8_t flags = e->flags;
    if (flags & LEAF_NONE) {
      memo->leaf_reading = was_reading;
      return LEAF_MISSED;
    }
    int n = e->n, m = n < max - 1 ? n : max - 1;
    /* The entry holds the whole stack (not cut by max, not continued). */
    const bool whole = m == n && (!(flags & LEAF_CONT) || n == max - 1);
    if (id && whole && e->id) { /* the id is known: compare, copy nothing */
      if (!leaf_same4(e->off, e->pcs, n, sp) || !leaf_same(e->xoff, e->xval, e->nextra, sp))
        continue;
      pcs[0] = pc;
      *id = e->id; /* (the hash is not needed then) */
      lm->used[set][w] = 1;
      hs__unwind_leaf_hits++;
      atomic_signal_fence(memory_order_seq_cst);
      memo->leaf_reading = was_reading;
      return n + 1;
    }
    if (!leaf_read_same(pcs + 1, e->off, e->pcs, m, sp) ||
        !leaf_same(e->off + m, e->pcs + m, n - m, sp) ||
        !leaf_same(e->xoff, e->xval, e->nextra, sp))
      continue; /* another caller's stack */
    pcs[0] = pc;
    uint64_t acc = HS_FRAME_HASH_SEEDED(pc, HS_FRAME_SEED) + e->acc;
    uintptr_t end_sp = e->end_sp, end_bp = e->end_bp;
    lm->used[set][w] = 1;
    hs__unwind_leaf_hits++;
    if (whole) id_slot_offer(memo, &e->id, id);
    atomic_signal_fence(memory_order_seq_cst);
    memo->leaf_reading = was_reading;
    return leaf_finish(pcs, max, n, m, flags & LEAF_CONT, end_sp, end_bp, acc, cache, mix, hi,
                       hash);
  }
  atomic_signal_fence(memory_order_seq_cst);
  memo->leaf_reading = was_reading;
  return leaf_miss(memo, lm, h, pc, sp, bp, hi, pcs, max, cache, mix, hash, id);
}

/* ---- the frame-pointer memo: whole walks of frame-pointer stacks -----------------
 * A walk that starts in a frame-pointer frame is a function of its starting
 * registers, the rules of the pcs it meets (module epoch) and the stack
 * words it reads: the frame records (saved %rbp, return address) the chain
 * steps through, then the words the rule walk below the chain reads (libc's
 * frames without a frame pointer). So per (pc, sp, bp) of frame 0, the
 * stack top, the epoch and the caller's depth limit, the memo keeps the
 * records' contents, the other words with their addresses, and the walk's
 * frames and hash. Each record's address is the saved %rbp of the record
 * before it (the first is bp): the memo holds those, so a later walk from
 * the same registers reads every record at once (16 bytes, one SSE2
 * compare each: independent loads, ~5 instructions a frame, against the
 * chain loop's 17 and its chain of dependent loads) and, when all equal the
 * memo's, has the same frames without walking. Every address an entry
 * holds was inside [sp, hi) when it was filled, and sp and hi are part of
 * its key: a read never leaves the thread's stack.
 * One (pc, sp, bp) has several stacks (the same allocation site at the same
 * depth under other callers): entries are filed by the key's hash mixed
 * with the first two records' words, whose addresses need one dependent
 * load. Per thread: 512 sets x 4 ways of 1 KiB entries (2 MiB of address
 * space mapped at the thread's first such walk once its memo is made,
 * pages touched as entries are). Written under the walk memo's seq, never
 * while a read is in progress on the thread (leaf_reading), as the leaf
 * memo is. */
#define FPM_FRAMES 32 /* frames kept: deeper walks are not held */
#define FPM_PAIRS (FPM_FRAMES - 1)
#define FPM_WORDS TAIL_READS
#define FPM_SET_BITS 9
#define FPM_WAYS 4

HS_TLS uint64_t hs__unwind_fp_memo_hits;

typedef struct fp_entry {
  _Alignas(64) uintptr_t pc; /* the key: pc, sp, bp, hi, mix, max */
  uintptr_t sp, bp, hi;
  uint32_t mix;
  uint8_t max, n, npairs, nwords; /* n 0: a negative entry (walk, do not fill) */
  uint32_t id;                    /* the depot's id of pcs[0..n); 0 not known yet */
  uint64_t hash;                  /* hs__stack_hash of pcs[0..n) */
  uintptr_t addr[FPM_WORDS], val[FPM_WORDS];
  uintptr_t pcs[FPM_FRAMES];
  /* Ones over the last record's saved %rbp when the walk never used it: it
   * is the first frame without a frame pointer's %rbp (any value: code
   * without frame pointers uses the register freely) and the rule walk
   * from there restores it before reading it. */
  _Alignas(16) uintptr_t last_free[2];
  _Alignas(16) uintptr_t rec[FPM_PAIRS][2]; /* frame records: saved %rbp, return address */
} fp_entry_t;

typedef struct fp_memo {
  uint64_t tag[1u << FPM_SET_BITS][FPM_WAYS]; /* the filing hash | 1 of each way; 0 empty */
  uint8_t used[1u << FPM_SET_BITS][FPM_WAYS];
  fp_entry_t e[(1u << FPM_SET_BITS) * FPM_WAYS];
} fp_memo_t;

static inline fp_memo_t *fp_memo_get(walk_memo_t *m) {
  fp_memo_t *fm = m->fpm;
  if (HS_UNLIKELY(!fm) && !m->fpm_failed) fm = m->fpm = memo_table_map(&m->fpm_failed, sizeof *fm);
  return fm;
}

static void memo_tables_unmap(walk_memo_t *m) {
  if (m->leaf) hs__os_unmap(m->leaf, sizeof(leaf_memo_t));
  if (m->fpm) hs__os_unmap(m->fpm, sizeof(fp_memo_t));
  m->leaf = NULL;
  m->fpm = NULL;
}

/* The filing hash of a walk from (pc, sp, bp): the registers and the first
 * two frame records' words (saved %rbp, return address; the second record
 * only where the first's saved %rbp points inside the stack), never 0. */
static inline uint64_t fp_file_hash(uintptr_t pc, uintptr_t sp, uintptr_t bp, uintptr_t hi) {
  uint64_t h = (uint64_t)pc ^ (uint64_t)sp << 17 ^ (uint64_t)sp >> 3;
  if (bp >= sp && bp <= hi - 16) {
    uintptr_t fp1 = ((const uintptr_t *)bp)[0];
    h ^= ((const uintptr_t *)bp)[1] * 0xff51afd7ed558ccdull;
    if (fp1 >= bp + 16 && fp1 <= hi - 16)
      h ^= (fp1 ^ ((const uintptr_t *)fp1)[1]) * 0xc4ceb9fe1a85ec53ull;
  }
  return h * 0x9e3779b97f4a7c15ull | 1;
}

/* The stack still holds what entry e's walk read: its frame records
 * (starting at bp) and its other words. */
static inline bool fp_entry_same(const fp_entry_t *e, uintptr_t bp) {
  __m128i ok = _mm_set1_epi32(-1);
  uintptr_t a = bp;
  int np = e->npairs, nw = e->nwords;
  int j = 0;
  /* Four records a round: the addresses come from the memo, so the loads
   * are independent; one loop test for four. */
  for (; j + 4 <= np - 1; j += 4) {
    const uintptr_t a1 = e->rec[j][0], a2 = e->rec[j + 1][0], a3 = e->rec[j + 2][0];
    __m128i s0 = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)a),
                                 _mm_load_si128((const __m128i *)e->rec[j]));
    __m128i s1 = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)a1),
                                 _mm_load_si128((const __m128i *)e->rec[j + 1]));
    __m128i s2 = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)a2),
                                 _mm_load_si128((const __m128i *)e->rec[j + 2]));
    __m128i s3 = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)a3),
                                 _mm_load_si128((const __m128i *)e->rec[j + 3]));
    ok = _mm_and_si128(ok, _mm_and_si128(_mm_and_si128(s0, s1), _mm_and_si128(s2, s3)));
    a = e->rec[j + 3][0];
  }
  for (; j < np - 1; j++) {
    __m128i w = _mm_loadu_si128((const __m128i *)a);
    ok = _mm_and_si128(ok, _mm_cmpeq_epi32(w, _mm_load_si128((const __m128i *)e->rec[j])));
    a = e->rec[j][0];
  }
  if (np > 0) {
    __m128i w = _mm_loadu_si128((const __m128i *)a);
    __m128i same = _mm_cmpeq_epi32(w, _mm_load_si128((const __m128i *)e->rec[np - 1]));
    ok = _mm_and_si128(ok, _mm_or_si128(same, _mm_load_si128((const __m128i *)e->last_free)));
  }
  uintptr_t diff = 0;
  for (int i = 0; i < nw; i++) diff |= *(const uintptr_t *)e->addr[i] ^ e->val[i];
  return _mm_movemask_epi8(ok) == 0xffff && !diff;
}

/* The walk from (pc, sp, bp) by the frame-pointer memo: its depth (frames
 * and hash in pcs and *hash), or -1 when the memo does not hold it (then
 * *fh is its filing hash, for fp_memo_fill). */
static inline int fp_memo_read(walk_memo_t *memo, fp_memo_t *fm, const hs_unwind_regs_t *st,
                               uintptr_t hi, uintptr_t *pcs, int max, uint32_t mix,
                               uint64_t *hash, uint64_t *fh, uint32_t *id) {
  *fh = 0;
  const uintptr_t pc = st->pc, sp = st->sp, bp = st->bp;
  uint32_t seq = atomic_load_explicit(&memo->seq, memory_order_relaxed);
  if (HS_UNLIKELY(seq & 1)) return -1; /* a handler interrupted a write */
  const bool was_reading = memo->leaf_reading;
  memo->leaf_reading = true;
  atomic_signal_fence(memory_order_seq_cst);
  const uint64_t h = fp_file_hash(pc, sp, bp, hi);
  const uint32_t set = (uint32_t)(h >> (64 - FPM_SET_BITS));
  int n = -1;
  for (int w = 0; w < FPM_WAYS; w++) {
    if (fm->tag[set][w] != h) continue;
    fp_entry_t *e = &fm->e[set * FPM_WAYS + w];
    /* (One test for the key: fewer branches than a field at a time.) */
    if ((e->pc ^ pc) | (e->sp ^ sp) | (e->bp ^ bp) | (e->hi ^ hi) |
        ((e->mix ^ mix) | (uint32_t)(e->max ^ max)))
      continue;
    if (!e->n) { /* negative: walk, do not fill */
      n = -2;
      break;
    }
    if (!fp_entry_same(e, bp)) continue; /* another caller's stack */
    n = e->n;
    if (id && e->id) { /* the id is known: frame 0 is all the caller reads */
      pcs[0] = pc;
      *id = e->id;
    } else {
      memcpy(pcs, e->pcs, (size_t)n * sizeof *pcs);
      id_slot_offer(memo, &e->id, id);
    }
    *hash = e->hash;
    fm->used[set][w] = 1;
    hs__unwind_fp_memo_hits++;
    break;
  }
  atomic_signal_fence(memory_order_seq_cst);
  memo->leaf_reading = was_reading;
  if (n == -1) *fh = h;
  return n < 0 ? -1 : n;
}

/* Files the walk just taken from st (pcs[0..n), hash; frames 0..k-1 were
 * stepped by the frame-pointer chain, the rest walked by rules from *at_k,
 * when tail) into the memo, or a negative entry when the memo cannot
 * hold it. */
static HS_NOINLINE void fp_memo_fill(walk_memo_t *memo, fp_memo_t *fm, uint64_t fh,
                                     const hs_unwind_regs_t *st, uintptr_t hi, int max,
                                     const uintptr_t *pcs, int n, uint64_t hash, int k,
                                     const cursor_t *at_k, bool tail, _Atomic uint64_t *cache,
                                     uint32_t mix, uint32_t *id) {
  if (memo->leaf_reading) return; /* a handler interrupted a read: readers trust keys */
  tail_memo_t t;
  bool held = n <= FPM_FRAMES && k <= FPM_PAIRS, keep = true;
  if (held && tail) {
    held = tail_fill(&t, at_k, cache, mix, hi, &keep);
    /* Its frames must be the walk's (fewer where max cut the walk). */
    int m = n - (k + 1);
    held = held && m >= 0 && m <= t.ntail && (m == t.ntail || n == max) &&
           !memcmp(t.pcs, pcs + k + 1, (size_t)m * sizeof *pcs);
  }
  if (!held && !keep) return; /* a rule cache miss: the next walk fills it */
  if (!memo_write_begin(memo)) return;
  const uint32_t set = (uint32_t)(fh >> (64 - FPM_SET_BITS));
  uint8_t *used = fm->used[set];
  int w = 0;
  while (w < FPM_WAYS && used[w]) w++;
  if (w == FPM_WAYS) w = 0;
  memset(used, 0, FPM_WAYS);
  used[w] = 1;
  fp_entry_t *v = &fm->e[set * FPM_WAYS + w];
  fm->tag[set][w] = 0; /* no reader looks at v meanwhile */
  atomic_signal_fence(memory_order_seq_cst);
  v->n = 0;
  v->id = 0;
  if (held) {
    uintptr_t fp = st->bp;
    for (int j = 0; j < k; j++) { /* the records the chain stepped through (read before) */
      v->rec[j][0] = ((const uintptr_t *)fp)[0];
      v->rec[j][1] = ((const uintptr_t *)fp)[1];
      fp = v->rec[j][0];
    }
    int nw = tail ? t.nreads : 0;
    for (int i = 0; i < nw; i++) {
      v->addr[i] = t.addr[i];
      v->val[i] = t.val[i];
    }
    memcpy(v->pcs, pcs, (size_t)n * sizeof *pcs);
    v->npairs = (uint8_t)k;
    v->nwords = (uint8_t)nw;
    v->last_free[0] = tail && t.bp_read ? 0 : ~(uintptr_t)0;
    v->last_free[1] = 0;
    v->hash = hash;
    v->n = (uint8_t)n;
  }
  v->pc = st->pc;
  v->sp = st->sp;
  v->bp = st->bp;
  v->hi = hi;
  v->mix = mix;
  v->max = (uint8_t)max;
  atomic_signal_fence(memory_order_seq_cst);
  fm->tag[set][w] = fh;
  memo_write_end(memo);
  if (held) id_slot_offer(memo, &v->id, id);
}

int hs__unwind_fast(const hs_unwind_regs_t *st, uintptr_t hi, uintptr_t *pcs, int max,
                    uint64_t *hash, uint32_t *id) {
  _Atomic uint64_t *cache = atomic_load_explicit(&rule_cache, memory_order_acquire);
  if (HS_UNLIKELY(!cache || max <= 0 || st->pc < 4096 || hs__modules_unload_pending())) return -1;
  if (max > HS_MAX_DEPTH) max = HS_MAX_DEPTH;
  if (id) {
    *id = 0;
    tl_id_slot = NULL;
  }
  const uint32_t mix = epoch_mix(hs__modules_epoch());
  cursor_t cu;
  walk_memo_t *memo = NULL;
  int why;
  uint64_t e0 = atomic_load_explicit(&cache[cache_index(st->pc)], memory_order_relaxed);
  if (e0 == ((uint64_t)((uint32_t)(st->pc >> CACHE_BITS) ^ mix) << 32 | FP_RULE)) {
    memo = memo_get();
    fp_memo_t *fm = memo ? fp_memo_get(memo) : NULL;
    uint64_t fh = 0;
    if (fm) {
      int n = fp_memo_read(memo, fm, st, hi, pcs, max, mix, hash, &fh, id);
      if (n >= 0) return n;
    }
    int n = fp_first(st, hi, pcs, max, cache, mix, memo, &cu);
    const cursor_t at_k = cu;
    if (n < max)
      why = memo ? walk_tail(memo, &cu, pcs + max, cache, mix, hi)
                 : walk_hot(&cu, pcs + max, cache, mix, hi);
    else
      why = HOT_FULL;
    if (HS_UNLIKELY(why != HOT_END && why != HOT_FULL)) return -1;
    int depth = (int)(cu.out - pcs);
    *hash = hs__stack_hash_final(cu.acc, depth);
    if (fh)
      fp_memo_fill(memo, fm, fh, st, hi, max, pcs, depth, *hash, n - 1, &at_k, n < max, cache,
                   mix, id);
    return depth;
  } else {
    /* No frame pointer at frame 0: the leaf memo, once the thread has one. */
    leaf_memo_t *lm = (memo = memo_get()) ? leaf_memo_get(memo) : NULL;
    if (lm) {
      int n = leaf_walk(memo, lm, st, hi, pcs, max, cache, mix, hash, id);
      if (n != LEAF_MISSED) return n;
    }
    cu = (cursor_t){st->pc, st->sp, st->bp, pcs + 1, HS_FRAME_HASH_SEEDED(st->pc, HS_FRAME_SEED),
                    2 * HS_FRAME_SEED, 0};
    pcs[0] = st->pc;
    why = walk_hot(&cu, pcs + max, cache, mix, hi);
  }
  if (HS_UNLIKELY(why != HOT_END && why != HOT_FULL)) return -1;
  int n = (int)(cu.out - pcs);
  *hash = hs__stack_hash_final(cu.acc, n);
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
  if (!have_dl_find_object()) {
    /* glibc before 2.35: a handler finds no object itself; learn every
     * loaded module and make its CFI ready now, and later ones when a
     * handler meets them (the learner, above). */
    learn_modules();
    start_learner();
  }
  hs_stack_ranges_t r;
  hs__stack_ranges((uintptr_t)__builtin_frame_address(0), true, &r);
  hs__runtime_leave();
}
