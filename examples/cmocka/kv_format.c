#include "kvstore.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *kv_format_pair(const char *key, const char *value) {
  size_t n = strlen(key) + strlen(value) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s=%s", key, value);
  return out;
}

char *kv_copy_upper(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n + 1);
  if (!out) return NULL;
  for (size_t i = 0; i <= n; i++) out[i] = (char)toupper((unsigned char)s[i]);
  return out;
}
