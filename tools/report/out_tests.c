/* heapscope report --tests over per-test statistics files: a suite's
 * totals, then its slowest tests (CPU time) and its hungriest (peak live
 * bytes), and the tests over a budget or leaking. `--nodecount=N` rows per
 * table (default 20, 0 = all); `--unit=raw` prints exact seconds and bytes. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

static const rp_suite_t *sort_suite;

static int by_cpu(const void *a, const void *b) {
  const rp_testrec_t *x = *(const rp_testrec_t *const *)a, *y = *(const rp_testrec_t *const *)b;
  if (x->cpu_s != y->cpu_s) return x->cpu_s < y->cpu_s ? 1 : -1;
  if (x->wall_s != y->wall_s) return x->wall_s < y->wall_s ? 1 : -1;
  return strcmp(rp_str_get(&sort_suite->st, x->name), rp_str_get(&sort_suite->st, y->name));
}

static int by_peak(const void *a, const void *b) {
  const rp_testrec_t *x = *(const rp_testrec_t *const *)a, *y = *(const rp_testrec_t *const *)b;
  if (x->peak_bytes != y->peak_bytes) return x->peak_bytes < y->peak_bytes ? 1 : -1;
  if (x->alloc_bytes != y->alloc_bytes) return x->alloc_bytes < y->alloc_bytes ? 1 : -1;
  return strcmp(rp_str_get(&sort_suite->st, x->name), rp_str_get(&sort_suite->st, y->name));
}

static void fmt_secs(char *buf, size_t size, double s, bool raw) {
  if (s < 0) snprintf(buf, size, "-");
  else if (raw) snprintf(buf, size, "%.9f", s);
  else if (s >= 1) snprintf(buf, size, "%.2fs", s);
  else if (s >= 0.001) snprintf(buf, size, "%.1fms", s * 1e3);
  else snprintf(buf, size, "%.0fus", s * 1e6);
}

static void fmt_bytes(char *buf, size_t size, int64_t b, bool raw) {
  if (b == RP_UNKNOWN) snprintf(buf, size, "-");
  else if (raw || (b < 1024 && b > -1024)) snprintf(buf, size, "%lldB", (long long)b);
  else if (b < (1 << 20) && b > -(1 << 20)) snprintf(buf, size, "%.1fkB", (double)b / 1024);
  else if (b < (1ll << 30) && b > -(1ll << 30)) snprintf(buf, size, "%.1fMB", (double)b / (1 << 20));
  else snprintf(buf, size, "%.2fGB", (double)b / (1ll << 30));
}

static void fmt_count(char *buf, size_t size, int64_t n) {
  if (n == RP_UNKNOWN) snprintf(buf, size, "-");
  else snprintf(buf, size, "%lld", (long long)n);
}

static void row(FILE *f, const rp_suite_t *s, const rp_testrec_t *t, bool raw) {
  char cpu[32], wall[32], peak[32], ab[32], allocs[32], leaked[32], label[1024];
  fmt_secs(cpu, sizeof cpu, t->cpu_s, raw);
  fmt_secs(wall, sizeof wall, t->wall_s, raw);
  fmt_bytes(peak, sizeof peak, t->peak_bytes, raw);
  fmt_bytes(ab, sizeof ab, t->alloc_bytes, raw);
  fmt_count(allocs, sizeof allocs, t->allocs);
  fmt_bytes(leaked, sizeof leaked, t->leaked_bytes, raw);
  rp_suite_label(s, t, label, sizeof label);
  fprintf(f, "%12s %12s %12s %12s %9s %10s  %-10s %s\n", cpu, wall, peak, ab, allocs, leaked,
          rp_str_get(&s->st, t->status), label);
}

static void header(FILE *f) {
  fprintf(f, "%12s %12s %12s %12s %9s %10s  %-10s %s\n", "cpu", "wall", "peak", "allocated",
          "allocs", "leaked", "status", "test");
}

bool rp_write_test_table(FILE *f, const rp_suite_t *s, const rp_opts_t *o) {
  size_t n = s->ntests;
  size_t shown = o->nodecount_set ? (size_t)o->nodecount : 20;
  if (shown == 0 || shown > n) shown = n;
  double cpu = 0, wall = 0;
  size_t status[5] = {0}; /* passed, failed, skipped, error, other */
  for (size_t i = 0; i < n; i++) {
    const rp_testrec_t *t = &s->tests[i];
    if (t->cpu_s > 0) cpu += t->cpu_s;
    if (t->wall_s > 0) wall += t->wall_s;
    const char *st = rp_str_get(&s->st, t->status);
    status[!strcmp(st, "passed") ? 0 : !strcmp(st, "failed") ? 1 : !strcmp(st, "skipped") ? 2
           : !strcmp(st, "error") ? 3 : 4]++;
  }
  char c[32], w[32];
  fmt_secs(c, sizeof c, cpu, o->raw_units);
  fmt_secs(w, sizeof w, wall, o->raw_units);
  fprintf(f, "Tests: %zu from %zu file(s): %zu passed, %zu failed, %zu skipped, %zu error(s)",
          n, s->nfiles, status[0], status[1], status[2], status[3]);
  if (status[4]) fprintf(f, ", %zu other", status[4]);
  fprintf(f, "; CPU %s, wall %s in tests\n", c, w);
  if (!n) return !ferror(f);
  const rp_testrec_t **v = rp_alloc(n * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = &s->tests[i];
  sort_suite = s;
  qsort(v, n, sizeof *v, by_cpu);
  fprintf(f, "\nSlowest tests (CPU time; %zu of %zu)\n", shown, n);
  header(f);
  for (size_t i = 0; i < shown; i++) row(f, s, v[i], o->raw_units);
  qsort(v, n, sizeof *v, by_peak);
  fprintf(f, "\nHungriest tests (peak live bytes above the test's start; %zu of %zu)\n", shown, n);
  header(f);
  for (size_t i = 0; i < shown; i++) row(f, s, v[i], o->raw_units);
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const rp_testrec_t *t = v[i];
    if (!t->over_peak && !t->over_cpu && !(t->leaked_bytes > 0)) continue;
    if (!any) fprintf(f, "\nOver budget or leaking\n");
    any = true;
    char label[1024], a[32], b[32];
    rp_suite_label(s, t, label, sizeof label);
    fprintf(f, "  %s:", label);
    if (t->over_peak) {
      fmt_bytes(a, sizeof a, t->peak_bytes, o->raw_units);
      fmt_bytes(b, sizeof b, t->max_peak, o->raw_units);
      fprintf(f, " peak %s over %s;", a, b);
    }
    if (t->over_cpu) {
      fmt_secs(a, sizeof a, t->cpu_s, o->raw_units);
      fmt_secs(b, sizeof b, t->max_cpu, o->raw_units);
      fprintf(f, " CPU %s over %s;", a, b);
    }
    if (t->leaked_bytes > 0) {
      fmt_bytes(a, sizeof a, t->leaked_bytes, o->raw_units);
      fprintf(f, " leaked %s;", a);
    }
    fprintf(f, " (%s)\n", rp_str_get(&s->st, t->source));
  }
  free(v);
  return !ferror(f);
}
