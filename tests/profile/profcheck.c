/* profcheck: validate a gperftools legacy heap profile (PREFIX.NNNN.heap) and
 * check its numbers, independently of heapscope and of pprof.
 *
 * The file is parsed with the strictest union of Go pprof's and perl pprof's
 * rules (anchors.md 2.1): the header and every bucket line must match both
 * parsers' regular expressions (whitespace after each ':' and after '@',
 * "] @" with exactly one space, lowercase hex, non-negative counts, at least
 * one frame, no count 0 with a nonzero size), the header totals must equal
 * the sum of the bucket lines (unless --racy), and a MAPPED_LIBRARIES:
 * section must follow. Frames are symbolized like pprof does: through the
 * file's own MAPPED_LIBRARIES section (address -> file offset -> ELF vaddr)
 * and the ELF symbol table of the mapped file (libelf), so the checks also
 * prove that the maps section is usable.
 *
 * Usage: profcheck [options] FILE
 *   --parse-only           validate only (several FILEs allowed)
 *   --racy                 skip "header == sum of buckets" (concurrent dumps)
 *   --total IO IB AO AB    header totals
 *   --leaf FUNC IO IB AO AB   sums over buckets whose frame #0 is FUNC
 *   --stack FUNC IO IB AO AB  sums over buckets with FUNC in any frame
 *   --frames LEAF SYM SPEC every bucket whose frame #0 is LEAF has SPEC frames in SYM
 *   --depth LEAF SPEC      every bucket whose frame #0 is LEAF has SPEC frames
 *   --absent FUNC          no bucket has FUNC in any frame
 *   --print                print the buckets, symbolized
 * IO IB AO AB: inuse objects, inuse bytes, alloc objects, alloc bytes.
 * SPEC: N (exact), >=N, <=N, N~P (within P percent of N), * (anything).
 * Exit status: 0 all good, 1 a check failed, 2 usage or I/O error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 256

typedef struct bucket {
  long long v[4]; /* inuse objs, inuse bytes, alloc objs, alloc bytes */
  int depth;
  uint64_t pcs[MAX_FRAMES];
  const char *syms[MAX_FRAMES];
} bucket_t;

typedef struct map {
  uint64_t start, end, offset;
  char perms[8];
  char *path;
} map_t;

typedef struct sym {
  uint64_t lo, hi;
  const char *name;
} sym_t;

typedef struct elfmod {
  char *path;
  bool ok;
  struct { uint64_t off, filesz, vaddr; } loads[16];
  int nloads;
  sym_t *syms;
  size_t nsyms;
} elfmod_t;

static bucket_t *buckets;
static size_t nbuckets, capbuckets;
static map_t *maps;
static size_t nmaps, capmaps;
static elfmod_t *mods;
static size_t nmods;
static long long header[4];
static const char *cur_file;
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "profcheck: %s: ", cur_file);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  failures++;
}

/* ---- strict line parsing ---------------------------------------------------- */

static bool num(const char **p, long long *out) {
  const char *s = *p;
  if (!isdigit((unsigned char)*s)) return false;
  long long v = 0;
  while (isdigit((unsigned char)*s)) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
      return false;
    s++;
  }
  *p = s;
  *out = v;
  return true;
}
static int spaces(const char **p) {
  int n = 0;
  while (**p == ' ') (*p)++, n++;
  return n;
}
static bool lit(const char **p, const char *l) {
  size_t n = strlen(l);
  if (strncmp(*p, l, n)) return false;
  *p += n;
  return true;
}

/* "I: B [AI: AB]" with the spacing both parsers accept. */
static bool counts(const char **p, long long v[4]) {
  spaces(p);
  if (!num(p, &v[0]) || !lit(p, ":") || spaces(p) < 1 || !num(p, &v[1])) return false;
  if (spaces(p) < 1 || !lit(p, "[")) return false;
  spaces(p);
  if (!num(p, &v[2]) || !lit(p, ":") || spaces(p) < 1 || !num(p, &v[3])) return false;
  return lit(p, "]");
}

static bool parse_header(const char *line) {
  const char *p = line;
  if (!lit(&p, "heap profile:")) return false;
  if (!counts(&p, header)) return false;
  spaces(&p);
  if (!lit(&p, "@")) return false;
  spaces(&p);
  return strcmp(p, "heapprofile") == 0;
}

static bool parse_bucket(const char *line, bucket_t *b) {
  const char *p = line;
  if (!counts(&p, b->v) || !lit(&p, " @")) return false;
  b->depth = 0;
  while (*p) {
    if (spaces(&p) < 1 || !lit(&p, "0x")) return false;
    const char *h = p;
    uint64_t v = 0;
    while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) {
      v = v * 16 + (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
      p++;
    }
    if (p == h || p - h > 16 || (*p && *p != ' ')) return false;
    if (b->depth == MAX_FRAMES) return false;
    b->pcs[b->depth++] = v;
  }
  return b->depth > 0;
}

static bool parse_map(const char *line, map_t *m) {
  unsigned long long s, e, off;
  char perms[8];
  int n = 0;
  if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &s, &e, perms, &off, &n) < 4) return false;
  const char *path = line + n;
  while (*path == ' ') path++;
  m->start = s;
  m->end = e;
  m->offset = off;
  memcpy(m->perms, perms, sizeof perms);
  m->path = strdup(path);
  return true;
}

/* ---- symbolization through the file's own maps section ---------------------- */

static int symcmp(const void *a, const void *b) {
  const sym_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static elfmod_t *module(const char *path) {
  for (size_t i = 0; i < nmods; i++)
    if (!strcmp(mods[i].path, path)) return &mods[i];
  mods = realloc(mods, (nmods + 1) * sizeof *mods);
  elfmod_t *m = &mods[nmods++];
  memset(m, 0, sizeof *m);
  m->path = strdup(path);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return m;
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  size_t nph = 0;
  if (!e || elf_getphdrnum(e, &nph) != 0) {
    close(fd);
    return m;
  }
  for (size_t i = 0; i < nph && m->nloads < 16; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD) {
      m->loads[m->nloads].off = ph.p_offset;
      m->loads[m->nloads].filesz = ph.p_filesz;
      m->loads[m->nloads].vaddr = ph.p_vaddr;
      m->nloads++;
    }
  }
  /* .symtab when present, else .dynsym. */
  for (int want = SHT_SYMTAB; want; want = want == SHT_SYMTAB ? SHT_DYNSYM : 0) {
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(e, scn))) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != (GElf_Word)want) continue;
      Elf_Data *d = elf_getdata(scn, NULL);
      size_t cnt = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
      for (size_t i = 0; d && i < cnt; i++) {
        GElf_Sym s;
        if (!gelf_getsym(d, (int)i, &s)) continue;
        int t = GELF_ST_TYPE(s.st_info);
        if ((t != STT_FUNC && t != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || !s.st_size)
          continue;
        const char *name = elf_strptr(e, sh.sh_link, s.st_name);
        if (!name) continue;
        m->syms = realloc(m->syms, (m->nsyms + 1) * sizeof *m->syms);
        m->syms[m->nsyms].lo = s.st_value;
        m->syms[m->nsyms].hi = s.st_value + s.st_size;
        m->syms[m->nsyms].name = strdup(name);
        m->nsyms++;
      }
    }
    if (m->nsyms) break;
  }
  qsort(m->syms, m->nsyms, sizeof *m->syms, symcmp);
  m->ok = true;
  /* The Elf handle stays open: symbol names were copied. */
  return m;
}

static const char *symbolize(uint64_t pc) {
  uint64_t a = pc - 1; /* return address -> inside the call */
  for (size_t i = 0; i < nmaps; i++) {
    map_t *mp = &maps[i];
    if (a < mp->start || a >= mp->end || !strchr(mp->perms, 'x') || mp->path[0] != '/')
      continue;
    elfmod_t *m = module(mp->path);
    if (!m->ok) return NULL;
    uint64_t off = a - mp->start + mp->offset;
    for (int j = 0; j < m->nloads; j++) {
      if (off < m->loads[j].off || off >= m->loads[j].off + m->loads[j].filesz) continue;
      uint64_t va = off - m->loads[j].off + m->loads[j].vaddr;
      size_t lo = 0, hi = m->nsyms;
      while (lo < hi) { /* last symbol with lo <= va */
        size_t mid = (lo + hi) / 2;
        if (m->syms[mid].lo <= va) lo = mid + 1;
        else hi = mid;
      }
      for (size_t k = lo; k-- > 0;) {
        if (va < m->syms[k].hi) return m->syms[k].name;
        if (lo - k > 8) break;
      }
      return NULL;
    }
    return NULL;
  }
  return NULL;
}

/* ---- loading ------------------------------------------------------------------ */

static int load(const char *path, bool racy) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "profcheck: %s: %s\n", path, strerror(errno));
    return 2;
  }
  cur_file = path;
  nbuckets = nmaps = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int state = 0; /* 0 header, 1 buckets, 2 maps */
  int lineno = 0;
  long long sum[4] = {0, 0, 0, 0};
  while ((n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (state == 0) {
      if (!parse_header(line)) {
        fail("line 1: bad header: '%s'", line);
        break;
      }
      state = 1;
    } else if (state == 1) {
      if (!strcmp(line, "")) continue;
      if (!strcmp(line, "MAPPED_LIBRARIES:")) {
        state = 2;
        continue;
      }
      if (nbuckets == capbuckets) {
        capbuckets = capbuckets ? capbuckets * 2 : 256;
        buckets = realloc(buckets, capbuckets * sizeof *buckets);
      }
      bucket_t *b = &buckets[nbuckets];
      if (!parse_bucket(line, b)) {
        fail("line %d: bad bucket line: '%s'", lineno, line);
        continue;
      }
      if ((b->v[0] == 0 && b->v[1] != 0) || (b->v[2] == 0 && b->v[3] != 0))
        fail("line %d: count 0 with nonzero size: '%s'", lineno, line);
      if (b->v[0] > b->v[2] || b->v[1] > b->v[3])
        fail("line %d: in-use exceeds allocated: '%s'", lineno, line);
      for (int i = 0; i < 4; i++) sum[i] += b->v[i];
      nbuckets++;
    } else {
      if (nmaps == capmaps) {
        capmaps = capmaps ? capmaps * 2 : 64;
        maps = realloc(maps, capmaps * sizeof *maps);
      }
      if (*line && parse_map(line, &maps[nmaps])) nmaps++;
      else if (*line) fail("line %d: bad maps line: '%s'", lineno, line);
    }
  }
  free(line);
  fclose(f);
  if (state == 0) fail("empty file");
  else if (state == 1) fail("no MAPPED_LIBRARIES: section");
  else if (nmaps == 0) fail("empty MAPPED_LIBRARIES: section");
  if (state >= 1 && !racy)
    for (int i = 0; i < 4; i++)
      if (sum[i] != header[i])
        fail("header field %d is %lld but the buckets sum to %lld", i, header[i], sum[i]);
  for (size_t i = 0; i < nbuckets; i++)
    for (int j = 0; j < buckets[i].depth; j++) buckets[i].syms[j] = symbolize(buckets[i].pcs[j]);
  return 0;
}

/* ---- checks ----------------------------------------------------------------------- */

static bool spec_ok(const char *spec, long long v) {
  if (!strcmp(spec, "*")) return true;
  char *end;
  if (!strncmp(spec, ">=", 2)) return v >= strtoll(spec + 2, NULL, 10);
  if (!strncmp(spec, "<=", 2)) return v <= strtoll(spec + 2, NULL, 10);
  long long want = strtoll(spec, &end, 10);
  if (*end == '~') {
    double pct = strtod(end + 1, NULL);
    double d = (double)v - (double)want;
    return (d < 0 ? -d : d) <= (double)want * pct / 100.0;
  }
  return v == want;
}

static const char *field_name[4] = {"inuse_objects", "inuse_bytes", "alloc_objects",
                                    "alloc_bytes"};

static void check4(const char *what, const long long got[4], char **spec) {
  for (int i = 0; i < 4; i++)
    if (!spec_ok(spec[i], got[i]))
      fail("%s: %s is %lld, expected %s", what, field_name[i], got[i], spec[i]);
  fprintf(stderr, "profcheck: %s: %s = %lld: %lld [%lld: %lld]\n", cur_file, what, got[0],
          got[1], got[2], got[3]);
}

static bool has(const bucket_t *b, const char *fn) {
  for (int j = 0; j < b->depth; j++)
    if (b->syms[j] && !strcmp(b->syms[j], fn)) return true;
  return false;
}
static bool leaf_is(const bucket_t *b, const char *fn) {
  return b->depth > 0 && b->syms[0] && !strcmp(b->syms[0], fn);
}

static void usage(void) {
  fprintf(stderr, "usage: profcheck [--parse-only] [--racy] [--print] [checks] FILE...\n");
  exit(2);
}

int main(int argc, char **argv) {
  elf_version(EV_CURRENT);
  bool parse_only = false, racy = false, print = false;
  int first_file = argc;
  /* Pass 1: flags and the file(s) (checks take a fixed number of args). */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--parse-only")) parse_only = true;
    else if (!strcmp(a, "--racy")) racy = true;
    else if (!strcmp(a, "--print")) print = true;
    else if (!strcmp(a, "--total")) i += 4;
    else if (!strcmp(a, "--leaf") || !strcmp(a, "--stack")) i += 5;
    else if (!strcmp(a, "--frames")) i += 3;
    else if (!strcmp(a, "--depth")) i += 2;
    else if (!strcmp(a, "--absent")) i += 1;
    else if (a[0] == '-' && a[1] == '-') usage();
    else {
      first_file = i;
      break;
    }
  }
  if (first_file >= argc) usage();
  if (parse_only) {
    for (int i = first_file; i < argc; i++) {
      int rc = load(argv[i], racy);
      if (rc) return rc;
    }
    if (failures) return 1;
    fprintf(stderr, "profcheck: %d file(s) parse\n", argc - first_file);
    return 0;
  }
  if (first_file != argc - 1) usage();
  int rc = load(argv[first_file], racy);
  if (rc) return rc;
  if (print)
    for (size_t i = 0; i < nbuckets; i++) {
      bucket_t *b = &buckets[i];
      printf("%lld: %lld [%lld: %lld] @", b->v[0], b->v[1], b->v[2], b->v[3]);
      for (int j = 0; j < b->depth; j++) printf(" %s", b->syms[j] ? b->syms[j] : "?");
      printf("\n");
    }
  for (int i = 1; i < first_file; i++) {
    const char *a = argv[i];
    char what[512];
    if (!strcmp(a, "--total")) {
      check4("header total", header, &argv[i + 1]);
      i += 4;
    } else if (!strcmp(a, "--leaf") || !strcmp(a, "--stack")) {
      bool leaf = a[2] == 'l';
      const char *fn = argv[i + 1];
      long long got[4] = {0, 0, 0, 0};
      for (size_t k = 0; k < nbuckets; k++)
        if (leaf ? leaf_is(&buckets[k], fn) : has(&buckets[k], fn))
          for (int j = 0; j < 4; j++) got[j] += buckets[k].v[j];
      snprintf(what, sizeof what, "%s %s", leaf ? "leaf" : "stack", fn);
      check4(what, got, &argv[i + 2]);
      i += 5;
    } else if (!strcmp(a, "--frames") || !strcmp(a, "--depth")) {
      bool frames = a[2] == 'f';
      const char *leaf = argv[i + 1], *sym = frames ? argv[i + 2] : NULL;
      const char *spec = argv[i + (frames ? 3 : 2)];
      int seen = 0;
      for (size_t k = 0; k < nbuckets; k++) {
        bucket_t *b = &buckets[k];
        if (!leaf_is(b, leaf)) continue;
        seen++;
        long long c = 0;
        if (frames) {
          for (int j = 0; j < b->depth; j++) c += b->syms[j] && !strcmp(b->syms[j], sym);
        } else {
          c = b->depth;
        }
        if (!spec_ok(spec, c))
          fail("bucket with leaf %s: %s is %lld, expected %s", leaf,
               frames ? "frame count" : "depth", c, spec);
        else
          fprintf(stderr, "profcheck: %s: leaf %s: %s%s%s = %lld\n", cur_file, leaf,
                  frames ? "frames in " : "depth", frames ? sym : "", "", c);
      }
      if (!seen) fail("no bucket has leaf %s", leaf);
      i += frames ? 3 : 2;
    } else if (!strcmp(a, "--absent")) {
      for (size_t k = 0; k < nbuckets; k++)
        if (has(&buckets[k], argv[i + 1])) {
          fail("%s appears in a bucket", argv[i + 1]);
          break;
        }
      i += 1;
    }
  }
  if (failures) {
    fprintf(stderr, "profcheck: %s: %d check(s) failed\n", cur_file, failures);
    return 1;
  }
  return 0;
}
