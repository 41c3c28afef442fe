/* A leaking program: make_widget's block is never freed. With HEAPCHECK set
 * the exit-time check reports it (allocated from make_widget, this file)
 * and the process exits 1, which fails the CTest test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct widget {
  char name[24];
  int size;
};

__attribute__((noinline)) static struct widget *make_widget(const char *name, int size) {
  struct widget *w = malloc(sizeof *w); /* LEAK: the caller drops it */
  if (!w) abort();
  snprintf(w->name, sizeof w->name, "%s", name);
  w->size = size;
  return w;
}

int main(void) {
  struct widget *w = make_widget("gear", 3);
  printf("made %s (%d)\n", w->name, w->size);
  w = NULL; /* forgot free(w) */
  return 0;
}
