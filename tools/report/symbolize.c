/* heapscope report: offline symbolization from the profile's mappings.
 *
 * For locations the file did not symbolize, the mapping containing the
 * address names the ELF file that was loaded there. We open it (or the
 * binary given on the command line for it, or, for a proto mapping with a
 * build-id, the separate debug file found by build-id) through libdwfl,
 * offline, at bias 0, and translate each address to a file address through
 * the mapping's file offset and the file's PT_LOAD program headers.
 * Separate debug files (.build-id, .gnu_debuglink, /usr/lib/debug,
 * HEAPSCOPE_DEBUGINFO_PATH) are found as the runtime finds them
 * (core/symbol/debuginfo.c); debuginfod only with HEAPSCOPE_DEBUGINFOD=1.
 *
 * Speed: a profile can hold 100,000 distinct addresses in one large
 * compilation unit (an amalgamation). libdw's per-address scope search
 * (dwarf_getscopes) and libdwfl's symbol lookup walk the whole unit or
 * symbol table for each address, which is what makes other analyzers take
 * minutes. Here each unit gets a sorted table of its functions' address
 * ranges the first time it is hit, each module a sorted symbol table, and
 * an address costs two binary searches plus a walk of one function's
 * inlined-call tree. */
#include "report.h"
#include "core/symbol/debuginfo.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INLINE 64

typedef struct sym {
  uint64_t lo, hi;
  const char *name;
  int rank; /* 0 global, 1 weak, 2 local: preferred name at one address */
} sym_t;

typedef struct range {
  uint64_t lo, hi;
  Dwarf_Off die;
} range_t;

typedef struct cu {
  range_t *r;
  size_t n;
  const char *comp_dir;
} cu_t;

/* One function's inlined calls, flattened once: an address then costs a
 * scan of this list instead of a walk of the function's DIE tree. */
typedef struct inl {
  uint64_t lo, hi;   /* one address range of an inlined call */
  uint32_t depth;    /* 1 = inlined directly into the function */
  uint32_t call;     /* index into calls */
} inl_t;

typedef struct call {
  const char *name;  /* the inlined function */
  char *file;        /* where it was called from */
  int line;
} call_t;

typedef struct fninfo {
  const char *name;
  inl_t *inl;
  size_t ninl, inl_cap;
  call_t *calls;
  size_t ncalls, calls_cap;
} fninfo_t;

typedef struct module {
  char *key;         /* mapping file + build-id: what the profile named */
  char *path;        /* the file actually opened */
  int state;         /* 1 open, -1 failed */
  Dwfl *dwfl;
  Dwfl_Module *mod;
  Dwarf *dw;
  Dwarf_Addr dwbias;
  GElf_Phdr *loads;
  size_t nloads;
  sym_t *syms;
  size_t nsyms;
  bool syms_built;
  rp_u64map_t cu_index; /* CU DIE offset -> cus index */
  cu_t *cus;
  size_t ncus, cus_cap;
  rp_u64map_t name_index; /* abstract origin DIE offset -> names index */
  const char **names;
  size_t nnames, names_cap;
  rp_u64map_t fn_index; /* subprogram DIE offset -> fns index */
  fninfo_t *fns;
  size_t nfns, fns_cap;
} module_t;

struct rp_symbolizer {
  rp_symopts_t o;
  module_t **mods;
  size_t nmods, mods_cap;
  char *(*demangle)(const char *, char *, size_t *, int *);
  bool demangle_tried;
};

static const hs_dwarf_fns_t dwarf_fns = {dwarf_attr_integrate, dwarf_formstring};

static char *debuginfo_path; /* libdwfl reads it through the callbacks */
static bool allow_debuginfod;

static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name) {
  if (!allow_debuginfod) {
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    if (!hs__debuginfo_candidate(debuginfo_path, len > 0 ? bits : NULL, len > 0 ? len : 0,
                                 file_name, debuglink_file)) {
      errno = ENOENT;
      return -1;
    }
  }
  return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                      debuglink_crc, debuginfo_file_name);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp) {
  errno = ENOENT; /* files are always reported by name */
  return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

rp_symbolizer_t *rp_symbolizer_new(const rp_symopts_t *o) {
  rp_symbolizer_t *s = rp_alloc(sizeof *s);
  s->o = *o;
  const char *p = getenv("HEAPSCOPE_DEBUGINFO_PATH");
  static char default_path[] = HS_DEFAULT_DEBUGINFO_PATH;
  debuginfo_path = p && *p ? (char *)p : default_path;
  const char *d = getenv("HEAPSCOPE_DEBUGINFOD");
  allow_debuginfod = d && !strcmp(d, "1");
  elf_version(EV_CURRENT);
  return s;
}

static void module_free(module_t *m) {
  if (m->dwfl) dwfl_end(m->dwfl);
  for (size_t i = 0; i < m->ncus; i++) free(m->cus[i].r);
  free(m->cus);
  rp_u64map_free(&m->cu_index);
  for (size_t i = 0; i < m->nfns; i++) {
    for (size_t k = 0; k < m->fns[i].ncalls; k++) free(m->fns[i].calls[k].file);
    free(m->fns[i].calls);
    free(m->fns[i].inl);
  }
  free(m->fns);
  rp_u64map_free(&m->fn_index);
  free(m->names);
  rp_u64map_free(&m->name_index);
  free(m->syms);
  free(m->loads);
  free(m->key);
  free(m->path);
  free(m);
}

void rp_symbolizer_free(rp_symbolizer_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nmods; i++) module_free(s->mods[i]);
  free(s->mods);
  free(s);
}

/* ---- opening files ------------------------------------------------------------- */

static bool regular_file(const char *path) {
  struct stat st;
  return path && path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static void hex_id(const unsigned char *b, int n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

/* Opens path as the module's file; with want_id, only if its build-id is
 * that. Returns false with *why set. */
static bool try_open(module_t *m, const char *path, const char *want_id, const char **why) {
  if (!regular_file(path)) {
    *why = "no such file";
    return false;
  }
  Dwfl *d = dwfl_begin(&callbacks);
  if (!d) {
    *why = "libdwfl failed";
    return false;
  }
  dwfl_report_begin(d);
  Dwfl_Module *mod = dwfl_report_elf(d, base_name(path), path, -1, 0, false);
  dwfl_report_end(d, NULL, NULL);
  if (!mod) {
    dwfl_end(d);
    *why = "not an ELF file";
    return false;
  }
  if (want_id && *want_id) {
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);
    char hex[2 * 256 + 1] = "";
    if (len > 0 && len <= 256) hex_id(bits, len, hex);
    if (strcmp(hex, want_id) != 0) {
      dwfl_end(d);
      *why = "its build-id differs from the profile's (a different build)";
      return false;
    }
  }
  GElf_Addr bias;
  Elf *elf = dwfl_module_getelf(mod, &bias);
  size_t nph = 0;
  if (elf && elf_getphdrnum(elf, &nph) == 0 && nph) {
    m->loads = rp_alloc(nph * sizeof *m->loads);
    for (size_t i = 0; i < nph; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) m->loads[m->nloads++] = ph;
    }
  }
  m->dwfl = d;
  m->mod = mod;
  m->dw = dwfl_module_getdwarf(mod, &m->dwbias);
  m->path = rp_strndup(path, strlen(path));
  return true;
}

/* The file to use for a mapping: a binary from the command line with the
 * same base name (the first one also stands for the profile's first
 * mapping, the main program, as pprof's BINARY argument), else the mapped
 * path, else (with a build-id) the debug file named by it. */
static module_t *module_for(rp_symbolizer_t *s, const rp_profile_t *p, const rp_mapping_t *mp,
                            bool main_mapping) {
  const char *file = rp_str_get(&p->st, mp->file);
  const char *bid = rp_str_get(&p->st, mp->build_id);
  size_t kl = strlen(file) + strlen(bid) + 2;
  char *key = rp_alloc(kl);
  snprintf(key, kl, "%s\n%s", file, bid);
  for (size_t i = 0; i < s->nmods; i++)
    if (!strcmp(s->mods[i]->key, key)) {
      free(key);
      return s->mods[i]->state > 0 ? s->mods[i] : NULL;
    }
  module_t *m = rp_alloc(sizeof *m);
  m->key = key;
  m->state = -1;
  RP_RESERVE(s->mods, s->mods_cap, s->nmods + 1);
  s->mods[s->nmods++] = m;
  /* Pseudo files: [vdso], [heap], anonymous memory, JIT code. */
  if (!file[0] || file[0] == '[' || !strncmp(file, "//anon", 6) || !strncmp(file, "/anon", 5) ||
      !strncmp(file, "/memfd:", 7))
    return NULL;
  const char *why = "no such file";
  const char *cand[4];
  size_t nc = 0;
  for (size_t i = 0; i < s->o.nbinaries; i++)
    if (!strcmp(base_name(s->o.binaries[i]), base_name(file))) {
      cand[nc++] = s->o.binaries[i];
      break;
    }
  if (!nc && main_mapping && s->o.nbinaries) cand[nc++] = s->o.binaries[0];
  cand[nc++] = file;
  bool ok = false;
  const char *first_why = NULL;
  for (size_t i = 0; i < nc && !ok; i++) {
    ok = try_open(m, cand[i], bid, &why);
    if (!ok && !first_why) first_why = why;
  }
  if (!ok && strlen(bid) > 2) {
    /* No binary: the separate debug file has the symbols and lines too. */
    const char *dp = debuginfo_path;
    while (!ok && *dp) {
      const char *end = strchr(dp, ':');
      size_t len = end ? (size_t)(end - dp) : strlen(dp);
      if (len && dp[0] == '/') {
        size_t n = len + strlen(bid) + 32;
        char *path = rp_alloc(n);
        snprintf(path, n, "%.*s/.build-id/%.2s/%s.debug", (int)len, dp, bid, bid + 2);
        const char *w;
        ok = try_open(m, path, bid, &w);
        free(path);
      }
      dp += len + (end ? 1 : 0);
    }
  }
  if (!ok) {
    rp_warn("%s: cannot symbolize %s: %s", p->path, file, first_why ? first_why : why);
    return NULL;
  }
  m->state = 1;
  return m;
}

/* ---- symbols --------------------------------------------------------------------- */

static int cmp_sym(const void *a, const void *b) {
  const sym_t *x = a, *y = b;
  if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
  return x->rank - y->rank;
}

static void build_syms(module_t *m) {
  m->syms_built = true;
  int n = dwfl_module_getsymtab(m->mod);
  if (n <= 0) return;
  m->syms = rp_alloc((size_t)n * sizeof *m->syms);
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr;
    GElf_Word shndx;
    Elf *elf;
    Dwarf_Addr bias;
    const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, &elf, &bias);
    int type = GELF_ST_TYPE(sym.st_info);
    if (!name || !name[0] || (type != STT_FUNC && type != STT_GNU_IFUNC) || !addr ||
        sym.st_shndx == SHN_UNDEF)
      continue;
    int bind = GELF_ST_BIND(sym.st_info);
    sym_t *s = &m->syms[m->nsyms++];
    s->lo = addr;
    s->hi = sym.st_size ? addr + sym.st_size : 0;
    s->name = name;
    s->rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
  }
  qsort(m->syms, m->nsyms, sizeof *m->syms, cmp_sym);
  for (size_t i = 0; i < m->nsyms; i++) /* sizeless symbols end at the next one */
    if (!m->syms[i].hi) {
      size_t j = i + 1;
      while (j < m->nsyms && m->syms[j].lo == m->syms[i].lo) j++;
      m->syms[i].hi = j < m->nsyms ? m->syms[j].lo : m->syms[i].lo + 1;
    }
}

static const char *sym_name(module_t *m, uint64_t addr) {
  if (!m->syms_built) build_syms(m);
  size_t lo = 0, hi = m->nsyms;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (m->syms[mid].lo <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (!lo) return NULL;
  size_t i = lo - 1;
  while (i > 0 && m->syms[i - 1].lo == m->syms[i].lo) i--;
  /* Among symbols starting here take the best one that covers addr. */
  for (size_t k = i; k < m->nsyms && m->syms[k].lo == m->syms[i].lo; k++)
    if (addr < m->syms[k].hi) return m->syms[k].name;
  return NULL;
}

/* ---- DWARF -------------------------------------------------------------------------- */

static int cmp_range(const void *a, const void *b) {
  const range_t *x = a, *y = b;
  return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void collect_functions(cu_t *c, Dwarf_Die *parent, int depth) {
  Dwarf_Die die;
  if (depth > 8 || dwarf_child(parent, &die) != 0) return;
  do {
    int tag = dwarf_tag(&die);
    if (tag == DW_TAG_subprogram) {
      Dwarf_Addr base, start, end;
      ptrdiff_t off = 0;
      while ((off = dwarf_ranges(&die, off, &base, &start, &end)) > 0) {
        if (end <= start) continue;
        if (c->n % 64 == 0) c->r = rp_realloc(c->r, (c->n + 64) * sizeof *c->r);
        c->r[c->n].lo = start;
        c->r[c->n].hi = end;
        c->r[c->n].die = dwarf_dieoffset(&die);
        c->n++;
      }
    } else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
      collect_functions(c, &die, depth + 1);
    }
  } while (dwarf_siblingof(&die, &die) == 0);
}

static cu_t *cu_table(module_t *m, Dwarf_Die *cudie) {
  bool found;
  uint32_t *slot = rp_u64map_slot(&m->cu_index, dwarf_dieoffset(cudie), &found);
  if (found) return &m->cus[*slot - 1];
  RP_RESERVE(m->cus, m->cus_cap, m->ncus + 1);
  cu_t *c = &m->cus[m->ncus];
  memset(c, 0, sizeof *c);
  *slot = (uint32_t)++m->ncus;
  collect_functions(c, cudie, 0);
  qsort(c->r, c->n, sizeof *c->r, cmp_range);
  Dwarf_Attribute a;
  c->comp_dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a));
  return c;
}

/* Innermost function range containing addr (ranges of distinct functions
 * do not overlap; take the last start <= addr that covers it). */
static const range_t *find_range(const cu_t *c, uint64_t addr) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->r[mid].lo <= addr) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i-- > 0;) {
    if (addr < c->r[i].hi) return &c->r[i];
    if (lo - i > 4) break; /* nested or overlapping ranges are rare and near */
  }
  return NULL;
}

/* The name of an inlined call, cached by its abstract origin (one helper
 * inlined in many places is named once). */
static const char *inlined_name(module_t *m, Dwarf_Die *die) {
  Dwarf_Attribute at;
  Dwarf_Die origin;
  if (!dwarf_formref_die(dwarf_attr(die, DW_AT_abstract_origin, &at), &origin))
    return hs__dwarf_die_name(die, &dwarf_fns);
  bool found;
  uint32_t *slot = rp_u64map_slot(&m->name_index, dwarf_dieoffset(&origin), &found);
  if (found) return m->names[*slot - 1];
  RP_RESERVE(m->names, m->names_cap, m->nnames + 1);
  m->names[m->nnames] = hs__dwarf_die_name(die, &dwarf_fns);
  *slot = (uint32_t)++m->nnames;
  return m->names[m->nnames - 1];
}

static void collect_inlined(module_t *m, fninfo_t *fi, Dwarf_Die *die, uint32_t depth,
                            Dwarf_Files *files, size_t nfiles, const char *comp_dir, int level) {
  Dwarf_Die c;
  if (level > 64 || dwarf_child(die, &c) != 0) return;
  do {
    int tag = dwarf_tag(&c);
    if (tag == DW_TAG_inlined_subroutine) {
      RP_RESERVE(fi->calls, fi->calls_cap, fi->ncalls + 1);
      call_t *call = &fi->calls[fi->ncalls];
      memset(call, 0, sizeof *call);
      call->name = inlined_name(m, &c);
      Dwarf_Attribute at;
      Dwarf_Word v;
      if (files && dwarf_formudata(dwarf_attr(&c, DW_AT_call_file, &at), &v) == 0 && v < nfiles) {
        char buf[4096];
        const char *f = hs__dwarf_source_path(dwarf_filesrc(files, v, NULL, NULL), comp_dir, buf,
                                              sizeof buf);
        if (f) call->file = rp_strndup(f, strlen(f));
      }
      if (dwarf_formudata(dwarf_attr(&c, DW_AT_call_line, &at), &v) == 0 && v < INT32_MAX)
        call->line = (int)v;
      Dwarf_Addr base, lo, hi;
      ptrdiff_t off = 0;
      while ((off = dwarf_ranges(&c, off, &base, &lo, &hi)) > 0) {
        if (hi <= lo) continue;
        RP_RESERVE(fi->inl, fi->inl_cap, fi->ninl + 1);
        fi->inl[fi->ninl++] = (inl_t){lo, hi, depth, (uint32_t)fi->ncalls};
      }
      fi->ncalls++;
      collect_inlined(m, fi, &c, depth + 1, files, nfiles, comp_dir, level + 1);
    } else if (tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
               tag == DW_TAG_catch_block) {
      collect_inlined(m, fi, &c, depth, files, nfiles, comp_dir, level + 1);
    }
  } while (dwarf_siblingof(&c, &c) == 0);
}

static fninfo_t *function_info(module_t *m, Dwarf_Die *cudie, cu_t *c, Dwarf_Off off) {
  bool found;
  uint32_t *slot = rp_u64map_slot(&m->fn_index, off, &found);
  if (found) return &m->fns[*slot - 1];
  RP_RESERVE(m->fns, m->fns_cap, m->nfns + 1);
  fninfo_t *fi = &m->fns[m->nfns];
  memset(fi, 0, sizeof *fi);
  *slot = (uint32_t)++m->nfns;
  Dwarf_Die sub;
  if (!dwarf_offdie(m->dw, off, &sub)) return fi;
  fi->name = hs__dwarf_die_name(&sub, &dwarf_fns);
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = NULL;
  collect_inlined(m, fi, &sub, 1, files, nfiles, c->comp_dir, 0);
  return fi;
}

typedef struct frame {
  const char *name, *file;
  int line;
} frame_t;

static const char *demangled(rp_symbolizer_t *s, const char *name, char **owned) {
  *owned = NULL;
  if (!name || name[0] != '_' || name[1] != 'Z') return name;
  if (!s->demangle_tried) {
    s->demangle_tried = true;
    void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (h) *(void **)&s->demangle = dlsym(h, "__cxa_demangle");
  }
  if (!s->demangle) return name;
  int status = 0;
  char *d = s->demangle(name, NULL, NULL, &status);
  if (!d || status != 0) {
    free(d);
    return name;
  }
  *owned = d;
  return d;
}

/* The unit holding addr. libdw looks units up through .debug_aranges,
 * which clang does not emit by default (libdw 0.188 has no fallback):
 * then each unit's own ranges. */
static Dwarf_Die *unit_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias) {
  Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, bias);
  if (cu) return cu;
  while ((cu = dwfl_module_nextcu(mod, cu, bias)) != NULL)
    if (dwarf_haspc(cu, addr - *bias) > 0) return cu;
  return NULL;
}

/* The frames at file address addr, innermost first; returns the count. */
static int resolve(module_t *m, uint64_t addr, frame_t *out, char *pathbuf, size_t pathsize) {
  int n = 0;
  Dwarf_Addr bias = 0;
  Dwarf_Die *cudie = m->dw ? unit_at(m->mod, addr, &bias) : NULL;
  if (cudie) {
    uint64_t a = addr - bias;
    cu_t *c = cu_table(m, cudie);
    const char *file = NULL;
    int line = 0;
    Dwarf_Line *dl = dwarf_getsrc_die(cudie, a);
    if (dl) {
      file = hs__dwarf_source_path(dwarf_linesrc(dl, NULL, NULL), c->comp_dir, pathbuf, pathsize);
      if (file == pathbuf) { /* keep it: the next join reuses pathbuf */
        pathbuf += strlen(pathbuf) + 1;
        pathsize -= strlen(file) + 1;
      }
      dwarf_lineno(dl, &line);
    }
    const range_t *r = find_range(c, a);
    if (r) {
      fninfo_t *fi = function_info(m, cudie, c, r->die);
      /* the inlined calls containing a, outermost (depth 1) first */
      uint32_t chain[MAX_INLINE];
      int nc = 0;
      for (size_t k = 0; k < fi->ninl && nc < MAX_INLINE - 1; k++)
        if (fi->inl[k].lo <= a && a < fi->inl[k].hi) {
          int at = nc++;
          while (at > 0 && fi->inl[chain[at - 1]].depth > fi->inl[k].depth) {
            chain[at] = chain[at - 1];
            at--;
          }
          chain[at] = (uint32_t)k;
        }
      for (int i = nc - 1; i >= -1; i--) { /* innermost first, then the function */
        frame_t *f = &out[n++];
        f->name = i >= 0 ? fi->calls[fi->inl[chain[i]].call].name : fi->name;
        f->file = file;
        f->line = line;
        if (i >= 0) { /* the caller's position is this inlined call's site */
          const call_t *call = &fi->calls[fi->inl[chain[i]].call];
          file = call->file;
          line = call->line;
        }
      }
      if (!out[n - 1].name) out[n - 1].name = sym_name(m, addr);
      return n;
    }
    const char *name = sym_name(m, addr);
    if (name || file) {
      out[0].name = name;
      out[0].file = file;
      out[0].line = line;
      return 1;
    }
    return 0;
  }
  const char *name = sym_name(m, addr);
  if (!name) return 0;
  out[0].name = name;
  out[0].file = NULL;
  out[0].line = 0;
  return 1;
}

/* Runtime address -> file address: through the mapping's file offset and
 * the PT_LOAD segment holding that offset. */
static uint64_t file_address(const module_t *m, const rp_mapping_t *mp, uint64_t addr) {
  uint64_t off = addr - mp->start + mp->offset;
  for (size_t i = 0; i < m->nloads; i++) {
    const GElf_Phdr *ph = &m->loads[i];
    if (off >= ph->p_offset && off - ph->p_offset < ph->p_filesz)
      return off - ph->p_offset + ph->p_vaddr;
  }
  return off;
}

void rp_symbolize(rp_symbolizer_t *s, rp_profile_t *p) {
  if (s->o.no_symbolize || !p->nmappings) return;
  module_t **mods = rp_alloc(p->nmappings * sizeof *mods);
  bool *tried = rp_alloc(p->nmappings * sizeof *tried);
  /* The main program: the first mapping (pprof's rule), for BINARY. */
  char pathbuf[3 * 4096];
  frame_t frames[MAX_INLINE + 1];
  for (size_t i = 0; i < p->nlocations; i++) {
    rp_location_t *l = &p->locations[i];
    if (l->nlines || !l->mapping || !l->address) continue;
    uint32_t mi = l->mapping - 1;
    const rp_mapping_t *mp = &p->mappings[mi];
    if (mp->symbolized) continue;
    if (!tried[mi]) {
      tried[mi] = true;
      mods[mi] = module_for(s, p, mp, mi == 0);
    }
    module_t *m = mods[mi];
    if (!m) continue;
    int n = resolve(m, file_address(m, mp, l->address), frames, pathbuf, sizeof pathbuf);
    if (!n) continue;
    RP_RESERVE(p->lines, p->lines_cap, p->nlines + (size_t)n);
    l->lines = (uint32_t)p->nlines;
    for (int k = 0; k < n; k++) {
      char *owned;
      const char *name = demangled(s, frames[k].name, &owned);
      uint32_t nid = name ? rp_str(&p->st, name) : 0;
      free(owned);
      uint32_t fid = frames[k].file ? rp_str(&p->st, frames[k].file) : 0;
      if (!nid) {
        /* A line without a function name (no symbol, no DWARF name). */
        char buf[64];
        snprintf(buf, sizeof buf, "%s+0x%llx", base_name(rp_str_get(&p->st, mp->file)),
                 (unsigned long long)(l->address - mp->start + mp->offset));
        nid = rp_str(&p->st, buf);
      }
      rp_line_t *ln = &p->lines[p->nlines++];
      ln->function = rp_profile_function(p, nid, fid);
      ln->line = frames[k].line;
    }
    l->nlines = (uint32_t)n;
  }
  free(mods);
  free(tried);
}
