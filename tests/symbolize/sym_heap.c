/* Symbolization never touches the public heap: libdw's allocations (cold:
 * opening libc's separate debug info) land on the internal heap, and 1000
 * cached symbolizations leave generic.current_allocated_bytes unchanged. */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#define SYM_WANT_PC_PROBES
#include "sym_helpers.h"

#include <gperftools/malloc_extension_c.h>
#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdint.h>



static size_t prop(const char *name) {
  size_t v = 0;
  if (!MallocExtension_GetNumericProperty(name, &v)) {
    fprintf(stderr, "no property %s\n", name);
    exit(1);
  }
  return v;
}

static int frames_seen;
static void count(const hs_symbol_t *s, void *ctx) {
  (void)s;
  (void)ctx;
  frames_seen++;
}

int main(void) {
  printf("warming stdio\n");
  fflush(stdout);
  caller();
  int arr[6] = {3, 1, 2, 6, 5, 4};
  qsort(arr, 6, sizeof arr[0], cmp_int);
  uintptr_t pcs[3] = {g_pc, g_libc_pc, libdw_dwfl_begin() + 1};

  size_t pub0 = prop("generic.current_allocated_bytes");
  size_t int0 = prop("heapscope.internal_bytes");
  for (int i = 0; i < 3; i++) hs__symbolize(pcs[i], hs__modules_epoch(), count, NULL);
  size_t pub1 = prop("generic.current_allocated_bytes");
  size_t int1 = prop("heapscope.internal_bytes");

  char buf[512];
  int bad = 0;
  for (int i = 0; i < 1000; i++) {
    if (hs__symbolize(pcs[i % 3], hs__modules_epoch(), count, NULL) < 1) bad++;
    if (heapscope_symbolize(pcs[i % 3], buf, sizeof buf) != 0) bad++;
  }
  size_t pub2 = prop("generic.current_allocated_bytes");
  size_t int2 = prop("heapscope.internal_bytes");

  printf("public heap: %zu -> %zu (cold) -> %zu (1000x warm)\n", pub0, pub1, pub2);
  printf("internal heap: %zu -> %zu (cold) -> %zu (1000x warm)\n", int0, int1, int2);
  CHECK_INT(bad, 0);
  CHECK_INT(pub1, pub0);
  CHECK_INT(pub2, pub0);
  CHECK(int1 > int0);            /* libdw's memory went to the internal heap */
  CHECK(int2 <= int1 + 65536);   /* cache hits do not grow it either */
  CHECK(frames_seen >= 1003);
  CHECK_DONE();
}
