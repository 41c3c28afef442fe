/* Block lookup and the recorder's per-block metadata (see alloc.h).
 *
 * Every pointer handed back to the allocator is checked here, once, for
 * free(), realloc() and the recorder alike: it must be the start of a block
 * of a span in use (a small block's offset must be a multiple of its class
 * size: one multiply-shift with the class's reciprocal).
 *
 * Slots are written by the thread that owns the block (the allocating or
 * freeing thread) without a lock; the side array is published with a
 * release CAS so readers see it zeroed. */
#include "core/alloc/alloc.h"

#include <string.h>

static void invalid(hs_block_t *out, const char *why) {
  out->kind = HS_BLOCK_INVALID;
  out->why = why;
}

static HS_NOINLINE hs_rec_t *make_records(hs_span_t *s) {
  hs_rec_t *fresh = hs__arena_alloc((size_t)hs__classes[s->sizeclass].objects * sizeof *fresh);
  if (!fresh) return NULL;
  hs_rec_t *expected = NULL;
  if (atomic_compare_exchange_strong(&s->records, &expected, fresh)) return fresh;
  hs__arena_free(fresh);
  return expected;
}

static inline hs_rec_t *ensure_records(hs_span_t *s) {
  hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
  return HS_LIKELY(recs != NULL) ? recs : make_records(s);
}

static void bump_max_gen(hs_span_t *s, uint32_t gen) {
  uint32_t cur = __atomic_load_n(&s->max_gen, __ATOMIC_RELAXED);
  while (cur < gen && !__atomic_compare_exchange_n(&s->max_gen, &cur, gen, true,
                                                   __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

void hs__block_at(void *p, bool create, uint32_t gen, hs_block_t *out) {
  uintptr_t a = (uintptr_t)p;
  hs_span_t *s = hs__pagemap_span(a);
  memset(out, 0, sizeof *out);
  out->start = a;
  out->span = s;
  if (!s || a - s->start >= (s->npages << HS_PAGE_SHIFT))
    return invalid(out, "pointer was not allocated by heapscope");
  switch (s->kind) {
  case HS_SPAN_SMALL: {
    uint32_t cls = s->sizeclass;
    uintptr_t off = a - s->start;
    uint32_t idx = hs__obj_index(cls, off);
    if ((uintptr_t)idx * hs__classes[cls].size != off || idx >= hs__classes[cls].objects)
      return invalid(out, "pointer is inside a block, not its start");
    hs_assert(idx < hs__classes[cls].objects);
    out->kind = HS_BLOCK_USER;
    out->size = hs__classes[cls].size;
    out->ever_used = a < s->carve;
    hs_rec_t *recs;
    if (create) {
      recs = ensure_records(s);
      bump_max_gen(s, gen);
    } else {
      recs = atomic_load_explicit(&s->records, memory_order_acquire);
    }
    out->rec = recs ? &recs[idx] : NULL;
    return;
  }
  case HS_SPAN_LARGE:
    if (a != s->carve) return invalid(out, "pointer is inside a block, not its start");
    out->kind = HS_BLOCK_USER;
    out->large = true;
    out->size = s->large_size;
    out->ever_used = true;
    out->rec = &s->large_rec;
    if (create) bump_max_gen(s, gen);
    return;
  case HS_SPAN_INTERNAL:
  case HS_SPAN_INTERNAL_LARGE:
    out->kind = HS_BLOCK_INTERNAL;
    return;
  default:
    return invalid(out, "block is not allocated (double free?)");
  }
}

/* The recorder's lookup at malloc: p was just handed out by this
 * allocator, so free()'s checks (and hs__block_at's zeroing of every field)
 * are not needed for a small block; the rest go the general way. */
hs_rec_t *hs__block_new_rec(void *p, uint32_t gen, hs_block_t *out) {
  uintptr_t a = (uintptr_t)p;
  hs_span_t *s = hs__pagemap_span(a);
  if (HS_LIKELY(s && s->kind == HS_SPAN_SMALL)) {
    uint32_t cls = s->sizeclass;
    uint32_t idx = hs__obj_index(cls, a - s->start);
    hs_rec_t *recs = ensure_records(s);
    if (HS_UNLIKELY(__atomic_load_n(&s->max_gen, __ATOMIC_RELAXED) < gen)) bump_max_gen(s, gen);
    out->span = s;
    out->large = false;
    return out->rec = recs ? &recs[idx] : NULL;
  }
  hs__block_at(p, true, gen, out);
  return out->rec;
}

bool hs__block_containing(uintptr_t a, hs_block_t *out) {
  hs_span_t *s = hs__pagemap_get(a);
  if (!s) return false;
  uintptr_t off = a - s->start;
  if (off >= (s->npages << HS_PAGE_SHIFT)) return false;
  if (s->kind == HS_SPAN_SMALL) {
    uint32_t cls = s->sizeclass;
    uint32_t idx = hs__obj_index(cls, off);
    if (idx >= hs__classes[cls].objects) return false;
    hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
    out->kind = HS_BLOCK_USER;
    out->start = s->start + (uintptr_t)idx * hs__classes[cls].size;
    out->size = hs__classes[cls].size;
    out->large = false;
    out->ever_used = out->start < s->carve;
    out->rec = recs ? &recs[idx] : NULL;
    out->span = s;
    return true;
  }
  if (s->kind == HS_SPAN_LARGE && a >= s->carve) {
    out->kind = HS_BLOCK_USER;
    out->start = s->carve;
    out->size = s->large_size;
    out->large = true;
    out->ever_used = true;
    out->rec = &s->large_rec;
    out->span = s;
    return true;
  }
  return false;
}

/* The lock orders the mark/unmark transitions of racing threads; each
 * re-reads the count under it. */
static hs_lock_t mark_lock;
hs_lock_t *const hs__span_mark_lock = &mark_lock;

void hs__block_sampled(const hs_block_t *b, int delta) {
  hs_span_t *s = b->span;
  if (b->large) return; /* large frees always take the slow path */
  uint32_t now = atomic_fetch_add_explicit(&s->rec_live, (uint32_t)delta, memory_order_acq_rel) +
                 (uint32_t)delta;
  if ((delta > 0 && now != 1) || (delta < 0 && now != 0)) return;
  hs__lock(&mark_lock);
  hs__pagemap_mark_recorded(s->start, s->npages, atomic_load(&s->rec_live) != 0);
  hs__unlock(&mark_lock);
}

void hs__blocks_for_each(uint32_t min_gen, hs_block_fn fn, void *ctx) {
  hs_block_t b = {.kind = HS_BLOCK_USER, .ever_used = true};
  for (hs_span_t *s = hs__span_registry(); s; s = s->all_next) {
    if (!s->npages || __atomic_load_n(&s->max_gen, __ATOMIC_RELAXED) < min_gen) continue;
    b.span = s;
    if (s->kind == HS_SPAN_SMALL) {
      hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
      if (!recs) continue;
      const hs_class_info_t *ci = &hs__classes[s->sizeclass];
      b.large = false;
      b.size = ci->size;
      for (uint32_t i = 0; i < ci->objects; i++) {
        if (!recs[i].bucket) continue;
        b.start = s->start + (uintptr_t)i * ci->size;
        b.rec = &recs[i];
        fn(&b, ctx);
      }
    } else if (s->kind == HS_SPAN_LARGE && s->large_rec.bucket) {
      b.large = true;
      b.start = s->carve;
      b.size = s->large_size;
      b.rec = &s->large_rec;
      fn(&b, ctx);
    }
  }
}

void hs__blocks_clear_all(void) {
  hs__lock(&hs__pageheap_lock);
  for (hs_span_t *s = hs__span_registry(); s; s = s->all_next) {
    if (!s->npages) continue;
    hs_rec_t *recs = atomic_load_explicit(&s->records, memory_order_acquire);
    if (s->kind == HS_SPAN_SMALL && recs)
      memset(recs, 0, (size_t)hs__classes[s->sizeclass].objects * sizeof *recs);
    else if (s->kind == HS_SPAN_LARGE)
      memset(&s->large_rec, 0, sizeof s->large_rec);
  }
  hs__unlock(&hs__pageheap_lock);
}
