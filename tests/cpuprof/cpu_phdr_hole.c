/* Profiling code of a library whose program headers are not in its first
 * page. The handler finds the CFI of objects the runtime has not learned
 * with _dl_find_object and reads their program headers in place
 * (core/stack/unwind.c: object_phdrs); it read them at the mapping's start
 * plus e_phoff, a file offset, which for such an object may lie in the
 * PROT_NONE hole between two segments: the profiled program died of
 * SIGSEGV at its first sample there. glibc loads such objects (it reads
 * the program headers from the file).
 *
 * LIB (libcpu_gap.so) is linked with 64 KiB segment alignment, so a hole
 * follows its first page; this program writes a copy whose program
 * headers sit at file offset 32 KiB (zero padding in LIB, mapped in the
 * hole), then profiles a loop inside it.
 *
 *   cpu_phdr_hole LIB COPY PROFILE */
#include "cputest.h"

#include <dlfcn.h>
#include <elf.h>
#include <gperftools/profiler.h>
#include <string.h>

#define MOVED_TO 0x8000

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len);
  if (b && fread(b, 1, *len, f) != *len) b = NULL;
  fclose(f);
  return b;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  size_t len;
  unsigned char *b = read_all(argv[1], &len);
  if (!b) return 2;
  Elf64_Ehdr eh;
  memcpy(&eh, b, sizeof eh);
  size_t phs = (size_t)eh.e_phnum * eh.e_phentsize;
  if (len < MOVED_TO + phs) {
    fprintf(stderr, "%s is too small to hold its program headers at %#x\n", argv[1], MOVED_TO);
    return 2;
  }
  for (size_t i = 0; i < phs; i++)
    if (b[MOVED_TO + i]) {
      fprintf(stderr, "%s: no padding at %#x\n", argv[1], MOVED_TO);
      return 2;
    }
  memcpy(b + MOVED_TO, b + eh.e_phoff, phs);
  eh.e_phoff = MOVED_TO;
  memcpy(b, &eh, sizeof eh);
  FILE *f = fopen(argv[2], "wb");
  if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) return 2;
  free(b);

  if (!ProfilerStart(argv[3])) return 2;
  void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen %s: %s\n", argv[2], dlerror());
    return 2;
  }
  double (*burn)(double) = (double (*)(double))dlsym(h, "gap_burn");
  if (!burn) return 2;
  double used = burn(0.1);
  struct ProfilerState st;
  ProfilerGetCurrentState(&st);
  ProfilerStop();
  if (st.samples_gathered <= 0) {
    fprintf(stderr, "no sample in %.3f s: nothing tested\n", used);
    return 2;
  }
  printf("ok: %d samples in the library with moved program headers\n", st.samples_gathered);
  return 0;
}
