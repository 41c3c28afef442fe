/* Fuzz harness for `heapscope report`'s readers and everything after them.
 *
 *   fuzz_report [--seconds S | --iterations N] [--seed X] [--save FILE] SEED...
 *   fuzz_report --replay FILE...     each FILE once, unmutated (regressions)
 *
 * Each iteration takes a seed profile (a SEED file; a legacy CPU profile's
 * SEED.tests side file comes along), applies 1-6 random mutations (bit
 * flips, interesting bytes, digits in text, inserted/deleted/duplicated
 * ranges, truncation, splices with another seed), and runs the whole
 * pipeline in-process: parse (rp_parse_profile), symbolize, build a view
 * (sometimes with itself as --base, a --test filter, focus/ignore), and
 * every writer into /dev/null. Seeds that are the runtime's JSON documents
 * (test statistics, leak reports) go through their reader, the --tests
 * table and the HTML page instead. A parse error is the expected outcome for
 * most inputs; the harness only has to survive (built with ASan and UBSan
 * when the compiler has them: tests/report/CMakeLists.txt). --save writes
 * each input before it runs, so a crash leaves the culprit behind.
 * Prints the iteration count and how many inputs parsed. */
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct seed {
  unsigned char *d, *side;
  size_t n, side_n;
} seed_t;

static uint64_t rng;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  unsigned char *b = malloc(cap);
  size_t r;
  while ((r = fread(b + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap) b = realloc(b, cap *= 2);
  }
  fclose(f);
  *n = len;
  return b;
}

/* Mutates buf (len *n, capacity cap) in place. */
static void mutate(unsigned char **buf, size_t *n, size_t *cap, const seed_t *seeds,
                   size_t nseeds) {
  static const unsigned char interesting[] = {0, 1, 0x7f, 0x80, 0xff, '\n', ' ', ':', '@', '[',
                                              ']', '0', '9', 'x', '-', 0x1f, 0x8b, '\t', '{', '}', '"', ',', '\\'};
  int rounds = 1 + (int)below(6);
  for (int r = 0; r < rounds; r++) {
    unsigned char *b = *buf;
    size_t len = *n;
    if (*cap < len + 256) {
      *cap = len + 4096;
      *buf = b = realloc(b, *cap);
    }
    switch (below(10)) {
    case 0: if (len) b[below(len)] ^= (unsigned char)(1u << below(8)); break;
    case 1: if (len) b[below(len)] = interesting[below(sizeof interesting)]; break;
    case 2: /* a digit in text, often a big number */
      if (len) {
        size_t i = below(len);
        for (size_t k = 0; k < 64 && i < len; k++, i++)
          if (b[i] >= '0' && b[i] <= '9') {
            b[i] = (unsigned char)('0' + below(10));
            if (below(3) == 0 && len + 20 < *cap) {
              memmove(b + i + 20, b + i, len - i);
              memset(b + i, '9', 20);
              len += 20;
            }
            break;
          }
      }
      break;
    case 3: { /* insert random bytes */
      size_t k = 1 + below(16), at = below(len + 1);
      memmove(b + at + k, b + at, len - at);
      for (size_t i = 0; i < k; i++) b[at + i] = (unsigned char)rnd();
      len += k;
      break;
    }
    case 4: { /* delete a range */
      if (!len) break;
      size_t at = below(len), k = 1 + below(len - at < 64 ? len - at : 64);
      memmove(b + at, b + at + k, len - at - k);
      len -= k;
      break;
    }
    case 5: { /* duplicate a range */
      if (!len) break;
      size_t at = below(len), k = 1 + below(len - at < 128 ? len - at : 128);
      if (len + k > *cap) break;
      size_t to = below(len + 1);
      unsigned char tmp[128];
      memcpy(tmp, b + at, k);
      memmove(b + to + k, b + to, len - to);
      memcpy(b + to, tmp, k);
      len += k;
      break;
    }
    case 6: len = below(len + 1); break; /* truncate */
    case 7: { /* splice the tail of another seed */
      const seed_t *o = &seeds[below(nseeds)];
      size_t at = below(len + 1), from = below(o->n + 1), k = o->n - from;
      if (at + k > *cap) {
        *cap = at + k + 4096;
        *buf = b = realloc(b, *cap);
      }
      memcpy(b + at, o->d + from, k);
      len = at + k;
      break;
    }
    case 8: /* a 64-bit word set to an interesting value */
      if (len >= 8) {
        static const uint64_t words[] = {0, 1, 3, 0xffffffffffffffffull, 0x8000000000000000ull,
                                         0x7fffffff, 4096, 255};
        uint64_t w = words[below(8)];
        memcpy(b + (below(len / 8) * 8), &w, 8);
      }
      break;
    default: if (len) b[below(len)] = (unsigned char)rnd(); break;
    }
    *n = len;
  }
}

static void run_writers(rp_view_t *v) {
  FILE *f = fopen("/dev/null", "w");
  if (!f) return;
  rp_opts_t o;
  memset(&o, 0, sizeof o);
  const char *inputs[1] = {"fuzz"};
  o.inputs = inputs;
  o.ninputs = 1;
  o.nodecount = 80;
  o.gran = (rp_gran_t)below(4);
  if (v->has_base && o.gran == RP_ADDRESSES) o.gran = RP_LINES;
  o.tests = below(2);
  rp_err_t err = {0};
  rp_write_top(f, v, &o);
  rp_write_traces(f, v, &o);
  rp_write_folded(f, v, &o);
  rp_write_svg(f, v, &o);
  rp_write_tests(f, v, &o);
  o.tests = false;
  rp_write_callgrind(f, v, &o);
  rp_write_proto(f, v, &o, &err);
  o.list_re = ".";
  memset(&err, 0, sizeof err);
  rp_write_list(f, v, &o, &err);
  rp_view_t *views[1] = {v};
  rp_suite_t empty;
  rp_suite_init(&empty);
  rp_write_html(f, &empty, views, 1, &o);
  rp_suite_free(&empty);
  fclose(f);
}

/* The runtime's JSON documents (test statistics, leak reports): the
 * reader, the --tests table and the HTML page. */
static bool run_suite(const unsigned char *buf, size_t n) {
  rp_suite_t s;
  rp_suite_init(&s);
  rp_err_t err = {0};
  bool ok = rp_parse_suite((const char *)buf, n, "fuzz", &s, &err);
  if (ok) {
    FILE *f = fopen("/dev/null", "w");
    if (f) {
      rp_opts_t o;
      memset(&o, 0, sizeof o);
      o.nodecount_set = below(2);
      o.nodecount = (long)below(5);
      o.raw_units = below(2);
      rp_write_test_table(f, &s, &o);
      rp_write_html(f, &s, NULL, 0, &o);
      fclose(f);
    }
  }
  rp_suite_free(&s);
  return ok;
}

int main(int argc, char **argv) {
  double seconds = 0;
  long iterations = 0;
  const char *save = NULL;
  bool replay = false;
  rng = (uint64_t)time(NULL) * 2654435761u | 1;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atol(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng = strtoull(argv[++i], NULL, 0) | 1;
    else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
    else if (!strcmp(argv[i], "--replay")) replay = true;
    else {
      fprintf(stderr, "fuzz_report: bad option %s\n", argv[i]);
      return 2;
    }
  }
  if (replay) iterations = argc - i;
  if (i >= argc || (!seconds && !iterations)) {
    fprintf(stderr, "usage: fuzz_report --seconds S|--iterations N [--seed X] SEED...\n");
    return 2;
  }
  printf("fuzz_report: seed 0x%llx\n", (unsigned long long)rng);
  fflush(stdout);
  size_t nseeds = (size_t)(argc - i);
  seed_t *seeds = calloc(nseeds, sizeof *seeds);
  for (size_t k = 0; k < nseeds; k++) {
    const char *p = argv[i + (int)k];
    seeds[k].d = slurp(p, &seeds[k].n);
    if (!seeds[k].d) {
      fprintf(stderr, "fuzz_report: cannot read %s\n", p);
      return 2;
    }
    char side[4096];
    snprintf(side, sizeof side, "%s.tests", p);
    seeds[k].side = slurp(side, &seeds[k].side_n);
  }
  rp_quiet = true;
  rp_symopts_t so = {0};
  rp_symbolizer_t *sym = rp_symbolizer_new(&so);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long it = 0, parsed = 0;
  size_t cap = 0, side_cap = 0;
  unsigned char *buf = NULL, *sbuf = NULL;
  for (;; it++) {
    if (iterations && it >= iterations) break;
    if (seconds && (it & 15) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) break;
    }
    const seed_t *s = replay ? &seeds[it] : &seeds[below(nseeds)];
    size_t n = s->n;
    if (cap < n + 4096) buf = realloc(buf, cap = n + 4096);
    memcpy(buf, s->d, n);
    size_t sn = 0;
    bool with_side = s->side && (replay || below(4) != 0);
    if (replay) {
      sn = s->side_n;
      if (with_side) {
        if (side_cap < sn + 1) sbuf = realloc(sbuf, side_cap = sn + 1);
        memcpy(sbuf, s->side, sn);
      }
    } else if (with_side) {
      sn = s->side_n;
      if (side_cap < sn + 4096) sbuf = realloc(sbuf, side_cap = sn + 4096);
      memcpy(sbuf, s->side, sn);
      if (below(2)) mutate(&sbuf, &sn, &side_cap, seeds, nseeds);
      else mutate(&buf, &n, &cap, seeds, nseeds);
    } else {
      mutate(&buf, &n, &cap, seeds, nseeds);
    }
    if (save) {
      FILE *f = fopen(save, "wb");
      if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
      }
    }
    if (rp_is_json_doc(buf, n)) {
      parsed += run_suite(buf, n);
      continue;
    }
    rp_profile_t p, q;
    rp_profile_init(&p, "fuzz");
    rp_err_t err = {0};
    bool ok = rp_parse_profile(buf, n, with_side ? (const char *)sbuf : NULL, sn, &p, &err);
    if (ok) {
      parsed++;
      rp_symbolize(sym, &p);
      rp_view_opts_t vo;
      memset(&vo, 0, sizeof vo);
      vo.base = below(4) == 0;
      if (below(4) == 0) vo.test = below(2) ? "t_alpha" : "g2/t_beta";
      if (below(4) == 0) vo.focus = "work|main";
      if (below(4) == 0) vo.ignore = "rec";
      if (below(3) == 0) vo.sample = below(2) ? "inuse_objects" : "samples";
      rp_view_t v;
      rp_view_init(&v, &vo);
      rp_view_set_filters(&v, &err);
      memset(&err, 0, sizeof err);
      if (rp_view_add(&v, &p, false, &err)) {
        if (vo.base) {
          rp_profile_init(&q, "fuzz-base");
          rp_err_t e2 = {0};
          if (rp_parse_profile(buf, n / 2 + 1, NULL, 0, &q, &e2)) {
            rp_symbolize(sym, &q);
            rp_view_add(&v, &q, true, &e2);
          }
          rp_profile_free(&q);
        }
        run_writers(&v);
      }
      rp_view_free(&v);
    }
    rp_profile_free(&p);
  }
  rp_symbolizer_free(sym);
  printf("fuzz_report: %ld inputs, %ld parsed\n", it, parsed);
  for (size_t k = 0; k < nseeds; k++) {
    free(seeds[k].d);
    free(seeds[k].side);
  }
  free(seeds);
  free(buf);
  free(sbuf);
  return 0;
}
