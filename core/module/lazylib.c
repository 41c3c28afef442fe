/* Libraries loaded on first use: libdw/libelf (symbolizer), libunwind (the
 * slow unwinder), zlib (gzipped profiles). Linking them costs every process
 * about 6 ms of dynamic loading at start-up (they pull in liblzma, libbz2,
 * libzstd...), although most processes never report anything.
 *
 * dlopen runs inside the runtime (hs__runtime_enter), so what the loader
 * allocates comes from the internal heap; RTLD_LOCAL keeps the libraries'
 * symbols (libunwind's backtrace, _Unwind_Backtrace) from interposing the
 * program's. Loading is refused while the leak checker has the world
 * stopped (a stopped thread may hold the loader's lock); callers that may
 * run inside the dynamic loader itself (malloc called by ld.so) check that
 * first (core/stack/capture.c). */
#include "core/module/module.h"

#include "core/alloc/alloc.h"

#include <dlfcn.h>

static _Atomic int loading_blocked;
static hs_lock_t load_lock; /* one load at a time */

hs_lock_t *const hs__lib_load_lock = &load_lock;

void hs__lib_block_loading(bool blocked) {
  atomic_fetch_add(&loading_blocked, blocked ? 1 : -1);
}

bool hs__lib_load(hs_lazy_lib_t *lib) {
  int st = atomic_load_explicit(&lib->state, memory_order_acquire);
  if (HS_LIKELY(st != 0)) return st > 0;
  if (atomic_load(&loading_blocked)) return false;
  hs__runtime_enter();
  hs__lock(&load_lock);
  st = atomic_load_explicit(&lib->state, memory_order_relaxed);
  if (st == 0) {
    void *h = dlopen(lib->soname, RTLD_LAZY | RTLD_LOCAL);
    const char *missing = NULL;
    for (int i = 0; h && i < lib->count && !missing; i++) {
      lib->syms[i] = dlsym(h, lib->names[i]);
      if (!lib->syms[i]) missing = lib->names[i];
    }
    if (!h || missing) {
      /* Said once per library: the feature that needs it degrades. */
      hs__errorf("cannot load %s%s%s (%s); %s", lib->soname, missing ? ": no " : "",
                 missing ? missing : "", h ? "wrong version?" : "not installed?", lib->without);
      st = -1;
    } else {
      st = 1;
    }
    atomic_store_explicit(&lib->state, st, memory_order_release);
  }
  hs__unlock(&load_lock);
  hs__runtime_leave();
  return st > 0;
}
