/* Allocation before the runtime's constructor has run: with the static
 * runtime, a .preinit_array entry runs before every constructor, so the
 * allocator must initialise itself lazily from the first malloc, free,
 * calloc, realloc or memalign, in whatever order they come. */
#include "core/alloc/alloc.h"
#include "check.h"

#include <malloc.h>
#include <string.h>

static int init_before_preinit = -1;
static void *kept_small, *kept_large, *kept_aligned;

static void early(int argc, char **argv, char **envp) {
  (void)argc, (void)argv, (void)envp;
  init_before_preinit = atomic_load(&hs__alloc_ready);
  /* free(NULL) and a free-first sequence must not need init */
  free(NULL);
  void *p = calloc(10, 10);
  if (!p) abort();
  for (int i = 0; i < 100; i++)
    if (((char *)p)[i]) abort();
  p = realloc(p, 100000);
  if (!p) abort();
  free(p);
  kept_small = malloc(40);
  kept_large = malloc(3 << 20);
  kept_aligned = memalign(8192, 100);
  if (!kept_small || !kept_large || !kept_aligned) abort();
  memset(kept_small, 1, 40);
  memset(kept_large, 2, 3 << 20);
  memset(kept_aligned, 3, 100);
}
__attribute__((section(".preinit_array"), used)) static void (*early_fn)(int, char **,
                                                                         char **) = early;

int main(void) {
  printf("runtime initialised before .preinit_array: %d\n", init_before_preinit);
  CHECK(init_before_preinit != -1); /* the hook ran */
  CHECK(atomic_load(&hs__alloc_ready) == 1);
  CHECK(hs__usable_size(kept_small) >= 40);
  CHECK(hs__usable_size(kept_large) >= (3 << 20));
  CHECK(((uintptr_t)kept_aligned & 8191) == 0);
  CHECK(((char *)kept_small)[39] == 1);
  CHECK(((char *)kept_large)[(3 << 20) - 1] == 2);
  CHECK(((char *)kept_aligned)[99] == 3);
  free(kept_small);
  free(kept_large);
  free(kept_aligned);
  /* the thread cache works normally afterwards */
  void *a = malloc(64);
  free(a);
  CHECK(malloc(64) == a);
  free(a);
  puts("early malloc ok");
  return 0;
}
