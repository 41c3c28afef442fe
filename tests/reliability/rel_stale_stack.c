/* The checking thread's dead frames are not roots. A call made before a
 * check leaves copies of a pointer in the stack below its caller; the
 * check's own frames are pushed over them, and the slots they do not write
 * keep the stale copies. The checker must scan its caller's stack from the
 * caller's sp: the 128-byte red zone below it belongs to an interrupted
 * leaf function, never to the checking thread. Before that was so, every
 * check after the first missed the leak here (1 of 4 reported).
 *
 * Run under HEAPCHECK=normal; prints "reported N of 4" and exits 0 when
 * every check reported the block. */
#include <heapscope/heapscope.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 4

/* Fills 2 KiB of stack below its caller with the block's address, which
 * only exists unmasked in here. */
static __attribute__((noinline)) void leave_copies(uintptr_t hidden, uintptr_t mask) {
  volatile uintptr_t slots[256];
  for (int i = 0; i < 256; i++) slots[i] = hidden ^ mask;
  __asm__ volatile("" : : "r"(slots) : "memory");
}

int main(void) {
  volatile uintptr_t mask = (uintptr_t)0x5a5a5a5a5a5a5a5aull; /* no plain copy stays live */
  heapscope_snapshot_t s = heapscope_snapshot();
  uintptr_t hidden = (uintptr_t)malloc(48) ^ mask;
  int reported = 0;
  for (int round = 0; round < ROUNDS; round++) {
    leave_copies(hidden, mask);
    heapscope_leaks_t *l = NULL;
    int rc = heapscope_check_since(&s, HEAPSCOPE_MODE_NORMAL, &l);
    if (rc != 0) {
      fprintf(stderr, "FAIL: check_since: %s\n", heapscope_strerror(rc));
      return 1;
    }
    if (l) reported++;
    heapscope_leaks_free(l);
  }
  free((void *)(hidden ^ mask));
  printf("reported %d of %d\n", reported, ROUNDS);
  return reported == ROUNDS ? 0 : 1;
}
