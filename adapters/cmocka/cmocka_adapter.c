/* CMocka adapter: every test leak-checked on its own.
 *
 * Zero-change mode interposes CMocka's group runner, _cmocka_run_group_tests
 * (libheapscope is preloaded or linked before libcmocka, so the suite's call
 * binds here), and hands the real runner a copy of the test array whose
 * fixtures are ours:
 *
 *   our setup     snapshot (a new generation), then the test's own setup
 *   our test      the test's body, then its teardown (run here, in the test
 *                 phase, so that a leak fails the test as FAILED through
 *                 _fail(); teardown's frees are seen before the check), then
 *                 the leak check
 *   our teardown  if the body did not return normally (an assertion failed,
 *                 a skip): the test's teardown and the leak check, failing
 *                 through the teardown path (ERROR), so a test that both
 *                 fails and leaks reports both
 *
 * The report reaches CMocka through cm_print_error (exported by libcmocka
 * but not declared in cmocka.h 1.1.5), which collects the failure message
 * CMocka prints and writes into its XML/TAP/subunit output. Leaked objects
 * are then marked ignored so neither a later test nor the exit-time check
 * reports them again.
 *
 * CMUnitTest has no user-data slot, and CMocka runs the tests of a group in
 * array order on one thread, so our fixtures find their test through a
 * cursor advanced by our setup. We hand CMocka only the tests that will
 * run (HEAPSCOPE_CMOCKA_FILTER, CMocka 2.x's CMOCKA_TEST_FILTER and
 * CMOCKA_SKIP_FILTER, and the patterns given to cmocka_set_test_filter /
 * cmocka_set_skip_filter, which we also interpose), so the cursor and
 * CMocka's order agree.
 *
 * libcmocka is found with dlsym at run time: libheapscope has no link
 * dependency on it. */
#include "leakcheck/internal.h"
#include "core/profile/cpuprof.h"
#include "core/symbol/symbolize.h"

#include <dlfcn.h>
#include <heapscope/cmocka.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* CMocka's ABI (identical in 1.1.5 and 2.0). */
typedef void (*cm_test_fn)(void **state);
typedef int (*cm_fixture_fn)(void **state);
struct CMUnitTest {
  const char *name;
  cm_test_fn test_func;
  cm_fixture_fn setup_func;
  cm_fixture_fn teardown_func;
  void *initial_state;
};
typedef int (*run_group_fn)(const char *, const struct CMUnitTest *, size_t, cm_fixture_fn,
                            cm_fixture_fn);
typedef void (*print_error_fn)(const char *format, ...);
typedef void (*fail_fn)(const char *file, int line);
typedef void (*set_filter_fn)(const char *pattern);

typedef struct cm_api {
  run_group_fn run_group;
  print_error_fn print_error;
  fail_fn fail;
  set_filter_fn set_test_filter, set_skip_filter;
} cm_api_t;

static cm_api_t api;
static bool api_ready;
HS_EXPORT int _cmocka_run_group_tests(const char *, const struct CMUnitTest *, size_t,
                                      cm_fixture_fn, cm_fixture_fn);
HS_EXPORT void cm_print_error(const char *format, ...);
HS_EXPORT void cmocka_print_error(const char *format, ...);
HS_EXPORT void cmocka_set_test_filter(const char *pattern);
HS_EXPORT void cmocka_set_skip_filter(const char *pattern);

static void *find(const char *name, void *ours) {
  void *p = dlsym(RTLD_NEXT, name);
  if (!p) p = dlsym(RTLD_DEFAULT, name);
  return p == ours ? NULL : p; /* never our own interposer */
}

static void load_api(void) {
  if (api_ready) return;
  hs__runtime_enter(); /* dlsym may allocate its error state */
  api.run_group = (run_group_fn)find("_cmocka_run_group_tests", (void *)_cmocka_run_group_tests);
  api.print_error = (print_error_fn)find("cm_print_error", (void *)cm_print_error);
  if (!api.print_error)
    api.print_error = (print_error_fn)find("cmocka_print_error", (void *)cmocka_print_error);
  api.fail = (fail_fn)find("_fail", NULL);
  api.set_test_filter = (set_filter_fn)find("cmocka_set_test_filter", (void *)cmocka_set_test_filter);
  api.set_skip_filter = (set_filter_fn)find("cmocka_set_skip_filter", (void *)cmocka_set_skip_filter);
  hs__runtime_leave();
  api_ready = true;
}

/* ---- per-test state ------------------------------------------------------ */

typedef struct test_ctx {
  const struct CMUnitTest *orig;
  bool check;               /* leak-check this test */
} test_ctx_t;

typedef struct run_state {
  test_ctx_t *tests;
  size_t count, cursor;
  heapscope_mode_t mode;
  test_ctx_t *current;
  void **current_state;     /* &CMocka's state slot: one per test */
  lc_caller_t caller;       /* CMocka's frame that called our fixture */
  heapscope_snapshot_t snap;
  bool teardown_done;
  bool in_body;             /* the test's own body is running */
  bool body_checked;        /* its failure path already ran the check */
  bool skip_requested;
  long expect_objects;      /* -1: no expectation */
  const char *group;        /* CMocka's group name */
  bool label_samples;       /* the CPU profiler runs: name each test to it */
} run_state_t;

static run_state_t run; /* CMocka runs one group at a time, on one thread */
static char test_filter[256], skip_filter[256];

static bool glob_match(const char *p, const char *s) {
  for (; *p; p++, s++) {
    if (*p == '*') {
      while (*p == '*') p++;
      if (!*p) return true;
      for (; *s; s++)
        if (glob_match(p, s)) return true;
      return glob_match(p, s);
    }
    if (!*s || (*p != '?' && *p != *s)) return false;
  }
  return *s == '\0';
}

static bool matches_any(const char *list, const char *name) {
  char pat[256];
  while (list && *list) {
    size_t n = strcspn(list, ",");
    if (n && n < sizeof pat) {
      memcpy(pat, list, n);
      pat[n] = 0;
      if (glob_match(pat, name)) return true;
    }
    list += n;
    if (*list == ',') list++;
  }
  return false;
}

/* Location of the first symbolized frame with a file, for _fail(). */
typedef struct where {
  char file[512];
  int line;
} where_t;

static void where_cb(const hs_symbol_t *sym, void *ctx_) {
  where_t *w = ctx_;
  if (w->line || !sym->file || sym->line <= 0) return;
  hs__snprintf(w->file, sizeof w->file, "%s", sym->file);
  w->line = sym->line;
}

static void leak_location(heapscope_leaks_t *l, where_t *w) {
  memset(w, 0, sizeof *w);
  for (size_t g = 0; g < l->group_count && !w->line; g++) {
    const heapscope_leak_group_t *grp = &l->groups[g];
    const hs_bucket_t *b =
        grp->pcs ? (const hs_bucket_t *)((const char *)grp->pcs - offsetof(hs_bucket_t, pcs)) : NULL;
    for (size_t i = 0; b && i < grp->depth && !w->line; i++)
      hs__symbolize(grp->pcs[i], b->epoch, where_cb, w);
  }
}

/* cm_print_error formats into a 1 KiB buffer and mishandles longer text
 * (cmocka 1.1.5 reuses a consumed va_list), so the report goes in pieces
 * of whole lines under that size. */
static void print_long(const char *text) {
  while (*text) {
    size_t n = 0;
    while (text[n]) {
      const char *nl = strchr(text + n, '\n');
      size_t end = nl ? (size_t)(nl - text) + 1 : strlen(text);
      if (end > 900) {
        if (!n) n = 900;
        break;
      }
      n = end;
    }
    api.print_error("%.*s", (int)n, text);
    text += n;
  }
}

/* Hand the report to CMocka as the failure message. */
static void report_leaks(heapscope_leaks_t *l, const char *name, where_t *w) {
  api.print_error("heapscope: test '%s' leaked %zu byte(s) in %zu object(s)\n", name, l->bytes,
                  l->objects);
  print_long(heapscope_leaks_report(l));
  lc_emit_extras(l); /* JSON, GitHub annotations, leak profile */
  leak_location(l, w);
  heapscope_leaks_ignore(l);
}

/* The check after a test's teardown. Returns true if the test must fail;
 * *w says where. */
static bool check_current(where_t *w) {
  test_ctx_t *t = run.current;
  memset(w, 0, sizeof *w);
  if (!t || run.mode == HEAPSCOPE_MODE_OFF) return false;
  /* Roots on this thread: CMocka's frames from the one that called our
   * fixture upward, never ours: they lie over the test's dead frames. */
  heapscope_leaks_t *l = lc_leaks_since_caller(&run.snap, run.mode, &run.caller);
  if (!t->check || run.skip_requested) {
    /* Opted out: whatever it keeps is accepted, now and at exit. */
    heapscope_leaks_ignore(l);
    heapscope_leaks_free(l);
    return false;
  }
  if (run.expect_objects >= 0) {
    size_t got = l ? l->objects : 0;
    bool ok = got == (size_t)run.expect_objects;
    if (!ok) {
      api.print_error("heapscope: test '%s' was expected to leak %ld object(s) but leaked %zu\n",
                      t->orig->name, run.expect_objects, got);
      if (l) report_leaks(l, t->orig->name, w);
    } else if (l) {
      heapscope_leaks_ignore(l);
    }
    heapscope_leaks_free(l);
    return !ok;
  }
  if (!l) return false;
  report_leaks(l, t->orig->name, w);
  heapscope_leaks_free(l);
  return true;
}

/* Called by whichever of our fixtures runs first for a test. CMocka passes
 * every fixture of one test the same state slot, and each test its own, so
 * the slot tells a new test from the next phase of the current one even
 * when a setup failed or longjmp'd out. */
static void begin_test(void **state) {
  if (run.current && run.current_state == state) return;
  run.current = run.cursor < run.count ? &run.tests[run.cursor++] : NULL;
  run.current_state = state;
  run.teardown_done = false;
  run.in_body = false;
  run.body_checked = false;
  run.skip_requested = false;
  run.expect_objects = -1;
  /* CPU samples from here to the test's end carry its name. */
  if (run.label_samples)
    hs__cpuprof_set_test(run.group, run.current ? run.current->orig->name : NULL);
  /* Before the test's setup: what setup allocates and teardown does not
   * free is the test's leak too (CMocka's and CppUTest's rule). */
  run.snap = heapscope_snapshot();
}

static void end_test_samples(void) {
  if (run.label_samples) hs__cpuprof_set_test(NULL, NULL);
}

static int our_setup(void **state) {
  begin_test(state);
  if (run.current && run.current->orig->setup_func) return run.current->orig->setup_func(state);
  return 0;
}

static int run_teardown(void **state) {
  run.teardown_done = true;
  int rc = 0;
  if (run.current && run.current->orig->teardown_func)
    rc = run.current->orig->teardown_func(state);
  /* CMocka never reads a test's state after its teardown, but keeps the
   * slot: clear it, or what setup left there and teardown did not free
   * would look reachable. */
  *state = NULL;
  return rc;
}

static HS_NOINLINE void our_test(void **state) {
  LC_CAPTURE_CALLER(run.caller);
  begin_test(state);
  test_ctx_t *t = run.current;
  run.in_body = true;
  if (t && t->orig->test_func) t->orig->test_func(state);
  run.in_body = false;
  /* The body returned normally: tear down here, then check, so a leak
   * fails this test (FAILED) rather than its fixture (ERROR). */
  int rc = run_teardown(state);
  if (rc != 0) {
    api.print_error("Test teardown failed\n");
    api.fail(__FILE__, __LINE__);
  }
  end_test_samples();
  where_t w;
  if (check_current(&w)) {
    if (w.line) api.fail(w.file, w.line);
    else api.fail(t && t->orig->name ? t->orig->name : "heapscope", 0);
  }
}

static HS_NOINLINE int our_teardown(void **state) {
  LC_CAPTURE_CALLER(run.caller);
  begin_test(state);
  run.in_body = false;
  if (run.teardown_done) return 0; /* the body path already did it all */
  int rc = run_teardown(state);
  end_test_samples();
  where_t w;
  bool leaked = check_current(&w);
  return rc != 0 || leaked ? -1 : 0;
}

static heapscope_mode_t per_test_mode(bool explicit_runner) {
  const char *hc = hs__setting_str(HS_SET_HEAPCHECK);
  heapscope_mode_t mode;
  if (hc && *hc && heapscope_parse_mode(hc, &mode) == 0) {
    if (mode == HEAPSCOPE_MODE_LOCAL) mode = HEAPSCOPE_MODE_NORMAL;
    return mode;
  }
  return explicit_runner ? HEAPSCOPE_MODE_NORMAL : HEAPSCOPE_MODE_OFF;
}

static int run_group(run_group_fn real, const char *group_name, const struct CMUnitTest *tests,
                     size_t count, cm_fixture_fn gsetup, cm_fixture_fn gteardown,
                     bool explicit_runner) {
  load_api();
  if (!real) {
    hs__errorf("CMocka's _cmocka_run_group_tests was not found; is libcmocka loaded?");
    return -1;
  }
  heapscope_mode_t mode = per_test_mode(explicit_runner);
  /* HEAPSCOPE_CMOCKA=off: leave CMocka alone (whole-program check only). */
  if (!hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA)) mode = HEAPSCOPE_MODE_OFF;
  const char *filter = hs__setting_str(HS_SET_HEAPSCOPE_CMOCKA_FILTER);
  const char *skip = hs__setting_str(HS_SET_HEAPSCOPE_CMOCKA_SKIP);
  const char *cm_filter = hs__setting_str(HS_SET_CMOCKA_TEST_FILTER);
  const char *cm_skip = hs__setting_str(HS_SET_CMOCKA_SKIP_FILTER);
  bool list = hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA_LIST);
  bool label_samples = hs__cpuprof_running();
  if (mode == HEAPSCOPE_MODE_OFF && !(filter && *filter) && !list && !label_samples)
    return real(group_name, tests, count, gsetup, gteardown);
  if (list) {
    for (size_t i = 0; i < count; i++)
      if (tests[i].name) printf("heapscope-cmocka-test: %s\n", tests[i].name);
    fflush(stdout);
    return 0;
  }
  if (mode != HEAPSCOPE_MODE_OFF && !atomic_load(&hs__recording)) heapscope_start_recording();
  if (run.tests) {
    hs__errorf("nested CMocka group runs are not leak-checked");
    return real(group_name, tests, count, gsetup, gteardown);
  }

  /* The adapter's own bookkeeping lives on the internal heap, invisible to
   * the checks it performs. */
  struct CMUnitTest *wrapped = hs__arena_alloc((count ? count : 1) * sizeof *wrapped);
  test_ctx_t *ctx = hs__arena_alloc((count ? count : 1) * sizeof *ctx);
  if (!wrapped || !ctx) {
    hs__errorf("out of memory wrapping CMocka tests; running them unchecked");
    hs__arena_free(wrapped);
    hs__arena_free(ctx);
    return real(group_name, tests, count, gsetup, gteardown);
  }
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    const struct CMUnitTest *t = &tests[i];
    if (!t->name || (!t->test_func && !t->setup_func && !t->teardown_func)) continue;
    if (filter && *filter && !glob_match(filter, t->name)) continue;
    if (test_filter[0] && !glob_match(test_filter, t->name)) continue;
    if (skip_filter[0] && glob_match(skip_filter, t->name)) continue;
    /* CMocka 2.x filters by these itself; filtering here too keeps the
     * array we hand it equal to what it runs (1.1.5 ignores them). */
    if (cm_filter && *cm_filter && !glob_match(cm_filter, t->name)) continue;
    if (cm_skip && *cm_skip && glob_match(cm_skip, t->name)) continue;
    ctx[n].orig = t;
    ctx[n].check = mode != HEAPSCOPE_MODE_OFF && !matches_any(skip, t->name);
    /* Each fixture CMocka runs costs it a setjmp and ten sigaction calls
     * (3 us a test, more than the check): wrap setup and teardown only when
     * the test has them. A body that fails without a teardown to follow is
     * checked from cm_print_error, below. */
    wrapped[n] = (struct CMUnitTest){t->name, our_test, t->setup_func ? our_setup : NULL,
                                     t->teardown_func ? our_teardown : NULL, t->initial_state};
    n++;
  }
  if (filter && *filter && n == 0)
    hs__errorf("HEAPSCOPE_CMOCKA_FILTER='%s' matches no test in group %s", filter, group_name);
  memset(&run, 0, sizeof run);
  run.tests = ctx;
  run.count = n;
  run.mode = mode;
  run.expect_objects = -1;
  run.group = group_name;
  run.label_samples = label_samples;
  int rc = real(group_name, wrapped, n, gsetup, gteardown);
  if (label_samples) hs__cpuprof_set_test(NULL, NULL);
  memset(&run, 0, sizeof run);
  run.expect_objects = -1;
  hs__arena_free(wrapped);
  hs__arena_free(ctx);
  return rc;
}

/* ---- interposed CMocka entry points ---------------------------------------- */

HS_EXPORT int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                                      size_t count, cm_fixture_fn gsetup,
                                      cm_fixture_fn gteardown) {
  load_api();
  if (!api.run_group) {
    /* Statically linked with no libcmocka behind us: nothing to wrap. */
    hs__errorf("libcmocka not found behind heapscope's _cmocka_run_group_tests");
    return -1;
  }
  return run_group(api.run_group, group_name, tests, count, gsetup, gteardown, false);
}

HS_EXPORT void cmocka_set_test_filter(const char *pattern) {
  load_api();
  hs__snprintf(test_filter, sizeof test_filter, "%s", pattern ? pattern : "");
  if (api.set_test_filter) api.set_test_filter(pattern);
}

HS_EXPORT void cmocka_set_skip_filter(const char *pattern) {
  load_api();
  hs__snprintf(skip_filter, sizeof skip_filter, "%s", pattern ? pattern : "");
  if (api.set_skip_filter) api.set_skip_filter(pattern);
}

/* CMocka reports every failure (assertion, fail(), leftover mocks, caught
 * signal) and skip through cm_print_error before it longjmps out of the
 * test. For a test with no teardown (so no fixture of ours runs after a
 * failure) that is where its leak check happens: the failing body's frames
 * are still live and scanned, so what it still points to is not reported.
 * The message is formatted here (cmocka has no va_list entry point) and
 * passed on unchanged. */
static void on_cmocka_error(void (*real)(const char *, ...), const char *msg,
                            const lc_caller_t *caller) {
  if (real) real("%s", msg);
  if (!run.in_body || run.body_checked || !run.current || run.current->orig->teardown_func)
    return;
  run.body_checked = true;
  run.caller = *caller;
  where_t w;
  check_current(&w); /* the test fails anyway: the report joins its message */
}

HS_EXPORT HS_NOINLINE void cm_print_error(const char *format, ...) {
  lc_caller_t caller;
  LC_CAPTURE_CALLER(caller);
  load_api();
  char msg[4096];
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof msg, format, ap);
  va_end(ap);
  on_cmocka_error(api.print_error, msg, &caller);
}

HS_EXPORT HS_NOINLINE void cmocka_print_error(const char *format, ...) {
  lc_caller_t caller;
  LC_CAPTURE_CALLER(caller);
  load_api();
  static void (*real2)(const char *, ...);
  if (!real2) real2 = (print_error_fn)find("cmocka_print_error", (void *)cmocka_print_error);
  char msg[4096];
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof msg, format, ap);
  va_end(ap);
  on_cmocka_error(real2 ? real2 : api.print_error, msg, &caller);
}

/* ---- explicit mode ------------------------------------------------------------ */

HS_EXPORT int _heapscope_cmocka_run_group_tests(const char *group_name,
                                                const struct CMUnitTest *tests, size_t count,
                                                heapscope_cm_fixture_t gsetup,
                                                heapscope_cm_fixture_t gteardown) {
  load_api();
  return run_group(api.run_group, group_name, tests, count, gsetup, gteardown, true);
}

#define MAX_REGIONS 16
static HS_TLS heapscope_snapshot_t regions[MAX_REGIONS];
static HS_TLS int region_depth;

HS_EXPORT void _heapscope_region_begin(void) {
  if (!atomic_load(&hs__recording)) heapscope_start_recording();
  if (region_depth < MAX_REGIONS) regions[region_depth] = heapscope_snapshot();
  region_depth++;
}

HS_EXPORT HS_NOINLINE void _heapscope_region_end(size_t max_bytes, const char *file, int line) {
  lc_caller_t caller; /* the test function's frame: its locals are live */
  LC_CAPTURE_CALLER(caller);
  load_api();
  if (region_depth == 0) {
    api.print_error("%s:%d: assert_no_leaks_end() without assert_no_leaks_begin()\n", file, line);
    api.fail(file, line);
    return;
  }
  region_depth--;
  if (region_depth >= MAX_REGIONS) return;
  heapscope_mode_t mode = per_test_mode(true);
  heapscope_leaks_t *l = lc_leaks_since_caller(&regions[region_depth], mode, &caller);
  if (!l) return;
  bool fail = l->bytes > max_bytes;
  if (fail) {
    api.print_error("%s:%d: %zu byte(s) leaked in %zu object(s) in this region (at most %zu allowed)\n",
                    file, line, l->bytes, l->objects, max_bytes);
    print_long(heapscope_leaks_report(l));
  }
  heapscope_leaks_ignore(l); /* reported (or allowed) once, here */
  heapscope_leaks_free(l);
  if (fail) api.fail(file, line);
}

HS_EXPORT void heapscope_cmocka_skip_leak_check(void) { run.skip_requested = true; }

HS_EXPORT void heapscope_cmocka_expect_leaks(size_t objects) {
  run.expect_objects = (long)objects;
}
