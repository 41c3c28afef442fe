/* heapscope: the parts of symbolization shared by the in-process symbolizer
 * (core/symbolize.c) and the offline one of `heapscope report`
 * (tools/report/symbolize.c): where separate debug files live, and how a
 * function name and a source path are read from DWARF. Sharing them makes
 * both name frames identically, so a profile symbolized in the process and
 * one symbolized later from its mappings diff by symbol (--base).
 *
 * Pure functions over libc string routines and libdw: no allocation, no
 * formatting, no state; safe in the runtime and in ordinary programs. */
#ifndef HEAPSCOPE_CORE_DEBUGINFO_H
#define HEAPSCOPE_CORE_DEBUGINFO_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stddef.h>

/* The debuginfo search path when none is configured (libdwfl's default). */
#define HS_DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug"

/* Whether a separate debug file for the ELF file file_name (build-id
 * build_id[0..build_id_len), .gnu_debuglink name debuglink or NULL) exists
 * along search_path (libdwfl syntax, colon-separated): absolute entries
 * are searched for .build-id/xx/rest[.debug] and <entry><dir>/<link> up to
 * <entry>/<link>, relative ones for <dir>/<entry>/<link>, where <dir> is
 * file_name's directory and <link> defaults to <basename>.debug.
 * dwfl_standard_find_debuginfo looks in the same places and, finding
 * nothing, asks debuginfod servers; callers use this test to keep it from
 * doing that unless asked to. */
bool hs__debuginfo_candidate(const char *search_path, const unsigned char *build_id,
                             int build_id_len, const char *file_name, const char *debuglink);

/* The name of a subprogram or inlined-subroutine DIE (following
 * abstract_origin and specification): a C++ linkage name (_Z..., still
 * mangled) when there is one, else DW_AT_name, else any linkage name.
 * (C linkage names differ from the source name only for asm labels such as
 * glibc's __GI_ aliases.) NULL when the DIE has none. The libdw functions
 * come from the caller: the runtime loads libdw on first use and calls it
 * through pointers, the analyzer links it. */
typedef struct hs_dwarf_fns {
  Dwarf_Attribute *(*attr_integrate)(Dwarf_Die *die, unsigned int name, Dwarf_Attribute *result);
  const char *(*formstring)(Dwarf_Attribute *attr);
} hs_dwarf_fns_t;
const char *hs__dwarf_die_name(Dwarf_Die *die, const hs_dwarf_fns_t *fns);

/* file made absolute with comp_dir when file is relative and comp_dir is
 * absolute, written to buf; otherwise (or if it does not fit) file itself.
 * (Distribution builds map the build root away, e.g. glibc's comp_dir
 * "./stdlib" with files "./stdlib/msort.c": relative to the source root,
 * joining them would only repeat the directory.) */
const char *hs__dwarf_source_path(const char *file, const char *comp_dir, char *buf,
                                  size_t size);

#endif
