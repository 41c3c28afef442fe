/* The CMocka adapter's internal interface: CMocka's ABI as the adapter uses
 * it, and how the adapter reaches CMocka (cmocka_bind.c). */
#ifndef HEAPSCOPE_ADAPTERS_CMOCKA_ADAPTER_H
#define HEAPSCOPE_ADAPTERS_CMOCKA_ADAPTER_H

#include "core/base/base.h"

/* CMocka's ABI (identical in 1.1.5 and 2.0). */
typedef void (*cm_test_fn)(void **state);
typedef int (*cm_fixture_fn)(void **state);
struct CMUnitTest {
  const char *name;
  cm_test_fn test_func;
  cm_fixture_fn setup_func;
  cm_fixture_fn teardown_func;
  void *initial_state;
};
typedef int (*run_group_fn)(const char *, const struct CMUnitTest *, size_t, cm_fixture_fn,
                            cm_fixture_fn);
typedef void (*print_error_fn)(const char *format, ...);
typedef void (*fail_fn)(const char *file, int line);
typedef void (*set_filter_fn)(const char *pattern);

/* How the suite's CMocka is reached. */
typedef enum cm_binding {
  CM_SHARED,     /* libcmocka.so behind our interposers (preloaded, or linked first) */
  CM_STATIC,     /* linked into the executable: entry points redirected */
  CM_MISBOUND,   /* libcmocka linked ahead of us: its entry points redirected */
  CM_NONE,       /* no CMocka found in the executable */
} cm_binding_t;

/* CMocka's functions as the adapter calls them: the originals, never our
 * interposers or the redirected entry points. */
typedef struct cm_api {
  run_group_fn run_group;
  print_error_fn print_error;    /* cm_print_error (1.1.5), else cmocka_print_error */
  print_error_fn print_error2;   /* cmocka_print_error (2.x), when it exists */
  fail_fn fail;
  set_filter_fn set_test_filter, set_skip_filter;
  cm_binding_t binding;
  /* Why per-test checks cannot work in this executable (a stripped static
   * CMocka, the old run_tests() API, code that cannot be patched), or NULL. */
  const char *unsupported;
  char unsupported_buf[512];
} cm_api_t;

/* Our interposers (cmocka_adapter.c), under hidden names: their addresses
 * are our own functions even when the executable defines the public names
 * (a static CMocka), which it then exports over ours. */
int hs__cm_run_group_tests(const char *, const struct CMUnitTest *, size_t, cm_fixture_fn,
                           cm_fixture_fn);
void hs__cm_print_error(const char *format, ...);
void hs__cmocka_print_error(const char *format, ...);
void hs__cmocka_set_test_filter(const char *pattern);
void hs__cmocka_set_skip_filter(const char *pattern);

/* Finds CMocka and fills api (cmocka_bind.c). Reads the executable's symbol
 * tables; a statically linked or misbound CMocka gets its entry points
 * redirected to the interposers above. Called once. */
void hs__cmocka_bind(cm_api_t *api);
/* When the executable has no CMocka (CM_NONE): a libcmocka loaded since
 * (dlopen) is looked up through the dynamic linker. Idempotent. */
void hs__cmocka_bind_late(cm_api_t *api);

#endif
