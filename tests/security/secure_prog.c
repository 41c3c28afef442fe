/* A program that would write every heapscope output if its variables were
 * obeyed: it leaks a block (exit-time check, log file, JSON report, leak
 * profile) and allocates (heap profile dumps at exit). Run setuid by
 * run_secure.sh, which checks that none of those outputs appear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *leak(size_t n) { return malloc(n); }

int main(void) {
  for (int i = 0; i < 1000; i++) free(malloc(64 + i));
  char *p = leak(300);
  memset(p, 1, 300);
  p = NULL;
  puts("secure_prog done");
  return 0;
}
