/* heapscope report: --proto, the view as a self-symbolized, gzipped
 * profile.proto, so go pprof (-http, -diff_base, ...), speedscope and other
 * tools can take over without the binaries. Frames inlined into the next
 * one are put back into one Location (lines innermost first); every
 * mapping gets has_functions/filenames/line_numbers/inline_frames, so pprof
 * does not try to re-symbolize. With --base the values are the difference;
 * test/group labels are kept; all sample types are written, the selected
 * one as default_sample_type. */
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct bytes {
  unsigned char *d;
  size_t n, cap;
} bytes_t;

static void put(bytes_t *b, const void *d, size_t n) {
  RP_RESERVE(b->d, b->cap, b->n + n);
  memcpy(b->d + b->n, d, n);
  b->n += n;
}

static void varint(bytes_t *b, uint64_t v) {
  unsigned char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  put(b, tmp, n);
}

static void key(bytes_t *b, int field, int wt) { varint(b, (uint64_t)field << 3 | (uint64_t)wt); }

static void uint_field(bytes_t *b, int field, uint64_t v) {
  if (!v) return;
  key(b, field, 0);
  varint(b, v);
}

static void msg(bytes_t *b, int field, bytes_t *sub) {
  key(b, field, 2);
  varint(b, sub->n);
  put(b, sub->d, sub->n);
  sub->n = 0;
}

static void packed(bytes_t *b, int field, const uint64_t *v, size_t n, bytes_t *tmp) {
  if (!n) return;
  tmp->n = 0;
  for (size_t i = 0; i < n; i++) varint(tmp, v[i]);
  msg(b, field, tmp);
}

typedef struct pw {
  rp_view_t *v;
  rp_strtab_t st;
  bytes_t out, m, sub, tmp;
  rp_seqtab_t locs;  /* frame runs -> location id - 1 */
  rp_seqtab_t funcs; /* [name, file] (output string ids) -> function id - 1 */
  uint8_t *map_used;
} pw_t;

static uint64_t s(pw_t *w, uint32_t view_str) {
  return rp_str(&w->st, rp_str_get(&w->v->st, view_str));
}

static uint64_t function_id(pw_t *w, const rp_frame_t *f) {
  uint32_t k[2] = {(uint32_t)s(w, f->name), (uint32_t)s(w, f->file)};
  bool added;
  uint32_t i = rp_seq_intern(&w->funcs, k, 2, &added);
  if (added) {
    uint_field(&w->sub, 1, i + 1);
    uint_field(&w->sub, 2, k[0]);
    uint_field(&w->sub, 3, k[0]);
    uint_field(&w->sub, 4, k[1]);
    msg(&w->out, 5, &w->sub);
  }
  return i + 1;
}

/* The location for frames run[0..n) (innermost first, all but the last
 * inlined into the next). */
static uint64_t location_id(pw_t *w, const uint32_t *run, uint32_t n) {
  bool added;
  uint32_t i = rp_seq_intern(&w->locs, run, n, &added);
  if (added) {
    const rp_frame_t *outer = &w->v->frames[run[n - 1]];
    bytes_t *m = &w->m;
    m->n = 0;
    uint_field(m, 1, i + 1);
    if (outer->mapping) {
      uint_field(m, 2, outer->mapping);
      w->map_used[outer->mapping - 1] = 1;
    }
    uint_field(m, 3, outer->address);
    for (uint32_t k = 0; k < n; k++) {
      const rp_frame_t *f = &w->v->frames[run[k]];
      uint64_t fid = function_id(w, f);
      bytes_t line = {0};
      uint_field(&line, 1, fid);
      uint_field(&line, 2, f->line > 0 ? (uint64_t)f->line : 0);
      key(m, 4, 2);
      varint(m, line.n);
      put(m, line.d, line.n);
      free(line.d);
    }
    msg(&w->out, 4, m);
  }
  return i + 1;
}

static void value_type(pw_t *w, int field, uint32_t type, uint32_t unit) {
  uint_field(&w->sub, 1, s(w, type));
  uint_field(&w->sub, 2, s(w, unit));
  msg(&w->out, field, &w->sub);
}

static bool gzip_to(FILE *f, const unsigned char *d, size_t n) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  unsigned char buf[1 << 16];
  int rc = Z_OK;
  zs.next_in = (Bytef *)d;
  size_t left = n;
  bool ok = true;
  while (rc != Z_STREAM_END && ok) {
    if (zs.avail_in == 0 && left) {
      uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
      zs.avail_in = chunk;
      left -= chunk;
    }
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    rc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
    if (rc == Z_STREAM_ERROR) ok = false;
    size_t have = sizeof buf - zs.avail_out;
    if (have && fwrite(buf, 1, have, f) != have) ok = false;
  }
  deflateEnd(&zs);
  return ok;
}

bool rp_write_proto(FILE *f, rp_view_t *v, const rp_opts_t *o, rp_err_t *err) {
  pw_t w;
  memset(&w, 0, sizeof w);
  w.v = v;
  rp_str_init(&w.st);
  w.map_used = rp_alloc(v->nmappings + 1);
  for (uint32_t t = 0; t < v->ntypes; t++) value_type(&w, 1, v->type[t], v->unit[t]);
  value_type(&w, 11, v->period_type, v->period_unit);
  uint_field(&w.out, 12, (uint64_t)v->period);
  uint_field(&w.out, 10, (uint64_t)v->duration_ns);
  uint_field(&w.out, 14, s(&w, v->type[v->sel]));
  char comment[1024];
  snprintf(comment, sizeof comment, "heapscope report of %s%s%s", v->first_path ? v->first_path : "",
           o->base_path ? " minus " : "", o->base_path ? o->base_path : "");
  uint_field(&w.out, 13, rp_str(&w.st, comment));
  uint64_t key_test = rp_str(&w.st, "test"), key_group = rp_str(&w.st, "group");

  uint64_t *ids = NULL, vals[RP_MAX_TYPES];
  size_t ids_cap = 0;
  bytes_t sample = {0};
  for (uint32_t st = 0; st < v->stacks.n; st++) {
    if (!rp_stack_in(v, st)) continue;
    uint32_t n = rp_stack_depth(v, st);
    const uint32_t *fr = rp_stack_frames(v, st);
    bool nonzero = false;
    for (uint32_t t = 0; t < v->ntypes; t++) {
      vals[t] = (uint64_t)rp_stack_value_t(v, st, t);
      nonzero |= vals[t] != 0;
    }
    if (!nonzero) continue;
    RP_RESERVE(ids, ids_cap, (size_t)n + 1);
    size_t nids = 0;
    for (uint32_t i = 0; i < n;) {
      uint32_t j = i;
      while (j + 1 < n && v->frames[fr[j]].inlined) j++;
      ids[nids++] = location_id(&w, fr + i, j - i + 1);
      i = j + 1;
    }
    sample.n = 0;
    packed(&sample, 1, ids, nids, &w.tmp);
    packed(&sample, 2, vals, v->ntypes, &w.tmp);
    uint32_t test = rp_stack_test(v, st), group = rp_stack_group(v, st);
    if (test) {
      uint_field(&w.sub, 1, key_test);
      uint_field(&w.sub, 2, s(&w, test));
      msg(&sample, 3, &w.sub);
      if (group) {
        uint_field(&w.sub, 1, key_group);
        uint_field(&w.sub, 2, s(&w, group));
        msg(&sample, 3, &w.sub);
      }
    }
    msg(&w.out, 2, &sample);
  }
  /* Tests that ran without a sample: a zero-valued sample with their
   * labels each, as heapscope's profilers write them. */
  rp_test_t *unsampled;
  size_t nun = rp_tests_unsampled(v, &unsampled);
  for (uint32_t t = 0; t < v->ntypes; t++) vals[t] = 0;
  for (size_t i = 0; i < nun; i++) {
    sample.n = 0;
    packed(&sample, 2, vals, v->ntypes, &w.tmp);
    uint_field(&w.sub, 1, key_test);
    uint_field(&w.sub, 2, s(&w, unsampled[i].test));
    msg(&sample, 3, &w.sub);
    if (unsampled[i].group) {
      uint_field(&w.sub, 1, key_group);
      uint_field(&w.sub, 2, s(&w, unsampled[i].group));
      msg(&sample, 3, &w.sub);
    }
    msg(&w.out, 2, &sample);
  }
  free(unsampled);
  for (size_t i = 0; i < v->nmappings; i++) {
    if (!w.map_used[i] && i) continue;
    const rp_mapping_t *m = &v->mappings[i];
    bytes_t *b = &w.m;
    b->n = 0;
    uint_field(b, 1, i + 1);
    uint_field(b, 2, m->start);
    uint_field(b, 3, m->limit);
    uint_field(b, 4, m->offset);
    uint_field(b, 5, s(&w, m->file));
    uint_field(b, 6, s(&w, m->build_id));
    for (int k = 7; k <= 10; k++) uint_field(b, k, 1);
    msg(&w.out, 3, b);
  }
  for (uint32_t i = 0; i < w.st.n; i++) {
    key(&w.out, 6, 2);
    varint(&w.out, w.st.len[i]);
    put(&w.out, w.st.str[i], w.st.len[i]);
  }
  bool ok = gzip_to(f, w.out.d, w.out.n) && !ferror(f);
  if (!ok && !ferror(f)) rp_fail(err, "compression failed");
  free(ids);
  free(sample.d);
  free(w.out.d);
  free(w.m.d);
  free(w.sub.d);
  free(w.tmp.d);
  free(w.map_used);
  rp_seq_free(&w.locs);
  rp_seq_free(&w.funcs);
  rp_str_free(&w.st);
  return ok;
}
