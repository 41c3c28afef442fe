/* Code running on stacks that are not a thread's usual one, sampled at a
 * high rate: a thread on a stack the program allocated
 * (pthread_attr_setstack), a coroutine on a malloc'd stack (swapcontext),
 * and a signal handler on an alternate signal stack. The profiler must
 * neither crash nor read outside them. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cputest.h"

BURNER(on_own_stack)
BURNER(in_coroutine)
BURNER(in_altstack_handler)

static void *own_stack_thread(void *arg) {
  on_own_stack(0.1);
  return NULL;
}

static ucontext_t main_ctx, co_ctx;
static void coroutine(void) {
  in_coroutine(0.1);
  swapcontext(&co_ctx, &main_ctx);
}

static void on_usr1(int sig) { in_altstack_handler(0.1); }

int main(void) {
  size_t sz = 1 << 20;
  void *stack = NULL;
  if (posix_memalign(&stack, 4096, sz)) return 2;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstack(&a, stack, sz);
  pthread_t t;
  if (pthread_create(&t, &a, own_stack_thread, NULL)) return 2;
  pthread_join(t, NULL);

  char *co_stack = malloc(256 << 10);
  getcontext(&co_ctx);
  co_ctx.uc_stack.ss_sp = co_stack;
  co_ctx.uc_stack.ss_size = 256 << 10;
  co_ctx.uc_link = &main_ctx;
  makecontext(&co_ctx, coroutine, 0);
  swapcontext(&main_ctx, &co_ctx);

  stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  printf("survived\n");
  return 0;
}
