/* A few names looked up in the running executable's .dynsym and .symtab.
 *
 * Used at start-up by the CMocka adapter (its search for a static or
 * misbound CMocka), so it stays cheap, self-contained and allocation-free.
 * libelf is deliberately not used: it loads lazily, for symbolization only.
 *
 * Two costs: the in-memory probes (hs__exe_rodata_contains,
 * hs__exe_dynstr_contains) search what the loader mapped already, a few
 * microseconds; the symbol lookup (hs__exe_symbols) maps the file and walks
 * its tables, done only once a probe said CMocka is there. The file is
 * opened by the path the kernel executed (AT_EXECFN), not /proc/self/exe:
 * the first lookup of /proc/self costs ~100 us in a fresh process.
 *
 * The run-time address of a definition is st_value plus the load bias, which
 * comes from the auxiliary vector (AT_PHDR against the file's program
 * header address); AT_ENTRY checked against e_entry proves the file read is
 * the image running. */
#include "core/module/exe_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the loader's view ------------------------------------------------------- */

/* The executable's program headers as mapped, and its load bias. */
static const Elf64_Phdr *mapped_phdrs(size_t *phnum, uintptr_t *bias) {
  const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
  *phnum = getauxval(AT_PHNUM);
  if (!ph || !*phnum) return NULL;
  for (size_t i = 0; i < *phnum; i++)
    if (ph[i].p_type == PT_PHDR) {
      *bias = (uintptr_t)ph - ph[i].p_vaddr;
      return ph;
    }
  return NULL; /* no PT_PHDR (a static or unusual executable): no mapped view used */
}

/* The read-only segments are mapped already: searched in place. */
bool hs__exe_rodata_contains(const char *needle) {
  size_t phnum;
  uintptr_t bias;
  const Elf64_Phdr *ph = mapped_phdrs(&phnum, &bias);
  if (!ph) return false;
  size_t len = strlen(needle);
  for (size_t i = 0; i < phnum; i++) {
    if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & (PF_W | PF_X))) continue;
    if (memmem((const void *)(bias + ph[i].p_vaddr), ph[i].p_filesz, needle, len)) return true;
  }
  return false;
}

bool hs__exe_dynstr_contains(const char *needle) {
  size_t phnum;
  uintptr_t bias;
  const Elf64_Phdr *ph = mapped_phdrs(&phnum, &bias);
  if (!ph) return false;
  for (size_t i = 0; i < phnum; i++) {
    if (ph[i].p_type != PT_DYNAMIC) continue;
    uintptr_t str = 0;
    size_t strsz = 0;
    for (const Elf64_Dyn *d = (const Elf64_Dyn *)(bias + ph[i].p_vaddr); d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_STRTAB) str = d->d_un.d_ptr;
      if (d->d_tag == DT_STRSZ) strsz = d->d_un.d_val;
    }
    /* glibc relocates the executable's dynamic entries in place; a file
     * address (below the bias of a PIE) still needs the bias. */
    if (str && str < bias) str += bias;
    return str && strsz && memmem((const void *)str, strsz, needle, strlen(needle)) != NULL;
  }
  return false;
}

/* ---- the file ------------------------------------------------------------------- */

typedef struct exe_map {
  const unsigned char *data;
  size_t size;
  uintptr_t bias;
} exe_map_t;

static bool map_file(exe_map_t *m, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  long r = -1;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
    r = syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  /* Raw mmap: the runtime exports mmap for HEAP_PROFILE_MMAP, and its own
   * mappings are never profiled. */
  if ((unsigned long)r >= (unsigned long)-4095) return false;
  m->data = (const unsigned char *)r;
  m->size = (size_t)st.st_size;
  return true;
}

static void exe_close(exe_map_t *m) {
  if (m->data) syscall(SYS_munmap, (void *)m->data, m->size);
  m->data = NULL;
}

/* True if the mapped file is the running image (entry point and program
 * header address agree with the auxiliary vector). */
static bool is_running_image(exe_map_t *m, hs_exe_status_t *why) {
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m->data;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
    *why = HS_EXE_FOREIGN;
    return false;
  }
  *why = HS_EXE_UNREADABLE;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
  size_t phnum = getauxval(AT_PHNUM);
  if (!ph || !phnum) return false;
  bool found = false;
  for (size_t i = 0; i < phnum && !found; i++)
    if (ph[i].p_type == PT_PHDR) {
      m->bias = (uintptr_t)ph - ph[i].p_vaddr;
      found = true;
    }
  for (size_t i = 0; i < phnum && !found; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
      m->bias = (uintptr_t)ph - eh->e_phoff - ph[i].p_vaddr;
      found = true;
    }
  return found && getauxval(AT_ENTRY) == eh->e_entry + m->bias;
}

static bool exe_open(exe_map_t *m, hs_exe_status_t *why) {
  memset(m, 0, sizeof *m);
  *why = HS_EXE_UNREADABLE;
  const char *execfn = (const char *)getauxval(AT_EXECFN);
  if (execfn && map_file(m, execfn)) {
    if (is_running_image(m, why)) return true;
    exe_close(m);
  }
  /* Run through ld.so, or the file replaced since: the kernel's link. */
  if (!map_file(m, "/proc/self/exe")) return false;
  if (is_running_image(m, why)) return true;
  exe_close(m);
  return false;
}

static const Elf64_Shdr *section(const exe_map_t *m, size_t i) {
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m->data;
  if (!eh->e_shoff || i >= eh->e_shnum || eh->e_shentsize != sizeof(Elf64_Shdr)) return NULL;
  size_t off = eh->e_shoff + i * sizeof(Elf64_Shdr);
  if (off + sizeof(Elf64_Shdr) > m->size) return NULL;
  return (const Elf64_Shdr *)(m->data + off);
}

static bool in_file(const exe_map_t *m, uint64_t off, uint64_t len) {
  return off <= m->size && len <= m->size - off;
}

typedef struct table {
  const Elf64_Sym *syms;
  size_t count;
  const char *strs;
  size_t strs_len;
} table_t;

/* The first section of `type` and its string table. */
static bool find_table(const exe_map_t *m, uint32_t type, table_t *t) {
  memset(t, 0, sizeof *t);
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m->data;
  for (size_t i = 0; i < eh->e_shnum; i++) {
    const Elf64_Shdr *s = section(m, i);
    if (!s) return false;
    if (s->sh_type != type) continue;
    const Elf64_Shdr *str = section(m, s->sh_link);
    if (!str || !in_file(m, s->sh_offset, s->sh_size) || !in_file(m, str->sh_offset, str->sh_size) ||
        s->sh_entsize != sizeof(Elf64_Sym) || !str->sh_size)
      return false;
    t->syms = (const Elf64_Sym *)(m->data + s->sh_offset);
    t->count = s->sh_size / sizeof(Elf64_Sym);
    t->strs = (const char *)(m->data + str->sh_offset);
    t->strs_len = str->sh_size;
    return true;
  }
  return false;
}

static const char *sym_name(const table_t *t, const Elf64_Sym *s) {
  if (s->st_name >= t->strs_len) return NULL;
  const char *n = t->strs + s->st_name;
  return memchr(n, '\0', t->strs_len - s->st_name) ? n : NULL;
}

static void search(const exe_map_t *m, const table_t *t, hs_exe_sym_t *syms, size_t n) {
  for (size_t k = 0; k < t->count; k++) {
    const Elf64_Sym *s = &t->syms[k];
    if (!s->st_name) continue;
    const char *name = sym_name(t, s);
    if (!name) continue;
    for (size_t i = 0; i < n; i++) {
      if (name[0] != syms[i].name[0] || strcmp(name, syms[i].name) != 0) continue;
      if (s->st_shndx == SHN_UNDEF) {
        syms[i].imported = true;
      } else if (!syms[i].addr && s->st_shndx != SHN_ABS && s->st_value) {
        syms[i].addr = (uintptr_t)s->st_value + m->bias;
        syms[i].size = (size_t)s->st_size;
      }
    }
  }
}

hs_exe_status_t hs__exe_symbols(hs_exe_sym_t *syms, size_t n) {
  for (size_t i = 0; i < n; i++) {
    syms[i].addr = 0;
    syms[i].size = 0;
    syms[i].imported = false;
  }
  int saved = errno;
  exe_map_t m;
  hs_exe_status_t why;
  if (!exe_open(&m, &why)) {
    errno = saved;
    return why;
  }
  table_t dyn, full;
  bool have_dyn = find_table(&m, SHT_DYNSYM, &dyn);
  bool have_full = find_table(&m, SHT_SYMTAB, &full);
  if (have_dyn) search(&m, &dyn, syms, n);
  /* The first name imported: the program binds it at run time, and its
   * local symbols cannot change that. */
  if (have_full && !(n && syms[0].imported)) search(&m, &full, syms, n);
  exe_close(&m);
  errno = saved;
  return have_full ? HS_EXE_OK : HS_EXE_STRIPPED;
}

const char *hs__exe_path(void) {
  static char path[1024];
  if (!path[0]) {
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return "?";
    path[n] = '\0';
  }
  return path;
}
