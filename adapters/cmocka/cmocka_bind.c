/* Finding the CMocka a suite runs on, and making its calls reach the adapter.
 *
 * The suite calls _cmocka_run_group_tests; which definition that call
 * reaches decides how the adapter gets in:
 *
 *   shared     the executable imports it (an undefined .dynsym entry) and
 *              the dynamic linker binds it to our interposer: libheapscope
 *              is preloaded or linked before libcmocka. Nothing to do.
 *   misbound   it imports it, but libcmocka comes first in the lookup scope
 *              (`-lcmocka -lheapscope`): libcmocka's entry points are
 *              redirected (hotpatch.c) to our interposers.
 *   static     the executable defines it (a vendored libcmocka.a): its
 *              .symtab gives the addresses of the runner, the error printer,
 *              _fail and the filter setters; the entry points are redirected.
 *   unsupported  a CMocka the adapter cannot reach: linked statically into
 *              a stripped executable (CMocka's CMOCKA_MESSAGE_OUTPUT string
 *              in its read-only data, no symbol table), only the deprecated
 *              _run_tests, a CMocka without cm_print_error/_fail, or code
 *              the kernel will not let us patch. The adapter says so (see
 *              cmocka_adapter.c) instead of giving a whole-executable verdict
 *              per test.
 *
 * The adapter calls the originals: through dlsym for the shared library;
 * for a redirected function by putting its bytes back for the call (the
 * runner once per group, the printer once per failure message). The search
 * runs only when per-test checking is wanted (or the explicit runner is
 * used). A program with no CMocka at all costs two in-memory probes, a few
 * microseconds; a suite's executable is read directly (core/module/
 * exe_symbols.c, no libelf), .symtab only when the runner is not imported
 * (bench/cmocka/startup.sh measures both). */
#include "adapter.h"
#include "core/alloc/alloc.h"
#include "core/module/exe_symbols.h"
#include "hotpatch.h"

#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { S_RUN, S_PRINT, S_PRINT2, S_FAIL, S_TFILTER, S_SFILTER, S_OLD_RUN, S_COUNT };
static const char *const sym_names[S_COUNT] = {
    "_cmocka_run_group_tests", "cm_print_error",         "cmocka_print_error", "_fail",
    "cmocka_set_test_filter",  "cmocka_set_skip_filter", "_run_tests",
};

/* Redirected entry points and their originals. */
static hs_patch_t patches[S_COUNT];
static void *originals[S_COUNT];

static void *find(const char *name, void *ours) {
  void *p = dlsym(RTLD_NEXT, name);
  if (!p) p = dlsym(RTLD_DEFAULT, name);
  return p == ours ? NULL : p; /* never our own interposer */
}

/* ---- calling a redirected original ------------------------------------------ */

static int call_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                          cm_fixture_fn setup, cm_fixture_fn teardown) {
  /* Original bytes back for the whole run: a group run from inside a test
   * then reaches CMocka directly (nested runs are not checked anyway). */
  if (!hs__patch_set(&patches[S_RUN], false)) {
    hs__errorf("cannot restore CMocka's runner for group %s", name);
    return -1;
  }
  int rc = ((run_group_fn)originals[S_RUN])(name, tests, n, setup, teardown);
  hs__patch_set(&patches[S_RUN], true);
  return rc;
}

static void call_printer(int which, const char *format, va_list ap) {
  char msg[4096];
  vsnprintf(msg, sizeof msg, format, ap);
  if (!hs__patch_set(&patches[which], false)) return; /* else it would loop to us */
  ((print_error_fn)originals[which])("%s", msg);
  hs__patch_set(&patches[which], true);
}

static void call_print_error(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  call_printer(S_PRINT, format, ap);
  va_end(ap);
}

static void call_print_error2(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  call_printer(S_PRINT2, format, ap);
  va_end(ap);
}

static void call_filter(int which, const char *pattern) {
  if (!hs__patch_set(&patches[which], false)) return;
  ((set_filter_fn)originals[which])(pattern);
  hs__patch_set(&patches[which], true);
}
static void call_set_test_filter(const char *p) { call_filter(S_TFILTER, p); }
static void call_set_skip_filter(const char *p) { call_filter(S_SFILTER, p); }

/* ---- binding ---------------------------------------------------------------- */

static void unsupported(cm_api_t *api, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unsupported(cm_api_t *api, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hs__vsnprintf(api->unsupported_buf, sizeof api->unsupported_buf, fmt, ap);
  va_end(ap);
  api->unsupported = api->unsupported_buf;
}

static void *const replacements[S_COUNT] = {
    [S_RUN] = (void *)hs__cm_run_group_tests,       [S_PRINT] = (void *)hs__cm_print_error,
    [S_PRINT2] = (void *)hs__cmocka_print_error,    [S_TFILTER] = (void *)hs__cmocka_set_test_filter,
    [S_SFILTER] = (void *)hs__cmocka_set_skip_filter,
};

/* Redirects every entry point found (addr[i] != NULL) to our interposer;
 * NULL or why not. */
static const char *redirect(void *const addr[S_COUNT], const size_t size[S_COUNT]) {
  for (int i = 0; i < S_COUNT; i++) {
    if (!addr[i] || !replacements[i]) continue;
    const char *why = hs__patch_install(&patches[i], addr[i], size[i], replacements[i]);
    if (why) {
      for (int k = 0; k < i; k++) hs__patch_set(&patches[k], false);
      return why;
    }
    originals[i] = addr[i];
  }
  return NULL;
}

static void use_redirected(cm_api_t *api, void *const addr[S_COUNT]) {
  api->run_group = call_run_group;
  api->print_error = addr[S_PRINT] ? call_print_error : call_print_error2;
  api->print_error2 = addr[S_PRINT2] ? call_print_error2 : NULL;
  api->fail = (fail_fn)addr[S_FAIL];
  api->set_test_filter = addr[S_TFILTER] ? call_set_test_filter : NULL;
  api->set_skip_filter = addr[S_SFILTER] ? call_set_skip_filter : NULL;
}

/* The symbol size of a shared library's function (dladdr1), 0 if unknown. */
static size_t dso_symbol_size(void *addr) {
  Dl_info info;
  const ElfW(Sym) *sym = NULL;
  if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) return 0;
  return (size_t)sym->st_size;
}

static void bind_shared(cm_api_t *api) {
  api->binding = CM_SHARED;
  api->run_group = (run_group_fn)find("_cmocka_run_group_tests", (void *)hs__cm_run_group_tests);
  api->print_error = (print_error_fn)find("cm_print_error", (void *)hs__cm_print_error);
  api->print_error2 = (print_error_fn)find("cmocka_print_error", (void *)hs__cmocka_print_error);
  if (!api->print_error) api->print_error = api->print_error2;
  api->fail = (fail_fn)find("_fail", NULL);
  api->set_test_filter =
      (set_filter_fn)find("cmocka_set_test_filter", (void *)hs__cmocka_set_test_filter);
  api->set_skip_filter =
      (set_filter_fn)find("cmocka_set_skip_filter", (void *)hs__cmocka_set_skip_filter);
}

/* libcmocka bound ahead of us: redirect the copy the executable reaches. */
static void bind_misbound(cm_api_t *api, void *bound_runner) {
  void *addr[S_COUNT] = {0};
  size_t size[S_COUNT] = {0};
  addr[S_RUN] = bound_runner;
  for (int i = S_PRINT; i < S_OLD_RUN; i++) addr[i] = dlsym(RTLD_DEFAULT, sym_names[i]);
  if (addr[S_PRINT] == (void *)hs__cm_print_error) addr[S_PRINT] = NULL;
  if (addr[S_PRINT2] == (void *)hs__cmocka_print_error) addr[S_PRINT2] = NULL;
  if (addr[S_TFILTER] == (void *)hs__cmocka_set_test_filter) addr[S_TFILTER] = NULL;
  if (addr[S_SFILTER] == (void *)hs__cmocka_set_skip_filter) addr[S_SFILTER] = NULL;
  for (int i = 0; i < S_OLD_RUN; i++)
    if (addr[i]) size[i] = dso_symbol_size(addr[i]);
  const char *why = (!addr[S_PRINT] && !addr[S_PRINT2]) || !addr[S_FAIL]
                        ? "its cm_print_error or _fail is missing"
                        : redirect(addr, size);
  if (why) {
    unsupported(api,
                "libcmocka is linked ahead of libheapscope in %s, so CMocka's runner bypasses "
                "heapscope, and it cannot be redirected (%s); link heapscope::cmocka, or "
                "-lheapscope before -lcmocka, or preload libheapscope.so",
                hs__exe_path(), why);
    bind_shared(api);
    return;
  }
  api->binding = CM_MISBOUND;
  use_redirected(api, addr);
}

static void bind_static(cm_api_t *api, const hs_exe_sym_t *s) {
  void *addr[S_COUNT] = {0};
  size_t size[S_COUNT] = {0};
  for (int i = 0; i < S_OLD_RUN; i++) {
    addr[i] = (void *)s[i].addr;
    size[i] = s[i].size;
  }
  const char *why = NULL;
  if (!addr[S_PRINT] && !addr[S_PRINT2])
    why = "it has neither cm_print_error nor cmocka_print_error: an unknown CMocka version";
  else if (!addr[S_FAIL])
    why = "it has no _fail: an unknown CMocka version";
  else
    why = redirect(addr, size);
  if (why) {
    unsupported(api,
                "CMocka is linked statically into %s and cannot be redirected to heapscope (%s); "
                "link libcmocka.so instead",
                hs__exe_path(), why);
    api->binding = CM_NONE;
    return;
  }
  api->binding = CM_STATIC;
  use_redirected(api, addr);
}

void hs__cmocka_bind(cm_api_t *api) {
  memset(api, 0, sizeof *api);
  /* Most processes of a HEAPCHECK run hold no CMocka: two probes of what
   * the loader mapped say so in microseconds. A static CMocka carries the
   * name of its output variable in its read-only data; a suite on the
   * shared library names libcmocka (and its runner) in its dynamic
   * string table. */
  bool static_marker = hs__exe_rodata_contains("CMOCKA_MESSAGE_OUTPUT");
  if (!static_marker && !hs__exe_dynstr_contains("cmocka") &&
      !hs__exe_dynstr_contains("_run_tests")) {
    /* A CMocka loaded later (dlopen) reaches the interposers, which then
     * look it up (hs__cmocka_bind_late). */
    api->binding = CM_NONE;
    return;
  }
  hs__runtime_enter(); /* dlsym and dladdr may allocate */
  hs_exe_sym_t s[S_COUNT];
  for (int i = 0; i < S_COUNT; i++) s[i].name = sym_names[i];
  hs_exe_status_t st = hs__exe_symbols(s, S_COUNT);
  if (s[S_RUN].imported) {
    void *bound = dlsym(RTLD_DEFAULT, "_cmocka_run_group_tests");
    if (bound && bound != (void *)hs__cm_run_group_tests) bind_misbound(api, bound);
    else bind_shared(api);
  } else if (s[S_RUN].addr) {
    bind_static(api, s);
  } else if (s[S_OLD_RUN].imported || s[S_OLD_RUN].addr) {
    unsupported(api,
                "%s runs its tests with CMocka's deprecated run_tests(), which heapscope does "
                "not check per test; use cmocka_run_group_tests()",
                hs__exe_path());
    bind_shared(api);
  } else if (static_marker && st == HS_EXE_STRIPPED) {
    unsupported(api,
                "CMocka is linked statically into %s, which is stripped (no symbol table), so "
                "heapscope cannot find its runner; keep the symbol table (do not strip test "
                "executables) or link libcmocka.so",
                hs__exe_path());
    api->binding = CM_NONE;
  } else {
    api->binding = CM_NONE;
  }
  hs__runtime_leave();
}

void hs__cmocka_bind_late(cm_api_t *api) {
  if (api->binding != CM_NONE || api->unsupported) return;
  hs__runtime_enter();
  bind_shared(api);
  if (!api->run_group) api->binding = CM_NONE;
  hs__runtime_leave();
}
