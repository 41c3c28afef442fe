/* heapscope report: errors, memory and the three hash tables everything else
 * is built on (interned strings, interned uint32 sequences, u64 -> u32).
 * Open addressing with linear probing at load <= 1/2; tables only grow. */
#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool rp_quiet;

bool rp_fail(rp_err_t *err, const char *fmt, ...) {
  if (err && !err->set) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->set = true;
  }
  return false;
}

void rp_warn(const char *fmt, ...) {
  if (rp_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("heapscope: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static _Noreturn void out_of_memory(void) {
  fputs("heapscope: out of memory\n", stderr);
  exit(2);
}

void *rp_alloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

void *rp_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) out_of_memory();
  return q;
}

char *rp_strndup(const char *s, size_t n) {
  char *d = rp_alloc(n + 1);
  memcpy(d, s, n);
  return d;
}

void rp_reserve(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 16;
  while (c < need) {
    if (c > SIZE_MAX / 2 / elem) out_of_memory();
    c *= 2;
  }
  *p = rp_realloc(*p, c * elem);
  *cap = c;
}

uint64_t rp_hash_bytes(const void *d, size_t n) {
  const unsigned char *s = d;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = rp_mix64(h ^ w) + 0x632be59bd9b4e019ull;
  }
  uint64_t w = 0;
  memcpy(&w, s + i, n - i);
  return rp_mix64(h ^ w ^ ((uint64_t)(n - i) << 56));
}

uint64_t rp_hash_words(const uint32_t *w, size_t n, uint64_t seed) {
  uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t x = (uint64_t)w[i] | (uint64_t)w[i + 1] << 32;
    h = (h ^ x) * 0x9fb21c651e98df25ull;
    h ^= h >> 29;
  }
  if (i < n) h = (h ^ w[i]) * 0x9fb21c651e98df25ull;
  return rp_mix64(h);
}

/* ---- strings ---------------------------------------------------------------- */

void rp_str_init(rp_strtab_t *t) {
  memset(t, 0, sizeof *t);
  rp_str_n(t, "", 0); /* id 0 */
}

void rp_str_free(rp_strtab_t *t) {
  for (size_t i = 0; i < t->nchunks; i++) free(t->chunks[i]);
  free(t->chunks);
  free(t->str);
  free(t->len);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

static const char *str_store(rp_strtab_t *t, const char *s, size_t n) {
  if (t->chunk_used + n + 1 > t->chunk_size) {
    /* chunks double from 4 KiB to 64 KiB: small profiles stay small */
    size_t want = t->chunk_size ? (t->chunk_size < 65536 ? t->chunk_size * 2 : 65536) : 4096;
    size_t size = n + 1 > want ? n + 1 : want;
    RP_RESERVE(t->chunks, t->chunks_cap, t->nchunks + 1);
    t->chunk = rp_alloc(size);
    t->chunks[t->nchunks++] = t->chunk;
    t->chunk_size = size;
    t->chunk_used = 0;
  }
  char *d = t->chunk + t->chunk_used;
  memcpy(d, s, n);
  d[n] = '\0';
  t->chunk_used += n + 1;
  return d;
}

static void str_rehash(rp_strtab_t *t) {
  size_t ns = t->nslots ? t->nslots * 2 : 1024;
  uint32_t *slots = rp_alloc(ns * sizeof *slots);
  for (uint32_t id = 0; id < t->n; id++) {
    size_t j = rp_hash_bytes(t->str[id], t->len[id]) & (ns - 1);
    while (slots[j]) j = (j + 1) & (ns - 1);
    slots[j] = id + 1;
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = ns;
}

uint32_t rp_str_n(rp_strtab_t *t, const char *s, size_t n) {
  if ((size_t)t->n * 2 + 2 > t->nslots) str_rehash(t);
  size_t j = rp_hash_bytes(s, n) & (t->nslots - 1);
  for (;;) {
    uint32_t e = t->slots[j];
    if (!e) break;
    if (t->len[e - 1] == n && memcmp(t->str[e - 1], s, n) == 0) return e - 1;
    j = (j + 1) & (t->nslots - 1);
  }
  if (n > UINT32_MAX) n = UINT32_MAX; /* cannot happen with validated input */
  size_t cap = t->cap;
  RP_RESERVE(t->str, cap, (size_t)t->n + 1);
  size_t cap2 = t->cap;
  RP_RESERVE(t->len, cap2, (size_t)t->n + 1);
  t->cap = cap;
  uint32_t id = t->n++;
  t->str[id] = str_store(t, s, n);
  t->len[id] = (uint32_t)n;
  t->slots[j] = id + 1;
  return id;
}

/* ---- uint32 sequences ----------------------------------------------------------- */

void rp_seq_free(rp_seqtab_t *t) {
  free(t->pool);
  free(t->off);
  free(t->len);
  free(t->slots);
  free(t->slot_hash);
  memset(t, 0, sizeof *t);
}

static void seq_rehash(rp_seqtab_t *t) {
  size_t ns = t->nslots ? t->nslots * 2 : 1024;
  uint32_t *slots = rp_alloc(ns * sizeof *slots);
  uint64_t *hashes = rp_alloc(ns * sizeof *hashes);
  for (size_t i = 0; i < t->nslots; i++) {
    if (!t->slots[i]) continue;
    size_t j = t->slot_hash[i] & (ns - 1);
    while (slots[j]) j = (j + 1) & (ns - 1);
    slots[j] = t->slots[i];
    hashes[j] = t->slot_hash[i];
  }
  free(t->slots);
  free(t->slot_hash);
  t->slots = slots;
  t->slot_hash = hashes;
  t->nslots = ns;
}

static size_t seq_probe(const rp_seqtab_t *t, const uint32_t *key, uint32_t len, uint64_t h,
                        bool *found) {
  size_t j = h & (t->nslots - 1);
  for (;;) {
    uint32_t e = t->slots[j];
    if (!e) {
      *found = false;
      return j;
    }
    if (t->slot_hash[j] == h && t->len[e - 1] == len &&
        (!len || memcmp(t->pool + t->off[e - 1], key, (size_t)len * sizeof *key) == 0)) {
      *found = true;
      return j;
    }
    j = (j + 1) & (t->nslots - 1);
  }
}

uint32_t rp_seq_find(const rp_seqtab_t *t, const uint32_t *key, uint32_t len) {
  if (!t->nslots) return UINT32_MAX;
  bool found;
  size_t j = seq_probe(t, key, len, rp_hash_words(key, len, 0), &found);
  return found ? t->slots[j] - 1 : UINT32_MAX;
}

uint32_t rp_seq_intern(rp_seqtab_t *t, const uint32_t *key, uint32_t len, bool *added) {
  if (t->n * 2 + 2 > t->nslots) seq_rehash(t);
  uint64_t h = rp_hash_words(key, len, 0);
  bool found;
  size_t j = seq_probe(t, key, len, h, &found);
  if (found) {
    if (added) *added = false;
    return t->slots[j] - 1;
  }
  size_t cap = t->cap;
  RP_RESERVE(t->off, cap, t->n + 1);
  cap = t->cap;
  RP_RESERVE(t->len, cap, t->n + 1);
  t->cap = cap;
  RP_RESERVE(t->pool, t->pool_cap, t->pool_n + len);
  if (t->pool_n + len > UINT32_MAX) {
    fputs("heapscope: profile too large (more than 2^32 frames in distinct stacks)\n", stderr);
    exit(2);
  }
  if (len) memcpy(t->pool + t->pool_n, key, (size_t)len * sizeof *key);
  uint32_t e = (uint32_t)t->n++;
  t->off[e] = (uint32_t)t->pool_n;
  t->len[e] = len;
  t->pool_n += len;
  t->slots[j] = e + 1;
  t->slot_hash[j] = h;
  if (added) *added = true;
  return e;
}

/* ---- u64 -> u32 ---------------------------------------------------------------------- */

void rp_u64map_free(rp_u64map_t *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static void u64_rehash(rp_u64map_t *m) {
  size_t ns = m->nslots ? m->nslots * 2 : 1024;
  rp_u64slot_t *slots = rp_alloc(ns * sizeof *slots);
  for (size_t i = 0; i < m->nslots; i++) {
    if (!m->slots[i].val) continue;
    size_t j = rp_mix64(m->slots[i].key) & (ns - 1);
    while (slots[j].val) j = (j + 1) & (ns - 1);
    slots[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = slots;
  m->nslots = ns;
}

uint32_t *rp_u64map_slot(rp_u64map_t *m, uint64_t key, bool *found) {
  if (m->n * 2 + 2 > m->nslots) u64_rehash(m);
  size_t j = rp_mix64(key) & (m->nslots - 1);
  while (m->slots[j].val) {
    if (m->slots[j].key == key) {
      *found = true;
      return &m->slots[j].val;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  *found = false;
  m->slots[j].key = key;
  m->n++;
  return &m->slots[j].val;
}

bool rp_u64map_get(const rp_u64map_t *m, uint64_t key, uint32_t *val) {
  if (!m->nslots) return false;
  size_t j = rp_mix64(key) & (m->nslots - 1);
  while (m->slots[j].val) {
    if (m->slots[j].key == key) {
      *val = m->slots[j].val - 1;
      return true;
    }
    j = (j + 1) & (m->nslots - 1);
  }
  return false;
}

bool rp_opt_value(const char *cmd, const char *name, int argc, char **argv, int *i,
                  const char **out) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return false;
  if (a[n] == '=') {
    *out = a + n + 1;
    return true;
  }
  if (a[n] != '\0') return false;
  if (*i + 1 >= argc) {
    fflush(stdout);
    fprintf(stderr, "heapscope: %s%s needs a value\n", cmd, name);
    exit(2);
  }
  *out = argv[++*i];
  return true;
}
