/* Process-level wiring: library constructor, fork handlers. */
#include "internal.h"

#include <pthread.h>

static void prefork(void) { hs__allocator_prefork(); }
static void postfork_parent(void) { hs__allocator_postfork_parent(); }
static void postfork_child(void) { hs__allocator_postfork_child(); }

__attribute__((constructor(101))) static void runtime_init(void) {
  hs__ensure_init();
  pthread_atfork(prefork, postfork_parent, postfork_child);
}
