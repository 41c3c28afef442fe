/* Environment access that works from the first malloc call, before libc's
 * constructors run: reads `environ` directly, never allocates. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

extern char **environ;

const char *hs__getenv(const char *name) {
  size_t n = strlen(name);
  char **env = environ;
  if (!env) return NULL;
  for (; *env; env++)
    if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

long long hs__env_int(const char *name, long long dflt, long long min,
                      long long max) {
  const char *v = hs__getenv(name);
  if (!v || !*v) return dflt;
  long long r = 0;
  const char *p = v;
  bool neg = false;
  if (*p == '-') { neg = true; p++; }
  if (!*p) goto bad;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') goto bad;
    if (__builtin_mul_overflow(r, 10, &r) || __builtin_add_overflow(r, *p - '0', &r))
      goto bad;
  }
  if (neg) r = -r;
  if (r < min || r > max) goto bad;
  return r;
bad:
  hs__errorf("invalid %s='%s' (expected an integer in [%lld, %lld]); using %lld",
             name, v, min, max, dflt);
  return dflt;
}

bool hs__env_bool(const char *name, bool dflt) {
  const char *v = hs__getenv(name);
  if (!v || !*v) return dflt;
  if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
      !strcasecmp(v, "on") || !strcasecmp(v, "t") || !strcasecmp(v, "y"))
    return true;
  if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
      !strcasecmp(v, "off") || !strcasecmp(v, "f") || !strcasecmp(v, "n"))
    return false;
  hs__errorf("invalid %s='%s' (expected true or false); using %s", name, v,
             dflt ? "true" : "false");
  return dflt;
}
