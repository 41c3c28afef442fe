/* Redirecting a function that cannot be interposed (it is called directly,
 * inside the executable or inside its own library) to a replacement, by
 * writing a jump at its entry. See hotpatch.c for how the code is written
 * without ever mapping it writable and executable where the kernel forbids
 * that. x86-64 only. */
#ifndef HEAPSCOPE_ADAPTERS_CMOCKA_HOTPATCH_H
#define HEAPSCOPE_ADAPTERS_CMOCKA_HOTPATCH_H

#include "core/base/base.h"

typedef struct hs_patch {
  uint8_t *site;          /* where the jump goes: the entry, after an endbr64 */
  uint8_t original[5];    /* the bytes the jump replaces */
  uint8_t jump[5];        /* jmp rel32 to the replacement or to its stub */
  bool on;                /* the jump is in place */
} hs_patch_t;

/* Prepares p to redirect fn (fn_size bytes of code, from the symbol table;
 * 0 if unknown) to replacement, and puts the jump in place. Returns NULL,
 * or why it cannot be done (a static string). */
const char *hs__patch_install(hs_patch_t *p, void *fn, size_t fn_size, void *replacement);

/* Puts the original bytes back (on = false) or the jump again (on = true),
 * e.g. around a call into the original function. False if the code could
 * not be written (then nothing changed). */
bool hs__patch_set(hs_patch_t *p, bool on);

#endif
