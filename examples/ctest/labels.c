#include "labels.h"

#include <stdlib.h>
#include <string.h>

char *label_make(const char *prefix, const char *text) {
  size_t n = strlen(prefix) + 2 + strlen(text) + 1;
  char *s = malloc(n);
  if (!s) return NULL;
  strcpy(s, prefix);
  strcat(s, ": ");
  strcat(s, text);
  return s;
}
