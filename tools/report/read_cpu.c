/* heapscope report: legacy binary CPU profiles (gperftools' CPUPROFILE
 * format, which heapscope's CPU profiler writes byte for byte; reference
 * notes cpu-profiler-and-pprof.md 1.3), and their per-test side file.
 *
 * Words are native machine words; like pprof we accept 32- and 64-bit
 * words of either byte order, recognised by the header:
 *   0, 3, 0, PERIOD_US, 0
 * then records  COUNT, N, PC[0] ... PC[N-1]   (PC[0] the interrupted
 * instruction, exact; the others return addresses, looked up at PC - 1)
 * up to the end record  0, 1, 0, then /proc/self/maps text.
 * A file that ends before the end record is truncated: an error.
 *
 * Unlike both pprofs we do not strip the "second frame that almost every
 * sample shares" (it mangles the single-path profiles unit tests produce);
 * only a leaf duplicated as the first caller (PC[1] == PC[0]) is dropped,
 * an artifact of some unwinders, and later (view.c) frames of the
 * profiler's own signal handler by name.
 *
 * Per-test side file PATH.tests (text; the contract of heapscope's CPU
 * profiler, docs/report.md):
 *   heapscope test samples 1
 *   test GROUP<TAB>NAME
 *   COUNT PC PC ...        hex PCs leaf first, one line per distinct stack
 *   test GROUP<TAB>NAME ...
 * Samples of tests are in the main profile too; we move them from the
 * unlabelled stack to the test's. */
#include "report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct words {
  const unsigned char *d;
  size_t n, pos;
  int size; /* 4 or 8 */
  bool big;
} words_t;

static bool word(words_t *w, uint64_t *out) {
  if (w->n - w->pos < (size_t)w->size) return false;
  const unsigned char *b = w->d + w->pos;
  uint64_t v = 0;
  for (int i = 0; i < w->size; i++) {
    int k = w->big ? i : w->size - 1 - i;
    v = v << 8 | b[k];
  }
  w->pos += (size_t)w->size;
  *out = v;
  return true;
}

/* Finds the word format from the header; false if it is no CPU profile. */
static bool detect(const unsigned char *d, size_t n, words_t *out, uint64_t hdr[5]) {
  static const int sizes[2] = {8, 4};
  for (int si = 0; si < 2; si++)
    for (int big = 0; big < 2; big++) {
      words_t w = {d, n, 0, sizes[si], big != 0};
      bool ok = true;
      for (int i = 0; i < 5 && ok; i++) ok = word(&w, &hdr[i]);
      if (ok && hdr[0] == 0 && hdr[1] == 3 && (hdr[2] == 0 || hdr[2] == 1) && hdr[3] > 0 &&
          hdr[4] == 0) {
        *out = w;
        return true;
      }
    }
  return false;
}

bool rp_is_cpu_binary(const unsigned char *d, size_t n) {
  words_t w;
  uint64_t hdr[5];
  return detect(d, n, &w, hdr);
}

/* Location stack of a record: leaf exact, callers at PC - 1, a duplicated
 * leaf dropped. Returns the depth. */
static uint32_t stack_locations(rp_profile_t *p, const uint64_t *pcs, uint32_t n, uint32_t *locs) {
  uint32_t depth = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i == 1 && pcs[1] == pcs[0]) continue;
    uint64_t a = i > 0 && pcs[i] ? pcs[i] - 1 : pcs[i];
    locs[depth++] = rp_profile_location_at(p, a);
  }
  return depth;
}

bool rp_read_cpu(const unsigned char *d, size_t n, rp_profile_t *p, rp_err_t *err) {
  words_t w;
  uint64_t hdr[5];
  if (!detect(d, n, &w, hdr)) return rp_fail(err, "not a legacy CPU profile");
  if (hdr[2] == 1) return rp_fail(err, "Java CPU profiles are not supported");
  p->format = "legacy CPU profile";
  p->kind = RP_KIND_CPU;
  p->drop_signal_frames = true;
  if (hdr[3] > INT64_MAX / 1000) return rp_fail(err, "sampling period %llu us is absurd",
                                                (unsigned long long)hdr[3]);
  int64_t period_ns = (int64_t)hdr[3] * 1000;
  rp_profile_type(p, "samples", "count");
  rp_profile_type(p, "cpu", "nanoseconds");
  p->default_type = 1;
  p->period_type = rp_str(&p->st, "cpu");
  p->period_unit = rp_str(&p->st, "nanoseconds");
  p->period = period_ns;

  uint64_t *pcs = NULL;
  uint32_t *locs = NULL;
  size_t pcs_cap = 0, locs_cap = 0;
  bool ended = false;
  while (w.pos < w.n) {
    size_t at = w.pos;
    uint64_t count, npcs;
    if (!word(&w, &count) || !word(&w, &npcs)) {
      free(pcs);
      free(locs);
      return rp_fail(err, "truncated: record at byte %zu is cut short", at);
    }
    if (npcs > (w.n - w.pos) / (size_t)w.size) {
      free(pcs);
      free(locs);
      if (npcs > RP_MAX_DEPTH)
        return rp_fail(err, "corrupt record at byte %zu: %llu frames", at,
                       (unsigned long long)npcs);
      return rp_fail(err, "truncated: record at byte %zu needs %llu frames, the file ends", at,
                     (unsigned long long)npcs);
    }
    if (npcs > RP_MAX_DEPTH) {
      free(pcs);
      free(locs);
      return rp_fail(err, "corrupt record at byte %zu: %llu frames (at most %d accepted)", at,
                     (unsigned long long)npcs, RP_MAX_DEPTH);
    }
    RP_RESERVE(pcs, pcs_cap, npcs + 1);
    RP_RESERVE(locs, locs_cap, npcs + 1);
    for (uint64_t i = 0; i < npcs; i++) word(&w, &pcs[i]);
    if (count == 0 && npcs == 1 && pcs[0] == 0) {
      ended = true;
      break;
    }
    if (count == 0) continue;
    if (count > INT64_MAX / (uint64_t)period_ns) {
      free(pcs);
      free(locs);
      return rp_fail(err, "corrupt record at byte %zu: count %llu", at, (unsigned long long)count);
    }
    uint32_t depth = stack_locations(p, pcs, (uint32_t)npcs, locs);
    int64_t v[2] = {(int64_t)count, (int64_t)count * period_ns};
    rp_profile_add(p, 0, 0, locs, depth, v);
  }
  free(pcs);
  free(locs);
  if (!ended) return rp_fail(err, "truncated: no end-of-data record after %llu samples",
                             (unsigned long long)p->nrecords);
  rp_parse_maps(p, (const char *)w.d + w.pos, w.n - w.pos);
  rp_profile_map_locations(p);
  return true;
}

/* ---- PATH.tests ---------------------------------------------------------------- */

static bool hex64(const char **s, const char *end, uint64_t *out) {
  const char *q = *s;
  if (end - q >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) q += 2;
  uint64_t v = 0;
  int digits = 0;
  while (q < end && isxdigit((unsigned char)*q)) {
    if (++digits > 16) return false;
    int c = (unsigned char)*q++;
    v = v << 4 | (uint64_t)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
  }
  if (!digits || (q < end && *q != ' ' && *q != '\t')) return false;
  *s = q;
  *out = v;
  return true;
}

bool rp_read_cpu_tests(const char *d, size_t n, rp_profile_t *p, rp_err_t *err) {
  const char *s = d, *end = d + n;
  static const char magic[] = "heapscope test samples 1";
  const char *eol = memchr(s, '\n', n);
  if (!eol) eol = end;
  size_t hl = (size_t)(eol - s);
  if (hl && s[hl - 1] == '\r') hl--;
  if (hl != sizeof magic - 1 || memcmp(s, magic, hl) != 0)
    return rp_fail(err, "per-test file %s.tests: line 1: expected '%s'", p->path, magic);
  p->format = "legacy CPU profile with per-test samples";
  uint32_t test = 0, group = 0;
  long lineno = 1;
  uint64_t *pcs = NULL;
  uint32_t *locs = NULL;
  size_t pcs_cap = 0, locs_cap = 0;
  uint32_t *key = NULL;
  size_t key_cap = 0;
  bool ok = true;
  for (const char *line = eol < end ? eol + 1 : end; ok && line < end;
       line = eol < end ? eol + 1 : end) {
    eol = memchr(line, '\n', (size_t)(end - line));
    if (!eol) eol = end;
    lineno++;
    const char *e = eol;
    if (e > line && e[-1] == '\r') e--;
    if (e == line) continue;
    if ((size_t)(e - line) >= 5 && !memcmp(line, "test ", 5)) {
      const char *g = line + 5, *tab = memchr(g, '\t', (size_t)(e - g));
      if (!tab || tab + 1 >= e) {
        ok = rp_fail(err, "per-test file %s.tests: line %ld: expected 'test GROUP<TAB>NAME'",
                     p->path, lineno);
        break;
      }
      group = rp_str_n(&p->st, g, (size_t)(tab - g));
      test = rp_str_n(&p->st, tab + 1, (size_t)(e - tab - 1));
      continue;
    }
    if (!test) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: samples before the first 'test' line",
                   p->path, lineno);
      break;
    }
    const char *q = line;
    uint64_t count = 0;
    int digits = 0;
    while (q < e && isdigit((unsigned char)*q) && digits < 19) {
      count = count * 10 + (uint64_t)(*q++ - '0');
      digits++;
    }
    if (!digits || count == 0 || (q < e && *q != ' ' && *q != '\t') ||
        count > INT64_MAX / (uint64_t)(p->period > 0 ? p->period : 1)) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: expected 'COUNT PC PC ...'", p->path,
                   lineno);
      break;
    }
    uint32_t npcs = 0;
    for (;;) {
      while (q < e && (*q == ' ' || *q == '\t')) q++;
      if (q >= e) break;
      RP_RESERVE(pcs, pcs_cap, (size_t)npcs + 1);
      if (npcs >= RP_MAX_DEPTH || !hex64(&q, e, &pcs[npcs])) {
        ok = rp_fail(err, "per-test file %s.tests: line %ld: bad PC (expected hex)", p->path,
                     lineno);
        break;
      }
      npcs++;
    }
    if (!ok) break;
    if (!npcs) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: a sample needs at least one PC",
                   p->path, lineno);
      break;
    }
    RP_RESERVE(locs, locs_cap, npcs);
    uint32_t depth = stack_locations(p, pcs, npcs, locs);
    RP_RESERVE(key, key_cap, (size_t)depth + 2);
    key[0] = key[1] = 0;
    if (depth) memcpy(key + 2, locs, depth * sizeof *locs);
    uint32_t s0 = rp_seq_find(&p->samples, key, depth + 2);
    if (s0 == UINT32_MAX || p->values[(size_t)s0 * p->ntypes] < (int64_t)count) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: %llu samples of a stack the profile "
                        "has %s", p->path, lineno, (unsigned long long)count,
                   s0 == UINT32_MAX ? "not at all" : "fewer times");
      break;
    }
    int64_t *v0 = p->values + (size_t)s0 * p->ntypes;
    v0[0] -= (int64_t)count;
    v0[1] -= (int64_t)count * p->period;
    int64_t v[2] = {(int64_t)count, (int64_t)count * p->period};
    uint64_t records = p->nrecords;
    rp_profile_add(p, test, group, locs, depth, v);
    p->nrecords = records; /* the same samples, moved */
  }
  free(pcs);
  free(locs);
  free(key);
  return ok;
}
