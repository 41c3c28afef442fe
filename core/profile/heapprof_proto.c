/* Self-symbolized profile.proto, for both profilers
 * (HEAPSCOPE_PROFILE_FORMAT=proto).
 *
 * The legacy formats leave symbolization to pprof, which needs the very
 * binaries and libraries that were loaded, at the same paths, when the
 * profile is read (and go tool pprof cannot name libc frames of a C
 * program at all). This writer resolves every pc in-process with the
 * runtime's symbolizer (core/symbol/symbolize.h: function, file, line and
 * inlined frames, also for libraries that have since been dlclose'd) and
 * writes google/pprof's profile.proto:
 *
 *   sample_type  the caller's (heap: alloc_objects/count alloc_space/bytes
 *                inuse_objects/count inuse_space/bytes, as pprof's legacy
 *                heap parser makes; CPU: samples/count cpu/nanoseconds)
 *   sample       leaf location first, values, labels (heap: bytes=avg;
 *                CPU: test and group while a test ran)
 *   location     one per distinct (pc, module, exact); address = pc-1 for a
 *                return address (inside the call, as pprof's legacy parser
 *                adjusts), pc itself for a CPU sample's interrupted pc;
 *                lines innermost inlined frame first, the real function last
 *   function     one per (name, file)
 *   mapping      one per module, the main program first, with build-id and
 *                has_functions/filenames/line_numbers/inline_frames set, so
 *                pprof never tries to re-symbolize (no binary needed)
 *
 * The protobuf is encoded by hand (varints and length-delimited fields)
 * into hs_strbuf_t buffers on the internal heap. Callers are inside
 * hs__runtime_enter, so anything libdw or zlib allocate goes to the
 * internal heap too.
 *
 * Compression: the output is gzipped when zlib (libz.so.1) can be loaded
 * (on first use, core/module/lazylib.c); otherwise it is an uncompressed
 * .pb, which pprof reads as well. zlib's own allocations are routed to the
 * internal heap (zalloc/zfree). */
#include "core/profile/heapprof.h"

#include "core/symbol/symbolize.h"

#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<zlib.h>)
#include <zlib.h>
#define HS_HAVE_ZLIB_H 1
#endif
#endif

#ifdef HS_HAVE_ZLIB_H
static const char *const z_names[] = {"deflateInit2_", "deflate", "deflateEnd", "zlibVersion"};
static struct {
  __typeof__(deflateInit2_) *init2;
  __typeof__(deflate) *deflate;
  __typeof__(deflateEnd) *end;
  __typeof__(zlibVersion) *version;
} z;
static hs_lazy_lib_t z_lib = {.soname = "libz.so.1", .names = z_names, .syms = (void **)&z,
                              .count = 4, .without = "proto profiles are written uncompressed"};
#endif

/* The interface core/heapprof.c uses (declared there too). */

bool hs__heapprof_proto_gzip(void) {
#ifdef HS_HAVE_ZLIB_H
  return hs__lib_load(&z_lib) && z.version()[0] == '1';
#else
  return false;
#endif
}

/* ---- protobuf encoding ----------------------------------------------------- */

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_varint(hs_strbuf_t *b, uint64_t v) {
  char tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  hs__sb_append(b, tmp, n);
}
static void pb_key(hs_strbuf_t *b, int field, int wt) {
  pb_varint(b, (uint64_t)field << 3 | (uint64_t)wt);
}
/* proto3 scalars: zero is the default and is not written. */
static void pb_uint(hs_strbuf_t *b, int field, uint64_t v) {
  if (!v) return;
  pb_key(b, field, WT_VARINT);
  pb_varint(b, v);
}
static void pb_bytes(hs_strbuf_t *b, int field, const void *d, size_t n) {
  pb_key(b, field, WT_LEN);
  pb_varint(b, n);
  hs__sb_append(b, d, n);
}
/* A nested message: sub's bytes as a length-delimited field; resets sub. */
static void pb_msg(hs_strbuf_t *b, int field, hs_strbuf_t *sub) {
  pb_bytes(b, field, sub->data ? sub->data : "", sub->len);
  sub->len = 0;
}
static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v > 0x7f) v >>= 7, n++;
  return n;
}
/* packed repeated uint64/int64 */
static void pb_packed(hs_strbuf_t *b, int field, const uint64_t *v, size_t n) {
  if (!n) return;
  size_t len = 0;
  for (size_t i = 0; i < n; i++) len += varint_len(v[i]);
  pb_key(b, field, WT_LEN);
  pb_varint(b, len);
  for (size_t i = 0; i < n; i++) pb_varint(b, v[i]);
}

/* ---- open-addressing tables on the internal heap -------------------------- */

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

typedef struct kv {
  uint64_t k1, k2; /* key */
  uint64_t val;    /* 0 = empty slot */
} kv_t;

typedef struct table {
  kv_t *slots;
  size_t cap, len;
  bool oom;
} table_t;

static kv_t *tab_find(table_t *t, uint64_t k1, uint64_t k2, bool *found) {
  if (t->len * 2 >= t->cap) { /* grow (also the first time) */
    size_t cap = t->cap ? t->cap * 2 : 1024;
    kv_t *s = hs__arena_alloc(cap * sizeof *s);
    if (!s) {
      t->oom = true;
      if (!t->cap) return NULL;
    } else {
      for (size_t i = 0; i < t->cap; i++) {
        kv_t *o = &t->slots[i];
        if (!o->val) continue;
        size_t j = mix(o->k1 * 31 + o->k2) & (cap - 1);
        while (s[j].val) j = (j + 1) & (cap - 1);
        s[j] = *o;
      }
      hs__arena_free(t->slots);
      t->slots = s;
      t->cap = cap;
    }
  }
  if (t->len + 1 >= t->cap) return NULL;
  size_t j = mix(k1 * 31 + k2) & (t->cap - 1);
  while (t->slots[j].val) {
    if (t->slots[j].k1 == k1 && t->slots[j].k2 == k2) {
      *found = true;
      return &t->slots[j];
    }
    j = (j + 1) & (t->cap - 1);
  }
  *found = false;
  return &t->slots[j];
}

static void tab_free(table_t *t) {
  hs__arena_free(t->slots);
  memset(t, 0, sizeof *t);
}

/* ---- the profile under construction ---------------------------------------- */

typedef struct strtab {
  table_t idx;            /* (hash, len) -> index + 1, verified against strs */
  const char **strs;      /* by index; stable pointers (interned/static) */
  size_t len, cap;
} strtab_t;

typedef struct builder {
  strtab_t st;
  table_t locs;           /* (pc, module) -> location id */
  table_t funcs;          /* (name idx, file idx) -> function id */
  uint8_t *mod_used;      /* by module index */
  uint32_t nmods;
  hs_strbuf_t out;        /* the Profile message */
  hs_strbuf_t msg, sub;   /* scratch for nested messages */
  uint64_t next_loc, next_func;
  char **owned;           /* strings made for this dump (build-ids) */
  size_t nowned, capowned;
  bool oom;
} builder_t;

/* A copy of s on the internal heap, freed with the builder. */
static const char *own_str(builder_t *b, const char *s) {
  if (b->nowned == b->capowned) {
    size_t cap = b->capowned ? b->capowned * 2 : 64;
    char **a = hs__arena_realloc(b->owned, cap * sizeof *a);
    if (!a) return NULL;
    b->owned = a;
    b->capowned = cap;
  }
  size_t n = strlen(s) + 1;
  char *d = hs__arena_alloc(n);
  if (!d) return NULL;
  memcpy(d, s, n);
  b->owned[b->nowned++] = d;
  return d;
}

static uint64_t hash_str(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* Index of s in the string table (s must outlive the dump). */
static uint64_t str_index(builder_t *b, const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  uint64_t h = hash_str(s, n);
  for (uint64_t probe = 0;; probe++) { /* (hash, probe) keys resolve collisions */
    bool found;
    kv_t *e = tab_find(&b->st.idx, h, probe, &found);
    if (!e) {
      b->oom = true;
      return 0;
    }
    if (found) {
      if (!strcmp(b->st.strs[e->val - 1], s)) return e->val - 1;
      continue;
    }
    if (b->st.len == b->st.cap) {
      size_t cap = b->st.cap ? b->st.cap * 2 : 256;
      const char **a = hs__arena_realloc(b->st.strs, cap * sizeof *a);
      if (!a) {
        b->oom = true;
        return 0;
      }
      b->st.strs = a;
      b->st.cap = cap;
    }
    b->st.strs[b->st.len++] = s;
    e->k1 = h;
    e->k2 = probe;
    e->val = b->st.len;
    b->st.idx.len++;
    return b->st.len - 1;
  }
}

typedef struct frames {
  builder_t *b;
  hs_strbuf_t *lines; /* Line messages, appended to the location */
  int n;
} frames_t;

/* Symbolizer callback: one logical frame, innermost inlined first, which is
 * the order profile.proto wants (the last Line is the real function). */
static void emit_line(const hs_symbol_t *sym, void *ctx) {
  frames_t *f = ctx;
  builder_t *b = f->b;
  if (!sym->function) return; /* unknown: the location keeps just its address */
  uint64_t name = str_index(b, sym->function);
  uint64_t file = str_index(b, sym->file);
  bool found;
  kv_t *e = tab_find(&b->funcs, name, file, &found);
  if (!e) {
    b->oom = true;
    return;
  }
  if (!found) {
    e->k1 = name;
    e->k2 = file;
    e->val = ++b->next_func;
    b->funcs.len++;
    hs_strbuf_t *m = &b->sub;
    pb_uint(m, 1, e->val);   /* id */
    pb_uint(m, 2, name);     /* name */
    pb_uint(m, 3, name);     /* system_name */
    pb_uint(m, 4, file);     /* filename */
    pb_msg(&b->out, 5, m);   /* Profile.function */
  }
  hs_strbuf_t line = {0};
  pb_uint(&line, 1, e->val);
  pb_uint(&line, 2, sym->line > 0 ? (uint64_t)sym->line : 0);
  pb_msg(f->lines, 4, &line); /* Location.line */
  hs__sb_free(&line);
  f->n++;
}

/* The location id for pc of a stack captured at epoch: a return address
 * (pc-1 lies in the call), or with exact the very pc a CPU sample
 * interrupted. */
static uint64_t location(builder_t *b, uintptr_t pc, uint32_t epoch, bool exact) {
  uintptr_t look = pc && !exact ? pc - 1 : pc;
  const hs_module_t *m = pc ? hs__module_for(look, epoch) : NULL;
  bool found;
  /* Module records are aligned: bit 0 of the key tells an exact pc from a
   * return address with the same value. */
  kv_t *e = tab_find(&b->locs, pc, (uintptr_t)m | (exact ? 1 : 0), &found);
  if (!e) {
    b->oom = true;
    return 0;
  }
  if (found) return e->val;
  e->k1 = pc;
  e->k2 = (uintptr_t)m | (exact ? 1 : 0);
  e->val = ++b->next_loc;
  b->locs.len++;
  hs_strbuf_t *loc = &b->msg;
  loc->len = 0;
  pb_uint(loc, 1, e->val);
  /* A module first seen after begin() counted them (a dlopen racing with
   * the dump) gets no Mapping message, so its locations name none: pprof
   * rejects a mapping_id without a mapping. */
  if (m && m->index < b->nmods) {
    pb_uint(loc, 2, (uint64_t)m->index + 1);
    b->mod_used[m->index] = 1;
  }
  pb_uint(loc, 3, look);
  frames_t f = {b, loc, 0};
  if (pc && exact) {
    hs__symbolize_exact(pc, epoch, emit_line, &f);
  } else if (pc) {
    hs__symbolize(pc, epoch, emit_line, &f);
  } else {
    hs_symbol_t unknown = {.function = "[unknown stack]"};
    emit_line(&unknown, &f);
  }
  pb_msg(&b->out, 4, loc); /* Profile.location */
  return e->val;
}

static void mapping(builder_t *b, const hs_module_t *m) {
  hs_strbuf_t *mp = &b->msg;
  mp->len = 0;
  char hex[2 * HS_BUILD_ID_MAX + 1];
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < m->build_id_len; i++) {
    hex[2 * i] = digits[m->build_id[i] >> 4];
    hex[2 * i + 1] = digits[m->build_id[i] & 15];
  }
  hex[2 * m->build_id_len] = 0;
  /* The string table keeps pointers: the hex must live as long as b. */
  const char *bid = m->build_id_len ? own_str(b, hex) : NULL;
  pb_uint(mp, 1, (uint64_t)m->index + 1);       /* id */
  pb_uint(mp, 2, m->lo);                        /* memory_start */
  pb_uint(mp, 3, m->hi);                        /* memory_limit */
  pb_uint(mp, 5, str_index(b, m->path));        /* filename */
  if (bid) pb_uint(mp, 6, str_index(b, bid));   /* build_id */
  pb_uint(mp, 7, 1);                            /* has_functions */
  pb_uint(mp, 8, 1);                            /* has_filenames */
  pb_uint(mp, 9, 1);                            /* has_line_numbers */
  pb_uint(mp, 10, 1);                           /* has_inline_frames */
  pb_msg(&b->out, 3, mp);                       /* Profile.mapping */
}

static void value_type(builder_t *b, int field, const char *type, const char *unit) {
  hs_strbuf_t *v = &b->sub;
  v->len = 0;
  pb_uint(v, 1, str_index(b, type));
  pb_uint(v, 2, str_index(b, unit));
  pb_msg(&b->out, field, v);
}

/* ---- the builder interface (heapprof.h) -------------------------------------- */

struct hs_proto {
  builder_t b;
  int ntypes;
};

hs_proto_t *hs__proto_begin(const hs_proto_spec_t *spec) {
  hs_proto_t *p = hs__arena_alloc(sizeof *p);
  if (!p) return NULL;
  builder_t *b = &p->b;
  p->ntypes = spec->ntypes;
  str_index(b, ""); /* string_table[0] must be "" */
  for (int i = 0; i < spec->ntypes; i++) value_type(b, 1, spec->types[i][0], spec->types[i][1]);
  value_type(b, 11, spec->period_type[0], spec->period_type[1]); /* period_type */
  pb_uint(&b->out, 12, (uint64_t)spec->period);                  /* period */
  if (spec->default_type) pb_uint(&b->out, 14, str_index(b, spec->default_type));
  if (spec->comment) pb_uint(&b->out, 13, str_index(b, spec->comment));
  uint64_t when = (uint64_t)spec->time_nanos;
  if (!when) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    when = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  }
  pb_uint(&b->out, 9, when);                                     /* time_nanos */
  pb_uint(&b->out, 10, (uint64_t)spec->duration_nanos);          /* duration_nanos */

  hs__modules_refresh();
  b->nmods = hs__module_count();
  b->mod_used = hs__arena_alloc(b->nmods + 1);
  if (!b->mod_used) b->nmods = 0;
  return p;
}

void hs__proto_sample(hs_proto_t *p, const uintptr_t *pcs, int depth, uint32_t epoch,
                      bool leaf_exact, const int64_t *values, const hs_proto_label_t *labels,
                      int nlabels) {
  builder_t *b = &p->b;
  if (b->oom) return;
  uint64_t ids[256];
  if (depth > (int)(sizeof ids / sizeof ids[0])) depth = (int)(sizeof ids / sizeof ids[0]);
  for (int i = 0; i < depth; i++) ids[i] = location(b, pcs[i], epoch, leaf_exact && i == 0);
  hs_strbuf_t *s = &b->msg;
  s->len = 0;
  pb_packed(s, 1, ids, (size_t)depth);             /* location_id */
  uint64_t v[8];
  for (int i = 0; i < p->ntypes && i < 8; i++) v[i] = (uint64_t)values[i];
  pb_packed(s, 2, v, (size_t)p->ntypes);           /* value */
  for (int i = 0; i < nlabels; i++) {
    hs_strbuf_t *l = &b->sub;
    l->len = 0;
    pb_uint(l, 1, str_index(b, labels[i].key));    /* key */
    if (labels[i].str) pb_uint(l, 2, str_index(b, labels[i].str)); /* str */
    if (labels[i].num_unit) {
      pb_uint(l, 3, (uint64_t)labels[i].num);      /* num */
      pb_uint(l, 4, str_index(b, labels[i].num_unit)); /* num_unit */
    }
    pb_msg(s, 3, l);                               /* label */
  }
  pb_msg(&b->out, 2, s);                           /* Profile.sample */
}

void hs__proto_unsampled_test(hs_proto_t *p, const char *group, const char *name) {
  int64_t zero[8] = {0};
  hs_proto_label_t labels[2] = {{.key = "test", .str = name}, {.key = "group", .str = group}};
  hs__proto_sample(p, NULL, 0, 0, false, zero, labels, 2);
}

static void proto_free(hs_proto_t *p) {
  builder_t *b = &p->b;
  tab_free(&b->st.idx);
  tab_free(&b->locs);
  tab_free(&b->funcs);
  hs__arena_free(b->st.strs);
  hs__arena_free(b->mod_used);
  for (size_t i = 0; i < b->nowned; i++) hs__arena_free(b->owned[i]);
  hs__arena_free(b->owned);
  hs__sb_free(&b->out);
  hs__sb_free(&b->msg);
  hs__sb_free(&b->sub);
  hs__arena_free(p);
}

void hs__proto_discard(hs_proto_t *p) {
  if (p) proto_free(p);
}

/* ---- output ------------------------------------------------------------------ */

#ifdef HS_HAVE_ZLIB_H
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return hs__arena_alloc((size_t)items * size);
}
static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  hs__arena_free(p);
}

static bool write_gzip(int fd, const char *data, size_t len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  /* 15 + 16: a gzip wrapper, as pprof's .pb.gz files. */
  if (z.init2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
              (int)sizeof zs) != Z_OK)
    return false;
  char *buf = hs__arena_alloc(1 << 16);
  bool ok = buf != NULL;
  zs.next_in = (Bytef *)data;
  int rc = Z_OK;
  while (ok && rc != Z_STREAM_END) {
    size_t chunk = len > (1u << 30) ? (1u << 30) : len;
    zs.avail_in = (uInt)chunk;
    int flush = chunk == len ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = (Bytef *)buf;
      zs.avail_out = 1 << 16;
      rc = z.deflate(&zs, flush);
      if (rc == Z_STREAM_ERROR) {
        ok = false;
        break;
      }
      size_t have = (1u << 16) - zs.avail_out;
      if (have && !hs__write_all(fd, buf, have)) ok = false;
    } while (ok && zs.avail_out == 0);
    len -= chunk - zs.avail_in;
    if (flush == Z_NO_FLUSH && zs.avail_in) ok = false; /* cannot happen */
  }
  z.end(&zs);
  hs__arena_free(buf);
  return ok;
}
#endif

/* Adds the mappings and the string table, writes the profile to fd
 * (gzipped when hs__heapprof_proto_gzip()) and frees p. Runs inside
 * hs__runtime_enter (the symbolizer and zlib allocate). */
bool hs__proto_finish(hs_proto_t *p, int fd) {
  builder_t *b = &p->b;
  /* Mappings: the main program first (pprof takes mapping[0] as the main
   * binary), then every other module some location points into. */
  for (int pass = 0; pass < 2; pass++)
    for (uint32_t i = 0; i < b->nmods; i++) {
      const hs_module_t *m = hs__module_at(i);
      if (!m || m->is_main != (pass == 0)) continue;
      if (m->is_main || b->mod_used[i]) mapping(b, m);
    }
  for (size_t i = 0; i < b->st.len; i++) {
    const char *s = b->st.strs[i];
    pb_bytes(&b->out, 6, s, strlen(s)); /* string_table */
  }
  if (b->st.idx.oom || b->locs.oom || b->funcs.oom || b->out.oom || b->msg.oom || b->sub.oom)
    b->oom = true;
  bool ok = !b->oom;
  if (ok) {
#ifdef HS_HAVE_ZLIB_H
    if (hs__heapprof_proto_gzip())
      ok = write_gzip(fd, b->out.data ? b->out.data : "", b->out.len);
    else
#endif
      ok = hs__write_all(fd, b->out.data ? b->out.data : "", b->out.len);
  }
  proto_free(p);
  return ok;
}

/* The heap profile: one sample per stack bucket. Runs under the dump
 * lock, inside hs__runtime_enter. */
bool hs__heapprof_write_proto(int fd, hs_prof_counts_fn counts, const char *comment,
                              const hs_heap_test_sample_t *tests, size_t ntests) {
  hs_proto_spec_t spec = {
      .types = {{"alloc_objects", "count"},
                {"alloc_space", "bytes"},
                {"inuse_objects", "count"},
                {"inuse_space", "bytes"}},
      .ntypes = 4,
      .period_type = {"space", "bytes"},
      .period = hs__sample_bytes > 0 ? hs__sample_bytes : 1,
      .default_type = "inuse_space",
      .comment = comment,
  };
  hs_proto_t *p = hs__proto_begin(&spec);
  if (!p) return false;
  uint32_t max = hs__depot_max_id();
  /* With a per-test split: every bucket's counts first, the tests' shares
   * taken out of them, what is left is the samples outside tests. */
  int64_t(*left)[4] = ntests && max ? hs__arena_alloc((size_t)max * sizeof *left) : NULL;
  uint32_t ran = hs__test_buckets ? hs__test_buckets_ntests() : 0;
  bool *sampled = ran ? hs__arena_alloc(ran) : NULL; /* by test: a share shown (zeroed) */
  if (left) {
    for (uint32_t id = 1; id <= max; id++) {
      hs_bucket_t *bk = hs__depot_get(id);
      if (bk) counts(bk, left[id - 1]);
    }
    for (size_t i = 0; i < ntests; i++) {
      const hs_heap_test_sample_t *t = &tests[i];
      hs_bucket_t *bk = t->bucket <= max ? hs__depot_get(t->bucket) : NULL;
      const char *group, *name;
      int64_t c[4] = {t->c[0], t->c[1], t->c[2], t->c[3]};
      if (!bk || !hs__heap_test_take(left[t->bucket - 1], c) ||
          !hs__test_buckets_names(t->test, &group, &name))
        continue;
      int depth = bk->depth < HS_MAX_DEPTH ? (int)bk->depth : HS_MAX_DEPTH;
      int64_t v[4] = {c[2], c[3], c[0], c[1]};
      hs_proto_label_t labels[3] = {
          {.key = "bytes", .num = c[3] / c[2], .num_unit = "bytes"},
          {.key = "test", .str = name},
          {.key = "group", .str = group},
      };
      hs__proto_sample(p, bk->pcs, depth, bk->epoch, false, v, labels, 3);
      if (sampled && t->test <= ran) sampled[t->test - 1] = true;
    }
  }
  /* Every test that ran is named, one with no share of this dump too. */
  for (uint32_t test = 1; test <= ran; test++) {
    const char *group, *name;
    if (!(sampled && sampled[test - 1]) && hs__test_buckets_names(test, &group, &name))
      hs__proto_unsampled_test(p, group, name);
  }
  hs__arena_free(sampled);
  for (uint32_t id = 1; id <= max; id++) {
    hs_bucket_t *bk = hs__depot_get(id);
    if (!bk) continue;
    int64_t c[4];
    if (left) memcpy(c, left[id - 1], sizeof c);
    else counts(bk, c); /* inuse objs, inuse bytes, alloc objs, alloc bytes */
    if (c[2] <= 0) continue;
    int depth = bk->depth < HS_MAX_DEPTH ? (int)bk->depth : HS_MAX_DEPTH;
    int64_t v[4] = {c[2], c[3], c[0], c[1]};
    hs_proto_label_t avg = {.key = "bytes", .num = c[3] / c[2], .num_unit = "bytes"};
    hs__proto_sample(p, bk->pcs, depth, bk->epoch, false, v, &avg, 1);
  }
  hs__arena_free(left);
  return hs__proto_finish(p, fd);
}
