/* Process-level wiring: the library constructor that starts the profiler,
 * and the fork handlers that keep every runtime lock consistent across fork
 * (gperftools #1425: profiler locks must be held around fork too).
 *
 * LOCK ORDER. Every runtime lock, outermost first: a thread holding one of
 * them takes only locks further down this list (the allocator's locks,
 * last, are taken by nearly everything, since the internal heap shares
 * them). The fork handlers take all of them in this order, so fork() waits
 * until no other thread is inside any of them, and the child starts with
 * every lock free.
 *    1  init          malloc.c       first-malloc initialisation
 *    2  profiler      heapprof.c     HeapProfilerStart/Stop
 *    3  recording     record.c       recording users (start/stop recording)
 *    4  dump          heapprof.c     heap profile writer (proto dumps symbolize)
 *    5  symbolizer    symbolize.c    libdw sessions and the symbol cache
 *    6  modules       modules.c      module registry refresh
 *    7  mmap regions  mmap_profile.c HEAP_PROFILE_MMAP region table
 *    8  depot         depot.c        stack bucket inserts
 *    9  span marks    record.c       sampled spans' page-map marks
 *   10  central       central.c      user heap free lists, one per class
 *   11  icentral      central.c      internal heap free lists, one per class
 *   12  page heap     pageheap.c     spans (held by a leak check while the
 *                                    world is stopped)
 *   13  registry      threadcache.c  thread-cache list
 * Locks not listed: none. A new lock goes into this list and hs__runtime_locks. */
#include "profile.h"

#include <pthread.h>

void hs__heapprof_init(void);
void hs__heapprof_postfork_child(void);
void hs__tcache_postfork_child(void);

extern hs_lock_t *const hs__init_lock, *const hs__prof_lock, *const hs__users_lock,
    *const hs__dump_lock, *const hs__sym_lock, *const hs__mod_lock, *const hs__region_lock,
    *const hs__depot_lock, *const hs__mark_lock, *const hs__registry_lock;

#define MAX_LOCKS (16 + 2 * HS_NUM_CLASSES)
static hs_lock_t *fork_locks[MAX_LOCKS];
static const char *fork_lock_names[MAX_LOCKS];
static size_t nfork_locks;

static void add_lock(hs_lock_t *l, const char *name) {
  if (nfork_locks < MAX_LOCKS) {
    fork_locks[nfork_locks] = l;
    fork_lock_names[nfork_locks++] = name;
  }
}

/* The list above, in order (built once the size classes are known). */
static void build_lock_list(void) {
  add_lock(hs__init_lock, "init");
  add_lock(hs__prof_lock, "profiler");
  add_lock(hs__users_lock, "recording");
  add_lock(hs__dump_lock, "dump");
  add_lock(hs__sym_lock, "symbolizer");
  add_lock(hs__mod_lock, "modules");
  add_lock(hs__region_lock, "mmap regions");
  add_lock(hs__depot_lock, "depot");
  add_lock(hs__mark_lock, "span marks");
  for (uint32_t c = 1; c < hs__num_classes; c++) add_lock(&hs__central[c].lock, "central");
  for (uint32_t c = 1; c < hs__num_classes; c++) add_lock(&hs__icentral[c].lock, "icentral");
  add_lock(&hs__pageheap_lock, "page heap");
  add_lock(hs__registry_lock, "registry");
}

size_t hs__runtime_locks(hs_lock_t ***locks, const char ***names) {
  *locks = fork_locks;
  if (names) *names = fork_lock_names;
  return nfork_locks;
}

static void prefork(void) {
  for (size_t i = 0; i < nfork_locks; i++) hs__lock(fork_locks[i]);
}
static void postfork_parent(void) {
  for (size_t i = nfork_locks; i-- > 0;) hs__unlock(fork_locks[i]);
}
static void postfork_child(void) {
  /* Only this thread exists now, and it holds every lock. */
  for (size_t i = 0; i < nfork_locks; i++) hs__lock_reset(fork_locks[i]);
  hs__tcache_postfork_child();
  hs__heapprof_postfork_child();
}

__attribute__((constructor(101))) static void runtime_init(void) {
  hs__ensure_init();
  hs__stack_scan_modules();
  build_lock_list();
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
