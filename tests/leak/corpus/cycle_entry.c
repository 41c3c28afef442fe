/* A leaked two-node cycle X <-> Y with a third block C hanging off X
 * (X -> C), nothing pointing in from outside. Which block lies lowest in
 * memory must not change the verdict: run with argument "c-first" C is
 * allocated before X and Y (lowest address), otherwise after them. Both
 * give one direct leak (X: the cycle's member whose stack came first) and
 * two indirect ones (Y, C). An address-based split said 2 direct + 1
 * indirect in the first order and 1 + 2 in the second. */
#include "corpus.h"
#include <string.h>

struct node {
  struct node *next;
  struct node *child;
  char pad[16];
};

NOINLINE struct node *make_x(void) {
  struct node *n = calloc(1, sizeof *n); /* @ce_x */
  return n;
}

NOINLINE struct node *make_y(void) {
  struct node *n = calloc(1, sizeof *n); /* @ce_y */
  return n;
}

NOINLINE struct node *make_c(void) {
  struct node *n = calloc(1, 48); /* @ce_c */
  return n;
}

NOINLINE void build(int c_first) {
  struct node *x, *y, *c;
  if (c_first) {
    c = make_c(); /* @ce_c_first */
    x = make_x(); /* @ce_x_second */
    y = make_y(); /* @ce_y_third */
  } else {
    x = make_x(); /* @ce_x_first */
    y = make_y(); /* @ce_y_second */
    c = make_c(); /* @ce_c_last */
  }
  x->next = y;
  y->next = x;
  x->child = c;
  x = y = c = NULL;
  corpus_touch(&x);
}

int main(int argc, char **argv) {
  build(argc > 1 && !strcmp(argv[1], "c-first"));
  return 0;
}
