/* A clean program: everything it allocates is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char *greeting = malloc(32);
  if (!greeting) return 2;
  strcpy(greeting, "hello, heapscope");
  puts(greeting);
  free(greeting);
  return 0;
}
