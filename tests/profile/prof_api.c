/* The gperftools heap-profiler API, linked: HeapProfilerStart / Dump / Stop,
 * IsHeapProfilerRunning and GetHeapProfile. Run without HEAPPROFILE.
 * argv[1] = prefix. Writes PREFIX.0001.heap (after api_keep/api_temp),
 * PREFIX.0002.heap (after api_release), PREFIX.getheap (GetHeapProfile's
 * text, taken between the two). Expected numbers: tests/profile/run.sh. */
#include "proftest.h"

#include <fcntl.h>
#include <gperftools/heap-profiler.h>

static void *kept[6];

NOINLINE void before_start(void **out) { *out = malloc(5000); } /* never recorded */

NOINLINE void api_keep(void) { /* 6: 12000 [6: 12000], then 3: 6000 [6: 12000] */
  for (int i = 0; i < 6; i++) kept[i] = malloc(2000);
}

NOINLINE void api_temp(void) { /* 0: 0 [4: 2800] */
  for (int i = 0; i < 4; i++) {
    void *p = malloc(700);
    sink = p;
    free(p);
  }
}

NOINLINE void api_release(void) {
  for (int i = 0; i < 3; i++) free(kept[i]);
}

NOINLINE void after_stop(void) { /* the profiler is off: no dump shows it */
  sink = malloc(12345);
}

/* While stopped and nothing is recorded, GetHeapProfile gives a valid,
 * empty profile (gperftools gives a string too, never NULL). */
static void expect_empty_profile(const char *when) {
  char *s = GetHeapProfile();
  if (!s) die("GetHeapProfile returned NULL %s\n", when);
  long v[4] = {-1, -1, -1, -1};
  if (sscanf(s, "heap profile: %ld: %ld [%ld: %ld]", &v[0], &v[1], &v[2], &v[3]) != 4 ||
      v[0] || v[1] || v[2] || v[3] || !strstr(s, "\nMAPPED_LIBRARIES:\n"))
    die("GetHeapProfile %s: not an empty profile:\n%.200s\n", when, s);
  free(s);
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: prof_api PREFIX\n");
  const char *prefix = argv[1];
  char path[4200];
  /* Under HEAPPROFILE the profiler runs from the start and dumps there. */
  const char *env = getenv("HEAPPROFILE");
  if (env && *env) {
    prefix = env;
    if (!IsHeapProfilerRunning()) die("HEAPPROFILE set but not running\n");
  } else {
    if (IsHeapProfilerRunning()) die("running before HeapProfilerStart\n");
    HeapProfilerStart(""); /* refused with one heapscope: line */
    if (IsHeapProfilerRunning()) die("HeapProfilerStart(\"\") started the profiler\n");
    expect_empty_profile("before HeapProfilerStart");
  }

  void *pre;
  before_start(&pre);
  HeapProfilerStart(prefix);
  if (!IsHeapProfilerRunning()) die("not running after HeapProfilerStart\n");
  api_keep();
  api_temp();
  free(pre); /* allocated before the start: must not disturb the counts */
  HeapProfilerDump("first");
  if (!exists(dump_name(path, sizeof path, prefix, 1, "heap"))) die("no first dump\n");

  /* GetHeapProfile: the caller frees the string with free(). Several
   * rounds, with same-sized blocks recorded and freed in between, so the
   * string lands in a slot whose record says "freed". */
  char *s = GetHeapProfile();
  if (!s || strncmp(s, "heap profile:", 13)) die("GetHeapProfile: bad text\n");
  snprintf(path, sizeof path, "%s.getheap", prefix);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) die("write %s\n", path);
  close(fd);
  size_t len = strlen(s);
  free(s);
  for (int round = 0; round < 3; round++) {
    void *same[32];
    for (int i = 0; i < 32; i++) same[i] = malloc(len + 1);
    for (int i = 0; i < 32; i++) free(same[i]);
    s = GetHeapProfile();
    if (!s) die("GetHeapProfile failed\n");
    free(s);
  }

  api_release();
  HeapProfilerDump("second");
  if (!exists(dump_name(path, sizeof path, prefix, 2, "heap"))) die("no second dump\n");

  HeapProfilerStop();
  if (IsHeapProfilerRunning()) die("running after HeapProfilerStop\n");
  expect_empty_profile("after HeapProfilerStop");
  after_stop();
  HeapProfilerDump("after stop"); /* no-op */
  if (exists(dump_name(path, sizeof path, prefix, 3, "heap"))) die("dump after stop\n");
  say("api ok\n");
  return 0; /* stopped: no dump at exit either */
}
