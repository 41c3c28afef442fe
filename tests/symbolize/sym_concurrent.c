/* Concurrency: one thread dlopen/dlclose's two libraries in a loop and
 * publishes (pc, epoch) pairs; other threads symbolize every published pair
 * while that goes on, and each must come back with the function of the
 * library that was loaded when the pc was captured.
 * argv[1] = libsym_testlib.so, argv[2] = libsym_testlib2.so */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define ROUNDS 200

typedef uintptr_t (*entry_fn)(void);

static const char *libs[2];
static uintptr_t pcs[ROUNDS];
static uint32_t epochs[ROUNDS];
static _Atomic int published;
static _Atomic int failures;
static const char *const want[2] = {"testlib_static_caller", "other_static_caller"};
static const char *const entries[2] = {"testlib_entry", "other_entry"};

static void *loader(void *arg) {
  (void)arg;
  for (int i = 0; i < ROUNDS; i++) {
    void *h = dlopen(libs[i & 1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      atomic_fetch_add(&failures, 1);
      break;
    }
    pcs[i] = ((entry_fn)dlsym(h, entries[i & 1]))();
    epochs[i] = hs__modules_epoch();
    atomic_store(&published, i + 1);
    dlclose(h);
  }
  return NULL;
}

typedef struct first {
  const char *fn;
  int n;
} first_t;
static void take(const hs_symbol_t *s, void *ctx) {
  first_t *f = ctx;
  if (!f->n++) f->fn = s->function;
}

static void *symbolizer(void *arg) {
  (void)arg;
  int done = 0;
  while (done < ROUNDS) {
    int upto = atomic_load(&published);
    for (int i = done; i < upto; i++) {
      first_t f = {NULL, 0};
      hs__symbolize(pcs[i], epochs[i], take, &f);
      if (!f.fn || strcmp(f.fn, want[i & 1]) != 0) {
        fprintf(stderr, "round %d: got %s, want %s\n", i, f.fn ? f.fn : "(null)", want[i & 1]);
        atomic_fetch_add(&failures, 1);
      }
    }
    done = upto;
    if (atomic_load(&failures)) break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  libs[0] = argv[1];
  libs[1] = argv[2];
  pthread_t l, s[3];
  pthread_create(&l, NULL, loader, NULL);
  for (int i = 0; i < 3; i++) pthread_create(&s[i], NULL, symbolizer, NULL);
  pthread_join(l, NULL);
  for (int i = 0; i < 3; i++) pthread_join(s[i], NULL);
  CHECK_INT(atomic_load(&failures), 0);
  CHECK_INT(atomic_load(&published), ROUNDS);
  /* Everything again, now that all of them are unloaded. */
  for (int i = 0; i < ROUNDS; i++) {
    first_t f = {NULL, 0};
    hs__symbolize(pcs[i], epochs[i], take, &f);
    if (!f.fn || strcmp(f.fn, want[i & 1]) != 0) {
      CHECK_STR(f.fn, want[i & 1]);
      break;
    }
  }
  printf("%u module records after %d load/unload rounds\n", hs__module_count(), ROUNDS);
  CHECK_DONE();
}
