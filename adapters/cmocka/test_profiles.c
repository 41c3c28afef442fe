/* Per-test profile files (HEAPSCOPE_TEST_PROFILE_DIR, HEAPSCOPE_TEST_PROFILE_TOP).
 *
 * At each test's end (ts_measure), the test's own CPU profile (its samples
 * of the process's CPU profile, a legacy binary profile: DIR/BASE.prof) and
 * heap profile (its blocks, counted per stack by core/record/test_buckets.c:
 * DIR/BASE.heap) are written, BASE being "GROUP.NAME" with every byte
 * outside [A-Za-z0-9._-] made '_'. Without CPUPROFILE the CPU profiler is
 * started for it, writing the whole process's profile to
 * DIR/heapscope-cpu.PID.prof; without HEAPPROFILE the heap's bucket
 * counters are turned on. A test with no CPU sample (too short to be
 * sampled) gets no .prof.
 *
 * With TOP=N only the N slowest tests (wall time) so far keep their files,
 * and every test over a budget: a test that enters the N slowest writes
 * its files and removes those of the one it pushes out, so the directory
 * holds the answer at every moment (a crash loses nothing) and memory is
 * O(N). */
#include "test_stats.h"

#include "core/base/settings.h"
#include "core/profile/cpuprof.h"
#include "core/profile/heapprof.h"

#include <errno.h>
#include <gperftools/profiler.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TP_BASE 240 /* bytes of a file's base name */

typedef struct kept {
  uint64_t wall_ns;
  char base[TP_BASE];
} kept_t;

static struct {
  int state;         /* 0 not read, 1 on, -1 off */
  const char *dir;
  long top;          /* 0: every test */
  kept_t *kept;      /* the slowest so far (top > 0) */
  long nkept;
  bool started;
} tp;

static bool parse_top(const char *s, long *out) {
  long v = 0;
  if (!s || !*s) return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 1000000) return false;
    v = v * 10 + (*s - '0');
  }
  if (v < 1 || v > 1000000) return false;
  *out = v;
  return true;
}

bool tp_wanted(void) {
  if (tp.state) return tp.state > 0;
  tp.state = -1;
  const char *dir = hs__setting_str(HS_SET_HEAPSCOPE_TEST_PROFILE_DIR);
  const char *top = hs__setting_str(HS_SET_HEAPSCOPE_TEST_PROFILE_TOP);
  if (!dir) {
    if (top) hs__errorf("HEAPSCOPE_TEST_PROFILE_TOP is set without HEAPSCOPE_TEST_PROFILE_DIR; ignored");
    return false;
  }
  if (top && !parse_top(top, &tp.top)) {
    hs__errorf("invalid HEAPSCOPE_TEST_PROFILE_TOP='%s' (expected a number of tests, 1 to "
               "1000000); per-test profiles off", top);
    return false;
  }
  struct stat st;
  if (stat(dir, &st) != 0 && mkdir(dir, 0777) != 0 && errno != EEXIST) {
    hs__errorf("HEAPSCOPE_TEST_PROFILE_DIR=%s: cannot create it: %s; per-test profiles off", dir,
               strerror(errno));
    return false;
  }
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
    hs__errorf("HEAPSCOPE_TEST_PROFILE_DIR=%s: not a writable directory; per-test profiles off",
               dir);
    return false;
  }
  if (tp.top) {
    tp.kept = hs__arena_alloc((size_t)tp.top * sizeof *tp.kept);
    if (!tp.kept) {
      hs__errorf("out of memory for HEAPSCOPE_TEST_PROFILE_TOP=%ld; per-test profiles off", tp.top);
      return false;
    }
  }
  tp.dir = dir;
  tp.state = 1;
  return true;
}

void tp_start(void) {
  if (!tp_wanted() || tp.started) return;
  tp.started = true;
  hs__heapprof_per_test();
  if (!hs__cpuprof_running()) {
    char path[4200];
    hs__snprintf(path, sizeof path, "%s/heapscope-cpu.%d.prof", tp.dir, (int)getpid());
    if (!ProfilerStart(path))
      hs__errorf("HEAPSCOPE_TEST_PROFILE_DIR: cannot start the CPU profiler (%s); per-test "
                 "heap profiles only", path);
  }
}

static void base_name(char *out, const char *group, const char *name) {
  size_t k = 0;
  const char *parts[2] = {group && *group ? group : NULL, name && *name ? name : "unnamed"};
  for (int p = 0; p < 2; p++) {
    if (!parts[p]) continue;
    if (k && k + 1 < TP_BASE) out[k++] = '.';
    for (const char *c = parts[p]; *c && k + 1 < TP_BASE; c++) {
      bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '.' || *c == '_' || *c == '-';
      out[k++] = ok ? *c : '_';
    }
  }
  if (out[0] == '.') out[0] = '_'; /* never a hidden file, never ".." */
  out[k] = '\0';
}

static void path_of(char *out, size_t size, const char *base, const char *ext) {
  hs__snprintf(out, size, "%s/%s.%s", tp.dir, base, ext);
}

static void write_files(const char *group, const char *name, const char *base) {
  char path[4400];
  path_of(path, sizeof path, base, "prof");
  int rc = hs__cpuprof_write_test(group, name, path);
  if (rc < 0) hs__errorf("cannot write the test's CPU profile %s: %s", path, strerror(errno));
  if (rc == 0) unlink(path); /* no sample: a file of an earlier run would mislead */
  path_of(path, sizeof path, base, "heap");
  if (hs__heapprof_write_test(path) < 0)
    hs__errorf("cannot write the test's heap profile %s: %s", path, strerror(errno));
}

static void remove_files(const char *base) {
  char path[4400];
  path_of(path, sizeof path, base, "prof");
  unlink(path);
  path_of(path, sizeof path, base, "heap");
  unlink(path);
}

void tp_test_end(const char *group, const char *name, uint64_t wall_ns, bool over_budget) {
  if (tp.state <= 0 || !tp.started) return;
  int saved = errno;
  /* The writing is not the test's CPU time: its samples end here (the
   * adapter ends them right after anyway). */
  hs__cpuprof_set_test(NULL, NULL);
  char base[TP_BASE];
  base_name(base, group, name);
  if (!tp.top || over_budget) {
    write_files(group, name, base);
  } else if (tp.nkept < tp.top) {
    tp.kept[tp.nkept].wall_ns = wall_ns;
    memcpy(tp.kept[tp.nkept++].base, base, sizeof base);
    write_files(group, name, base);
  } else {
    long min = 0;
    for (long i = 1; i < tp.nkept; i++)
      if (tp.kept[i].wall_ns < tp.kept[min].wall_ns) min = i;
    if (wall_ns > tp.kept[min].wall_ns) {
      remove_files(tp.kept[min].base);
      tp.kept[min].wall_ns = wall_ns;
      memcpy(tp.kept[min].base, base, sizeof base);
      write_files(group, name, base);
    }
  }
  errno = saved;
}
