/* Process-level wiring: the library constructor that starts the profiler,
 * and the fork handlers that keep every runtime lock consistent across fork
 * (gperftools #1425: profiler locks must be held around fork too).
 *
 * Lock order around fork (outermost first): the heap profiler's dump lock,
 * per-test accounting, the stack depot, then the allocator's own order (core/alloc/internal.h).
 * The symbolizer and module tracker register their own handlers when they
 * first run (core/symbol/symbolize.c). */
#include "core/api/runtime.h"

#include "core/module/module.h"
#include "core/profile/heapprof.h"

#include <pthread.h>

static void prefork(void) {
  hs__heapprof_prefork();
  hs__account_prefork();
  hs__depot_prefork();
  hs__alloc_prefork();
}
static void postfork_parent(void) {
  hs__alloc_postfork_parent();
  hs__depot_postfork(false);
  hs__account_postfork(false);
  hs__heapprof_postfork(false);
}
static void postfork_child(void) {
  hs__alloc_postfork_child();
  hs__depot_postfork(true);
  hs__account_postfork(true);
  hs__heapprof_postfork(true);
}

__attribute__((constructor(101))) static void runtime_init(void) {
  hs__record_init();
  hs__stack_scan_modules();
  pthread_atfork(prefork, postfork_parent, postfork_child);
  hs__heapprof_init();
}

/* The runtime's large static tables: never leak-check roots. */
static const hs_range_t *const tables[] = {&hs__pagemap_range, &hs__depot_range,
                                           &hs__depot_ids_range, &hs__live_range};
const hs_range_t *const *hs__runtime_tables(size_t *count) {
  *count = sizeof tables / sizeof tables[0];
  return tables;
}

/* Referenced by the link options of heapscope::static, so that linking the
 * static library keeps this file (and its constructor) even though nothing
 * in the program calls into it. */
HS_EXPORT void hs__runtime_anchor(void) {}
