/* The runtime's settings: every environment variable it reads, listed once
 * in core/base/settings.def with its kind, default, range and help, and
 * read once at start-up (the first malloc, or the runtime's constructor,
 * whichever comes first) through one secure lookup.
 *
 * Secure execution: in a setuid/setgid process (getauxval(AT_SECURE), as
 * glibc's secure_getenv) every variable is ignored, so an unprivileged
 * caller cannot make a privileged program read or write files of its
 * choosing; one heapscope: line says so when any was set.
 *
 * Values are copied at start-up: a program that changes its environment
 * later does not change the runtime's configuration. */
#ifndef HEAPSCOPE_CORE_BASE_SETTINGS_H
#define HEAPSCOPE_CORE_BASE_SETTINGS_H

#include <stdbool.h>

typedef enum hs_setting_id {
#define HS_SETTING(name, kind, dflt, min, max, help) HS_SET_##name,
#include "core/base/settings.def"
#undef HS_SETTING
  HS_SET_COUNT
} hs_setting_id_t;

/* Reads and validates every variable; bad values print one heapscope: line
 * and keep the default. Idempotent and thread safe; never allocates. */
void hs__settings_init(void);
/* True when the process runs in secure-execution mode (variables ignored). */
bool hs__settings_secure(void);

/* The value as given, NULL when unset or empty (STR settings). */
const char *hs__setting_str(hs_setting_id_t id);
/* The parsed value, or the default (INT, BYTES and BOOL settings; SECONDS
 * settings in nanoseconds). */
long long hs__setting_int(hs_setting_id_t id);
bool hs__setting_bool(hs_setting_id_t id);
/* The variable was set to a non-empty, valid value. */
bool hs__setting_given(hs_setting_id_t id);

#endif
