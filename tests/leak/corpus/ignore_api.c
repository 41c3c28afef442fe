/* heapscope_ignore_object / heapscope_disable / heapscope_enable (linked
 * against libheapscope). Ignored objects and what they point to are not
 * reported; allocations between disable and enable (nestable) neither; an
 * unignored object is reported again. Exactly two real leaks remain. */
#include "corpus.h"
#include <heapscope/heapscope.h>
#include <string.h>

struct holder {
  void *child;
  char name[8];
};

NOINLINE void *ig_alloc(size_t n) {
  void *p = malloc(n); /* @ig_alloc */
  memset(p, 0, n);
  return p;
}

NOINLINE void ignored_tree(void) {
  struct holder *h = heapscope_ignore_object(ig_alloc(sizeof *h));
  h->child = ig_alloc(200); /* owned by an ignored object */
  corpus_touch(h);
}

NOINLINE void disabled_region(void) {
  heapscope_disable();
  heapscope_disable();
  corpus_touch(ig_alloc(300));
  heapscope_enable();
  corpus_touch(ig_alloc(310)); /* still disabled: nested */
  heapscope_enable();
}

NOINLINE void unignored(void) {
  void *p = heapscope_ignore_object(ig_alloc(56)); /* @ig_unignored */
  heapscope_unignore_object(p);
  corpus_touch(p);
}

NOINLINE void really_leaked(void) { corpus_touch(ig_alloc(24)); /* @ig_real */ }

int main(void) {
  ignored_tree();
  disabled_region();
  unignored();
  really_leaked();
  heapscope_enable(); /* unbalanced enable is harmless */
  return 0;
}
