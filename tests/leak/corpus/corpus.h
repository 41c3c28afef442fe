/* Shared helpers for the leak corpus. Lines that the expectations refer to
 * carry a marker comment of the form  (at-sign)name  inside a C comment;
 * leakcase.py finds the line number by the marker, so editing a file never
 * breaks an expectation. Marker names are unique across the corpus. */
#ifndef LEAK_CORPUS_H
#define LEAK_CORPUS_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline, used))

/* An opaque sink the compiler cannot see through: keeps a pointer "used"
 * without storing it anywhere the checker scans. */
static inline void corpus_touch(void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

#endif
