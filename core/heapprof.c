/* Heap profiler: gperftools' HEAPPROFILE, written from the profile table.
 *
 * Dumps use gperftools' legacy text format (header, one line per stack
 * bucket, then MAPPED_LIBRARIES: and /proc/self/maps), which both Go pprof
 * and gperftools' perl pprof parse. Writing never allocates from the user
 * heap and takes no allocator lock: buckets are read with atomic loads, and
 * text goes through a static buffer guarded by dump_lock. A dump triggered
 * from inside malloc only ever trylocks, so it can not deadlock against a
 * dump in progress on another thread (it is skipped, as gperftools does). */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gperftools/heap-profiler.h>

typedef struct prof_config {
  int64_t alloc_interval, dealloc_interval, inuse_interval, time_interval_ns;
} prof_config_t;

static prof_config_t cfg;
static char prefix[4096];
static _Atomic int running;
static _Atomic int dump_count;
static hs_lock_t dump_lock;
static bool use_pid;
static bool warned_unwritable;
static _Atomic int64_t total_alloc, total_free;
static int64_t last_alloc, last_free, high_water;
static uint64_t last_time;
static _Atomic uint32_t events;

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
    double scale = 1.0 / (1.0 - exp(-avg / (double)hs__sample_bytes));
    c.inuse_objs = (int64_t)(c.inuse_objs * scale + 0.5);
    c.inuse_bytes = (int64_t)(c.inuse_bytes * scale + 0.5);
    c.alloc_objs = (int64_t)(c.alloc_objs * scale + 0.5);
    c.alloc_bytes = (int64_t)(c.alloc_bytes * scale + 0.5);
  }
  return c;
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
  counts_t total = {0, 0, 0, 0};
  for (uint32_t id = 1; id <= max; id++) {
    hs_bucket_t *b = hs__depot_get(id);
    if (!b) continue;
    counts_t c = bucket_counts(b);
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
    counts_t c = bucket_counts(b);
    if (c.alloc_objs == 0) continue;
    write_line(w, &c);
    for (uint32_t i = 0; i < b->depth; i++)
      w_printf(w, " 0x%016lx", (unsigned long)b->pcs[i]);
    w_printf(w, "\n");
  }
  write_maps(w);
}

/* Called with dump_lock held. */
static void dump_locked(const char *reason) {
  if (!atomic_load(&running)) return;
  int n = atomic_fetch_add(&dump_count, 1) + 1;
  char path[4200];
  if (use_pid)
    hs__snprintf(path, sizeof path, "%s_%d.%04d.heap", prefix, (int)getpid(), n);
  else
    hs__snprintf(path, sizeof path, "%s.%04d.heap", prefix, n);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (!warned_unwritable)
      hs__errorf("cannot write heap profile %s: %s; profiling continues without dumps",
                 path, strerror(errno));
    warned_unwritable = true;
    return;
  }
  hs__errorf("dumping heap profile to %s (%s)", path, reason);
  writer_t *w = &dump_writer;
  w->fd = fd;
  w->len = 0;
  w->failed = false;
  w->sb = NULL;
  write_profile(w);
  w_flush(w);
  if (w->failed) hs__errorf("short write to heap profile %s", path);
  close(fd);
  last_alloc = atomic_load(&total_alloc);
  last_free = atomic_load(&total_free);
  last_time = hs__now_ns();
}

static void dump(const char *reason, bool blocking) {
  int saved = errno;
  if (blocking) hs__lock(&dump_lock);
  else if (!hs__trylock(&dump_lock)) return;
  hs__runtime_enter();
  dump_locked(reason);
  hs__runtime_leave();
  hs__unlock(&dump_lock);
  errno = saved;
}

static void check_triggers(void) {
  int64_t a = atomic_load_explicit(&total_alloc, memory_order_relaxed);
  int64_t f = atomic_load_explicit(&total_free, memory_order_relaxed);
  char reason[128];
  reason[0] = 0;
  if (cfg.alloc_interval > 0 && a - last_alloc >= cfg.alloc_interval)
    hs__snprintf(reason, sizeof reason, "%lld MB allocated", (long long)(a >> 20));
  else if (cfg.dealloc_interval > 0 && f - last_free >= cfg.dealloc_interval)
    hs__snprintf(reason, sizeof reason, "%lld MB freed", (long long)(f >> 20));
  else if (cfg.inuse_interval > 0 && a - f > high_water + cfg.inuse_interval) {
    high_water = a - f;
    hs__snprintf(reason, sizeof reason, "%lld MB in use", (long long)((a - f) >> 20));
  } else if (cfg.time_interval_ns > 0 &&
             (atomic_fetch_add_explicit(&events, 1, memory_order_relaxed) & 1023) == 0 &&
             hs__now_ns() - last_time >= (uint64_t)cfg.time_interval_ns)
    hs__snprintf(reason, sizeof reason, "%lld sec since the last dump",
                 (long long)(cfg.time_interval_ns / 1000000000));
  if (reason[0]) dump(reason, false);
}

void hs__heapprof_on_alloc(size_t n) {
  if (!atomic_load_explicit(&running, memory_order_relaxed)) return;
  atomic_fetch_add_explicit(&total_alloc, (int64_t)n, memory_order_relaxed);
  check_triggers();
}

void hs__heapprof_on_free(size_t n) {
  if (!atomic_load_explicit(&running, memory_order_relaxed)) return;
  atomic_fetch_add_explicit(&total_free, (int64_t)n, memory_order_relaxed);
  if (cfg.dealloc_interval > 0) check_triggers();
}

static void start(const char *p) {
  if (atomic_load(&running)) return;
  size_t len = strlen(p);
  if (len >= sizeof prefix - 32) {
    hs__errorf("HEAPPROFILE prefix is too long (%zu bytes); heap profiler not started", len);
    return;
  }
  memcpy(prefix, p, len + 1);
  cfg.alloc_interval = hs__env_int("HEAP_PROFILE_ALLOCATION_INTERVAL", 1ll << 30, 0, 1ll << 50);
  cfg.dealloc_interval = hs__env_int("HEAP_PROFILE_DEALLOCATION_INTERVAL", 0, 0, 1ll << 50);
  cfg.inuse_interval = hs__env_int("HEAP_PROFILE_INUSE_INTERVAL", 100ll << 20, 0, 1ll << 50);
  cfg.time_interval_ns = hs__env_int("HEAP_PROFILE_TIME_INTERVAL", 0, 0, 1ll << 31) * 1000000000ll;
  use_pid = use_pid || hs__env_bool("HEAPPROFILE_USE_PID", false);
  last_alloc = atomic_load(&total_alloc);
  last_free = atomic_load(&total_free);
  high_water = 0;
  last_time = hs__now_ns();
  warned_unwritable = false;
  hs__recording_start();
  atomic_store(&running, 1);
}

HS_EXPORT void HeapProfilerStart(const char *p) {
  if (!p || !*p) {
    hs__errorf("HeapProfilerStart: empty prefix; heap profiler not started");
    return;
  }
  hs__ensure_init();
  start(p);
}

HS_EXPORT int IsHeapProfilerRunning(void) { return atomic_load(&running); }

HS_EXPORT void HeapProfilerStop(void) { atomic_store(&running, 0); }

HS_EXPORT void HeapProfilerDump(const char *reason) {
  dump(reason ? reason : "explicit dump", true);
}

HS_EXPORT char *GetHeapProfile(void) {
  if (!atomic_load(&running)) return NULL;
  hs_strbuf_t sb = {0};
  hs__lock(&dump_lock);
  hs__runtime_enter();
  writer_t *w = &dump_writer;
  w->len = 0;
  w->failed = false;
  w->sb = &sb;
  write_profile(w);
  w_flush(w);
  w->sb = NULL;
  hs__runtime_leave();
  hs__unlock(&dump_lock);
  char *out = NULL;
  if (!sb.oom && sb.data) {
    out = hs__alloc(sb.len + 1); /* the caller frees it with free() */
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
  const char *p = hs__getenv("HEAPPROFILE");
  if (p && *p) {
    start(p);
    if (atomic_load(&running)) atexit(at_exit_dump);
  }
}

void hs__heapprof_prefork(void) { hs__lock(&dump_lock); }
void hs__heapprof_postfork(bool child) {
  if (child) {
    hs__lock_reset(&dump_lock);
    use_pid = true; /* children write PREFIX_<pid>.NNNN.heap, as gperftools */
    atomic_store(&dump_count, 0);
  } else {
    hs__unlock(&dump_lock);
  }
}
