/* Stack ranges: what memory a stack walk may read.
 *
 * A walk follows values it reads from the stack (saved frame pointers,
 * return addresses) that code without frame pointers may have filled with
 * anything, so every address it reads must be known readable first. The
 * thread's own stack is learned without asking libc: pthread_getattr_np
 * takes the thread's lock and calls malloc under it, so calling it from
 * inside malloc deadlocks the first time a thread asks for its own
 * attributes (Rust's thread start does) and the runtime records that call.
 *
 * Instead: the top of a thread's stack is its thread pointer (glibc puts
 * the thread descriptor and static TLS at the top of every stack it
 * allocates, and of every stack a program hands to pthread_attr_setstack),
 * or __libc_stack_end for the main thread, whose TLS lies elsewhere. The
 * pages from a walk's start up to that top are checked readable once, with
 * one system call per page (hs__os_readable), and the lowest page checked
 * is remembered per thread: later walks that start above it need no check,
 * deeper ones check only the new pages. A start address whose pages up to
 * the top are not all readable is on another stack (a coroutine's, an
 * alternate signal stack): sigaltstack tells the latter's size; otherwise
 * the walk gets the readable pages just above it (at most FOREIGN_PAGES),
 * the last such range cached per thread.
 *
 * Signal handlers (the CPU profiler) call this with may_probe = false: no
 * system call, only what the thread learned before. */
#include "core/stack/stack.h"

#include <signal.h>
#include <unistd.h>

extern void *__libc_stack_end;

#define PAGE 4096ul
#define PAGE_FLOOR(a) ((a) & ~(PAGE - 1))
#define MAX_PROBE_PAGES 4096 /* 16 MiB of new stack checked per walk at most */
#define FOREIGN_PAGES 16     /* a coroutine stack is walked over at most 64 KiB */

HS_TLS uintptr_t hs__stack_top;         /* this thread's stack top, 0 = not known yet */
HS_TLS uintptr_t hs__stack_verified_lo; /* [verified_lo, top) is readable */
#define top hs__stack_top
#define verified_lo hs__stack_verified_lo
static HS_TLS uintptr_t foreign_lo, foreign_hi; /* last other stack seen */

static inline uintptr_t thread_pointer(void) {
  uintptr_t tp;
  __asm__("mov %%fs:0, %0" : "=r"(tp));
  return tp;
}

/* The main thread's thread pointer (its TLS is not on its stack). */
static uintptr_t main_tp;

void hs__stack_range_init(void) {
  if (hs__gettid() == (int)getpid()) main_tp = thread_pointer();
}

/* The top of this thread's stack, seen from address sp on it; 0 when sp
 * cannot be on it. */
static uintptr_t stack_top(uintptr_t sp) {
  uintptr_t tp = thread_pointer();
  if (tp > sp && tp != main_tp) return tp;
  uintptr_t end = (uintptr_t)__libc_stack_end;
  return sp < end ? end : 0;
}

/* Checks the pages below verified_lo down to the one holding sp. */
static bool extend_verified(uintptr_t sp) {
  uintptr_t page = PAGE_FLOOR(verified_lo - 1), last = PAGE_FLOOR(sp);
  if (page < last) return true;
  if ((page - last) / PAGE >= MAX_PROBE_PAGES) return false;
  for (;; page -= PAGE) {
    if (!hs__os_readable(page)) return false;
    verified_lo = page;
    if (page == last) return true;
  }
}

static void foreign_range(uintptr_t sp, bool may_probe, hs_stack_ranges_t *out) {
  out->lo = sp;
  out->hi = PAGE_FLOOR(sp) + PAGE; /* the page sp is in is certainly mapped */
  if (sp >= foreign_lo && sp < foreign_hi) {
    out->hi = foreign_hi;
  } else if (may_probe) {
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) &&
        sp - (uintptr_t)ss.ss_sp < ss.ss_size) {
      out->hi = (uintptr_t)ss.ss_sp + ss.ss_size;
      foreign_lo = (uintptr_t)ss.ss_sp;
    } else {
      for (int i = 1; i < FOREIGN_PAGES && hs__os_readable(out->hi); i++) out->hi += PAGE;
      foreign_lo = PAGE_FLOOR(sp);
    }
    foreign_hi = out->hi;
  }
  if (top && verified_lo < top) {
    out->home_lo = verified_lo;
    out->home_hi = top;
  }
}

void hs__stack_ranges_slow(uintptr_t sp, bool may_probe, hs_stack_ranges_t *out) {
  out->home_lo = out->home_hi = 0;
  out->own = false;
  if (HS_UNLIKELY(!top)) {
    uintptr_t t = may_probe ? stack_top(sp) : 0;
    if (!t) return foreign_range(sp, may_probe, out);
    verified_lo = t;
    if (!extend_verified(sp)) return foreign_range(sp, may_probe, out);
    top = t; /* only once the start proved to be on this stack */
  }
  if (HS_LIKELY(sp >= verified_lo && sp < top) || (sp < top && may_probe && extend_verified(sp))) {
    out->lo = verified_lo;
    out->hi = top;
    out->own = true;
    return;
  }
  foreign_range(sp, may_probe, out);
}
