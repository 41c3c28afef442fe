/* heapscope: in-process symbolizer (core/symbol/symbolize.c).
 *
 * It uses libdwfl (one Dwfl session per module, kept open) and runs
 * entirely inside hs__runtime_enter/leave, so everything libdw, libelf and
 * libc allocate on its behalf lands on the internal heap. It never forks,
 * execs, uses stdio or loads libraries (libdw's debuginfod fallback is kept
 * from dlopen'ing libdebuginfod unless HEAPSCOPE_DEBUGINFOD=1).
 *
 * Settings: HEAPSCOPE_DEBUGINFO_PATH (colon-separated debuginfo search
 * path, as in libdwfl; absolute entries are searched for
 * .build-id/xx/yyyy.debug and <dir>/<debuglink>), HEAPSCOPE_DEBUGINFOD.
 */
#ifndef HEAPSCOPE_CORE_SYMBOL_SYMBOLIZE_H
#define HEAPSCOPE_CORE_SYMBOL_SYMBOLIZE_H

#include "core/module/module.h"

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

/* Fork (core/api/runtime.c): the symbolizer's lock, in the runtime's order. */
void hs__symbolize_prefork(void);
void hs__symbolize_postfork(bool child);

#endif
