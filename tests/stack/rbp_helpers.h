/* Assembly helpers for the unwinder tests: call a function with %rbp set to
 * an arbitrary value, as code built without frame pointers may leave it
 * (a loop counter, a pointer into the heap, -16...).
 *
 *   call_with_rbp(arg, rbp, fn)        fn(arg) with %rbp = rbp; the helper
 *                                       has CFI (CFA = rsp + 16), so a CFI
 *                                       unwinder gets past it
 *   call_with_rbp_nocfi(arg, rbp, fn)  the same without any CFI: unknown
 *                                       code to every unwinder
 * Both return fn's result and restore %rbp. */
#ifndef HEAPSCOPE_TESTS_STACK_RBP_HELPERS_H
#define HEAPSCOPE_TESTS_STACK_RBP_HELPERS_H
#include <stdint.h>

void *call_with_rbp(uintptr_t arg, uintptr_t rbp, void *(*fn)(uintptr_t));
void *call_with_rbp_nocfi(uintptr_t arg, uintptr_t rbp, void *(*fn)(uintptr_t));

__asm__(".text\n"
        ".globl call_with_rbp\n"
        ".type call_with_rbp,@function\n"
        "call_with_rbp:\n"
        ".cfi_startproc\n"
        "  push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "  mov %rsi, %rbp\n"
        "  call *%rdx\n"
        "  pop %rbp\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size call_with_rbp, .-call_with_rbp\n"
        ".globl call_with_rbp_nocfi\n"
        ".type call_with_rbp_nocfi,@function\n"
        "call_with_rbp_nocfi:\n"
        "  push %rbp\n"
        "  mov %rsi, %rbp\n"
        "  call *%rdx\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size call_with_rbp_nocfi, .-call_with_rbp_nocfi\n");
#endif
