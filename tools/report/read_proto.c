/* heapscope report: profile.proto (google/pprof proto/profile.proto), as
 * heapscope writes it (core/heapprof_proto.c, self-symbolized) and as
 * pprof and other tools do (possibly unsymbolized: then the mappings are
 * used like a legacy profile's).
 *
 * A hand-written decoder: the top-level fields are indexed once, then read
 * in dependency order (strings, functions, mappings, locations, samples),
 * since a writer may emit them in any order. Everything is bounds-checked:
 * lengths against the buffer, string indices against the table, IDs must
 * be nonzero, unique and defined before use, each sample carries one value
 * per sample type.
 *
 * Samples labelled `test` (and `group`) with string values belong to that
 * CMocka test (heapscope's per-test contract); other labels are ignored. A
 * labelled sample whose values are all zero names a test that ran but has
 * no sample (too short to be sampled). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

typedef struct pb {
  const unsigned char *p, *end;
} pb_t;

static bool varint(pb_t *b, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (b->p >= b->end) return false;
    unsigned char c = *b->p++;
    if (shift == 63 && c > 1) return false;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

typedef struct field {
  uint32_t num;
  int wt;
  uint64_t v;                 /* varint / fixed value */
  const unsigned char *data;  /* length-delimited payload */
  size_t len;
} field_t;

/* Next field of b; false at the end (*bad set when malformed). */
static bool next(pb_t *b, field_t *f, bool *bad) {
  *bad = false;
  if (b->p >= b->end) return false;
  uint64_t key;
  if (!varint(b, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
    *bad = true;
    return false;
  }
  f->num = (uint32_t)(key >> 3);
  f->wt = (int)(key & 7);
  f->data = NULL;
  f->len = 0;
  switch (f->wt) {
  case 0:
    if (!varint(b, &f->v)) *bad = true;
    break;
  case 1:
    if (b->end - b->p < 8) *bad = true;
    else {
      memcpy(&f->v, b->p, 8);
      b->p += 8;
    }
    break;
  case 5:
    if (b->end - b->p < 4) *bad = true;
    else {
      uint32_t x;
      memcpy(&x, b->p, 4);
      f->v = x;
      b->p += 4;
    }
    break;
  case 2: {
    uint64_t len;
    if (!varint(b, &len) || len > (uint64_t)(b->end - b->p)) *bad = true;
    else {
      f->data = b->p;
      f->len = (size_t)len;
      b->p += len;
    }
    break;
  }
  default:
    *bad = true; /* groups (3, 4) and 6, 7 are not used by profile.proto */
  }
  return !*bad;
}

typedef struct reader {
  rp_profile_t *p;
  rp_err_t *err;
  uint32_t *strs; /* string table index -> profile string id */
  size_t nstrs;
  rp_u64map_t funcs, maps, locs; /* file IDs -> our indices */
  uint64_t *u64;                 /* scratch for repeated scalars */
  size_t u64_cap;
} reader_t;

static bool bad(reader_t *r, const char *what) { return rp_fail(r->err, "%s", what); }

static bool str_at(reader_t *r, uint64_t idx, uint32_t *out, const char *what) {
  if (idx >= r->nstrs)
    return rp_fail(r->err, "%s: string index %llu out of range (table has %zu)", what,
                   (unsigned long long)idx, r->nstrs);
  *out = r->strs[idx];
  return true;
}

/* A repeated uint64 field, packed or not, appended to r->u64 (count *n). */
static bool repeated(reader_t *r, const field_t *f, size_t *n) {
  if (f->wt == 0) {
    RP_RESERVE(r->u64, r->u64_cap, *n + 1);
    r->u64[(*n)++] = f->v;
    return true;
  }
  if (f->wt != 2) return false;
  pb_t b = {f->data, f->data + f->len};
  while (b.p < b.end) {
    RP_RESERVE(r->u64, r->u64_cap, *n + 1);
    if (!varint(&b, &r->u64[*n])) return false;
    (*n)++;
  }
  return true;
}

static bool value_type(reader_t *r, const field_t *f, uint32_t *type, uint32_t *unit) {
  if (f->wt != 2) return bad(r, "sample_type is not a message");
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  *type = *unit = 0;
  while (next(&b, &g, &err)) {
    if (g.wt != 0) continue;
    if (g.num == 1 && !str_at(r, g.v, type, "value type")) return false;
    if (g.num == 2 && !str_at(r, g.v, unit, "value type")) return false;
  }
  return err ? bad(r, "malformed ValueType message") : true;
}

static bool function(reader_t *r, const field_t *f) {
  if (f->wt != 2) return bad(r, "function is not a message");
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  uint64_t id = 0;
  uint32_t name = 0, sysname = 0, file = 0;
  while (next(&b, &g, &err)) {
    if (g.wt != 0) continue;
    switch (g.num) {
    case 1: id = g.v; break;
    case 2: if (!str_at(r, g.v, &name, "function name")) return false; break;
    case 3: if (!str_at(r, g.v, &sysname, "function system_name")) return false; break;
    case 4: if (!str_at(r, g.v, &file, "function filename")) return false; break;
    }
  }
  if (err) return bad(r, "malformed Function message");
  if (!id) return bad(r, "function with ID 0");
  if (!name) name = sysname;
  bool found;
  uint32_t *slot = rp_u64map_slot(&r->funcs, id, &found);
  if (found) return rp_fail(r->err, "function ID %llu defined twice", (unsigned long long)id);
  *slot = rp_profile_function(r->p, name, file) + 1;
  return true;
}

static bool mapping(reader_t *r, const field_t *f) {
  if (f->wt != 2) return bad(r, "mapping is not a message");
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  uint64_t id = 0;
  rp_mapping_t m;
  memset(&m, 0, sizeof m);
  while (next(&b, &g, &err)) {
    if (g.wt != 0) continue;
    switch (g.num) {
    case 1: id = g.v; break;
    case 2: m.start = g.v; break;
    case 3: m.limit = g.v; break;
    case 4: m.offset = g.v; break;
    case 5: if (!str_at(r, g.v, &m.file, "mapping filename")) return false; break;
    case 6: if (!str_at(r, g.v, &m.build_id, "mapping build_id")) return false; break;
    case 7: m.symbolized = m.symbolized || g.v; break; /* has_functions */
    }
  }
  if (err) return bad(r, "malformed Mapping message");
  if (!id) return bad(r, "mapping with ID 0");
  bool found;
  uint32_t *slot = rp_u64map_slot(&r->maps, id, &found);
  if (found) return rp_fail(r->err, "mapping ID %llu defined twice", (unsigned long long)id);
  *slot = rp_profile_mapping(r->p, &m); /* index + 1 */
  return true;
}

static bool line(reader_t *r, const field_t *f, rp_line_t *out, bool *keep) {
  if (f->wt != 2) return bad(r, "location line is not a message");
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  uint64_t fid = 0, lineno = 0;
  while (next(&b, &g, &err)) {
    if (g.wt != 0) continue;
    if (g.num == 1) fid = g.v;
    else if (g.num == 2) lineno = g.v;
  }
  if (err) return bad(r, "malformed Line message");
  *keep = false;
  if (!fid) return true; /* no function: nothing to show */
  uint32_t fi;
  if (!rp_u64map_get(&r->funcs, fid, &fi))
    return rp_fail(r->err, "location line references function ID %llu, which is not defined",
                   (unsigned long long)fid);
  out->function = fi;
  out->line = (int64_t)lineno > 0 && lineno < INT32_MAX ? (int32_t)lineno : 0;
  *keep = true;
  return true;
}

static bool location(reader_t *r, const field_t *f) {
  if (f->wt != 2) return bad(r, "location is not a message");
  rp_profile_t *p = r->p;
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  uint64_t id = 0, mid = 0, addr = 0;
  size_t first = p->nlines;
  while (next(&b, &g, &err)) {
    if (g.num == 1 && g.wt == 0) id = g.v;
    else if (g.num == 2 && g.wt == 0) mid = g.v;
    else if (g.num == 3 && g.wt == 0) addr = g.v;
    else if (g.num == 4) {
      rp_line_t l;
      bool keep = false;
      if (!line(r, &g, &l, &keep)) return false;
      if (keep) {
        RP_RESERVE(p->lines, p->lines_cap, p->nlines + 1);
        p->lines[p->nlines++] = l;
      }
    }
  }
  if (err) return bad(r, "malformed Location message");
  if (!id) return bad(r, "location with ID 0");
  uint32_t mi = 0;
  if (mid) {
    if (!rp_u64map_get(&r->maps, mid, &mi))
      return rp_fail(r->err, "location references mapping ID %llu, which is not defined",
                     (unsigned long long)mid);
    mi += 1;
  }
  if (p->nlines - first > 1024) return bad(r, "location with more than 1024 lines");
  bool found;
  uint32_t *slot = rp_u64map_slot(&r->locs, id, &found);
  if (found) return rp_fail(r->err, "location ID %llu defined twice", (unsigned long long)id);
  RP_RESERVE(p->locations, p->locations_cap, p->nlocations + 1);
  rp_location_t *l = &p->locations[p->nlocations];
  l->address = addr;
  l->mapping = mi;
  l->lines = (uint32_t)first;
  l->nlines = (uint32_t)(p->nlines - first);
  *slot = (uint32_t)++p->nlocations;
  return true;
}

static bool sample(reader_t *r, const field_t *f, uint32_t key_test, uint32_t key_group,
                   uint32_t **locs, size_t *locs_cap) {
  if (f->wt != 2) return bad(r, "sample is not a message");
  rp_profile_t *p = r->p;
  pb_t b = {f->data, f->data + f->len};
  field_t g;
  bool err;
  size_t nids = 0, nvals = 0;
  /* Location IDs first go to r->u64[0..], values are collected after them;
   * simplest is two passes over the sample's fields. */
  while (next(&b, &g, &err))
    if (g.num == 1 && !repeated(r, &g, &nids)) return bad(r, "malformed sample location_id");
  if (err) return bad(r, "malformed Sample message");
  if (nids > RP_MAX_DEPTH) return rp_fail(r->err, "sample with %zu locations", nids);
  RP_RESERVE(*locs, *locs_cap, nids + 1);
  for (size_t i = 0; i < nids; i++) {
    uint32_t li;
    if (!rp_u64map_get(&r->locs, r->u64[i], &li))
      return rp_fail(r->err, "sample references location ID %llu, which is not defined",
                     (unsigned long long)r->u64[i]);
    (*locs)[i] = li;
  }
  b.p = f->data;
  uint32_t test = 0, group = 0;
  while (next(&b, &g, &err)) {
    if (g.num == 2) {
      if (!repeated(r, &g, &nvals)) return bad(r, "malformed sample value");
    } else if (g.num == 3 && g.wt == 2) {
      pb_t lb = {g.data, g.data + g.len};
      field_t h;
      bool lerr;
      uint64_t k = 0, sv = 0;
      while (next(&lb, &h, &lerr)) {
        if (h.wt != 0) continue;
        if (h.num == 1) k = h.v;
        else if (h.num == 2) sv = h.v;
      }
      if (lerr) return bad(r, "malformed Label message");
      uint32_t ks = 0, vs = 0;
      if (!str_at(r, k, &ks, "label key") || !str_at(r, sv, &vs, "label value")) return false;
      if (ks && ks == key_test) test = vs;
      else if (ks && ks == key_group) group = vs;
    }
  }
  if (nvals != p->ntypes)
    return rp_fail(r->err, "sample has %zu values but the profile has %u sample types", nvals,
                   p->ntypes);
  int64_t v[RP_MAX_TYPES];
  bool zero = true;
  for (size_t i = 0; i < nvals; i++) {
    v[i] = (int64_t)r->u64[i];
    zero &= v[i] == 0;
  }
  /* A labelled sample of zeros names a test that ran without a sample
   * (heapscope's writers add one for each); it adds nothing else. */
  if (zero) {
    if (test) rp_profile_seen_test(p, test, group);
    return true;
  }
  rp_profile_add(p, test, group, *locs, (uint32_t)nids, v);
  return true;
}

bool rp_looks_like_proto(const unsigned char *d, size_t n) {
  pb_t b = {d, d + n};
  field_t f;
  bool bad;
  if (!next(&b, &f, &bad) || f.num > 15) return false;
  /* messages and strings are length-delimited, the scalars varints */
  bool len_field = f.num <= 6 || f.num == 11 || f.num == 13;
  return len_field ? f.wt == 2 || (f.num == 13 && f.wt == 0) : f.wt == 0;
}

static bool has_type(const rp_profile_t *p, const char *name) {
  for (uint32_t i = 0; i < p->ntypes; i++)
    if (!strcmp(rp_str_get(&p->st, p->type[i]), name)) return true;
  return false;
}

bool rp_read_proto(const unsigned char *d, size_t n, rp_profile_t *p, rp_err_t *err) {
  reader_t r;
  memset(&r, 0, sizeof r);
  r.p = p;
  r.err = err;
  p->format = "profile.proto";
  bool ok = false;
  pb_t b = {d, d + n};
  field_t f;
  bool e;
  size_t nfields = 0, nstrs = 0;
  /* Pass 1: check the framing and build the string table. */
  while (next(&b, &f, &e)) {
    nfields++;
    if (f.num == 6) {
      if (f.wt != 2) return rp_fail(err, "string_table entry is not a string");
      nstrs++;
    }
  }
  if (e) return rp_fail(err, "malformed protobuf at byte %zu", (size_t)(b.p - d));
  if (!nfields) return rp_fail(err, "no fields");
  if (!nstrs) return rp_fail(err, "no string table");
  r.strs = rp_alloc(nstrs * sizeof *r.strs);
  b.p = d;
  while (next(&b, &f, &e))
    if (f.num == 6) {
      if (r.nstrs == 0 && f.len != 0) {
        rp_fail(err, "string_table[0] is not empty");
        goto out;
      }
      r.strs[r.nstrs++] = rp_str_n(&p->st, (const char *)f.data, f.len);
    }
  /* Pass 2: scalars and sample types. */
  uint64_t default_type = 0;
  uint32_t key_test = rp_str(&p->st, "test"), key_group = rp_str(&p->st, "group");
  b.p = d;
  while (next(&b, &f, &e)) {
    switch (f.num) {
    case 1: {
      if (p->ntypes == RP_MAX_TYPES) {
        rp_fail(err, "more than %d sample types", RP_MAX_TYPES);
        goto out;
      }
      uint32_t t, u;
      if (!value_type(&r, &f, &t, &u)) goto out;
      p->type[p->ntypes] = t;
      p->unit[p->ntypes] = u;
      p->ntypes++;
      break;
    }
    case 7: if (f.wt == 0 && !str_at(&r, f.v, &p->drop_frames, "drop_frames")) goto out; break;
    case 8: if (f.wt == 0 && !str_at(&r, f.v, &p->keep_frames, "keep_frames")) goto out; break;
    case 9: if (f.wt == 0) p->time_ns = (int64_t)f.v; break;
    case 10: if (f.wt == 0) p->duration_ns = (int64_t)f.v; break;
    case 11: if (!value_type(&r, &f, &p->period_type, &p->period_unit)) goto out; break;
    case 12: if (f.wt == 0) p->period = (int64_t)f.v; break;
    case 14: if (f.wt == 0) default_type = f.v; break;
    }
  }
  if (!p->ntypes) {
    rp_fail(err, "no sample types");
    goto out;
  }
  if (default_type) {
    uint32_t ds = 0;
    if (!str_at(&r, default_type, &ds, "default_sample_type")) goto out;
    for (uint32_t i = 0; i < p->ntypes; i++)
      if (p->type[i] == ds) p->default_type = (int)i;
  }
  /* Pass 3..6: functions, mappings, locations, samples. */
  static const uint32_t order[3] = {5, 3, 4};
  for (int k = 0; k < 3; k++) {
    b.p = d;
    while (next(&b, &f, &e)) {
      if (f.num != order[k]) continue;
      bool good = order[k] == 5 ? function(&r, &f) : order[k] == 3 ? mapping(&r, &f)
                                                                    : location(&r, &f);
      if (!good) goto out;
    }
  }
  {
    uint32_t *locs = NULL;
    size_t locs_cap = 0;
    b.p = d;
    while (next(&b, &f, &e)) {
      if (f.num != 2) continue;
      if (!sample(&r, &f, key_test, key_group, &locs, &locs_cap)) {
        free(locs);
        goto out;
      }
    }
    free(locs);
  }
  rp_profile_map_locations(p);
  const char *pt = rp_str_get(&p->st, p->period_type);
  if (has_type(p, "inuse_space") || has_type(p, "alloc_space") || !strcmp(pt, "space"))
    p->kind = RP_KIND_HEAP;
  else if (has_type(p, "cpu") || !strcmp(pt, "cpu"))
    p->kind = RP_KIND_CPU;
  ok = true;
out:
  free(r.strs);
  rp_u64map_free(&r.funcs);
  rp_u64map_free(&r.maps);
  rp_u64map_free(&r.locs);
  free(r.u64);
  return ok;
}
