/* HEAP_PROFILE_MMAP: regions from mmap, a partial munmap, mremap growth and
 * sbrk show in the profile under the functions that made them. Expected
 * in-use bytes (checked by prof_mmap.cmake): map_big 1 MiB + 2 MiB left of
 * a 3 MiB region after unmapping its first MiB, remap_region 512 KiB grown
 * to 1 MiB, grow_brk 64 KiB. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((noinline)) void *map_big(size_t n) {
  return mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

__attribute__((noinline)) void *remap_region(void *p, size_t old, size_t n) {
  return mremap(p, old, n, MREMAP_MAYMOVE);
}

__attribute__((noinline)) void grow_brk(void) { sbrk(65536); }

int main(void) {
  void *a = map_big(1 << 20);
  char *b = map_big(3 << 20);
  munmap(b, 1 << 20);
  void *c = map_big(512 << 10);
  c = remap_region(c, 512 << 10, 1 << 20);
  void *gone = map_big(256 << 10);
  munmap(gone, 256 << 10);
  grow_brk();
  return a && c ? 0 : 1;
}
