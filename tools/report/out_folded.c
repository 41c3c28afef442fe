/* heapscope report: --folded, Brendan Gregg's collapsed stacks
 *
 *   root;caller;...;leaf VALUE
 *
 * one line per distinct stack at the chosen granularity, sorted, the value
 * in the sample type's unit as an integer (what flamegraph.pl, speedscope
 * and inferno import). With --base each line carries both values,
 * "stack BASE NEW", the input of flamegraph.pl's differential mode
 * (difffolded.pl's output). With --tests the test is the root frame.
 * Frame names never contain ';' or a newline here (replaced by ':' and a
 * space). */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Aggregates the view's stacks at the nodes' granularity, root first;
 * by_test keeps the tests apart. */
void rp_fold(rp_view_t *v, const rp_nodes_t *nd, bool by_test, rp_folded_t *out) {
  memset(out, 0, sizeof *out);
  uint32_t *key = NULL;
  size_t key_cap = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    if (!rp_stack_in(v, s)) continue;
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    RP_RESERVE(key, key_cap, (size_t)n + 2);
    key[0] = by_test ? rp_stack_test(v, s) : 0;
    key[1] = key[0] ? rp_stack_group(v, s) : 0;
    for (uint32_t i = 0; i < n; i++) key[2 + i] = nd->of_frame[fr[n - 1 - i]];
    bool added;
    uint32_t t = rp_seq_intern(&out->idx, key, n + 2, &added);
    if (added) {
      size_t c1 = out->cap, c2 = out->cap;
      RP_RESERVE(out->val, c1, (size_t)t + 1);
      RP_RESERVE(out->base, c2, (size_t)t + 1);
      out->cap = c1;
      out->val[t] = out->base[t] = 0;
    }
    out->val[t] += v->has_base ? rp_stack_main_value(v, s) : rp_stack_value(v, s);
    out->base[t] += rp_stack_base_value(v, s);
  }
  free(key);
}

void rp_fold_free(rp_folded_t *f) {
  rp_seq_free(&f->idx);
  free(f->val);
  free(f->base);
}

typedef struct cmp_ctx {
  const rp_folded_t *fd;
  const rp_nodes_t *nd;
  const rp_view_t *v;
  bool tests;
} cmp_ctx_t;

static int cmp_lines(const void *a, const void *b, void *c) {
  const cmp_ctx_t *ctx = c;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  const uint32_t *kx = rp_seq_key(&ctx->fd->idx, x), *ky = rp_seq_key(&ctx->fd->idx, y);
  uint32_t nx = rp_seq_len(&ctx->fd->idx, x), ny = rp_seq_len(&ctx->fd->idx, y);
  const rp_strtab_t *st = &ctx->v->st;
  if (ctx->tests) {
    int r = strcmp(rp_str_get(st, kx[1]), rp_str_get(st, ky[1]));
    if (!r) r = strcmp(rp_str_get(st, kx[0]), rp_str_get(st, ky[0]));
    if (r) return r;
  }
  for (uint32_t i = 2; i < nx && i < ny; i++) {
    if (kx[i] == ky[i]) continue;
    return strcmp(rp_str_get(st, ctx->nd->label[kx[i]]), rp_str_get(st, ctx->nd->label[ky[i]]));
  }
  return nx < ny ? -1 : nx > ny;
}

static void put_name(FILE *f, const char *s) {
  for (; *s; s++) {
    char c = *s;
    if (c == ';') c = ':';
    else if (c == '\n' || c == '\r') c = ' ';
    putc(c, f);
  }
}

bool rp_write_folded(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, o->gran, &nd);
  rp_folded_t fd;
  rp_fold(v, &nd, o->tests, &fd);
  uint32_t *order = rp_alloc((fd.idx.n + 1) * sizeof *order);
  uint32_t count = 0;
  for (uint32_t t = 0; t < fd.idx.n; t++)
    if (fd.val[t] || fd.base[t]) order[count++] = t;
  cmp_ctx_t ctx = {&fd, &nd, v, o->tests};
  qsort_r(order, count, sizeof *order, cmp_lines, &ctx);
  char label[1024];
  for (uint32_t i = 0; i < count; i++) {
    uint32_t t = order[i];
    const uint32_t *k = rp_seq_key(&fd.idx, t);
    uint32_t n = rp_seq_len(&fd.idx, t);
    bool first = true;
    if (o->tests) {
      rp_test_label(v, k[0], k[1], label, sizeof label);
      put_name(f, label);
      first = false;
    }
    for (uint32_t j = 2; j < n; j++) {
      if (!first) putc(';', f);
      first = false;
      put_name(f, rp_str_get(&v->st, nd.label[k[j]]));
    }
    if (first) fputs("[empty stack]", f);
    if (v->has_base) fprintf(f, " %" PRId64 " %" PRId64 "\n", fd.base[t], fd.val[t]);
    else fprintf(f, " %" PRId64 "\n", fd.val[t]);
  }
  free(order);
  rp_fold_free(&fd);
  rp_nodes_free(&nd);
  return !ferror(f);
}
