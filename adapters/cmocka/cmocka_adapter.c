/* CMocka adapter: every test leak-checked on its own.
 *
 * Zero-change mode interposes CMocka's group runner, _cmocka_run_group_tests
 * (libheapscope is preloaded or linked before libcmocka, so the suite's call
 * binds here; a static or misbound CMocka is redirected here, see
 * cmocka_bind.c), and hands the real runner a copy of the test array whose
 * fixtures are ours:
 *
 *   our setup     snapshot (a new generation), then the test's own setup
 *   our test      the test's body, then its teardown (run here, in the test
 *                 phase, so that a leak fails the test as FAILED through
 *                 _fail(); teardown's frees are seen before the check), then
 *                 the leak check
 *   our teardown  if the body failed (an assertion): the test's teardown and
 *                 the leak check; the test is FAILED already, the report
 *                 joins its message
 *
 * Outcomes (one rule for every output: console, XML, TAP, subunit, JSON,
 * GitHub annotations, the exit check):
 *   - a test that leaks fails (FAILED); its message is the report, and the
 *     closing "file:line: error: ..." line CMocka prints names the largest
 *     leak's allocation site and the leak summary instead of "Failure!";
 *   - a test that fails and leaks reports both, and is FAILED;
 *   - a test that leaks and then calls skip() is FAILED: a skipped test's
 *     leaks are still leaks. skip() is seen in CMocka's error printer,
 *     before CMocka records the skip; the test's teardown runs there, then
 *     the check, and a leak fails the test through _fail();
 *   - leaks are reported once: reported objects are flagged (not roots), so
 *     neither a later test nor the exit-time check reports them again.
 *
 * The report reaches CMocka through cm_print_error (exported by libcmocka
 * but not declared in cmocka.h 1.1.5), which collects the failure message
 * CMocka prints and writes into its XML/TAP/subunit output.
 *
 * CMUnitTest has no user-data slot, and CMocka runs the tests of a group in
 * array order on one thread, so our fixtures find their test through a
 * cursor advanced by our setup. We hand CMocka only the tests that will
 * run (HEAPSCOPE_CMOCKA_FILTER, CMocka 2.x's CMOCKA_TEST_FILTER and
 * CMOCKA_SKIP_FILTER, and the patterns given to cmocka_set_test_filter /
 * cmocka_set_skip_filter, which we also interpose), so the cursor and
 * CMocka's order agree.
 *
 * libcmocka is found at run time (cmocka_bind.c): libheapscope has no link
 * dependency on it. */
#include "adapter.h"
#include "hotpatch.h"
#include "test_stats.h"
#include "leakcheck/internal.h"
#include "core/profile/cpuprof.h"
#include "core/profile/heapprof.h"
#include "core/symbol/symbolize.h"

#include <heapscope/cmocka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static cm_api_t api;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static pthread_once_t api_late_once = PTHREAD_ONCE_INIT;

static void bind_once(void) { hs__cmocka_bind(&api); }
static void bind_late_once(void) { hs__cmocka_bind_late(&api); }
/* The search at start-up finds CMocka in the executable; one loaded later
 * is found through the dynamic linker when the adapter is first used. */
static void load_api(void) {
  pthread_once(&api_once, bind_once);
  if (api.binding == CM_NONE) pthread_once(&api_late_once, bind_late_once);
}
/* At start-up: only the search, no dynamic-linker lookups. */
static void find_cmocka(void) { pthread_once(&api_once, bind_once); }

/* The interposers are weak: a program linking the static runtime and a
 * static libcmocka gets CMocka's definitions without a clash, and the
 * adapter redirects them like any static CMocka (cmocka_bind.c). In the
 * shared library weak and strong interpose alike. */
#define HS_INTERPOSER HS_EXPORT __attribute__((weak))
HS_INTERPOSER int _cmocka_run_group_tests(const char *, const struct CMUnitTest *, size_t,
                                          cm_fixture_fn, cm_fixture_fn);
HS_INTERPOSER void cm_print_error(const char *format, ...);
HS_INTERPOSER void cmocka_print_error(const char *format, ...);
HS_INTERPOSER void cmocka_set_test_filter(const char *pattern);
HS_INTERPOSER void cmocka_set_skip_filter(const char *pattern);

/* ---- per-test state ------------------------------------------------------ */

typedef struct test_ctx {
  const struct CMUnitTest *orig;
  bool check;               /* leak-check this test */
} test_ctx_t;

typedef struct run_state {
  test_ctx_t *tests;
  size_t count, cursor;
  const char *group;
  heapscope_mode_t mode;
  test_ctx_t *current;
  void **current_state;     /* &CMocka's state slot: one per test */
  lc_caller_t caller;       /* CMocka's frame that called our fixture */
  heapscope_snapshot_t snap;
  bool teardown_done;
  bool in_body;             /* the test's own body is running */
  bool body_checked;        /* its failure path already ran the check */
  bool skip_requested;
  bool no_verdict;          /* the check could not be completed */
  bool phases_done;         /* our last fixture of the test has returned */
  bool message_open;        /* CMocka's message so far lacks a final newline */
  long expect_objects;      /* -1: no expectation */
  char expect_file[256];    /* where heapscope_cmocka_expect_leaks was called */
  int expect_line;
  uintptr_t expect_pc;      /* its return address, when file:line is unknown */
  char fail_text[320];      /* replaces "Failure!" in the _fail() we call */
  bool label_samples;       /* the CPU profiler runs: name each test to it */
  bool label_heap;          /* the heap profile is split by test (or per-test files) */
} run_state_t;

static run_state_t run; /* CMocka runs one group at a time, on one thread */
static char test_filter[256], skip_filter[256];
static bool filter_seen, filter_matched; /* HEAPSCOPE_CMOCKA_FILTER, over all groups */

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

/* ---- messages to CMocka ----------------------------------------------------- */

/* Passes text to CMocka's error collector, remembering whether it ended a
 * line: CMocka's own "error: Failure!" does not, and text appended to it
 * must start on a new line. */
static void forward(print_error_fn to, const char *text) {
  if (!to || !*text) return;
  to("%s", text);
  run.message_open = text[strlen(text) - 1] != '\n';
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (run.message_open) forward(api.print_error, "\n");
  forward(api.print_error, msg);
}

/* cm_print_error formats into a 1 KiB buffer and mishandles longer text
 * (cmocka 1.1.5 reuses a consumed va_list), so the report goes in pieces
 * of whole lines under that size. */
static void say_long(const char *text) {
  if (run.message_open && *text) forward(api.print_error, "\n");
  char piece[1024];
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
    memcpy(piece, text, n);
    piece[n] = '\0';
    forward(api.print_error, piece);
    text += n;
  }
}

/* ---- leak reports ------------------------------------------------------------ */

/* Location of the first symbolized frame with a file, for _fail(). */
typedef struct where {
  char file[512];
  int line;
} where_t;

static void where_cb(const hs_symbol_t *sym, void *ctx_) {
  where_t *w = ctx_;
  if (w->line || !sym->file || sym->line <= 0) return;
  hs__snprintf(w->file, sizeof w->file, "%s", lc_strip_prefix(sym->file));
  w->line = sym->line;
}

static void leak_location(heapscope_leaks_t *l, where_t *w) {
  memset(w, 0, sizeof *w);
  for (size_t g = 0; g < l->group_count && !w->line; g++) {
    const heapscope_leak_group_t *grp = &l->groups[g];
    uint32_t epoch = lc_group_origin(l, grp).epoch;
    for (size_t i = 0; grp->pcs && i < grp->depth && !w->line; i++)
      hs__symbolize(grp->pcs[i], epoch, where_cb, w);
  }
}

/* CMocka's XML/TAP/subunit outputs are files tools read: they get every
 * leak stack; its console output gets HEAP_CHECK_MAX_LEAKS of them. */
static bool cmocka_output_is_console(void) {
  const char *o = hs__setting_str(HS_SET_CMOCKA_MESSAGE_OUTPUT);
  return !o || !*o || !strcasecmp(o, "stdout") || !strcasecmp(o, "standard");
}

/* The report itself. CMocka 1.1.5 prints a failure message on the console
 * through a 1 KiB buffer (and its subunit output likewise), cutting a
 * report of more than a few stacks short: on the console the report goes
 * to stderr directly, now (HEAP_CHECK_MAX_LEAKS stacks), and CMocka's
 * message says so; its XML/TAP/subunit outputs get every stack. Returns
 * the note for the message's first line. */
static const char *hand_over_text(const hs_strbuf_t *text) {
  if (text->data && cmocka_output_is_console()) {
    fflush(stdout);
    hs__write_all(2, text->data, text->len);
    return " (report above)";
  }
  if (text->data) say_long(text->data);
  return "";
}

static const char *hand_over_report(heapscope_leaks_t *l) {
  hs_strbuf_t text = {0};
  hs__runtime_enter();
  lc_format_report_capped(l, &text, cmocka_output_is_console());
  hs__runtime_leave();
  const char *note = hand_over_text(&text);
  hs__sb_free(&text);
  return note;
}

/* Hands the report to CMocka as the failure message; the other outputs
 * (log file, JSON, annotations, leak profile) get it with the test's name. */
static void report_leaks(heapscope_leaks_t *l, const char *name, const char *why, where_t *w) {
  if (lc_config.log_from_lsan) {
    /* CTest's LSan memcheck counts the "leak of" lines of the test's output
     * and of its log file: the report goes to the log file only. */
    say("heapscope: test '%s' leaked %zu byte(s) in %zu object(s)%s; report in %s.%d\n", name,
        l->bytes, l->objects, why ? why : "", lc_config.log_path, (int)getpid());
  } else if (cmocka_output_is_console()) {
    const char *note = hand_over_report(l);
    say("heapscope: test '%s' leaked %zu byte(s) in %zu object(s)%s%s\n", name, l->bytes,
        l->objects, why ? why : "", note);
  } else {
    say("heapscope: test '%s' leaked %zu byte(s) in %zu object(s)%s\n", name, l->bytes, l->objects,
        why ? why : "");
    hand_over_report(l);
  }
  lc_origin_t origin = {name, run.group};
  lc_emit_extras(l, &origin);
  leak_location(l, w);
  /* What _fail() prints after the report: the leak, where, instead of the
   * generic "Failure!". */
  hs__snprintf(run.fail_text, sizeof run.fail_text, "heapscope: %zu byte(s) leaked in %zu object(s)%s",
               l->bytes, l->objects,
               w->line ? (l->group_count > 1 ? " (the largest allocated here)" : " allocated here")
                       : "");
  heapscope_leaks_ignore(l);
}

static void expect_location(where_t *w) {
  memset(w, 0, sizeof *w);
  if (run.expect_line > 0) {
    hs__snprintf(w->file, sizeof w->file, "%s", run.expect_file);
    w->line = run.expect_line;
  } else if (run.expect_pc) {
    hs__symbolize(run.expect_pc - 1, hs__modules_epoch(), where_cb, w);
  }
}

/* The check after a test's teardown. Returns true if the test must fail;
 * *w says where. why: appended to the report's first line. */
static bool check_current(where_t *w, const char *why) {
  test_ctx_t *t = run.current;
  memset(w, 0, sizeof *w);
  run.fail_text[0] = '\0';
  if (!t || run.mode == HEAPSCOPE_MODE_OFF) return false;
  /* Roots on this thread: CMocka's frames from the one that called our
   * fixture upward, never ours: they lie over the test's dead frames. */
  heapscope_leaks_t *l;
  int err = lc_check_since_caller(&run.snap, run.mode, &run.caller, &l);
  if (err && t->check && !run.skip_requested) {
    /* No verdict is never a pass: the test fails, as ERROR through our
     * teardown fixture when it has one, else as FAILED. */
    say("heapscope: ERROR: the leak check of test '%s' could not be completed: %s\n",
        t->orig->name, heapscope_strerror(err));
    hs__snprintf(run.fail_text, sizeof run.fail_text,
                 "heapscope: leak check could not be completed (no verdict)");
    run.no_verdict = true;
    return true;
  }
  ts_set_leaks(l ? l->bytes : 0, l ? l->objects : 0);
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
      say("heapscope: test '%s' was expected to leak %ld object(s) but leaked %zu\n",
          t->orig->name, run.expect_objects, got);
      if (l) report_leaks(l, t->orig->name, why, w);
      /* Fail where the expectation was stated. */
      expect_location(w);
      hs__snprintf(run.fail_text, sizeof run.fail_text,
                   "heapscope: expected %ld leaked object(s), found %zu", run.expect_objects, got);
    } else if (l) {
      heapscope_leaks_ignore(l);
    }
    heapscope_leaks_free(l);
    return !ok;
  }
  if (!l) return false;
  report_leaks(l, t->orig->name, why, w);
  heapscope_leaks_free(l);
  return true;
}

/* Per-test budgets, judged once the test's figures are taken: an
 * over-budget test gets the figures (and, for the peak, the allocation
 * stacks live at it) in its message. Returns true when it must fail; *w
 * says where. The report is given once per test. */
static bool check_budgets(where_t *w) {
  memset(w, 0, sizeof *w);
  test_ctx_t *t = run.current;
  ts_verdict_t v;
  if (!t || !ts_over_budget(t->orig->name, &v)) return false;
  /* On the console the stacks go to stderr (CMocka 1.1.5 cuts messages at
   * 1 KiB); the message keeps the figures. */
  const char *nl = v.report.data ? strchr(v.report.data, '\n') : NULL;
  if (nl && nl[1] && cmocka_output_is_console()) {
    const char *note = hand_over_text(&v.report);
    say("%.*s%s\n", (int)(nl - v.report.data), v.report.data, note);
  } else if (v.report.data) {
    say_long(v.report.data);
  }
  hs__sb_free(&v.report);
  if (!run.fail_text[0]) hs__snprintf(run.fail_text, sizeof run.fail_text, "%s", v.fail_text);
  hs__snprintf(w->file, sizeof w->file, "%s", v.file);
  w->line = v.line;
  return true;
}

/* Fails the current test at w through CMocka (longjmps out). */
static void fail_at(const where_t *w) {
  test_ctx_t *t = run.current;
  ts_set_status(TS_FAILED);
  if (w->line) api.fail(w->file, w->line);
  else api.fail(t && t->orig->name ? t->orig->name : "heapscope", 0);
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
  run.no_verdict = false;
  run.phases_done = false;
  run.message_open = false;
  run.expect_objects = -1;
  run.expect_file[0] = '\0';
  run.expect_line = 0;
  run.expect_pc = 0;
  run.fail_text[0] = '\0';
  /* CPU samples from here to the test's end carry its name. */
  if (run.label_samples)
    hs__cpuprof_set_test(run.group, run.current ? run.current->orig->name : NULL);
  /* Before the test's setup: what setup allocates and teardown does not
   * free is the test's leak too (CMocka's and CppUTest's rule). */
  run.snap = heapscope_snapshot();
  /* Heap profile counts too: the blocks born from this generation on. */
  if (run.label_heap && run.current)
    hs__heapprof_set_test(run.group, run.current->orig->name, run.snap.generation);
  /* Its figures too: setup and teardown are the test's. */
  if (run.current) ts_begin(run.group, run.current->orig->name, run.snap.generation);
}

static void end_test_samples(void) {
  if (run.label_samples) hs__cpuprof_set_test(NULL, NULL);
  if (run.label_heap) hs__heapprof_set_test(NULL, NULL, 0);
}

HS_CALLS_USER static int our_setup(void **state) {
  begin_test(state);
  if (run.current && run.current->orig->setup_func) return run.current->orig->setup_func(state);
  return 0;
}

HS_CALLS_USER static int run_teardown(void **state) {
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

HS_CALLS_USER static void our_test(void **state) {
  LC_CAPTURE_CALLER(run.caller);
  begin_test(state);
  test_ctx_t *t = run.current;
  run.in_body = true;
  if (t && t->orig->test_func) t->orig->test_func(state);
  run.in_body = false;
  /* The body returned normally: tear down here, then check, so a leak
   * fails this test (FAILED) rather than its fixture (ERROR). */
  int rc = run_teardown(state);
  ts_measure();
  if (rc != 0) {
    say("Test teardown failed\n");
    ts_set_status(TS_FAILED);
    api.fail(__FILE__, __LINE__);
  }
  end_test_samples();
  where_t w, bw;
  bool leaked = check_current(&w, NULL);
  bool over = check_budgets(&bw);
  if (!t || !t->orig->teardown_func) run.phases_done = true;
  /* A check without a verdict fails the test through our teardown fixture
   * when there is one (CMocka's ERROR, as for a failing teardown). */
  if (leaked && !(run.no_verdict && t && t->orig->teardown_func)) fail_at(&w);
  if (over) fail_at(&bw);
}

HS_CALLS_USER static int our_teardown(void **state) {
  LC_CAPTURE_CALLER(run.caller);
  begin_test(state);
  run.in_body = false;
  /* The body path did it all; a check it could not complete is this
   * fixture's failure (ERROR). */
  if (run.teardown_done) {
    run.phases_done = true;
    return run.no_verdict ? -1 : 0;
  }
  /* The body failed: the test is FAILED already; its leaks join the
   * message. Only a failing teardown makes it an ERROR. */
  int rc = run_teardown(state);
  ts_measure();
  end_test_samples();
  where_t w;
  check_current(&w, NULL);
  check_budgets(&w);
  run.fail_text[0] = '\0';
  run.phases_done = true;
  return rc;
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
  /* Per-test profile files start the profilers they need. */
  bool test_profiles = hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA) && ts_enabled() && tp_wanted();
  if (test_profiles) tp_start();
  /* Naming a test to the CPU profiler registers its name: only when one runs. */
  bool label_samples = hs__cpuprof_running();
  bool label_heap = test_profiles || hs__heapprof_running();
  /* Per-test figures and budgets need the tests wrapped even when they
   * are not leak-checked. */
  bool figures = hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA) && ts_wanted();
  if (mode == HEAPSCOPE_MODE_OFF && !(filter && *filter) && !list && !label_samples && !label_heap &&
      !figures)
    return real(group_name, tests, count, gsetup, gteardown);
  if (list) {
    for (size_t i = 0; i < count; i++)
      if (tests[i].name) printf("heapscope-cmocka-test: %s\n", tests[i].name);
    fflush(stdout);
    return 0;
  }
  if ((mode != HEAPSCOPE_MODE_OFF || figures) && !atomic_load(&hs__recording))
    heapscope_start_recording();
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
  int rc = 0;
  if (filter && *filter) {
    filter_seen = true;
    filter_matched |= n > 0;
  }
  /* A group none of whose tests the filter selects is not run at all: not
   * its group fixtures, not an empty suite in CMocka's XML. */
  if (n > 0 || !(filter && *filter)) {
    memset(&run, 0, sizeof run);
    run.tests = ctx;
    run.count = n;
    run.group = group_name;
    run.mode = mode;
    run.expect_objects = -1;
    run.label_samples = label_samples;
    run.label_heap = label_heap;
    ts_group_begin(group_name);
    rc = real(group_name, wrapped, n, gsetup, gteardown);
    ts_group_end(group_name);
    if (label_samples) hs__cpuprof_set_test(NULL, NULL);
    if (label_heap) hs__heapprof_set_test(NULL, NULL, 0);
    memset(&run, 0, sizeof run);
    run.expect_objects = -1;
  }
  hs__arena_free(wrapped);
  hs__arena_free(ctx);
  return rc;
}

/* ---- interposed CMocka entry points ---------------------------------------- */

HS_INTERPOSER int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
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

HS_INTERPOSER void cmocka_set_test_filter(const char *pattern) {
  load_api();
  hs__snprintf(test_filter, sizeof test_filter, "%s", pattern ? pattern : "");
  if (api.set_test_filter) api.set_test_filter(pattern);
}

HS_INTERPOSER void cmocka_set_skip_filter(const char *pattern) {
  load_api();
  hs__snprintf(skip_filter, sizeof skip_filter, "%s", pattern ? pattern : "");
  if (api.set_skip_filter) api.set_skip_filter(pattern);
}

/* skip() in the body of a checked test: CMocka has printed "Skipped!" but
 * not yet recorded the skip. Tear down, check, and if the test leaked fail
 * it here (a skipped test's leaks are still leaks). */
static void on_skip(void) {
  int rc = 0;
  if (!run.teardown_done && run.current_state) rc = run_teardown(run.current_state);
  ts_measure();
  where_t w;
  if (check_current(&w, " before skip()")) fail_at(&w);
  if (check_budgets(&w)) fail_at(&w);
  if (rc != 0) {
    say("Test teardown failed\n");
    api.fail(__FILE__, __LINE__);
  }
  /* One CTest test per CMocka test: say it was skipped on stdout too,
   * where CTest looks (CMocka's XML mode prints nothing there). */
  const char *filter = hs__setting_str(HS_SET_HEAPSCOPE_CMOCKA_FILTER);
  if (filter && *filter && run.current) {
    fflush(stdout);
    char line[512];
    int n = hs__snprintf(line, sizeof line, "heapscope-cmocka-skipped: %s\n", run.current->orig->name);
    hs__write_all(1, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  }
}

/* CMocka reports every failure (assertion, fail(), leftover mocks, caught
 * signal) and skip through cm_print_error before it longjmps out of the
 * test. For a test with no teardown (so no fixture of ours runs after a
 * failure) that is where its leak check happens: the failing body's frames
 * are still live and scanned, so what it still points to is not reported.
 * The message is formatted here (cmocka has no va_list entry point); the
 * "Failure!" of a _fail() we call for a leak says what leaked instead. */
static void on_cmocka_error(print_error_fn real, const char *msg, const lc_caller_t *caller) {
  char rewritten[4096];
  const char *generic = run.fail_text[0] ? strstr(msg, "Failure!") : NULL;
  if (generic) {
    hs__snprintf(rewritten, sizeof rewritten, "%.*s%s%s", (int)(generic - msg), msg, run.fail_text,
                 generic + strlen("Failure!"));
    msg = rewritten;
    run.fail_text[0] = '\0';
  }
  forward(real, msg);
  bool skipping = strstr(msg, "Skipped!") != NULL;
  /* The test's status as CMocka will record it (for its figures). */
  bool fixture_failed = strstr(msg, "Test setup failed") || strstr(msg, "Test teardown failed");
  if (run.current && (!run.phases_done || fixture_failed)) {
    if (fixture_failed) ts_measure();
    ts_set_status(skipping ? TS_SKIPPED : fixture_failed ? TS_ERROR : TS_FAILED);
  }
  if (!run.in_body || run.body_checked || !run.current) return;
  /* A failure in a test with a teardown: our teardown fixture checks. */
  if (!skipping && run.current->orig->teardown_func) return;
  run.body_checked = true;
  run.caller = *caller;
  if (skipping) {
    on_skip();
    return;
  }
  ts_measure();
  where_t w;
  check_current(&w, NULL); /* the test fails anyway: the report joins its message */
  check_budgets(&w);
  run.fail_text[0] = '\0';
  run.phases_done = true;
}

/* Formats an error CMocka is printing and hands it on; the interposers
 * capture their caller themselves (it must be their own frame's). */
static void forward_cmocka_error(bool newer_name, const lc_caller_t *caller, const char *format,
                                 va_list ap) {
  load_api();
  char msg[4096];
  vsnprintf(msg, sizeof msg, format, ap);
  on_cmocka_error(newer_name && api.print_error2 ? api.print_error2 : api.print_error, msg, caller);
}

HS_INTERPOSER HS_NOINLINE void cm_print_error(const char *format, ...) {
  lc_caller_t caller;
  LC_CAPTURE_CALLER(caller);
  va_list ap;
  va_start(ap, format);
  forward_cmocka_error(false, &caller, format, ap);
  va_end(ap);
}

HS_INTERPOSER HS_NOINLINE void cmocka_print_error(const char *format, ...) {
  lc_caller_t caller;
  LC_CAPTURE_CALLER(caller);
  va_list ap;
  va_start(ap, format);
  forward_cmocka_error(true, &caller, format, ap);
  va_end(ap);
}

/* Our own addresses for the redirected entry points (cmocka_bind.c): the
 * public names may resolve to the executable's CMocka. */
int hs__cm_run_group_tests(const char *, const struct CMUnitTest *, size_t, cm_fixture_fn,
                           cm_fixture_fn) __attribute__((alias("_cmocka_run_group_tests")));
void hs__cm_print_error(const char *format, ...) __attribute__((alias("cm_print_error")));
void hs__cmocka_print_error(const char *format, ...) __attribute__((alias("cmocka_print_error")));
void hs__cmocka_set_test_filter(const char *) __attribute__((alias("cmocka_set_test_filter")));
void hs__cmocka_set_skip_filter(const char *) __attribute__((alias("cmocka_set_skip_filter")));

/* ---- start-up and exit ------------------------------------------------------- */

static bool per_test_wanted(void) {
  if (hs__setting_given(HS_SET_HEAPSCOPE_CMOCKA_FILTER) || hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA_LIST))
    return true;
  const char *hc = hs__setting_str(HS_SET_HEAPCHECK);
  heapscope_mode_t mode;
  if (!hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA)) return false;
  return (hc && heapscope_parse_mode(hc, &mode) == 0) || ts_wanted();
}

/* A static or misbound CMocka must be redirected before main runs its
 * first group; only done when per-test checks (or listing, or a filter)
 * are asked for. Where it cannot work, say so once, here. */
__attribute__((constructor(103))) static void cmocka_adapter_init(void) {
  hs__fork_lock_outer(hs__patch_lock, "CMocka code patcher");
  if (!per_test_wanted()) return;
  find_cmocka();
  if (!api.unsupported) return;
  if (hs__setting_bool(HS_SET_HEAPSCOPE_CMOCKA_LIST)) {
    /* Listing must not run the suite; the CMake module reads this line and
     * registers the executable as one test. */
    char line[700];
    int n = hs__snprintf(line, sizeof line, "heapscope-cmocka-unsupported: %s\n", api.unsupported);
    hs__write_all(1, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    _exit(0);
  }
  const char *f = hs__setting_str(HS_SET_HEAPSCOPE_CMOCKA_FILTER);
  if (f && *f) {
    /* Running the whole executable as if it were one test gives a verdict
     * that is not that test's. */
    hs__errorf("%s; cannot run only HEAPSCOPE_CMOCKA_FILTER='%s'", api.unsupported, f);
    _exit(2);
  }
  hs__errorf("%s; per-test leak checks are off, the exit-time check covers the whole executable",
             api.unsupported);
}

__attribute__((destructor(102))) static void cmocka_adapter_fini(void) {
  if (filter_seen && !filter_matched)
    hs__errorf("HEAPSCOPE_CMOCKA_FILTER='%s' matches no test",
               hs__setting_str(HS_SET_HEAPSCOPE_CMOCKA_FILTER));
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
    say("%s:%d: assert_no_leaks_end() without assert_no_leaks_begin()\n", file, line);
    api.fail(file, line);
    return;
  }
  region_depth--;
  if (region_depth >= MAX_REGIONS) return;
  heapscope_mode_t mode = per_test_mode(true);
  heapscope_leaks_t *l;
  int err = lc_check_since_caller(&regions[region_depth], mode, &caller, &l);
  if (err) {
    say("%s:%d: heapscope: ERROR: the region's leak check could not be completed: %s\n", file,
        line, heapscope_strerror(err));
    hs__snprintf(run.fail_text, sizeof run.fail_text,
                 "heapscope: leak check could not be completed (no verdict)");
    api.fail(file, line);
    return;
  }
  if (!l) return;
  bool fail = l->bytes > max_bytes;
  if (fail) {
    say("%s:%d: %zu byte(s) leaked in %zu object(s) in this region (at most %zu allowed)\n", file,
        line, l->bytes, l->objects, max_bytes);
    hand_over_report(l);
    hs__snprintf(run.fail_text, sizeof run.fail_text,
                 "heapscope: %zu byte(s) leaked in this region", l->bytes);
  }
  heapscope_leaks_ignore(l); /* reported (or allowed) once, here */
  heapscope_leaks_free(l);
  if (fail) api.fail(file, line);
}

HS_EXPORT void heapscope_cmocka_skip_leak_check(void) { run.skip_requested = true; }

HS_EXPORT HS_NOINLINE void(heapscope_cmocka_expect_leaks)(size_t objects) {
  run.expect_objects = (long)objects;
  run.expect_pc = (uintptr_t)__builtin_return_address(0);
}

HS_EXPORT void _heapscope_cmocka_expect_leaks_at(size_t objects, const char *file, int line) {
  run.expect_objects = (long)objects;
  hs__snprintf(run.expect_file, sizeof run.expect_file, "%s", file ? file : "");
  run.expect_line = file ? line : 0;
}

/* ---- per-test budgets from the test's code --------------------------------------- */

HS_EXPORT HS_NOINLINE void(heapscope_cmocka_peak_bytes_at_most)(size_t bytes) {
  ts_budget_peak(bytes, NULL, 0, (uintptr_t)__builtin_return_address(0));
}

HS_EXPORT void _heapscope_cmocka_peak_bytes_at_most_at(size_t bytes, const char *file, int line) {
  ts_budget_peak(bytes, file, line, 0);
}

/* Seconds as nanoseconds; a negative or NaN budget is no budget. */
static uint64_t budget_ns(double seconds) {
  if (!(seconds > 0)) return 0;
  if (seconds > 1e9) seconds = 1e9;
  return (uint64_t)(seconds * 1e9 + 0.5);
}

HS_EXPORT HS_NOINLINE void(heapscope_cmocka_cpu_seconds_at_most)(double seconds) {
  ts_budget_cpu(budget_ns(seconds), NULL, 0, (uintptr_t)__builtin_return_address(0));
}

HS_EXPORT void _heapscope_cmocka_cpu_seconds_at_most_at(double seconds, const char *file, int line) {
  ts_budget_cpu(budget_ns(seconds), file, line, 0);
}
