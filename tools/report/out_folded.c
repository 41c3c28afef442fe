/* heapscope report: --folded, Brendan Gregg's collapsed stacks
 *
 *   root;caller;...;leaf VALUE
 *
 * one line per distinct stack at the chosen granularity, sorted, the value
 * in the sample type's unit as an integer (what flamegraph.pl, speedscope
 * and inferno import). With --base each line carries both values,
 * "stack BASE NEW", the input of flamegraph.pl's differential mode
 * (difffolded.pl's output). With --tests the test is the root frame.
 * Frame names never contain ';' or a newline here (replaced by ':' and a
 * space). */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void put_name(FILE *f, const char *s) {
  for (; *s; s++) {
    char c = *s;
    if (c == ';') c = ':';
    else if (c == '\n' || c == '\r') c = ' ';
    putc(c, f);
  }
}

bool rp_write_folded(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, o->gran, &nd);
  /* Sorted by name: stacks equal at this granularity are adjacent, and
   * summed into one line. */
  uint32_t count;
  uint32_t *order = rp_sort_stacks(v, &nd, o->tests, true, &count);
  char label[1024];
  for (uint32_t i = 0; i < count;) {
    uint32_t s = order[i];
    int64_t val = 0, base = 0;
    uint32_t n = rp_stack_depth(v, s);
    uint32_t levels = n + (o->tests ? 1 : 0);
    uint32_t j = i;
    for (; j < count && (j == i || (rp_common_levels(v, &nd, o->tests, s, order[j]) == levels &&
                                        rp_stack_depth(v, order[j]) == n));
         j++) {
      val += v->has_base ? rp_stack_main_value(v, order[j]) : rp_stack_value(v, order[j]);
      base += rp_stack_base_value(v, order[j]);
    }
    i = j;
    if (!val && !base) continue;
    const uint32_t *fr = rp_stack_frames(v, s);
    bool first = true;
    if (o->tests) {
      rp_test_label(v, rp_stack_test(v, s), rp_stack_group(v, s), label, sizeof label);
      put_name(f, label);
      first = false;
    }
    for (uint32_t k = n; k-- > 0;) {
      if (!first) putc(';', f);
      first = false;
      put_name(f, rp_str_get(&v->st, nd.label[nd.of_frame[fr[k]]]));
    }
    if (first) fputs("[empty stack]", f);
    if (v->has_base) fprintf(f, " %" PRId64 " %" PRId64 "\n", base, val);
    else fprintf(f, " %" PRId64 "\n", val);
  }
  free(order);
  rp_nodes_free(&nd);
  return !ferror(f);
}
