/* Process-level wiring: the library constructor that starts the profiler,
 * and the fork handlers that keep every runtime lock consistent across fork
 * (gperftools #1425: profiler locks must be held around fork too).
 *
 * LOCK ORDER. Every runtime lock, outermost first: a thread holding one of
 * them takes only locks further down the list (an interval dump triggered
 * under the mmap region lock only trylocks the dump lock, which never
 * waits). The fork handlers take all of them in this order, so fork() waits
 * until no other thread is inside any of them, and the child starts with
 * every lock free.
 *    record init        core/record/record.c     first malloc: settings, recording
 *    profiler control   core/profile/heapprof.c  HeapProfilerStart/Stop
 *    recording users    core/record/record.c     recording on/off (clears records)
 *    profile dump       core/profile/heapprof.c  the dump writer (proto symbolizes)
 *    CPU profile tests  core/profile/cpuprof_file.c  per-test label registry
 *    symbolizer         core/symbol/symbolize.c  symbol cache, libdw sessions
 *    library loader     core/module/lazylib.c    libdw/libunwind loaded on first use
 *    CFI copies         core/stack/unwind.c      a module's .eh_frame copied on first
 *                                                use (may refresh the modules)
 *    modules            core/module/modules.c    module registry refresh
 *    mmap regions       core/profile/mmap_profile.c  HEAP_PROFILE_MMAP regions
 *    test accounting    core/record/account.c    per-test allocation figures
 *    depot              core/stack/depot.c       stack bucket inserts
 *    allocator          core/alloc/ (hs__alloc_locks): init, sampled span
 *                       marks, central lists (user, then internal), page
 *                       heap (held by a leak check around a stopped world),
 *                       thread-cache registry
 * Ahead of all of these, the layers above core register theirs
 * (hs__fork_lock_outer): the JSON report document (leakcheck/report_ci.c,
 * held while it symbolizes) and the CMocka code patcher
 * (adapters/cmocka/hotpatch.c). A new lock joins this list. */
#include "core/api/runtime.h"

#include "core/module/module.h"
#include "core/profile/cpuprof.h"
#include "core/profile/heapprof.h"
#include "core/symbol/symbolize.h"

#include <pthread.h>

static hs_lock_list_t fork_locks;

static void list_locks(void) {
  hs_lock_list_t *l = &fork_locks;
  hs__lock_list_add(l, hs__record_init_lock, "record init");
  hs__lock_list_add(l, hs__heapprof_control_lock, "profiler control");
  hs__lock_list_add(l, hs__record_users_lock, "recording users");
  hs__lock_list_add(l, hs__heapprof_dump_lock, "profile dump");
  hs__lock_list_add(l, hs__cpuprof_tests_lock, "CPU profile tests");
  hs__lock_list_add(l, hs__symbolize_lock, "symbolizer");
  hs__lock_list_add(l, hs__lib_load_lock, "library loader");
  hs__lock_list_add(l, hs__unwind_copy_lock, "CFI copies");
  hs__lock_list_add(l, hs__module_lock, "modules");
  hs__lock_list_add(l, hs__mmap_region_lock, "mmap regions");
  hs__lock_list_add(l, hs__account_lock, "test accounting");
  hs__lock_list_add(l, hs__test_buckets_lock, "test heap buckets");
  hs__lock_list_add(l, hs__depot_lock, "depot");
  hs__alloc_locks(l);
}

const hs_lock_list_t *hs__runtime_locks(void) { return &fork_locks; }

static size_t outer_count; /* registered outer locks, at the list's front */

void hs__fork_lock_outer(hs_lock_t *lock, const char *name) {
  hs_lock_list_t *l = &fork_locks;
  if (l->n >= HS_MAX_LOCKS) return;
  for (size_t i = l->n; i > outer_count; i--) {
    l->lock[i] = l->lock[i - 1];
    l->name[i] = l->name[i - 1];
  }
  l->lock[outer_count] = lock;
  l->name[outer_count] = name;
  outer_count++;
  l->n++;
}

static void prefork(void) {
  for (size_t i = 0; i < fork_locks.n; i++) hs__lock(fork_locks.lock[i]);
}
static void postfork_parent(void) {
  for (size_t i = fork_locks.n; i-- > 0;) hs__unlock(fork_locks.lock[i]);
}
static void postfork_child(void) {
  /* Only this thread exists now, and it holds every lock. */
  for (size_t i = 0; i < fork_locks.n; i++) hs__lock_reset(fork_locks.lock[i]);
  hs__alloc_postfork_child();
  hs__modules_postfork_child();
  hs__unwind_postfork_child();
  hs__heapprof_postfork_child();
  hs__cpuprof_postfork_child();
}

__attribute__((constructor(101))) static void runtime_init(void) {
  hs__record_init();
  hs__stack_find_self();
  list_locks();
  pthread_atfork(prefork, postfork_parent, postfork_child);
  hs__heapprof_init();
  hs__cpuprof_init();
  hs__gperftools_env_init();
}

/* The runtime's large static tables: never leak-check roots. */
static const hs_range_t *const tables[] = {&hs__pagemap_range, &hs__flat_range, &hs__depot_range,
                                           &hs__depot_ids_range, &hs__live_range,
                                           &hs__cp_slots_range};
const hs_range_t *const *hs__runtime_tables(size_t *count) {
  *count = sizeof tables / sizeof tables[0];
  return tables;
}

/* Referenced by the link options of heapscope::static, so that linking the
 * static library keeps this file (and its constructor) even though nothing
 * in the program calls into it. */
HS_EXPORT void hs__runtime_anchor(void) {}
