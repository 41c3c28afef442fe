/* In-process symbolizer over libdwfl.
 *
 * One Dwfl session per module record (core/modules.c), opened lazily from
 * the file on disk at the object's real load bias and kept open, so a
 * library that has since been dlclose'd (or replaced at the same addresses
 * by another one) still symbolizes. Results are cached per (address,
 * module) in a hash table on the internal heap, with interned strings, so
 * everything handed out stays valid for the life of the process.
 *
 * All work happens inside hs__runtime_enter/leave: malloc/free calls made
 * by libdw, libelf and libc on our behalf go to the internal heap. One lock
 * serialises libdw use and the caches; emit callbacks run after it is
 * released.
 *
 * libdw (and through it libelf, zlib, liblzma, libbz2, libzstd) is loaded
 * at the first symbolization (core/module/lazylib.c), not linked: a process
 * that never reports pays nothing for it. Without libdw, frames keep their
 * module and offset but lose function names and lines.
 */
#include "core/symbol/symbolize.h"

#include "core/alloc/alloc.h"
#include "core/base/settings.h"
#include "core/symbol/debuginfo.h"

#include <heapscope/heapscope.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- libdw, on first use ------------------------------------------------------
 * Every libdw/libelf function used here, called through a pointer resolved
 * when the library is loaded; the macros keep the code below written as
 * plain calls. */
#define HS_DW_FUNCS(X)                                                                   \
  X(dwarf_attr) X(dwarf_attr_integrate) X(dwarf_filesrc) X(dwarf_formstring)             \
  X(dwarf_formudata) X(dwarf_getscopes) X(dwarf_getscopes_die) X(dwarf_getsrcfiles)      \
  X(dwarf_getsrc_die) X(dwarf_haspc) X(dwarf_lineno) X(dwarf_linesrc)                    \
  X(dwfl_module_nextcu) X(dwarf_tag) X(dwfl_begin) X(dwfl_end) X(dwfl_linecu) X(dwfl_lineinfo)                 \
  X(dwfl_module_addrdie) X(dwfl_module_addrinfo) X(dwfl_module_build_id)                 \
  X(dwfl_module_getsrc) X(dwfl_offline_section_address) X(dwfl_report_begin)             \
  X(dwfl_report_elf) X(dwfl_report_end) X(dwfl_standard_find_debuginfo) X(elf_version)
#define HS_DW_FIELD(name) __typeof__(name) *name;
static struct {
  HS_DW_FUNCS(HS_DW_FIELD)
} dw;
#define HS_DW_NAME(name) #name,
static const char *const dw_names[] = {HS_DW_FUNCS(HS_DW_NAME)};
static hs_lazy_lib_t dw_lib = {.soname = "libdw.so.1", .names = dw_names, .syms = (void **)&dw,
                               .count = (int)(sizeof dw_names / sizeof dw_names[0]),
                               .without = "reports show module+offset, not functions and lines"};
#define HS_DW_REDIRECT(name) (*dw.name)
#define dwarf_attr HS_DW_REDIRECT(dwarf_attr)
#define dwarf_attr_integrate HS_DW_REDIRECT(dwarf_attr_integrate)
#define dwarf_filesrc HS_DW_REDIRECT(dwarf_filesrc)
#define dwarf_formstring HS_DW_REDIRECT(dwarf_formstring)
#define dwarf_formudata HS_DW_REDIRECT(dwarf_formudata)
#define dwarf_getscopes HS_DW_REDIRECT(dwarf_getscopes)
#define dwarf_getscopes_die HS_DW_REDIRECT(dwarf_getscopes_die)
#define dwarf_getsrcfiles HS_DW_REDIRECT(dwarf_getsrcfiles)
#define dwarf_tag HS_DW_REDIRECT(dwarf_tag)
#define dwarf_getsrc_die HS_DW_REDIRECT(dwarf_getsrc_die)
#define dwarf_haspc HS_DW_REDIRECT(dwarf_haspc)
#define dwarf_lineno HS_DW_REDIRECT(dwarf_lineno)
#define dwarf_linesrc HS_DW_REDIRECT(dwarf_linesrc)
#define dwfl_module_nextcu HS_DW_REDIRECT(dwfl_module_nextcu)
#define dwfl_begin HS_DW_REDIRECT(dwfl_begin)
#define dwfl_end HS_DW_REDIRECT(dwfl_end)
#define dwfl_linecu HS_DW_REDIRECT(dwfl_linecu)
#define dwfl_lineinfo HS_DW_REDIRECT(dwfl_lineinfo)
#define dwfl_module_addrdie HS_DW_REDIRECT(dwfl_module_addrdie)
#define dwfl_module_addrinfo HS_DW_REDIRECT(dwfl_module_addrinfo)
#define dwfl_module_build_id HS_DW_REDIRECT(dwfl_module_build_id)
#define dwfl_module_getsrc HS_DW_REDIRECT(dwfl_module_getsrc)
#define dwfl_report_begin HS_DW_REDIRECT(dwfl_report_begin)
#define dwfl_report_elf HS_DW_REDIRECT(dwfl_report_elf)
#define dwfl_report_end HS_DW_REDIRECT(dwfl_report_end)
#define dwfl_standard_find_debuginfo HS_DW_REDIRECT(dwfl_standard_find_debuginfo)
#define elf_version HS_DW_REDIRECT(elf_version)

/* C++ names, when libstdc++ is in the process (weak: C programs lack it). */
extern char *__cxa_demangle(const char *mangled, char *out, size_t *len,
                            int *status) __attribute__((weak));

#define MAX_FRAMES 64 /* logical frames per pc (inline depth) */

static hs_lock_t sym_lock;
hs_lock_t *const hs__symbolize_lock = &sym_lock;

/* ---- interned strings (sym_lock) -------------------------------------------- */

typedef struct istr {
  struct istr *next;
  uint64_t hash;
  char s[];
} istr_t;

static istr_t **itab;
static size_t itab_cap, itab_len;

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static bool itab_grow(void) {
  size_t cap = itab_cap ? itab_cap * 2 : 1024;
  istr_t **t = hs__arena_alloc(cap * sizeof *t);
  if (!t) return false;
  for (size_t i = 0; i < itab_cap; i++) {
    istr_t *e = itab[i];
    while (e) {
      istr_t *next = e->next;
      e->next = t[e->hash & (cap - 1)];
      t[e->hash & (cap - 1)] = e;
      e = next;
    }
  }
  hs__arena_free(itab);
  itab = t;
  itab_cap = cap;
  return true;
}

static const char *intern_n(const char *s, size_t n) {
  if (!s) return NULL;
  uint64_t h = hash_bytes(s, n);
  if (itab_cap) {
    for (istr_t *e = itab[h & (itab_cap - 1)]; e; e = e->next)
      if (e->hash == h && strncmp(e->s, s, n) == 0 && e->s[n] == '\0') return e->s;
  }
  if (itab_len + 1 > itab_cap - itab_cap / 4 && !itab_grow() && !itab_cap)
    return NULL; /* could not even make the first table */
  istr_t *e = hs__arena_alloc(sizeof *e + n + 1);
  if (!e) return NULL;
  memcpy(e->s, s, n);
  e->s[n] = '\0';
  e->hash = h;
  e->next = itab[h & (itab_cap - 1)];
  itab[h & (itab_cap - 1)] = e;
  itab_len++;
  return e->s;
}

static const char *intern(const char *s) { return s ? intern_n(s, strlen(s)) : NULL; }

/* ---- result cache (sym_lock) ---------------------------------------------------- */

typedef struct centry {
  struct centry *next;
  uintptr_t addr;
  const void *owner; /* dwobj_t, or the hs_module_t when it has none */
  int n;
  hs_symbol_t f[];
} centry_t;

static centry_t **ctab;
static size_t ctab_cap, ctab_len;

static inline size_t chash(uintptr_t addr, const void *m) {
  uint64_t h = (uint64_t)addr * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
  return (size_t)(h ^ (h >> 29));
}

static centry_t *cache_find(uintptr_t addr, const void *owner) {
  if (!ctab_cap) return NULL;
  for (centry_t *e = ctab[chash(addr, owner) & (ctab_cap - 1)]; e; e = e->next)
    if (e->addr == addr && e->owner == owner) return e;
  return NULL;
}

static void cache_insert(centry_t *e) {
  if (ctab_len + 1 > ctab_cap - ctab_cap / 4 || !ctab_cap) {
    size_t cap = ctab_cap ? ctab_cap * 2 : 1024;
    centry_t **t = hs__arena_alloc(cap * sizeof *t);
    if (t) {
      for (size_t i = 0; i < ctab_cap; i++) {
        centry_t *x = ctab[i];
        while (x) {
          centry_t *next = x->next;
          size_t b = chash(x->addr, x->owner) & (cap - 1);
          x->next = t[b];
          t[b] = x;
          x = next;
        }
      }
      hs__arena_free(ctab);
      ctab = t;
      ctab_cap = cap;
    } else if (!ctab_cap) {
      return; /* out of memory: just do not cache */
    }
  }
  size_t b = chash(e->addr, e->owner) & (ctab_cap - 1);
  e->next = ctab[b];
  ctab[b] = e;
  ctab_len++;
}

/* ---- debuginfo lookup --------------------------------------------------------------- */

static const char default_debuginfo_path[] = HS_DEFAULT_DEBUGINFO_PATH;
static char *debuginfo_path; /* what the callbacks see (libdwfl syntax) */
static bool allow_debuginfod;

/* Would dwfl_standard_find_debuginfo find a file? When it finds none it
 * falls back to debuginfod, which in elfutils 0.188 dlopen()s
 * libdebuginfod (and libcurl, ...) into the process. We do not want that
 * from inside an allocator, so we only call it when a candidate exists
 * (core/symbol/debuginfo.c, shared with `heapscope report`). */
static bool debuginfo_candidate(Dwfl_Module *mod, const char *file_name,
                                const char *debuglink) {
  const unsigned char *bits = NULL;
  GElf_Addr vaddr;
  int bits_len = dwfl_module_build_id(mod, &bits, &vaddr);
  return hs__debuginfo_candidate(debuginfo_path ? debuginfo_path : default_debuginfo_path,
                                 bits_len > 0 ? bits : NULL, bits_len > 0 ? bits_len : 0,
                                 file_name, debuglink);
}

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name,
                          const char *debuglink_file, GElf_Word debuglink_crc,
                          char **debuginfo_file_name) {
  if (!allow_debuginfod && !debuginfo_candidate(mod, file_name, debuglink_file)) {
    errno = ENOENT;
    return -1;
  }
  return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
                                      debuglink_file, debuglink_crc,
                                      debuginfo_file_name);
}

/* Modules are always reported with dwfl_report_elf; libdwfl never needs to
 * look for the main file (and must not ask debuginfod for it). */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
                    Dwarf_Addr base, char **file_name, Elf **elfp) {
  errno = ENOENT;
  return -1;
}

static Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = NULL, /* libdw's dwfl_offline_section_address, once loaded */
    .debuginfo_path = &debuginfo_path,
};

/* ---- one-time setup --------------------------------------------------------------- */

static _Atomic int setup_state; /* 0 no, 1 running, 2 done */
static bool have_dw;             /* libdw loaded (set before setup_state = 2) */

static void setup(void) {
  if (HS_LIKELY(atomic_load_explicit(&setup_state, memory_order_acquire) == 2)) return;
  int expected = 0;
  if (atomic_compare_exchange_strong(&setup_state, &expected, 1)) {
    const char *p = hs__setting_str(HS_SET_HEAPSCOPE_DEBUGINFO_PATH);
    debuginfo_path = p ? (char *)p : (char *)default_debuginfo_path;
    allow_debuginfod = hs__setting_bool(HS_SET_HEAPSCOPE_DEBUGINFOD);
    have_dw = hs__lib_load(&dw_lib);
    if (have_dw) {
      callbacks.section_address = dw.dwfl_offline_section_address;
      elf_version(EV_CURRENT);
    }
    atomic_store_explicit(&setup_state, 2, memory_order_release);
  } else {
    while (atomic_load_explicit(&setup_state, memory_order_acquire) != 2) sched_yield();
  }
}

/* ---- opened files ---------------------------------------------------------------- */

/* One Dwfl session per file, reported at bias 0 and queried with module
 * offsets, so that all records of the same object (a library dlopen'd and
 * dlclose'd in a loop, wherever it lands) share one session and one cache.
 * Records share only when their build-ids match (the loaded bytes are the
 * same); records without a build-id get a session of their own. */
typedef struct dwobj {
  struct dwobj *next;
  const char *path;
  uint8_t build_id_len;
  uint8_t build_id[HS_BUILD_ID_MAX];
  Dwfl *dwfl;
  Dwfl_Module *mod;
} dwobj_t;

static dwobj_t *dwobjs; /* sym_lock */

static Dwfl_Module *report(Dwfl *d, const hs_module_t *m, const char *file) {
  dwfl_report_begin(d);
  Dwfl_Module *dm = dwfl_report_elf(d, m->path, file, -1, 0, true);
  dwfl_report_end(d, NULL, NULL);
  if (!dm) return NULL;
  if (m->build_id_len) {
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(dm, &bits, &vaddr);
    if (len > 0 && ((size_t)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len)))
      return NULL; /* the file on disk is not the object that was loaded */
  }
  return dm;
}

static dwobj_t *open_obj(const hs_module_t *m) {
  Dwfl *d = dwfl_begin(&callbacks);
  if (!d) return NULL;
  Dwfl_Module *dm = report(d, m, m->path);
  if (!dm && m->is_main) {
    /* Deleted or replaced since exec: the kernel still has the original. */
    dwfl_end(d);
    d = dwfl_begin(&callbacks);
    dm = d ? report(d, m, "/proc/self/exe") : NULL;
  }
  dwobj_t *o = dm ? hs__arena_alloc(sizeof *o) : NULL;
  if (!o) {
    if (d) dwfl_end(d);
    return NULL;
  }
  o->path = m->path;
  o->build_id_len = m->build_id_len;
  memcpy(o->build_id, m->build_id, m->build_id_len);
  o->dwfl = d;
  o->mod = dm;
  return o;
}

static dwobj_t *module_obj(hs_module_t *m) {
  if (m->sym_state) return m->sym_state > 0 ? m->sym_obj : NULL;
  if (!have_dw) return NULL; /* tried again if libdw becomes loadable */
  m->sym_state = -1;
  if (m->path[0] != '/') {
    m->sym_error = "no file";
    return NULL;
  }
  dwobj_t *o = NULL;
  if (m->build_id_len) {
    for (o = dwobjs; o; o = o->next)
      if (o->build_id_len == m->build_id_len &&
          memcmp(o->build_id, m->build_id, m->build_id_len) == 0 &&
          strcmp(o->path, m->path) == 0)
        break;
  }
  if (!o) {
    o = open_obj(m);
    if (!o) {
      m->sym_error = "cannot open the file, or it changed on disk (build-id mismatch)";
      return NULL;
    }
    if (m->build_id_len) {
      o->next = dwobjs;
      dwobjs = o;
    }
  }
  m->sym_obj = o;
  m->sym_state = 1;
  return o;
}

/* ---- resolving one address ------------------------------------------------------- */

/* Names and source paths are read as `heapscope report` reads them
 * (core/symbol/debuginfo.c), so both name frames alike. */
static const char *die_name(Dwarf_Die *die) {
  hs_dwarf_fns_t fns = {dwarf_attr_integrate, dwarf_formstring}; /* libdw via pointers */
  return hs__dwarf_die_name(die, &fns);
}

static const char *intern_function(const char *name) {
  if (!name) return NULL;
  if (name[0] == '_' && name[1] == 'Z' && __cxa_demangle) {
    int status = 0;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    if (d && status == 0) {
      const char *r = intern(d);
      free(d);
      if (r) return r;
    } else {
      free(d);
    }
  }
  return intern(name);
}

static const char *intern_file(const char *file, const char *comp_dir) {
  if (!file) return NULL;
  char buf[4096];
  return intern(hs__dwarf_source_path(file, comp_dir, buf, sizeof buf));
}

typedef struct loc {
  const char *file;
  int line;
} loc_t;

static loc_t call_site(Dwarf_Die *die, Dwarf_Files *files, const char *comp_dir) {
  loc_t l = {NULL, 0};
  Dwarf_Attribute a;
  Dwarf_Word v;
  if (files && dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &v) == 0)
    l.file = intern_file(dwarf_filesrc(files, v, NULL, NULL), comp_dir);
  if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &v) == 0) l.line = (int)v;
  return l;
}

/* Fill out[] with the logical frames at file address addr of o (m's
 * file); returns the count (>= 1). */
static int resolve(const hs_module_t *m, dwobj_t *o, uintptr_t addr, hs_symbol_t *out) {
  int n = 0;
  memset(out, 0, sizeof(hs_symbol_t));
  out[0].module = m->path;
  if (!o) return 1;
  Dwfl_Module *dm = o->mod;

  GElf_Off off;
  GElf_Sym sym;
  const char *symname = dwfl_module_addrinfo(dm, addr, &off, &sym, NULL, NULL, NULL);

  /* libdw finds an address's unit through .debug_aranges; clang does not
   * emit that section by default, and libdw 0.188 then finds nothing.
   * Without it the units are searched by their own ranges. */
  Dwarf_Addr bias = 0;
  Dwarf_Die *cudie = dwfl_module_addrdie(dm, addr, &bias);
  bool by_ranges = false;
  if (!cudie) {
    for (Dwarf_Die *cu = NULL; (cu = dwfl_module_nextcu(dm, cu, &bias)) != NULL;)
      if (dwarf_haspc(cu, addr - bias) > 0) {
        cudie = cu;
        by_ranges = true;
        break;
      }
  }

  loc_t cur = {NULL, 0};
  Dwfl_Line *dl = by_ranges ? NULL : dwfl_module_getsrc(dm, addr);
  Dwarf_Line *ranged = by_ranges ? dwarf_getsrc_die(cudie, addr - bias) : NULL;
  if (ranged) {
    int line = 0;
    const char *f = dwarf_linesrc(ranged, NULL, NULL);
    if (f && dwarf_lineno(ranged, &line) == 0) {
      Dwarf_Attribute a;
      cur.file = intern_file(f, dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a)));
      cur.line = line;
    }
  } else if (dl) {
    Dwarf_Addr la;
    int line = 0;
    const char *f = dwfl_lineinfo(dl, &la, &line, NULL, NULL, NULL);
    if (f) {
      const char *comp_dir = NULL;
      Dwarf_Die *lcu = dwfl_linecu(dl);
      Dwarf_Attribute a;
      if (lcu) comp_dir = dwarf_formstring(dwarf_attr(lcu, DW_AT_comp_dir, &a));
      cur.file = intern_file(f, comp_dir);
      cur.line = line;
    }
  }

  bool done = false;
  if (cudie) {
    Dwarf_Die *scopes = NULL;
    int ns = dwarf_getscopes(cudie, addr - bias, &scopes);
    if (ns > 0) {
      /* dwarf_getscopes continues past an inlined instance into its
       * abstract origin's scopes; the physical nesting (what called what)
       * comes from the innermost DIE's parents. */
      Dwarf_Die inner = scopes[0];
      free(scopes);
      scopes = NULL;
      ns = dwarf_getscopes_die(&inner, &scopes);
    }
    Dwarf_Files *files = NULL;
    if (ns > 0 && dwarf_getsrcfiles(cudie, &files, NULL) != 0) files = NULL;
    Dwarf_Attribute a;
    const char *comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a));
    for (int i = 0; i < ns && !done; i++) {
      int tag = dwarf_tag(&scopes[i]);
      if (tag == DW_TAG_inlined_subroutine) {
        if (n == MAX_FRAMES - 1) continue; /* keep room for the real function */
        hs_symbol_t *s = &out[n++];
        memset(s, 0, sizeof *s);
        s->function = intern_function(die_name(&scopes[i]));
        s->file = cur.file;
        s->line = cur.line;
        s->module = m->path;
        s->inlined = true;
        cur = call_site(&scopes[i], files, comp_dir);
      } else if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
        hs_symbol_t *s = &out[n++];
        memset(s, 0, sizeof *s);
        const char *name = die_name(&scopes[i]);
        s->function = intern_function(name ? name : symname);
        s->file = cur.file;
        s->line = cur.line;
        s->module = m->path;
        done = true;
      }
    }
    free(scopes);
  }
  if (!done) {
    hs_symbol_t *s = &out[n++];
    memset(s, 0, sizeof *s);
    s->function = intern_function(symname);
    s->file = cur.file;
    s->line = cur.line;
    s->module = m->path;
  }
  return n;
}

/* ---- entry points ---------------------------------------------------------------- */

static int symbolize_at(uintptr_t pc, uintptr_t addr, uint32_t epoch,
                        void (*emit)(const hs_symbol_t *, void *), void *ctx) {
  hs__runtime_enter();
  setup();
  hs__modules_refresh();
  const hs_module_t *m = hs__module_for(addr, epoch);
  centry_t *e = NULL;
  hs_symbol_t *frames = NULL, one;
  int n = 1;
  memset(&one, 0, sizeof one);
  frames = &one;
  if (m) {
    hs__lock(&sym_lock);
    /* Cache by (file address, opened file) when the file could be opened,
     * so reloads of a library share entries; else by (address, record). */
    dwobj_t *o = module_obj((hs_module_t *)m);
    const void *owner = o ? (const void *)o : (const void *)m;
    uintptr_t key = o ? addr - m->base : addr;
    e = cache_find(key, owner);
    if (!e) {
      hs_symbol_t tmp[MAX_FRAMES];
      n = resolve(m, o, addr - m->base, tmp);
      e = hs__arena_alloc(sizeof *e + (size_t)n * sizeof(hs_symbol_t));
      if (e) {
        e->addr = key;
        e->owner = owner;
        e->n = n;
        memcpy(e->f, tmp, (size_t)n * sizeof(hs_symbol_t));
        cache_insert(e);
      } else {
        one = tmp[n - 1]; /* out of memory: at least the real function */
        n = 1;
      }
    }
    hs__unlock(&sym_lock);
    if (e) {
      frames = e->f;
      n = e->n;
    }
  }
  hs__runtime_leave();
  uintptr_t offset = m ? pc - m->base : pc;
  if (emit) {
    for (int i = 0; i < n; i++) {
      hs_symbol_t s = frames[i];
      if (!m) s.module = NULL;
      s.module_offset = offset;
      emit(&s, ctx);
    }
  }
  return n;
}

int hs__symbolize(uintptr_t pc, uint32_t epoch,
                  void (*emit)(const hs_symbol_t *sym, void *ctx), void *ctx) {
  return symbolize_at(pc, pc ? pc - 1 : 0, epoch, emit, ctx);
}

int hs__symbolize_exact(uintptr_t pc, uint32_t epoch,
                        void (*emit)(const hs_symbol_t *sym, void *ctx), void *ctx) {
  return symbolize_at(pc, pc, epoch, emit, ctx);
}

/* ---- public API ------------------------------------------------------------------- */

typedef struct first_frame {
  hs_symbol_t s;
  bool got;
} first_frame_t;

static void take_first(const hs_symbol_t *s, void *ctx) {
  first_frame_t *f = ctx;
  if (!f->got) {
    f->s = *s;
    f->got = true;
  }
}

/* "FUNCTION FILE:LINE", "FUNCTION (module+0xoff)" or "(module+0xoff)" for
 * the innermost logical frame at pc (a return address). */
HS_EXPORT int heapscope_symbolize(uintptr_t pc, char *buf, size_t size) {
  if (!buf || size == 0) return -EINVAL;
  first_frame_t f;
  memset(&f, 0, sizeof f);
  hs__symbolize(pc, hs__modules_epoch(), take_first, &f);
  const hs_symbol_t *s = &f.s;
  int n;
  if (!s->module) {
    n = hs__snprintf(buf, size, "(<unknown module>)");
    return (size_t)n < size ? -ENOENT : -ERANGE;
  }
  if (s->function && s->file && s->line > 0)
    n = hs__snprintf(buf, size, "%s %s:%d", s->function, s->file, s->line);
  else if (s->function && s->file)
    n = hs__snprintf(buf, size, "%s %s", s->function, s->file);
  else if (s->function)
    n = hs__snprintf(buf, size, "%s (%s+0x%zx)", s->function, s->module,
                     (size_t)s->module_offset);
  else if (s->file)
    n = hs__snprintf(buf, size, "?? %s:%d (%s+0x%zx)", s->file, s->line, s->module,
                     (size_t)s->module_offset);
  else
    n = hs__snprintf(buf, size, "(%s+0x%zx)", s->module, (size_t)s->module_offset);
  return n >= 0 && (size_t)n < size ? 0 : -ERANGE;
}
