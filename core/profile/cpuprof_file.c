/* The CPU profile file: written live, valid at every instant.
 *
 * gperftools keeps samples in memory and writes the file at stop, so a
 * process that is killed (a CTest timeout sends SIGKILL) leaves 0 bytes.
 * Here the signal handlers write every sample straight into the profile
 * file through a MAP_SHARED mapping: the page cache holds it the moment it
 * is written, whatever happens to the process afterwards. The file is laid
 * out so that both readers (go tool pprof's legacy parser, gperftools' perl
 * pprof) accept it at any instant:
 *
 *   header    0 3 0 period_us 0                       (5 words)
 *   chunk     marker, records, filler                 (8192 words, one thread)
 *   skip      the maps text an earlier trailer had, as a count-0 record
 *   chunk     ...
 *   trailer   0 1 0
 *   maps      "\n" and one /proc/self/maps line per executable mapping
 *
 * Every record is `count depth pc...`. Besides samples (count > 0) there
 * are only count-0 records, which both readers take as zero-weight stacks:
 *   marker  0 1 (CP_MARK_BASE | test): the records after it, up to the next
 *           marker, were taken while test `test` ran (one at every chunk
 *           start and at every change of test)
 *   filler  0 R 1 ...: the unused rest of a chunk (its first pc must not be
 *           0, or perl pprof would take it for the end of the data)
 *   skip    0 m+1 1 <maps text>: what was the trailer before the file grew
 *
 * Appending a record writes, in order: a new filler header after it, its
 * pcs, its depth, its count. Each step is one aligned 8-byte store, and
 * after each the chunk still parses: first as the old filler (count 0),
 * then as a count-0 record followed by the new filler, then as the sample.
 * Growing the file (a new chunk) writes the chunk's filler and a new
 * trailer and maps beyond the old end, then turns the old trailer into a
 * skip record: go pprof never sees a broken state; perl pprof, between two
 * stores, may read the new chunk's first bytes as maps text.
 *
 * At stop the records are summed (one record per distinct stack) and the
 * compact profile is written beside the live file and renamed over it; so
 * are PATH.tests and, with HEAPSCOPE_PROFILE_FORMAT=proto, profile.proto.
 *
 * Async-signal safety: everything here except the proto writer and the
 * test registry's insertion runs in signal handlers too (a fatal signal,
 * CPUPROFILESIGNAL): raw system calls, memory from mmap, the runtime's own
 * formatter, no locks but try-once flags. */
#include "core/profile/cpuprof_internal.h"

#include "core/profile/heapprof.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <sched.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/file.h> /* flock */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESERVE_BYTES (1ull << 34) /* the largest live file: 16 GiB */

/* ---- helpers ---------------------------------------------------------------- */

const char *hs__cp_strerror(int err) {
  const char *s = strerrordesc_np(err); /* a table lookup: no locale, no buffer */
  return s ? s : "unknown error";
}

void *hs__cp_map(size_t bytes) {
  long r = syscall(SYS_mmap, NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return (unsigned long)r >= (unsigned long)-4095 ? NULL : (void *)r;
}

void hs__cp_unmap(void *p, size_t bytes) {
  if (p && bytes) syscall(SYS_munmap, p, bytes);
}

int hs__cp_gettid(void) { return (int)syscall(SYS_gettid); }

/* One store that neither the compiler nor the CPU moves before the stores
 * above it: the layout's invariants depend on the order. */
static inline void put(uint64_t *w, uint64_t v) { __atomic_store_n(w, v, __ATOMIC_RELEASE); }
static inline uint64_t get(const uint64_t *w) { return __atomic_load_n(w, __ATOMIC_ACQUIRE); }

static bool try_flag(_Atomic int *f) {
  int expected = 0;
  return atomic_compare_exchange_strong(f, &expected, 1);
}

/* A flag taken by normal code: the holder is another thread (or a handler
 * that interrupted one), never this thread's own caller, so waiting ends. */
static void wait_flag(_Atomic int *f) {
  while (!try_flag(f)) sched_yield();
}

/* ---- the maps text ------------------------------------------------------------- */

static _Atomic(cp_maps_t *) maps_cur;
static _Atomic int maps_busy;

const cp_maps_t *hs__cp_maps_current(void) {
  return atomic_load_explicit(&maps_cur, memory_order_acquire);
}

/* A growable text buffer (safe in a signal handler): it starts in the
 * caller's `local` bytes and moves to raw mmap when they are full. A short
 * program's executable lines (~700 bytes) then cost no mmap, page faults
 * or munmap. */
typedef struct rawbuf {
  char *p;
  size_t len, cap;
  bool oom, mapped;
} rawbuf_t;

static void rb_add(rawbuf_t *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n > b->cap) {
    size_t cap = b->cap < 16384 ? 16384 : b->cap * 2;
    while (cap < b->len + n) cap *= 2;
    char *p = hs__cp_map(cap);
    if (!p) {
      b->oom = true;
      return;
    }
    if (b->len) memcpy(p, b->p, b->len);
    if (b->mapped) hs__cp_unmap(b->p, b->cap);
    b->p = p;
    b->cap = cap;
    b->mapped = true;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

/* Is "\n<line>\n" in text? (text starts with "\n", every line ends with one) */
static bool has_line(const cp_maps_t *m, const char *line, size_t n) {
  if (!m) return false;
  const char *p = m->text, *end = m->text + m->len;
  while (p < end) {
    const char *hit = memmem(p, (size_t)(end - p), line, n);
    if (!hit) return false;
    if (hit > m->text && hit[-1] == '\n' && hit + n < end && hit[n] == '\n') return true;
    p = hit + 1;
  }
  return false;
}

/* Executable mappings only: neither reader looks at the others. */
static bool executable_line(const char *l, size_t n) {
  const char *sp = memchr(l, ' ', n);
  return sp && (size_t)(sp - l) + 4 < n && sp[3] == 'x';
}

static uintptr_t hex_field(const char **p) {
  uintptr_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uintptr_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uintptr_t)(c - 'a' + 10);
    else return v;
  }
}

/* The address ranges of m's lines, sorted (insertion: lines mostly come in
 * address order). */
static void index_ranges(cp_maps_t *m) {
  size_t n = 0;
  for (const char *p = m->text, *end = m->text + m->len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) break;
    if (nl > p) {
      const char *q = p;
      uintptr_t lo = hex_field(&q), hi = 0;
      if (*q == '-') {
        q++;
        hi = hex_field(&q);
      }
      if (lo < hi) {
        size_t k = n++;
        while (k > 0 && m->ranges[k - 1].lo > lo) {
          m->ranges[k] = m->ranges[k - 1];
          k--;
        }
        m->ranges[k] = (hs_range_t){lo, hi};
      }
    }
    p = nl + 1;
  }
  m->nranges = n;
}

void hs__cp_maps_refresh(bool in_signal) { hs__cp_maps_refresh_with(in_signal, NULL, NULL); }

/* The loader's load/unload counters when the maps were last read in full
 * outside a signal handler, or when a start put off reading them (stale:
 * read again). */
static struct {
  unsigned long long adds, subs;
  bool valid;
} maps_seen;
static _Atomic bool maps_missed; /* the handler sampled a pc no line covers, or read them in part */
static _Atomic bool maps_unread; /* not read in full since the start */

static int loader_counts_cb(struct dl_phdr_info *info, size_t size, void *data) {
  unsigned long long *c = data;
  if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) return -1;
  c[0] = info->dlpi_adds;
  c[1] = info->dlpi_subs;
  return 1;
}

/* Outside signal handlers: could /proc/self/maps have an executable line
 * the snapshot lacks? Only if the loader loaded or unloaded something since
 * (its counters), or the handler sampled code outside every line (a JIT's,
 * an mmap'ed blob). Saves the stop a second read of the maps. */
bool hs__cp_maps_stale(void) {
  unsigned long long c[2];
  if (!maps_seen.valid || atomic_load(&maps_missed) || atomic_load(&maps_unread) ||
      dl_iterate_phdr(loader_counts_cb, c) != 1)
    return true;
  return c[0] != maps_seen.adds || c[1] != maps_seen.subs;
}

void hs__cp_maps_defer(bool in_signal) {
  unsigned long long c[2];
  /* Whatever the loader does after these counters moves them: a read
   * made later (the first sample's) covers everything loaded by now. */
  maps_seen.valid = !in_signal && dl_iterate_phdr(loader_counts_cb, c) == 1;
  if (maps_seen.valid) {
    maps_seen.adds = c[0];
    maps_seen.subs = c[1];
  }
  atomic_store(&maps_unread, true);
}

bool hs__cp_maps_refresh_with(bool in_signal, void (*also)(const char *line, void *ctx),
                              void *ctx) {
  if (in_signal) {
    if (!try_flag(&maps_busy)) return false;
  } else {
    wait_flag(&maps_busy);
  }
  /* The counters before the read: whatever the loader does after them
   * moves them. */
  unsigned long long c[2];
  bool counted = !in_signal && dl_iterate_phdr(loader_counts_cb, c) == 1;
  atomic_store(&maps_missed, false);
  cp_maps_t *cur = atomic_load_explicit(&maps_cur, memory_order_acquire);
  char local[2048];
  rawbuf_t add = {.p = local, .cap = sizeof local};
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  bool read_all = false;
  if (fd >= 0) {
    /* Lines are handled where they lie in buf (the kernel returns whole
     * lines per read; a line cut by the buffer's end moves to its start);
     * a line longer than the buffer is dropped. */
    char buf[8192];
    size_t have = 0;
    bool overlong = false;
    for (;;) {
      ssize_t n = read(fd, buf + have, sizeof buf - have);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        read_all = n == 0;
        break;
      }
      char *p = buf, *end = buf + have + (size_t)n, *nl;
      while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        size_t ll = (size_t)(nl - p);
        *nl = '\0';
        if (!overlong && ll && executable_line(p, ll) && !has_line(cur, p, ll)) {
          rb_add(&add, p, ll);
          rb_add(&add, "\n", 1);
        }
        if (!overlong && also) also(p, ctx);
        overlong = false;
        p = nl + 1;
      }
      have = (size_t)(end - p);
      if (have == sizeof buf) {
        overlong = true;
        have = 0;
      } else if (have) {
        memmove(buf, p, have);
      }
    }
    close(fd);
  }
  bool complete = read_all && !add.oom;
  if (counted) {
    maps_seen.valid = complete;
    maps_seen.adds = c[0];
    maps_seen.subs = c[1];
  } else if (!in_signal) {
    maps_seen.valid = false;
  } else if (!complete) {
    /* A handler's read (no counters there: the ones seen before stay
     * true) that missed lines: the stop reads them again. */
    atomic_store(&maps_missed, true);
  }
  if (complete) atomic_store(&maps_unread, false);
  if (!cur || (add.len && !add.oom)) {
    size_t old = cur ? cur->len : 1, text = old + add.len;
    size_t lines = 0;
    for (size_t i = 0; i < text; i++) lines += i < old ? (cur && cur->text[i] == '\n') : add.p[i - old] == '\n';
    size_t at = (sizeof(cp_maps_t) + text + 15) & ~(size_t)15;
    size_t bytes = at + lines * sizeof(hs_range_t);
    cp_maps_t *m = hs__cp_map(bytes);
    if (m) {
      m->map_bytes = bytes;
      if (cur) memcpy(m->text, cur->text, cur->len);
      else m->text[0] = '\n';
      if (add.len) memcpy(m->text + old, add.p, add.len);
      m->len = text;
      m->ranges = (hs_range_t *)((char *)m + at);
      index_ranges(m);
      m->retired = cur;
      atomic_store_explicit(&maps_cur, m, memory_order_release);
    }
  }
  if (add.mapped) hs__cp_unmap(add.p, add.cap);
  atomic_store(&maps_busy, 0);
  return read_all;
}

static bool covered(const cp_maps_t *m, uintptr_t pc) {
  size_t lo = 0, hi = m->nranges;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (pc < m->ranges[mid].lo) hi = mid;
    else if (pc >= m->ranges[mid].hi) lo = mid + 1;
    else return true;
  }
  /* Ranges may overlap (an address reused after dlclose): look back. */
  for (size_t k = lo; k-- > 0 && lo - k < 8;)
    if (pc >= m->ranges[k].lo && pc < m->ranges[k].hi) return true;
  return false;
}

void hs__cp_maps_note_pc(uintptr_t pc) {
  static _Atomic uint64_t last;
  /* Unmapped: nothing recorded yet, the file needs no names. */
  if (!__atomic_load_n(&hs__cp.base, __ATOMIC_RELAXED)) return;
  const cp_maps_t *m = hs__cp_maps_current();
  /* Known, and in the file (a sync that found the file growing wrote
   * nothing there: a killed process's profile must name its samples). */
  if (m && covered(m, pc) &&
      __atomic_load_n(&hs__cp.maps_in_file, __ATOMIC_RELAXED) == m->len)
    return;
  atomic_store_explicit(&maps_missed, true, memory_order_relaxed);
  uint64_t now = hs__now_ns(), prev = atomic_load_explicit(&last, memory_order_relaxed);
  if (now - prev < 200000000ull || !atomic_compare_exchange_strong(&last, &prev, now)) return;
  hs__cp_file_sync_maps(true);
}

void hs__cp_maps_free_retired(void) {
  if (!try_flag(&maps_busy)) return;
  cp_maps_t *cur = atomic_load(&maps_cur);
  if (cur) {
    cp_maps_t *r = cur->retired;
    cur->retired = NULL;
    while (r) {
      cp_maps_t *next = r->retired;
      hs__cp_unmap(r, r->map_bytes);
      r = next;
    }
  }
  atomic_store(&maps_busy, 0);
}

/* ---- the live file --------------------------------------------------------------- */

/* A new file at tmp (a temporary beside its target). One left by an
 * earlier process with the same pid (killed before its rename) is removed
 * only when there is one: an unlink of a name that does not exist cost as
 * much as the create. */
static int create_excl(const char *tmp, int mode) {
  int fd = open(tmp, mode | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EEXIST) {
    unlink(tmp);
    fd = open(tmp, mode | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  }
  return fd;
}

/* Makes the file at least `size` bytes, its blocks allocated: writing
 * through the mapping into a hole of a full file system would raise
 * SIGBUS in the program, so space is reserved before it is used. */
static bool extend(cp_session_t *s, size_t size) {
  if (size > s->reserved) {
    int zero = 0;
    atomic_compare_exchange_strong(&s->file_error, &zero, EFBIG);
    return false;
  }
  if (size <= s->file_bytes) return true;
  if (s->file_backed) {
    size_t old = s->file_bytes;
    if (fallocate(s->fd, 0, (off_t)old, (off_t)(size - old)) != 0) {
      int e = errno;
      if (e != EOPNOTSUPP && e != ENOSYS) {
        int zero = 0;
        atomic_compare_exchange_strong(&s->file_error, &zero, e);
        return false;
      }
      /* No fallocate here (some network and FUSE file systems): writing
       * zeros allocates just as well. */
      static const char zeros[4096];
      for (size_t at = old; at < size;) {
        size_t k = size - at < sizeof zeros ? size - at : sizeof zeros;
        ssize_t w = pwrite(s->fd, zeros, k, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          int zero = 0;
          atomic_compare_exchange_strong(&s->file_error, &zero, w < 0 ? errno : ENOSPC);
          return false;
        }
        at += (size_t)w;
      }
    }
  }
  s->file_bytes = size;
  return true;
}

/* The previous run's profile at PATH, taken over as this run's live file
 * when it is exactly the empty profile this start would write (a run that
 * recorded nothing leaves it so): nothing is created, renamed or freed.
 * Replacing it freed its inode, and freeing blocks is the costliest thing
 * a start did: on an ext4 without journal mounted with `discard` (this
 * machine's disk) the freeing task waits for the device's discard, a
 * median 5.9 ms of every start (ftrace: sched_switch in
 * blkdev_issue_discard under rename), and with a journal the blocks still
 * go through it. Only a file no live run writes: every live file is
 * flock'ed by its writer (the lock dies with it, SIGKILL included), a
 * regular file of this user's with one link, opened without following a
 * symlink. A reader racing the start sees the same bytes either way. The
 * descriptor is kept (O_RDWR, locked); -1 when PATH cannot be taken. */
static int take_previous(const char *path, const struct stat *st, const void *want,
                         size_t len) {
  if (st->st_size != (off_t)len || st->st_nlink != 1 || st->st_uid != geteuid()) return -1;
  int fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat now;
  char have[(CP_HEADER_WORDS + 3) * 8];
  if (len <= sizeof have && fstat(fd, &now) == 0 && now.st_dev == st->st_dev &&
      now.st_ino == st->st_ino && now.st_size == (off_t)len && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
      pread(fd, have, len, 0) == (ssize_t)len && !memcmp(have, want, len))
    return fd;
  close(fd);
  return -1;
}

bool hs__cp_file_open(int *err) {
  cp_session_t *s = &hs__cp;
  s->fd = -1;
  s->base = NULL;
  s->file_backed = false;
  s->unmapped = false;
  s->tail = CP_HEADER_WORDS;
  s->maps_in_file = 0;
  s->file_bytes = 0;
  atomic_store(&s->grow_flag, 0);
  atomic_store(&s->file_error, 0);
  s->reserved = RESERVE_BYTES;
  const cp_maps_t *m = hs__cp_maps_current(); /* an earlier session's, or none yet */
  size_t mlen = m ? m->len : 0, bytes = (CP_HEADER_WORDS + 3) * 8 + mlen;
  uint64_t head[CP_HEADER_WORDS + 3] = {0, 3, 0, s->period_us, 0, 0, 1, 0};

  /* A path that is not a regular file (a device, a FIFO) is written once,
   * at stop, in place: renaming over it would replace the device node. */
  struct stat st;
  bool exists = stat(s->path, &st) == 0;
  if (exists && S_ISREG(st.st_mode) && !mlen &&
      (s->fd = take_previous(s->path, &st, head, bytes)) >= 0) {
    s->file_backed = true;
    s->file_bytes = bytes; /* written, so its blocks are there */
    s->unmapped = true;
    return true;
  }
  if (!exists || S_ISREG(st.st_mode)) {
    /* The empty profile, created beside the target and renamed over it
     * (never truncating an inode someone else may have mapped: a parent's
     * live profile), so PATH is this run's from the start, whatever ends
     * the process (SIGKILL, exec, _exit). It is written, not mapped: the
     * mapping (a 16 GiB reservation, its first page fault, its teardown at
     * exit: ~0.4 ms here) is made by the first growth, the first sample's,
     * and a process that ends before one never pays for it. */
    char tmp[4200];
    hs__snprintf(tmp, sizeof tmp, "%s.hs-tmp.%d", s->path, (int)getpid());
    s->fd = create_excl(tmp, O_RDWR);
    if (s->fd < 0) {
      *err = errno;
      return false;
    }
    s->file_backed = true;
    int e = 0;
    /* Live: a later start must not take it over (take_previous). Where
     * flock is not supported, nothing is taken over (it fails there too). */
    flock(s->fd, LOCK_EX | LOCK_NB);
    /* Blocks allocated before the rename: ext4 writes a file's
     * delayed-allocation data out at once when it is renamed over another
     * (auto_da_alloc). */
    if (!extend(s, bytes)) e = atomic_load(&s->file_error);
    if (!e && !hs__write_all(s->fd, (const char *)head, sizeof head)) e = errno ? errno : EIO;
    if (!e && mlen && !hs__write_all(s->fd, m->text, mlen)) e = errno ? errno : EIO;
    if (!e && rename(tmp, s->path) != 0) e = errno;
    if (e) {
      *err = e;
      unlink(tmp);
      hs__cp_file_close(true);
      return false;
    }
    s->maps_in_file = mlen;
    s->unmapped = true;
    return true;
  }
  int fd = open(s->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno != ENXIO) { /* ENXIO: a FIFO without a reader yet */
    *err = errno;
    return false;
  }
  if (fd >= 0) close(fd);
  /* Kept in memory until stop. */
  s->base = hs__cp_map(s->reserved);
  if (!s->base) {
    *err = ENOMEM;
    return false;
  }
  extend(s, bytes);
  memcpy(s->base, head, sizeof head);
  if (mlen) memcpy(s->base + CP_HEADER_WORDS + 3, m->text, mlen);
  s->maps_in_file = mlen;
  return true;
}

/* The first growth of a regular file: maps it (grow_flag held; raw system
 * calls: the first sample's handler runs it). A file system that cannot
 * share a mapping keeps the samples in memory until the stop writes them
 * (the file holds the empty profile meanwhile). false: no memory. */
static bool map_live(cp_session_t *s) {
  s->unmapped = false;
  long r = syscall(SYS_mmap, NULL, s->reserved, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_NORESERVE, s->fd, 0);
  if ((unsigned long)r < (unsigned long)-4095) {
    __atomic_store_n(&s->base, (uint64_t *)r, __ATOMIC_RELEASE); /* maps_note_pc reads it */
    return true;
  }
  uint64_t *b = hs__cp_map(s->reserved);
  if (!b) {
    int zero = 0;
    atomic_compare_exchange_strong(&s->file_error, &zero, ENOMEM);
    return false;
  }
  const cp_maps_t *m = hs__cp_maps_current();
  uint64_t head[CP_HEADER_WORDS + 3] = {0, 3, 0, s->period_us, 0, 0, 1, 0};
  memcpy(b, head, sizeof head);
  if (s->maps_in_file) memcpy(b + CP_HEADER_WORDS + 3, m->text, s->maps_in_file);
  __atomic_store_n(&s->base, b, __ATOMIC_RELEASE);
  s->file_backed = false;
  close(s->fd);
  s->fd = -1;
  return true;
}

bool hs__cp_file_is_compact(void) {
  const cp_session_t *s = &hs__cp;
  const cp_maps_t *m = hs__cp_maps_current();
  return s->file_backed && (s->base || s->unmapped) && s->tail == CP_HEADER_WORDS &&
         s->maps_in_file == (m ? m->len : 0) && !atomic_load(&s->file_error);
}

void hs__cp_file_close(bool unmap) {
  cp_session_t *s = &hs__cp;
  s->unmapped = false;
  if (unmap && s->base) hs__cp_unmap(s->base, s->reserved);
  s->base = NULL;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
}

void hs__cp_file_postfork_child(void) {
  hs__cp_file_close(true);
  maps_seen.valid = false;
  atomic_store(&maps_unread, true);
  atomic_store(&hs__cp.grow_flag, 0);
  atomic_store(&maps_busy, 0);
}

/* Grows the file by one chunk of `words` for each of the n slots (whose
 * chunk is NULL): the chunks' fillers and a new trailer and maps go beyond
 * the old end, then the old trailer becomes a skip record over the old
 * maps text. wait_ns: how long to wait for another thread's growth. false
 * when the file cannot grow (or the flag stayed taken). */
static bool grow(cp_slot_t *const *slots, size_t n, uint32_t words, uint64_t wait_ns) {
  cp_session_t *s = &hs__cp;
  if (!try_flag(&s->grow_flag)) {
    uint64_t t0 = hs__now_ns();
    do {
      if (hs__now_ns() - t0 > wait_ns) return false;
      __builtin_ia32_pause();
    } while (!try_flag(&s->grow_flag));
  }
  bool ok = false;
  if (atomic_load_explicit(&s->file_error, memory_order_relaxed)) goto out;
  if (s->unmapped && !map_live(s)) goto out;
  if (!s->base) goto out;
  const cp_maps_t *m = hs__cp_maps_current();
  size_t mlen = m ? m->len : 0; /* none before the first read */
  size_t t = s->tail;
  size_t mw = (s->maps_in_file + 7) / 8;
  size_t first = t + 3 + mw;
  size_t nt = first + n * words;
  if (!extend(s, (nt + 3) * 8 + mlen)) goto out;
  uint64_t *b = s->base;
  for (size_t i = 0; i < n; i++) {
    uint64_t *c = b + first + i * words;
    put(&c[2], CP_FILLER_PC);
    put(&c[1], words - 2);
    put(&c[0], 0);
  }
  put(&b[nt], 0);
  put(&b[nt + 1], 1);
  put(&b[nt + 2], 0);
  if (mlen) memcpy(b + nt + 3, m->text, mlen);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  put(&b[t + 1], mw + 1);
  put(&b[t + 2], CP_FILLER_PC);
  s->tail = nt;
  __atomic_store_n(&s->maps_in_file, mlen, __ATOMIC_RELAXED);
  for (size_t i = 0; i < n; i++) {
    cp_slot_t *sl = slots[i];
    sl->chunk = b + first + i * words;
    sl->chunk_words = words;
    sl->pos = 0;
    sl->stream_test = UINT32_MAX; /* the first record is a marker */
    memset(sl->cache, 0, sizeof sl->cache);
  }
  ok = true;
out:
  atomic_store(&s->grow_flag, 0);
  return ok;
}

bool hs__cp_file_first_chunks(cp_slot_t *const *slots, size_t n) {
  return n == 0 || grow(slots, n, CP_FIRST_CHUNK_WORDS, 50000000ull);
}

void hs__cp_file_sync_maps(bool in_signal) { hs__cp_file_sync_maps_with(in_signal, NULL, NULL); }

bool hs__cp_file_sync_maps_with(bool in_signal, void (*also)(const char *line, void *ctx),
                                void *ctx) {
  bool read = hs__cp_maps_refresh_with(in_signal, also, ctx);
  cp_session_t *s = &hs__cp;
  if (in_signal) {
    /* Another thread growing the file is on another CPU for tens of
     * microseconds (hs__cp_append waits as long). */
    uint64_t t0 = hs__now_ns();
    while (!try_flag(&s->grow_flag))
      if (hs__now_ns() - t0 > 500000ull) return read;
  } else {
    wait_flag(&s->grow_flag);
  }
  const cp_maps_t *m = hs__cp_maps_current();
  if (s->base && m && m->len > s->maps_in_file) {
    size_t at = (s->tail + 3) * 8 + s->maps_in_file;
    if (extend(s, (s->tail + 3) * 8 + m->len)) {
      memcpy((char *)s->base + at, m->text + s->maps_in_file, m->len - s->maps_in_file);
      __atomic_store_n(&s->maps_in_file, m->len, __ATOMIC_RELAXED);
    }
  }
  atomic_store(&s->grow_flag, 0);
  return read;
}

bool hs__cp_file_has_records(void) { return hs__cp.tail != CP_HEADER_WORDS; }

/* ---- appending (the signal handler) ------------------------------------------------ */

/* A record of len words fits at pos when it fills the chunk exactly or
 * leaves room for a filler (3 words). */
static inline bool fits(const cp_slot_t *s, uint32_t pos, uint32_t len) {
  uint32_t rem = s->chunk_words - pos;
  return len == rem || len + 3 <= rem;
}

static void write_record(cp_slot_t *s, uint64_t count, const uintptr_t *pcs, uint32_t n) {
  uint64_t *r = s->chunk + s->pos;
  uint32_t rem = s->chunk_words - s->pos, len = 2 + n;
  if (rem > len) {
    put(&r[len + 2], CP_FILLER_PC);
    put(&r[len + 1], rem - len - 2);
    put(&r[len], 0);
  }
  for (uint32_t i = 0; i < n; i++) put(&r[2 + i], pcs[i] ? pcs[i] : CP_FILLER_PC);
  put(&r[1], n);
  put(&r[0], count);
  s->pos += len;
}

/* The layout's invariant: a chunk is a run of records that ends exactly at
 * its end (samples, markers, one filler). HEAPSCOPE_DEBUG=2 checks it
 * after every append. */
static bool chunk_valid(const cp_slot_t *s) {
  uint32_t i = 0;
  while (i < s->chunk_words) {
    if (s->chunk_words - i < 3) return false;
    uint64_t n = s->chunk[i + 1];
    if (n == 0 || n > s->chunk_words - i - 2) return false;
    i += 2 + (uint32_t)n;
  }
  return i == s->chunk_words;
}

bool hs__cp_append(cp_slot_t *s, const uintptr_t *pcs, uint32_t n, uint64_t hash, uint64_t w,
                   uint32_t test) {
  cp_cache_entry_t *e = &s->cache[hash % CP_CACHE];
  if (s->chunk && s->stream_test == test && e->hash == hash && e->depth == n &&
      e->pos + 2 + n <= s->pos) {
    uint64_t *r = s->chunk + e->pos;
    if (r[1] == n && memcmp(r + 2, pcs, n * sizeof *pcs) == 0) {
      put(&r[0], r[0] + w);
      s->last_rec = r;
      return true;
    }
  }
  uint32_t len = 2 + n;
  bool marker = s->stream_test != test;
  if (!s->chunk ||
      !(marker ? fits(s, s->pos, 3) && fits(s, s->pos + 3, len) : fits(s, s->pos, len))) {
    /* A full chunk: the next one (or the first, for a thread that started
     * without one: a first one's size). Another thread growing the file
     * now is on another CPU and needs tens of microseconds: wait that
     * long, but never for a thread that was preempted meanwhile. */
    uint32_t words = s->chunk ? CP_CHUNK_WORDS : CP_FIRST_CHUNK_WORDS;
    s->chunk = NULL;
    s->last_rec = NULL;
    if (!grow(&s, 1, words, 500000ull)) return false;
    marker = true;
  }
  if (marker) {
    uintptr_t mark = (uintptr_t)(CP_MARK_BASE | test);
    write_record(s, 0, &mark, 1);
    s->stream_test = test;
    memset(s->cache, 0, sizeof s->cache);
  }
  e->hash = hash;
  e->depth = n;
  e->pos = s->pos;
  s->last_rec = s->chunk + s->pos;
  write_record(s, w, pcs, n);
  hs_assert(s->pos <= s->chunk_words);
  hs_assert_expensive(chunk_valid(s));
  return true;
}

/* ---- aggregation -------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

static bool table_init(cp_table_t *t, size_t records, bool by_test) {
  memset(t, 0, sizeof *t);
  t->by_test = by_test;
  size_t cap = 16;
  while (cap < records * 2) cap *= 2;
  t->cap = cap;
  t->bytes = (records + 1) * sizeof(cp_entry_t) + cap * sizeof(uint32_t);
  char *mem = hs__cp_map(t->bytes);
  if (!mem) return false;
  t->e = (cp_entry_t *)mem;
  t->index = (uint32_t *)(mem + (records + 1) * sizeof(cp_entry_t));
  return true;
}

static void table_add(cp_table_t *t, const uint64_t *base, uint64_t off, uint32_t depth,
                      uint64_t hash, uint32_t test, uint64_t count) {
  if (!t->by_test) test = 0;
  uint64_t h = mix64(hash ^ ((uint64_t)test * 0x9e3779b97f4a7c15ull));
  for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
    uint32_t k = t->index[i];
    if (!k) {
      cp_entry_t *e = &t->e[t->n];
      e->hash = hash;
      e->count = count;
      e->off = off;
      e->depth = depth;
      e->test = test;
      t->index[i] = (uint32_t)++t->n;
      return;
    }
    cp_entry_t *e = &t->e[k - 1];
    if (e->hash == hash && e->depth == depth && e->test == test &&
        memcmp(base + e->off, base + off, depth * sizeof(uint64_t)) == 0) {
      e->count += count;
      return;
    }
  }
}

static void table_free(cp_table_t *t) {
  if (t->e) hs__cp_unmap(t->e, t->bytes);
  memset(t, 0, sizeof *t);
}

/* Calls fn for every sample record of the live file, in file order. */
typedef void (*record_fn)(void *ctx, uint64_t count, uint64_t off, uint32_t depth, uint32_t test);
static void for_each_record(record_fn fn, void *ctx) {
  const cp_session_t *s = &hs__cp;
  const uint64_t *b = s->base;
  size_t end = s->tail, i = CP_HEADER_WORDS;
  uint32_t test = 0;
  while (i + 2 <= end) {
    uint64_t count = get(&b[i]), n = get(&b[i + 1]);
    if (n == 0 || n > end - i - 2) { /* cannot happen: the layout is always valid */
      hs__errorf("CPU profile %s: damaged record at word %zu of %zu (count %llu, depth %llu); "
                 "later samples dropped",
                 s->path, i, end, (unsigned long long)count, (unsigned long long)n);
      break;
    }
    if (count == 0) {
      if (n == 1 && (b[i + 2] & CP_MARK_MASK) == CP_MARK_BASE)
        test = (uint32_t)(b[i + 2] & ~CP_MARK_MASK);
    } else if (n <= CP_MAX_DEPTH) {
      fn(ctx, count, i + 2, (uint32_t)n, test);
    }
    i += 2 + n;
  }
}

static void count_cb(void *ctx, uint64_t count, uint64_t off, uint32_t depth, uint32_t test) {
  (*(size_t *)ctx)++;
}

static void add_cb(void *ctx, uint64_t count, uint64_t off, uint32_t depth, uint32_t test) {
  cp_agg_t *a = ctx;
  const uint64_t *b = hs__cp.base;
  uint64_t h = 0;
  for (uint32_t i = 0; i < depth; i++) h += HS_FRAME_HASH(b[off + i], i);
  h = mix64(h + depth);
  table_add(&a->by_stack, b, off, depth, h, test, count);
  table_add(&a->by_test, b, off, depth, h, test, count);
  a->samples++;
  a->weight += count;
  if (test) a->tests = true;
}

bool hs__cp_aggregate(cp_agg_t *a) {
  memset(a, 0, sizeof *a);
  if (!hs__cp.base) return true;
  size_t records = 0;
  for_each_record(count_cb, &records);
  if (!table_init(&a->by_stack, records, false) || !table_init(&a->by_test, records, true)) {
    hs__cp_agg_free(a);
    return false;
  }
  for_each_record(add_cb, a);
  return true;
}

void hs__cp_agg_free(cp_agg_t *a) {
  table_free(&a->by_stack);
  table_free(&a->by_test);
}

/* ---- writers -------------------------------------------------------------------------- */

/* A buffered write(2) sink. The buffer is static: writers run one at a
 * time (under the profiler's control flag). */
typedef struct sink {
  int fd;
  size_t len;
  size_t total; /* bytes added */
  int err;
} sink_t;
static char sink_buf[1 << 16];

static void sink_flush(sink_t *k) {
  if (!k->err && k->len && !hs__write_all(k->fd, sink_buf, k->len)) k->err = errno ? errno : EIO;
  k->len = 0;
}
static void sink_add(sink_t *k, const void *d, size_t n) {
  const char *p = d;
  k->total += n;
  while (n) {
    if (k->len == sizeof sink_buf) sink_flush(k);
    size_t c = sizeof sink_buf - k->len < n ? sizeof sink_buf - k->len : n;
    memcpy(sink_buf + k->len, p, c);
    k->len += c;
    p += c;
    n -= c;
  }
}
static void sink_word(sink_t *k, uint64_t w) { sink_add(k, &w, sizeof w); }
static void sink_printf(sink_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_printf(sink_t *k, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = hs__vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) sink_add(k, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Output files are written beside their final name and renamed over it;
 * a path that is not a regular file (/dev/stdout, a FIFO) is written in
 * place. */
typedef struct target {
  char tmp[4200];
  const char *path;
  bool in_place;
  size_t reserved; /* bytes allocated up front */
} target_t;

/* size: the bytes that will be written when known (else 0). They are
 * allocated before the first write: ext4 writes a file's delayed-allocation
 * data out at once when it is renamed over another (auto_da_alloc), which
 * made every exit wait for a block allocation and a write submission; the
 * allocation also reports a full disk before anything is written. */
static bool target_open(target_t *t, const char *path, sink_t *k, size_t size, int *err) {
  struct stat st;
  t->path = path;
  t->in_place = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
  t->reserved = 0;
  k->len = 0;
  k->total = 0;
  k->err = 0;
  if (t->in_place) {
    k->fd = open(path, O_WRONLY | O_CLOEXEC);
  } else {
    hs__snprintf(t->tmp, sizeof t->tmp, "%s.hs-tmp.%d", path, (int)getpid());
    k->fd = create_excl(t->tmp, O_WRONLY);
  }
  if (k->fd < 0) {
    *err = errno;
    return false;
  }
  if (size && !t->in_place) {
    if (fallocate(k->fd, 0, 0, (off_t)size) == 0) {
      t->reserved = size;
    } else if (errno != EOPNOTSUPP && errno != ENOSYS) {
      *err = errno;
      close(k->fd);
      unlink(t->tmp);
      return false;
    }
  }
  return true;
}

static bool target_commit(target_t *t, sink_t *k, int *err) {
  sink_flush(k);
  /* Never more than was written (the size was computed beforehand). */
  if (!k->err && t->reserved && k->total != t->reserved && ftruncate(k->fd, (off_t)k->total) != 0)
    k->err = errno;
  if (close(k->fd) != 0 && !k->err) k->err = errno;
  if (!t->in_place) {
    if (!k->err && rename(t->tmp, t->path) != 0) k->err = errno;
    if (k->err) unlink(t->tmp);
  }
  if (k->err) *err = k->err;
  return !k->err;
}

/* The legacy profile of table tab's entries (only test's when one_test). */
static bool write_legacy(const cp_table_t *tab, bool one_test, uint32_t test, const char *path,
                         int *err) {
  const cp_session_t *s = &hs__cp;
  target_t t;
  sink_t k;
  const cp_maps_t *m = hs__cp_maps_current();
  size_t size = (CP_HEADER_WORDS + 3) * sizeof(uint64_t) + (m ? m->len : 0);
  for (size_t i = 0; i < tab->n; i++)
    if (!one_test || tab->e[i].test == test) size += (2 + (size_t)tab->e[i].depth) * sizeof(uint64_t);
  if (!target_open(&t, path, &k, size, err)) return false;
  uint64_t header[CP_HEADER_WORDS] = {0, 3, 0, s->period_us, 0};
  sink_add(&k, header, sizeof header);
  for (size_t i = 0; i < tab->n; i++) {
    const cp_entry_t *e = &tab->e[i];
    if (one_test && e->test != test) continue;
    sink_word(&k, e->count);
    sink_word(&k, e->depth);
    sink_add(&k, s->base + e->off, e->depth * sizeof(uint64_t));
  }
  uint64_t trailer[3] = {0, 1, 0};
  sink_add(&k, trailer, sizeof trailer);
  if (m) sink_add(&k, m->text, m->len);
  return target_commit(&t, &k, err);
}

bool hs__cp_write_legacy(const cp_agg_t *a, const char *path, int *err) {
  return write_legacy(&a->by_stack, false, 0, path, err);
}

bool hs__cp_write_legacy_test(const cp_agg_t *a, uint32_t test, const char *path, int *err) {
  return write_legacy(&a->by_test, true, test, path, err);
}

/* Test names go on one line: tabs and line breaks become spaces. */
static void sink_name(sink_t *k, const char *s) {
  for (; s && *s; s++) {
    char c = *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s;
    sink_add(k, &c, 1);
  }
}

static _Atomic uint32_t ntests; /* tests named so far (below) */

/* Every test named is listed, sampled or not: a test with no sample ran
 * but was too short to be sampled, and the reader says so. */
bool hs__cp_write_tests(const cp_agg_t *a, const char *path, int *err) {
  /* Sized to the name (a path is shorter than hs__cp.path): a fixed 4 KiB
   * buffer took every stop two stack pages deeper (two page faults of a
   * process that exits, ~24 us each here). */
  size_t plen = strnlen(path, sizeof hs__cp.path);
  char name[plen + sizeof ".tests"];
  memcpy(name, path, plen);
  memcpy(name + plen, ".tests", sizeof ".tests");
  uint32_t named = atomic_load_explicit(&ntests, memory_order_acquire);
  if (!a->tests && !named) { /* a stale side file would describe another run */
    unlink(name);
    return true;
  }
  const cp_table_t *t = &a->by_test;
  uint32_t maxtest = named;
  for (size_t i = 0; i < t->n; i++)
    if (t->e[i].test > maxtest) maxtest = t->e[i].test;
  /* Entries grouped by test, each test's in first-seen order: a counting sort. */
  size_t first_bytes = ((size_t)maxtest + 2) * sizeof(uint32_t), order_bytes = t->n * sizeof(uint32_t) + 1;
  uint32_t *first = hs__cp_map(first_bytes), *order = hs__cp_map(order_bytes);
  bool ok = false;
  if (first && order) {
    for (size_t i = 0; i < t->n; i++) first[t->e[i].test + 1]++;
    for (uint32_t id = 1; id <= maxtest + 1; id++) first[id] += first[id - 1];
    for (size_t i = 0; i < t->n; i++) order[first[t->e[i].test]++] = (uint32_t)i;
    /* first[id] is now the end of test id's run. */
    target_t tg;
    sink_t k;
    if (target_open(&tg, name, &k, 0, err)) {
      sink_printf(&k, "heapscope test samples 1\n");
      size_t at = first[0]; /* skip the samples outside tests */
      for (uint32_t id = 1; id <= maxtest; id++) {
        const char *group = NULL, *tname = NULL;
        hs__cp_test_names(id, &group, &tname);
        sink_printf(&k, "test ");
        sink_name(&k, group ? group : "");
        sink_add(&k, "\t", 1);
        sink_name(&k, tname ? tname : "?");
        sink_add(&k, "\n", 1);
        for (; at < first[id]; at++) {
          const cp_entry_t *e = &t->e[order[at]];
          sink_printf(&k, "%llu", (unsigned long long)e->count);
          for (uint32_t f = 0; f < e->depth; f++)
            sink_printf(&k, " 0x%llx", (unsigned long long)hs__cp.base[e->off + f]);
          sink_add(&k, "\n", 1);
        }
      }
      ok = target_commit(&tg, &k, err);
    }
  } else {
    *err = ENOMEM;
  }
  hs__cp_unmap(first, first_bytes);
  hs__cp_unmap(order, order_bytes);
  return ok;
}

bool hs__cp_write_proto(const cp_agg_t *a, const char *path, int *err) {
  const cp_session_t *s = &hs__cp;
  uint64_t period_ns = (uint64_t)s->period_us * 1000;
  hs_proto_spec_t spec = {
      .types = {{"samples", "count"}, {s->realtime ? "wall" : "cpu", "nanoseconds"}},
      .ntypes = 2,
      .period_type = {s->realtime ? "wall" : "cpu", "nanoseconds"},
      .period = (int64_t)period_ns,
      .time_nanos = (int64_t)s->start_time * 1000000000ll,
      .duration_nanos = (int64_t)(hs__now_ns() - s->start_ns),
  };
  hs_proto_t *p = hs__proto_begin(&spec);
  if (!p) {
    *err = ENOMEM;
    return false;
  }
  uint32_t epoch = hs__modules_epoch();
  uintptr_t pcs[CP_MAX_DEPTH];
  const cp_table_t *t = &a->by_test;
  for (size_t i = 0; i < t->n; i++) {
    const cp_entry_t *e = &t->e[i];
    for (uint32_t f = 0; f < e->depth; f++) pcs[f] = (uintptr_t)s->base[e->off + f];
    int64_t v[2] = {(int64_t)e->count, (int64_t)(e->count * period_ns)};
    hs_proto_label_t labels[2];
    int nl = 0;
    const char *group, *name;
    if (e->test && hs__cp_test_names(e->test, &group, &name)) {
      labels[nl++] = (hs_proto_label_t){.key = "test", .str = name};
      labels[nl++] = (hs_proto_label_t){.key = "group", .str = group};
    }
    hs__proto_sample(p, pcs, (int)e->depth, epoch, true, v, labels, nl);
  }
  /* Every test named, sampled or not, as the side file lists them: one
   * too short to be sampled gets a zero-valued sample with its labels. */
  uint32_t named = atomic_load_explicit(&ntests, memory_order_acquire);
  size_t seen_bytes = (size_t)named + 1;
  unsigned char *seen = named ? hs__cp_map(seen_bytes) : NULL;
  if (seen) {
    for (size_t i = 0; i < t->n; i++)
      if (t->e[i].test <= named) seen[t->e[i].test] = 1;
    for (uint32_t id = 1; id <= named; id++) {
      const char *group, *name;
      if (!seen[id] && hs__cp_test_names(id, &group, &name))
        hs__proto_unsampled_test(p, group, name);
    }
    hs__cp_unmap(seen, seen_bytes);
  }
  target_t tg;
  sink_t k;
  if (!target_open(&tg, path, &k, 0, err)) {
    hs__proto_discard(p);
    return false;
  }
  if (!hs__proto_finish(p, k.fd)) k.err = EIO;
  return target_commit(&tg, &k, err);
}

/* ---- tests seen -------------------------------------------------------------------------
 * id -> (group, name), append-only: ids stay valid for the life of the
 * process, so a sample's marker names its test even after it ended. Read
 * lock-free (a writer in a signal handler looks names up). */

#define TEST_CHUNK 1024
#define TEST_CHUNKS 1024 /* a million distinct tests */
typedef struct cp_test {
  const char *group, *name;
  uint64_t hash;
} cp_test_t;
static cp_test_t *test_chunks[TEST_CHUNKS];
static uint32_t *test_index; /* open addressing: id; tests_lock */
static size_t test_index_cap;
static hs_lock_t tests_lock;

static cp_test_t *test_at(uint32_t id) { /* id >= 1 */
  return &test_chunks[(id - 1) / TEST_CHUNK][(id - 1) % TEST_CHUNK];
}

static uint64_t hash_names(const char *group, const char *name) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = group; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

static char *copy_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = hs__arena_alloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static bool index_insert(uint32_t id) {
  if ((size_t)id * 2 >= test_index_cap) {
    size_t cap = test_index_cap ? test_index_cap * 2 : 256;
    uint32_t *ix = hs__arena_alloc(cap * sizeof *ix);
    if (!ix) return false;
    for (uint32_t k = 1; k < id; k++) {
      size_t j = mix64(test_at(k)->hash) & (cap - 1);
      while (ix[j]) j = (j + 1) & (cap - 1);
      ix[j] = k;
    }
    hs__arena_free(test_index);
    test_index = ix;
    test_index_cap = cap;
  }
  size_t j = mix64(test_at(id)->hash) & (test_index_cap - 1);
  while (test_index[j]) j = (j + 1) & (test_index_cap - 1);
  test_index[j] = id;
  return true;
}

uint32_t hs__cp_test_id(const char *group, const char *name) {
  if (!group) group = "";
  if (!name) return 0;
  uint64_t h = hash_names(group, name);
  uint32_t id = 0;
  hs__lock(&tests_lock);
  hs__runtime_enter();
  if (test_index_cap) {
    for (size_t j = mix64(h) & (test_index_cap - 1); test_index[j]; j = (j + 1) & (test_index_cap - 1)) {
      cp_test_t *t = test_at(test_index[j]);
      if (t->hash == h && !strcmp(t->group, group) && !strcmp(t->name, name)) {
        id = test_index[j];
        goto out;
      }
    }
  }
  uint32_t n = atomic_load_explicit(&ntests, memory_order_relaxed) + 1;
  if (n > TEST_CHUNK * TEST_CHUNKS) goto out;
  uint32_t c = (n - 1) / TEST_CHUNK;
  if (!test_chunks[c] && !(test_chunks[c] = hs__arena_alloc(TEST_CHUNK * sizeof(cp_test_t))))
    goto out;
  cp_test_t *t = test_at(n);
  t->group = copy_str(group);
  t->name = copy_str(name);
  t->hash = h;
  if (!t->group || !t->name || !index_insert(n)) goto out;
  atomic_store_explicit(&ntests, n, memory_order_release);
  id = n;
out:
  hs__runtime_leave();
  hs__unlock(&tests_lock);
  return id;
}

bool hs__cp_test_names(uint32_t id, const char **group, const char **name) {
  if (id == 0 || id > atomic_load_explicit(&ntests, memory_order_acquire)) return false;
  const cp_test_t *t = test_at(id);
  *group = t->group;
  *name = t->name;
  return true;
}

hs_lock_t *const hs__cpuprof_tests_lock = &tests_lock;
