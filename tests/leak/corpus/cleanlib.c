/* A well-behaved library for clean.c: keeps a cache in a global and a
 * block owned only by its (dynamic) thread-local variable. */
#include "corpus.h"
#include <string.h>

static char *cache;
static char **table;
static __thread char *lib_tls; /* dynamic TLS of a dlopen'd library */

int cleanlib_work(int n) {
  if (!cache) {
    cache = malloc(512);
    memset(cache, 'c', 511);
    cache[511] = 0;
    table = calloc(8, sizeof *table);
    for (int i = 0; i < 8; i++) table[i] = strdup("cached entry");
  }
  if (!lib_tls) {
    lib_tls = malloc(72);
    memset(lib_tls, 't', 72);
  }
  char *tmp = malloc((size_t)n + 1);
  memset(tmp, 'a', (size_t)n);
  tmp[n] = 0;
  int len = (int)strlen(tmp) + (int)strlen(table[n % 8]);
  free(tmp);
  return len;
}
