/* Linked with the static library only, nothing calling the runtime's API:
 * the constructor and the exit-time check must still be there. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) void *make_static_leak(void) {
  void *p = malloc(24);
  memset(p, 7, 24);
  return p;
}

int main(void) {
  void *volatile p = make_static_leak();
  p = NULL;
  return 0;
}
