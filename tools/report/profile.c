/* heapscope report: the profile as read from one file (rp_profile_t), in the
 * file's own terms: mappings, locations by address, functions and lines
 * when the file carries them, and samples aggregated by distinct
 * (test, group, location stack) as the readers add them. */
#include "report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void rp_profile_init(rp_profile_t *p, const char *path) {
  memset(p, 0, sizeof *p);
  p->path = path;
  p->default_type = -1;
  rp_str_init(&p->st);
}

void rp_profile_free(rp_profile_t *p) {
  rp_str_free(&p->st);
  free(p->mappings);
  free(p->functions);
  rp_seq_free(&p->function_index);
  free(p->lines);
  free(p->locations);
  rp_u64map_free(&p->location_by_address);
  free(p->location_cache);
  rp_seq_free(&p->samples);
  free(p->values);
  free(p->seen_tests);
  memset(p, 0, sizeof *p);
}

void rp_profile_seen_test(rp_profile_t *p, uint32_t test, uint32_t group) {
  RP_RESERVE(p->seen_tests, p->seen_tests_cap, 2 * (p->nseen_tests + 1));
  p->seen_tests[2 * p->nseen_tests] = test;
  p->seen_tests[2 * p->nseen_tests + 1] = group;
  p->nseen_tests++;
}

bool rp_tests_open(rp_tests_file_t *f, rp_profile_t *p, const char *d, size_t n,
                   const char *magic, rp_err_t *err) {
  const char *end = d + n, *eol = memchr(d, '\n', n);
  if (!eol) eol = end;
  size_t hl = (size_t)(eol - d);
  if (hl && d[hl - 1] == '\r') hl--;
  if (hl != strlen(magic) || memcmp(d, magic, hl) != 0)
    return rp_fail(err, "per-test file %s.tests: line 1: expected '%s'", p->path, magic);
  *f = (rp_tests_file_t){p, eol < end ? eol + 1 : end, end, 1, 0, 0};
  return true;
}

int rp_tests_next(rp_tests_file_t *f, const char **line_out, const char **e_out, rp_err_t *err) {
  while (f->next < f->end) {
    const char *line = f->next, *eol = memchr(line, '\n', (size_t)(f->end - line));
    if (!eol) eol = f->end;
    f->next = eol < f->end ? eol + 1 : f->end;
    f->lineno++;
    const char *e = eol;
    if (e > line && e[-1] == '\r') e--;
    if (e == line) continue;
    if ((size_t)(e - line) >= 5 && !memcmp(line, "test ", 5)) {
      const char *g = line + 5, *tab = memchr(g, '\t', (size_t)(e - g));
      if (!tab || tab + 1 >= e) {
        rp_fail(err, "per-test file %s.tests: line %ld: expected 'test GROUP<TAB>NAME'",
                f->p->path, f->lineno);
        return -1;
      }
      f->group = rp_str_n(&f->p->st, g, (size_t)(tab - g));
      f->test = rp_str_n(&f->p->st, tab + 1, (size_t)(e - tab - 1));
      rp_profile_seen_test(f->p, f->test, f->group);
      continue;
    }
    if (!f->test) {
      rp_fail(err, "per-test file %s.tests: line %ld: samples before the first 'test' line",
              f->p->path, f->lineno);
      return -1;
    }
    *line_out = line;
    *e_out = e;
    return 1;
  }
  return 0;
}

uint32_t rp_profile_type(rp_profile_t *p, const char *type, const char *unit) {
  uint32_t i = p->ntypes++;
  p->type[i] = rp_str(&p->st, type);
  p->unit[i] = rp_str(&p->st, unit);
  return i;
}

uint32_t rp_profile_mapping(rp_profile_t *p, const rp_mapping_t *m) {
  RP_RESERVE(p->mappings, p->mappings_cap, p->nmappings + 1);
  p->mappings[p->nmappings] = *m;
  return (uint32_t)++p->nmappings; /* index + 1 */
}

uint32_t rp_profile_function(rp_profile_t *p, uint32_t name, uint32_t file) {
  uint32_t key[2] = {name, file};
  bool added;
  uint32_t e = rp_seq_intern(&p->function_index, key, 2, &added);
  if (added) {
    RP_RESERVE(p->functions, p->functions_cap, p->nfunctions + 1);
    p->functions[p->nfunctions].name = name;
    p->functions[p->nfunctions].file = file;
    p->nfunctions++;
  }
  return e; /* entries are created in function order */
}

#define LOC_CACHE 8192

uint32_t rp_profile_location_at(rp_profile_t *p, uint64_t address) {
  if (!p->location_cache && p->nlocations >= 1024)
    p->location_cache = rp_alloc(LOC_CACHE * sizeof *p->location_cache);
  rp_u64slot_t scratch = {0, 0}; /* no cache yet: a slot nobody reads */
  rp_u64slot_t *c = p->location_cache
                        ? &p->location_cache[(address ^ address >> 12) & (LOC_CACHE - 1)]
                        : &scratch;
  if (c->val && c->key == address) return c->val - 1;
  bool found;
  uint32_t *slot = rp_u64map_slot(&p->location_by_address, address, &found);
  if (found) {
    c->key = address;
    c->val = *slot;
    return *slot - 1;
  }
  RP_RESERVE(p->locations, p->locations_cap, p->nlocations + 1);
  rp_location_t *l = &p->locations[p->nlocations];
  memset(l, 0, sizeof *l);
  l->address = address;
  *slot = (uint32_t)p->nlocations + 1;
  c->key = address;
  c->val = *slot;
  return (uint32_t)p->nlocations++;
}

void rp_profile_add(rp_profile_t *p, uint32_t test, uint32_t group, const uint32_t *locs,
                    uint32_t depth, const int64_t *values) {
  uint32_t stackbuf[256];
  uint32_t *key = depth + 2 <= 256 ? stackbuf : rp_alloc(((size_t)depth + 2) * sizeof *key);
  key[0] = test;
  key[1] = group;
  if (depth) memcpy(key + 2, locs, (size_t)depth * sizeof *locs);
  bool added;
  uint32_t s = rp_seq_intern(&p->samples, key, depth + 2, &added);
  if (key != stackbuf) free(key);
  if (added) {
    RP_RESERVE(p->values, p->values_cap, ((size_t)s + 1) * p->ntypes);
    memset(p->values + (size_t)s * p->ntypes, 0, p->ntypes * sizeof *p->values);
  }
  int64_t *v = p->values + (size_t)s * p->ntypes;
  /* Wrapping adds: corrupt inputs may overflow; never undefined behaviour. */
  for (uint32_t t = 0; t < p->ntypes; t++)
    v[t] = (int64_t)((uint64_t)v[t] + (uint64_t)values[t]);
  p->nrecords++;
}

/* ---- mappings ------------------------------------------------------------------- */

static int cmp_start(const void *a, const void *b, void *ctx) {
  const rp_mapping_t *m = ctx;
  uint64_t x = m[*(const uint32_t *)a].start, y = m[*(const uint32_t *)b].start;
  return x < y ? -1 : x > y;
}

void rp_profile_map_locations(rp_profile_t *p) {
  if (!p->nmappings) return;
  uint32_t *order = rp_alloc(p->nmappings * sizeof *order);
  for (uint32_t i = 0; i < p->nmappings; i++) order[i] = i;
  qsort_r(order, p->nmappings, sizeof *order, cmp_start, p->mappings);
  for (size_t i = 0; i < p->nlocations; i++) {
    rp_location_t *l = &p->locations[i];
    if (l->mapping || !l->address) continue;
    size_t lo = 0, hi = p->nmappings; /* last mapping with start <= address */
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (p->mappings[order[mid]].start <= l->address) lo = mid + 1;
      else hi = mid;
    }
    if (lo && l->address < p->mappings[order[lo - 1]].limit) l->mapping = order[lo - 1] + 1;
  }
  free(order);
}

static bool hex_field(const char **s, const char *end, uint64_t *out) {
  const char *q = *s;
  uint64_t v = 0;
  int n = 0;
  while (q < end && isxdigit((unsigned char)*q)) {
    if (n++ >= 16) return false;
    int c = (unsigned char)*q++;
    v = v << 4 | (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
  }
  if (!n) return false;
  *s = q;
  *out = v;
  return true;
}

static void skip_blank(const char **s, const char *end) {
  while (*s < end && (**s == ' ' || **s == '\t')) (*s)++;
}

static bool word(const char **s, const char *end, const char **w, size_t *n) {
  skip_blank(s, end);
  *w = *s;
  while (*s < end && **s != ' ' && **s != '\t') (*s)++;
  *n = (size_t)(*s - *w);
  return *n > 0;
}

/* One line; adds an executable mapping or nothing. */
static void maps_line(rp_profile_t *p, const char *s, const char *end) {
  while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) end--;
  skip_blank(&s, end);
  uint64_t start, limit, offset = 0;
  if (!hex_field(&s, end, &start) || s >= end || *s++ != '-' || !hex_field(&s, end, &limit))
    return;
  if (limit <= start) return;
  const char *path;
  size_t plen;
  if (s < end && *s == ':') { /* brief form: start-end: path */
    s++;
    if (!word(&s, end, &path, &plen)) return;
  } else {
    const char *perms, *w;
    size_t n;
    if (!word(&s, end, &perms, &n) || n > 5) return;
    if (!memchr(perms, 'x', n)) return; /* only code matters */
    skip_blank(&s, end);
    if (!hex_field(&s, end, &offset)) return;
    if (!word(&s, end, &w, &n)) return; /* dev */
    if (!word(&s, end, &w, &n)) return; /* inode */
    skip_blank(&s, end);
    path = s;
    plen = (size_t)(end - s);
    static const char deleted[] = " (deleted)";
    if (plen > sizeof deleted - 1 && !memcmp(path + plen - (sizeof deleted - 1), deleted,
                                             sizeof deleted - 1))
      plen -= sizeof deleted - 1;
  }
  rp_mapping_t m = {.start = start, .limit = limit, .offset = offset};
  m.file = rp_str_n(&p->st, path, plen);
  rp_profile_mapping(p, &m);
}

void rp_parse_maps(rp_profile_t *p, const char *text, size_t len) {
  const char *s = text, *end = text + len;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    maps_line(p, s, e);
    s = nl ? nl + 1 : end;
  }
}
