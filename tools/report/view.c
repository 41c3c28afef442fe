/* heapscope report: the analysis model (rp_view_t), built from one or more
 * profiles whatever their format.
 *
 * A frame is what a stack shows at one level: function name, source file,
 * line, address, mapping, and whether it was inlined into the next (outer)
 * frame; a location with inlined calls becomes several frames. Stacks are
 * sequences of frame IDs, leaf first, aggregated with their (test, group)
 * labels; every sample type is kept (the proto writer needs them all), and
 * with --base the base's values sit beside the main ones, so writers can
 * show the difference (top, traces) or both (differential folded stacks,
 * red/blue flame graphs).
 *
 * With --base, frames are identified by symbol only (function, file,
 * line): two runs of the same program load it at different addresses, and
 * an address-keyed diff (perl pprof's) subtracts unrelated code.
 *
 * Applied while stacks are added, per profile: the readers' drop rules
 * (allocator frames at the leaf of legacy heap stacks, the CPU profiler's
 * own signal-handler frames, a proto's drop_frames/keep_frames), then
 * --test, --focus and --ignore. */
#include "report.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

struct rp_filter {
  regex_t focus, ignore;
  bool has_focus, has_ignore;
  uint8_t *memo; /* by frame: bit0 computed, bit1 focus match, bit2 ignore match */
  size_t memo_cap;
};

/* Allocation entry points pprof drops from the leaf end of heap stacks
 * (full matches, parameter lists allowed after the name). */
static const char alloc_re[] =
    "malloc|calloc|realloc|reallocarray|free|cfree|memalign|posix_memalign|__posix_memalign|"
    "aligned_alloc|valloc|pvalloc|__libc_(malloc|calloc|realloc|memalign|valloc|pvalloc|free)|"
    "tc_[a-z_]+|tcmalloc::.*|(\\(anonymous namespace\\)::)?do_[a-z_]*(malloc|memalign|free)[a-z_]*|"
    "operator new(\\[\\])?|operator delete(\\[\\])?|__builtin_(vec_)?(new|delete)|"
    "(std|__gnu_cxx)::(__)?new_allocator<.*>::allocate|std::allocator<.*>::allocate|"
    "std::allocator_traits<.*>::allocate";
/* CPU profilers' own signal-handling frames (gperftools' and glibc's). */
static const char signal_re[] =
    "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|"
    "ProfileHandler::SignalHandler|(\\(anonymous namespace\\)::)?ProfileHandler::SignalHandler|"
    "__pthread_sighandler|__restore_rt|__restore";

static bool compile_full(regex_t *re, const char *pattern) {
  size_t n = strlen(pattern) + 64;
  char *full = rp_alloc(n);
  snprintf(full, n, "^(%s)(\\(.*\\))?( const)?$", pattern);
  bool ok = regcomp(re, full, REG_EXTENDED | REG_NOSUB) == 0;
  free(full);
  return ok;
}

void rp_view_init(rp_view_t *v, const rp_view_opts_t *o) {
  memset(v, 0, sizeof *v);
  rp_str_init(&v->st);
  v->opts = *o;
  v->has_base = o->base;
}

void rp_view_free(rp_view_t *v) {
  rp_str_free(&v->st);
  free(v->frames);
  rp_seq_free(&v->frame_index);
  free(v->mappings);
  rp_seq_free(&v->mapping_index);
  rp_seq_free(&v->stacks);
  rp_seq_free(&v->seen_tests);
  free(v->vals);
  if (v->filter) {
    if (v->filter->has_focus) regfree(&v->filter->focus);
    if (v->filter->has_ignore) regfree(&v->filter->ignore);
    free(v->filter->memo);
    free(v->filter);
  }
  memset(v, 0, sizeof *v);
}

bool rp_view_set_filters(rp_view_t *v, rp_err_t *err) {
  rp_filter_t *f = rp_alloc(sizeof *f);
  v->filter = f;
  char msg[200];
  int rc;
  if (v->opts.focus) {
    if ((rc = regcomp(&f->focus, v->opts.focus, REG_EXTENDED | REG_NOSUB)) != 0) {
      regerror(rc, &f->focus, msg, sizeof msg);
      return rp_fail(err, "--focus=%s: %s", v->opts.focus, msg);
    }
    f->has_focus = true;
  }
  if (v->opts.ignore) {
    if ((rc = regcomp(&f->ignore, v->opts.ignore, REG_EXTENDED | REG_NOSUB)) != 0) {
      regerror(rc, &f->ignore, msg, sizeof msg);
      return rp_fail(err, "--ignore=%s: %s", v->opts.ignore, msg);
    }
    f->has_ignore = true;
  }
  return true;
}

const char *rp_view_type_name(const rp_view_t *v) { return rp_str_get(&v->st, v->type[v->sel]); }
const char *rp_view_unit(const rp_view_t *v) { return rp_str_get(&v->st, v->unit[v->sel]); }

int64_t rp_view_total(const rp_view_t *v) {
  int64_t t = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++)
    if (rp_stack_in(v, s)) t += rp_stack_value(v, s);
  return t;
}

/* ---- sample types ---------------------------------------------------------------- */

static int find_type(const rp_profile_t *p, const char *name) {
  for (uint32_t i = 0; i < p->ntypes; i++)
    if (!strcmp(rp_str_get(&p->st, p->type[i]), name)) return (int)i;
  return -1;
}

static void list_types(const rp_profile_t *p, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < p->ntypes && len < size; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                            rp_str_get(&p->st, p->type[i]));
}

static bool setup_types(rp_view_t *v, const rp_profile_t *p, rp_err_t *err) {
  v->ntypes = p->ntypes;
  for (uint32_t i = 0; i < p->ntypes; i++) {
    v->type[i] = rp_str(&v->st, rp_str_get(&p->st, p->type[i]));
    v->unit[i] = rp_str(&v->st, rp_str_get(&p->st, p->unit[i]));
  }
  v->kind = p->kind;
  v->period = p->period;
  v->period_type = rp_str(&v->st, rp_str_get(&p->st, p->period_type));
  v->period_unit = rp_str(&v->st, rp_str_get(&p->st, p->period_unit));
  v->duration_ns = p->duration_ns;
  v->stride = v->has_base ? 2 * v->ntypes : v->ntypes;
  int sel = p->default_type >= 0 && (uint32_t)p->default_type < p->ntypes
                ? p->default_type
                : (int)p->ntypes - 1;
  if (v->opts.sample) {
    sel = find_type(p, v->opts.sample);
    if (sel < 0) {
      char types[400];
      list_types(p, types, sizeof types);
      return rp_fail(err, "no sample type '%s' in this %s (it has: %s)", v->opts.sample,
                     p->format ? p->format : "profile", types);
    }
  }
  v->sel = (uint32_t)sel;
  return true;
}

/* ---- frames ------------------------------------------------------------------------ */

static uint32_t view_mapping(rp_view_t *v, const rp_profile_t *p, uint32_t pm) {
  if (!pm) return 0;
  const rp_mapping_t *m = &p->mappings[pm - 1];
  rp_mapping_t c = *m;
  c.file = rp_str(&v->st, rp_str_get(&p->st, m->file));
  c.build_id = rp_str(&v->st, rp_str_get(&p->st, m->build_id));
  uint32_t key[8] = {c.file, c.build_id, (uint32_t)c.start, (uint32_t)(c.start >> 32),
                     (uint32_t)c.limit, (uint32_t)(c.limit >> 32), (uint32_t)c.offset,
                     (uint32_t)(c.offset >> 32)};
  bool added;
  uint32_t i = rp_seq_intern(&v->mapping_index, key, 8, &added);
  if (added) {
    RP_RESERVE(v->mappings, v->mappings_cap, v->nmappings + 1);
    v->mappings[v->nmappings++] = c;
  }
  return i + 1;
}

static uint32_t intern_frame(rp_view_t *v, const rp_frame_t *f) {
  uint32_t key[7] = {f->name, f->file, (uint32_t)f->line, f->inlined, (uint32_t)f->address,
                     (uint32_t)(f->address >> 32), f->mapping};
  bool added;
  uint32_t i = rp_seq_intern(&v->frame_index, key, 7, &added);
  if (added) {
    RP_RESERVE(v->frames, v->frames_cap, v->nframes + 1);
    v->frames[v->nframes++] = *f;
  }
  return i;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

typedef struct loc_frames {
  uint32_t *ids; /* frame IDs per location: off[l] .. off[l] + n[l] */
  size_t len, cap;
  uint32_t *off, *n;
} loc_frames_t;

/* The frames of every location of p, innermost first. */
static void location_frames(rp_view_t *v, const rp_profile_t *p, loc_frames_t *lf) {
  lf->off = rp_alloc((p->nlocations + 1) * sizeof *lf->off);
  lf->n = rp_alloc((p->nlocations + 1) * sizeof *lf->n);
  uint32_t *mapids = rp_alloc((p->nmappings + 1) * sizeof *mapids);
  bool by_symbol = v->has_base;
  for (size_t i = 0; i < p->nmappings; i++) mapids[i + 1] = view_mapping(v, p, (uint32_t)i + 1);
  for (size_t i = 0; i < p->nlocations; i++) {
    const rp_location_t *l = &p->locations[i];
    rp_frame_t f;
    memset(&f, 0, sizeof f);
    f.mapping = l->mapping <= p->nmappings ? mapids[l->mapping] : 0;
    f.address = by_symbol ? 0 : l->address;
    lf->off[i] = (uint32_t)lf->len;
    if (l->nlines) {
      RP_RESERVE(lf->ids, lf->cap, lf->len + l->nlines);
      for (uint32_t k = 0; k < l->nlines; k++) {
        const rp_line_t *ln = &p->lines[l->lines + k];
        const rp_function_t *fn = &p->functions[ln->function];
        f.name = rp_str(&v->st, rp_str_get(&p->st, fn->name));
        f.file = rp_str(&v->st, rp_str_get(&p->st, fn->file));
        f.line = ln->line;
        f.inlined = k + 1 < l->nlines;
        if (!f.name) f.name = rp_str(&v->st, "[unknown function]");
        lf->ids[lf->len++] = intern_frame(v, &f);
      }
      lf->n[i] = l->nlines;
    } else {
      /* Unsymbolized: name it by module and offset (stable across runs of
       * the same build, so --base still matches it), else by address. */
      char buf[300];
      if (l->mapping && l->mapping <= p->nmappings) {
        const rp_mapping_t *m = &p->mappings[l->mapping - 1];
        snprintf(buf, sizeof buf, "%s+0x%llx", base_name(rp_str_get(&p->st, m->file)),
                 (unsigned long long)(l->address - m->start + m->offset));
      } else if (l->address) {
        snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)l->address);
      } else {
        snprintf(buf, sizeof buf, "[unknown]");
      }
      f.name = rp_str(&v->st, buf);
      RP_RESERVE(lf->ids, lf->cap, lf->len + 1);
      lf->ids[lf->len++] = intern_frame(v, &f);
      lf->n[i] = 1;
    }
  }
  free(mapids);
}

/* ---- per-profile drop rules -------------------------------------------------------- */

typedef struct dropper {
  regex_t drop, keep, sig;
  bool has_drop, has_keep, has_sig;
  uint8_t *memo; /* by frame: bit0 done, bit1 drop, bit2 keep, bit3 sig */
  size_t memo_cap;
  bool alloc_rule; /* drop from the leaf up to the rootmost match */
} dropper_t;

static uint8_t drop_bits_slow(dropper_t *d, rp_view_t *v, uint32_t frame) {
  if (frame >= d->memo_cap) {
    size_t old = d->memo_cap;
    RP_RESERVE(d->memo, d->memo_cap, (size_t)frame + 1);
    memset(d->memo + old, 0, d->memo_cap - old);
  }
  if (!(d->memo[frame] & 1)) {
    const char *name = rp_str_get(&v->st, v->frames[frame].name);
    uint8_t b = 1;
    if (d->has_drop && regexec(&d->drop, name, 0, NULL, 0) == 0) b |= 2;
    if (d->has_keep && regexec(&d->keep, name, 0, NULL, 0) == 0) b |= 4;
    if (d->has_sig && regexec(&d->sig, name, 0, NULL, 0) == 0) b |= 8;
    d->memo[frame] = b;
  }
  return d->memo[frame];
}

/* Every frame of every stack passes here: the memo hit inline. */
static inline uint8_t drop_bits(dropper_t *d, rp_view_t *v, uint32_t frame) {
  if (frame < d->memo_cap && (d->memo[frame] & 1)) return d->memo[frame];
  return drop_bits_slow(d, v, frame);
}

/* Applies the drop rules to frames[0..*n) (leaf first), in place. */
static void apply_drops(dropper_t *d, rp_view_t *v, uint32_t *frames, uint32_t *n) {
  if (d->has_sig) { /* remove the handler's frames themselves, never the leaf */
    uint32_t k = 1;
    for (uint32_t i = 1; i < *n; i++)
      if (!(drop_bits(d, v, frames[i]) & 8)) frames[k++] = frames[i];
    if (*n) *n = k;
  }
  if (d->has_drop) {
    /* pprof's prune: the rootmost frame matching drop (and not keep) goes,
     * with everything it called. An all-allocator stack stays as it is. */
    for (uint32_t i = *n; i-- > 0;) {
      uint8_t b = drop_bits(d, v, frames[i]);
      if ((b & 2) && !(b & 4)) {
        if (i + 1 < *n) {
          memmove(frames, frames + i + 1, (*n - i - 1) * sizeof *frames);
          *n -= i + 1;
        }
        break;
      }
    }
  }
}

static void dropper_free(dropper_t *d) {
  if (d->has_drop) regfree(&d->drop);
  if (d->has_keep) regfree(&d->keep);
  if (d->has_sig) regfree(&d->sig);
  free(d->memo);
}

/* ---- filters ------------------------------------------------------------------------ */

static uint8_t filter_bits(rp_filter_t *f, rp_view_t *v, uint32_t frame) {
  if (frame >= f->memo_cap) {
    size_t old = f->memo_cap;
    RP_RESERVE(f->memo, f->memo_cap, (size_t)frame + 1);
    memset(f->memo + old, 0, f->memo_cap - old);
  }
  if (!(f->memo[frame] & 1)) {
    const rp_frame_t *fr = &v->frames[frame];
    const char *name = rp_str_get(&v->st, fr->name), *file = rp_str_get(&v->st, fr->file);
    uint8_t b = 1;
    if (f->has_focus && (regexec(&f->focus, name, 0, NULL, 0) == 0 ||
                         (*file && regexec(&f->focus, file, 0, NULL, 0) == 0)))
      b |= 2;
    if (f->has_ignore && (regexec(&f->ignore, name, 0, NULL, 0) == 0 ||
                          (*file && regexec(&f->ignore, file, 0, NULL, 0) == 0)))
      b |= 4;
    f->memo[frame] = b;
  }
  return f->memo[frame];
}

static bool keep_stack(rp_view_t *v, const uint32_t *frames, uint32_t n) {
  rp_filter_t *f = v->filter;
  if (!f || (!f->has_focus && !f->has_ignore)) return true;
  bool focused = !f->has_focus;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t b = filter_bits(f, v, frames[i]);
    if (b & 4) return false;
    if (b & 2) focused = true;
  }
  return focused;
}

/* --test=NAME matches a test of that name in any group; GROUP/NAME one
 * test of one group. */
static bool test_matches(const rp_profile_t *p, const char *want, uint32_t test, uint32_t group) {
  if (!test) return false;
  const char *t = rp_str_get(&p->st, test), *g = rp_str_get(&p->st, group);
  if (!strcmp(want, t)) return true;
  const char *slash = strrchr(want, '/');
  if (!slash) return false;
  size_t gl = (size_t)(slash - want);
  return strlen(g) == gl && !strncmp(want, g, gl) && !strcmp(slash + 1, t);
}

/* ---- adding a profile ---------------------------------------------------------------- */

bool rp_view_add(rp_view_t *v, rp_profile_t *p, bool base, rp_err_t *err) {
  int map[RP_MAX_TYPES];
  if (v->nprofiles == 0) {
    if (base) return rp_fail(err, "a base profile needs a profile to subtract it from");
    if (!setup_types(v, p, err)) return false;
    v->first_path = p->path;
    for (uint32_t i = 0; i < v->ntypes; i++) map[i] = (int)i;
  } else {
    for (uint32_t i = 0; i < v->ntypes; i++) {
      map[i] = find_type(p, rp_str_get(&v->st, v->type[i]));
      if (map[i] < 0) {
        char types[400];
        list_types(p, types, sizeof types);
        return rp_fail(err, "its sample types (%s) differ from those of %s; profiles of "
                            "different kinds cannot be %s", types, v->first_path,
                       base ? "subtracted" : "merged");
      }
    }
  }
  v->nprofiles++;

  loc_frames_t lf;
  memset(&lf, 0, sizeof lf);
  location_frames(v, p, &lf);

  dropper_t d;
  memset(&d, 0, sizeof d);
  if (p->drop_alloc_frames) d.has_drop = compile_full(&d.drop, alloc_re);
  else if (p->drop_frames && *rp_str_get(&p->st, p->drop_frames)) {
    d.has_drop = compile_full(&d.drop, rp_str_get(&p->st, p->drop_frames));
    if (!d.has_drop) rp_warn("%s: ignoring its drop_frames (not a POSIX regex)", p->path);
  }
  if (p->keep_frames && *rp_str_get(&p->st, p->keep_frames))
    d.has_keep = compile_full(&d.keep, rp_str_get(&p->st, p->keep_frames));
  if (p->drop_signal_frames) d.has_sig = compile_full(&d.sig, signal_re);

  for (size_t i = 0; i < p->nseen_tests && !base; i++) {
    uint32_t test = p->seen_tests[2 * i], group = p->seen_tests[2 * i + 1];
    if (v->opts.test && !test_matches(p, v->opts.test, test, group)) continue;
    uint32_t k[2] = {rp_str(&v->st, rp_str_get(&p->st, test)),
                     group ? rp_str(&v->st, rp_str_get(&p->st, group)) : 0};
    rp_seq_intern(&v->seen_tests, k, 2, NULL);
  }

  uint32_t *key = NULL;
  size_t key_cap = 0;
  int64_t vals[RP_MAX_TYPES];
  for (uint32_t s = 0; s < p->samples.n; s++) {
    const uint32_t *sk = rp_seq_key(&p->samples, s);
    uint32_t slen = rp_seq_len(&p->samples, s);
    const int64_t *pv = rp_profile_values(p, s);
    bool nonzero = false;
    for (uint32_t t = 0; t < v->ntypes; t++) {
      vals[t] = pv[map[t]];
      nonzero |= vals[t] != 0;
    }
    if (!nonzero) continue;
    uint32_t test = sk[0], group = sk[1];
    if (v->opts.test && !test_matches(p, v->opts.test, test, group)) continue;
    /* expand locations into frames */
    size_t depth = 0;
    for (uint32_t i = 2; i < slen; i++) depth += lf.n[sk[i]];
    RP_RESERVE(key, key_cap, depth + 2);
    uint32_t *fr = key + 2;
    uint32_t n = 0;
    for (uint32_t i = 2; i < slen; i++)
      for (uint32_t k = 0; k < lf.n[sk[i]]; k++) fr[n++] = lf.ids[lf.off[sk[i]] + k];
    apply_drops(&d, v, fr, &n);
    if (!keep_stack(v, fr, n)) continue;
    key[0] = test ? rp_str(&v->st, rp_str_get(&p->st, test)) : 0;
    key[1] = group ? rp_str(&v->st, rp_str_get(&p->st, group)) : 0;
    bool added;
    uint32_t st = rp_seq_intern(&v->stacks, key, n + 2, &added);
    if (added) {
      RP_RESERVE(v->vals, v->vals_cap, ((size_t)st + 1) * v->stride);
      memset(v->vals + (size_t)st * v->stride, 0, v->stride * sizeof *v->vals);
    }
    int64_t *dst = v->vals + (size_t)st * v->stride + (base ? v->ntypes : 0);
    for (uint32_t t = 0; t < v->ntypes; t++)
      dst[t] = (int64_t)((uint64_t)dst[t] + (uint64_t)vals[t]);
  }
  free(key);
  free(lf.ids);
  free(lf.off);
  free(lf.n);
  dropper_free(&d);
  if (!base && p->duration_ns > v->duration_ns) v->duration_ns = p->duration_ns;
  return true;
}
