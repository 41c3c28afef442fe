/* Recording hook: the slow paths taken when hs__hooked is set. */
#include "internal.h"

#include <errno.h>
#include <string.h>

_Atomic int hs__hooked;
HS_TLS hs_thread_state_t hs__tstate;
void *hs__realloc_plain(void *p, size_t n);

void hs__record_early_init(void) {}

void *hs__alloc_recorded(size_t n, size_t align, bool zero) {
  void *p;
  if (hs__tstate.in_runtime) {
    p = align > HS_MIN_ALIGN ? hs__arena_memalign(align, n) : hs__arena_alloc(n);
    if (!p) errno = ENOMEM;
    return p;
  }
  p = align > HS_MIN_ALIGN ? hs__alloc_aligned(align, n) : hs__alloc(n);
  if (p && zero) memset(p, 0, n);
  return p;
}

void hs__dealloc_recorded(void *p) { hs__dealloc(p); }

void *hs__realloc_recorded(void *p, size_t n) {
  if (!p) return hs__alloc_recorded(n, 0, false);
  if (n == 0) {
    hs__dealloc_recorded(p);
    return NULL;
  }
  return hs__realloc_plain(p, n);
}
