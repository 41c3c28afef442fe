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

typedef struct prof_config {
  int64_t alloc_interval, dealloc_interval, inuse_interval, time_interval_ns;
  bool proto; /* HEAPSCOPE_PROFILE_FORMAT=proto */
} prof_config_t;

static prof_config_t cfg;
static char prefix[4096];
static _Atomic int running;
static bool holds_recording; /* this profiler's use of recording */
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

typedef struct counts {
  int64_t inuse_objs, inuse_bytes, alloc_objs, alloc_bytes;
} counts_t;

/* Sampled profiles are scaled back to estimates here, so every consumer
 * reads plain numbers and the header can say `heapprofile` (no scaling). */
static counts_t bucket_counts(const hs_bucket_t *b) {
  counts_t c;
  int64_t allocs = (int64_t)atomic_load_explicit(&b->allocs, memory_order_relaxed);
  int64_t frees = (int64_t)atomic_load_explicit(&b->frees, memory_order_relaxed);
  int64_t abytes = (int64_t)atomic_load_explicit(&b->alloc_bytes, memory_order_relaxed);
  int64_t fbytes = (int64_t)atomic_load_explicit(&b->free_bytes, memory_order_relaxed);
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

static void write_profile(writer_t *w) {
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
    if (b) c = bucket_counts(b);
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
    counts_t c = snap ? snap[id - 1] : bucket_counts(b);
    if (c.alloc_objs == 0) continue;
    write_line(w, &c);
    for (uint32_t i = 0; i < b->depth; i++)
      w_printf(w, " 0x%016lx", (unsigned long)b->pcs[i]);
    w_printf(w, "\n");
  }
  hs__arena_free(snap);
  write_maps(w);
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
  if (cfg.proto) {
    failed = !hs__heapprof_write_proto(fd, proto_counts, reason);
  } else {
    writer_t *w = &dump_writer;
    w->fd = fd;
    w->len = 0;
    w->failed = false;
    w->sb = NULL;
    write_profile(w);
    w_flush(w);
    failed = w->failed;
  }
  if (close(fd) != 0 && !failed) {
    failed = true;
    hs__write_error = errno;
  }
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
  hs__mmap_profiling = hs__setting_bool(HS_SET_HEAP_PROFILE_MMAP);
  const char *fmt = hs__setting_str(HS_SET_HEAPSCOPE_PROFILE_FORMAT);
  cfg.proto = false;
  if (fmt && !strcmp(fmt, "proto")) cfg.proto = true;
  else if (fmt && *fmt && strcmp(fmt, "text") && strcmp(fmt, "legacy"))
    hs__errorf("invalid HEAPSCOPE_PROFILE_FORMAT='%s' (expected text or proto); using text", fmt);
  last_alloc = atomic_load(&total_alloc);
  last_free = atomic_load(&total_free);
  high_water = 0;
  last_time = hs__now_ns();
  dumps_stopped = false;
  verbose = hs__setting_int(HS_SET_HEAPSCOPE_VERBOSE) > 0;
  hs__count_buckets = true;
  hs__record_set_listener(hs__heapprof_on_event);
  /* HEAPPROFILE took its use of recording at the first malloc. */
  if (!hs__record_take_early_profiler_use() && !holds_recording) hs__recording_start(false);
  holds_recording = true;
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

HS_EXPORT char *GetHeapProfile(void) {
  if (!atomic_load(&running)) return NULL;
  if (dumping) {
    hs__errorf("GetHeapProfile called while this thread is writing a heap profile "
               "(from a signal handler?); returning NULL");
    return NULL;
  }
  hs_strbuf_t sb = {0};
  set_dumping(true);
  hs__runtime_enter();
  hs__lock(&dump_lock);
  writer_t *w = &dump_writer;
  w->len = 0;
  w->failed = false;
  w->sb = &sb;
  write_profile(w);
  w_flush(w);
  w->sb = NULL;
  hs__unlock(&dump_lock);
  hs__runtime_leave();
  set_dumping(false);
  char *out = NULL;
  if (!sb.oom && sb.data) {
    /* The caller frees it with free(), so it must be an ordinary, recorded
     * user block (as gperftools' malloc'd buffer): an unrecorded block in a
     * slot whose record says "freed" would make that free() abort as a
     * double free whenever records are complete. hs__alloc_recorded
     * attributes it to GetHeapProfile's caller. */
    out = hs__alloc_recorded(sb.len + 1, 0, false);
    if (out) memcpy(out, sb.data, sb.len + 1);
  }
  hs__sb_free(&sb);
  return out;
}

/* heapscope_* spellings of the same controls. */
HS_EXPORT void heapscope_profiler_start(const char *p) { HeapProfilerStart(p); }
HS_EXPORT void heapscope_profiler_stop(void) { HeapProfilerStop(); }
HS_EXPORT void heapscope_profiler_dump(const char *reason) { HeapProfilerDump(reason); }

static void at_exit_dump(void) {
  if (atomic_load(&running)) dump("exiting", true);
}

void hs__heapprof_init(void) {
  const char *p = hs__setting_str(HS_SET_HEAPPROFILE);
  if (!p) return;
  hs__lock(&prof_lock);
  start(p);
  hs__unlock(&prof_lock);
}

/* In a forked child (its locks were reset by core/api/runtime.c). */
void hs__heapprof_postfork_child(void) {
  use_pid = true; /* children write PREFIX_<pid>.NNNN.heap, as gperftools */
  atomic_store(&dump_count, 0);
}
