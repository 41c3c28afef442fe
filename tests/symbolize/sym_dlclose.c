/* dlopen'd libraries: symbolize while loaded, after dlclose with the epoch
 * from before the dlclose, a library never symbolized before its dlclose,
 * another library reusing the addresses, a file replaced on disk after
 * dlclose (build-id mismatch: module+offset only), and a library opened
 * by a relative path.
 * argv[1] = libsym_testlib.so, argv[2] = libsym_testlib2.so */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#include "sym_helpers.h"

#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <unistd.h>


static frames_t sym(uintptr_t pc, uint32_t epoch) {
  frames_t fr;
  memset(&fr, 0, sizeof fr);
  hs__symbolize(pc, epoch, collect, &fr);
  return fr;
}

static frames_t sym_exact(uintptr_t pc, uint32_t epoch) {
  frames_t fr;
  memset(&fr, 0, sizeof fr);
  hs__symbolize_exact(pc, epoch, collect, &fr);
  return fr;
}

typedef uintptr_t (*entry_fn)(void);
typedef int (*int_fn)(void);
typedef const char *(*str_fn)(void);

static void *must_dlsym(void *h, const char *name) {
  void *p = dlsym(h, name);
  if (!p) {
    fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
    exit(1);
  }
  return p;
}

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (in < 0 || out < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) return -1;
  close(in);
  close(out);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s libsym_testlib.so libsym_testlib2.so\n", argv[0]);
    return 2;
  }
  const char *lib1 = argv[1], *lib2 = argv[2];

  /* ---- round 1: symbolize while loaded, then after dlclose ---- */
  void *h = dlopen(lib1, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  entry_fn entry = (entry_fn)must_dlsym(h, "testlib_entry");
  uintptr_t line_fn_addr = (uintptr_t)must_dlsym(h, "testlib_line");
  uintptr_t pc = entry();
  int line = ((int_fn)must_dlsym(h, "testlib_line"))();
  char file[4096];
  snprintf(file, sizeof file, "%s", ((str_fn)must_dlsym(h, "testlib_file"))());
  uint32_t e0 = hs__modules_epoch();

  frames_t f = sym(pc, e0);
  CHECK_INT(f.n, 1);
  CHECK_STR(f.f[0].function, "testlib_static_caller");
  CHECK_STR(f.f[0].file, file);
  CHECK_INT(f.f[0].line, line);
  CHECK(ends_with(f.f[0].module, "/libsym_testlib.so"));
  CHECK(f.f[0].module && f.f[0].module[0] == '/');
  const hs_module_t *m1 = hs__module_for(pc - 1, e0);
  CHECK(m1 != NULL && m1->unload_epoch == UINT32_MAX);
  if (!m1) return 1;
  CHECK(f.f[0].module_offset == pc - m1->base);

  CHECK_INT(dlclose(h), 0);
  uint32_t e1 = hs__modules_epoch();
  CHECK(e1 > e0); /* the dlclose interposer saw it go */
  CHECK(m1->unload_epoch != UINT32_MAX && m1->unload_epoch <= e1 && m1->unload_epoch > e0);
  CHECK(hs__module_for(pc - 1, e0) == m1);

  frames_t g = sym(pc, e0);
  CHECK_INT(g.n, 1);
  CHECK_STR(g.f[0].function, "testlib_static_caller");
  CHECK_STR(g.f[0].file, file);
  CHECK_INT(g.f[0].line, line);
  CHECK(g.f[0].function == f.f[0].function); /* stable strings */
  /* An address in the unloaded library that was never symbolized. */
  frames_t gl = sym_exact(line_fn_addr, e0);
  CHECK_STR(gl.f[0].function, "testlib_line");
  CHECK_STR(gl.f[0].file, file);

  /* ---- round 2: closed before it was ever symbolized, and another library
   *      (same shape) loaded right after, usually at the same addresses ---- */
  h = dlopen(lib1, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  entry = (entry_fn)must_dlsym(h, "testlib_entry");
  uintptr_t pc2 = entry();
  uint32_t e2 = hs__modules_epoch();
  CHECK_INT(dlclose(h), 0);
  CHECK(hs__modules_epoch() > e2);
  void *h3 = dlopen(lib2, RTLD_NOW | RTLD_LOCAL);
  CHECK(h3 != NULL);
  if (!h3) return 1;
  uintptr_t pc3 = ((entry_fn)must_dlsym(h3, "other_entry"))();
  int line3 = ((int_fn)must_dlsym(h3, "other_line"))();
  char file3[4096];
  snprintf(file3, sizeof file3, "%s", ((str_fn)must_dlsym(h3, "other_file"))());
  uint32_t e3 = hs__modules_epoch();

  const hs_module_t *m2 = hs__module_for(pc2 - 1, e2);
  CHECK(m2 != NULL && m2 != m1);
  if (m2) CHECK(m2->sym_state == 0); /* no Dwfl opened yet */
  frames_t f2 = sym(pc2, e2);
  CHECK_INT(f2.n, 1);
  CHECK_STR(f2.f[0].function, "testlib_static_caller");
  CHECK_STR(f2.f[0].file, file);
  CHECK_INT(f2.f[0].line, line);
  CHECK(ends_with(f2.f[0].module, "/libsym_testlib.so"));

  frames_t f3 = sym(pc3, e3);
  CHECK_STR(f3.f[0].function, "other_static_caller");
  CHECK_STR(f3.f[0].file, file3);
  CHECK_INT(f3.f[0].line, line3);
  CHECK(ends_with(f3.f[0].module, "/libsym_testlib2.so"));
  const hs_module_t *m3 = hs__module_for(pc3 - 1, e3);
  CHECK(m3 != NULL);
  if (m2 && m3 && m3->lo == m2->lo && pc3 == pc2) {
    printf("testlib2 reuses testlib's addresses: epochs tell them apart\n");
    CHECK(hs__module_for(pc2 - 1, e2) == m2);
    CHECK(hs__module_for(pc2 - 1, e3) == m3);
    CHECK(hs__module_for(pc2 - 1, hs__modules_epoch()) == m3);
  } else {
    printf("testlib2 did not reuse testlib's addresses (overlap checks skipped)\n");
  }
  char buf[4096], expect[4096];
  snprintf(expect, sizeof expect, "other_static_caller %s:%d", file3, line3);
  CHECK_INT(heapscope_symbolize(pc3, buf, sizeof buf), 0); /* current epoch */
  CHECK_STR(buf, expect);
  CHECK_INT(dlclose(h3), 0);
  snprintf(expect, sizeof expect, "testlib_static_caller %s:%d", file, line);
  frames_t again = sym(pc2, e2);
  CHECK_STR(again.f[0].function, "testlib_static_caller");
  printf("round 2: %s  |  %s\n", expect, buf);

  /* ---- round 3: a file never opened by the symbolizer (a fresh copy),
   *      dlclose'd before symbolization: opened from disk afterwards ---- */
  char tmpdir[] = "/tmp/hs-sym-XXXXXX";
  CHECK(mkdtemp(tmpdir) != NULL);
  char fresh[4096];
  snprintf(fresh, sizeof fresh, "%s/libfresh.so", tmpdir);
  CHECK_INT(copy_file(lib1, fresh), 0);
  h = dlopen(fresh, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  uintptr_t pcf = ((entry_fn)must_dlsym(h, "testlib_entry"))();
  uint32_t ef = hs__modules_epoch();
  CHECK_INT(dlclose(h), 0);
  frames_t ff = sym(pcf, ef);
  CHECK_STR(ff.f[0].function, "testlib_static_caller");
  CHECK_STR(ff.f[0].file, file);
  CHECK_INT(ff.f[0].line, line);
  CHECK_STR(ff.f[0].module, fresh);
  unlink(fresh);

  /* ---- round 4: the file is replaced on disk after dlclose ---- */
  char copy[4096];
  snprintf(copy, sizeof copy, "%s/libcopy.so", tmpdir);
  CHECK_INT(copy_file(lib1, copy), 0);
  h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  uintptr_t pc4 = ((entry_fn)must_dlsym(h, "testlib_entry"))();
  uint32_t e4 = hs__modules_epoch();
  CHECK_INT(dlclose(h), 0);
  unlink(copy);
  CHECK_INT(copy_file(lib2, copy), 0); /* different build-id */
  frames_t f4 = sym(pc4, e4);
  CHECK(f4.n == 1 && f4.f[0].function == NULL && f4.f[0].file == NULL);
  CHECK_STR(f4.f[0].module, copy);
  const hs_module_t *m4 = hs__module_for(pc4 - 1, e4);
  snprintf(expect, sizeof expect, "(%s+0x%zx)", copy, (size_t)(pc4 - (m4 ? m4->base : 0)));
  heapscope_symbolize(pc4, buf, sizeof buf);
  CHECK_STR(buf, expect);
  printf("replaced on disk: %s\n", buf);
  unlink(copy);

  /* ---- round 5: reloading shares the opened file and its cache ---- */
  h = dlopen(lib1, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  uintptr_t pc6 = ((entry_fn)must_dlsym(h, "testlib_entry"))();
  frames_t f6 = sym(pc6, hs__modules_epoch());
  CHECK(f6.f[0].function == f.f[0].function && f6.f[0].line == line);
  const hs_module_t *m6 = hs__module_for(pc6 - 1, hs__modules_epoch());
  CHECK(m6 && m6 != m1 && m6->sym_obj == m1->sym_obj);
  CHECK_INT(dlclose(h), 0);

  /* ---- round 6: opened by a relative path, symbolized after chdir ---- */
  char dir[4096], base[4096], cwd[4096], rel[4200];
  snprintf(dir, sizeof dir, "%s", lib1);
  snprintf(base, sizeof base, "%s", lib1);
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK_INT(chdir(dirname(dir)), 0);
  snprintf(rel, sizeof rel, "./%s", basename(base));
  h = dlopen(rel, RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL);
  if (!h) return 1;
  uintptr_t pc5 = ((entry_fn)must_dlsym(h, "testlib_entry"))();
  uint32_t e5 = hs__modules_epoch();
  CHECK_INT(chdir(tmpdir), 0);
  CHECK_INT(dlclose(h), 0);
  frames_t f5 = sym(pc5, e5);
  CHECK_STR(f5.f[0].function, "testlib_static_caller");
  CHECK_INT(f5.f[0].line, line);
  CHECK(f5.f[0].module && f5.f[0].module[0] == '/' && ends_with(f5.f[0].module, "/libsym_testlib.so"));
  CHECK_INT(chdir(cwd), 0);
  rmdir(tmpdir);
  CHECK_DONE();
}
