/* A tiny library whose debug info is split off (debuglink / build-id). */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default"), noinline))

static int expected_line;

EXPORT uintptr_t dbglib_return_address(void) {
  return (uintptr_t)__builtin_return_address(0);
}

/* Only .symtab or DWARF know this name: stripping removes it. */
static __attribute__((noinline)) uintptr_t dbglib_static_caller(void) {
  expected_line = __LINE__; return dbglib_return_address();
}

EXPORT uintptr_t dbglib_entry(void) { return dbglib_static_caller(); }

/* Exported: the dynamic symbol table keeps this name. */
EXPORT uintptr_t dbglib_public_caller(void) {
  uintptr_t r = dbglib_return_address();
  return r;
}

EXPORT int dbglib_line(void) { return expected_line; }

EXPORT const char *dbglib_file(void) { return __FILE__; }
