/* heapscope: the module tracker (core/module/modules.c).
 *
 * It remembers every ELF object ever seen loaded, also after dlclose, so
 * stacks captured in a since-unloaded library still symbolize: the record
 * keeps the file path, load bias, address range and build-id, and the
 * symbolizer opens the file again from disk when asked.
 *
 * Epochs: hs__modules_epoch() is bumped each time modules disappear. A stack
 * captured together with the epoch current at capture time is resolved
 * against the modules that were loaded then (load_epoch <= epoch <
 * unload_epoch), even if another library now occupies the same addresses.
 */
#ifndef HEAPSCOPE_CORE_MODULE_MODULE_H
#define HEAPSCOPE_CORE_MODULE_MODULE_H

#include "core/base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_BUILD_ID_MAX 64

typedef struct hs_module {
  const char *path;        /* absolute path, or the main program's /proc/self/exe target */
  uintptr_t base;          /* dlpi_addr (load bias) */
  uintptr_t lo, hi;        /* address range covering its PT_LOAD segments */
  uint32_t load_epoch, unload_epoch; /* unload_epoch = UINT32_MAX while loaded
                                      * (read it with __atomic_load_n) */
  /* -- identity, set before the record is published, then immutable -- */
  const char *dlname;      /* dlpi_name as the loader reported it ("" = main) */
  bool is_main;            /* the main program */
  uint8_t build_id_len;    /* 0 when the object has no NT_GNU_BUILD_ID */
  uint8_t build_id[HS_BUILD_ID_MAX]; /* read from memory while loaded */
  uint32_t index;          /* position in the registry */
  /* -- unwinding facts, read from the program headers while loaded -- */
  uintptr_t text_lo, text_hi; /* range covering its executable PT_LOAD segments */
  uintptr_t eh_frame_hdr;  /* PT_GNU_EH_FRAME (.eh_frame_hdr) address, 0 if none */
  size_t eh_frame_hdr_size;
  uintptr_t eh_frame_limit; /* end of the PT_LOAD segment holding .eh_frame_hdr:
                             * no CFI read goes past it */
  /* -- unwinder state (core/stack/), published atomically -- */
  _Atomic(const void *) unwind_cfi; /* the module's CFI copied on first use */
  uint32_t scan_gen;       /* private to the tracker (its lock) */
  /* -- symbolizer state (core/symbol/), guarded by the symbolizer's lock -- */
  int sym_state;           /* 0 not tried, 1 open, -1 failed */
  void *sym_obj;           /* the (shared) opened file, see symbolize.c */
  const char *sym_error;   /* why opening failed (static string), or NULL */
} hs_module_t;

/* Rescan with dl_iterate_phdr; marks vanished modules unloaded (bumping the
 * epoch). Cheap when nothing was loaded or unloaded since the last call
 * (compares the loader's dlpi_adds/dlpi_subs counters). Takes a lock and
 * allocates from the internal heap. */
void hs__modules_refresh(void);
/* Current epoch (an atomic load). */
extern _Atomic uint32_t hs__modules_cur_epoch;
static inline uint32_t hs__modules_epoch(void) {
  return atomic_load_explicit(&hs__modules_cur_epoch, memory_order_acquire);
}
/* The module containing pc: preferably one loaded at epoch (load_epoch <=
 * epoch < unload_epoch), else any module containing pc, newest first; NULL
 * if none. Lock-free; only knows modules seen by a refresh. */
const hs_module_t *hs__module_for(uintptr_t pc, uint32_t epoch);
/* Number of module records and the i-th one (0 = oldest), lock-free. */
uint32_t hs__module_count(void);
const hs_module_t *hs__module_at(uint32_t i);
/* Iterate the writable PT_LOAD segments (PF_W) of currently loaded objects:
 * roots for the leak checker. Never allocates (calls dl_iterate_phdr, so it
 * must not run while a stopped thread may hold the loader's lock). path is
 * the main program's path for the main program. */
void hs__for_each_writable_segment(void (*fn)(uintptr_t start, uintptr_t end,
                                              const char *path, void *ctx),
                                   void *ctx);

/* A dlclose in progress (the interposer brackets the real dlclose with
 * these; always in pairs). Between the loader's unmap and the tracker's
 * refresh that follows it, the registry still lists the unloaded object as
 * live, and another thread may already have dlopen'ed a library at its
 * addresses: while the count is non-zero, stack walks do not trust the
 * registry or the rules cached under the current epoch (core/stack/unwind.c).
 * begin refreshes (records what is loaded while it still is), end refreshes
 * (learns what went, bumping the epoch) before it counts down. */
extern _Atomic uint32_t hs__modules_unloading;
void hs__modules_unload_begin(void);
void hs__modules_unload_end(void);
void hs__modules_postfork_child(void); /* from core/api/runtime.c */
static inline bool hs__modules_unload_pending(void) {
  return atomic_load_explicit(&hs__modules_unloading, memory_order_acquire) != 0;
}

/* Lock-free readers of a loaded object's own memory (a signal handler's
 * stack walk reads .eh_frame_hdr/.eh_frame in place, core/stack/unwind.c):
 * begin announces the reader (seq_cst), then fails while a dlclose is in
 * progress; unload_begin raises hs__modules_unloading (seq_cst), then waits
 * for announced readers to end before the real dlclose unmaps anything.
 * Async-signal-safe: two atomic operations. */
extern _Atomic uint32_t hs__module_readers;
/* The calling thread's share of hs__module_readers (readers nest when a
 * handler interrupts a handler): a fork child keeps only the forking
 * thread's share (hs__modules_postfork_child). Raised before the shared
 * count and lowered after it, so it never counts less than its share. */
extern HS_TLS uint32_t hs__module_reader_depth;
static inline bool hs__modules_read_begin(void) {
  hs__module_reader_depth++;
  atomic_signal_fence(memory_order_seq_cst);
  atomic_fetch_add(&hs__module_readers, 1);
  if (HS_LIKELY(!atomic_load(&hs__modules_unloading))) return true;
  atomic_fetch_sub(&hs__module_readers, 1);
  atomic_signal_fence(memory_order_seq_cst);
  hs__module_reader_depth--;
  return false;
}
static inline void hs__modules_read_end(void) {
  atomic_fetch_sub_explicit(&hs__module_readers, 1, memory_order_release);
  atomic_signal_fence(memory_order_seq_cst);
  hs__module_reader_depth--;
}

/* Called by the dlclose interposer before the real dlclose, while the
 * object is still mapped (the CPU profiler records its mappings then).
 * One listener; it must not call dlclose. */
void hs__modules_set_unload_listener(void (*fn)(void));

/* The tracker's lock, for the fork handlers (core/api/runtime.c). */
extern hs_lock_t *const hs__module_lock;

/* The live module whose executable segments contain pc (unload_epoch
 * still UINT32_MAX), newest first; NULL if none. Lock-free and
 * async-signal-safe; only knows modules seen by a refresh. */
const hs_module_t *hs__module_live_text(uintptr_t pc);

/* ---- libraries loaded on first use (core/module/lazylib.c) ---- */
typedef struct hs_lazy_lib {
  const char *soname;          /* e.g. "libdw.so.1" */
  const char *const *names;    /* symbols to resolve... */
  void **syms;                 /* ...into these */
  int count;
  const char *without;         /* what is lost when it is missing (for the one message) */
  _Atomic int state;           /* 0 not tried, 1 loaded, -1 unavailable */
} hs_lazy_lib_t;
/* Loads lib (once) and resolves its symbols; true when usable. Never from
 * a signal handler; refused (false, tried again later) while loading is
 * blocked. One heapscope: line when the library or a symbol is missing. */
bool hs__lib_load(hs_lazy_lib_t *lib);
/* The leak checker blocks loading while it holds threads stopped. */
void hs__lib_block_loading(bool blocked);
/* The loader's lock, for the fork handlers (core/api/runtime.c): no load
 * runs across fork. */
extern hs_lock_t *const hs__lib_load_lock;

#endif
