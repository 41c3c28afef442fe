/* Two objects pointing at each other, unreachable from anywhere: both are
 * leaked. Nothing outside points in, so one of them is reported as the
 * direct leak and the other as indirect. */
#include "corpus.h"

struct node {
  struct node *next;
  char payload[24];
};

NOINLINE struct node *make_node(void) {
  struct node *n = malloc(sizeof *n); /* @cy_alloc */
  n->next = NULL;
  return n;
}

NOINLINE void make_cycle(void) {
  struct node *n[2];
  for (int i = 0; i < 2; i++) n[i] = make_node(); /* @cy_call */
  n[0]->next = n[1];
  n[1]->next = n[0];
  n[0] = n[1] = NULL;
  corpus_touch(n);
}

int main(void) {
  make_cycle();
  return 0;
}
