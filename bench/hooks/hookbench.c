/* The cost of gperftools' MallocHook on the allocation path.
 *
 *   hookbench none|hook PAIRS
 *
 * PAIRS malloc/free pairs of small mixed sizes (16..512 bytes, 64 live
 * blocks in rotation: the thread cache's fast path), timed. "hook" installs
 * a new hook and a delete hook first (each counts calls) through
 * MallocHook_AddNewHook/AddDeleteHook found with dlsym, so the same binary
 * runs under any allocator that has them (heapscope, gperftools' tcmalloc)
 * and the program is linked with none. Prints one line:
 *
 *   RESULT mode=M pairs=N ns_per_pair=X cpu_ns_per_pair=Y hook_calls=C alloc=OBJ
 *
 * hook_calls must be 2 * PAIRS (or more) in hook mode, 0 otherwise; the
 * script checks it. Build with -fno-builtin-malloc -fno-builtin-free. */
#include "../alloc/bench.h"

static unsigned long new_calls, delete_calls;
static void on_new(const void *p, size_t n) { (void)p; (void)n; new_calls++; }
static void on_delete(const void *p) { (void)p; delete_calls++; }

typedef int (*add_new_fn)(void (*)(const void *, size_t));
typedef int (*add_delete_fn)(void (*)(const void *));

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hookbench none|hook PAIRS\n");
    return 2;
  }
  int hook = !strcmp(argv[1], "hook");
  long pairs = atol(argv[2]);
  if ((!hook && strcmp(argv[1], "none")) || pairs <= 0) {
    fprintf(stderr, "hookbench: bad arguments\n");
    return 2;
  }
  if (hook) {
    add_new_fn add_new = (add_new_fn)dlsym(RTLD_DEFAULT, "MallocHook_AddNewHook");
    add_delete_fn add_delete = (add_delete_fn)dlsym(RTLD_DEFAULT, "MallocHook_AddDeleteHook");
    if (!add_new || !add_delete || !add_new(on_new) || !add_delete(on_delete)) {
      fprintf(stderr, "hookbench: this allocator has no MallocHook_Add*Hook\n");
      return 3;
    }
  }
  void *live[64] = {0};
  for (int i = 0; i < 64; i++) live[i] = malloc(16);
  unsigned rnd = 12345;
  uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns();
  for (long i = 0; i < pairs; i++) {
    rnd = rnd * 1103515245u + 12345u;
    unsigned slot = (rnd >> 8) & 63;
    free(live[slot]);
    live[slot] = malloc(16 + ((rnd >> 16) & 511));
  }
  uint64_t t1 = bench_now_ns(), c1 = bench_cpu_ns();
  for (int i = 0; i < 64; i++) free(live[i]);
  printf("RESULT mode=%s pairs=%ld ns_per_pair=%.2f cpu_ns_per_pair=%.2f hook_calls=%lu alloc=%s\n",
         argv[1], pairs, (double)(t1 - t0) / pairs, (double)(c1 - c0) / pairs,
         new_calls + delete_calls, bench_malloc_owner());
  return 0;
}
