/* Module tracker: every ELF object ever seen loaded, kept after dlclose.
 *
 * Records live on the internal heap and are never freed. They are published
 * in an append-only registry (chunks of pointers plus an atomic count), so
 * lookups are lock-free: hs__module_for scans newest first and only reads
 * fields that were set before the record was published, plus unload_epoch,
 * which is written once (atomically) when the object disappears.
 *
 * Epochs: hs__modules_cur_epoch is bumped by a refresh that finds objects gone; those
 * get unload_epoch = the new epoch. A record is "live at epoch e" when
 * load_epoch <= e < unload_epoch. An object first seen by the refresh that
 * also bumps the epoch gets load_epoch = the new epoch when it overlaps one of
 * the vanished objects (it was certainly loaded after that one went away),
 * else the old epoch.
 *
 * New objects are discovered by hs__modules_refresh, which the symbolizer
 * calls before every lookup (cheap when the loader's dlpi_adds/dlpi_subs
 * counters did not move) and which the dlclose interposer below calls before
 * and after the real dlclose. dlopen is deliberately not interposed: that
 * would make the loader see us as the caller and break $ORIGIN/RPATH.
 */
#include "core/module/module.h"

#include "core/alloc/alloc.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define CHUNK_SHIFT 8
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define MAX_CHUNKS 4096 /* 1M module records */

static hs_module_t **chunks[MAX_CHUNKS]; /* written before nmods is bumped */
static _Atomic uint32_t nmods;
_Atomic uint32_t hs__modules_cur_epoch;
static hs_lock_t mod_lock;
hs_lock_t *const hs__module_lock = &mod_lock;
static uint32_t scan_gen;                /* mod_lock */
static bool have_counts;                 /* mod_lock */
static unsigned long long last_adds, last_subs; /* mod_lock */
static bool registry_full_reported;
static _Atomic bool clear_unloading; /* see hs__modules_postfork_child */

static inline hs_module_t *slot(uint32_t i) {
  return chunks[i >> CHUNK_SHIFT][i & (CHUNK_SIZE - 1)];
}

static inline uint32_t load_unload_epoch(const hs_module_t *m) {
  return __atomic_load_n(&m->unload_epoch, __ATOMIC_ACQUIRE);
}


uint32_t hs__module_count(void) {
  return atomic_load_explicit(&nmods, memory_order_acquire);
}

const hs_module_t *hs__module_at(uint32_t i) {
  return i < hs__module_count() ? slot(i) : NULL;
}

const hs_module_t *hs__module_for(uintptr_t pc, uint32_t epoch) {
  uint32_t n = atomic_load_explicit(&nmods, memory_order_acquire);
  const hs_module_t *fallback = NULL;
  for (uint32_t i = n; i-- > 0;) {
    const hs_module_t *m = slot(i);
    if (pc < m->lo || pc >= m->hi) continue;
    if (m->load_epoch <= epoch && epoch < load_unload_epoch(m)) return m;
    if (!fallback) fallback = m;
  }
  return fallback;
}

const hs_module_t *hs__module_live_text(uintptr_t pc) {
  uint32_t n = atomic_load_explicit(&nmods, memory_order_acquire);
  for (uint32_t i = n; i-- > 0;) {
    const hs_module_t *m = slot(i);
    if (pc - m->text_lo < m->text_hi - m->text_lo && load_unload_epoch(m) == UINT32_MAX)
      return m;
  }
  return NULL;
}

/* ---- helpers --------------------------------------------------------------- */

static char *arena_strdup(const char *s) {
  size_t n = strlen(s);
  char *d = hs__arena_alloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

/* The NT_GNU_BUILD_ID of a loaded object, read from its PT_NOTE segments. */
static size_t read_build_id(const struct dl_phdr_info *info, uint8_t *out) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    size_t align = ph->p_align == 8 ? 8 : 4;
    const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
    const char *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      size_t namesz = (nh->n_namesz + align - 1) & ~(align - 1);
      size_t descsz = (nh->n_descsz + align - 1) & ~(align - 1);
      const char *name = p + sizeof(ElfW(Nhdr));
      const char *desc = name + namesz;
      if (desc + nh->n_descsz > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
          memcmp(name, "GNU", 4) == 0 && nh->n_descsz > 0) {
        size_t n = nh->n_descsz < HS_BUILD_ID_MAX ? nh->n_descsz : HS_BUILD_ID_MAX;
        memcpy(out, desc, n);
        return n;
      }
      p = desc + descsz;
    }
  }
  return 0;
}

static void load_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi) {
  uintptr_t l = UINTPTR_MAX, h = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t s = info->dlpi_addr + ph->p_vaddr;
    uintptr_t e = s + ph->p_memsz;
    if (s < l) l = s;
    if (e > h) h = e;
  }
  if (l > h) l = h = 0;
  *lo = l;
  *hi = h;
}

/* readlink /proc/self/exe into buf; "" on failure. */
static void exe_path(char *buf, size_t size) {
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n < 0) n = 0;
  buf[n] = '\0';
}

/* The absolute path /proc/self/maps shows for the mapping containing addr
 * (used when the loader reports a relative name). false when not found. */
static bool maps_path_for(uintptr_t addr, char *out, size_t size) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  char line[4096 + 64];
  size_t ll = 0;
  bool found = false;
  ssize_t n;
  while (!found && (n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n && !found; i++) {
      char c = buf[i];
      if (c != '\n') {
        if (ll + 1 < sizeof line) line[ll++] = c;
        continue;
      }
      line[ll] = '\0';
      ll = 0;
      /* "start-end perms offset dev inode   path" */
      const char *p = line;
      uintptr_t s = 0, e = 0;
      for (; *p && *p != '-'; p++)
        s = s * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
      if (*p == '-') p++;
      for (; *p && *p != ' '; p++)
        e = e * 16 + (uintptr_t)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
      if (addr < s || addr >= e) continue;
      const char *path = strchr(p, '/');
      if (path && strlen(path) < size) {
        strcpy(out, path);
        found = true;
      } else {
        break;
      }
    }
  }
  close(fd);
  return found;
}

/* ---- refresh ----------------------------------------------------------------- */

typedef struct pending {
  struct pending *next;
  char *dlname;
  uintptr_t base, lo, hi;
  uintptr_t text_lo, text_hi, eh_frame_hdr, eh_frame_limit;
  size_t eh_frame_hdr_size;
  bool is_main;
  uint8_t build_id_len;
  uint8_t build_id[HS_BUILD_ID_MAX];
} pending_t;

typedef struct scan {
  bool counted;
  unsigned long long adds, subs;
  bool quick_only;       /* first pass: just read the counters */
  int index;
  pending_t *new_list;
  bool oom;
} scan_t;

/* Executable range and .eh_frame_hdr of a loaded object. */
static void unwind_facts(const struct dl_phdr_info *info, pending_t *p) {
  uintptr_t tl = UINTPTR_MAX, th = 0;
  const ElfW(Phdr) *eh = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_GNU_EH_FRAME) eh = ph;
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    uintptr_t s = info->dlpi_addr + ph->p_vaddr;
    if (s < tl) tl = s;
    if (s + ph->p_memsz > th) th = s + ph->p_memsz;
  }
  if (tl > th) tl = th = 0;
  p->text_lo = tl;
  p->text_hi = th;
  if (!eh) return;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && eh->p_vaddr >= ph->p_vaddr &&
        eh->p_vaddr + eh->p_memsz <= ph->p_vaddr + ph->p_memsz) {
      p->eh_frame_hdr = info->dlpi_addr + eh->p_vaddr;
      p->eh_frame_hdr_size = eh->p_memsz;
      p->eh_frame_limit = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
  }
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *data) {
  scan_t *sc = data;
  if (sc->index == 0 &&
      size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    sc->counted = true;
    sc->adds = info->dlpi_adds;
    sc->subs = info->dlpi_subs;
  }
  if (sc->quick_only) return 1;
  int index = sc->index++;
  uintptr_t lo, hi;
  load_range(info, &lo, &hi);
  if (lo == hi) return 0;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  uint8_t bid[HS_BUILD_ID_MAX];
  size_t bid_len = read_build_id(info, bid);

  uint32_t n = atomic_load_explicit(&nmods, memory_order_relaxed);
  for (uint32_t i = n; i-- > 0;) {
    hs_module_t *m = slot(i);
    if (load_unload_epoch(m) != UINT32_MAX) continue;
    if (m->base != info->dlpi_addr || m->lo != lo || m->hi != hi) continue;
    if (strcmp(m->dlname, name) != 0) continue;
    if (m->build_id_len != bid_len || memcmp(m->build_id, bid, bid_len) != 0) continue;
    m->scan_gen = scan_gen;
    return 0;
  }
  pending_t *p = hs__arena_alloc(sizeof *p);
  char *dn = p ? arena_strdup(name) : NULL;
  if (!p || !dn) {
    hs__arena_free(p);
    sc->oom = true;
    return 0;
  }
  p->dlname = dn;
  p->base = info->dlpi_addr;
  p->lo = lo;
  p->hi = hi;
  p->is_main = index == 0 && name[0] == '\0';
  p->build_id_len = (uint8_t)bid_len;
  memcpy(p->build_id, bid, bid_len);
  unwind_facts(info, p);
  p->next = sc->new_list;
  sc->new_list = p;
  return 0;
}

static bool publish(hs_module_t *m) {
  uint32_t n = atomic_load_explicit(&nmods, memory_order_relaxed);
  uint32_t c = n >> CHUNK_SHIFT;
  if (c >= MAX_CHUNKS) {
    if (!registry_full_reported) {
      registry_full_reported = true;
      hs__errorf("module registry full; new modules will not symbolize");
    }
    return false;
  }
  if (!chunks[c]) {
    chunks[c] = hs__arena_alloc(CHUNK_SIZE * sizeof(hs_module_t *));
    if (!chunks[c]) return false;
  }
  m->index = n;
  chunks[c][n & (CHUNK_SIZE - 1)] = m;
  atomic_store_explicit(&nmods, n + 1, memory_order_release);
  return true;
}

static const char *resolve_path(const pending_t *p) {
  char buf[4096];
  if (p->is_main) {
    exe_path(buf, sizeof buf);
    if (buf[0]) return arena_strdup(buf);
    return arena_strdup("/proc/self/exe");
  }
  if (p->dlname[0] == '/') return arena_strdup(p->dlname);
  if (p->base && p->base == (uintptr_t)getauxval(AT_SYSINFO_EHDR))
    return p->dlname[0] ? p->dlname : "[vdso]";
  /* A relative name (dlopen("./x.so") or "lib/x.so"): the mapping knows. */
  if (maps_path_for(p->lo, buf, sizeof buf)) return arena_strdup(buf);
  return p->dlname[0] ? p->dlname : "<unknown>";
}

void hs__modules_refresh(void) {
  hs__runtime_enter();
  hs__lock(&mod_lock);
  scan_t sc;
  memset(&sc, 0, sizeof sc);
  if (have_counts) {
    sc.quick_only = true;
    dl_iterate_phdr(scan_cb, &sc);
    if (sc.counted && sc.adds == last_adds && sc.subs == last_subs) goto out;
    memset(&sc, 0, sizeof sc);
  }
  scan_gen++;
  dl_iterate_phdr(scan_cb, &sc);

  /* Anything live that the loader no longer lists has been unloaded. */
  uint32_t n = atomic_load_explicit(&nmods, memory_order_relaxed);
  uint32_t old_epoch = atomic_load_explicit(&hs__modules_cur_epoch, memory_order_relaxed);
  uint32_t new_epoch = old_epoch;
  if (!sc.oom) {
    for (uint32_t i = 0; i < n; i++) {
      hs_module_t *m = slot(i);
      if (load_unload_epoch(m) == UINT32_MAX && m->scan_gen != scan_gen) {
        if (new_epoch == old_epoch) new_epoch = old_epoch + 1;
        __atomic_store_n(&m->unload_epoch, new_epoch, __ATOMIC_RELEASE);
      }
    }
    if (new_epoch != old_epoch)
      atomic_store_explicit(&hs__modules_cur_epoch, new_epoch, memory_order_release);
  }

  /* Publish the new ones, oldest (lowest loader index) first. */
  pending_t *rev = NULL;
  while (sc.new_list) {
    pending_t *p = sc.new_list;
    sc.new_list = p->next;
    p->next = rev;
    rev = p;
  }
  while (rev) {
    pending_t *p = rev;
    rev = p->next;
    hs_module_t *m = hs__arena_alloc(sizeof *m);
    const char *path = m ? resolve_path(p) : NULL;
    if (m && path) {
      m->path = path;
      m->dlname = p->dlname;
      m->base = p->base;
      m->lo = p->lo;
      m->hi = p->hi;
      m->is_main = p->is_main;
      m->build_id_len = p->build_id_len;
      memcpy(m->build_id, p->build_id, p->build_id_len);
      m->text_lo = p->text_lo;
      m->text_hi = p->text_hi;
      m->eh_frame_hdr = p->eh_frame_hdr;
      m->eh_frame_hdr_size = p->eh_frame_hdr_size;
      m->eh_frame_limit = p->eh_frame_limit;
      m->load_epoch = old_epoch;
      if (new_epoch != old_epoch) {
        for (uint32_t i = 0; i < n; i++) {
          const hs_module_t *o = slot(i);
          if (load_unload_epoch(o) == new_epoch && o->lo < m->hi && m->lo < o->hi) {
            m->load_epoch = new_epoch;
            break;
          }
        }
      }
      m->unload_epoch = UINT32_MAX;
      m->scan_gen = scan_gen;
      if (!publish(m)) {
        hs__arena_free(m);
        sc.oom = true;
      }
    } else {
      hs__arena_free(m);
      sc.oom = true;
    }
    if (sc.oom) hs__arena_free(p->dlname);
    hs__arena_free(p);
  }
  /* A child forked during another thread's dlclose: that dlclose never
   * ends here, and this scan has learned what it unloaded. */
  if (!sc.oom && atomic_load_explicit(&clear_unloading, memory_order_relaxed)) {
    atomic_store(&clear_unloading, false);
    atomic_store(&hs__modules_unloading, 0);
  }
  /* Only trust the counters when the registry now matches the loader. */
  have_counts = sc.counted && !sc.oom;
  last_adds = sc.adds;
  last_subs = sc.subs;
out:
  hs__unlock(&mod_lock);
  hs__runtime_leave();
}


/* ---- writable segments (leak checker roots) ------------------------------------ */

typedef struct wseg {
  void (*fn)(uintptr_t, uintptr_t, const char *, void *);
  void *ctx;
  const char *exe;
  int index;
} wseg_t;

static int wseg_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  wseg_t *w = data;
  int index = w->index++;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  if (index == 0 && name[0] == '\0') name = w->exe;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0) continue;
    uintptr_t s = info->dlpi_addr + ph->p_vaddr;
    w->fn(s, s + ph->p_memsz, name, w->ctx);
  }
  return 0;
}

void hs__for_each_writable_segment(void (*fn)(uintptr_t start, uintptr_t end,
                                              const char *path, void *ctx),
                                   void *ctx) {
  char exe[4096];
  exe_path(exe, sizeof exe);
  wseg_t w = {fn, ctx, exe, 0};
  dl_iterate_phdr(wseg_cb, &w);
}

/* ---- dlclose interposer ----------------------------------------------------------- */

typedef int (*dlclose_fn)(void *);
static _Atomic(dlclose_fn) real_dlclose;
static void (*_Atomic unload_listener)(void);

void hs__modules_set_unload_listener(void (*fn)(void)) { atomic_store(&unload_listener, fn); }

HS_EXPORT int dlclose(void *handle) {
  dlclose_fn real = atomic_load_explicit(&real_dlclose, memory_order_acquire);
  if (HS_UNLIKELY(!real)) {
    hs__runtime_enter(); /* dlsym may allocate (dlerror state) */
    real = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
    hs__runtime_leave();
    if (!real || real == dlclose) {
      hs__errorf("cannot find the real dlclose");
      return -1;
    }
    atomic_store_explicit(&real_dlclose, real, memory_order_release);
  }
  hs__modules_unload_begin();
  void (*listener)(void) = atomic_load(&unload_listener);
  if (listener) listener();
  int r = real(handle);
  int saved = errno;
  hs__modules_unload_end();
  errno = saved;
  return r;
}

_Atomic uint32_t hs__modules_unloading;
_Atomic uint32_t hs__module_readers;
HS_TLS uint32_t hs__module_reader_depth;

/* Record the object (and whatever else is loaded) while it is still mapped;
 * from here until unload_end, its addresses may be unmapped and reused by
 * another thread's dlopen while the registry still calls it live. Readers
 * that announced themselves before the count went up may be reading the
 * object in place (a signal handler's walk): wait for them. One that never
 * ends (a thread stopped inside a handler) is waited for 1 s, then the
 * dlclose goes on. */
void hs__modules_unload_begin(void) {
  hs__modules_refresh();
  atomic_fetch_add(&hs__modules_unloading, 1);
  if (HS_LIKELY(!atomic_load(&hs__module_readers))) return;
  uint64_t t0 = hs__now_ns();
  while (atomic_load(&hs__module_readers)) {
    if (hs__now_ns() - t0 > 1000000000ull) {
      hs__errorf("a stack walk did not finish before dlclose; going on");
      return;
    }
    sched_yield();
  }
}

/* Learn what actually went away (the epoch bump retires the rules cached
 * for it), then let walks trust the registry again. */
void hs__modules_unload_end(void) {
  hs__modules_refresh();
  /* Never below zero: a fork child's first scan may have cleared the count
   * while its forking thread was still inside this dlclose. */
  uint32_t n = atomic_load(&hs__modules_unloading);
  while (n && !atomic_compare_exchange_weak(&hs__modules_unloading, &n, n - 1)) {
  }
}

/* The fork child of a process where a dlclose was in progress: the next
 * full scan (the first walk refreshes while the count is non-zero) ends
 * it, so walks do not stay uncached for the child's whole life. */
void hs__modules_postfork_child(void) {
  /* Readers of the other threads, which the child does not have, would
   * hold up each of its dlcloses for the full wait. */
  atomic_store(&hs__module_readers, hs__module_reader_depth);
  if (atomic_load(&hs__modules_unloading)) {
    atomic_store(&hs__modules_unloading, 1);
    atomic_store(&clear_unloading, true);
    have_counts = false; /* the next refresh scans in full */
  }
}
