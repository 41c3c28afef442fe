/* Multi-threaded stress with content verification.
 *
 * Six worker slots run for a few seconds; every worker does random malloc,
 * calloc, realloc, memalign, posix_memalign, aligned_alloc and free of mostly
 * small and some large (up to 1 MiB) blocks. Each block is filled with a
 * pattern derived from its address and size and verified before it is
 * freed or reallocated. A share of blocks is handed to another slot through
 * a locked queue and freed there (cross-thread frees). Workers exit after a
 * random number of operations, leaving their caches full, and are replaced
 * by new threads (creation/exit churn). At the end every block is freed and
 * the allocated-bytes statistic must be back near its starting value. */
#include <gperftools/malloc_extension_c.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../unit/check.h"

#define SLOTS 6
#define LIVE 384
#define INBOX 2048

typedef struct block {
  unsigned char *p;
  size_t n;
} block_t;

typedef struct inbox {
  pthread_mutex_t lock;
  block_t items[INBOX];
  size_t count;
} inbox_t;

static inbox_t inboxes[SLOTS];
static atomic_int slot_done[SLOTS];
static atomic_long total_ops, cross_frees, threads_started;
static double deadline;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static uint64_t seed_of(const void *p, size_t n) {
  uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  return h ^ (h >> 29);
}

/* Pattern: 64-bit words seed + i*K, then tail bytes. */
static void fill(unsigned char *p, size_t n, uint64_t seed) {
  size_t words = n / 8;
  uint64_t v = seed;
  for (size_t i = 0; i < words; i++, v += 0x9E3779B97F4A7C15ull) memcpy(p + i * 8, &v, 8);
  for (size_t i = words * 8; i < n; i++) p[i] = (unsigned char)(seed >> ((i & 7) * 8));
}

static void verify(const unsigned char *p, size_t upto, size_t n_at_fill, const void *addr_at_fill) {
  uint64_t seed = seed_of(addr_at_fill, n_at_fill);
  size_t words = n_at_fill / 8;
  uint64_t v = seed;
  size_t i = 0;
  for (; i < words && (i + 1) * 8 <= upto; i++, v += 0x9E3779B97F4A7C15ull) {
    uint64_t got;
    memcpy(&got, p + i * 8, 8);
    if (got != v) {
      fprintf(stderr, "corruption: block %p (size %zu) word %zu: %#llx != %#llx\n",
              addr_at_fill, n_at_fill, i, (unsigned long long)got, (unsigned long long)v);
      abort();
    }
  }
  /* tail bytes, and a partial word when upto cuts into one */
  for (size_t b = i * 8; b < upto; b++) {
    unsigned char want;
    if (b < words * 8) {
      uint64_t w = seed + (b / 8) * 0x9E3779B97F4A7C15ull;
      want = (unsigned char)(w >> ((b & 7) * 8));
    } else {
      want = (unsigned char)(seed >> ((b & 7) * 8));
    }
    if (p[b] != want) {
      fprintf(stderr, "corruption: block %p (size %zu) byte %zu\n", addr_at_fill, n_at_fill, b);
      abort();
    }
  }
}

static size_t random_size(uint64_t *rng) {
  uint64_t r = xorshift(rng) % 1000;
  if (r < 900) return xorshift(rng) % 1025;          /* small */
  if (r < 985) return xorshift(rng) % (64 << 10);     /* medium */
  return xorshift(rng) % ((1 << 20) + 1);             /* large */
}

static block_t do_alloc(uint64_t *rng) {
  size_t n = random_size(rng);
  unsigned char *p = NULL;
  size_t align = 0;
  switch (xorshift(rng) % 10) {
  case 0: {
    p = calloc(1, n);
    CHECK(p);
    size_t check = n < 4096 ? n : 4096;
    for (size_t i = 0; i < check; i++) CHECK(p[i] == 0);
    if (n) CHECK(p[n - 1] == 0);
    break;
  }
  case 1:
    align = (size_t)16 << (xorshift(rng) % 9); /* 16 .. 4096 */
    p = memalign(align, n);
    break;
  case 2: {
    align = (size_t)8 << (xorshift(rng) % 14); /* 8 .. 64 KiB */
    void *q = NULL;
    CHECK(posix_memalign(&q, align, n) == 0);
    p = q;
    break;
  }
  case 3:
    align = (size_t)1 << (xorshift(rng) % 13);
    p = aligned_alloc(align, n);
    break;
  case 4: p = realloc(NULL, n); break;
  default: p = malloc(n); break;
  }
  CHECKF(p != NULL, "allocation of %zu failed", n);
  CHECKF(((uintptr_t)p & 15) == 0, "%p misaligned", (void *)p);
  if (align) CHECKF(((uintptr_t)p & (align - 1)) == 0, "%p not %zu-aligned", (void *)p, align);
  CHECK(malloc_usable_size(p) >= n);
  fill(p, n, seed_of(p, n));
  return (block_t){p, n};
}

static void do_free(block_t b) {
  verify(b.p, b.n, b.n, b.p);
  free(b.p);
}

static void drain(int slot) {
  inbox_t *in = &inboxes[slot];
  block_t local[64];
  for (;;) {
    size_t k = 0;
    pthread_mutex_lock(&in->lock);
    while (k < 64 && in->count) local[k++] = in->items[--in->count];
    pthread_mutex_unlock(&in->lock);
    if (!k) return;
    for (size_t i = 0; i < k; i++) do_free(local[i]);
    atomic_fetch_add(&cross_frees, (long)k);
  }
}

static bool send_to(int slot, block_t b) {
  inbox_t *in = &inboxes[slot];
  bool ok = false;
  pthread_mutex_lock(&in->lock);
  if (in->count < INBOX) {
    in->items[in->count++] = b;
    ok = true;
  }
  pthread_mutex_unlock(&in->lock);
  return ok;
}

typedef struct worker_arg {
  int slot;
  uint64_t seed;
} worker_arg_t;

static void *worker(void *varg) {
  worker_arg_t arg = *(worker_arg_t *)varg;
  free(varg);
  uint64_t rng = arg.seed | 1;
  block_t live[LIVE];
  int nlive = 0;
  long ops = 2000 + (long)(xorshift(&rng) % 30000);
  long done = 0;
  for (; done < ops && now() < deadline; done++) {
    uint64_t r = xorshift(&rng) % 100;
    if (done % 64 == 0) drain(arg.slot);
    if (r < 45 || nlive == 0) {
      if (nlive == LIVE) {
        do_free(live[--nlive]);
      }
      live[nlive++] = do_alloc(&rng);
    } else if (r < 85) {
      int i = (int)(xorshift(&rng) % (uint64_t)nlive);
      block_t b = live[i];
      live[i] = live[--nlive];
      int to = (int)(xorshift(&rng) % SLOTS);
      if (xorshift(&rng) % 4 == 0 && to != arg.slot && send_to(to, b)) continue;
      do_free(b);
    } else {
      int i = (int)(xorshift(&rng) % (uint64_t)nlive);
      block_t b = live[i];
      size_t m = random_size(&rng);
      unsigned char *q = realloc(b.p, m);
      if (m == 0) {
        /* glibc semantics: freed, NULL returned */
        CHECK(q == NULL);
        live[i] = live[--nlive];
        continue;
      }
      CHECKF(q != NULL, "realloc to %zu", m);
      CHECK(((uintptr_t)q & 15) == 0);
      verify(q, b.n < m ? b.n : m, b.n, b.p);
      fill(q, m, seed_of(q, m));
      live[i] = (block_t){q, m};
    }
  }
  /* Free what is left; the cache stays full when the thread exits. */
  while (nlive) do_free(live[--nlive]);
  drain(arg.slot);
  atomic_fetch_add(&total_ops, done);
  atomic_store(&slot_done[arg.slot], 1);
  return NULL;
}

static void start(pthread_t *t, int slot, uint64_t seed) {
  worker_arg_t *a = malloc(sizeof *a);
  CHECK(a);
  a->slot = slot;
  a->seed = seed;
  atomic_store(&slot_done[slot], 0);
  CHECK(pthread_create(t, NULL, worker, a) == 0);
  atomic_fetch_add(&threads_started, 1);
}

static size_t prop(const char *name) {
  size_t v = 0;
  CHECKF(MallocExtension_GetNumericProperty(name, &v), "%s", name);
  return v;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 4.0;
  alarm((unsigned)seconds * 10 + 30); /* watchdog: a deadlock fails the test */
  for (int i = 0; i < SLOTS; i++) pthread_mutex_init(&inboxes[i].lock, NULL);
  /* Warm up stdio and the thread machinery before taking the baseline. */
  printf("stress: %d slots for %.1f s\n", SLOTS, seconds);
  fflush(stdout);
  pthread_t warm;
  deadline = 0;
  start(&warm, 0, 1);
  pthread_join(warm, NULL);
  MallocExtension_MarkThreadIdle();
  size_t base = prop("generic.current_allocated_bytes");

  deadline = now() + seconds;
  pthread_t t[SLOTS];
  uint64_t seed = 0x12345678;
  for (int i = 0; i < SLOTS; i++) start(&t[i], i, xorshift(&seed));
  while (now() < deadline) {
    for (int i = 0; i < SLOTS; i++)
      if (atomic_load(&slot_done[i])) {
        CHECK(pthread_join(t[i], NULL) == 0);
        start(&t[i], i, xorshift(&seed));
      }
    usleep(1000);
  }
  for (int i = 0; i < SLOTS; i++) CHECK(pthread_join(t[i], NULL) == 0);
  for (int i = 0; i < SLOTS; i++) drain(i);
  MallocExtension_MarkThreadIdle();
  size_t end = prop("generic.current_allocated_bytes");
  size_t heap = prop("generic.heap_size");
  printf("ops %ld, cross-thread frees %ld, threads %ld; allocated bytes %zu -> %zu, heap %zu\n",
         (long)total_ops, (long)cross_frees, (long)threads_started, base, end, heap);
  CHECK(cross_frees > 0);
  CHECK(threads_started > SLOTS + 1);
  CHECKF(end <= base + (1u << 20), "allocated bytes did not return: %zu -> %zu", base, end);
  CHECK(heap >= end);
  puts("stress ok");
  return 0;
}
