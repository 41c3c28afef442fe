/* Entry-point jumps for functions that cannot be interposed.
 *
 * A function linked into the executable (a vendored, static CMocka) is
 * called directly, not through the PLT, so preloading a definition of the
 * same name changes nothing. Instead its first five bytes (after an
 * endbr64, which stays for indirect-branch tracking) become `jmp rel32`:
 * to the replacement when it lies within +-2 GiB, else to a 16-byte stub
 * (`jmp *0(%rip)` + the absolute address) on a page mapped next to the
 * executable. The original is called by putting its bytes back for the
 * call and the jump again afterwards (hs__patch_set): no instruction is
 * relocated, so no decoder is needed, and CMocka's runner is entered once
 * per group, its error printer once per failure.
 *
 * Writing code, W^X respected:
 *   1. pwrite to /proc/self/mem. The kernel writes through a private
 *      copy-on-write page, as a debugger's breakpoint does; the mapping's
 *      protection never changes, so no page is ever writable and
 *      executable, and no other thread running code on that page faults.
 *   2. Where /proc/self/mem refuses (proc_mem.force_override=never),
 *      mprotect(RWX), write, mprotect(RX): only on kernels that allow a
 *      writable executable page. Where W^X is enforced (SELinux execmem,
 *      PaX, prctl MDWE, systemd's MemoryDenyWriteExecute) the RWX request
 *      fails before anything changed, and the caller reports it.
 * The stub page is mapped read+execute from the start and filled the same
 * way (or mapped RW, filled, then made RX when /proc/self/mem is refused).
 *
 * The bytes change only while no other thread runs that code: at start-up
 * (a constructor), and around calls CMocka makes on its one test thread. */
#include "hotpatch.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STUB_SIZE 16
#define STUB_PAGES 4
#define PAGE 4096

static hs_lock_t patch_lock;

typedef struct stub_page {
  uint8_t *base;
  size_t used;
} stub_page_t;
static stub_page_t stubs[STUB_PAGES]; /* patch_lock */

static void *raw_mmap(void *hint, size_t len, int prot, int flags) {
  long r = syscall(SYS_mmap, hint, len, prot, flags, -1, 0);
  return (unsigned long)r >= (unsigned long)-4095 ? NULL : (void *)r;
}

static bool write_via_proc_mem(void *addr, const void *bytes, size_t n) {
  int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t w = pwrite(fd, bytes, n, (off_t)(uintptr_t)addr);
  close(fd);
  return w == (ssize_t)n && memcmp(addr, bytes, n) == 0;
}

static bool write_via_mprotect(void *addr, const void *bytes, size_t n) {
  uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(PAGE - 1);
  uintptr_t hi = ((uintptr_t)addr + n + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
  if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return false;
  memcpy(addr, bytes, n);
  __builtin___clear_cache((char *)addr, (char *)addr + n);
  mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
  return true;
}

/* Writes n bytes of code at addr; errno is left alone. */
static bool write_code(void *addr, const void *bytes, size_t n) {
  int saved = errno;
  bool ok = write_via_proc_mem(addr, bytes, n) || write_via_mprotect(addr, bytes, n);
  errno = saved;
  return ok;
}

static bool rel32_reaches(const uint8_t *from_end, uintptr_t to) {
  intptr_t d = (intptr_t)to - (intptr_t)from_end;
  return d > INT32_MIN + PAGE && d < INT32_MAX - PAGE;
}

/* A free page within reach of site, mapped read+execute (never writable
 * and executable at once). Candidates below the executable first: above it
 * lies the brk heap, which must stay free to grow. */
static uint8_t *map_stub_page_near(const uint8_t *site) {
  uintptr_t s = (uintptr_t)site & ~(uintptr_t)(PAGE - 1);
  for (int k = 1; k <= 48; k++) {
    uintptr_t step = (uintptr_t)k << 25; /* 32 MiB steps, up to 1.5 GiB */
    uintptr_t cands[2] = {s > step + (1u << 20) ? s - step : 0, s + step};
    for (int c = 0; c < 2; c++) {
      if (!cands[c] || (cands[c] >> 47)) continue;
      uint8_t *p = raw_mmap((void *)cands[c], PAGE, PROT_READ | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
      if (!p) continue;
      if ((uintptr_t)p == cands[c] && rel32_reaches(site + 5, (uintptr_t)p) &&
          rel32_reaches(site + 5, (uintptr_t)p + PAGE))
        return p;
      syscall(SYS_munmap, p, PAGE); /* an old kernel took the hint as a hint */
    }
  }
  return NULL;
}

/* A stub `jmp *0(%rip); .quad target` reachable from site. patch_lock. */
static uint8_t *make_stub(const uint8_t *site, uintptr_t target) {
  uint8_t code[STUB_SIZE] = {0xff, 0x25, 0, 0, 0, 0};
  memcpy(code + 6, &target, 8);
  code[14] = code[15] = 0xcc; /* int3 padding */
  for (int i = 0; i < STUB_PAGES; i++) {
    stub_page_t *sp = &stubs[i];
    if (!sp->base) {
      sp->base = map_stub_page_near(site);
      if (!sp->base) return NULL;
    }
    if (sp->used + STUB_SIZE > PAGE || !rel32_reaches(site + 5, (uintptr_t)sp->base + sp->used))
      continue;
    uint8_t *stub = sp->base + sp->used;
    bool ok = write_via_proc_mem(stub, code, sizeof code);
    if (!ok && mprotect(sp->base, PAGE, PROT_READ | PROT_WRITE) == 0) {
      /* RW, filled, then RX: never both. */
      memcpy(stub, code, sizeof code);
      ok = mprotect(sp->base, PAGE, PROT_READ | PROT_EXEC) == 0;
    }
    if (!ok) return NULL;
    sp->used += STUB_SIZE;
    return stub;
  }
  return NULL;
}

const char *hs__patch_install(hs_patch_t *p, void *fn, size_t fn_size, void *replacement) {
  static const uint8_t endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
  memset(p, 0, sizeof *p);
  if (!fn || !replacement) return "no address";
  uint8_t *site = fn;
  if (memcmp(site, endbr64, sizeof endbr64) == 0) site += sizeof endbr64;
  if (fn_size && (size_t)(site - (uint8_t *)fn) + 5 > fn_size)
    return "the function is too short to hold a jump";
  int saved = errno;
  hs__lock(&patch_lock);
  uintptr_t to = (uintptr_t)replacement;
  if (!rel32_reaches(site + 5, to)) {
    uint8_t *stub = make_stub(site, to);
    if (!stub) {
      hs__unlock(&patch_lock);
      errno = saved;
      return "no executable page could be mapped near the code";
    }
    to = (uintptr_t)stub;
  }
  hs__unlock(&patch_lock);
  errno = saved;
  int32_t rel = (int32_t)((intptr_t)to - (intptr_t)(site + 5));
  p->site = site;
  memcpy(p->original, site, 5);
  p->jump[0] = 0xe9;
  memcpy(p->jump + 1, &rel, 4);
  if (!hs__patch_set(p, true)) {
    p->site = NULL;
    return "the kernel refuses to let code be modified (W^X enforced)";
  }
  return NULL;
}

bool hs__patch_set(hs_patch_t *p, bool on) {
  if (!p->site) return false;
  hs__lock(&patch_lock);
  bool ok = p->on == on || write_code(p->site, on ? p->jump : p->original, 5);
  if (ok) p->on = on;
  hs__unlock(&patch_lock);
  return ok;
}
