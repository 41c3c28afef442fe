/* Frames whose CFI is not "CFA = rsp/rbp + N", each hand-written in
 * assembly exactly as compilers emit it, calling malloc through a C
 * callback; the recorded stack must still reach main:
 *
 *   realign_call  gcc's stack realignment (DRAP): CFA = *(rbp - 8), rbp
 *                 saved at rbp + 0 (DW_CFA_def_cfa_expression / expression)
 *   odd_cfa_call  CFA = rbx + 16: the walker's table cannot hold it and
 *                 hands the stack to libunwind (loaded on first use)
 *   a signal handler (raise): the walk crosses the kernel's signal frame
 *                 back into the code that raised it
 *   JIT code      machine code written into an anonymous mapping (no
 *                 module, no CFI) calling the callback: with a frame
 *                 pointer the walk steps over it and reaches main; without
 *                 one it ends cleanly at the JIT frame, never at a made-up
 *                 frame */
#include "tests/stack/stack_test.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define NOINLINE __attribute__((noinline))

void *realign_call(size_t n, void *(*cb)(size_t));
void *odd_cfa_call(size_t n, void *(*cb)(size_t));

__asm__(".text\n"
        ".globl realign_call\n"
        ".type realign_call,@function\n"
        "realign_call:\n"
        ".cfi_startproc\n"
        "  lea 0x8(%rsp), %r10\n"
        ".cfi_def_cfa %r10, 0\n"
        "  and $-32, %rsp\n"
        "  pushq -0x8(%r10)\n"
        "  push %rbp\n"
        ".cfi_escape 0x10, 0x6, 0x2, 0x76, 0x0\n" /* DW_CFA_expression: rbp at (rbp + 0) */
        "  mov %rsp, %rbp\n"
        "  push %r10\n"
        ".cfi_escape 0xf, 0x3, 0x76, 0x78, 0x6\n" /* DW_CFA_def_cfa_expression: *(rbp - 8) */
        "  sub $8, %rsp\n"
        "  call *%rsi\n"
        "  add $8, %rsp\n"
        "  pop %r10\n"
        ".cfi_def_cfa %r10, 0\n"
        "  pop %rbp\n"
        "  lea -0x8(%r10), %rsp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size realign_call, .-realign_call\n"
        ".globl odd_cfa_call\n"
        ".type odd_cfa_call,@function\n"
        "odd_cfa_call:\n"
        ".cfi_startproc\n"
        "  push %rbx\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbx, -16\n"
        "  mov %rsp, %rbx\n"
        ".cfi_def_cfa_register %rbx\n"
        "  and $-16, %rsp\n"
        "  call *%rsi\n"
        "  mov %rbx, %rsp\n"
        ".cfi_def_cfa_register %rsp\n"
        "  pop %rbx\n"
        ".cfi_def_cfa_offset 8\n"
        "  ret\n"
        ".cfi_endproc\n"
        ".size odd_cfa_call, .-odd_cfa_call\n");

NOINLINE static void *cb(size_t n) {
  void *p = malloc(n);
  __asm__ volatile("" ::: "memory");
  return p;
}

static void expect(const void *p, const char *what, const char *const *want, int nwant) {
  const char *names[32];
  int n = recorded_names(p, names, 32);
  int ok = n >= nwant;
  for (int i = 0; ok && i < nwant; i++) ok = !strcmp(names[i], want[i]);
  int main_seen = 0;
  for (int i = nwant; i < n; i++) main_seen |= !strcmp(names[i], "main");
  if (!ok || !main_seen) {
    fprintf(stderr, "%s: recorded stack:", what);
    for (int i = 0; i < n; i++) fprintf(stderr, " %s", names[i]);
    fprintf(stderr, "\n");
  }
  CHECKF(ok && main_seen, "%s: the stack is not whole", what);
  printf("%s: %d frames, whole\n", what, n);
}

NOINLINE static void via_realign(void) {
  void *p = realign_call(40, cb);
  const char *want[] = {"cb", "realign_call", "via_realign"};
  expect(p, "realigned frame", want, 3);
  free(p);
}

NOINLINE static void via_odd(void) {
  void *p = odd_cfa_call(40, cb);
  const char *want[] = {"cb", "odd_cfa_call", "via_odd"};
  expect(p, "CFA in rbx (libunwind)", want, 3);
  free(p);
}

static void *in_handler;
static void on_usr1(int sig) {
  (void)sig;
  in_handler = cb(24); /* raised synchronously: malloc is fine here */
}

NOINLINE static void via_signal(void) {
  signal(SIGUSR1, on_usr1);
  raise(SIGUSR1);
  __asm__ volatile("" ::: "memory");
  const char *names[32];
  int n = recorded_names(in_handler, names, 32);
  int handler = -1, raiser = -1, main_at = -1;
  for (int i = 0; i < n; i++) {
    if (!strcmp(names[i], "on_usr1") && handler < 0) handler = i;
    if (!strcmp(names[i], "via_signal") && raiser < 0) raiser = i;
    if (!strcmp(names[i], "main") && main_at < 0) main_at = i;
  }
  if (!(handler == 1 && raiser > handler && main_at > raiser)) {
    fprintf(stderr, "signal: recorded stack:");
    for (int i = 0; i < n; i++) fprintf(stderr, " %s", names[i]);
    fprintf(stderr, "\n");
  }
  CHECKF(handler == 1 && raiser > handler && main_at > raiser,
         "signal: cb, on_usr1, (signal frame, raise), via_signal, main expected");
  printf("signal frame: %d frames, whole\n", n);
  free(in_handler);
}

/* jit(n, cb) = cb(n), as a JIT compiler would emit it: with a frame
 * pointer (push %rbp; mov %rsp,%rbp; call *%rsi; pop %rbp; ret) or
 * without (sub $8,%rsp; call *%rsi; add $8,%rsp; ret). */
typedef void *(*jit_fn)(size_t, void *(*)(size_t));
static jit_fn make_jit(int with_fp) {
  static const unsigned char fp_code[] = {0x55, 0x48, 0x89, 0xe5, 0xff, 0xd6, 0x5d, 0xc3};
  static const unsigned char bare_code[] = {0x48, 0x83, 0xec, 0x08, 0xff, 0xd6,
                                            0x48, 0x83, 0xc4, 0x08, 0xc3};
  unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  if (with_fp) memcpy(m, fp_code, sizeof fp_code);
  else memcpy(m, bare_code, sizeof bare_code);
  CHECK(mprotect(m, 4096, PROT_READ | PROT_EXEC) == 0);
  return (jit_fn)(uintptr_t)m;
}

NOINLINE static void via_jit(int with_fp) {
  jit_fn jit = make_jit(with_fp);
  void *p = jit(40, cb);
  __asm__ volatile("" ::: "memory");
  const uintptr_t *pcs;
  int n = recorded_stack(p, &pcs);
  const char *names[32];
  recorded_names(p, names, 32);
  uintptr_t code = (uintptr_t)jit;
  CHECKF(n >= 2 && !strcmp(names[0], "cb") && pcs[1] > code && pcs[1] < code + 16,
         "JIT%s: cb, then the JIT frame expected (%d frames, #0 %s)", with_fp ? "" : " without fp",
         n, n ? names[0] : "");
  if (with_fp) {
    CHECKF(n >= 4 && !strcmp(names[2], "via_jit") && !strcmp(names[3], "main"),
           "JIT with a frame pointer: via_jit, main expected after it (%d frames, #2 %s)", n,
           n > 2 ? names[2] : "");
  } else {
    /* Past the JIT frame only frames in known code, if any: a frame-pointer
     * step is kept only when it returns into a loaded module. */
    for (int i = 2; i < n; i++)
      CHECKF(hs__module_for(pcs[i], hs__modules_epoch()) != NULL,
             "JIT without fp: frame #%d (%#lx) lies in no module", i, (unsigned long)pcs[i]);
  }
  printf("JIT%s: %d frames, %s\n", with_fp ? "" : " without a frame pointer", n,
         with_fp ? "whole" : "ended cleanly");
  free(p);
  munmap((void *)code, 4096);
}

int main(void) {
  heapscope_start_recording();
  via_realign();
  via_odd();
  via_signal();
  via_jit(1);
  via_jit(0);
  return 0;
}
