/* Keeps a block reachable from a global until exit: not a leak in normal
 * mode, a leak in draconian mode (everything still live counts). */
#include <stdlib.h>
#include <string.h>

static char *cache;

int main(void) {
  cache = malloc(64);
  if (!cache) return 2;
  strcpy(cache, "cached");
  return cache[0] == 'c' ? 0 : 3;
}
