/* malloc before main: from .preinit_array (runs before any library's
 * constructor, heapscope's included), from an early-priority constructor and
 * from a plain one. Built linked against libheapscope and plain (to run with
 * LD_PRELOAD). main checks the blocks are heapscope's and intact. */
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"

enum { SLOTS = 3 };
static char *kept[SLOTS][4];
static const size_t kept_size[4] = {24, 3000, 300000, 2 << 20};

static void work(int slot) {
  /* churn: every kind of call, freed again */
  void *tmp[64];
  for (int i = 0; i < 64; i++) {
    tmp[i] = malloc((size_t)i * 97 + 1);
    if (!tmp[i]) abort();
    memset(tmp[i], i, (size_t)i * 97 + 1);
  }
  for (int i = 0; i < 64; i++) free(tmp[i]);
  char *c = calloc(100, 100);
  for (int i = 0; i < 10000; i++)
    if (c[i]) abort();
  c = realloc(c, 1 << 20);
  free(c);
  void *a = memalign(4096, 5000);
  if (!a || ((uintptr_t)a & 4095)) abort();
  free(a);
  /* keep some for main to check */
  for (int i = 0; i < 4; i++) {
    kept[slot][i] = malloc(kept_size[i]);
    if (!kept[slot][i]) abort();
    memset(kept[slot][i], 'A' + slot, kept_size[i]);
  }
}

static void preinit(int argc, char **argv, char **envp) {
  (void)argc, (void)argv, (void)envp;
  work(0);
}
__attribute__((section(".preinit_array"), used)) static void (*preinit_fn)(int, char **,
                                                                           char **) = preinit;

__attribute__((constructor(101))) static void ctor_early(void) { work(1); }
__attribute__((constructor)) static void ctor_late(void) { work(2); }

int main(void) {
  size_t (*allocated_size)(const void *) =
      (size_t(*)(const void *))dlsym(RTLD_DEFAULT, "MallocExtension_GetAllocatedSize");
  CHECKF(allocated_size != NULL, "heapscope is not the active allocator");
  for (int s = 0; s < SLOTS; s++)
    for (int i = 0; i < 4; i++) {
      char *p = kept[s][i];
      CHECKF(p != NULL, "constructor %d did not run", s);
      CHECKF(allocated_size(p) >= kept_size[i],
             "block from constructor %d is not heapscope's (size %zu)", s, allocated_size(p));
      for (size_t j = 0; j < kept_size[i]; j++)
        if (p[j] != 'A' + s) CHECKF(0, "block %d/%d corrupted at %zu", s, i, j);
      free(p);
    }
  puts("ctor ok");
  return 0;
}
