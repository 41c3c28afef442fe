/* Per-test accounting: what one test allocated, how high its live bytes
 * rose above where they started, and which allocation sites made up that
 * peak (core/record/record.h).
 *
 * It runs on the recording slow path only, behind one test of a plain
 * flag (hs__accounting), so the malloc fast path is untouched whether it is
 * on or off: a test is accounted only while every allocation is recorded.
 *
 * The figures are process-wide (allocations of threads the test started
 * count too), under one lock: a lock costs ~20 ns uncontended against the
 * ~200 ns a recorded allocation already costs for its stack.
 *
 * Sites at the peak. The moment of the peak is known only afterwards, and
 * copying a per-site table at every new peak (every allocation of a
 * growing test is one) would cost O(sites) each. Instead each site keeps
 * two numbers: its live bytes at the last peak (at_peak) and its change
 * since (delta), and the sites touched since the last peak sit on a list.
 * A new peak folds those deltas into at_peak and empties the list: each
 * allocation or free is folded at most once, so the cost is O(1) amortized
 * per event and the table holds exactly what was live at the peak. Only
 * blocks born during the test are tracked per site (what the test added);
 * its frees of older blocks lower the live total only. */
#include "core/record/record.h"

#include <string.h>

bool hs__accounting;

typedef struct site {
  uint32_t bucket;
  uint32_t slot;           /* its index in the hash slots, for the reset */
  int64_t at_peak_bytes, at_peak_objects;
  int64_t delta_bytes, delta_objects;
  bool touched;
} site_t;

static hs_lock_t lock;
static struct {
  uint32_t gen;            /* blocks born at >= gen are the test's */
  int64_t live;            /* net bytes allocated since begin (all threads) */
  int64_t peak;            /* max of live */
  uint64_t allocs, alloc_bytes, frees, free_bytes;
  site_t *sites;           /* dense, in first-seen order */
  uint32_t nsites, sites_cap;
  uint32_t *slots;         /* open addressing: site index + 1, 0 = empty */
  uint32_t slots_cap;      /* a power of two, > 2 * nsites */
  uint32_t *touched;       /* site indices changed since the last peak */
  uint32_t ntouched;
  bool overflow;           /* a table could not grow: sites incomplete */
} acc;

static uint32_t slot_of(uint32_t bucket, uint32_t cap) {
  return (bucket * 2654435761u) & (cap - 1);
}

static bool grow_tables(void) {
  uint32_t cap = acc.sites_cap ? acc.sites_cap * 2 : 256;
  site_t *sites = hs__arena_realloc(acc.sites, (size_t)cap * sizeof *sites);
  if (!sites) return false;
  acc.sites = sites;
  uint32_t *touched = hs__arena_realloc(acc.touched, (size_t)cap * sizeof *touched);
  if (!touched) return false;
  acc.touched = touched;
  uint32_t scap = cap * 4;
  uint32_t *slots = hs__arena_alloc((size_t)scap * sizeof *slots); /* zeroed */
  if (!slots) return false;
  for (uint32_t i = 0; i < acc.nsites; i++) {
    uint32_t s = slot_of(sites[i].bucket, scap);
    while (slots[s]) s = (s + 1) & (scap - 1);
    slots[s] = i + 1;
    sites[i].slot = s;
  }
  hs__arena_free(acc.slots);
  acc.slots = slots;
  acc.slots_cap = scap;
  acc.sites_cap = cap;
  return true;
}

static site_t *site_for(uint32_t bucket) {
  if (acc.slots_cap) {
    uint32_t s = slot_of(bucket, acc.slots_cap);
    for (; acc.slots[s]; s = (s + 1) & (acc.slots_cap - 1))
      if (acc.sites[acc.slots[s] - 1].bucket == bucket) return &acc.sites[acc.slots[s] - 1];
  }
  if (acc.nsites == acc.sites_cap && !grow_tables()) {
    acc.overflow = true;
    return NULL;
  }
  uint32_t s = slot_of(bucket, acc.slots_cap);
  while (acc.slots[s]) s = (s + 1) & (acc.slots_cap - 1);
  site_t *site = &acc.sites[acc.nsites];
  memset(site, 0, sizeof *site);
  site->bucket = bucket;
  site->slot = s;
  acc.slots[s] = ++acc.nsites;
  return site;
}

static void touch(site_t *site, int64_t bytes, int64_t objects) {
  site->delta_bytes += bytes;
  site->delta_objects += objects;
  if (!site->touched) {
    site->touched = true;
    acc.touched[acc.ntouched++] = (uint32_t)(site - acc.sites);
  }
}

/* A new peak: what changed since the last one is now the picture at it. */
static void fold(void) {
  for (uint32_t i = 0; i < acc.ntouched; i++) {
    site_t *site = &acc.sites[acc.touched[i]];
    site->at_peak_bytes += site->delta_bytes;
    site->at_peak_objects += site->delta_objects;
    site->delta_bytes = site->delta_objects = 0;
    site->touched = false;
  }
  acc.ntouched = 0;
}

void hs__account_alloc(uint32_t bucket, size_t n) {
  hs__lock(&lock);
  if (hs__accounting) {
    acc.allocs++;
    acc.alloc_bytes += n;
    acc.live += (int64_t)n;
    site_t *site = site_for(bucket);
    if (site) touch(site, (int64_t)n, 1);
    if (acc.live > acc.peak) {
      acc.peak = acc.live;
      fold();
    }
  }
  hs__unlock(&lock);
}

void hs__account_free(uint32_t bucket, uint32_t gen, size_t n) {
  hs__lock(&lock);
  if (hs__accounting) {
    acc.frees++;
    acc.free_bytes += n;
    acc.live -= (int64_t)n;
    if (gen >= acc.gen) {
      site_t *site = site_for(bucket);
      if (site) touch(site, -(int64_t)n, -1);
    }
  }
  hs__unlock(&lock);
}

void hs__account_begin(uint32_t gen) {
  hs__lock(&lock);
  for (uint32_t i = 0; i < acc.nsites; i++) acc.slots[acc.sites[i].slot] = 0;
  acc.nsites = acc.ntouched = 0;
  acc.gen = gen;
  acc.live = acc.peak = 0;
  acc.allocs = acc.alloc_bytes = acc.frees = acc.free_bytes = 0;
  acc.overflow = false;
  if (!acc.sites_cap && !grow_tables()) acc.overflow = true;
  hs__accounting = true;
  hs__unlock(&lock);
}

void hs__account_end(hs_account_t *out) {
  hs__lock(&lock);
  hs__accounting = false;
  out->allocs = acc.allocs;
  out->alloc_bytes = acc.alloc_bytes;
  out->frees = acc.frees;
  out->free_bytes = acc.free_bytes;
  out->peak_bytes = acc.peak;
  out->end_bytes = acc.live;
  out->sites_complete = !acc.overflow;
  hs__unlock(&lock);
}

size_t hs__account_peak_sites(hs_peak_site_t *out, size_t max) {
  size_t n = 0;
  hs__lock(&lock);
  /* Insertion into the largest so far: max is small (a report's worth). */
  for (uint32_t i = 0; i < acc.nsites; i++) {
    const site_t *s = &acc.sites[i];
    if (s->at_peak_bytes <= 0) continue;
    uint64_t bytes = (uint64_t)s->at_peak_bytes;
    size_t k;
    if (n < max) k = n++;
    else if (max && out[max - 1].bytes < bytes) k = max - 1;
    else continue;
    while (k > 0 && out[k - 1].bytes < bytes) {
      out[k] = out[k - 1];
      k--;
    }
    out[k] = (hs_peak_site_t){s->bucket, bytes,
                              (uint64_t)(s->at_peak_objects > 0 ? s->at_peak_objects : 0)};
  }
  hs__unlock(&lock);
  return n;
}

size_t hs__account_peak_site_count(void) {
  size_t n = 0;
  hs__lock(&lock);
  for (uint32_t i = 0; i < acc.nsites; i++) n += acc.sites[i].at_peak_bytes > 0;
  hs__unlock(&lock);
  return n;
}

/* A thread forked while another held the lock: the child's copy is free. */
hs_lock_t *const hs__account_lock = &lock;
