/* Process-level wiring: the library constructor that starts the profiler,
 * and the fork handlers that keep every runtime lock
 * consistent across fork (gperftools #1425: profiler locks must be held
 * around fork too). */
#include "profile.h"

#include <pthread.h>

void hs__heapprof_init(void);
void hs__heapprof_prefork(void);
void hs__heapprof_postfork(bool child);

/* Lock order: profiler dump, depot, then the allocator's own order. */
static void prefork(void) {
  hs__heapprof_prefork();
  hs__depot_prefork();
  hs__allocator_prefork();
}
static void postfork_parent(void) {
  hs__allocator_postfork_parent();
  hs__depot_postfork(false);
  hs__heapprof_postfork(false);
}
static void postfork_child(void) {
  hs__allocator_postfork_child();
  hs__depot_postfork(true);
  hs__heapprof_postfork(true);
}

__attribute__((constructor(101))) static void runtime_init(void) {
  hs__ensure_init();
  hs__stack_scan_modules();
  pthread_atfork(prefork, postfork_parent, postfork_child);
  hs__heapprof_init();
}

const hs_range_t *const hs__runtime_tables[] = {&hs__pagemap_range, &hs__depot_range,
                                                 &hs__depot_ids_range, &hs__live_range};
const size_t hs__runtime_table_count = sizeof hs__runtime_tables / sizeof hs__runtime_tables[0];

/* Referenced by the link options of heapscope::static, so that linking the
 * static library keeps this file (and its constructor) even though nothing
 * in the program calls into it. */
HS_EXPORT void hs__runtime_anchor(void) {}
