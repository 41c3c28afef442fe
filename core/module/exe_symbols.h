/* The running executable's own symbol tables and mapped data, read without
 * libelf/libdw (which load lazily and must not be paid for at start-up). */
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
  HS_EXE_STRIPPED,    /* no .symtab: only .dynsym was searched */
  HS_EXE_UNREADABLE,  /* the file is unreadable or not the running image */
  HS_EXE_FOREIGN,     /* not a 64-bit little-endian x86-64 ELF file */
} hs_exe_status_t;

/* Looks every syms[i].name up in the executable's .dynsym (imports) and
 * .symtab (definitions, local ones included); when syms[0] turns out to be
 * imported, .symtab is not searched. Maps the file for the walk and unmaps
 * it before returning; allocates nothing, keeps errno. */
hs_exe_status_t hs__exe_symbols(hs_exe_sym_t *syms, size_t n);

/* In-memory probes of what the loader mapped (no file access, microseconds):
 * a read-only segment contains needle (a string literal the program uses);
 * the dynamic string table contains needle (a library or symbol it uses). */
bool hs__exe_rodata_contains(const char *needle);
bool hs__exe_dynstr_contains(const char *needle);

/* The executable's path (readlink of /proc/self/exe), "?" if unknown. */
const char *hs__exe_path(void);

#endif
