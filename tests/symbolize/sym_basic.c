/* Symbolizing return addresses in a PIE main program (-O0; also built as a
 * non-PIE executable with HS_TEST_NO_PIE): exact caller
 * function and call line, module records, stable strings, the public
 * formatting, unknown addresses, libc frames, writable segments, threads,
 * and that no library (libdebuginfod) is ever loaded by the symbolizer. */
#include "check.h"
#include "core/alloc/alloc.h"
#include "core/symbol/symbolize.h"
#include "sym_helpers.h"

#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, used))


static frames_t sym(uintptr_t pc) {
  frames_t fr;
  memset(&fr, 0, sizeof fr);
  int n = hs__symbolize(pc, hs__modules_epoch(), collect, &fr);
  CHECK_INT(n, fr.n);
  return fr;
}


static uintptr_t g_pc;
static int g_line;
int g_data = 5;
static char g_bss[64];

NOINLINE static void capture(void) { g_pc = (uintptr_t)__builtin_return_address(0); }

NOINLINE void caller_global(void) {
  g_line = __LINE__; capture();
}

NOINLINE static void caller_static(void) {
  g_line = __LINE__; capture();
}

static uintptr_t g_libc_pc;
static int cmp_int(const void *a, const void *b) {
  if (!g_libc_pc) g_libc_pc = (uintptr_t)__builtin_return_address(0);
  return *(const int *)a - *(const int *)b;
}

typedef struct seg_search {
  uintptr_t want;
  const char *path;
  int hits;
  int total;
} seg_search_t;

static void seg_cb(uintptr_t start, uintptr_t end, const char *path, void *ctx) {
  seg_search_t *s = ctx;
  s->total++;
  if (s->want >= start && s->want < end) {
    s->hits++;
    s->path = path;
  }
}

static int saw_debuginfod;
static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  if (info->dlpi_name && strstr(info->dlpi_name, "debuginfod")) saw_debuginfod = 1;
  return 0;
}

static uintptr_t thread_pc;
static const char *thread_fn, *thread_file;
static void *thread_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 300; i++) {
    frames_t fr = sym(thread_pc);
    CHECK(fr.n == 1 && fr.f[0].function == thread_fn && fr.f[0].file == thread_file);
  }
  return NULL;
}

int main(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  CHECK(n > 0);
  exe[n > 0 ? n : 0] = '\0';

  /* -- the caller's function and the exact line of the call -- */
  caller_global();
  int line_global = g_line;
  uintptr_t pc_global = g_pc;
  frames_t fr = sym(pc_global);
  CHECK_INT(fr.n, 1);
  CHECK_STR(fr.f[0].function, "caller_global");
  CHECK_STR(fr.f[0].file, __FILE__);
  CHECK(fr.f[0].file && fr.f[0].file[0] == '/');
  CHECK_INT(fr.f[0].line, line_global);
  CHECK_STR(fr.f[0].module, exe);
  CHECK(!fr.f[0].inlined);

  caller_static();
  frames_t fs = sym(g_pc);
  CHECK_INT(fs.n, 1);
  CHECK_STR(fs.f[0].function, "caller_static");
  CHECK_STR(fs.f[0].file, __FILE__);
  CHECK_INT(fs.f[0].line, g_line);

  /* -- module record: PIE main program -- */
  const hs_module_t *m = hs__module_for(pc_global - 1, hs__modules_epoch());
  CHECK(m != NULL);
  if (m) {
    CHECK_STR(m->path, exe);
    CHECK(m->is_main);
#ifdef HS_TEST_NO_PIE
    CHECK(m->base == 0); /* ET_EXEC: no load bias */
#else
    CHECK(m->base != 0); /* PIE: a non-zero load bias */
#endif
    CHECK(m->lo <= pc_global && pc_global < m->hi);
    CHECK(m->unload_epoch == UINT32_MAX);
    CHECK(m->load_epoch <= hs__modules_epoch());
    CHECK(m->build_id_len == 20);
    CHECK(fr.f[0].module_offset == pc_global - m->base);
  }

  /* -- exact code addresses -- */
  frames_t fx;
  memset(&fx, 0, sizeof fx);
  hs__symbolize_exact((uintptr_t)&caller_global, hs__modules_epoch(), collect, &fx);
  CHECK_STR(fx.f[0].function, "caller_global");

  /* -- strings are stable -- */
  frames_t again = sym(pc_global);
  CHECK(again.f[0].function == fr.f[0].function);
  CHECK(again.f[0].file == fr.f[0].file);
  char saved_fn[256], saved_file[4096];
  snprintf(saved_fn, sizeof saved_fn, "%s", fr.f[0].function ? fr.f[0].function : "");
  snprintf(saved_file, sizeof saved_file, "%s", fr.f[0].file ? fr.f[0].file : "");

  /* -- a libc frame (return address inside qsort's merge sort) -- */
  int arr[8] = {5, 3, 7, 1, 8, 2, 6, 4};
  qsort(arr, 8, sizeof arr[0], cmp_int);
  frames_t fl = sym(g_libc_pc);
  CHECK(fl.n >= 1);
  CHECK(ends_with(fl.f[fl.n - 1].module, "libc.so.6"));
  CHECK(fl.f[0].function != NULL);
  for (int i = 0; i < fl.n; i++)
    printf("libc frame %d: %s %s:%d%s\n", i, fl.f[i].function ? fl.f[i].function : "??",
           fl.f[i].file ? fl.f[i].file : "??", fl.f[i].line, fl.f[i].inlined ? " (inlined)" : "");
  const hs_module_t *lm = hs__module_for(g_libc_pc - 1, hs__modules_epoch());
  if (lm && lm->build_id_len) {
    char dbg[512];
    int k = snprintf(dbg, sizeof dbg, "/usr/lib/debug/.build-id/%02x/", lm->build_id[0]);
    for (int i = 1; i < lm->build_id_len; i++)
      k += snprintf(dbg + k, sizeof dbg - (size_t)k, "%02x", lm->build_id[i]);
    snprintf(dbg + k, sizeof dbg - (size_t)k, ".debug");
    if (access(dbg, R_OK) == 0) {
      CHECK(fl.f[0].file != NULL && fl.f[0].line > 0); /* libc6-dbg is installed */
      CHECK(fl.f[fl.n - 1].function && strcmp(fl.f[fl.n - 1].function, "qsort_r") != 0);
    }
  }

  /* -- a library without any debug info (libdw itself): symtab names, and
   *    the missing debuginfo must not make libdw dlopen libdebuginfod -- */
  frames_t fd = sym(libdw_dwfl_begin() + 1);
  CHECK_STR(fd.f[0].function, "dwfl_begin");
  CHECK(ends_with(fd.f[0].module, "libdw.so.1"));
  char buf[512];
  CHECK_INT(heapscope_symbolize(libdw_dwfl_begin() + 1, buf, sizeof buf), 0);
  printf("libdw: %s\n", buf);
  CHECK(strncmp(buf, "dwfl_begin (", 12) == 0 && strstr(buf, "libdw.so.1+0x") != NULL);

  CHECK_STR(saved_fn, fr.f[0].function);
  CHECK_STR(saved_file, fr.f[0].file);

  /* -- heapscope_symbolize formatting -- */
  char expect[4096];
  snprintf(expect, sizeof expect, "caller_global %s:%d", __FILE__, line_global);
  CHECK_INT(heapscope_symbolize(pc_global, buf, sizeof buf), 0);
  CHECK_STR(buf, expect);
  char small[8];
  CHECK_INT(heapscope_symbolize(pc_global, small, sizeof small), -ERANGE);
  CHECK_INT(strlen(small), 7);
  CHECK_INT(heapscope_symbolize(pc_global, NULL, 10), -EINVAL);

  /* -- unknown addresses -- */
  frames_t fu = sym(0x10);
  CHECK_INT(fu.n, 1);
  CHECK(fu.f[0].function == NULL && fu.f[0].module == NULL && fu.f[0].file == NULL);
  char *heap = malloc(32);
  fu = sym((uintptr_t)heap + 8);
  CHECK(fu.n == 1 && fu.f[0].function == NULL && fu.f[0].module == NULL);
  CHECK_INT(heapscope_symbolize((uintptr_t)heap + 8, buf, sizeof buf), -ENOENT);
  CHECK_STR(buf, "(<unknown module>)");
  free(heap);
  CHECK_INT(hs__symbolize(0x10, hs__modules_epoch(), NULL, NULL), 1);

  /* -- writable segments of loaded objects -- */
  seg_search_t ss = {(uintptr_t)&g_data, NULL, 0, 0};
  hs__for_each_writable_segment(seg_cb, &ss);
  CHECK_INT(ss.hits, 1);
  CHECK_STR(ss.path, exe);
  CHECK(ss.total >= 3);
  seg_search_t sb = {(uintptr_t)&g_bss[10], NULL, 0, 0};
  hs__for_each_writable_segment(seg_cb, &sb);
  CHECK_INT(sb.hits, 1);
  seg_search_t sc = {(uintptr_t)&caller_global, NULL, 0, 0}; /* code is not writable */
  hs__for_each_writable_segment(seg_cb, &sc);
  CHECK_INT(sc.hits, 0);

  /* -- threads -- */
  thread_pc = pc_global;
  thread_fn = fr.f[0].function;
  thread_file = fr.f[0].file;
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_main, NULL);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);

  dl_iterate_phdr(phdr_cb, NULL);
  CHECK(!saw_debuginfod);
  (void)g_bss;
  CHECK_DONE();
}
