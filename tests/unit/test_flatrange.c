/* The flat range (core/alloc/pagemap.c): small blocks come from the page
 * heap's own reserved range, whose page info words free() reads from the
 * flat table; addresses around it read 0 without faulting; with RLIMIT_AS
 * set there is no reservation and the radix tree serves the same lookups;
 * RLIMIT_AS set later gives the range's unused rest back.
 *
 * usage: test_flatrange            (re-runs itself with RLIMIT_AS set)
 *        test_flatrange limited    (the run under RLIMIT_AS) */
#include "core/alloc/alloc.h"
#include "check.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBLOCKS 20000

static void *blocks[NBLOCKS];

static uint32_t class_of(void *p) {
  return HS_INFO_CLASS(hs__pagemap_info((uintptr_t)p)) & ~HS_CLASS_RECORDED;
}

/* Blocks of several classes: each page's info names the block's class,
 * free takes them back, and a fresh round reuses them. */
static void exercise(bool flat) {
  uintptr_t base = hs__flat.base;
  uintptr_t limit = atomic_load(&hs__flat.limit);
  for (int i = 0; i < NBLOCKS; i++) {
    size_t n = 16 + (size_t)(i % 64) * 48; /* 16 B .. 3 KiB */
    blocks[i] = hs__alloc(n);
    CHECK(blocks[i]);
    memset(blocks[i], 0x5a, n);
    uintptr_t a = (uintptr_t)blocks[i];
    if (flat) CHECKF(a - base < limit, "block %p outside [%#lx, +%#lx)", blocks[i], base, limit);
    CHECKF(class_of(blocks[i]) == hs__size_to_class(n), "block %p of %zu bytes: class %u",
           blocks[i], n, class_of(blocks[i]));
  }
  for (int i = 0; i < NBLOCKS; i++) hs__dealloc(blocks[i]);
  for (int i = 0; i < NBLOCKS; i++) {
    blocks[i] = hs__alloc(32);
    CHECK(blocks[i] && class_of(blocks[i]) == hs__size_to_class(32));
  }
  for (int i = 0; i < NBLOCKS; i++) hs__dealloc(blocks[i]);
}

int main(int argc, char **argv) {
  hs__alloc_init();
  void *first = hs__alloc(32); /* the page heap has grown */
  CHECK(first);
  if (argc > 1 && !strcmp(argv[1], "limited")) {
    /* 64 GiB of reservation would count against RLIMIT_AS: none made. */
    CHECK(atomic_load(&hs__flat.limit) == 0);
    exercise(false);
    hs__dealloc(first);
    return 0;
  }

  uintptr_t base = hs__flat.base;
  uintptr_t limit = atomic_load(&hs__flat.limit);
  CHECKF(limit >= HS_FLAT_BYTES / 16 && limit <= HS_FLAT_BYTES, "limit %#lx", limit);
  CHECK((uintptr_t)first - base < limit);
  /* free()'s lookup reads the flat table, not the leaf */
  CHECK(hs__pagemap_info((uintptr_t)first) == *hs__flat_slot(base, (uintptr_t)first - base));
  /* a page's info word and its first block differ mod 4 KiB */
  CHECK(((uintptr_t)hs__flat_slot(base, 0) & 4095) != (base & 4095));
  exercise(true);
  /* Both ends of the range and just outside it: 0, no fault (the table is
   * readable over the whole range, unused parts as zero pages). */
  CHECK(hs__pagemap_info(base + limit - 1) == 0);
  CHECK(hs__pagemap_info(base + limit) == 0);
  CHECK(hs__pagemap_info(base - 1) == 0);
  CHECK(hs__pagemap_info((uintptr_t)hs__flat_slot(base, 0)) == 0);
  hs__dealloc(first);

  /* RLIMIT_AS set after the reservation: the next growth gives the unused
   * rest back (64 GiB would be over any such limit) and the heap grows
   * outside the range; blocks inside it still free as before. */
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    void *inside = hs__alloc(48);
    struct rlimit rl = {(rlim_t)8 << 30, (rlim_t)8 << 30};
    if (!inside || setrlimit(RLIMIT_AS, &rl) != 0) _exit(2);
    enum { BIG = 64 };
    static void *big[BIG];
    for (int i = 0; i < BIG; i++) /* 64 MiB: the heap must grow */
      if (!(big[i] = hs__alloc((size_t)1 << 20))) _exit(3);
    uintptr_t now = atomic_load(&hs__flat.limit);
    if (now == 0 || now >= limit) _exit(4);   /* trimmed to what was used */
    if ((uintptr_t)inside - base >= now) _exit(5);
    if (class_of(inside) != hs__size_to_class(48)) _exit(6);
    /* what the limit is for: the program's own mappings still fit */
    void *own = mmap(NULL, (size_t)64 << 20, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (own == MAP_FAILED) _exit(7);
    munmap(own, (size_t)64 << 20);
    for (int i = 0; i < BIG; i++) hs__dealloc(big[i]);
    hs__dealloc(inside);
    _exit(0);
  }
  int st;
  CHECK(waitpid(child, &st, 0) == child);
  CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "RLIMIT_AS set later: status %#x", st);

  /* The same under an address-space limit, in a fresh process. */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {(rlim_t)8 << 30, (rlim_t)8 << 30};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(2);
    execl("/proc/self/exe", argv[0], "limited", (char *)NULL);
    _exit(3);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "limited run: status %#x", status);
  return 0;
}
