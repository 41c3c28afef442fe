/* heapscope report: reading the runtime's JSON documents about tests
 * (report.h, "test statistics and leak reports").
 *
 *   HEAPSCOPE_TEST_STATS  {"tool":"heapscope","kind":"test-stats","version":1,
 *                          "pid":N,"program":...,"tests":[{"name","group",
 *                          "status","wall_s","cpu_s",...}]}
 *   HEAPSCOPE_REPORT=json {"tool":"heapscope","version":2,"pid":N,
 *                          "leaks":[{"test","group","kind","bytes","objects",
 *                          "frames":[...]}],...}
 * A file holds one document, or several one after another (the leak
 * reports written to stderr, one line each). Unknown fields are ignored;
 * a figure given as null stays unknown. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

void rp_suite_init(rp_suite_t *s) {
  memset(s, 0, sizeof *s);
  rp_str_init(&s->st);
}

static void free_frames(rp_sframe_t *f) { free(f); }

void rp_suite_free(rp_suite_t *s) {
  for (size_t i = 0; i < s->ntests; i++) {
    for (size_t k = 0; k < s->tests[i].nsites; k++) free_frames(s->tests[i].sites[k].frames);
    free(s->tests[i].sites);
  }
  for (size_t i = 0; i < s->nleaks; i++) free_frames(s->leaks[i].frames);
  free(s->tests);
  free(s->leaks);
  rp_str_free(&s->st);
}

bool rp_is_json_doc(const unsigned char *d, size_t n) {
  size_t i = 0;
  while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r')) i++;
  return i < n && d[i] == '{';
}

void rp_suite_label(const rp_suite_t *s, const rp_testrec_t *t, char *buf, size_t size) {
  const char *g = rp_str_get(&s->st, t->group), *n = rp_str_get(&s->st, t->name);
  if (*g) snprintf(buf, size, "%s/%s", g, n);
  else snprintf(buf, size, "%s", n);
}

static uint32_t str_of(rp_suite_t *s, const rp_json_t *obj, const char *key) {
  const char *v = rp_json_str(obj, key);
  return v ? rp_str(&s->st, v) : 0;
}

static double seconds(const rp_json_t *obj, const char *key) {
  double d;
  return rp_json_num(obj, key, &d) && d >= 0 ? d : -1;
}

static bool read_frames(rp_suite_t *s, const rp_json_t *arr, rp_sframe_t **out, size_t *n,
                        rp_err_t *err) {
  *out = NULL;
  *n = 0;
  if (!arr || arr->type == RP_JSON_NULL) return true;
  if (arr->type != RP_JSON_ARR) return rp_fail(err, "\"frames\" is not an array");
  *out = rp_alloc((arr->n ? arr->n : 1) * sizeof **out);
  for (size_t i = 0; i < arr->n; i++) {
    const rp_json_t *f = &arr->items[i];
    if (f->type != RP_JSON_OBJ) return rp_fail(err, "a frame is not an object");
    rp_sframe_t *o = &(*out)[(*n)++];
    o->function = str_of(s, f, "function");
    o->file = str_of(s, f, "file");
    int64_t line = rp_json_int(f, "line", 0);
    o->line = line > 0 && line < INT32_MAX ? (int32_t)line : 0;
  }
  return true;
}

static bool read_test(rp_suite_t *s, const rp_json_t *t, uint32_t source, int64_t pid,
                      rp_err_t *err) {
  if (t->type != RP_JSON_OBJ) return rp_fail(err, "an entry of \"tests\" is not an object");
  const char *name = rp_json_str(t, "name");
  if (!name) return rp_fail(err, "a test without a \"name\"");
  RP_RESERVE(s->tests, s->tests_cap, s->ntests + 1);
  rp_testrec_t *r = &s->tests[s->ntests++];
  memset(r, 0, sizeof *r);
  r->name = rp_str(&s->st, name);
  r->group = str_of(s, t, "group");
  r->status = str_of(s, t, "status");
  if (!r->status) r->status = rp_str(&s->st, "unknown");
  r->source = source;
  r->pid = pid;
  r->wall_s = seconds(t, "wall_s");
  r->cpu_s = seconds(t, "cpu_s");
  r->allocs = rp_json_int(t, "allocs", RP_UNKNOWN);
  r->alloc_bytes = rp_json_int(t, "alloc_bytes", RP_UNKNOWN);
  r->peak_bytes = rp_json_int(t, "peak_bytes", RP_UNKNOWN);
  r->live_bytes = rp_json_int(t, "live_bytes", RP_UNKNOWN);
  r->leaked_bytes = rp_json_int(t, "leaked_bytes", RP_UNKNOWN);
  r->leaked_objects = rp_json_int(t, "leaked_objects", RP_UNKNOWN);
  r->max_peak = rp_json_int(t, "max_peak_bytes", RP_UNKNOWN);
  r->max_cpu = seconds(t, "max_cpu_s");
  const rp_json_t *over = rp_json_get(t, "over_budget");
  for (size_t i = 0; over && over->type == RP_JSON_ARR && i < over->n; i++) {
    const rp_json_t *o = &over->items[i];
    if (o->type != RP_JSON_STR) continue;
    if (!strcmp(o->str, "peak")) r->over_peak = true;
    if (!strcmp(o->str, "cpu")) r->over_cpu = true;
  }
  const rp_json_t *sites = rp_json_get(t, "peak_sites");
  if (sites && sites->type == RP_JSON_ARR && sites->n) {
    r->sites = rp_alloc(sites->n * sizeof *r->sites);
    for (size_t i = 0; i < sites->n; i++) {
      const rp_json_t *si = &sites->items[i];
      if (si->type != RP_JSON_OBJ) return rp_fail(err, "a peak site is not an object");
      rp_site_t *o = &r->sites[r->nsites++];
      o->bytes = rp_json_int(si, "bytes", 0);
      o->objects = rp_json_int(si, "objects", 0);
      if (!read_frames(s, rp_json_get(si, "frames"), &o->frames, &o->nframes, err)) return false;
    }
  }
  return true;
}

static bool read_leak(rp_suite_t *s, const rp_json_t *l, uint32_t source, rp_err_t *err) {
  if (l->type != RP_JSON_OBJ) return rp_fail(err, "an entry of \"leaks\" is not an object");
  RP_RESERVE(s->leaks, s->leaks_cap, s->nleaks + 1);
  rp_leakrec_t *r = &s->leaks[s->nleaks++];
  memset(r, 0, sizeof *r);
  r->test = str_of(s, l, "test");
  r->group = str_of(s, l, "group");
  r->kind = str_of(s, l, "kind");
  r->source = source;
  r->bytes = rp_json_int(l, "bytes", 0);
  r->objects = rp_json_int(l, "objects", 0);
  return read_frames(s, rp_json_get(l, "frames"), &r->frames, &r->nframes, err);
}

static bool read_document(rp_suite_t *s, const rp_json_t *doc, uint32_t source, rp_err_t *err) {
  if (doc->type != RP_JSON_OBJ) return rp_fail(err, "not a JSON object");
  const char *tool = rp_json_str(doc, "tool");
  if (!tool || strcmp(tool, "heapscope") != 0)
    return rp_fail(err, "not a heapscope document (no \"tool\":\"heapscope\")");
  const rp_json_t *tests = rp_json_get(doc, "tests");
  const rp_json_t *leaks = rp_json_get(doc, "leaks");
  if (!tests && !leaks)
    return rp_fail(err, "neither test statistics (\"tests\") nor a leak report (\"leaks\")");
  int64_t pid = rp_json_int(doc, "pid", 0);
  if (tests) {
    if (tests->type != RP_JSON_ARR) return rp_fail(err, "\"tests\" is not an array");
    for (size_t i = 0; i < tests->n; i++)
      if (!read_test(s, &tests->items[i], source, pid, err)) return false;
  }
  if (leaks) {
    if (leaks->type != RP_JSON_ARR) return rp_fail(err, "\"leaks\" is not an array");
    for (size_t i = 0; i < leaks->n; i++)
      if (!read_leak(s, &leaks->items[i], source, err)) return false;
  }
  return true;
}

bool rp_parse_suite(const char *text, size_t n, const char *path, rp_suite_t *s, rp_err_t *err) {
  uint32_t source = rp_str(&s->st, path ? path : "");
  size_t pos = 0, docs = 0;
  for (;;) {
    while (pos < n && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
      pos++;
    if (pos == n) break;
    rp_json_t doc;
    size_t used;
    if (!rp_json_parse(text + pos, n - pos, &used, &doc, err)) return false;
    bool ok = read_document(s, &doc, source, err);
    rp_json_free(&doc);
    if (!ok) return false;
    pos += used;
    docs++;
  }
  if (!docs) return rp_fail(err, "empty file");
  s->nfiles++;
  return true;
}

bool rp_read_suite(const char *path, rp_suite_t *s, rp_err_t *err) {
  rp_buf_t b;
  if (!rp_read_file(path, &b, err)) return false;
  bool ok = rp_parse_suite((const char *)b.data, b.len, path, s, err);
  free(b.data);
  return ok;
}
