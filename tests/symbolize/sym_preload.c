/* A plain PIE program (not linked with heapscope) run with the shared
 * runtime in LD_PRELOAD: the public heapscope_symbolize, the dlclose
 * interposer and symbolization after dlclose all work there.
 * argv[1] = libsym_testlib.so */
#include "check.h"
#define SYM_WANT_DEBUGINFOD_PROBE
#include "sym_helpers.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>

typedef int (*symbolize_fn)(uintptr_t pc, char *buf, size_t size);
typedef uintptr_t (*entry_fn)(void);
typedef int (*int_fn)(void);
typedef const char *(*str_fn)(void);

static uintptr_t g_pc;
static int g_line;

__attribute__((noinline)) static void capture(void) {
  g_pc = (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) void preload_caller(void) {
  g_line = __LINE__; capture();
}


int main(int argc, char **argv) {
  if (argc < 2) return 2;
  symbolize_fn symbolize = (symbolize_fn)dlsym(RTLD_DEFAULT, "heapscope_symbolize");
  if (!symbolize) {
    fprintf(stderr, "heapscope_symbolize not found: is the runtime preloaded?\n");
    return 1;
  }
  char buf[4096], expect[4096];
  preload_caller();
  CHECK_INT(symbolize(g_pc, buf, sizeof buf), 0);
  snprintf(expect, sizeof expect, "preload_caller %s:%d", __FILE__, g_line);
  CHECK_STR(buf, expect);
  printf("main program: %s\n", buf);

  void *h = dlopen(argv[1], RTLD_NOW);
  CHECK(h != NULL);
  if (!h) return 1;
  uintptr_t pc = ((entry_fn)dlsym(h, "testlib_entry"))();
  int line = ((int_fn)dlsym(h, "testlib_line"))();
  char file[4096];
  snprintf(file, sizeof file, "%s", ((str_fn)dlsym(h, "testlib_file"))());
  CHECK_INT(dlclose(h), 0);
  CHECK_INT(symbolize(pc, buf, sizeof buf), 0);
  snprintf(expect, sizeof expect, "testlib_static_caller %s:%d", file, line);
  CHECK_STR(buf, expect);
  printf("after dlclose: %s\n", buf);

  /* libdw (a dependency of the runtime) has no debug info installed. */
  void *dwfl_begin = dlsym(RTLD_DEFAULT, "dwfl_begin");
  if (dwfl_begin) {
    CHECK_INT(symbolize((uintptr_t)dwfl_begin + 1, buf, sizeof buf), 0);
    printf("libdw: %s\n", buf);
    CHECK(strncmp(buf, "dwfl_begin (", 12) == 0);
  }
  CHECK_INT(symbolize(0x10, buf, sizeof buf), -ENOENT);
  dl_iterate_phdr(phdr_cb, NULL);
  CHECK(!saw_debuginfod);
  CHECK_DONE();
}
