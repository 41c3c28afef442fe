/* Conservative marking: the one fragile part of a leak checker, kept small.
 *
 * Roots: writable PT_LOAD segments of every loaded ELF object, the live
 * threads' stacks (from the interrupted stack pointer, minus the red zone,
 * to the end of the mapping that holds it), saved registers, static TLS and
 * the thread control block (pthread_setspecific values live there), and
 * every object flagged HS_REC_IGNORED. Exited threads are not roots even
 * though glibc keeps their stacks mapped in its cache: only threads listed
 * in /proc/self/task are scanned (gperftools #540 scanned dead stacks).
 *
 * Policy: any aligned word that points anywhere inside a live block (its
 * usable size, not only the first byte) keeps it alive: C code keeps
 * interior pointers (container_of, arrays walked by pointer). Only the
 * requested bytes of a block are scanned, never the stale tail.
 *
 * Runs with the world stopped: no heap allocation, no locks (memory for
 * the work list comes from mmap via lc_vec_t). */
#include "internal.h"
#include "core/stack/stack.h"
#include "core/symbol/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <link.h>
#include <pthread.h>

bool lc_vec_push(lc_vec_t *v, const void *item) {
  if (v->len == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 4096;
    char *d = hs__os_map(cap * v->elem);
    if (!d) {
      v->oom = true;
      return false;
    }
    if (v->data) {
      memcpy(d, v->data, v->len * v->elem);
      hs__os_unmap(v->data, v->cap * v->elem);
    }
    v->data = d;
    v->cap = cap;
  }
  memcpy(v->data + v->len * v->elem, item, v->elem);
  v->len++;
  return true;
}

void lc_vec_free(lc_vec_t *v) {
  if (v->data) hs__os_unmap(v->data, v->cap * v->elem);
  v->data = NULL;
  v->len = v->cap = 0;
}


/* Blocks without a record, visited once each: only when recording started
 * late (heapscope_start_recording), so blocks allocated before may still
 * hold the only pointers to recorded ones. Open addressing on mmap. */
typedef struct visited {
  uintptr_t *slots;
  size_t cap, len;
  bool oom;
} visited_t;

static bool visit_once(visited_t *v, uintptr_t a) {
  if (v->len * 2 >= v->cap) {
    size_t ncap = v->cap ? v->cap * 2 : 4096;
    uintptr_t *ns = hs__os_map(ncap * sizeof *ns);
    if (!ns) {
      v->oom = true;
      return false;
    }
    for (size_t i = 0; i < v->cap; i++) {
      uintptr_t x = v->slots[i];
      if (!x) continue;
      size_t h = (x >> 4) * 0x9e3779b97f4a7c15ull & (ncap - 1);
      while (ns[h]) h = (h + 1) & (ncap - 1);
      ns[h] = x;
    }
    if (v->slots) hs__os_unmap(v->slots, v->cap * sizeof *v->slots);
    v->slots = ns;
    v->cap = ncap;
  }
  size_t h = (a >> 4) * 0x9e3779b97f4a7c15ull & (v->cap - 1);
  while (v->slots[h]) {
    if (v->slots[h] == a) return false;
    h = (h + 1) & (v->cap - 1);
  }
  v->slots[h] = a;
  v->len++;
  return true;
}

typedef struct marker {
  lc_vec_t work;       /* lc_range_t: blocks to scan */
  visited_t unrecorded;
  uint32_t cand_gen;   /* candidates: born at >= cand_gen, not ignored */
  size_t remaining;    /* candidates not yet marked */
} marker_t;

/* The block containing v, if it is a live recorded user block. When
 * recording started late, an unrecorded block is queued for scanning
 * (once) and NULL returned. */
static hs_rec_t *block_of(marker_t *m, uintptr_t v, uintptr_t *start, size_t *scan_len) {
  size_t unrecorded;
  hs_rec_t *r = hs__record_find(v, start, scan_len, &unrecorded);
  if (unrecorded && visit_once(&m->unrecorded, *start)) {
    lc_range_t rg = {*start, *start + unrecorded, false};
    lc_vec_push(&m->work, &rg);
  }
  return r;
}

static void mark_word(marker_t *m, uintptr_t v) {
  if (v < 4096 || (v >> 47)) return;
  uintptr_t start;
  size_t len;
  hs_rec_t *r = block_of(m, v, &start, &len);
  if (!r || (r->gen & HS_REC_MARK)) return;
  r->gen |= HS_REC_MARK;
  if ((r->gen & HS_REC_GEN_MASK) >= m->cand_gen && !(r->gen & (HS_REC_IGNORED | HS_REC_REPORTED)) &&
      m->remaining)
    m->remaining--;
  lc_range_t rg = {start, start + len, false};
  lc_vec_push(&m->work, &rg);
}

static void scan_range(marker_t *m, uintptr_t lo, uintptr_t hi) {
  lo = (lo + 7) & ~(uintptr_t)7;
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t))
    mark_word(m, *(const uintptr_t *)p);
}

static void drain(marker_t *m) {
  while (m->work.len) {
    lc_range_t rg = LC_AT(&m->work, lc_range_t, m->work.len - 1);
    m->work.len--;
    scan_range(m, rg.lo, rg.hi);
  }
}

static bool is_system_library(const char *path) {
  return path && (!strncmp(path, "/lib/", 5) || !strncmp(path, "/lib64/", 7) ||
                  !strncmp(path, "/usr/lib/", 9) || !strncmp(path, "/usr/lib64/", 11)) &&
         !strstr(path, "libheapscope");
}

/* The runtime's own data holds no pointers into the user heap, only
 * megabytes of tables (page map root, depot table, live counters, CPU
 * profiler and stop-the-world slots): scanning it cost half a millisecond
 * per check. Skipped whole when the runtime is a shared library, and its
 * big tables skipped when it is linked in. */
static bool is_runtime(const char *path) { return path && strstr(path, "libheapscope"); }

/* The runtime's own writable segment when it is a shared library, by
 * address: a copy preloaded under another name (a benchmark's private
 * copy, a renamed install) was scanned whole, reading its ~10 MB of zeroed
 * tables into memory (peak RSS 9.6 instead of 3.5 MB) and slowing each
 * check. Linked into the program (hs__self_hi 0), that segment is also the
 * program's: only its big tables are cut (add_range). */
static volatile char runtime_marker; /* .bss: in the runtime's one writable segment */
static bool is_runtime_segment(uintptr_t lo, uintptr_t hi) {
  uintptr_t me = (uintptr_t)&runtime_marker;
  return hs__self_hi && me >= lo && me < hi;
}

static void add_range(lc_vec_t *v, uintptr_t lo, uintptr_t hi, bool system) {
  /* minus the runtime's tables, which may sit inside a program's segment */
  size_t ntables;
  const hs_range_t *const *tables = hs__runtime_tables(&ntables);
  for (size_t i = 0; i <= ntables; i++) {
    const hs_range_t *t = i < ntables ? tables[i] : &lc_stop_slots_range; /* and the checker's */
    uintptr_t t_lo = t->lo, t_hi = t->hi;
    if (t_hi <= lo || t_lo >= hi) continue;
    if (t_lo > lo) add_range(v, lo, t_lo, system);
    if (t_hi < hi) add_range(v, t_hi, hi, system);
    return;
  }
  lc_range_t rg = {lo, hi, system};
  lc_vec_push(v, &rg);
}

static void segment_cb(uintptr_t lo, uintptr_t hi, const char *path, void *ctx) {
  if (is_runtime(path) || is_runtime_segment(lo, hi)) return;
  add_range(ctx, lo, hi, is_system_library(path));
}

/* dl_iterate_phdr takes the loader's lock, which a stopped thread may
 * hold: the segment list is gathered before the world stops. */
void lc_gather_segments(lc_vec_t *segments) {
  hs__for_each_writable_segment(segment_cb, segments);
}

/* Each module's static TLS block sits at a fixed distance below the thread
 * pointer in every thread; the calling thread's block addresses (from
 * dl_iterate_phdr) give those distances exactly. Scanning a guessed size
 * instead strayed into neighbouring anonymous mappings (the kernel merges
 * them), such as the page heap's span structs, whose start fields point at
 * the first block of every span and hid those blocks' leaks. */
static int tls_cb(struct dl_phdr_info *info, size_t size, void *ctx) {
  size_t *extent = ctx;
  if (size < offsetof(struct dl_phdr_info, dlpi_tls_data) + sizeof(void *) || !info->dlpi_tls_data)
    return 0;
  uintptr_t tp = (uintptr_t)pthread_self();
  uintptr_t block = (uintptr_t)info->dlpi_tls_data;
  if (block >= tp || tp - block > ((size_t)1 << 20)) return 0; /* dynamic TLS */
  if (tp - block > *extent) *extent = tp - block;
  return 0;
}

size_t lc_static_tls_extent(void) {
  size_t extent = 0;
  dl_iterate_phdr(tls_cb, &extent);
  return extent;
}

/* /proc/self/maps, read into an mmap'd buffer: the end of the mapping
 * containing addr (0 if none). */
typedef struct maps {
  char *text;
  size_t len, cap;
} maps_t;

/* 0, or -errno when the map could not be read (thread stacks would then
 * not be found, and their blocks look leaked). */
static int maps_load(maps_t *mp) {
  mp->cap = 1 << 20;
  mp->text = hs__os_map(mp->cap);
  mp->len = 0;
  if (!mp->text) return -ENOMEM;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    mp->text[0] = 0;
    return err == EMFILE || err == ENFILE || err == ENOMEM ? -err : -EIO;
  }
  ssize_t n;
  while (mp->len < mp->cap - 1 && (n = read(fd, mp->text + mp->len, mp->cap - 1 - mp->len)) > 0)
    mp->len += (size_t)n;
  close(fd);
  mp->text[mp->len] = 0;
  return 0;
}

static uintptr_t hex(const char **s) {
  uintptr_t v = 0;
  for (;; (*s)++) {
    char c = **s;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

static uintptr_t maps_find(const maps_t *mp, uintptr_t addr, uintptr_t *lo_out) {
  const char *s = mp->text, *end = mp->text + mp->len;
  while (s && s < end) {
    uintptr_t lo = hex(&s);
    if (*s == '-') s++;
    uintptr_t hi = hex(&s);
    if (addr >= lo && addr < hi) {
      if (lo_out) *lo_out = lo;
      return hi;
    }
    s = memchr(s, '\n', (size_t)(end - s));
    if (s) s++;
  }
  return 0;
}

static uintptr_t maps_end_of(const maps_t *mp, uintptr_t addr) { return maps_find(mp, addr, NULL); }

static void scan_thread(marker_t *m, const maps_t *mp, const lc_thread_t *t, size_t tls_below) {
  for (int r = 0; r < t->nregs; r++) mark_word(m, t->regs[r]);
  /* x86-64 red zone of an interrupted leaf function. */
  uintptr_t lo = t->interrupted && t->sp >= 128 ? t->sp - 128 : t->sp;
  uintptr_t hi = t->sp ? maps_end_of(mp, t->sp) : 0; /* sp 0: stack not a root */
  if (hi) scan_range(m, lo, hi);
  if (t->tp) {
    /* Static TLS below the thread pointer, the TCB (struct pthread, with
     * pthread_setspecific's values) above it. */
    uintptr_t map_lo = 0;
    uintptr_t map_hi = maps_find(mp, t->tp, &map_lo);
    uintptr_t tls_lo = t->tp - tls_below;
    uintptr_t tcb_hi = t->tp + 2304; /* sizeof(struct pthread), glibc 2.36 x86-64 */
    if (map_hi) {
      if (tls_lo < map_lo && !maps_end_of(mp, tls_lo)) tls_lo = map_lo;
      if (tcb_hi > map_hi) tcb_hi = map_hi;
      scan_range(m, tls_lo, tcb_hi);
    }
  }
  drain(m);
}

static void ignored_cb(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx) {
  marker_t *m = ctx;
  if (!(rec->gen & HS_REC_IGNORED) || (rec->gen & HS_REC_MARK)) return;
  rec->gen |= HS_REC_MARK;
  lc_range_t rg = {p, p + size, false};
  lc_vec_push(&m->work, &rg);
}

int lc_mark(const lc_roots_t *roots, lc_vec_t *threads, lc_vec_t *segments,
            uint32_t cand_gen, size_t cand_count) {
  marker_t m;
  memset(&m, 0, sizeof m);
  m.work.elem = sizeof(lc_range_t);
  m.cand_gen = cand_gen;
  m.remaining = cand_count;
  maps_t mp;
  int err = maps_load(&mp);
  if (err) {
    if (mp.text) hs__os_unmap(mp.text, mp.cap);
    return err;
  }

  /* Ignored objects first: they are roots in every mode. */
  hs__for_each_live(0, ignored_cb, &m);
  drain(&m);
  if (roots->threads && m.remaining) {
    for (size_t i = 0; i < threads->len && m.remaining; i++)
      scan_thread(&m, &mp, &LC_AT(threads, lc_thread_t, i), roots->tls_below_tp);
  }
  for (size_t i = 0; i < segments->len && m.remaining; i++) {
    lc_range_t rg = LC_AT(segments, lc_range_t, i);
    if (!roots->globals && !(roots->system_globals && rg.system)) continue;
    scan_range(&m, rg.lo, rg.hi);
    drain(&m);
  }
  /* A block that could not be queued was not scanned: what it points to
   * would look leaked. */
  bool oom = m.work.oom || m.unrecorded.oom;
  lc_vec_free(&m.work);
  if (m.unrecorded.slots) hs__os_unmap(m.unrecorded.slots, m.unrecorded.cap * sizeof(uintptr_t));
  if (mp.text) hs__os_unmap(mp.text, mp.cap);
  return oom ? -ENOMEM : 0;
}

static void clear_cb(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx) {
  (void)p;
  (void)size;
  (void)ctx;
  rec->gen &= ~HS_REC_MARK;
}

void lc_clear_marks(void) { hs__for_each_live(0, clear_cb, NULL); }

long lc_find_object(const lc_vec_t *objs, uintptr_t v) {
  size_t lo = 0, hi = objs->len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const lc_object_t *o = &LC_AT(objs, lc_object_t, mid);
    if (v < o->addr) hi = mid;
    else if (v >= o->addr + (o->size ? o->size : 1)) lo = mid + 1;
    else return (long)mid;
  }
  return -1;
}
