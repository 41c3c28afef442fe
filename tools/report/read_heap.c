/* heapscope report: legacy heap profiles (text), as written by heapscope's
 * heap profiler (core/heapprof.c), its leak profiles (leakcheck/report.c,
 * HEAPSCOPE_LEAK_PROFILE) and gperftools' HEAPPROFILE / heap checker:
 *
 *   heap profile: INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ heapprofile
 *   INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ 0xPC 0xPC ...     one per stack
 *   ...
 *   MAPPED_LIBRARIES:            (or "--- Memory map: ---")
 *   /proc/self/maps text
 *
 * Accepted as Go pprof accepts it (anchors.md 2.1): blank and '#' lines are
 * skipped, spaces around ':' '[' ']' '@' optional, inuse counts may be
 * negative, a count of 0 with a nonzero size is an error. "heap_v2/N",
 * "heapz_v2/N" and "heap/N" (period N/2) are sampled profiles, scaled back
 * with pprof's Poisson estimate; "heapprofile" is exact.
 *
 * Every PC is a return address (frame #0 is the allocation's caller), so
 * every frame is looked up at PC - 1, inside the call instruction. */
#include "report.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool rp_is_heap_text(const unsigned char *d, size_t n) {
  size_t i = 0;
  for (;;) { /* skip blank and comment lines */
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
    if (i < n && d[i] == '#') {
      while (i < n && d[i] != '\n') i++;
      continue;
    }
    break;
  }
  static const char tag[] = "heap profile:";
  return n - i >= sizeof tag - 1 && memcmp(d + i, tag, sizeof tag - 1) == 0;
}

/* Hex digit value + 1, 0 for anything else (no locale, no calls: the
 * addresses are most of a heap profile's bytes). */
static const unsigned char hexval1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,
    ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
    ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15,
    ['F'] = 16};

typedef struct cursor {
  const char *s, *end;
} cursor_t;

static void spaces(cursor_t *c) {
  while (c->s < c->end && (*c->s == ' ' || *c->s == '\t')) c->s++;
}

static bool lit(cursor_t *c, char ch) {
  spaces(c);
  if (c->s < c->end && *c->s == ch) {
    c->s++;
    return true;
  }
  return false;
}

/* A decimal integer, optionally negative; false on overflow or none. */
static bool number(cursor_t *c, bool allow_negative, int64_t *out) {
  spaces(c);
  bool neg = false;
  if (allow_negative && c->s < c->end && *c->s == '-') {
    neg = true;
    c->s++;
  }
  if (c->s >= c->end || !isdigit((unsigned char)*c->s)) return false;
  uint64_t v = 0;
  while (c->s < c->end && isdigit((unsigned char)*c->s)) {
    unsigned dgt = (unsigned)(*c->s++ - '0');
    if (v > (UINT64_C(9223372036854775807) - dgt) / 10) return false;
    v = v * 10 + dgt;
  }
  *out = neg ? -(int64_t)v : (int64_t)v;
  return true;
}

/* N: N [N: N] @ -- the four counts of the header and of every sample. */
static bool counts(cursor_t *c, bool header, int64_t v[4]) {
  return number(c, !header, &v[0]) && lit(c, ':') && number(c, !header, &v[1]) && lit(c, '[') &&
         number(c, false, &v[2]) && lit(c, ':') && number(c, false, &v[3]) && lit(c, ']') &&
         lit(c, '@');
}

typedef enum { SAMPLING_NONE, SAMPLING_V2 } sampling_t;

/* pprof's estimate of the unsampled values (scaleHeapSample). */
static void scale(int64_t *count, int64_t *size, int64_t rate) {
  if (*count == 0 || *size == 0) {
    *count = *size = 0;
    return;
  }
  if (rate <= 1) return;
  double avg = (double)*size / (double)*count;
  double f = 1.0 / (1.0 - exp(-avg / (double)rate));
  double c = (double)*count * f, s = (double)*size * f;
  *count = c < 9.2e18 && c > -9.2e18 ? (int64_t)c : 0;
  *size = s < 9.2e18 && s > -9.2e18 ? (int64_t)s : 0;
}

static bool line_is_maps_trigger(const char *s, const char *end) {
  size_t n = (size_t)(end - s);
  return memmem(s, n, "MAPPED_LIBRARIES:", 17) || memmem(s, n, "--- Memory map: ---", 19);
}

/* The stack after '@': hex return addresses, each looked up at PC - 1. */
static bool stack(const char *q, const char *eol, rp_profile_t *p, uint32_t **locs,
                  size_t *locs_cap, uint32_t *depth_out, long lineno, rp_err_t *err) {
  /* A local pointer and no per-digit checks: the addresses are most of a
   * heap profile's bytes. */
  uint32_t depth = 0;
  for (;;) {
    while (q < eol && (*q == ' ' || *q == '\t')) q++;
    if (q >= eol || *q == '\r') break;
    if (eol - q < 3 || q[0] != '0' || (q[1] != 'x' && q[1] != 'X') ||
        !hexval1[(unsigned char)q[2]])
      return rp_fail(err, "line %ld: expected a hex address (0x...) in the stack", lineno);
    q += 2;
    const char *digits0 = q;
    uint64_t a = 0;
    unsigned d;
    /* rp_stream_line guarantees a non-hex byte at eol: no bounds check */
    while ((d = hexval1[(unsigned char)*q])) {
      a = a << 4 | (d - 1);
      q++;
    }
    if (q - digits0 > 16) return rp_fail(err, "line %ld: address longer than 64 bits", lineno);
    if (q < eol && *q != ' ' && *q != '\t' && *q != '\r')
      return rp_fail(err, "line %ld: expected a hex address (0x...) in the stack", lineno);
    if (depth >= RP_MAX_DEPTH)
      return rp_fail(err, "line %ld: stack deeper than %d frames", lineno, RP_MAX_DEPTH);
    RP_RESERVE(*locs, *locs_cap, (size_t)depth + 1);
    (*locs)[depth++] = rp_profile_location_at(p, a ? a - 1 : 0);
  }
  *depth_out = depth;
  return true;
}

bool rp_read_heap(rp_stream_t *st, rp_profile_t *p, rp_err_t *err) {
  p->format = "legacy heap profile";
  p->kind = RP_KIND_HEAP;
  p->drop_alloc_frames = true;
  long lineno = 0;
  const char *line, *eol;
  size_t len;
  /* header */
  for (;;) {
    if (!rp_stream_line(st, &line, &len)) return err->set ? false : rp_fail(err, "no 'heap profile:' header");
    eol = line + len;
    lineno++;
    cursor_t c = {line, eol};
    spaces(&c);
    if (c.s < eol && *c.s != '#' && *c.s != '\r') break;
  }
  cursor_t c = {line, eol};
  spaces(&c);
  if (eol - c.s < 13 || memcmp(c.s, "heap profile:", 13) != 0)
    return rp_fail(err, "line %ld: no 'heap profile:' header", lineno);
  c.s += 13;
  int64_t hv[4];
  if (!counts(&c, true, hv))
    return rp_fail(err, "line %ld: malformed header (expected 'heap profile: N: N [N: N] @ TYPE')",
                   lineno);
  spaces(&c);
  const char *type = c.s;
  while (c.s < eol && (islower((unsigned char)*c.s) || isdigit((unsigned char)*c.s) || *c.s == '_'))
    c.s++;
  size_t tlen = (size_t)(c.s - type);
  int64_t period = 0;
  if (c.s < eol && *c.s == '/') {
    c.s++;
    if (c.s < eol && isdigit((unsigned char)*c.s) && !number(&c, false, &period))
      return rp_fail(err, "line %ld: bad sampling period", lineno);
  }
  sampling_t sampling;
#define TYPE_IS(lit_) (tlen == sizeof(lit_) - 1 && !memcmp(type, lit_, tlen))
  if (TYPE_IS("heapprofile") || TYPE_IS("growthz") || TYPE_IS("fragmentationz")) {
    sampling = SAMPLING_NONE;
    period = 1;
  } else if (TYPE_IS("heap_v2") || TYPE_IS("heapz_v2")) {
    sampling = SAMPLING_V2;
  } else if (TYPE_IS("heap")) {
    sampling = SAMPLING_V2;
    period /= 2;
  } else {
    return rp_fail(err, "line %ld: unknown heap profile type '%.*s'", lineno,
                   (int)(tlen > 40 ? 40 : tlen), type);
  }
#undef TYPE_IS
  spaces(&c);
  if (c.s < eol && *c.s != '\r')
    return rp_fail(err, "line %ld: unexpected text after the heap profile type", lineno);

  rp_profile_type(p, "alloc_objects", "count");
  rp_profile_type(p, "alloc_space", "bytes");
  rp_profile_type(p, "inuse_objects", "count");
  rp_profile_type(p, "inuse_space", "bytes");
  p->default_type = 3;
  p->period_type = rp_str(&p->st, "space");
  p->period_unit = rp_str(&p->st, "bytes");
  p->period = period;

  uint32_t *locs = NULL;
  size_t locs_cap = 0;
  bool maps = false;
  while (rp_stream_line(st, &line, &len)) {
    eol = line + len;
    lineno++;
    c.s = line;
    c.end = eol;
    spaces(&c);
    if (c.s == eol || *c.s == '#' || *c.s == '\r') continue;
    /* Sample lines start with a count; only other lines can open the maps. */
    if (!isdigit((unsigned char)*c.s) && *c.s != '-' && line_is_maps_trigger(line, eol)) {
      maps = true;
      break;
    }
    int64_t v[4];
    if (!counts(&c, false, v)) {
      free(locs);
      return rp_fail(err, "line %ld: malformed sample (expected 'N: N [N: N] @ 0xPC ...')", lineno);
    }
    if (v[0] == 0 && v[1] != 0) {
      free(locs);
      return rp_fail(err, "line %ld: in-use count is 0 but in-use bytes are %lld", lineno,
                     (long long)v[1]);
    }
    if (v[2] == 0 && v[3] != 0) {
      free(locs);
      return rp_fail(err, "line %ld: allocation count is 0 but allocated bytes are %lld", lineno,
                     (long long)v[3]);
    }
    if (sampling == SAMPLING_V2) {
      scale(&v[0], &v[1], period);
      scale(&v[2], &v[3], period);
    }
    uint32_t depth;
    if (!stack(c.s, eol, p, &locs, &locs_cap, &depth, lineno, err)) {
      free(locs);
      return false;
    }
    int64_t vals[4] = {v[2], v[3], v[0], v[1]}; /* alloc objs, alloc bytes, inuse objs, bytes */
    rp_profile_add(p, 0, 0, locs, depth, vals);
  }
  free(locs);
  if (err->set) return false; /* a read error ended the loop */
  if (maps) {
    rp_buf_t b;
    if (!rp_stream_slurp(st, &b)) return false;
    rp_parse_maps(p, (const char *)b.data, b.len);
    free(b.data);
  }
  rp_profile_map_locations(p);
  return true;
}

/* ---- PATH.tests ------------------------------------------------------------------
 * heapscope's per-test split of a heap dump (core/profile/heapprof.c):
 *
 *   heapscope test heap 1
 *   test GROUP<TAB>NAME
 *   INUSE_N: INUSE_B [ALLOC_N: ALLOC_B] @ 0xPC ...   the test's share of a stack
 *
 * The dump holds every block; each test's share is moved out of its stack's
 * sample into one labelled with the test. A share larger than the dump's
 * own sample is an error (the side file belongs to another dump). */
bool rp_read_heap_tests(const char *d, size_t n, rp_profile_t *p, rp_err_t *err) {
  static const char magic[] = "heapscope test heap 1";
  /* A copy with a NUL after it: the stack scanner stops on a non-hex byte. */
  char *text = rp_strndup(d, n);
  rp_tests_file_t f;
  if (!rp_tests_open(&f, p, text, n, magic, err)) {
    free(text);
    return false;
  }
  bool ok = true;
  p->format = "legacy heap profile with per-test samples";
  uint32_t *locs = NULL, *key = NULL;
  size_t locs_cap = 0, key_cap = 0;
  const char *line, *e;
  int more;
  while (ok && (more = rp_tests_next(&f, &line, &e, err)) > 0) {
    long lineno = f.lineno;
    uint32_t test = f.test, group = f.group;
    cursor_t c = {line, e};
    int64_t v[4];
    if (!counts(&c, false, v) || v[0] < 0 || v[1] < 0 || (v[0] == 0 && v[1] != 0) ||
        v[2] <= 0 || v[3] < 0) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: expected 'N: N [N: N] @ 0xPC ...'",
                   p->path, lineno);
      break;
    }
    rp_err_t serr = {0};
    uint32_t depth;
    if (!stack(c.s, e, p, &locs, &locs_cap, &depth, lineno, &serr)) {
      ok = rp_fail(err, "per-test file %s.tests: %s", p->path, serr.msg);
      break;
    }
    if (!depth) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: a sample needs at least one PC",
                   p->path, lineno);
      break;
    }
    RP_RESERVE(key, key_cap, (size_t)depth + 2);
    key[0] = key[1] = 0;
    memcpy(key + 2, locs, depth * sizeof *locs);
    uint32_t s0 = rp_seq_find(&p->samples, key, depth + 2);
    int64_t vals[4] = {v[2], v[3], v[0], v[1]}; /* the profile's order */
    int64_t *v0 = s0 == UINT32_MAX ? NULL : p->values + (size_t)s0 * p->ntypes;
    bool fits = v0 != NULL;
    for (int i = 0; fits && i < 4; i++) fits = v0[i] >= vals[i];
    if (!fits) {
      ok = rp_fail(err, "per-test file %s.tests: line %ld: more of a stack than the profile "
                        "has (%s)", p->path, lineno, v0 ? "its counts are smaller" : "not in it");
      break;
    }
    for (int i = 0; i < 4; i++) v0[i] -= vals[i];
    uint64_t records = p->nrecords;
    rp_profile_add(p, test, group, locs, depth, vals);
    p->nrecords = records; /* the same blocks, moved */
  }
  if (more < 0) ok = false; /* err says why */
  free(locs);
  free(key);
  free(text);
  return ok;
}
