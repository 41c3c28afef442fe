/* `heapscope --help-env`: every environment variable the runtime reads,
 * printed from the runtime's own settings table (core/base/settings.def),
 * so the help can not drift from what the runtime does. */
#include "help_env.h"

#include <string.h>

typedef struct setting {
  const char *name, *kind, *dflt;
  long long min, max;
  const char *help;
} setting_t;

static const setting_t table[] = {
#define HS_SETTING(name, kind, dflt, min, max, help) {#name, #kind, dflt, min, max, help},
#include "core/base/settings.def"
#undef HS_SETTING
};

void heapscope_help_env(FILE *out, bool names_only) {
  if (!names_only)
    fprintf(out, "Environment variables read by libheapscope (all ignored in setuid/setgid\n"
                 "processes; a bad value prints one heapscope: line and the default is used):\n\n");
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const setting_t *s = &table[i];
    if (names_only) {
      fprintf(out, "%s\n", s->name);
      continue;
    }
    fprintf(out, "%s", s->name);
    if (!strcmp(s->kind, "BOOL")) fprintf(out, "  (boolean, default %s)", s->dflt);
    else if (!strcmp(s->kind, "INT") || !strcmp(s->kind, "BYTES"))
      fprintf(out, "  (%s %lld..%lld, default %s)",
              !strcmp(s->kind, "INT") ? "integer" : "bytes, K/M/G suffixes", s->min, s->max,
              s->dflt);
    else if (!strcmp(s->kind, "SECONDS"))
      fprintf(out, "  (seconds %lld..%lld, decimals allowed, default %s)", s->min, s->max, s->dflt);
    else if (*s->dflt) fprintf(out, "  (default %s)", s->dflt);
    fprintf(out, "\n    %s\n", s->help);
  }
}
