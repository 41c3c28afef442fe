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
  int size; /* 4 or 8 */
  bool big;
} words_t;

static uint64_t decode(const words_t *w, const unsigned char *b) {
  uint64_t v = 0;
  for (int i = 0; i < w->size; i++) v = v << 8 | b[w->big ? i : w->size - 1 - i];
  return v;
}

/* Finds the word format from the header; false if it is no CPU profile. */
static bool detect(const unsigned char *d, size_t n, words_t *out, uint64_t hdr[5]) {
  static const int sizes[2] = {8, 4};
  for (int si = 0; si < 2; si++)
    for (int big = 0; big < 2; big++) {
      words_t w = {sizes[si], big != 0};
      if (n < 5 * (size_t)w.size) continue;
      for (int i = 0; i < 5; i++) hdr[i] = decode(&w, d + i * w.size);
      if (hdr[0] == 0 && hdr[1] == 3 && (hdr[2] == 0 || hdr[2] == 1) && hdr[3] > 0 &&
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

/* Reads n words into out; false (with *short_read) at the end of data. */
static bool get_words(rp_stream_t *s, const words_t *w, uint64_t *out, size_t n, bool *short_read,
                      unsigned char *scratch) {
  size_t bytes = n * (size_t)w->size, got;
  *short_read = false;
  if (!rp_stream_read(s, scratch, bytes, &got)) return false;
  if (got < bytes) {
    *short_read = true;
    return false;
  }
  if (w->size == 8) { /* the usual case: whole words, byte-swapped when foreign */
    memcpy(out, scratch, bytes);
    bool native_big = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
    if (w->big != native_big)
      for (size_t i = 0; i < n; i++) out[i] = __builtin_bswap64(out[i]);
    return true;
  }
  for (size_t i = 0; i < n; i++) out[i] = decode(w, scratch + i * (size_t)w->size);
  return true;
}

bool rp_read_cpu(rp_stream_t *s, rp_profile_t *p, rp_err_t *err) {
  const unsigned char *d;
  size_t n;
  words_t w;
  uint64_t hdr[5];
  if (!rp_stream_peek(s, 64, &d, &n) || !detect(d, n, &w, hdr))
    return err->set ? false : rp_fail(err, "not a legacy CPU profile");
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

  /* Records are first aggregated by their raw PCs (a profile repeats its
   * stacks: 200,000 records may hold 50,000 distinct ones), and only the
   * distinct stacks are turned into locations. */
  rp_seqtab_t raw;
  memset(&raw, 0, sizeof raw);
  uint64_t *counts = NULL;
  size_t counts_cap = 0;
  uint64_t *pcs = rp_alloc((RP_MAX_DEPTH + 2) * sizeof *pcs);
  uint32_t *key = rp_alloc((RP_MAX_DEPTH * 2 + 2) * sizeof *key);
  unsigned char *scratch = rp_alloc((RP_MAX_DEPTH + 2) * 8);
  uint64_t offset = 5 * (uint64_t)w.size, records = 0;
  bool ok = false, short_read;
  uint64_t tmp[5];
  if (!get_words(s, &w, tmp, 5, &short_read, scratch)) goto out; /* the header */
  for (;;) {
    uint64_t head[2];
    if (!get_words(s, &w, head, 2, &short_read, scratch)) {
      if (short_read)
        rp_fail(err, "truncated: no end-of-data record after %llu samples (file ends at byte %llu)",
                (unsigned long long)records, (unsigned long long)offset);
      goto out;
    }
    uint64_t count = head[0], npcs = head[1];
    if (npcs > RP_MAX_DEPTH) {
      rp_fail(err, "corrupt record at byte %llu: %llu frames (at most %d accepted)",
              (unsigned long long)offset, (unsigned long long)npcs, RP_MAX_DEPTH);
      goto out;
    }
    if (!get_words(s, &w, pcs, npcs, &short_read, scratch)) {
      if (short_read)
        rp_fail(err, "truncated: record at byte %llu needs %llu frames, the file ends",
                (unsigned long long)offset, (unsigned long long)npcs);
      goto out;
    }
    offset += (2 + npcs) * (uint64_t)w.size;
    if (count == 0 && npcs == 1 && pcs[0] == 0) break; /* end of data */
    if (count == 0) continue;
    if (count > INT64_MAX / (uint64_t)period_ns) {
      rp_fail(err, "corrupt record at byte %llu: count %llu", (unsigned long long)offset,
              (unsigned long long)count);
      goto out;
    }
    for (uint64_t i = 0; i < npcs; i++) {
      key[2 * i] = (uint32_t)pcs[i];
      key[2 * i + 1] = (uint32_t)(pcs[i] >> 32);
    }
    bool added;
    uint32_t e = rp_seq_intern(&raw, key, (uint32_t)(2 * npcs), &added);
    if (added) {
      RP_RESERVE(counts, counts_cap, (size_t)e + 1);
      counts[e] = 0;
    }
    if (counts[e] > (uint64_t)(INT64_MAX / period_ns) - count) {
      rp_fail(err, "corrupt profile: more than 2^63 ns of samples in one stack");
      goto out;
    }
    counts[e] += count;
    records++;
  }
  {
    uint32_t *locs = rp_alloc((RP_MAX_DEPTH + 1) * sizeof *locs);
    for (uint32_t e = 0; e < raw.n; e++) {
      const uint32_t *k = rp_seq_key(&raw, e);
      uint32_t np = rp_seq_len(&raw, e) / 2;
      for (uint32_t i = 0; i < np; i++) pcs[i] = (uint64_t)k[2 * i] | (uint64_t)k[2 * i + 1] << 32;
      uint32_t depth = stack_locations(p, pcs, np, locs);
      int64_t v[2] = {(int64_t)counts[e], (int64_t)counts[e] * period_ns};
      rp_profile_add(p, 0, 0, locs, depth, v);
    }
    free(locs);
    p->nrecords = records;
  }
  {
    rp_buf_t maps;
    if (!rp_stream_slurp(s, &maps)) goto out;
    rp_parse_maps(p, (const char *)maps.data, maps.len);
    free(maps.data);
  }
  rp_profile_map_locations(p);
  ok = true;
out:
  rp_seq_free(&raw);
  free(counts);
  free(pcs);
  free(key);
  free(scratch);
  return ok;
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
  static const char magic[] = "heapscope test samples 1";
  rp_tests_file_t f;
  if (!rp_tests_open(&f, p, d, n, magic, err)) return false;
  p->format = "legacy CPU profile with per-test samples";
  uint64_t *pcs = NULL;
  uint32_t *locs = NULL;
  size_t pcs_cap = 0, locs_cap = 0;
  uint32_t *key = NULL;
  size_t key_cap = 0;
  bool ok = true;
  const char *line, *e;
  int more;
  while (ok && (more = rp_tests_next(&f, &line, &e, err)) > 0) {
    long lineno = f.lineno;
    uint32_t test = f.test, group = f.group;
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
  if (more < 0) ok = false; /* err says why */
  free(pcs);
  free(locs);
  free(key);
  return ok;
}
