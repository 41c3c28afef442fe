/* Test program for the CI report formats: a direct leak (a record) that
 * holds the only pointer to a second block (an indirect leak). With the
 * argument "clean" it frees both and exits cleanly. The marker comments
 * let the test scripts find the expected line numbers. */
#include <stdlib.h>
#include <string.h>

struct record {
  char *payload;
  char tag[32];
};

__attribute__((noinline)) static char *ci_make_payload(size_t n) {
  char *p = malloc(n); /* LEAK-INDIRECT */
  if (!p) abort();
  memset(p, 'x', n);
  return p;
}

__attribute__((noinline)) static struct record *ci_make_record(void) {
  struct record *r = malloc(sizeof *r); /* LEAK-DIRECT */
  if (!r) abort();
  strcpy(r->tag, "record");
  r->payload = ci_make_payload(100);
  return r;
}

/* The checker scans stacks conservatively: overwrite the dead frames that
 * held the pointers, so that nothing but the record refers to the payload. */
__attribute__((noinline)) static void ci_scrub_stack(void) {
  volatile char junk[16384];
  memset((char *)junk, 0, sizeof junk);
}

int main(int argc, char **argv) {
  struct record *r = ci_make_record();
  if (argc > 1 && !strcmp(argv[1], "clean")) {
    free(r->payload);
    free(r);
  }
  r = NULL;
  ci_scrub_stack();
  return 0;
}
