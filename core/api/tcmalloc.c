/* gperftools' tc_* entry points (<gperftools/tcmalloc.h>) and nallocx
 * (<gperftools/nallocx.h>).
 *
 * tc_malloc and the rest are the malloc family under other names. Each is
 * a jump to the public function (x86-64 assembly): the recorder expects the
 * public entry point to be called by the user (stacks start at its caller),
 * and the runtime is built without sibling calls, so a C wrapper would put
 * its own frame at the top of every stack recorded through it.
 *
 * tc_new and the other C++ operators jump to libstdc++'s operator new
 * (which calls malloc, then the new-handler, and throws std::bad_alloc), so
 * they behave exactly as `new` does. They are declared only to C++, whose
 * programs have libstdc++ loaded; when it is missing (a C program that
 * declared them itself) they fall back to malloc and end the program with
 * one heapscope: line instead of returning NULL. */
#include "core/api/runtime.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gperftools/nallocx.h>
#include <gperftools/tcmalloc.h>

/* name: jmp target (through the PLT: the program may interpose it). */
#define TC_JUMP(name, target)                                                  \
  __asm__(".pushsection .text\n\t.globl " #name "\n\t.type " #name ",@function\n\t" \
          ".p2align 4\n" #name ":\n\tjmp " #target "@PLT\n\t.size " #name ",.-" #name \
          "\n\t.popsection")

TC_JUMP(tc_malloc, malloc);
TC_JUMP(tc_malloc_skip_new_handler, malloc);
TC_JUMP(tc_free, free);
TC_JUMP(tc_free_sized, free);
TC_JUMP(tc_realloc, realloc);
TC_JUMP(tc_calloc, calloc);
TC_JUMP(tc_cfree, free);
TC_JUMP(tc_memalign, memalign);
TC_JUMP(tc_posix_memalign, posix_memalign);
TC_JUMP(tc_valloc, valloc);
TC_JUMP(tc_pvalloc, pvalloc);
TC_JUMP(tc_malloc_stats, malloc_stats);
TC_JUMP(tc_mallopt, mallopt);
TC_JUMP(tc_mallinfo, mallinfo);
TC_JUMP(tc_malloc_size, malloc_usable_size);
/* Every delete is free: the block knows its size and alignment. */
TC_JUMP(tc_delete, free);
TC_JUMP(tc_delete_sized, free);
TC_JUMP(tc_delete_nothrow, free);
TC_JUMP(tc_deletearray, free);
TC_JUMP(tc_deletearray_sized, free);
TC_JUMP(tc_deletearray_nothrow, free);
TC_JUMP(tc_delete_aligned, free);
TC_JUMP(tc_delete_sized_aligned, free);
TC_JUMP(tc_delete_aligned_nothrow, free);
TC_JUMP(tc_deletearray_aligned, free);
TC_JUMP(tc_deletearray_sized_aligned, free);
TC_JUMP(tc_deletearray_aligned_nothrow, free);

/* name: jmp to libstdc++'s operator (weak: absent in C programs), else to
 * fallback. */
#define TC_NEW(name, op, fallback)                                              \
  __asm__(".pushsection .text\n\t.weak " #op "\n\t.globl " #name "\n\t.type " #name \
          ",@function\n\t.p2align 4\n" #name ":\n\tmovq " #op "@GOTPCREL(%rip), %rax\n\t" \
          "testq %rax, %rax\n\tjz " #fallback "\n\tjmp *%rax\n\t.size " #name ",.-" #name \
          "\n\t.popsection")

/* Reached only by a jump from the thunks below ("used": the assembly names
 * them, the compiler does not see it). */
static __attribute__((used)) HS_NOINLINE void *new_fallback(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    hs__errorf("tc_new(%zu): out of memory and no C++ runtime to throw std::bad_alloc", n);
    abort();
  }
  return p;
}
static __attribute__((used)) HS_NOINLINE void *new_nothrow_fallback(size_t n) {
  return malloc(n ? n : 1);
}
static __attribute__((used)) HS_NOINLINE void *new_aligned_fallback(size_t n, size_t align) {
  void *p = aligned_alloc(align, n ? n : 1);
  if (!p) {
    hs__errorf("tc_new_aligned(%zu, %zu): out of memory and no C++ runtime to throw "
               "std::bad_alloc", n, align);
    abort();
  }
  return p;
}
static __attribute__((used)) HS_NOINLINE void *new_aligned_nothrow_fallback(size_t n,
                                                                             size_t align) {
  return aligned_alloc(align, n ? n : 1);
}

/* operator new(size_t), new[](size_t), their nothrow_t forms (the
 * reference is passed on untouched), and the align_val_t forms. */
TC_NEW(tc_new, _Znwm, new_fallback);
TC_NEW(tc_newarray, _Znam, new_fallback);
TC_NEW(tc_new_nothrow, _ZnwmRKSt9nothrow_t, new_nothrow_fallback);
TC_NEW(tc_newarray_nothrow, _ZnamRKSt9nothrow_t, new_nothrow_fallback);
TC_NEW(tc_new_aligned, _ZnwmSt11align_val_t, new_aligned_fallback);
TC_NEW(tc_newarray_aligned, _ZnamSt11align_val_t, new_aligned_fallback);
TC_NEW(tc_new_aligned_nothrow, _ZnwmSt11align_val_tRKSt9nothrow_t,
       new_aligned_nothrow_fallback);
TC_NEW(tc_newarray_aligned_nothrow, _ZnamSt11align_val_tRKSt9nothrow_t,
       new_aligned_nothrow_fallback);

HS_EXPORT const char *tc_version(int *major, int *minor, const char **patch) {
  if (major) *major = TC_VERSION_MAJOR;
  if (minor) *minor = TC_VERSION_MINOR;
  if (patch) *patch = TC_VERSION_PATCH;
  return TC_VERSION_STRING;
}

/* tcmalloc's new mode makes tc_malloc call the C++ new-handler on failure
 * (Windows' _set_new_mode). heapscope's malloc never calls it: the flag is
 * kept and returned, and setting it says so once. */
static _Atomic int new_mode;
HS_EXPORT int tc_set_new_mode(int flag) {
  static _Atomic bool said;
  if (flag && !atomic_exchange(&said, true))
    hs__errorf("tc_set_new_mode(%d): ignored, heapscope's malloc returns NULL on failure "
               "without calling the new-handler", flag);
  return atomic_exchange(&new_mode, flag);
}

/* jemalloc's nallocx, as gperftools: only MALLOCX_LG_ALIGN is understood.
 * Weak, as gperftools' (a jemalloc in the same program keeps its own). */
HS_EXPORT size_t tc_nallocx(size_t size, int flags) {
  int lg = flags & 0x3f;
  size_t align = lg ? (size_t)1 << lg : 1;
  return hs__alloc_estimated_size_aligned(align, size);
}

HS_EXPORT __attribute__((weak)) size_t nallocx(size_t size, int flags) {
  return tc_nallocx(size, flags);
}
