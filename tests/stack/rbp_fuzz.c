/* Fuzz test for the stack walk: malloc called with random and hostile
 * %rbp values (issue 9: a %rbp of -16 wrapped the bounds check and the walk
 * faulted; `as` died this way under heapscope). Also from a coroutine's
 * stack (makecontext) fenced by PROT_NONE pages, from a signal handler on
 * an alternate stack, and from a second thread. Every call must return, be
 * recorded with the caller as frame #0, and never fault.
 *
 *   rbp_fuzz [iterations]      run with HEAPSCOPE_UNWINDER=fp, auto, ... */
#include "tests/stack/rbp_helpers.h"
#include "tests/stack/stack_test.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static uintptr_t stack_lo, stack_hi;  /* the current context's stack */
static uintptr_t fence_lo, fence_hi;  /* PROT_NONE pages, when there are */
static uintptr_t heap_chain;          /* a heap block full of pointers to itself */
static long checked;

/* The function malloc returns into: frame #0 of every recorded stack. */
NOINLINE static void *alloc_here(uintptr_t n) {
  void *p = malloc(n);
  __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
  return p;
}

static uintptr_t hostile_rbp(void) {
  uint64_t r = next_rand();
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  uintptr_t off = (uintptr_t)(r >> 8) % 4096;
  switch (r % 16) {
  case 0: return (uintptr_t)r;                       /* anything */
  case 1: return (uintptr_t)-16 - (off & ~7ul);      /* wraps a + 16 bounds check */
  case 2: return off;                                /* a small integer */
  case 3: return stack_hi - (off & 31);              /* at the top of the stack */
  case 4: return stack_hi + off;                     /* just past it */
  case 5: return stack_lo - off;                     /* just below it */
  case 6: return sp - 64 - off;                      /* below the current frame */
  case 7: return sp + (off & ~7ul);                  /* a stack word above us */
  case 8: return heap_chain + (off & 255);           /* the heap */
  case 9: return fence_lo ? fence_lo + off : (uintptr_t)r; /* a PROT_NONE page */
  case 10: return fence_hi ? fence_hi - 16 + (off & 15) : 0;
  case 11: return (uintptr_t)0xffff800000000000ull + off; /* kernel space */
  case 12: return (uintptr_t)&alloc_here;            /* code */
  case 13: return sp | 1;                            /* misaligned */
  case 14: return 0;
  default: return (uintptr_t)-8;
  }
}

static void fuzz(long iterations, const char *where) {
  for (long i = 0; i < iterations; i++) {
    uintptr_t rbp = hostile_rbp();
    size_t n = 16 + (size_t)(next_rand() % 200);
    void *p = (i & 1) ? call_with_rbp(n, rbp, alloc_here) : call_with_rbp_nocfi(n, rbp, alloc_here);
    CHECKF(p != NULL, "%s: malloc failed", where);
    const uintptr_t *pcs;
    int depth = recorded_stack(p, &pcs);
    CHECKF(depth >= 1, "%s: no stack recorded (rbp %#lx)", where, (unsigned long)rbp);
    CHECKF(pc_in(pcs[0], (void *)alloc_here, 64), "%s: frame #0 %#lx is not in alloc_here (rbp %#lx)",
           where, (unsigned long)pcs[0], (unsigned long)rbp);
    free(p);
    checked++;
  }
}

static void this_thread_stack(void) {
  pthread_attr_t a;
  CHECK(pthread_getattr_np(pthread_self(), &a) == 0);
  void *addr;
  size_t size;
  CHECK(pthread_attr_getstack(&a, &addr, &size) == 0);
  pthread_attr_destroy(&a);
  stack_lo = (uintptr_t)addr;
  stack_hi = (uintptr_t)addr + size;
}

/* ---- a coroutine on a fenced stack ------------------------------------------ */
static ucontext_t main_ctx, co_ctx;
static long co_iterations;

static void coroutine(void) { fuzz(co_iterations, "coroutine"); }

static void run_coroutine(long iterations) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), size = 16 * page;
  char *m = mmap(NULL, size + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED);
  CHECK(mprotect(m, page, PROT_NONE) == 0);
  CHECK(mprotect(m + page + size, page, PROT_NONE) == 0);
  uintptr_t save_lo = stack_lo, save_hi = stack_hi;
  stack_lo = (uintptr_t)m + page;
  stack_hi = stack_lo + size;
  fence_lo = (uintptr_t)m;
  fence_hi = stack_hi + page; /* rbp near here reads the upper fence */
  CHECK(getcontext(&co_ctx) == 0);
  co_ctx.uc_stack.ss_sp = m + page;
  co_ctx.uc_stack.ss_size = size;
  co_ctx.uc_link = &main_ctx;
  co_iterations = iterations;
  makecontext(&co_ctx, coroutine, 0);
  CHECK(swapcontext(&main_ctx, &co_ctx) == 0);
  stack_lo = save_lo;
  stack_hi = save_hi;
  fence_lo = fence_hi = 0;
  munmap(m, size + 2 * page);
}

/* ---- a signal handler on an alternate stack --------------------------------- */
static long sig_iterations;
static void on_signal(int sig) {
  (void)sig;
  fuzz(sig_iterations, "sigaltstack"); /* raised synchronously: malloc is fine here */
}

static void run_on_altstack(long iterations) {
  size_t size = 256 * 1024;
  stack_t ss = {.ss_sp = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                .ss_size = size};
  CHECK(ss.ss_sp != MAP_FAILED);
  CHECK(sigaltstack(&ss, NULL) == 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK;
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
  uintptr_t save_lo = stack_lo, save_hi = stack_hi;
  stack_lo = (uintptr_t)ss.ss_sp;
  stack_hi = stack_lo + size;
  sig_iterations = iterations;
  raise(SIGUSR1);
  stack_lo = save_lo;
  stack_hi = save_hi;
  ss.ss_flags = SS_DISABLE;
  CHECK(sigaltstack(&ss, NULL) == 0);
}

static void *thread_main(void *arg) {
  this_thread_stack();
  fuzz((long)(intptr_t)arg, "thread");
  return NULL;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 20000;
  heapscope_start_recording();
  uintptr_t *chain = malloc(4096);
  for (int i = 0; i < 512; i++) chain[i] = (uintptr_t)&chain[(i * 7 + 3) % 512];
  heap_chain = (uintptr_t)chain;

  this_thread_stack();
  fuzz(iterations, "main thread");
  run_coroutine(iterations / 4);
  run_on_altstack(iterations / 4);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_main, (void *)(intptr_t)(iterations / 4)) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  free(chain);
  printf("rbp_fuzz: %ld hostile %%rbp values, no fault\n", checked);
  return 0;
}
