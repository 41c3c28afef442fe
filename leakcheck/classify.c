/* Direct and indirect leaks, decided on the graph of leaked objects.
 *
 * Nodes are the leaked objects; an edge u -> v is an aligned word inside u
 * (its requested bytes) that points anywhere into v, the same interior-
 * pointer rule the marker uses. The graph's strongly connected components
 * (Tarjan) collapse cycles; the components form a DAG. The rule:
 *
 *   a component that no other leaked component points to is a root: its
 *   one representative is the DIRECT leak (for the usual single object,
 *   that object); every other object, in that component or reachable from
 *   it, is INDIRECT.
 *
 * The representative of a cycle with no way in (a leaked doubly linked
 * list, a parent/child pair) is the member whose stack was recorded first
 * (lowest stack bucket id: the depot numbers stacks in the order they are
 * first seen, which is the program's order, not the heap's), then the
 * largest, then the lowest address. Members tied on stack and size give
 * the same report whichever is chosen, so the report never depends on
 * where the allocator put things.
 *
 * LeakSanitizer: direct = no other leaked block points to it; everything a
 * leaked block points to is indirect, so a cycle with no way in has no
 * direct leak at all (all its members are "Indirect"). Valgrind memcheck:
 * unreached blocks are taken in address order, each not yet claimed leads
 * a "clique" (definitely lost) and claims what it reaches (indirectly
 * lost), so which member of a cycle is "definitely lost" depends on the
 * addresses. Here every leak has exactly one direct root per entry point,
 * and the split is the same on every run.
 *
 * Runs after the world is resumed, but on mmap'd memory like the marker
 * (no heap, no lock that a thread of the program could hold). Linear in
 * objects + pointers found: a million leaks are classified in ~0.1 s. */
#include "internal.h"

#include <string.h>

/* Leaked blocks sorted by address, for lc_find_object. LSD radix sort on
 * address bits 4..51 (blocks are 16-byte aligned, user space is 47 bits):
 * a million leaks sort in milliseconds, where qsort's comparison calls took
 * a third of the report's time. */
static void sort_by_addr(lc_vec_t *objs) {
  size_t n = objs->len;
  if (n < 2) return;
  lc_object_t *a = (lc_object_t *)objs->data;
  lc_object_t *tmp = hs__os_map(n * sizeof *tmp);
  if (!tmp) return;
  for (int shift = 4; shift < 52; shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++) count[((a[i].addr >> shift) & 0xff) + 1]++;
    if (count[((a[0].addr >> shift) & 0xff) + 1] == n) continue; /* one bucket */
    for (int k = 0; k < 256; k++) count[k + 1] += count[k];
    for (size_t i = 0; i < n; i++) tmp[count[(a[i].addr >> shift) & 0xff]++] = a[i];
    lc_object_t *t = a;
    a = tmp;
    tmp = t;
  }
  if (a != (lc_object_t *)objs->data) {
    memcpy(objs->data, a, n * sizeof *a);
    tmp = a;
  }
  hs__os_unmap(tmp, n * sizeof *tmp);
}

/* The leaked block containing v; a range check first, since most words
 * scanned in leaked blocks are not pointers at all. */
static long find_leaked(const lc_vec_t *objs, uintptr_t v) {
  if (!objs->len) return -1;
  const lc_object_t *first = &LC_AT(objs, lc_object_t, 0);
  const lc_object_t *last = &LC_AT(objs, lc_object_t, objs->len - 1);
  if (v < first->addr || v >= last->addr + last->size + 16) return -1;
  return lc_find_object(objs, v);
}

/* Calls fn(ctx, j) for each pointer from object i to another leaked one. */
#define FOR_EACH_EDGE(objs, i, j, body)                                               \
  do {                                                                                \
    const lc_object_t *o_ = &LC_AT(objs, lc_object_t, i);                             \
    for (uintptr_t p_ = o_->addr; p_ + 8 <= o_->addr + o_->size; p_ += 8) {           \
      long j = find_leaked(objs, *(const uintptr_t *)p_);                             \
      if (j < 0 || (size_t)j == (i)) continue;                                        \
      body;                                                                           \
    }                                                                                 \
  } while (0)

#define NONE UINT32_MAX

typedef struct graph {
  size_t n, m;
  uint32_t *off;     /* n + 1: edges of u are edge[off[u] .. off[u+1]) */
  uint32_t *edge;
} graph_t;

static void *map_array(size_t count, size_t elem) {
  return hs__os_map((count ? count : 1) * elem);
}

static void unmap_array(void *p, size_t count, size_t elem) {
  if (p) hs__os_unmap(p, (count ? count : 1) * elem);
}

/* The number of pointers between leaked objects. */
static size_t count_edges(const lc_vec_t *objs) {
  size_t m = 0;
  for (size_t i = 0; i < objs->len; i++) FOR_EACH_EDGE(objs, i, j, m++);
  return m;
}

static bool build_graph(const lc_vec_t *objs, size_t m, graph_t *g) {
  g->n = objs->len;
  g->m = m;
  if (m >= NONE) return false;
  g->off = map_array(g->n + 1, sizeof *g->off);
  g->edge = map_array(m, sizeof *g->edge);
  if (!g->off || !g->edge) return false;
  size_t k = 0;
  for (size_t i = 0; i < g->n; i++) {
    g->off[i] = (uint32_t)k;
    FOR_EACH_EDGE(objs, i, j, if (k < m) g->edge[k++] = (uint32_t)j);
  }
  g->off[g->n] = (uint32_t)k;
  return true;
}

typedef struct frame {
  uint32_t node, next; /* next: index into edge[] still to visit */
} frame_t;

/* Tarjan's strongly connected components, iteratively (leaks can form
 * chains a million long). comp[v] = component id; returns the count. */
static uint32_t components(const graph_t *g, uint32_t *comp) {
  uint32_t *index = map_array(g->n, sizeof *index);
  uint32_t *low = map_array(g->n, sizeof *low);
  uint32_t *stack = map_array(g->n, sizeof *stack);
  frame_t *frames = map_array(g->n, sizeof *frames);
  uint32_t ncomp = 0;
  if (!index || !low || !stack || !frames) {
    ncomp = NONE;
    goto out;
  }
  for (size_t v = 0; v < g->n; v++) index[v] = comp[v] = NONE;
  uint32_t counter = 0, sp = 0, fp = 0;
  for (uint32_t s = 0; s < g->n; s++) {
    if (index[s] != NONE) continue;
    index[s] = low[s] = counter++;
    stack[sp++] = s;
    frames[fp++] = (frame_t){s, g->off[s]};
    while (fp) {
      frame_t *f = &frames[fp - 1];
      uint32_t v = f->node;
      if (f->next < g->off[v + 1]) {
        uint32_t w = g->edge[f->next++];
        if (index[w] == NONE) {
          index[w] = low[w] = counter++;
          stack[sp++] = w;
          frames[fp++] = (frame_t){w, g->off[w]};
        } else if (comp[w] == NONE && index[w] < low[v]) {
          low[v] = index[w]; /* w is on the stack */
        }
        continue;
      }
      fp--;
      if (low[v] == index[v]) {
        uint32_t w;
        do {
          w = stack[--sp];
          comp[w] = ncomp;
        } while (w != v);
        ncomp++;
      }
      if (fp && low[v] < low[frames[fp - 1].node]) low[frames[fp - 1].node] = low[v];
    }
  }
out:
  unmap_array(index, g->n, sizeof *index);
  unmap_array(low, g->n, sizeof *low);
  unmap_array(stack, g->n, sizeof *stack);
  unmap_array(frames, g->n, sizeof *frames);
  return ncomp;
}

/* Is a the better representative of its component than b? */
static bool better(const lc_object_t *a, const lc_object_t *b) {
  if (a->bucket != b->bucket) return a->bucket < b->bucket;
  if (a->size != b->size) return a->size > b->size;
  return a->addr < b->addr;
}

void lc_classify(lc_vec_t *objs) {
  sort_by_addr(objs);
  size_t n = objs->len;
  for (size_t i = 0; i < n; i++) LC_AT(objs, lc_object_t, i).flags &= ~LC_DIRECT;
  /* No leaked object points to another (the usual case, and a million
   * separate leaks): each is its own root, and no graph is built. Its
   * arrays are fresh mmap'd pages, and faulting them in is most of the
   * cost of a big graph. */
  size_t m = count_edges(objs);
  if (m == 0) {
    for (size_t i = 0; i < n; i++) LC_AT(objs, lc_object_t, i).flags |= LC_DIRECT;
    return;
  }
  graph_t g = {0};
  uint32_t *comp = NULL, *rep = NULL;
  uint8_t *entered = NULL;
  uint32_t ncomp = NONE;
  if (build_graph(objs, m, &g) && (comp = map_array(n, sizeof *comp)))
    ncomp = components(&g, comp);
  if (ncomp == NONE || !(rep = map_array(ncomp, sizeof *rep)) ||
      !(entered = map_array(ncomp, sizeof *entered))) {
    /* Out of memory: every leak is reported, all as direct. */
    for (size_t i = 0; i < n; i++) LC_AT(objs, lc_object_t, i).flags |= LC_DIRECT;
    goto out;
  }
  for (uint32_t c = 0; c < ncomp; c++) rep[c] = NONE;
  for (size_t u = 0; u < n; u++) {
    for (uint32_t k = g.off[u]; k < g.off[u + 1]; k++)
      if (comp[g.edge[k]] != comp[u]) entered[comp[g.edge[k]]] = 1;
    uint32_t c = comp[u];
    if (rep[c] == NONE ||
        better(&LC_AT(objs, lc_object_t, u), &LC_AT(objs, lc_object_t, rep[c])))
      rep[c] = (uint32_t)u;
  }
  for (uint32_t c = 0; c < ncomp; c++)
    if (!entered[c]) LC_AT(objs, lc_object_t, rep[c]).flags |= LC_DIRECT;
out:
  unmap_array(entered, ncomp == NONE ? 0 : ncomp, sizeof *entered);
  unmap_array(rep, ncomp == NONE ? 0 : ncomp, sizeof *rep);
  unmap_array(comp, n, sizeof *comp);
  unmap_array(g.edge, g.m, sizeof *g.edge);
  unmap_array(g.off, g.n + 1, sizeof *g.off);
}
