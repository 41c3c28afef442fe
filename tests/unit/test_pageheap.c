/* Page heap: carving, coalescing of adjacent free spans, reuse by a larger
 * allocation, exact statistics, release to the OS. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <string.h>
#include <time.h>

static void check_stats_add_up(int line) {
  hs_heap_stats_t st;
  hs__pageheap_stats(&st);
  size_t sum = st.free_bytes + st.unmapped_bytes + st.large_bytes +
               st.small_span_bytes + st.internal_bytes;
  if (sum != st.heap_bytes) {
    fprintf(stderr,
            "line %d: heap %zu != free %zu + unmapped %zu + large %zu + small %zu + "
            "internal %zu (= %zu)\n",
            line, st.heap_bytes, st.free_bytes, st.unmapped_bytes, st.large_bytes,
            st.small_span_bytes, st.internal_bytes, sum);
    exit(1);
  }
  CHECK(st.heap_bytes % HS_PAGE_SIZE == 0);
}
#define STATS_OK() check_stats_add_up(__LINE__)

static hs_span_t *span_at(uintptr_t a) { return hs__pagemap_get(a); }

/* Free pages unused for HS_DECAY_NS go back to the OS at the next page-heap
 * operation (a cached mapping is unmapped). Checks of exact free bytes or of
 * a cached mapping's reuse run with that off (release rate 0): a run slower
 * than HS_DECAY_NS between a free and the check (a loaded machine, the
 * HEAPSCOPE_DEBUG=2 build's validation) saw an earlier free decay there. */
static void decay_on(bool on) { hs__alloc_set_release_rate_milli(on ? 1000 : 0); }

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

int main(void) {
  hs__alloc_init();
  decay_on(false);
  STATS_OK();

  /* Carving: consecutive allocations are adjacent in a fresh region. Use a
   * big fence allocation first so the region below is fresh. */
  hs_span_t *fence0 = hs__pageheap_alloc(1, HS_SPAN_LARGE);
  hs_span_t *a = hs__pageheap_alloc(10, HS_SPAN_LARGE);
  hs_span_t *b = hs__pageheap_alloc(10, HS_SPAN_LARGE);
  hs_span_t *c = hs__pageheap_alloc(10, HS_SPAN_LARGE);
  hs_span_t *fence1 = hs__pageheap_alloc(1, HS_SPAN_LARGE);
  CHECK(fence0 && a && b && c && fence1);
  CHECK(a->npages == 10 && b->npages == 10 && c->npages == 10);
  CHECK(a->start % HS_PAGE_SIZE == 0);
  CHECK(b->start == a->start + 10 * HS_PAGE_SIZE);
  CHECK(c->start == b->start + 10 * HS_PAGE_SIZE);
  CHECK(fence1->start == c->start + 10 * HS_PAGE_SIZE);
  /* Every page of a span in use maps to it. */
  for (int i = 0; i < 10; i++) CHECK(span_at(b->start + i * HS_PAGE_SIZE) == b);
  STATS_OK();

  /* All pages are writable. */
  memset((void *)a->start, 0xab, 30 * HS_PAGE_SIZE);

  hs_heap_stats_t st0, st1;
  hs__pageheap_stats(&st0);
  uintptr_t a_start = a->start;
  hs__pageheap_free(a);
  STATS_OK();
  hs__pageheap_free(c);
  STATS_OK();
  hs__pageheap_free(b); /* joins a and c */
  STATS_OK();
  hs__pageheap_stats(&st1);
  CHECK(st1.large_bytes == st0.large_bytes - 30 * HS_PAGE_SIZE);
  hs_span_t *merged = span_at(a_start);
  CHECK(merged && merged->kind == HS_SPAN_FREE);
  CHECKF(merged->start == a_start && merged->npages == 30, "start %#lx npages %zu",
         (unsigned long)merged->start, merged->npages);
  CHECK(span_at(a_start + 29 * HS_PAGE_SIZE) == merged);

  /* A 30-page allocation reuses the coalesced span instead of growing. */
  hs__pageheap_stats(&st0);
  hs_span_t *big = hs__pageheap_alloc(30, HS_SPAN_LARGE);
  CHECK(big && big->start == a_start && big->npages == 30);
  hs__pageheap_stats(&st1);
  CHECK(st1.heap_bytes == st0.heap_bytes);
  for (int i = 0; i < 30; i++) CHECK(span_at(a_start + i * HS_PAGE_SIZE) == big);
  STATS_OK();

  /* Splitting: a smaller allocation from a bigger free span leaves the rest
   * free and findable. */
  hs__pageheap_free(big);
  hs_span_t *part = hs__pageheap_alloc(7, HS_SPAN_SMALL);
  CHECK(part && part->npages == 7);
  STATS_OK();
  hs__pageheap_free(part);
  hs_span_t *again = span_at(a_start);
  CHECK(again && again->kind == HS_SPAN_FREE && again->npages >= 30);
  STATS_OK();
  hs__pageheap_free(fence0);
  hs__pageheap_free(fence1);
  STATS_OK();

  /* Large spans (beyond the exact lists) are reused too. */
  hs_span_t *l1 = hs__pageheap_alloc(300, HS_SPAN_LARGE);
  hs_span_t *fence2 = hs__pageheap_alloc(1, HS_SPAN_LARGE);
  CHECK(l1 && fence2);
  uintptr_t l1_start = l1->start;
  hs__pageheap_free(l1);
  hs__pageheap_stats(&st0);
  hs_span_t *l2 = hs__pageheap_alloc(300, HS_SPAN_LARGE);
  hs__pageheap_stats(&st1);
  CHECK(l2 && st1.heap_bytes == st0.heap_bytes);
  CHECKF(l2->start == l1_start, "best fit should reuse the freed 300-page span");
  hs__pageheap_free(l2);
  hs__pageheap_free(fence2);
  STATS_OK();

  /* Random churn keeps the accounting exact and spans disjoint. */
  enum { N = 200 };
  hs_span_t *live[N] = {0};
  for (int iter = 0; iter < 5000; iter++) {
    int i = (int)(next_rand() % N);
    if (live[i]) {
      hs__pageheap_free(live[i]);
      live[i] = NULL;
    } else {
      size_t np = next_rand() % 8 == 0 ? 1 + next_rand() % 400 : 1 + next_rand() % 16;
      live[i] = hs__pageheap_alloc(np, next_rand() % 2 ? HS_SPAN_LARGE : HS_SPAN_SMALL);
      CHECK(live[i] && live[i]->npages == np);
      /* first and last page belong to it */
      CHECK(span_at(live[i]->start) == live[i]);
      CHECK(span_at(live[i]->start + (np - 1) * HS_PAGE_SIZE) == live[i]);
      *(volatile char *)live[i]->start = 1;
      *(volatile char *)(live[i]->start + np * HS_PAGE_SIZE - 1) = 1;
    }
    if (iter % 500 == 0) STATS_OK();
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (i != j && live[i] && live[j])
        CHECK(live[i]->start + live[i]->npages * HS_PAGE_SIZE <= live[j]->start ||
              live[j]->start + live[j]->npages * HS_PAGE_SIZE <= live[i]->start);
  for (int i = 0; i < N; i++)
    if (live[i]) hs__pageheap_free(live[i]);
  STATS_OK();

  /* Freed memory beyond the retain threshold goes back to the OS. */
  decay_on(true);
  hs_span_t *many[12];
  for (int i = 0; i < 12; i++) {
    many[i] = hs__pageheap_alloc(1024, HS_SPAN_LARGE); /* 8 MiB each */
    CHECK(many[i]);
    memset((void *)many[i]->start, 1, 1024 * HS_PAGE_SIZE);
  }
  for (int i = 0; i < 12; i++) hs__pageheap_free(many[i]);
  STATS_OK();
  hs__pageheap_stats(&st0);
  CHECKF(st0.free_bytes <= HS_RETAIN_MIN + ((size_t)8 << 20), "free %zu", st0.free_bytes);
  CHECK(st0.unmapped_bytes >= ((size_t)48 << 20));

  /* release_all moves every free byte to unmapped. */
  decay_on(false);
  hs_span_t *x = hs__pageheap_alloc(64, HS_SPAN_LARGE);
  hs_span_t *fence3 = hs__pageheap_alloc(1, HS_SPAN_LARGE);
  memset((void *)x->start, 0x5a, 64 * HS_PAGE_SIZE);
  uintptr_t x_start = x->start;
  hs__pageheap_free(x);
  hs__pageheap_stats(&st0);
  CHECK(st0.free_bytes >= 64 * HS_PAGE_SIZE);
  hs__pageheap_release_all();
  hs__pageheap_stats(&st1);
  CHECK(st1.free_bytes == 0);
  CHECK(st1.unmapped_bytes == st0.unmapped_bytes + st0.free_bytes);
  CHECK(st1.heap_bytes == st0.heap_bytes);
  STATS_OK();
  /* Released pages come back zeroed and usable; unmapped shrinks again. */
  hs_span_t *y = hs__pageheap_alloc(64, HS_SPAN_LARGE);
  CHECK(y);
  if (y->start == x_start)
    for (size_t i = 0; i < 64 * HS_PAGE_SIZE; i += 512)
      CHECK(((unsigned char *)y->start)[i] == 0);
  hs__pageheap_stats(&st0);
  CHECK(st0.unmapped_bytes < st1.unmapped_bytes);
  STATS_OK();
  hs__pageheap_free(y);
  hs__pageheap_free(fence3);
  STATS_OK();

  /* Own mappings: registered page by page, resized with their contents
   * (moved or not), cached when freed and reused by the next big one. */
  hs_span_t *m = hs__pageheap_alloc_mapped(600);
  CHECK(m && m->mapped && m->kind == HS_SPAN_LARGE && m->npages == 600);
  CHECK(m->start % HS_PAGE_SIZE == 0);
  for (size_t i = 0; i < 600; i++) CHECK(span_at(m->start + i * HS_PAGE_SIZE) == m);
  for (size_t i = 0; i < 600 * HS_PAGE_SIZE; i += 4096) ((unsigned char *)m->start)[i] = (unsigned char)(i >> 12);
  STATS_OK();
  uintptr_t m_old = m->start;
  CHECK(hs__pageheap_remap(m, 3000));
  CHECK(m->npages == 3000 && m->start % HS_PAGE_SIZE == 0);
  for (size_t i = 0; i < 600 * HS_PAGE_SIZE; i += 4096)
    CHECK(((unsigned char *)m->start)[i] == (unsigned char)(i >> 12));
  for (size_t i = 0; i < 3000; i++) CHECK(span_at(m->start + i * HS_PAGE_SIZE) == m);
  if (m->start != m_old) CHECK(span_at(m_old) == NULL || span_at(m_old) != m);
  memset((void *)(m->start + 600 * HS_PAGE_SIZE), 7, 2400 * HS_PAGE_SIZE);
  CHECK(hs__pageheap_remap(m, 1000)); /* shrinking stays in place */
  CHECK(m->npages == 1000 && span_at(m->start + 999 * HS_PAGE_SIZE) == m);
  STATS_OK();
  uintptr_t m_start = m->start;
  hs__pageheap_stats(&st0);
  hs__pageheap_free(m);
  hs__pageheap_stats(&st1);
  CHECK(st1.free_bytes == st0.free_bytes + 1000 * HS_PAGE_SIZE); /* cached, still mapped */
  CHECK(span_at(m_start)->kind == HS_SPAN_CACHED);
  STATS_OK();
  hs_span_t *m2 = hs__pageheap_alloc_mapped(900); /* reuses the cached mapping */
  CHECK(m2 && m2->start == m_start && m2->npages >= 900);
  CHECK(((unsigned char *)m2->start)[4096] == 1); /* its pages, not fresh ones */
  hs__pageheap_free(m2);
  STATS_OK();

  /* Decay: free pages unused for HS_DECAY_NS go back to the OS on the next
   * tick; before that they stay mapped (no madvise on a quick reuse). */
  decay_on(true);
  hs__pageheap_release_all();
  hs_span_t *d = hs__pageheap_alloc(100, HS_SPAN_LARGE);
  hs_span_t *fence4 = hs__pageheap_alloc(1, HS_SPAN_LARGE);
  memset((void *)d->start, 3, 100 * HS_PAGE_SIZE);
  hs__pageheap_free(d);
  for (int i = 0; i < 64; i++) hs__pageheap_decay_tick();
  hs__pageheap_stats(&st0);
  CHECKF(st0.free_bytes >= 100 * HS_PAGE_SIZE, "freed pages released at once: free %zu",
         st0.free_bytes);
  struct timespec nap = {0, (long)(HS_DECAY_NS + HS_DECAY_NS / 5)};
  while (nap.tv_nsec >= 1000000000L) {
    nap.tv_sec++;
    nap.tv_nsec -= 1000000000L;
  }
  nanosleep(&nap, NULL);
  for (int i = 0; i < 64; i++) hs__pageheap_decay_tick(); /* it looks every 64th */
  hs__pageheap_stats(&st1);
  CHECKF(st1.free_bytes == 0, "decayed pages still mapped: free %zu", st1.free_bytes);
  CHECK(st1.unmapped_bytes >= st0.unmapped_bytes + 100 * HS_PAGE_SIZE);
  hs__pageheap_free(fence4);
  STATS_OK();
  hs__lock(&hs__pageheap_lock);
  CHECK(hs__pageheap_is_valid());
  hs__unlock(&hs__pageheap_lock);

  /* Impossible sizes fail cleanly. */
  CHECK(hs__pageheap_alloc(0, HS_SPAN_LARGE) == NULL);
  CHECK(hs__pageheap_alloc((size_t)1 << 40, HS_SPAN_LARGE) == NULL);
  STATS_OK();
  puts("pageheap ok");
  return 0;
}
