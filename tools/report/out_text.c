/* heapscope report: the text outputs.
 *   --top     flat, flat%, sum%, cum, cum%, name (pprof's -top / --text)
 *   --traces  every distinct stack with its value (pprof's -traces)
 *   --tests   the per-test split: each test's share of the profile */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- values ------------------------------------------------------------------------- */

/* Integer and fixed-point formatting without printf: a flame graph of a
 * 100,000-stack profile formats a few hundred thousand numbers, and
 * printf's floating point made half of its run time. */
size_t rp_fmt_int(char *buf, int64_t x) {
  char tmp[24];
  size_t n = 0, len = 0;
  uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (x < 0) buf[len++] = '-';
  while (n) buf[len++] = tmp[--n];
  buf[len] = '\0';
  return len;
}

/* x with 2 decimals, trailing zeros (and a bare point) dropped when trim. */
size_t rp_fmt_fixed2(char *buf, double x, bool trim) {
  double r = x * 100.0;
  if (!(r < 9.2e18 && r > -9.2e18)) r = 0; /* also NaN */
  int64_t c = (int64_t)(r < 0 ? r - 0.5 : r + 0.5);
  size_t len = 0;
  if (c < 0) {
    buf[len++] = '-';
    c = -c;
  }
  len += rp_fmt_int(buf + len, c / 100);
  int frac = (int)(c % 100);
  if (trim && frac == 0) return len;
  buf[len++] = '.';
  buf[len++] = (char)('0' + frac / 10);
  if (!trim || frac % 10) buf[len++] = (char)('0' + frac % 10);
  buf[len] = '\0';
  return len;
}

void rp_format_value(const rp_view_t *v, int64_t x, bool raw, char *buf, size_t size) {
  char tmp[64];
  size_t n;
  const char *unit = rp_view_unit(v), *suffix = "";
  double d = (double)x, a = d < 0 ? -d : d;
  if (raw || x == 0) {
    n = rp_fmt_int(tmp, x);
  } else if (!strcmp(unit, "bytes")) {
    static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int i = 0;
    while (a >= 1024 && i < 5) {
      a /= 1024;
      d /= 1024;
      i++;
    }
    n = i == 0 ? rp_fmt_int(tmp, x) : rp_fmt_fixed2(tmp, d, true);
    suffix = u[i];
  } else if (!strcmp(unit, "nanoseconds")) {
    if (a < 1e3) n = rp_fmt_int(tmp, x), suffix = "ns";
    else if (a < 1e6) n = rp_fmt_fixed2(tmp, d / 1e3, true), suffix = "us";
    else if (a < 1e9) n = rp_fmt_fixed2(tmp, d / 1e6, true), suffix = "ms";
    else n = rp_fmt_fixed2(tmp, d / 1e9, true), suffix = "s";
  } else {
    n = rp_fmt_int(tmp, x);
  }
  snprintf(buf, size, "%.*s%s", (int)n, tmp, suffix);
}

void rp_format_percent(int64_t part, int64_t total, char *buf, size_t size) {
  if (total == 0) {
    snprintf(buf, size, "-");
    return;
  }
  double t = (double)total;
  if (t < 0) t = -t;
  char tmp[64];
  size_t n = rp_fmt_fixed2(tmp, 100.0 * (double)part / t, false);
  snprintf(buf, size, "%.*s%%", (int)n, tmp);
}

/* ---- headers ------------------------------------------------------------------------ */

void rp_write_header(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  fputs("File: ", f);
  for (size_t i = 0; i < o->ninputs; i++) fprintf(f, "%s%s", i ? ", " : "", o->inputs[i]);
  fputc('\n', f);
  if (o->base_path) fprintf(f, "Base: %s (subtracted, matched by symbol)\n", o->base_path);
  fprintf(f, "Type: %s\n", rp_view_type_name(v));
  if (v->only) {
    const char *t = rp_str_get(&v->st, v->only_test), *g = rp_str_get(&v->st, v->only_group);
    if (v->only_test) fprintf(f, "Test: %s%s%s\n", g, *g ? "/" : "", t);
    else fputs("Test: (outside tests)\n", f);
  }
}

/* ---- flat and cumulative per node ------------------------------------------------------ */

void rp_node_values(rp_view_t *v, const rp_nodes_t *nd, int64_t *flat, int64_t *cum) {
  uint32_t *seen = rp_alloc(((size_t)nd->n + 1) * sizeof *seen);
  memset(flat, 0, nd->n * sizeof *flat);
  memset(cum, 0, nd->n * sizeof *cum);
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    if (!rp_stack_in(v, s)) continue;
    int64_t x = rp_stack_value(v, s);
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    if (!n) continue;
    flat[nd->of_frame[fr[0]]] += x;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t node = nd->of_frame[fr[i]];
      if (seen[node] == s + 1) continue; /* recursion counts once */
      seen[node] = s + 1;
      cum[node] += x;
    }
  }
  free(seen);
}

typedef struct sort_ctx {
  const int64_t *first, *second;
  const rp_nodes_t *nd;
  const rp_view_t *v;
} sort_ctx_t;

static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

static int cmp_nodes(const void *a, const void *b, void *c) {
  const sort_ctx_t *ctx = c;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int64_t fx = abs64(ctx->first[x]), fy = abs64(ctx->first[y]);
  if (fx != fy) return fx > fy ? -1 : 1;
  int64_t sx = abs64(ctx->second[x]), sy = abs64(ctx->second[y]);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(rp_str_get(&ctx->v->st, ctx->nd->label[x]),
                rp_str_get(&ctx->v->st, ctx->nd->label[y]));
}

bool rp_write_top(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, o->gran, &nd);
  int64_t *flat = rp_alloc(((size_t)nd.n + 1) * sizeof *flat);
  int64_t *cum = rp_alloc(((size_t)nd.n + 1) * sizeof *cum);
  rp_node_values(v, &nd, flat, cum);
  uint32_t *order = rp_alloc(((size_t)nd.n + 1) * sizeof *order);
  uint32_t count = 0;
  for (uint32_t i = 0; i < nd.n; i++)
    if (flat[i] || cum[i]) order[count++] = i;
  sort_ctx_t ctx = {o->cum ? cum : flat, o->cum ? flat : cum, &nd, v};
  qsort_r(order, count, sizeof *order, cmp_nodes, &ctx);
  int64_t total = rp_view_total(v);
  uint32_t shown = o->nodecount > 0 && (uint32_t)o->nodecount < count ? (uint32_t)o->nodecount
                                                                       : count;
  int64_t shown_flat = 0;
  for (uint32_t i = 0; i < shown; i++) shown_flat += flat[order[i]];

  rp_write_header(f, v, o);
  char a[64], b[64], c[64], d[64], e[64];
  rp_format_value(v, shown_flat, o->raw_units, a, sizeof a);
  rp_format_percent(shown_flat, total, b, sizeof b);
  rp_format_value(v, total, o->raw_units, c, sizeof c);
  fprintf(f, "Showing nodes accounting for %s, %s of %s total\n", a, b, c);
  if (shown < count)
    fprintf(f, "Showing top %u nodes out of %u (--nodecount=0 shows all)\n", shown, count);
  fprintf(f, "%10s %7s %7s %10s %7s  %s\n", "flat", "flat%", "sum%", "cum", "cum%", "name");
  int64_t sum = 0;
  for (uint32_t i = 0; i < shown; i++) {
    uint32_t n = order[i];
    sum += flat[n];
    rp_format_value(v, flat[n], o->raw_units, a, sizeof a);
    rp_format_percent(flat[n], total, b, sizeof b);
    rp_format_percent(sum, total, c, sizeof c);
    rp_format_value(v, cum[n], o->raw_units, d, sizeof d);
    rp_format_percent(cum[n], total, e, sizeof e);
    fprintf(f, "%10s %7s %7s %10s %7s  %s\n", a, b, c, d, e, rp_str_get(&v->st, nd.label[n]));
  }
  free(order);
  free(flat);
  free(cum);
  rp_nodes_free(&nd);
  return !ferror(f);
}

/* ---- traces ----------------------------------------------------------------------------- */

typedef struct trace_sort {
  const int64_t *val;
} trace_sort_t;

static int cmp_traces(const void *a, const void *b, void *c) {
  const trace_sort_t *ctx = c;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int64_t vx = abs64(ctx->val[x]), vy = abs64(ctx->val[y]);
  if (vx != vy) return vx > vy ? -1 : 1;
  return x < y ? -1 : x > y;
}

bool rp_write_traces(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, o->gran, &nd);
  /* Stacks equal at this granularity are one trace. */
  rp_seqtab_t traces;
  memset(&traces, 0, sizeof traces);
  int64_t *val = NULL;
  size_t val_cap = 0;
  uint32_t *key = NULL;
  size_t key_cap = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    if (!rp_stack_in(v, s)) continue;
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    RP_RESERVE(key, key_cap, (size_t)n + 2);
    key[0] = rp_stack_test(v, s);
    key[1] = rp_stack_group(v, s);
    for (uint32_t i = 0; i < n; i++) key[i + 2] = nd.of_frame[fr[i]];
    bool added;
    uint32_t t = rp_seq_intern(&traces, key, n + 2, &added);
    if (added) {
      RP_RESERVE(val, val_cap, (size_t)t + 1);
      val[t] = 0;
    }
    val[t] += rp_stack_value(v, s);
  }
  uint32_t *order = rp_alloc((traces.n + 1) * sizeof *order);
  uint32_t count = 0;
  for (uint32_t t = 0; t < traces.n; t++)
    if (val[t]) order[count++] = t;
  trace_sort_t ctx = {val};
  qsort_r(order, count, sizeof *order, cmp_traces, &ctx);
  rp_write_header(f, v, o);
  static const char rule[] = "-----------+-------------------------------------------------------\n";
  char a[64];
  for (uint32_t i = 0; i < count; i++) {
    uint32_t t = order[i];
    const uint32_t *k = rp_seq_key(&traces, t);
    uint32_t n = rp_seq_len(&traces, t) - 2;
    fputs(rule, f);
    if (k[0] && !v->only) {
      const char *g = rp_str_get(&v->st, k[1]);
      fprintf(f, "%10s   test: %s%s%s\n", "", g, *g ? "/" : "", rp_str_get(&v->st, k[0]));
    }
    rp_format_value(v, val[t], o->raw_units, a, sizeof a);
    if (!n) fprintf(f, "%10s   [empty stack]\n", a);
    for (uint32_t j = 0; j < n; j++)
      fprintf(f, "%10s   %s\n", j ? "" : a, rp_str_get(&v->st, nd.label[k[j + 2]]));
  }
  fputs(rule, f);
  free(order);
  free(val);
  free(key);
  rp_seq_free(&traces);
  rp_nodes_free(&nd);
  return !ferror(f);
}

/* ---- tests ------------------------------------------------------------------------------- */

static int cmp_tests(const void *a, const void *b, void *c) {
  const rp_view_t *v = c;
  const rp_test_t *x = a, *y = b;
  if (!x->test != !y->test) return x->test ? -1 : 1; /* outside tests last */
  int64_t vx = abs64(x->value), vy = abs64(y->value);
  if (vx != vy) return vx > vy ? -1 : 1;
  int r = strcmp(rp_str_get(&v->st, x->group), rp_str_get(&v->st, y->group));
  return r ? r : strcmp(rp_str_get(&v->st, x->test), rp_str_get(&v->st, y->test));
}

size_t rp_tests_collect(rp_view_t *v, rp_test_t **out) {
  rp_seqtab_t idx;
  memset(&idx, 0, sizeof idx);
  rp_test_t *t = NULL;
  size_t cap = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    uint32_t key[2] = {rp_stack_test(v, s), rp_stack_group(v, s)};
    if (!key[0]) key[1] = 0;
    bool added;
    uint32_t i = rp_seq_intern(&idx, key, 2, &added);
    if (added) {
      RP_RESERVE(t, cap, (size_t)i + 1);
      memset(&t[i], 0, sizeof t[i]);
      t[i].test = key[0];
      t[i].group = key[1];
    }
    t[i].value += rp_stack_value(v, s);
    t[i].stacks++;
  }
  size_t n = idx.n;
  rp_seq_free(&idx);
  if (n) qsort_r(t, n, sizeof *t, cmp_tests, v);
  *out = t;
  return n;
}

size_t rp_tests_unsampled(rp_view_t *v, rp_test_t **out) {
  rp_seqtab_t sampled;
  memset(&sampled, 0, sizeof sampled);
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    uint32_t key[2] = {rp_stack_test(v, s), rp_stack_group(v, s)};
    if (key[0]) rp_seq_intern(&sampled, key, 2, NULL);
  }
  rp_test_t *t = NULL;
  size_t n = 0, cap = 0;
  for (uint32_t i = 0; i < v->seen_tests.n; i++) {
    const uint32_t *k = rp_seq_key(&v->seen_tests, i);
    if (rp_seq_find(&sampled, k, 2) != UINT32_MAX) continue;
    RP_RESERVE(t, cap, n + 1);
    t[n++] = (rp_test_t){.test = k[0], .group = k[1]};
  }
  rp_seq_free(&sampled);
  *out = t;
  return n;
}

void rp_unsampled_reason(const rp_view_t *v, char *buf, size_t size) {
  if (v->kind == RP_KIND_CPU && v->period > 0 &&
      !strcmp(rp_str_get(&v->st, v->period_unit), "nanoseconds")) {
    snprintf(buf, size, "too short to be sampled (one sample every %g ms of %s)",
             (double)v->period / 1e6, rp_str_get(&v->st, v->period_type));
  } else if (v->kind == RP_KIND_HEAP) {
    snprintf(buf, size, "it allocated nothing this profile records");
  } else {
    snprintf(buf, size, "too short to be sampled");
  }
}

void rp_test_label(const rp_view_t *v, uint32_t test, uint32_t group, char *buf, size_t size) {
  if (!test) snprintf(buf, size, "(outside tests)");
  else {
    const char *g = rp_str_get(&v->st, group);
    snprintf(buf, size, "%s%s%s", g, *g ? "/" : "", rp_str_get(&v->st, test));
  }
}

bool rp_write_tests(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_test_t *t;
  size_t n = rp_tests_collect(v, &t);
  int64_t total = rp_view_total(v), in_tests = 0;
  size_t ntests = 0;
  rp_seqtab_t groups;
  memset(&groups, 0, sizeof groups);
  for (size_t i = 0; i < n; i++)
    if (t[i].test) {
      ntests++;
      in_tests += t[i].value;
      rp_seq_intern(&groups, &t[i].group, 1, NULL);
    }
  rp_write_header(f, v, o);
  char a[64], b[64], c[64];
  rp_format_value(v, in_tests, o->raw_units, a, sizeof a);
  rp_format_percent(in_tests, total, b, sizeof b);
  rp_format_value(v, total, o->raw_units, c, sizeof c);
  fprintf(f, "Tests: %zu in %zu group(s); %s (%s) of %s total in tests\n", ntests, groups.n, a, b,
          c);
  rp_test_t *un;
  size_t nun = rp_tests_unsampled(v, &un);
  if (!ntests && !nun)
    fputs("(no sample carries a test label: see docs/report.md for the per-test contract)\n", f);
  fprintf(f, "%10s %7s %7s  %s\n", "flat", "flat%", "stacks", "test");
  char label[1024];
  for (size_t i = 0; i < n; i++) {
    rp_format_value(v, t[i].value, o->raw_units, a, sizeof a);
    rp_format_percent(t[i].value, total, b, sizeof b);
    rp_test_label(v, t[i].test, t[i].group, label, sizeof label);
    fprintf(f, "%10s %7s %7zu  %s\n", a, b, t[i].stacks, label);
  }
  if (nun) {
    char why[128];
    rp_unsampled_reason(v, why, sizeof why);
    fprintf(f, "%zu test(s) without a sample: %s\n", nun, why);
    for (size_t i = 0; i < nun; i++) {
      rp_test_label(v, un[i].test, un[i].group, label, sizeof label);
      fprintf(f, "%10s %7s %7s  %s\n", "-", "-", "0", label);
    }
  }
  free(un);
  rp_seq_free(&groups);
  free(t);
  return !ferror(f);
}
