/* Blocks reachable from globals (.bss and .data): not leaks in normal mode,
 * leaks in draconian mode (every live object is one). No stdio: stdout's
 * buffer would be one more live object in draconian mode. */
#include "corpus.h"
#include <string.h>

static void *g_bss;                              /* .bss */
struct registry {
  int n;
  void *items[4];
} g_data = {1, {0}};                             /* .data */

NOINLINE void *make_block(size_t n) {
  void *p = malloc(n); /* @gr_alloc */
  memset(p, 0, n);
  return p;
}

int main(void) {
  g_bss = make_block(64); /* @gr_call64 */
  g_data.items[2] = make_block(200); /* @gr_call200 */
  return 0;
}
