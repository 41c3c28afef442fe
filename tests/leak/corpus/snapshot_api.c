/* The snapshot/diff API (linked against libheapscope, run with
 * HEAPCHECK=local: recording on, no exit-time check).
 *   snapshot_api groups   -> NULL when nothing new leaked; the right groups,
 *                            totals, stacks and report when something did;
 *                            earlier leaks are not reported again.
 *   snapshot_api unrecorded -> run WITHOUT HEAPCHECK: recording starts from
 *                            code; a block allocated before that (never
 *                            recorded) still owns a new block: no leak.
 *   snapshot_api staleframe -> a "test" that leaks and returns, leaving copies
 *                            of the pointer in its dead stack frames (as any
 *                            -O0 code does); the diff taken right after it
 *                            returns must still report the leak (check.c
 *                            scrubs the stack for exactly this case).
 *   snapshot_api checkloop -> three "tests" in a row, each leaking one block,
 *                            checked with one result variable that is freed
 *                            after each diff (as an adapter does): each
 *                            diff must report its test's leak.
 *   snapshot_api bigheap [MiB] -> with a 1 GiB (default) live heap, time
 *                            heapscope_leaks_since() when nothing new is
 *                            live; prints the times, fails if the median
 *                            is >= 1 ms. Also times one diff that finds a
 *                            new leak (a full marking pass, for reference).
 * Prints "ALL OK" at the end when every check passed. */
#include "corpus.h"
#include <heapscope/heapscope.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures;
#define CHECK(cond, ...)                                                         \
  do {                                                                           \
    if (!(cond)) {                                                               \
      failures++;                                                                \
      printf("FAIL line %d: %s: ", __LINE__, #cond);                             \
      printf(__VA_ARGS__);                                                       \
      printf("\n");                                                              \
    }                                                                            \
  } while (0)

struct owner {
  char *buf;
  long pad;
};

static void *g_reachable;
static int owner_line, buffer_line;

NOINLINE char *snap_buffer(size_t n) {
  buffer_line = __LINE__ + 1;
  char *b = malloc(n);
  memset(b, 'b', n);
  return b;
}

NOINLINE struct owner *snap_owner(void) {
  owner_line = __LINE__ + 1;
  struct owner *o = malloc(sizeof *o);
  o->buf = snap_buffer(100);
  o->pad = 0;
  return o;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void expect_frame(uintptr_t pc, const char *func, int line) {
  char buf[512], want[64];
  int rc = heapscope_symbolize(pc, buf, sizeof buf);
  CHECK(rc == 0, "heapscope_symbolize returned %d", rc);
  snprintf(want, sizeof want, "snapshot_api.c:%d", line);
  CHECK(strncmp(buf, func, strlen(func)) == 0 && buf[strlen(func)] == ' ',
        "frame #0 is '%s', expected function %s", buf, func);
  CHECK(strstr(buf, want) != NULL, "frame #0 is '%s', expected %s", buf, want);
}

static int groups(void) {
  CHECK(heapscope_is_recording(), "recording is off (run with HEAPCHECK=local)");

  /* 1. Nothing allocated at all. */
  heapscope_snapshot_t s0 = heapscope_snapshot();
  CHECK(heapscope_leaks_since(&s0, HEAPSCOPE_MODE_NORMAL) == NULL, "empty diff not NULL");

  /* 2. Allocated and freed: nothing new is live. */
  heapscope_snapshot_t s1 = heapscope_snapshot();
  for (int i = 0; i < 1000; i++) free(malloc((size_t)(16 + i)));
  char *dup = strdup("freed");
  free(dup);
  dup = NULL; /* a dangling pointer in a live frame would keep the next 16 B block alive */
  CHECK(heapscope_leaks_since(&s1, HEAPSCOPE_MODE_NORMAL) == NULL, "clean diff not NULL");

  /* 3. One direct (16 B owner) + one indirect (100 B buffer) leak, and a new
   * block that is reachable from a global (not a leak in normal mode). */
  heapscope_snapshot_t s2 = heapscope_snapshot();
  corpus_touch(snap_owner());
  g_reachable = malloc(40);
  memset(g_reachable, 0, 40);
  heapscope_leaks_t *l = heapscope_leaks_since(&s2, HEAPSCOPE_MODE_NORMAL);
  CHECK(l != NULL, "leaks_since found nothing");
  if (l) {
    CHECK(l->group_count == 2, "group_count %zu", l->group_count);
    CHECK(l->bytes == 116 && l->objects == 2, "totals %zu B / %zu obj", l->bytes, l->objects);
    CHECK(l->direct_bytes == 16 && l->direct_objects == 1, "direct %zu/%zu", l->direct_bytes,
          l->direct_objects);
    CHECK(l->indirect_bytes == 100 && l->indirect_objects == 1, "indirect %zu/%zu",
          l->indirect_bytes, l->indirect_objects);
    if (l->group_count == 2) {
      heapscope_leak_group_t *d = &l->groups[0], *i = &l->groups[1];
      CHECK(d->direct && d->bytes == 16 && d->objects == 1, "group 0: direct=%d %zu B %zu obj",
            d->direct, d->bytes, d->objects);
      CHECK(!i->direct && i->bytes == 100 && i->objects == 1, "group 1: direct=%d %zu B %zu obj",
            i->direct, i->bytes, i->objects);
      CHECK(d->depth >= 2 && i->depth >= 3, "depths %zu %zu", d->depth, i->depth);
      if (d->depth) expect_frame(d->pcs[0], "snap_owner", owner_line);
      if (i->depth) expect_frame(i->pcs[0], "snap_buffer", buffer_line);
    }
    const char *r = heapscope_leaks_report(l);
    CHECK(strstr(r, "Direct leak of 16 byte(s) in 1 object(s) allocated from:") != NULL,
          "report lacks the direct block:\n%s", r);
    CHECK(strstr(r, "Indirect leak of 100 byte(s) in 1 object(s) allocated from:") != NULL,
          "report lacks the indirect block:\n%s", r);
    CHECK(strstr(r, "SUMMARY: heapscope: 116 byte(s) leaked in 2 allocation(s).") != NULL,
          "report lacks the summary:\n%s", r);
    heapscope_leaks_free(l);
  }

  /* 4. Draconian: the reachable new block counts too. */
  l = heapscope_leaks_since(&s2, HEAPSCOPE_MODE_DRACONIAN);
  CHECK(l != NULL, "draconian diff found nothing");
  if (l) {
    CHECK(l->bytes == 156 && l->objects == 3, "draconian totals %zu B / %zu obj", l->bytes,
          l->objects);
    heapscope_leaks_free(l);
  }

  /* 5. A later snapshot does not see the earlier leaks again. */
  heapscope_snapshot_t s3 = heapscope_snapshot();
  CHECK(heapscope_leaks_since(&s3, HEAPSCOPE_MODE_NORMAL) == NULL,
        "earlier leaks reported again after a new snapshot");

  /* 6. ...but the older snapshot still does. */
  l = heapscope_leaks_since(&s2, HEAPSCOPE_MODE_NORMAL);
  CHECK(l && l->objects == 2, "older snapshot lost its leaks");
  heapscope_leaks_free(l);
  return 0;
}

/* heapscope.h: objects allocated before heapscope_start_recording "are
 * scanned for pointers but never reported". */
struct parent {
  void *child;
};
static struct parent *g_parent;

NOINLINE void leak48(void) {
  void *p = malloc(48);
  memset(p, 0, 48);
  corpus_touch(p);
}

NOINLINE void scrub_dead_frames(void) {
  char pad[8192];
  memset(pad, 0, sizeof pad);
  corpus_touch(pad);
}

static int unrecorded(void) {
  CHECK(!heapscope_is_recording(), "recording already on (run without HEAPCHECK)");
  g_parent = malloc(sizeof *g_parent); /* unrecorded */
  g_parent->child = NULL;
  heapscope_start_recording();
  CHECK(heapscope_is_recording(), "heapscope_start_recording did not start recording");
  heapscope_snapshot_t s = heapscope_snapshot();
  g_parent->child = malloc(32);
  memset(g_parent->child, 0, 32);
  heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  CHECK(l == NULL, "a block owned by an unrecorded (pre-recording) block was reported:\n%s",
        heapscope_leaks_report(l));
  heapscope_leaks_free(l);
  l = NULL; /* see "checkloop": a dangling result pointer hides the next leak */
  /* Positive control: a really leaked block is still found. (Dead frames
   * are zeroed first: this case is about unrecorded blocks, not about stale
   * stack copies, which snapshot_api staleframe covers.) */
  heapscope_snapshot_t s2 = heapscope_snapshot();
  leak48();
  scrub_dead_frames();
  heapscope_leaks_t *l2 = heapscope_leaks_since(&s2, HEAPSCOPE_MODE_NORMAL);
  CHECK(l2 && l2->objects == 1 && l2->bytes == 48, "the real leak was not found");
  heapscope_leaks_free(l2);
  return 0;
}

/* The per-test loop as an adapter writes it: one result variable, freed
 * after each test. Each "test" leaks one block; every diff must report
 * exactly that block. */
NOINLINE void leak_n(size_t n) {
  void *p = malloc(n);
  memset(p, 0, n);
  corpus_touch(p);
}

static int checkloop(void) {
  /* Sizes of classes the program has not used yet, as a new test's data
   * structures often are: each leak starts a fresh span. */
  static const size_t sizes[] = {48, 720, 1500, 2900, 6000};
  heapscope_leaks_t *l = NULL;
  for (int test = 0; test < 5; test++) {
    heapscope_snapshot_t s = heapscope_snapshot();
    leak_n(sizes[test]);
    scrub_dead_frames();
    l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
    CHECK(l && l->objects == 1 && l->bytes == sizes[test], "test %d: its %zu-byte leak was %s",
          test, sizes[test], l ? "miscounted" : "missed");
    heapscope_leaks_free(l);
  }
  return 0;
}

/* Leaves copies of p in a dead 4 KiB frame below the caller. */
NOINLINE void spray(void *p) {
  void *volatile slots[512];
  corpus_touch((void *)slots);
  for (int i = 0; i < 512; i++) slots[i] = p;
}

NOINLINE void leaky_test_body(void) {
  void *p = malloc(24);
  memset(p, 0, 24);
  spray(p);
  p = NULL;
  corpus_touch(p);
}

static int staleframe(void) {
  heapscope_snapshot_t s = heapscope_snapshot();
  leaky_test_body();
  heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  CHECK(l && l->objects == 1 && l->bytes == 24,
        "the leak of the test that just returned was missed (stale copies in dead frames)");
  heapscope_leaks_free(l);
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int bigheap(size_t mib) {
  const size_t block = 4096;
  size_t count = mib * (1024 * 1024 / block);
  double t0 = now_us();
  void **blocks = malloc(count * sizeof *blocks);
  for (size_t i = 0; i < count; i++) {
    blocks[i] = malloc(block);
    memset(blocks[i], 0, 64);
  }
  double t_fill = now_us() - t0;
  enum { RUNS = 51 };
  double us[RUNS];
  for (int r = 0; r < RUNS; r++) {
    heapscope_snapshot_t s = heapscope_snapshot();
    for (int i = 0; i < 1000; i++) free(malloc((size_t)(16 + i % 512)));
    double a = now_us();
    heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
    us[r] = now_us() - a;
    CHECK(l == NULL, "a clean diff reported leaks");
    heapscope_leaks_free(l);
  }
  qsort(us, RUNS, sizeof us[0], cmp_double);
  /* For reference: a diff that does find something has to mark the heap. */
  heapscope_snapshot_t s = heapscope_snapshot();
  corpus_touch(malloc(24));
  double a = now_us();
  heapscope_leaks_t *l = heapscope_leaks_since(&s, HEAPSCOPE_MODE_NORMAL);
  double full = now_us() - a;
  CHECK(l && l->objects == 1, "the new leak was not found");
  heapscope_leaks_free(l);
  printf("bigheap live_mib=%zu objects=%zu fill_ms=%.1f\n", mib, count, t_fill / 1e3);
  printf("leaks_since_clean_us median=%.2f min=%.2f max=%.2f runs=%d\n", us[RUNS / 2], us[0],
         us[RUNS - 1], RUNS);
  printf("leaks_since_one_leak_ms=%.1f\n", full / 1e3);
  CHECK(us[RUNS / 2] < 1000.0, "median clean diff took %.1f us (limit 1000)", us[RUNS / 2]);
  for (size_t i = 0; i < count; i++) free(blocks[i]);
  free(blocks);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && !strcmp(argv[1], "groups")) groups();
  else if (argc > 1 && !strcmp(argv[1], "unrecorded")) unrecorded();
  else if (argc > 1 && !strcmp(argv[1], "staleframe")) staleframe();
  else if (argc > 1 && !strcmp(argv[1], "checkloop")) checkloop();
  else if (argc > 1 && !strcmp(argv[1], "bigheap")) bigheap(argc > 2 ? (size_t)atol(argv[2]) : 1024);
  else {
    fprintf(stderr, "usage: %s groups|unrecorded|staleframe|checkloop|bigheap [MiB]\n", argv[0]);
    return 2;
  }
  if (failures) {
    printf("%d check(s) failed\n", failures);
    return 1;
  }
  printf("ALL OK\n");
  return 0;
}
