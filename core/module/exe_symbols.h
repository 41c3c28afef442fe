/* The running executable's own symbol tables, read straight from
 * /proc/self/exe: a handful of names looked up without libelf/libdw (which
 * load lazily and must not be paid for at start-up). */
#ifndef HEAPSCOPE_CORE_MODULE_EXE_SYMBOLS_H
#define HEAPSCOPE_CORE_MODULE_EXE_SYMBOLS_H

#include "core/base/base.h"

typedef struct hs_exe_sym {
  const char *name;   /* in */
  uintptr_t addr;     /* run-time address when the executable defines it */
  size_t size;        /* its st_size */
  bool imported;      /* an undefined .dynsym entry: bound at run time */
} hs_exe_sym_t;

typedef enum hs_exe_status {
  HS_EXE_OK,          /* looked up (a name may still be absent) */
  HS_EXE_NO_KEY,      /* `key` occurs in no symbol name: nothing looked up */
  HS_EXE_STRIPPED,    /* no .symtab: only .dynsym was searched */
  HS_EXE_UNREADABLE,  /* /proc/self/exe unreadable, or not the running image */
  HS_EXE_FOREIGN,     /* not a 64-bit little-endian x86-64 ELF file */
} hs_exe_status_t;

/* Looks every syms[i].name up in the executable's .dynsym (imports) and
 * .symtab (definitions, local ones included). When `key` is given and no
 * symbol name contains it, returns HS_EXE_NO_KEY after one memmem over the
 * string tables, without walking the symbols. When syms[0] turns out to be
 * imported, .symtab is not searched. No allocation: the tables are
 * mapped from the file and unmapped before returning. */
hs_exe_status_t hs__exe_symbols(hs_exe_sym_t *syms, size_t n, const char *key);

/* True if a read-only data section of the executable contains `needle`
 * (a string literal the program uses). */
bool hs__exe_rodata_contains(const char *needle);

/* The executable's path (readlink of /proc/self/exe), "?" if unknown. */
const char *hs__exe_path(void);

#endif
