/* Helpers shared by the symbolizer tests. */
#ifndef HS_SYM_TEST_HELPERS_H
#define HS_SYM_TEST_HELPERS_H
#include "core/symbol/symbolize.h"

#include <dlfcn.h>
#include <stdint.h>

/* Frames emitted by hs__symbolize, collected for checking. */
typedef struct frames {
  int n;
  hs_symbol_t f[16];
} frames_t;

static inline void collect(const hs_symbol_t *s, void *ctx) {
  frames_t *fr = ctx;
  if (fr->n < 16) fr->f[fr->n++] = *s;
}

/* dwfl_begin's address inside libdw (not a canonical PLT entry of a non-PIE
 * executable, which &dwfl_begin may be). The runtime loads libdw only at its
 * first symbolization, so this loads it if needed (and keeps it loaded). */
static inline uintptr_t libdw_dwfl_begin(void) {
  void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
  void *p = h ? dlsym(h, "dwfl_begin") : NULL;
  return (uintptr_t)p;
}

#ifdef SYM_WANT_PC_PROBES
/* A return address in this program (g_pc, from caller()) and one inside
 * libc (g_libc_pc, qsort calling cmp_int). */
static uintptr_t g_pc, g_libc_pc;
__attribute__((noinline)) static void capture(void) {
  g_pc = (uintptr_t)__builtin_return_address(0);
}
__attribute__((noinline)) static void caller(void) {
  capture();
  __asm__ volatile("" ::: "memory");
}
static int cmp_int(const void *a, const void *b) {
  if (!g_libc_pc) g_libc_pc = (uintptr_t)__builtin_return_address(0);
  return *(const int *)a - *(const int *)b;
}
#endif
#ifdef SYM_WANT_DEBUGINFOD_PROBE
#include <link.h>
#include <string.h>
/* dl_iterate_phdr callback: was libdebuginfod loaded into the process? */
static int saw_debuginfod;
static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  if (info->dlpi_name && strstr(info->dlpi_name, "debuginfod")) saw_debuginfod = 1;
  return 0;
}
#endif
#endif
