/* Heap profiler: gperftools' HEAPPROFILE, written from the profile table.
 *
 * Dumps use gperftools' legacy text format (header, one line per stack
 * bucket, then MAPPED_LIBRARIES: and /proc/self/maps), which both Go pprof
 * and gperftools' perl pprof parse. Writing never allocates from the user
 * heap and takes no allocator lock: buckets are read with atomic loads, and
 * text goes through a static buffer guarded by dump_lock. A dump triggered
 * from inside malloc only ever trylocks, so it can not deadlock against a
 * dump in progress on another thread (it is skipped, as gperftools does).
 *
 * SYNCHRONIZATION (order as in core/api/runtime.c): prof_lock serialises
 * HeapProfilerStart/Stop (running, holds_recording, the configuration);
 * dump_lock guards the writer and the trigger baselines. Dumps run inside
 * hs__runtime_enter, so a thread cancelled in open/write cannot leave
 * dump_lock held; a dump requested by a signal handler that interrupted
 * this thread's own dump is skipped (the lock is not recursive).
 *
 * Output: a failed write (full disk...) removes the partial file, prints one
 * line and stops automatic dumps for the process. The "dumping heap profile
 * to ..." progress line gperftools prints is printed only with
 * HEAPSCOPE_VERBOSE=1: programs that compare their stderr (CPython's own
 * test suite) must not see it.
 *
 * HEAPSCOPE_PROFILE_FORMAT=proto writes self-symbolized profile.proto
 * instead (PREFIX.NNNN.pb.gz, or .pb without zlib): core/heapprof_proto.c. */
#include "core/profile/heapprof.h"

#include "core/base/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gperftools/heap-profiler.h>
#include <heapscope/heapscope.h>
#include <sys/mman.h>

typedef struct prof_config {
  int64_t alloc_interval, dealloc_interval, inuse_interval, time_interval_ns;
  bool proto; /* HEAPSCOPE_PROFILE_FORMAT=proto */
} prof_config_t;

static prof_config_t cfg;
static char prefix[4096];
static _Atomic int running;
static bool holds_recording; /* this profiler's use of recording */
static bool per_test_wanted; /* per-test counts without HEAPPROFILE (HEAPSCOPE_TEST_PROFILE_DIR) */
static _Atomic int dump_count;
static hs_lock_t prof_lock;
static hs_lock_t dump_lock;
hs_lock_t *const hs__heapprof_control_lock = &prof_lock, *const hs__heapprof_dump_lock = &dump_lock;
static HS_TLS bool dumping; /* this thread is in dump() or GetHeapProfile() */
static bool use_pid;
static bool dumps_stopped; /* a dump failed: no more automatic ones */
static bool verbose;       /* HEAPSCOPE_VERBOSE: print the progress line */
static bool atexit_registered;
static _Atomic int64_t total_alloc, total_free;
static int64_t last_alloc, last_free, high_water;
static uint64_t last_time;
/* Interval accounting is batched per thread: a shared counter bumped with a
 * locked add on every malloc and free bounced one cache line between all
 * allocating threads and cost a few % even single-threaded. A thread
 * publishes its pending bytes every FLUSH_EVENTS events or flush_bytes
 * bytes, whichever comes first, and only then checks the triggers (and
 * the clock), so a dump comes at most flush_bytes per thread late. */
#define FLUSH_EVENTS 256
static int64_t flush_bytes = 1 << 20; /* set by start() from the intervals */
static HS_TLS int64_t pend_alloc, pend_free;
static HS_TLS uint32_t pend_events;

typedef struct writer {
  int fd;
  char buf[1 << 16];
  size_t len;
  bool failed;
  hs_strbuf_t *sb; /* when writing into memory instead of fd */
} writer_t;

static writer_t dump_writer; /* guarded by dump_lock */

/* The dump writer, emptied, writing to fd (or into sb when not NULL). */
static writer_t *dump_writer_open(int fd, hs_strbuf_t *sb) {
  writer_t *w = &dump_writer;
  w->fd = fd;
  w->len = 0;
  w->failed = false;
  w->sb = sb;
  return w;
}

static void w_flush(writer_t *w) {
  if (w->sb) hs__sb_append(w->sb, w->buf, w->len);
  else if (!w->failed && !hs__write_all(w->fd, w->buf, w->len)) w->failed = true;
  w->len = 0;
}

static void w_printf(writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(writer_t *w, const char *fmt, ...) {
  if (sizeof w->buf - w->len < 1024) w_flush(w);
  va_list ap;
  va_start(ap, fmt);
  int n = hs__vsnprintf(w->buf + w->len, sizeof w->buf - w->len, fmt, ap);
  va_end(ap);
  if (n > 0) w->len += (size_t)n < sizeof w->buf - w->len ? (size_t)n : sizeof w->buf - w->len - 1;
}

static void w_bytes(writer_t *w, const char *d, size_t n) {
  while (n) {
    size_t room = sizeof w->buf - w->len;
    if (!room) { w_flush(w); continue; }
    size_t k = n < room ? n : room;
    memcpy(w->buf + w->len, d, k);
    w->len += k;
    d += k;
    n -= k;
  }
}

/* A stack as " 0x%016lx" each, formatted by hand: the addresses are most
 * of a dump's bytes, and a vsnprintf call per address was most of its
 * cost (and of the per-test side file's, as large). */
static void w_stack(writer_t *w, const hs_bucket_t *b) {
  static const char hex[] = "0123456789abcdef";
  for (uint32_t i = 0; i < b->depth; i++) {
    if (sizeof w->buf - w->len < 20) w_flush(w);
    char *o = w->buf + w->len;
    uint64_t pc = (uint64_t)b->pcs[i];
    o[0] = ' ';
    o[1] = '0';
    o[2] = 'x';
    for (int k = 0; k < 16; k++) o[3 + k] = hex[(pc >> (60 - 4 * k)) & 15];
    w->len += 19;
  }
}

typedef struct counts {
  int64_t inuse_objs, inuse_bytes, alloc_objs, alloc_bytes;
} counts_t;

/* Sampled profiles are scaled back to estimates here, so every consumer
 * reads plain numbers and the header can say `heapprofile` (no scaling). */
static counts_t scaled_counts(int64_t allocs, int64_t abytes, int64_t frees, int64_t fbytes) {
  counts_t c;
  if (frees > allocs) frees = allocs; /* racy reads: never negative */
  if (fbytes > abytes) fbytes = abytes;
  c.inuse_objs = allocs - frees;
  c.inuse_bytes = abytes - fbytes;
  c.alloc_objs = allocs;
  c.alloc_bytes = abytes;
  if (c.inuse_objs == 0) c.inuse_bytes = 0;
  if (hs__sample_bytes > 0 && allocs > 0) {
    double avg = (double)abytes / (double)allocs;
    double scale = 1.0 / (1.0 - hs__exp(-avg / (double)hs__sample_bytes));
    c.inuse_objs = (int64_t)(c.inuse_objs * scale + 0.5);
    c.inuse_bytes = (int64_t)(c.inuse_bytes * scale + 0.5);
    c.alloc_objs = (int64_t)(c.alloc_objs * scale + 0.5);
    c.alloc_bytes = (int64_t)(c.alloc_bytes * scale + 0.5);
  }
  return c;
}

static counts_t bucket_counts(const hs_bucket_t *b) {
  return scaled_counts((int64_t)atomic_load_explicit(&b->allocs, memory_order_relaxed),
                       (int64_t)atomic_load_explicit(&b->alloc_bytes, memory_order_relaxed),
                       (int64_t)atomic_load_explicit(&b->frees, memory_order_relaxed),
                       (int64_t)atomic_load_explicit(&b->free_bytes, memory_order_relaxed));
}

/* For the proto writer: inuse objs, inuse bytes, alloc objs, alloc bytes. */
static void proto_counts(const hs_bucket_t *b, int64_t out[4]) {
  counts_t c = bucket_counts(b);
  out[0] = c.inuse_objs;
  out[1] = c.inuse_bytes;
  out[2] = c.alloc_objs;
  out[3] = c.alloc_bytes;
}

static void write_line(writer_t *w, const counts_t *c) {
  w_printf(w, "%6lld: %8lld [%6lld: %8lld] @", (long long)c->inuse_objs,
           (long long)c->inuse_bytes, (long long)c->alloc_objs, (long long)c->alloc_bytes);
}

/* One sample: its counts, its stack, the end of the line. */
static void write_record(writer_t *w, const counts_t *c, const hs_bucket_t *b) {
  write_line(w, c);
  w_stack(w, b);
  w_printf(w, "\n");
}


static void write_maps(writer_t *w) {
  w_printf(w, "\nMAPPED_LIBRARIES:\n");
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char tmp[4096];
  ssize_t n;
  while ((n = read(fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) w_bytes(w, tmp, (size_t)n);
  close(fd);
}

/* What a profile says per bucket: the profiler's counters (bucket_counts),
 * or the live recorded objects when it is not running (live_counts). */
typedef counts_t (*counts_fn)(const hs_bucket_t *b);

/* snap_out: the per-bucket counts written (by bucket id - 1), handed to
 * the caller (hs__arena_free) instead of freed; NULL when not made. */
static void write_profile(writer_t *w, counts_fn get, counts_t **snap_out) {
  uint32_t max = hs__depot_max_id();
  /* One snapshot of the counters, so the header is the sum of the lines
   * even while other threads allocate (without it, a dump taken under
   * load contradicts itself). Two passes over the live counters if the
   * snapshot can not be allocated. */
  counts_t *snap = max ? hs__arena_alloc((size_t)max * sizeof *snap) : NULL;
  counts_t total = {0, 0, 0, 0};
  for (uint32_t id = 1; id <= max; id++) {
    hs_bucket_t *b = hs__depot_get(id);
    counts_t c = {0, 0, 0, 0};
    if (b) c = get(b);
    if (snap) snap[id - 1] = c;
    total.inuse_objs += c.inuse_objs;
    total.inuse_bytes += c.inuse_bytes;
    total.alloc_objs += c.alloc_objs;
    total.alloc_bytes += c.alloc_bytes;
  }
  w_printf(w, "heap profile: ");
  write_line(w, &total);
  w_printf(w, " heapprofile\n");
  for (uint32_t id = 1; id <= max; id++) {
    hs_bucket_t *b = hs__depot_get(id);
    if (!b) continue;
    counts_t c = snap ? snap[id - 1] : get(b);
    if (c.alloc_objs == 0) continue;
    write_record(w, &c, b);
  }
  if (snap_out) *snap_out = snap;
  else hs__arena_free(snap);
  write_maps(w);
}

/* ---- the per-test split ----------------------------------------------------
 * Each test's share of each bucket, from core/record/test_buckets.c. A
 * legacy dump PATH gets a side file PATH.tests (the CPU profile's design,
 * docs/report.md "Per-test split"):
 *
 *   heapscope test heap 1
 *   test GROUP<TAB>NAME
 *   INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ 0xPC 0xPC ...
 *
 * lines as the dump's own, for the test's blocks of that stack; the dump
 * holds every block, the reader moves each test's share out of its stack.
 * profile.proto carries `test` and `group` labels instead. */
static hs_heap_test_sample_t *test_split(uint32_t only, size_t *n_out) {
  *n_out = 0;
  if (!hs__test_buckets) return NULL;
  size_t n;
  hs_test_count_t *tc = hs__test_buckets_snapshot(only, &n);
  if (!tc) return NULL;
  hs_heap_test_sample_t *out = hs__arena_alloc(n * sizeof *out);
  if (out) {
    for (size_t i = 0; i < n; i++) {
      counts_t c = scaled_counts((int64_t)tc[i].allocs, (int64_t)tc[i].alloc_bytes,
                                 (int64_t)tc[i].frees, (int64_t)tc[i].free_bytes);
      out[i] = (hs_heap_test_sample_t){
          tc[i].test, tc[i].bucket, {c.inuse_objs, c.inuse_bytes, c.alloc_objs, c.alloc_bytes}};
    }
    *n_out = n;
  }
  hs__arena_free(tc);
  return out;
}

/* Test names go on one line: tabs and line breaks become spaces. */
static void w_name(writer_t *w, const char *s) {
  for (; s && *s; s++) {
    char c = *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s;
    w_bytes(w, &c, 1);
  }
}

/* PATH.tests beside the dump PATH, from the counts the dump wrote (snap,
 * consumed). Every test that began is listed, one without a block too (it
 * ran, and allocated nothing the profile shows). No test: no side file (a
 * stale one would describe another run). */
static void write_test_side(const char *path, counts_t *snap) {
  char side[4300];
  hs__snprintf(side, sizeof side, "%s.tests", path);
  uint32_t ntests = snap && hs__test_buckets ? hs__test_buckets_ntests() : 0;
  if (!ntests) {
    hs__arena_free(snap);
    unlink(side);
    return;
  }
  size_t n = 0;
  hs_heap_test_sample_t *ts = test_split(0, &n);
  uint32_t max = hs__depot_max_id();
  int fd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    hs__errorf("cannot write the per-test heap profile %s: %s", side, strerror(errno));
    hs__arena_free(ts);
    hs__arena_free(snap);
    return;
  }
  writer_t *w = dump_writer_open(fd, NULL);
  hs__write_error = 0;
  w_printf(w, "heapscope test heap 1\n");
  size_t i = 0; /* ts is grouped by test, in test order */
  for (uint32_t test = 1; test <= ntests; test++) {
    const char *group, *name;
    if (!hs__test_buckets_names(test, &group, &name)) continue;
    w_printf(w, "test ");
    w_name(w, group);
    w_bytes(w, "\t", 1);
    w_name(w, *name ? name : "?");
    w_bytes(w, "\n", 1);
    for (; i < n && ts[i].test == test; i++) {
      hs_bucket_t *b = ts[i].bucket <= max ? hs__depot_get(ts[i].bucket) : NULL;
      if (!b) continue;
      counts_t *left = &snap[ts[i].bucket - 1];
      int64_t l[4] = {left->inuse_objs, left->inuse_bytes, left->alloc_objs, left->alloc_bytes};
      bool any = hs__heap_test_take(l, ts[i].c);
      *left = (counts_t){l[0], l[1], l[2], l[3]};
      if (!any) continue;
      write_record(w, &(counts_t){ts[i].c[0], ts[i].c[1], ts[i].c[2], ts[i].c[3]}, b);
    }
  }
  hs__arena_free(ts);
  hs__arena_free(snap);
  w_flush(w);
  bool failed = w->failed;
  if (close(fd) != 0) failed = true;
  if (failed) {
    unlink(side);
    hs__errorf("cannot write the per-test heap profile %s: %s (removed)", side,
               strerror(hs__write_error ? hs__write_error : EIO));
  }
}

/* Called with dump_lock held. The trigger baselines move on every attempt,
 * also a failed one: an unwritable prefix must not turn every later malloc
 * into another open() attempt. */
static void dump_locked(const char *reason, bool automatic) {
  if (!atomic_load(&running) || (automatic && dumps_stopped)) return;
  int64_t a = atomic_load(&total_alloc), f = atomic_load(&total_free);
  last_alloc = a;
  last_free = f;
  last_time = hs__now_ns();
  if (a - f > high_water) high_water = a - f; /* as gperftools: after any dump */
  int n = atomic_fetch_add(&dump_count, 1) + 1;
  const char *ext = !cfg.proto ? "heap" : hs__heapprof_proto_gzip() ? "pb.gz" : "pb";
  char path[4200];
  if (use_pid)
    hs__snprintf(path, sizeof path, "%s_%d.%04d.%s", prefix, (int)getpid(), n, ext);
  else
    hs__snprintf(path, sizeof path, "%s.%04d.%s", prefix, n, ext);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (!dumps_stopped || !automatic)
      hs__errorf("cannot write heap profile %s: %s; profiling continues without dumps",
                 path, strerror(errno));
    dumps_stopped = true;
    return;
  }
  if (verbose) hs__errorf("dumping heap profile to %s (%s)", path, reason);
  hs__write_error = 0;
  bool failed;
  counts_t *snap = NULL;
  if (cfg.proto) {
    size_t ntests;
    hs_heap_test_sample_t *tests = test_split(0, &ntests);
    failed = !hs__heapprof_write_proto(fd, proto_counts, reason, tests, ntests);
    hs__arena_free(tests);
  } else {
    writer_t *w = dump_writer_open(fd, NULL);
    write_profile(w, bucket_counts, &snap);
    w_flush(w);
    failed = w->failed;
  }
  if (close(fd) != 0 && !failed) {
    failed = true;
    hs__write_error = errno;
  }
  if (!cfg.proto && !failed) write_test_side(path, snap);
  else hs__arena_free(snap);
  if (failed) {
    /* A full disk: the partial file only takes the space the program's own
     * output needs, and every later dump would fail the same way. */
    int err = hs__write_error ? hs__write_error : EIO;
    unlink(path);
    hs__errorf("cannot write heap profile %s: %s (partial file removed); profiling "
               "continues without dumps", path, strerror(err));
    dumps_stopped = true;
  }
}

/* Which interval trigger fires now, if any (reason filled in). Racy reads of
 * the baselines are fine outside the lock: dump() asks again under it. */
static bool due(char *reason, size_t size, bool check_time) {
  int64_t a = atomic_load_explicit(&total_alloc, memory_order_relaxed);
  int64_t f = atomic_load_explicit(&total_free, memory_order_relaxed);
  if (cfg.alloc_interval > 0 && a - last_alloc >= cfg.alloc_interval)
    hs__snprintf(reason, size, "%lld MB allocated", (long long)(a >> 20));
  else if (cfg.dealloc_interval > 0 && f - last_free >= cfg.dealloc_interval)
    hs__snprintf(reason, size, "%lld MB freed", (long long)(f >> 20));
  else if (cfg.inuse_interval > 0 && a - f > high_water + cfg.inuse_interval)
    hs__snprintf(reason, size, "%lld MB in use", (long long)((a - f) >> 20));
  else if (check_time && cfg.time_interval_ns > 0 &&
           hs__now_ns() - last_time >= (uint64_t)cfg.time_interval_ns)
    hs__snprintf(reason, size, "%lld sec since the last dump",
                 (long long)(cfg.time_interval_ns / 1000000000));
  else
    return false;
  return true;
}

/* Set while this thread may hold dump_lock; the fences keep the compiler
 * from moving it across the lock (a signal handler reads it). */
static void set_dumping(bool on) {
  atomic_signal_fence(memory_order_seq_cst);
  dumping = on;
  atomic_signal_fence(memory_order_seq_cst);
}

/* reason NULL: an interval trigger (from malloc: only trylocks). */
static void dump(const char *reason, bool automatic) {
  if (dumping) { /* a signal handler interrupted this thread's own dump */
    if (!automatic)
      hs__errorf("heap profile dump (%s) requested while this thread is writing one "
                 "(from a signal handler?); skipped", reason);
    return;
  }
  int saved = errno;
  set_dumping(true);
  hs__runtime_enter();
  if (reason) hs__lock(&dump_lock);
  else if (!hs__trylock(&dump_lock)) goto out;
  char why[128];
  /* A triggered dump (reason NULL) re-checks under the lock, so two threads
   * that both saw the same interval pass do not write two dumps. */
  if (reason || due(why, sizeof why, true)) dump_locked(reason ? reason : why, automatic);
  hs__unlock(&dump_lock);
out:
  hs__runtime_leave();
  set_dumping(false);
  errno = saved;
}

static void flush_pending(void) {
  if (pend_alloc) atomic_fetch_add_explicit(&total_alloc, pend_alloc, memory_order_relaxed);
  if (pend_free) atomic_fetch_add_explicit(&total_free, pend_free, memory_order_relaxed);
  pend_alloc = pend_free = 0;
  pend_events = 0;
  char reason[128];
  if (!dumps_stopped && due(reason, sizeof reason, true)) dump(NULL, true);
}

/* In sampled mode only sampled objects reach these hooks: count each as the
 * bytes it stands for (size / P(sampled)), so the interval triggers see the
 * program's real allocation volume. */
static int64_t weight(size_t n) {
  if (hs__sample_bytes <= 0 || n == 0) return (int64_t)n;
  double p = 1.0 - hs__exp(-(double)n / (double)hs__sample_bytes);
  return p > 0 ? (int64_t)((double)n / p + 0.5) : (int64_t)n;
}

void hs__heapprof_on_event(size_t n, bool alloc) {
  if (!atomic_load_explicit(&running, memory_order_relaxed)) return;
  int64_t *pend = alloc ? &pend_alloc : &pend_free;
  *pend += weight(n);
  if (++pend_events >= FLUSH_EVENTS || *pend >= flush_bytes) flush_pending();
}

static void at_exit_dump(void);

static bool want_proto(void) {
  const char *fmt = hs__setting_str(HS_SET_HEAPSCOPE_PROFILE_FORMAT);
  if (fmt && !strcmp(fmt, "proto")) return true;
  if (fmt && *fmt && strcmp(fmt, "text") && strcmp(fmt, "legacy")) {
    static bool warned;
    if (!warned)
      hs__errorf("invalid HEAPSCOPE_PROFILE_FORMAT='%s' (expected text or proto); using text", fmt);
    warned = true;
  }
  return false;
}

static void start(const char *p) {
  if (atomic_load(&running)) return;
  size_t len = strlen(p);
  if (len >= sizeof prefix - 32) {
    hs__errorf("HEAPPROFILE prefix is too long (%zu bytes); heap profiler not started", len);
    return;
  }
  memcpy(prefix, p, len + 1);
  cfg.alloc_interval = hs__setting_int(HS_SET_HEAP_PROFILE_ALLOCATION_INTERVAL);
  cfg.dealloc_interval = hs__setting_int(HS_SET_HEAP_PROFILE_DEALLOCATION_INTERVAL);
  cfg.inuse_interval = hs__setting_int(HS_SET_HEAP_PROFILE_INUSE_INTERVAL);
  cfg.time_interval_ns = hs__setting_int(HS_SET_HEAP_PROFILE_TIME_INTERVAL) * 1000000000ll;
  /* Batch at most 1/64 of the smallest byte interval (1 MiB at most). */
  int64_t fb = 1 << 20;
  int64_t iv[3] = {cfg.alloc_interval, cfg.dealloc_interval, cfg.inuse_interval};
  for (int i = 0; i < 3; i++)
    if (iv[i] > 0 && iv[i] / 64 < fb) fb = iv[i] / 64;
  flush_bytes = fb > 0 ? fb : 1;
  use_pid = use_pid || hs__setting_bool(HS_SET_HEAPPROFILE_USE_PID);
  /* HEAP_PROFILE_ONLY_MMAP: regions only; the malloc family is not even
   * recorded for the profiler (as gperftools, it implies HEAP_PROFILE_MMAP). */
  bool only_mmap = hs__setting_bool(HS_SET_HEAP_PROFILE_ONLY_MMAP);
  hs__mmap_profiling = only_mmap || hs__setting_bool(HS_SET_HEAP_PROFILE_MMAP);
  hs__mmap_log = hs__setting_bool(HS_SET_HEAP_PROFILE_MMAP_LOG);
  cfg.proto = want_proto();
  last_alloc = atomic_load(&total_alloc);
  last_free = atomic_load(&total_free);
  high_water = 0;
  last_time = hs__now_ns();
  dumps_stopped = false;
  verbose = hs__setting_int(HS_SET_HEAPSCOPE_VERBOSE) > 0;
  hs__count_buckets = !only_mmap;
  hs__record_set_listener(hs__heapprof_on_event);
  /* HEAPPROFILE took its use of recording at the first malloc (not with
   * HEAP_PROFILE_ONLY_MMAP). */
  bool early = hs__record_take_early_profiler_use();
  if (only_mmap) {
    if (early) hs__recording_stop();
  } else {
    if (!early && !holds_recording) hs__recording_start(false);
    holds_recording = true;
  }
  atomic_store(&running, 1);
  /* gperftools dumps at exit whenever the profiler is running, however it
   * was started (HeapProfileEndWriter). */
  if (!atexit_registered) {
    atexit_registered = true;
    atexit(at_exit_dump);
  }
}

HS_EXPORT void HeapProfilerStart(const char *p) {
  if (!p || !*p) {
    hs__errorf("HeapProfilerStart: empty prefix; heap profiler not started");
    return;
  }
  hs__record_init();
  hs__lock(&prof_lock);
  start(p);
  hs__unlock(&prof_lock);
}

HS_EXPORT int IsHeapProfilerRunning(void) { return atomic_load(&running); }
bool hs__heapprof_running(void) { return atomic_load_explicit(&running, memory_order_relaxed); }

/* Stops dumping and, unless the leak checker still needs them, recording:
 * a stopped profiler costs nothing afterwards. */
HS_EXPORT void HeapProfilerStop(void) {
  hs__lock(&prof_lock);
  if (atomic_exchange(&running, 0) && holds_recording) {
    holds_recording = false;
    hs__recording_stop();
  }
  hs__unlock(&prof_lock);
}

HS_EXPORT void HeapProfilerDump(const char *reason) {
  dump(reason ? reason : "explicit dump", false);
}

/* ---- GetHeapProfile, MallocExtension::GetHeapSample ----------------------
 * While the profiler runs, the profile is its counters, as dumps are. When
 * it does not, it is the live heap as the records know it (HEAPCHECK,
 * TCMALLOC_SAMPLE_PARAMETER), counted by one walk of the records; with no
 * records it is a valid empty profile. Either way the caller gets a
 * profile to free(), never NULL (gperftools returns one too). */
static counts_t *live_table; /* by bucket id - 1; guarded by dump_lock */
static uint32_t live_max;

static void count_live(uintptr_t p, size_t size, hs_rec_t *rec, void *ctx) {
  uint32_t id = rec->bucket;
  if (!id || id > live_max) return; /* a stack interned after the table was sized */
  live_table[id - 1].inuse_objs++;
  live_table[id - 1].inuse_bytes += (int64_t)size;
}

static counts_t live_counts(const hs_bucket_t *b) {
  counts_t zero = {0, 0, 0, 0};
  return b->id && b->id <= live_max ? live_table[b->id - 1] : zero;
}

/* When the table cannot be made: an empty profile rather than none. */
static counts_t no_counts(const hs_bucket_t *b) {
  counts_t zero = {0, 0, 0, 0};
  return zero;
}
static void no_proto_counts(const hs_bucket_t *b, int64_t out[4]) {
  out[0] = out[1] = out[2] = out[3] = 0;
}

static void live_proto_counts(const hs_bucket_t *b, int64_t out[4]) {
  counts_t c = live_counts(b);
  out[0] = out[2] = c.inuse_objs;
  out[1] = out[3] = c.inuse_bytes;
}

/* Fills live_table (mmap'd: the walk holds the page heap lock, under
 * which the internal heap cannot grow). Sampled records are scaled back
 * to estimates, as bucket_counts does. */
static bool live_fill(void) {
  live_max = hs__depot_max_id();
  live_table = hs__os_map(((size_t)live_max + 1) * sizeof *live_table);
  if (!live_table) return false;
  if (atomic_load(&hs__recording)) {
    hs__record_lock_world();
    hs__for_each_live(0, count_live, NULL);
    hs__record_unlock_world();
  }
  for (uint32_t i = 0; i < live_max; i++) {
    counts_t *c = &live_table[i];
    if (hs__sample_bytes > 0 && c->inuse_objs > 0) {
      double avg = (double)c->inuse_bytes / (double)c->inuse_objs;
      double scale = 1.0 / (1.0 - hs__exp(-avg / (double)hs__sample_bytes));
      c->inuse_objs = (int64_t)(c->inuse_objs * scale + 0.5);
      c->inuse_bytes = (int64_t)(c->inuse_bytes * scale + 0.5);
    }
    c->alloc_objs = c->inuse_objs;
    c->alloc_bytes = c->inuse_bytes;
  }
  return true;
}

static void live_free(void) {
  if (live_table) hs__os_unmap(live_table, ((size_t)live_max + 1) * sizeof *live_table);
  live_table = NULL;
  live_max = 0;
}

/* A profile.proto read back from a memfd: the writer streams into an fd. */
static bool proto_to_sb(hs_prof_counts_fn counts, hs_strbuf_t *sb) {
  int fd = (int)memfd_create("heapscope-profile", MFD_CLOEXEC);
  if (fd < 0) {
    hs__errorf("GetHeapProfile: memfd_create: %s", strerror(errno));
    return false;
  }
  bool ok = hs__heapprof_write_proto(fd, counts, "GetHeapProfile", NULL, 0);
  char tmp[4096];
  ssize_t n;
  if (ok && lseek(fd, 0, SEEK_SET) == 0)
    while ((n = read(fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))
      if (n > 0) hs__sb_append(sb, tmp, (size_t)n);
  close(fd);
  return ok && !sb->oom;
}

/* The profile into sb; live: from the records (see above). false when
 * this thread is already writing a profile (a signal handler interrupted
 * it): dump_lock is then this thread's own. */
static bool profile_to_sb(hs_strbuf_t *sb, bool live, bool proto) {
  if (dumping) {
    hs__errorf("heap profile requested while this thread is writing one "
               "(from a signal handler?); returning NULL");
    return false;
  }
  int cancel = hs__cancel_disable(); /* a cancelled thread must not keep dump_lock */
  set_dumping(true);
  hs__runtime_enter();
  hs__lock(&dump_lock);
  bool have_live = live && live_fill();
  if (proto) {
    proto_to_sb(live ? (have_live ? live_proto_counts : no_proto_counts) : proto_counts, sb);
  } else {
    writer_t *w = dump_writer_open(-1, sb);
    write_profile(w, live ? (have_live ? live_counts : no_counts) : bucket_counts, NULL);
    w_flush(w);
    w->sb = NULL;
  }
  live_free();
  hs__unlock(&dump_lock);
  hs__runtime_leave();
  set_dumping(false);
  hs__cancel_restore(cancel);
  return true;
}

/* The caller frees the result with free(), so it must be an ordinary,
 * recorded user block (as gperftools' malloc'd buffer): an unrecorded block
 * in a slot whose record says "freed" would make that free() abort as a
 * double free whenever records are complete. hs__alloc_recorded attributes
 * it to the caller of the exported function that calls this inline. */
#define HS_PROFILE_RESULT(sb, len_out)                                  \
  ({                                                                    \
    char *out_ = NULL;                                                  \
    if (!(sb).oom) {                                                    \
      out_ = hs__alloc_recorded((sb).len + 1, 0, false);                \
      if (out_) {                                                       \
        if ((sb).len) memcpy(out_, (sb).data, (sb).len);                \
        out_[(sb).len] = '\0';                                          \
      }                                                                 \
    }                                                                   \
    if (len_out) *(len_out) = out_ ? (sb).len : 0;                      \
    hs__sb_free(&(sb));                                                 \
    out_;                                                               \
  })

/* gperftools' GetHeapProfile. With HEAPSCOPE_PROFILE_FORMAT=proto the
 * result is a (gzipped) profile.proto, binary: heapscope_heap_profile
 * gives its length. */
HS_EXPORT char *GetHeapProfile(void) {
  hs__record_init();
  hs_strbuf_t sb = {0};
  if (!profile_to_sb(&sb, !atomic_load(&running), want_proto())) return NULL;
  return HS_PROFILE_RESULT(sb, (size_t *)NULL);
}

HS_EXPORT char *heapscope_heap_profile(size_t *len) {
  hs__record_init();
  hs_strbuf_t sb = {0};
  if (!profile_to_sb(&sb, !atomic_load(&running), want_proto())) return NULL;
  return HS_PROFILE_RESULT(sb, len);
}

/* The live recorded objects by stack, always as text (what tcmalloc's
 * GetHeapSample gives with TCMALLOC_SAMPLE_PARAMETER). */
HS_EXPORT char *heapscope_heap_sample(size_t *len) {
  hs__record_init();
  if (!atomic_load(&hs__recording)) {
    static bool warned;
    if (!warned)
      hs__errorf("GetHeapSample: no allocation is sampled, the profile is empty (set "
                 "TCMALLOC_SAMPLE_PARAMETER, e.g. 524288, or HEAPCHECK, or HEAPPROFILE)");
    warned = true;
  }
  hs_strbuf_t sb = {0};
  if (!profile_to_sb(&sb, true, false)) return NULL;
  return HS_PROFILE_RESULT(sb, len);
}

/* heapscope_* spellings of the same controls. */
HS_EXPORT void heapscope_profiler_start(const char *p) { HeapProfilerStart(p); }
HS_EXPORT void heapscope_profiler_stop(void) { HeapProfilerStop(); }
HS_EXPORT void heapscope_profiler_dump(const char *reason) { HeapProfilerDump(reason); }
/* A harness other than the CMocka adapter names its tests: a test's blocks
 * are those born from a generation opened here (as the adapter's snapshot
 * opens one); the next call, or a NULL name, closes its range. */
HS_EXPORT void heapscope_profiler_set_test(const char *group, const char *name) {
  if (!name) {
    hs__heapprof_set_test(NULL, NULL, 0);
    return;
  }
  if (!(atomic_load_explicit(&running, memory_order_relaxed) || per_test_wanted) ||
      !hs__count_buckets)
    return; /* no generation opened for nothing */
  hs__heapprof_set_test(group, name, atomic_fetch_add(&hs__generation, 1) + 1);
}

/* ---- one test's own heap profile (HEAPSCOPE_TEST_PROFILE_DIR) ---- */

void hs__heapprof_per_test(void) {
  per_test_wanted = true;
  hs__count_buckets = true;
}

int hs__heapprof_write_test(const char *path) {
  uint32_t test = hs__test_buckets_current();
  if (!test) return 0;
  int rc = 0, saved = 0;
  set_dumping(true);
  hs__runtime_enter();
  hs__lock(&dump_lock);
  size_t n;
  hs_heap_test_sample_t *ts = test_split(test, &n);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    saved = errno;
    rc = -1;
  } else {
    writer_t *w = dump_writer_open(fd, NULL);
    hs__write_error = 0;
    counts_t total = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
      total.inuse_objs += ts[i].c[0];
      total.inuse_bytes += ts[i].c[1];
      total.alloc_objs += ts[i].c[2];
      total.alloc_bytes += ts[i].c[3];
    }
    w_printf(w, "heap profile: ");
    write_line(w, &total);
    w_printf(w, " heapprofile\n");
    for (size_t i = 0; i < n; i++) {
      hs_bucket_t *b = hs__depot_get(ts[i].bucket);
      if (!b || ts[i].c[2] <= 0) continue;
      write_record(w, &(counts_t){ts[i].c[0], ts[i].c[1], ts[i].c[2], ts[i].c[3]}, b);
    }
    write_maps(w);
    w_flush(w);
    bool failed = w->failed;
    saved = hs__write_error ? hs__write_error : EIO;
    if (close(fd) != 0 && !failed) {
      failed = true;
      saved = errno;
    }
    if (failed) unlink(path);
    rc = failed ? -1 : 1;
  }
  hs__arena_free(ts);
  hs__unlock(&dump_lock);
  hs__runtime_leave();
  set_dumping(false);
  if (rc < 0) errno = saved;
  return rc;
}

void hs__heapprof_set_test(const char *group, const char *name, uint32_t gen) {
  if (!(atomic_load_explicit(&running, memory_order_relaxed) || per_test_wanted) ||
      !hs__count_buckets)
    return;
  if (name) hs__test_buckets_begin(group, name, gen);
  else hs__test_buckets_end();
}

static void at_exit_dump(void) {
  if (atomic_load(&running)) dump("exiting", true);
}

void hs__heapprof_init(void) {
  const char *p = hs__setting_str(HS_SET_HEAPPROFILE);
  if (p) {
    hs__lock(&prof_lock);
    start(p);
    hs__unlock(&prof_lock);
  }
  hs__heapprof_signal_init();
}

/* In a forked child (its locks were reset by core/api/runtime.c). */
void hs__heapprof_postfork_child(void) {
  use_pid = true; /* children write PREFIX_<pid>.NNNN.heap, as gperftools */
  atomic_store(&dump_count, 0);
  hs__heapprof_signal_postfork_child();
}
