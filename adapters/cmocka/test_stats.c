/* Per-test resource accounting for CMocka suites (test_stats.h).
 *
 * Times are exact, from clocks read at the test's boundaries (before its
 * setup, after its teardown; the leak check is not the test's): wall time
 * (CLOCK_MONOTONIC, vDSO) and the process's CPU time
 * (CLOCK_PROCESS_CPUTIME_ID: what threads the test starts use counts). A
 * typical test runs for less than a sampling profiler's period, so samples
 * could not give these. A CPU clock is a system call (typically 0.1-0.3 us
 * on bare metal, ~5 us on the VM we measure on), the largest part of
 * accounting's cost: two per test, so CMocka's thread's own CPU time is not
 * read (two more). Allocation figures come from core/record/account.c
 * while every allocation is recorded.
 *
 * Where the figures go:
 *   HEAPSCOPE_TEST_STATS=FILE  one JSON document per process ("%p" = pid),
 *                              rewritten after every group and at exit
 *                              (docs/test-stats.md has the fields);
 *   CMocka's XML file          a <properties> block per <testcase>, when
 *                              CMocka writes XML to CMOCKA_XML_FILE (JUnit
 *                              readers such as Jenkins show testcase
 *                              properties); XML on stdout cannot be edited;
 *   HEAPSCOPE_TEST_MEASUREMENTS=1  <DartMeasurement> tags after each test,
 *                              which CTest keeps as the test's measurements
 *                              (Test.xml, CDash graphs); the CTest module
 *                              sets it for discovered tests.
 *
 * Budgets (HEAPSCOPE_TEST_MAX_PEAK, HEAPSCOPE_TEST_MAX_CPU, or from the
 * test's code) are judged once the test's figures are taken; the adapter
 * fails the test through CMocka with the report made here. */
#include "test_stats.h"

#include "leakcheck/internal.h"
#include "core/profile/cpuprof.h"
#include "core/symbol/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Appends a string literal. */
#define sb_lit(sb, lit) hs__sb_append((sb), (lit), sizeof(lit) - 1)

/* Allocation sites kept (and shown) for a test over its peak budget. */
#define TS_PEAK_SITES 10

typedef struct ts_test {
  const char *name;          /* arena copy once committed */
  const char *group;         /* arena copy, shared by the group's tests */
  ts_status_t status;
  uint64_t wall_ns, cpu_ns;
  hs_account_t acc;
  bool accounted;            /* allocation figures exist (recording was on) */
  bool measured;
  bool leak_checked;
  uint64_t leaked_bytes, leaked_objects;
  uint64_t max_peak, max_cpu_ns;       /* 0: no budget */
  const char *peak_from, *cpu_from;    /* "FILE:LINE" when set by code, else NULL */
  bool over_peak, over_cpu;
  hs_peak_site_t *sites;     /* over the peak budget: the largest at the peak */
  uint32_t nsites, total_sites;
} ts_test_t;

static struct {
  int pid;                   /* the process whose tests these are */
  ts_test_t *tests;
  size_t n, cap;
  ts_test_t cur;
  bool active;               /* cur is a test not yet committed */
  bool reported;             /* cur's budget verdict was given */
  uint64_t wall0, cpu0;
  const char *group;         /* current group's name (arena copy) */
  size_t group_first;        /* its first test in tests[] */
  char xml_path[1024];       /* CMocka's XML file for this group, "" = none */
  struct stat xml_before;
  bool xml_existed;
  bool dirty;                /* tests committed since the stats file was written */
  bool stats_failed;         /* said once */
} ts;

static uint64_t clock_ns(clockid_t id) {
  struct timespec t;
  if (clock_gettime(id, &t) != 0) return 0;
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static char *arena_strdup(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s) + 1;
  char *c = hs__arena_alloc(n);
  if (c) memcpy(c, s, n);
  return c;
}

bool ts_enabled(void) { return hs__setting_bool(HS_SET_HEAPSCOPE_TEST_ACCOUNTING); }

bool ts_wanted(void) {
  return ts_enabled() &&
         (hs__setting_given(HS_SET_HEAPSCOPE_TEST_STATS) ||
          hs__setting_int(HS_SET_HEAPSCOPE_TEST_MAX_PEAK) > 0 ||
          hs__setting_int(HS_SET_HEAPSCOPE_TEST_MAX_CPU) > 0 ||
          hs__setting_bool(HS_SET_HEAPSCOPE_TEST_MEASUREMENTS) || tp_wanted());
}

/* ---- numbers as text (hs__snprintf has no %f) ------------------------------ */

/* ns as seconds with nine decimals: exact, and what JSON parsers read. */
static void fmt_seconds(char *buf, size_t size, uint64_t ns) {
  hs__snprintf(buf, size, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
               (unsigned long long)(ns % 1000000000u));
}

/* For people: "0.523 s", "12.4 ms", "85 us". */
static void fmt_duration(char *buf, size_t size, uint64_t ns) {
  if (ns >= 1000000000u)
    hs__snprintf(buf, size, "%llu.%03llu s", (unsigned long long)(ns / 1000000000u),
                 (unsigned long long)(ns / 1000000u % 1000u));
  else if (ns >= 1000000u)
    hs__snprintf(buf, size, "%llu.%01llu ms", (unsigned long long)(ns / 1000000u),
                 (unsigned long long)(ns / 100000u % 10u));
  else
    hs__snprintf(buf, size, "%llu us", (unsigned long long)(ns / 1000u));
}

/* "8.0 MiB" (one decimal, powers of 1024). */
static void fmt_bytes(char *buf, size_t size, uint64_t b) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (b < 1024) {
    hs__snprintf(buf, size, "%llu B", (unsigned long long)b);
    return;
  }
  int u = 0;
  uint64_t scale = 1024;
  while (u < 3 && b >= scale * 1024) {
    scale *= 1024;
    u++;
  }
  uint64_t tenths = (b * 10 + scale / 2) / scale;
  hs__snprintf(buf, size, "%llu.%llu %s", (unsigned long long)(tenths / 10),
               (unsigned long long)(tenths % 10), units[u]);
}

static const char *status_name(ts_status_t s) {
  switch (s) {
  case TS_PASSED: return "passed";
  case TS_SKIPPED: return "skipped";
  case TS_FAILED: return "failed";
  case TS_ERROR: return "error";
  case TS_INCOMPLETE: return "incomplete";
  }
  return "unknown";
}

/* ---- the current test ------------------------------------------------------- */

static void commit(void);

void ts_group_begin(const char *group) {
  if (!ts_enabled()) return;
  commit();
  if (ts.pid != (int)getpid()) { /* a forked child runs its own tests */
    ts.n = 0;
    ts.pid = (int)getpid();
  }
  ts.group = arena_strdup(group);
  ts.group_first = ts.n;
  ts.xml_path[0] = '\0';
  const char *out = hs__setting_str(HS_SET_CMOCKA_MESSAGE_OUTPUT);
  const char *file = hs__setting_str(HS_SET_CMOCKA_XML_FILE);
  if (out && !strcasecmp(out, "xml") && file) {
    /* CMocka's own naming: every %g is the group's name. */
    size_t k = 0;
    for (const char *c = file; *c && k + 1 < sizeof ts.xml_path; c++) {
      if (c[0] == '%' && c[1] == 'g') {
        int w = hs__snprintf(ts.xml_path + k, sizeof ts.xml_path - k, "%s", group ? group : "");
        k = (size_t)w < sizeof ts.xml_path - k ? k + (size_t)w : sizeof ts.xml_path - 1;
        c++;
      } else {
        ts.xml_path[k++] = *c;
      }
    }
    ts.xml_path[k] = '\0';
    ts.xml_existed = stat(ts.xml_path, &ts.xml_before) == 0;
  }
}

void ts_begin(const char *group, const char *name, uint32_t gen) {
  if (!ts_enabled()) return;
  commit();
  memset(&ts.cur, 0, sizeof ts.cur);
  ts.cur.name = name;
  ts.cur.group = ts.group ? ts.group : group;
  ts.cur.status = TS_PASSED;
  ts.cur.max_peak = (uint64_t)hs__setting_int(HS_SET_HEAPSCOPE_TEST_MAX_PEAK);
  ts.cur.max_cpu_ns = (uint64_t)hs__setting_int(HS_SET_HEAPSCOPE_TEST_MAX_CPU);
  ts.active = true;
  ts.reported = false;
  /* Allocation figures need every allocation recorded (the adapter starts
   * full recording; a sampled heap profile alone is not enough). */
  ts.cur.accounted = atomic_load_explicit(&hs__recording, memory_order_relaxed) &&
                     hs__sample_bytes == 0;
  if (ts.cur.accounted) hs__account_begin(gen);
  ts.cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  ts.wall0 = hs__now_ns();
}

void ts_measure(void) {
  if (!ts.active || ts.cur.measured) return;
  uint64_t wall = hs__now_ns();
  uint64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  ts_test_t *t = &ts.cur;
  t->measured = true;
  t->wall_ns = wall - ts.wall0;
  t->cpu_ns = cpu > ts.cpu0 ? cpu - ts.cpu0 : 0;
  if (t->accounted) hs__account_end(&t->acc);
  t->over_peak = t->accounted && t->max_peak && t->acc.peak_bytes > (int64_t)t->max_peak;
  t->over_cpu = t->max_cpu_ns && t->cpu_ns > t->max_cpu_ns;
  if (t->over_peak) {
    /* The sites now, before the next test's accounting replaces them. */
    t->sites = hs__arena_alloc(TS_PEAK_SITES * sizeof *t->sites);
    if (t->sites) t->nsites = (uint32_t)hs__account_peak_sites(t->sites, TS_PEAK_SITES);
    t->total_sites = (uint32_t)hs__account_peak_site_count();
  }
  tp_test_end(t->group, t->name, t->wall_ns, t->over_peak || t->over_cpu);
}

void ts_set_status(ts_status_t status) {
  if (ts.active && status > ts.cur.status) ts.cur.status = status;
}

void ts_set_leaks(uint64_t bytes, uint64_t objects) {
  if (!ts.active) return;
  ts.cur.leak_checked = true;
  ts.cur.leaked_bytes = bytes;
  ts.cur.leaked_objects = objects;
}

static const char *where_text(const char *file, int line, uintptr_t pc) {
  char buf[600];
  if (file && line > 0) {
    hs__snprintf(buf, sizeof buf, "%s:%d", file, line);
  } else if (pc) {
    hs__snprintf(buf, sizeof buf, "0x%lx", (unsigned long)pc);
  } else {
    return "the test's code";
  }
  char *s = arena_strdup(buf);
  return s ? s : "the test's code";
}

void ts_budget_peak(uint64_t bytes, const char *file, int line, uintptr_t pc) {
  if (!ts.active || ts.cur.measured) return;
  ts.cur.max_peak = bytes;
  ts.cur.peak_from = where_text(file, line, pc);
}

void ts_budget_cpu(uint64_t ns, const char *file, int line, uintptr_t pc) {
  if (!ts.active || ts.cur.measured) return;
  ts.cur.max_cpu_ns = ns;
  ts.cur.cpu_from = where_text(file, line, pc);
}

/* ---- budget reports --------------------------------------------------------- */

static const hs_bucket_t *site_bucket(const hs_peak_site_t *s) { return hs__depot_get(s->bucket); }

typedef struct first_file {
  char *file;
  size_t size;
  int line;
} first_file_t;

static void first_file_cb(const hs_symbol_t *sym, void *ctx_) {
  first_file_t *f = ctx_;
  if (f->line || !sym->file || sym->line <= 0) return;
  hs__snprintf(f->file, f->size, "%s", lc_strip_prefix(sym->file));
  f->line = sym->line;
}

/* "FILE:LINE" of a budget set from code, split back for _fail(). */
static void split_where(const char *from, ts_verdict_t *v) {
  const char *colon = from ? strrchr(from, ':') : NULL;
  if (!colon || colon == from) return;
  int line = 0;
  for (const char *c = colon + 1; *c >= '0' && *c <= '9'; c++) line = line * 10 + (*c - '0');
  if (line <= 0) return;
  size_t n = (size_t)(colon - from) < sizeof v->file - 1 ? (size_t)(colon - from) : sizeof v->file - 1;
  memcpy(v->file, from, n);
  v->file[n] = '\0';
  v->line = line;
}

/* ---- an over-CPU test's top functions, from the CPU profile being taken ---- */

#define TS_CPU_LEAVES 128   /* distinct leaf pcs summed */
#define TS_CPU_TOP 8        /* functions shown */

typedef struct cpu_fn {
  char name[160];
  char where[200];          /* "FILE:LINE" of its most sampled pc, "" when unknown */
  uint64_t periods;
} cpu_fn_t;

typedef struct leaf_sym {
  char name[160], where[200];
  bool done;
} leaf_sym_t;

static void leaf_sym_cb(const hs_symbol_t *sym, void *ctx_) {
  leaf_sym_t *l = ctx_;
  if (l->done) return; /* the innermost frame: the function the pc is in */
  l->done = true;
  if (sym->function) hs__snprintf(l->name, sizeof l->name, "%s", sym->function);
  else hs__snprintf(l->name, sizeof l->name, "%s+0x%lx", sym->module ? sym->module : "?",
                    (unsigned long)sym->module_offset);
  if (sym->file && sym->line > 0)
    hs__snprintf(l->where, sizeof l->where, "%s:%d", lc_strip_prefix(sym->file), sym->line);
}

/* Appends the test's top functions by CPU samples (flat: the function the
 * sample interrupted), or says the test was too short to be sampled. Only
 * while a CPU profile is being taken (CPUPROFILE); nothing otherwise. */
static void cpu_top_functions(const ts_test_t *t, const char *name, hs_strbuf_t *out) {
  hs_cpu_leaf_t leaves[TS_CPU_LEAVES];
  size_t n = 0;
  uint64_t total = 0, period = 0;
  if (!hs__cpuprof_test_leaves(t->group, name, leaves, TS_CPU_LEAVES, &n, &total, &period)) return;
  char a[64], b[64];
  fmt_duration(b, sizeof b, period);
  if (!total) {
    hs__runtime_enter();
    hs__sb_printf(out, "CPU profile: no sample in this test (too short to be sampled: one "
                       "sample every %s of CPU)\n", b);
    hs__runtime_leave();
    return;
  }
  cpu_fn_t fns[TS_CPU_TOP * 2];
  size_t nf = 0;
  uint64_t shown = 0;
  uint32_t epoch = hs__modules_epoch();
  for (size_t i = 0; i < n; i++) {
    leaf_sym_t l = {.name = "", .where = "", .done = false};
    hs__symbolize_exact(leaves[i].pc, epoch, leaf_sym_cb, &l);
    if (!l.done) hs__snprintf(l.name, sizeof l.name, "0x%lx", (unsigned long)leaves[i].pc);
    size_t k = 0;
    while (k < nf && strcmp(fns[k].name, l.name)) k++;
    if (k == nf) {
      if (nf == sizeof fns / sizeof fns[0]) continue;
      memcpy(fns[nf].name, l.name, sizeof l.name);
      memcpy(fns[nf].where, l.where, sizeof l.where);
      fns[nf++].periods = 0;
    }
    fns[k].periods += leaves[i].periods;
    for (; k > 0 && fns[k - 1].periods < fns[k].periods; k--) {
      cpu_fn_t x = fns[k - 1];
      fns[k - 1] = fns[k];
      fns[k] = x;
    }
  }
  hs__runtime_enter();
  fmt_duration(a, sizeof a, total * period);
  hs__sb_printf(out, "CPU profile: %llu sample(s) in this test (%s; one every %s of CPU), "
                     "top functions:\n", (unsigned long long)total, a, b);
  for (size_t k = 0; k < nf && k < TS_CPU_TOP; k++) {
    fmt_duration(a, sizeof a, fns[k].periods * period);
    unsigned pct = (unsigned)((fns[k].periods * 1000 + total / 2) / total);
    hs__sb_printf(out, "    %3u.%u%% %10s  %s%s%s\n", pct / 10, pct % 10, a, fns[k].name,
                  fns[k].where[0] ? " " : "", fns[k].where);
    shown += fns[k].periods;
  }
  if (shown < total) {
    unsigned pct = (unsigned)(((total - shown) * 1000 + total / 2) / total);
    hs__sb_printf(out, "    %3u.%u%% in other functions\n", pct / 10, pct % 10);
  }
  hs__sb_printf(out, "(all of its samples: heapscope report --test='%s' PROFILE)\n", name);
  hs__runtime_leave();
}

bool ts_over_budget(const char *name, ts_verdict_t *v) {
  memset(v, 0, sizeof *v);
  if (!ts.active || !ts.cur.measured || ts.reported) return false;
  const ts_test_t *t = &ts.cur;
  if (!t->over_peak && !t->over_cpu) return false;
  ts.reported = true;
  hs__modules_refresh();
  hs__runtime_enter();
  char a[64], b[64], c[64];
  if (t->over_peak) {
    fmt_bytes(a, sizeof a, (uint64_t)t->acc.peak_bytes);
    fmt_bytes(b, sizeof b, t->max_peak);
    hs__sb_printf(&v->report,
                  "heapscope: test '%s' peaked at %lld byte(s) (%s) above its start, over its "
                  "budget of %llu byte(s) (%s, %s%s)\n",
                  name, (long long)t->acc.peak_bytes, a, (unsigned long long)t->max_peak, b,
                  t->peak_from ? "heapscope_cmocka_peak_bytes_at_most at " : "HEAPSCOPE_TEST_MAX_PEAK",
                  t->peak_from ? t->peak_from : "");
    hs__sb_printf(&v->report, "Live at the peak, allocated during the test (%u site(s)%s):\n",
                  t->total_sites, t->total_sites > t->nsites ? ", the largest shown" : "");
    for (uint32_t i = 0; i < t->nsites; i++) {
      const hs_bucket_t *bk = site_bucket(&t->sites[i]);
      hs__sb_printf(&v->report, "\n%llu byte(s) in %llu object(s) allocated from:\n",
                    (unsigned long long)t->sites[i].bytes, (unsigned long long)t->sites[i].objects);
      if (bk) lc_format_stack(bk->pcs, bk->depth, bk->epoch, &v->report);
      else hs__sb_printf(&v->report, "    <empty stack>\n");
    }
    if (t->total_sites > t->nsites)
      hs__sb_printf(&v->report, "\n(%u more site(s) not shown)\n", t->total_sites - t->nsites);
    if (!t->acc.sites_complete)
      hs__sb_printf(&v->report, "(out of memory tracking sites: the list may be incomplete)\n");
    /* Fail at the largest site's first frame with a source file. */
    const hs_bucket_t *bk = t->nsites ? site_bucket(&t->sites[0]) : NULL;
    first_file_t f = {v->file, sizeof v->file, 0};
    size_t depth = bk ? lc_visible_depth(bk->pcs, bk->depth) : 0;
    hs__runtime_leave();
    for (size_t i = 0; i < depth && !f.line; i++)
      if (bk->pcs[i]) hs__symbolize(bk->pcs[i], bk->epoch, first_file_cb, &f);
    hs__runtime_enter();
    v->line = f.line;
    hs__snprintf(v->fail_text, sizeof v->fail_text,
                 "heapscope: peak of %lld byte(s) over the budget of %llu%s",
                 (long long)t->acc.peak_bytes, (unsigned long long)t->max_peak,
                 v->line ? " (the largest site allocated here)" : "");
  }
  if (t->over_cpu) {
    fmt_duration(a, sizeof a, t->cpu_ns);
    fmt_duration(b, sizeof b, t->wall_ns);
    fmt_duration(c, sizeof c, t->max_cpu_ns);
    hs__sb_printf(&v->report,
                  "%sheapscope: test '%s' used %s of CPU (%s wall), over its budget of %s (%s%s)\n",
                  t->over_peak ? "\n" : "", name, a, b, c,
                  t->cpu_from ? "heapscope_cmocka_cpu_seconds_at_most at " : "HEAPSCOPE_TEST_MAX_CPU",
                  t->cpu_from ? t->cpu_from : "");
    hs__runtime_leave();
    cpu_top_functions(t, name, &v->report);
    hs__runtime_enter();
    if (!t->over_peak) {
      split_where(t->cpu_from, v);
      hs__snprintf(v->fail_text, sizeof v->fail_text,
                   "heapscope: %s of CPU over the budget of %s", a, c);
    }
  }
  hs__runtime_leave();
  return true;
}

/* ---- outputs ---------------------------------------------------------------- */

static const char *const measure_names[] = {"cpu_s", "wall_s", "peak_bytes",
                                            "allocs", "alloc_bytes", "leaked_bytes"};

/* The test's figures by name (measure_names); false when unknown. */
static bool figure(const ts_test_t *t, size_t i, char *buf, size_t size) {
  switch (i) {
  case 0: fmt_seconds(buf, size, t->cpu_ns); return true;
  case 1: fmt_seconds(buf, size, t->wall_ns); return true;
  case 2:
    if (!t->accounted) return false;
    hs__snprintf(buf, size, "%lld", (long long)t->acc.peak_bytes);
    return true;
  case 3:
    if (!t->accounted) return false;
    hs__snprintf(buf, size, "%llu", (unsigned long long)t->acc.allocs);
    return true;
  case 4:
    if (!t->accounted) return false;
    hs__snprintf(buf, size, "%llu", (unsigned long long)t->acc.alloc_bytes);
    return true;
  case 5:
    if (!t->leak_checked) return false;
    hs__snprintf(buf, size, "%llu", (unsigned long long)t->leaked_bytes);
    return true;
  }
  return false;
}

/* CTest reads <DartMeasurement> tags anywhere in a test's output and keeps
 * them as the test's named measurements (Test.xml, CDash). One CMocka test
 * per process (the CTest module's discovered tests): plain names, so CDash
 * graphs the same name across builds; else prefixed with the test's name. */
static void print_measurements(const ts_test_t *t) {
  /* A stack buffer: an internal-heap buffer freed after each test made
   * the internal heap hand its span back to the kernel every time. */
  char buf[2048];
  size_t len = 0;
  bool one_test = hs__setting_given(HS_SET_HEAPSCOPE_CMOCKA_FILTER);
  char name[600] = "";
  if (!one_test) { /* the test's name, escaped for XML, then '.' */
    size_t k = 0;
    for (const char *c = t->name; *c && k + 8 < sizeof name; c++) {
      const char *e = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;"
                    : *c == '"' ? "&quot;" : NULL;
      if (e) k += (size_t)hs__snprintf(name + k, sizeof name - k, "%s", e);
      else name[k++] = *c;
    }
    name[k++] = '.';
    name[k] = '\0';
  }
  for (size_t i = 0; i < sizeof measure_names / sizeof measure_names[0]; i++) {
    char val[64];
    if (!figure(t, i, val, sizeof val)) continue;
    int n = hs__snprintf(buf + len, sizeof buf - len,
                         "<DartMeasurement type=\"numeric/double\" name=\"%sheapscope.%s\">%s"
                         "</DartMeasurement>\n", name, measure_names[i], val);
    if (n < 0 || (size_t)n >= sizeof buf - len) break;
    len += (size_t)n;
  }
  /* CMocka's XML, TAP or subunit on stdout must stay parseable. */
  const char *o = hs__setting_str(HS_SET_CMOCKA_MESSAGE_OUTPUT);
  bool console = !o || !strcasecmp(o, "stdout") || !strcasecmp(o, "standard");
  fflush(stdout);
  hs__write_all(console ? 1 : 2, buf, len);
}

static void commit(void) {
  if (!ts.active) return;
  ts_measure();
  ts.active = false;
  bool measurements = hs__setting_bool(HS_SET_HEAPSCOPE_TEST_MEASUREMENTS);
  /* Kept only for a reader (the stats file, CMocka's XML file): budgets
   * and measurements need none, and 5,000 tests' records cost ~1 MiB of
   * fresh pages (a page fault is 10-40 us on the VMs we measure on). */
  if (!hs__setting_str(HS_SET_HEAPSCOPE_TEST_STATS) && !ts.xml_path[0]) {
    if (measurements) print_measurements(&ts.cur);
    hs__arena_free(ts.cur.sites);
    return;
  }
  if (ts.n == ts.cap) {
    size_t cap = ts.cap ? ts.cap * 2 : 64;
    ts_test_t *grown = hs__arena_realloc(ts.tests, cap * sizeof *grown);
    if (!grown) return; /* out of memory: this test's figures are lost */
    ts.tests = grown;
    ts.cap = cap;
  }
  ts_test_t *t = &ts.tests[ts.n++];
  *t = ts.cur;
  t->name = arena_strdup(ts.cur.name);
  if (!t->name) t->name = "";
  ts.dirty = true;
  if (measurements) print_measurements(t);
}

/* ---- the stats file ------------------------------------------------------------ */

typedef struct json_frame_ctx {
  hs_strbuf_t *out;
  bool first;
} json_frame_ctx_t;

static void json_frame(const hs_symbol_t *sym, void *ctx_) {
  json_frame_ctx_t *ctx = ctx_;
  hs_strbuf_t *out = ctx->out;
  if (!ctx->first) sb_lit(out, ",");
  sb_lit(out, "{\"function\":");
  ctx->first = false;
  lc_json_string(out, sym->function);
  sb_lit(out, ",\"file\":");
  lc_json_string(out, sym->file ? lc_strip_prefix(sym->file) : NULL);
  if (sym->line > 0) hs__sb_printf(out, ",\"line\":%d", sym->line);
  else sb_lit(out, ",\"line\":null");
  sb_lit(out, ",\"module\":");
  lc_json_string(out, sym->module);
  hs__sb_printf(out, ",\"offset\":\"0x%lx\"}", (unsigned long)sym->module_offset);
}

static void json_u64_or_null(hs_strbuf_t *out, const char *key, bool known, uint64_t v) {
  if (known) hs__sb_printf(out, ",\"%s\":%llu", key, (unsigned long long)v);
  else hs__sb_printf(out, ",\"%s\":null", key);
}

static void json_test(hs_strbuf_t *out, const ts_test_t *t) {
  char s[64];
  sb_lit(out, "{\"name\":");
  lc_json_string(out, t->name);
  sb_lit(out, ",\"group\":");
  lc_json_string(out, t->group);
  hs__sb_printf(out, ",\"status\":\"%s\"", status_name(t->status));
  fmt_seconds(s, sizeof s, t->wall_ns);
  hs__sb_printf(out, ",\"wall_s\":%s", s);
  fmt_seconds(s, sizeof s, t->cpu_ns);
  hs__sb_printf(out, ",\"cpu_s\":%s", s);
  json_u64_or_null(out, "allocs", t->accounted, t->acc.allocs);
  json_u64_or_null(out, "alloc_bytes", t->accounted, t->acc.alloc_bytes);
  json_u64_or_null(out, "frees", t->accounted, t->acc.frees);
  json_u64_or_null(out, "free_bytes", t->accounted, t->acc.free_bytes);
  json_u64_or_null(out, "peak_bytes", t->accounted, (uint64_t)t->acc.peak_bytes);
  if (t->accounted) hs__sb_printf(out, ",\"live_bytes\":%lld", (long long)t->acc.end_bytes);
  else sb_lit(out, ",\"live_bytes\":null");
  json_u64_or_null(out, "leaked_bytes", t->leak_checked, t->leaked_bytes);
  json_u64_or_null(out, "leaked_objects", t->leak_checked, t->leaked_objects);
  json_u64_or_null(out, "max_peak_bytes", t->max_peak != 0, t->max_peak);
  if (t->max_cpu_ns) {
    fmt_seconds(s, sizeof s, t->max_cpu_ns);
    hs__sb_printf(out, ",\"max_cpu_s\":%s", s);
  } else {
    sb_lit(out, ",\"max_cpu_s\":null");
  }
  hs__sb_printf(out, ",\"over_budget\":[%s%s%s]", t->over_peak ? "\"peak\"" : "",
                t->over_peak && t->over_cpu ? "," : "", t->over_cpu ? "\"cpu\"" : "");
  if (t->over_peak) {
    sb_lit(out, ",\"peak_sites\":[");
    for (uint32_t i = 0; i < t->nsites; i++) {
      const hs_bucket_t *bk = site_bucket(&t->sites[i]);
      hs__sb_printf(out, "%s{\"bytes\":%llu,\"objects\":%llu,\"frames\":[", i ? "," : "",
                    (unsigned long long)t->sites[i].bytes, (unsigned long long)t->sites[i].objects);
      json_frame_ctx_t ctx = {out, true};
      size_t depth = bk ? lc_visible_depth(bk->pcs, bk->depth) : 0;
      for (size_t k = 0; k < depth; k++)
        if (bk->pcs[k]) hs__symbolize(bk->pcs[k], bk->epoch, json_frame, &ctx);
      sb_lit(out, "]}");
    }
    hs__sb_printf(out, "],\"peak_sites_total\":%u", t->total_sites);
  }
  sb_lit(out, "}");
}

static void expand_pid(const char *pattern, char *out, size_t size) {
  size_t k = 0;
  for (const char *c = pattern; *c && k + 12 < size; c++) {
    if (c[0] == '%' && c[1] == 'p') {
      k += (size_t)hs__snprintf(out + k, size - k, "%d", (int)getpid());
      c++;
    } else {
      out[k++] = *c;
    }
  }
  out[k] = '\0';
}

/* The whole document each time, replacing the old one only once complete
 * (a temporary file renamed over it): valid whenever the process stops. */
static void write_stats(void) {
  const char *pattern = hs__setting_str(HS_SET_HEAPSCOPE_TEST_STATS);
  if (!pattern || !ts.dirty || ts.pid != (int)getpid()) return;
  ts.dirty = false;
  char path[1100], tmp[1200], exe[1024];
  expand_pid(pattern, path, sizeof path);
  ssize_t en = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[en > 0 ? en : 0] = '\0';
  hs_strbuf_t out = {0};
  hs__modules_refresh();
  hs__runtime_enter();
  hs__sb_printf(&out, "{\"tool\":\"heapscope\",\"kind\":\"test-stats\",\"version\":1,\"pid\":%d,"
                      "\"program\":",
                (int)getpid());
  lc_json_string(&out, en > 0 ? exe : NULL);
  sb_lit(&out, ",\"tests\":[");
  hs__runtime_leave();
  for (size_t i = 0; i < ts.n; i++) {
    if (i) sb_lit(&out, ",");
    sb_lit(&out, "\n");
    json_test(&out, &ts.tests[i]);
  }
  sb_lit(&out, "\n]}\n");
  int err = 0;
  if (out.oom) {
    err = ENOMEM;
  } else {
    hs__snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      err = errno;
    } else {
      if (!hs__write_all(fd, out.data, out.len)) err = EIO;
      if (close(fd) != 0 && !err) err = errno;
      if (!err && rename(tmp, path) != 0) err = errno;
      if (err) unlink(tmp);
    }
  }
  hs__sb_free(&out);
  if (err && !ts.stats_failed) {
    ts.stats_failed = true;
    hs__errorf("cannot write the test statistics to %s: %s", path, strerror(err));
  }
}

/* ---- CMocka's XML file ---------------------------------------------------------- */

static const char *find_last(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  const char *last = NULL;
  for (const char *p = hay; len >= n && (p = memmem(p, len - (size_t)(p - hay), needle, n)); p++)
    last = p;
  return last;
}

/* Adds a <properties> block to each <testcase> of this group's (last)
 * <testsuite> in the XML file CMocka just wrote. */
static void annotate_xml(const char *group) {
  struct stat now;
  if (!ts.xml_path[0] || stat(ts.xml_path, &now) != 0 || !S_ISREG(now.st_mode)) return;
  if (ts.xml_existed && now.st_size == ts.xml_before.st_size &&
      now.st_mtim.tv_sec == ts.xml_before.st_mtim.tv_sec &&
      now.st_mtim.tv_nsec == ts.xml_before.st_mtim.tv_nsec && now.st_ino == ts.xml_before.st_ino)
    return; /* CMocka did not write it (an existing file: it wrote to stderr) */
  int fd = open(ts.xml_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t len = (size_t)now.st_size;
  hs__runtime_enter();
  char *text = hs__arena_alloc(len + 1);
  hs_strbuf_t out = {0};
  size_t got = 0;
  while (text && got < len) {
    ssize_t r = read(fd, text + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  char head[1100];
  hs__snprintf(head, sizeof head, "<testsuite name=\"%s\"", group ? group : "");
  const char *suite = text && got == len ? find_last(text, len, head) : NULL;
  const char *end = suite ? strstr(suite, "</testsuite>") : NULL;
  bool changed = false;
  if (end) {
    text[len] = '\0';
    const char *copied = text, *p = suite;
    size_t cursor = ts.group_first;
    while ((p = strstr(p, "<testcase name=\"")) && p < end) {
      const char *name = p + 16;
      const char *q = strchr(name, '"');
      const char *close_tag = q ? strchr(q, '>') : NULL;
      if (!close_tag || close_tag > end) break;
      p = close_tag + 1;
      if (close_tag[-1] == '/') continue; /* <testcase .../> */
      size_t nlen = (size_t)(q - name);
      const ts_test_t *t = NULL;
      for (size_t k = cursor; k < ts.n && !t; k++)
        if (strlen(ts.tests[k].name) == nlen && !memcmp(ts.tests[k].name, name, nlen)) {
          t = &ts.tests[k];
          cursor = k + 1;
        }
      if (!t) continue;
      hs__sb_append(&out, copied, (size_t)(p - copied));
      copied = p;
      sb_lit(&out, "\n      <properties>");
      for (size_t i = 0; i < sizeof measure_names / sizeof measure_names[0]; i++) {
        char val[64];
        if (figure(t, i, val, sizeof val))
          hs__sb_printf(&out, "\n        <property name=\"heapscope.%s\" value=\"%s\"/>",
                        measure_names[i], val);
      }
      if (t->over_peak || t->over_cpu)
        hs__sb_printf(&out, "\n        <property name=\"heapscope.over_budget\" value=\"%s%s%s\"/>",
                      t->over_peak ? "peak" : "", t->over_peak && t->over_cpu ? "," : "",
                      t->over_cpu ? "cpu" : "");
      sb_lit(&out, "\n      </properties>");
      changed = true;
    }
    hs__sb_append(&out, copied, len - (size_t)(copied - text));
  }
  if (changed && !out.oom) {
    char tmp[1200];
    hs__snprintf(tmp, sizeof tmp, "%s.tmp.%d", ts.xml_path, (int)getpid());
    int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = w >= 0 && hs__write_all(w, out.data, out.len);
    if (w >= 0 && close(w) != 0) ok = false;
    if (!ok || rename(tmp, ts.xml_path) != 0) {
      if (w >= 0) unlink(tmp);
      hs__errorf("cannot add the test figures to %s: %s", ts.xml_path, strerror(errno));
    }
  }
  hs__sb_free(&out);
  hs__arena_free(text);
  hs__runtime_leave();
}

void ts_group_end(const char *group) {
  if (!ts_enabled()) return;
  commit();
  annotate_xml(group);
  write_stats();
}

/* The process ends (exit() from a test, or after main): a test still
 * running is incomplete; the file gets what there is. Before the exit-time
 * leak check (destructor 101). */
__attribute__((destructor(102))) static void ts_fini(void) {
  if (ts.active && ts.pid == (int)getpid()) {
    ts_set_status(TS_INCOMPLETE);
    commit();
  }
  write_stats();
}
