/* Separate debug files. argv[1] = a stripped copy of libsym_dbglib.so,
 * argv[2] = "dwarf" (its debug info is findable: .gnu_debuglink next to it,
 * or by build-id under HEAPSCOPE_DEBUGINFO_PATH) or "none" (no debug info
 * anywhere: dynamic symbols only, and libdebuginfod must not get loaded). */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#define SYM_WANT_DEBUGINFOD_PROBE
#include "sym_helpers.h"

#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>


typedef uintptr_t (*entry_fn)(void);
typedef int (*int_fn)(void);
typedef const char *(*str_fn)(void);


int main(int argc, char **argv) {
  if (argc < 3) return 2;
  bool dwarf = strcmp(argv[2], "dwarf") == 0;
  char lib[4096];
  if (!realpath(argv[1], lib)) return 2;
  void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  uintptr_t pc = ((entry_fn)dlsym(h, "dbglib_entry"))();
  uintptr_t pub = ((entry_fn)dlsym(h, "dbglib_public_caller"))();
  int line = ((int_fn)dlsym(h, "dbglib_line"))();
  char file[4096];
  snprintf(file, sizeof file, "%s", ((str_fn)dlsym(h, "dbglib_file"))());
  uint32_t epoch = hs__modules_epoch();
  CHECK_INT(dlclose(h), 0);

  frames_t f;
  memset(&f, 0, sizeof f);
  hs__symbolize(pc, epoch, collect, &f);
  frames_t p;
  memset(&p, 0, sizeof p);
  hs__symbolize(pub, epoch, collect, &p);
  char buf[4096];
  heapscope_symbolize(pc, buf, sizeof buf);
  printf("static caller: %s\n", buf);
  CHECK_STR(f.f[0].module, lib);
  if (dwarf) {
    CHECK_STR(f.f[0].function, "dbglib_static_caller");
    CHECK_STR(f.f[0].file, file);
    CHECK_INT(f.f[0].line, line);
    CHECK_STR(p.f[0].function, "dbglib_public_caller");
    CHECK_STR(p.f[0].file, file);
    CHECK(p.f[0].line > 0);
  } else {
    CHECK(f.f[0].function == NULL || strcmp(f.f[0].function, "dbglib_static_caller") != 0);
    CHECK(f.f[0].file == NULL);
    CHECK_STR(p.f[0].function, "dbglib_public_caller");
    CHECK(p.f[0].file == NULL && p.f[0].line == 0);
    heapscope_symbolize(pub, buf, sizeof buf);
    printf("public caller: %s\n", buf);
    char expect[4096];
    snprintf(expect, sizeof expect, "dbglib_public_caller (%s+0x%zx)", lib,
             (size_t)p.f[0].module_offset);
    CHECK_STR(buf, expect);
  }
  dl_iterate_phdr(phdr_cb, NULL);
  CHECK(!saw_debuginfod);
  CHECK_DONE();
}
