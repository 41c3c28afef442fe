/* `heapscope --help-env` (tools/help_env.c). */
#ifndef HEAPSCOPE_TOOLS_HELP_ENV_H
#define HEAPSCOPE_TOOLS_HELP_ENV_H

#include <stdbool.h>
#include <stdio.h>

/* The runtime's settings table; names_only: one name a line. */
void heapscope_help_env(FILE *out, bool names_only);

#endif
