/* heapscope: in-process symbolizer and module tracker (core/symbolize.c,
 * core/modules.c).
 *
 * The module tracker remembers every ELF object ever seen loaded, also after
 * dlclose, so stacks captured in a since-unloaded library still symbolize:
 * the record keeps the file path, load bias, address range and build-id, and
 * the symbolizer opens the file again from disk when asked.
 *
 * Epochs: hs__modules_epoch() is bumped each time modules disappear. A stack
 * captured together with the epoch current at capture time is resolved
 * against the modules that were loaded then (load_epoch <= epoch <
 * unload_epoch), even if another library now occupies the same addresses.
 *
 * The symbolizer uses libdwfl (one Dwfl session per module, kept open) and
 * runs entirely inside hs__runtime_enter/leave, so everything libdw, libelf
 * and libc allocate on its behalf lands on the internal heap. It never
 * forks, execs, uses stdio or loads libraries (libdw's debuginfod fallback
 * is kept from dlopen'ing libdebuginfod unless HEAPSCOPE_DEBUGINFOD=1).
 *
 * Environment:
 *   HEAPSCOPE_DEBUGINFO_PATH  colon-separated debuginfo search path, as in
 *                             libdwfl (default ":.debug:/usr/lib/debug");
 *                             absolute entries are searched for
 *                             .build-id/xx/yyyy.debug and <dir>/<debuglink>.
 *   HEAPSCOPE_DEBUGINFOD      "1" lets libdw query debuginfod servers
 *                             (DEBUGINFOD_URLS) for missing debug info.
 */
#ifndef HEAPSCOPE_CORE_SYMBOLIZE_H
#define HEAPSCOPE_CORE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_BUILD_ID_MAX 64

/* ---- module tracker (core/modules.c) ------------------------------------ */
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
  uint32_t scan_gen;       /* private to the tracker (its lock) */
  /* -- symbolizer state, guarded by the symbolizer's lock -- */
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
uint32_t hs__modules_epoch(void);
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

/* ---- symbolizer (core/symbolize.c) -------------------------------------- */
typedef struct hs_symbol {
  const char *function;   /* NULL when unknown */
  const char *file;       /* source file (as in DWARF, absolute if the CU has comp_dir), NULL when unknown */
  int line;               /* 0 when unknown */
  const char *module;     /* module path, NULL when no module contains pc */
  uintptr_t module_offset;/* pc - module base (pc itself when no module) */
  bool inlined;           /* this frame was inlined into the next emitted frame */
} hs_symbol_t;

/* pc is a RETURN ADDRESS (pc-1 is looked up). Calls emit once per logical
 * frame, innermost inlined frame first, then the real function. Returns the
 * number of frames emitted (>= 1; an unknown pc emits one frame with
 * function NULL). Strings stay valid for the life of the process. Thread
 * safe. emit runs outside the symbolizer's lock and outside the runtime
 * section, so it may allocate or even symbolize again. */
int hs__symbolize(uintptr_t pc, uint32_t epoch,
                  void (*emit)(const hs_symbol_t *sym, void *ctx), void *ctx);

/* Like hs__symbolize but for a pc that is an exact code address (not a
 * return address): pc itself is looked up. */
int hs__symbolize_exact(uintptr_t pc, uint32_t epoch,
                        void (*emit)(const hs_symbol_t *sym, void *ctx), void *ctx);

#endif
