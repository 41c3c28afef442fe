/* A few names looked up in the running executable's .dynsym and .symtab.
 *
 * Used at start-up (the CMocka adapter's search for a statically linked
 * CMocka), so it stays cheap and self-contained: the file is mapped
 * read-only (only the pages touched are read: the section headers and the
 * two symbol tables), a memmem over the string tables rules out programs
 * that do not contain the key name at all, and nothing is allocated. libelf
 * is deliberately not used: it loads lazily, for symbolization only.
 *
 * The run-time address of a definition is st_value plus the load bias, which
 * comes from the auxiliary vector (AT_PHDR against the file's program
 * header address); AT_ENTRY checked against e_entry proves the file read is
 * the image running. */
#include "core/module/exe_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct exe_map {
  const unsigned char *data;
  size_t size;
  uintptr_t bias;
} exe_map_t;

/* Raw mmap/munmap: the runtime exports mmap for HEAP_PROFILE_MMAP, and its
 * own mappings are never profiled. */
static bool exe_open(exe_map_t *m, hs_exe_status_t *why) {
  memset(m, 0, sizeof *m);
  *why = HS_EXE_UNREADABLE;
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  long r = -1;
  if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr))
    r = syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if ((unsigned long)r >= (unsigned long)-4095) return false;
  m->data = (const unsigned char *)r;
  m->size = (size_t)st.st_size;

  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m->data;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64) {
    *why = HS_EXE_FOREIGN;
    goto fail;
  }
  /* Load bias from the program headers the kernel mapped. */
  const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
  size_t phnum = getauxval(AT_PHNUM);
  if (!ph || !phnum) goto fail;
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
  if (!found || getauxval(AT_ENTRY) != eh->e_entry + m->bias) goto fail;
  return true;
fail:
  syscall(SYS_munmap, (void *)m->data, m->size);
  m->data = NULL;
  return false;
}

static void exe_close(exe_map_t *m) {
  if (m->data) syscall(SYS_munmap, (void *)m->data, m->size);
  m->data = NULL;
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

static bool has_key(const table_t *t, const char *key) {
  return t->strs && memmem(t->strs, t->strs_len, key, strlen(key)) != NULL;
}

hs_exe_status_t hs__exe_symbols(hs_exe_sym_t *syms, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++) {
    syms[i].addr = 0;
    syms[i].size = 0;
    syms[i].imported = false;
  }
  exe_map_t m;
  hs_exe_status_t why;
  if (!exe_open(&m, &why)) return why;
  table_t dyn, full;
  bool have_dyn = find_table(&m, SHT_DYNSYM, &dyn);
  bool have_full = find_table(&m, SHT_SYMTAB, &full);
  hs_exe_status_t st = have_full ? HS_EXE_OK : HS_EXE_STRIPPED;
  bool keyed = !key || (have_dyn && has_key(&dyn, key)) || (have_full && has_key(&full, key));
  if (!keyed) {
    exe_close(&m);
    return have_full ? HS_EXE_NO_KEY : HS_EXE_STRIPPED;
  }
  if (have_dyn) search(&m, &dyn, syms, n);
  /* The first name imported: the program binds it at run time, and its
   * local symbols cannot change that. */
  if (have_full && !(n && syms[0].imported)) search(&m, &full, syms, n);
  exe_close(&m);
  return st;
}

bool hs__exe_rodata_contains(const char *needle) {
  exe_map_t m;
  hs_exe_status_t why;
  if (!exe_open(&m, &why)) return false;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m.data;
  bool found = false;
  size_t len = strlen(needle);
  /* Read-only PT_LOAD segments: present even when section headers are not. */
  for (size_t i = 0; i < eh->e_phnum && !found; i++) {
    uint64_t off = eh->e_phoff + i * sizeof(Elf64_Phdr);
    if (!in_file(&m, off, sizeof(Elf64_Phdr))) break;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(m.data + off);
    if (ph->p_type != PT_LOAD || (ph->p_flags & (PF_W | PF_X)) || !in_file(&m, ph->p_offset, ph->p_filesz))
      continue;
    found = memmem(m.data + ph->p_offset, ph->p_filesz, needle, len) != NULL;
  }
  exe_close(&m);
  return found;
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
