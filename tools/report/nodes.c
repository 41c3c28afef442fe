/* heapscope report: frames grouped at the chosen granularity.
 *   functions  one node per function name (the default, as pprof)
 *   lines      per function, file and line ("name file:line")
 *   files      per source file
 *   addresses  per address (and inlined frame at it) */
#include "report.h"

#include <stdlib.h>
#include <string.h>

void rp_nodes_build(rp_view_t *v, rp_gran_t gran, rp_nodes_t *out) {
  memset(out, 0, sizeof *out);
  out->gran = gran;
  out->of_frame = rp_alloc((v->nframes + 1) * sizeof *out->of_frame);
  rp_seqtab_t index;
  memset(&index, 0, sizeof index);
  size_t cap = 0;
  char buf[8192];
  for (size_t i = 0; i < v->nframes; i++) {
    const rp_frame_t *f = &v->frames[i];
    uint32_t key[6];
    uint32_t klen;
    switch (gran) {
    case RP_FUNCTIONS: key[0] = f->name; klen = 1; break;
    case RP_FILES: key[0] = f->file; klen = 1; break;
    case RP_LINES:
      key[0] = f->name;
      key[1] = f->file;
      key[2] = (uint32_t)f->line;
      klen = 3;
      break;
    default:
      key[0] = (uint32_t)f->address;
      key[1] = (uint32_t)(f->address >> 32);
      key[2] = f->name;
      key[3] = f->file;
      key[4] = (uint32_t)f->line;
      klen = 5;
    }
    bool added;
    uint32_t n = rp_seq_intern(&index, key, klen, &added);
    out->of_frame[i] = n;
    if (!added) continue;
    if (n >= cap) {
      size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
      RP_RESERVE(out->label, c1, (size_t)n + 1);
      RP_RESERVE(out->name, c2, (size_t)n + 1);
      RP_RESERVE(out->file, c3, (size_t)n + 1);
      RP_RESERVE(out->line, c4, (size_t)n + 1);
      RP_RESERVE(out->address, c5, (size_t)n + 1);
      cap = c1;
    }
    const char *name = rp_str_get(&v->st, f->name), *file = rp_str_get(&v->st, f->file);
    out->name[n] = f->name;
    out->file[n] = f->file;
    out->line[n] = gran == RP_LINES || gran == RP_ADDRESSES ? f->line : 0;
    out->address[n] = gran == RP_ADDRESSES ? f->address : 0;
    switch (gran) {
    case RP_FUNCTIONS: out->label[n] = f->name; break;
    case RP_FILES:
      out->label[n] = *file ? f->file : rp_str(&v->st, "[unknown file]");
      break;
    case RP_LINES:
      if (*file) snprintf(buf, sizeof buf, "%s %s:%d", name, file, f->line);
      else snprintf(buf, sizeof buf, "%s", name);
      out->label[n] = rp_str(&v->st, buf);
      break;
    default:
      if (*file)
        snprintf(buf, sizeof buf, "0x%llx %s %s:%d", (unsigned long long)f->address, name, file,
                 f->line);
      else snprintf(buf, sizeof buf, "0x%llx %s", (unsigned long long)f->address, name);
      out->label[n] = rp_str(&v->st, buf);
    }
  }
  out->n = (uint32_t)index.n;
  rp_seq_free(&index);
}

void rp_nodes_free(rp_nodes_t *n) {
  free(n->of_frame);
  free(n->label);
  free(n->name);
  free(n->file);
  free(n->line);
  free(n->address);
  memset(n, 0, sizeof *n);
}

/* ---- stacks sorted root first ------------------------------------------------ */

typedef struct sort_ctx {
  const rp_view_t *v;
  const rp_nodes_t *nd;
  bool by_test, by_label;
} sort_ctx_t;

static int cmp_str(const rp_view_t *v, uint32_t a, uint32_t b) {
  return a == b ? 0 : strcmp(rp_str_get(&v->st, a), rp_str_get(&v->st, b));
}

static int cmp_stacks(const void *a, const void *b, void *c) {
  const sort_ctx_t *x = c;
  const rp_view_t *v = x->v;
  uint32_t s = *(const uint32_t *)a, t = *(const uint32_t *)b;
  if (x->by_test) {
    uint32_t ts = rp_stack_test(v, s), tt = rp_stack_test(v, t);
    uint32_t gs = ts ? rp_stack_group(v, s) : 0, gt = tt ? rp_stack_group(v, t) : 0;
    if ((ts == 0) != (tt == 0)) return ts ? -1 : 1; /* outside tests last */
    int r = x->by_label ? cmp_str(v, gs, gt) : (gs > gt) - (gs < gt);
    if (!r) r = x->by_label ? cmp_str(v, ts, tt) : (ts > tt) - (ts < tt);
    if (r) return r;
  }
  uint32_t ns = rp_stack_depth(v, s), nt = rp_stack_depth(v, t);
  const uint32_t *fs = rp_stack_frames(v, s), *ft = rp_stack_frames(v, t);
  for (uint32_t i = 0; i < ns && i < nt; i++) {
    uint32_t a1 = x->nd->of_frame[fs[ns - 1 - i]], b1 = x->nd->of_frame[ft[nt - 1 - i]];
    if (a1 == b1) continue;
    if (x->by_label) return cmp_str(v, x->nd->label[a1], x->nd->label[b1]);
    return a1 < b1 ? -1 : 1;
  }
  return (ns > nt) - (ns < nt);
}

uint32_t *rp_sort_stacks(rp_view_t *v, const rp_nodes_t *nd, bool by_test, bool by_label,
                         uint32_t *count) {
  uint32_t *order = rp_alloc((v->stacks.n + 1) * sizeof *order);
  uint32_t n = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++)
    if (rp_stack_in(v, s) && (rp_stack_main_value(v, s) || rp_stack_base_value(v, s)))
      order[n++] = s;
  sort_ctx_t ctx = {v, nd, by_test, by_label};
  if (n) qsort_r(order, n, sizeof *order, cmp_stacks, &ctx);
  *count = n;
  return order;
}

uint32_t rp_common_levels(const rp_view_t *v, const rp_nodes_t *nd, bool by_test, uint32_t s,
                          uint32_t t) {
  uint32_t levels = 0;
  if (by_test) {
    uint32_t ts = rp_stack_test(v, s), tt = rp_stack_test(v, t);
    if (ts != tt || (ts && rp_stack_group(v, s) != rp_stack_group(v, t))) return 0;
    levels = 1;
  }
  uint32_t ns = rp_stack_depth(v, s), nt = rp_stack_depth(v, t);
  const uint32_t *fs = rp_stack_frames(v, s), *ft = rp_stack_frames(v, t);
  for (uint32_t i = 0; i < ns && i < nt; i++, levels++)
    if (nd->of_frame[fs[ns - 1 - i]] != nd->of_frame[ft[nt - 1 - i]]) break;
  return levels;
}
