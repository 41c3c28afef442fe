/* A leaked struct that owns a leaked buffer: the struct is a direct leak,
 * the buffer (reachable only through it) an indirect one. */
#include "corpus.h"
#include <string.h>

struct owner {
  char *buf;
  size_t len;
};

NOINLINE char *make_buffer(size_t n) {
  char *b = malloc(n); /* @ind_buf */
  memset(b, 'x', n);
  return b;
}

NOINLINE struct owner *make_owner(void) {
  struct owner *o = malloc(sizeof *o); /* @ind_owner */
  o->buf = make_buffer(100); /* @ind_callbuf */
  o->len = 100;
  return o;
}

int main(void) {
  corpus_touch(make_owner()); /* @ind_main */
  return 0;
}
