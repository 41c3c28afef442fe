/* heapscope report: --callgrind, for kcachegrind / qcachegrind.
 *
 * Callgrind's format (valgrind docs, "Callgrind Format Specification"):
 * positions are source lines; per function (fl= file, fn= name) its self
 * cost per line, then each call it makes: cfl=/cfn= the callee,
 * calls=COUNT TARGET_LINE, and on the next line "CALLER_LINE INCLUSIVE".
 * Names are compressed ("fn=(7) name" the first time, "fn=(7)" after).
 *
 * Inclusive costs count each stack once per call edge even under
 * recursion; COUNT is the number of distinct stacks through the edge (a
 * profile has no call counts). Functions are identified by name, as in
 * --top's default granularity. */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct cg_item {
  uint32_t fn, line; /* caller function and line */
  uint32_t callee;   /* UINT32_MAX for self cost */
  uint32_t target;   /* callee line */
  int64_t cost;
  uint64_t calls;
} cg_item_t;

static int cmp_items(const void *a, const void *b, void *c) {
  const rp_view_t *v = ((const void **)c)[0];
  const rp_nodes_t *nd = ((const void **)c)[1];
  const cg_item_t *x = a, *y = b;
  if (x->fn != y->fn) {
    int r = strcmp(rp_str_get(&v->st, nd->label[x->fn]), rp_str_get(&v->st, nd->label[y->fn]));
    if (r) return r;
    return x->fn < y->fn ? -1 : 1;
  }
  bool sx = x->callee == UINT32_MAX, sy = y->callee == UINT32_MAX;
  if (sx != sy) return sx ? -1 : 1; /* self cost first */
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  return x->callee < y->callee ? -1 : x->callee > y->callee;
}

typedef struct names {
  uint32_t *id; /* string id -> compressed id + 1 */
  size_t cap;
  uint32_t next;
} names_t;

static void put_name(FILE *f, const char *tag, names_t *nm, const rp_view_t *v, uint32_t str,
                     const char *fallback) {
  if (str >= nm->cap) {
    size_t old = nm->cap;
    RP_RESERVE(nm->id, nm->cap, (size_t)str + 1);
    memset(nm->id + old, 0, (nm->cap - old) * sizeof *nm->id);
  }
  if (nm->id[str]) {
    fprintf(f, "%s=(%u)\n", tag, nm->id[str]);
    return;
  }
  nm->id[str] = ++nm->next;
  const char *s = rp_str_get(&v->st, str);
  fprintf(f, "%s=(%u) %s\n", tag, nm->id[str], *s ? s : fallback);
}

bool rp_write_callgrind(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, RP_FUNCTIONS, &nd);
  uint32_t *fn_file = rp_alloc(((size_t)nd.n + 1) * sizeof *fn_file);
  for (size_t i = 0; i < v->nframes; i++) {
    uint32_t n = nd.of_frame[i];
    if (!fn_file[n]) fn_file[n] = v->frames[i].file;
  }
  rp_seqtab_t idx;
  memset(&idx, 0, sizeof idx);
  cg_item_t *items = NULL;
  size_t cap = 0;
  uint32_t *stamp = NULL;
  size_t stamp_cap = 0;
  int64_t total = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    if (!rp_stack_in(v, s)) continue;
    int64_t x = rp_stack_value(v, s);
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    if (!n || !x) continue;
    total += x;
    for (uint32_t i = 0; i < n; i++) {
      const rp_frame_t *cur = &v->frames[fr[i]];
      uint32_t key[3] = {nd.of_frame[fr[i]], (uint32_t)(cur->line > 0 ? cur->line : 0),
                         i ? nd.of_frame[fr[i - 1]] : UINT32_MAX};
      bool added;
      uint32_t e = rp_seq_intern(&idx, key, 3, &added);
      if (added) {
        RP_RESERVE(items, cap, (size_t)e + 1);
        items[e].fn = key[0];
        items[e].line = key[1];
        items[e].callee = key[2];
        items[e].target = i ? (uint32_t)(v->frames[fr[i - 1]].line > 0 ? v->frames[fr[i - 1]].line : 0) : 0;
        items[e].cost = 0;
        items[e].calls = 0;
        size_t old = stamp_cap;
        RP_RESERVE(stamp, stamp_cap, (size_t)e + 1);
        memset(stamp + old, 0, (stamp_cap - old) * sizeof *stamp);
      }
      if (stamp[e] == s + 1) continue; /* recursion: once per stack */
      stamp[e] = s + 1;
      items[e].cost += x;
      items[e].calls++;
    }
  }
  size_t nitems = idx.n;
  const void *ctx[2] = {v, &nd};
  if (nitems) qsort_r(items, nitems, sizeof *items, cmp_items, ctx);

  fputs("# callgrind format\nversion: 1\ncreator: heapscope report\n", f);
  fputs("cmd:", f);
  for (size_t i = 0; i < o->ninputs; i++) fprintf(f, " %s", o->inputs[i]);
  fputc('\n', f);
  fprintf(f, "positions: line\nevents: %s\nsummary: %" PRId64 "\n", rp_view_type_name(v), total);
  names_t files = {0}, fns = {0};
  uint32_t cur = UINT32_MAX;
  for (size_t i = 0; i < nitems; i++) {
    const cg_item_t *it = &items[i];
    if (it->fn != cur) {
      cur = it->fn;
      fputc('\n', f);
      put_name(f, "fl", &files, v, fn_file[it->fn], "[unknown file]");
      put_name(f, "fn", &fns, v, nd.label[it->fn], "[unknown]");
    }
    if (it->callee == UINT32_MAX) {
      fprintf(f, "%u %" PRId64 "\n", it->line, it->cost);
    } else {
      put_name(f, "cfl", &files, v, fn_file[it->callee], "[unknown file]");
      put_name(f, "cfn", &fns, v, nd.label[it->callee], "[unknown]");
      fprintf(f, "calls=%" PRIu64 " %u\n%u %" PRId64 "\n", it->calls, it->target, it->line,
              it->cost);
    }
  }
  free(files.id);
  free(fns.id);
  free(items);
  free(stamp);
  free(fn_file);
  rp_seq_free(&idx);
  rp_nodes_free(&nd);
  return !ferror(f);
}
