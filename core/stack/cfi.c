/* DWARF call frame information (x86-64): the unwind rule at one code
 * address, read from a module's .eh_frame through its .eh_frame_hdr.
 *
 * The linker's .eh_frame_hdr is already the compact per-module index an
 * unwinder needs: a table of (function start, FDE) pairs sorted by
 * address. The first time a module's CFI is needed, both sections are
 * copied to the internal heap (hs__cfi_copy: about 180 KiB and 50 us for
 * libc), so that no lookup ever reads memory a dlclose may unmap; modules
 * that are never unmapped (the program, libc, the loader, the vDSO, this
 * runtime) are indexed in place (core/stack/unwind.c). A lookup
 * binary-searches the table, then runs the CIE's and the FDE's CFA program
 * up to the address (tens of instructions; at most a few microseconds for
 * the longest functions) and reduces the resulting row to what a walk
 * needs on x86-64:
 *
 *   CFA      = rsp + N | rbp + N | *(rbp + N)   (the last: realigned stacks)
 *   return   = *(CFA - 8), or undefined (the outermost frame)
 *   rbp      = unchanged | *(CFA + N) | *(rbp + N)
 *
 * plus two whole-FDE kinds: PLT stubs (CFA depends on the pc's offset in a
 * 16-byte slot) and signal trampolines (CIE augmentation "S": registers
 * come from the ucontext the kernel pushed). Anything else (CFA in another
 * register, registers saved in registers, other expressions: setjmp,
 * makecontext and hand-written assembly) is HS_CFI_UNSUPPORTED, which the
 * walker hands to libunwind.
 *
 * A lookup allocates nothing, takes no lock and makes no system call, so
 * it runs in signal handlers too. Every read stays inside the copy, so
 * corrupt CFI gives HS_CFI_NONE or a wrong rule (which the walk's checks
 * catch), never a fault. The copy keeps the sections' relative layout;
 * pointers encoded relative to their own address are translated back to
 * the module's addresses with the index's delta. */
#include "core/stack/stack.h"

#include "core/alloc/alloc.h"

#include <string.h>

#define CFA_STACK 8 /* DW_CFA_remember_state nesting kept */

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* One row of the CFA table, before reduction. */
typedef struct row {
  uint8_t cfa;        /* CFA_* */
  int64_t cfa_off;
  uint8_t bp;         /* BP_* */
  int64_t bp_off;
  uint8_t ra;         /* RA_* */
} row_t;

enum { CFA_RSP, CFA_RBP, CFA_DEREF_RBP, CFA_PLT, CFA_OTHER };
enum { BP_SAME, BP_AT_CFA, BP_AT_RBP, BP_OTHER };
enum { RA_AT_CFA_M8, RA_UNDEFINED, RA_OTHER };

typedef struct reader {
  const uint8_t *p, *end;
  bool bad;
} reader_t;

static inline uint8_t u8(reader_t *r) {
  if (r->p >= r->end) {
    r->bad = true;
    return 0;
  }
  return *r->p++;
}

static uint64_t uleb(reader_t *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = u8(r);
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  r->bad = true;
  return 0;
}

static int64_t sleb(reader_t *r) {
  int64_t v = 0;
  int shift = 0;
  uint8_t b;
  do {
    b = u8(r);
    if (shift < 64) v |= (int64_t)(b & 0x7f) << shift;
    shift += 7;
  } while ((b & 0x80) && !r->bad && shift < 70);
  if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
  return v;
}

static uint64_t fixed(reader_t *r, int n) {
  if (r->end - r->p < n) {
    r->bad = true;
    r->p = r->end;
    return 0;
  }
  uint64_t v = 0;
  memcpy(&v, r->p, (size_t)n); /* little endian */
  r->p += n;
  return v;
}

/* DW_EH_PE_* pointer encodings, as used in .eh_frame and .eh_frame_hdr:
 * pcrel is relative to the field's own (runtime) address, datarel to the
 * start of .eh_frame_hdr. Indirect and function-relative forms are not
 * used for the fields read here. */
static uintptr_t read_encoded(reader_t *r, uint8_t enc, uintptr_t datarel, intptr_t delta) {
  if (enc == 0xff) return 0; /* DW_EH_PE_omit */
  uintptr_t field = (uintptr_t)r->p + (uintptr_t)delta; /* where the module has it */
  uint64_t v;
  switch (enc & 0x0f) {
  case 0x00: v = fixed(r, 8); break;
  case 0x01: v = uleb(r); break;
  case 0x02: v = fixed(r, 2); break;
  case 0x03: v = fixed(r, 4); break;
  case 0x04: v = fixed(r, 8); break;
  case 0x09: v = (uint64_t)sleb(r); break;
  case 0x0a: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
  case 0x0b: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
  case 0x0c: v = fixed(r, 8); break;
  default: r->bad = true; return 0;
  }
  switch (enc & 0x70) {
  case 0x00: break;
  case 0x10: v += field; break;
  case 0x30: v += datarel; break;
  default: r->bad = true; return 0;
  }
  if (enc & 0x80) r->bad = true; /* indirect: not in CFI we read */
  return (uintptr_t)v;
}

/* ---- .eh_frame_hdr ------------------------------------------------------ */

bool hs__cfi_parse_hdr(uintptr_t hdr, size_t hdr_size, uintptr_t limit, intptr_t delta,
                       hs_cfi_index_t *out) {
  memset(out, 0, sizeof *out);
  if (!hdr || hdr_size < 4 || hdr + hdr_size > limit) return false;
  const uint8_t *h = (const uint8_t *)hdr;
  if (h[0] != 1) return false;
  reader_t r = {h + 4, h + hdr_size, false};
  out->eh_frame = read_encoded(&r, h[1], hdr + (uintptr_t)delta, delta) - (uintptr_t)delta;
  uintptr_t count = read_encoded(&r, h[2], hdr + (uintptr_t)delta, delta);
  if (r.bad || h[2] == 0xff || h[3] != 0x3b) return false; /* datarel|sdata4 pairs */
  if (count > (size_t)(r.end - r.p) / 8) return false;
  out->table = (const int32_t *)r.p;
  out->count = (uint32_t)count;
  out->hdr = hdr;
  out->limit = limit;
  out->delta = delta;
  return out->eh_frame < limit;
}

/* The FDE whose function starts at or below addr (the table is sorted by
 * the functions' addresses in the module; the FDEs are read in the copy). */
static uintptr_t find_fde(const hs_cfi_index_t *ix, uintptr_t addr) {
  uint32_t lo = 0, hi = ix->count;
  uintptr_t base = ix->hdr + (uintptr_t)ix->delta;
  if (!hi) return 0;
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (base + (intptr_t)ix->table[2 * mid] <= addr) lo = mid;
    else hi = mid;
  }
  if (base + (intptr_t)ix->table[2 * lo] > addr) return 0;
  return ix->hdr + (intptr_t)ix->table[2 * lo + 1];
}

/* ---- CIE and FDE ---------------------------------------------------------- */

typedef struct cie {
  uint64_t code_align;
  int64_t data_align;
  uint64_t ra_reg;
  uint8_t fde_enc;
  bool signal_frame;
  bool has_aug_data;
  const uint8_t *insns, *insns_end;
} cie_t;

/* An entry's length and body; false when it is malformed, the end marker,
 * or not wholly inside the segment (limit). */
static bool entry(uintptr_t at, uintptr_t limit, const uint8_t **body, const uint8_t **end) {
  const uint8_t *p = (const uint8_t *)at;
  if (at >= limit || limit - at < 12) return false;
  uint32_t len32;
  memcpy(&len32, p, 4);
  uint64_t len = len32;
  p += 4;
  if (len32 == 0xffffffffu) {
    memcpy(&len, p, 8);
    p += 8;
  }
  if (len == 0 || len > limit - (uintptr_t)p) return false;
  *body = p;
  *end = p + len;
  return true;
}

static bool parse_cie(uintptr_t at, uintptr_t limit, cie_t *c) {
  const uint8_t *body, *end;
  if (!entry(at, limit, &body, &end)) return false;
  reader_t r = {body, end, false};
  if (fixed(&r, 4) != 0) return false; /* CIE id */
  uint8_t version = u8(&r);
  if (version != 1 && version != 3 && version != 4) return false;
  const char *aug = (const char *)r.p;
  size_t aug_len = strnlen(aug, (size_t)(end - r.p));
  if (aug_len == (size_t)(end - r.p)) return false;
  r.p += aug_len + 1;
  if (version == 4) {
    if (u8(&r) != 8) return false; /* address size */
    u8(&r);                        /* segment selector size */
  }
  memset(c, 0, sizeof *c);
  c->code_align = uleb(&r);
  c->data_align = sleb(&r);
  c->ra_reg = version == 1 ? u8(&r) : uleb(&r);
  c->fde_enc = 0; /* absptr */
  if (aug[0] == 'z') {
    c->has_aug_data = true;
    uint64_t n = uleb(&r);
    if (n > (uint64_t)(end - r.p)) return false;
    reader_t a = {r.p, r.p + n, false};
    for (size_t i = 1; i < aug_len; i++) {
      switch (aug[i]) {
      case 'R': c->fde_enc = u8(&a); break;
      case 'L': u8(&a); break;
      case 'P': read_encoded(&a, u8(&a), 0, 0); a.bad = false; break; /* value unused */
      case 'S': c->signal_frame = true; break;
      case 'B': case 'G': break;
      default: i = aug_len; break; /* unknown: the length lets us skip it */
      }
    }
    r.p += n;
  } else if (aug_len) {
    return false; /* "eh" and other pre-'z' forms */
  }
  if (r.bad) return false;
  c->insns = r.p;
  c->insns_end = end;
  return true;
}

/* ---- the CFA program -------------------------------------------------------- */

typedef struct interp {
  row_t row, initial;
  row_t stack[CFA_STACK];
  int depth;
  const cie_t *cie;
  uintptr_t loc, target;
  intptr_t delta;
} interp_t;

/* DW_OP_breg<reg> N [DW_OP_deref] blocks are the only expressions x86-64
 * compilers emit outside hand-written code; the PLT's is matched whole. */
static void cfa_expression(row_t *row, const uint8_t *b, uint64_t n) {
  static const uint8_t plt_head[] = {0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a};
  static const uint8_t plt_tail[] = {0x2a, 0x33, 0x24, 0x22};
  if (n == 11 && !memcmp(b, plt_head, 6) && b[6] >= 0x30 && b[6] <= 0x4f &&
      !memcmp(b + 7, plt_tail, 4)) {
    row->cfa = CFA_PLT;
    row->cfa_off = b[6] - 0x30; /* DW_OP_lit<k>: the slot offset from which rsp holds 16 more */
    return;
  }
  reader_t r = {b, b + n, false};
  if (u8(&r) == 0x70 + REG_RBP) {
    int64_t off = sleb(&r);
    if (!r.bad && r.p + 1 == r.end && *r.p == 0x06) { /* DW_OP_deref */
      row->cfa = CFA_DEREF_RBP;
      row->cfa_off = off;
      return;
    }
  }
  row->cfa = CFA_OTHER;
}

static void reg_expression(row_t *row, uint64_t reg, const uint8_t *b, uint64_t n) {
  if (reg == REG_RA) {
    row->ra = RA_OTHER;
    return;
  }
  if (reg != REG_RBP) return;
  reader_t r = {b, b + n, false};
  if (u8(&r) == 0x70 + REG_RBP) { /* saved at rbp + N */
    int64_t off = sleb(&r);
    if (!r.bad && r.p == r.end) {
      row->bp = BP_AT_RBP;
      row->bp_off = off;
      return;
    }
  }
  row->bp = BP_OTHER;
}

static void set_offset(row_t *row, uint64_t reg, int64_t off) {
  if (reg == REG_RBP) {
    row->bp = BP_AT_CFA;
    row->bp_off = off;
  } else if (reg == REG_RA) {
    row->ra = off == -8 ? RA_AT_CFA_M8 : RA_OTHER;
  }
}

static void set_other(row_t *row, uint64_t reg, bool undefined) {
  if (reg == REG_RBP) row->bp = undefined ? BP_SAME : BP_OTHER;
  else if (reg == REG_RA) row->ra = undefined ? RA_UNDEFINED : RA_OTHER;
}

static void restore(interp_t *in, uint64_t reg) {
  if (reg == REG_RBP) {
    in->row.bp = in->initial.bp;
    in->row.bp_off = in->initial.bp_off;
  } else if (reg == REG_RA) {
    in->row.ra = in->initial.ra;
  }
}

/* Runs instructions until the end or until the location passes target.
 * Returns false on a malformed program. */
static bool run(interp_t *in, const uint8_t *p, const uint8_t *end, uint8_t fde_enc) {
  reader_t r = {p, end, false};
  const cie_t *c = in->cie;
  while (r.p < r.end && !r.bad) {
    uint8_t op = u8(&r);
    uint64_t reg, n;
    uintptr_t adv = 0;
    switch (op >> 6) {
    case 1: adv = (uintptr_t)(op & 0x3f) * c->code_align; goto advance;
    case 2: set_offset(&in->row, op & 0x3f, (int64_t)uleb(&r) * c->data_align); continue;
    case 3: restore(in, op & 0x3f); continue;
    default: break;
    }
    switch (op) {
    case 0x00: break; /* nop */
    case 0x01: { /* set_loc */
      uintptr_t loc = read_encoded(&r, fde_enc, 0, in->delta);
      if (loc > in->target) return true;
      in->loc = loc;
      break;
    }
    case 0x02: adv = fixed(&r, 1) * c->code_align; goto advance;
    case 0x03: adv = fixed(&r, 2) * c->code_align; goto advance;
    case 0x04: adv = fixed(&r, 4) * c->code_align; goto advance;
    case 0x05: reg = uleb(&r); set_offset(&in->row, reg, (int64_t)uleb(&r) * c->data_align); break;
    case 0x06: restore(in, uleb(&r)); break;
    case 0x07: set_other(&in->row, uleb(&r), true); break;
    case 0x08: reg = uleb(&r); if (reg == REG_RBP) in->row.bp = BP_SAME; break;
    case 0x09: reg = uleb(&r); uleb(&r); set_other(&in->row, reg, false); break;
    case 0x0a:
      if (in->depth == CFA_STACK) return false;
      in->stack[in->depth++] = in->row;
      break;
    case 0x0b:
      if (in->depth == 0) return false;
      in->row = in->stack[--in->depth];
      break;
    case 0x0c: /* def_cfa */
      reg = uleb(&r);
      in->row.cfa_off = (int64_t)uleb(&r);
      in->row.cfa = reg == REG_RSP ? CFA_RSP : reg == REG_RBP ? CFA_RBP : CFA_OTHER;
      break;
    case 0x0d: /* def_cfa_register */
      reg = uleb(&r);
      in->row.cfa = reg == REG_RSP ? CFA_RSP : reg == REG_RBP ? CFA_RBP : CFA_OTHER;
      break;
    case 0x0e: in->row.cfa_off = (int64_t)uleb(&r); break;
    case 0x0f: /* def_cfa_expression */
      n = uleb(&r);
      if (n > (uint64_t)(r.end - r.p)) return false;
      cfa_expression(&in->row, r.p, n);
      r.p += n;
      break;
    case 0x10: /* expression */
      reg = uleb(&r);
      n = uleb(&r);
      if (n > (uint64_t)(r.end - r.p)) return false;
      reg_expression(&in->row, reg, r.p, n);
      r.p += n;
      break;
    case 0x11: reg = uleb(&r); set_offset(&in->row, reg, sleb(&r) * c->data_align); break;
    case 0x12: /* def_cfa_sf */
      reg = uleb(&r);
      in->row.cfa_off = sleb(&r) * c->data_align;
      in->row.cfa = reg == REG_RSP ? CFA_RSP : reg == REG_RBP ? CFA_RBP : CFA_OTHER;
      break;
    case 0x13: in->row.cfa_off = sleb(&r) * c->data_align; break;
    case 0x14: case 0x15: /* val_offset(_sf) */
      reg = uleb(&r);
      if (op == 0x14) uleb(&r); else sleb(&r);
      set_other(&in->row, reg, false);
      break;
    case 0x16: /* val_expression */
      reg = uleb(&r);
      n = uleb(&r);
      if (n > (uint64_t)(r.end - r.p)) return false;
      r.p += n;
      set_other(&in->row, reg, false);
      break;
    case 0x2e: uleb(&r); break; /* GNU_args_size */
    case 0x2f: /* GNU_negative_offset_extended */
      reg = uleb(&r);
      set_offset(&in->row, reg, -(int64_t)uleb(&r) * c->data_align);
      break;
    default: return false;
    }
    continue;
  advance:
    if (in->loc + adv > in->target) return true;
    in->loc += adv;
  }
  return !r.bad;
}

/* ---- reduction to a rule ----------------------------------------------------- */

static uint32_t reduce(const row_t *row) {
  if (row->ra == RA_UNDEFINED) return HS_CFI_STOP;
  if (row->ra != RA_AT_CFA_M8 || row->bp == BP_OTHER) return HS_CFI_UNSUPPORTED;
  int kind;
  switch (row->cfa) {
  case CFA_RSP: kind = HS_CFI_RSP; break;
  case CFA_RBP: kind = HS_CFI_RBP; break;
  case CFA_DEREF_RBP: kind = HS_CFI_DEREF_RBP; break;
  case CFA_PLT: return hs__cfi_rule(HS_CFI_PLT, (int32_t)row->cfa_off, HS_CFI_BP_SAME, 0);
  default: return HS_CFI_UNSUPPORTED;
  }
  int bpk = row->bp == BP_AT_CFA ? HS_CFI_BP_AT_CFA : row->bp == BP_AT_RBP ? HS_CFI_BP_AT_RBP
                                                                            : HS_CFI_BP_SAME;
  int64_t bp_off = bpk == HS_CFI_BP_SAME ? 0 : row->bp_off;
  if (row->cfa_off < HS_CFI_CFA_MIN || row->cfa_off > HS_CFI_CFA_MAX || (bp_off & 7) ||
      bp_off < HS_CFI_BP_MIN || bp_off > HS_CFI_BP_MAX)
    return HS_CFI_UNSUPPORTED;
  return hs__cfi_rule(kind, (int32_t)row->cfa_off, bpk, (int32_t)bp_off);
}

uint32_t hs__cfi_lookup(const hs_cfi_index_t *ix, uintptr_t addr) {
  uintptr_t fde = find_fde(ix, addr);
  if (!fde) return HS_CFI_NONE;
  const uint8_t *body, *end;
  if (fde < ix->eh_frame || !entry(fde, ix->limit, &body, &end)) return HS_CFI_NONE;
  reader_t r = {body, end, false};
  uint32_t cie_off = (uint32_t)fixed(&r, 4);
  if (cie_off == 0 || cie_off > (uintptr_t)body - ix->eh_frame) return HS_CFI_NONE;
  cie_t cie;
  if (!parse_cie((uintptr_t)body - cie_off, ix->limit, &cie)) return HS_CFI_NONE;
  uintptr_t start = read_encoded(&r, cie.fde_enc, 0, ix->delta);
  uintptr_t range = read_encoded(&r, cie.fde_enc & 0x0f, 0, 0);
  if (r.bad || addr < start || addr - start >= range) return HS_CFI_NONE;
  if (cie.has_aug_data) {
    uint64_t n = uleb(&r);
    if (n > (uint64_t)(end - r.p)) return HS_CFI_NONE;
    r.p += n;
  }
  if (cie.signal_frame) return HS_CFI_SIGFRAME;
  interp_t in;
  memset(&in, 0, sizeof in);
  in.cie = &cie;
  in.delta = ix->delta;
  in.row.cfa = CFA_OTHER;
  in.row.ra = RA_OTHER;
  in.loc = start;
  in.target = addr;
  if (!run(&in, cie.insns, cie.insns_end, cie.fde_enc)) return HS_CFI_NONE;
  in.initial = in.row;
  in.depth = 0;
  in.loc = start;
  if (!run(&in, r.p, end, cie.fde_enc)) return HS_CFI_NONE;
  return reduce(&in.row);
}

/* ---- the copy ------------------------------------------------------------------ */

const hs_cfi_index_t *hs__cfi_copy(uintptr_t hdr, size_t hdr_size, uintptr_t limit) {
  hs_cfi_index_t in;
  if (!hs__cfi_parse_hdr(hdr, hdr_size, limit, 0, &in)) return NULL;
  /* .eh_frame ends after its last FDE (CIEs precede their FDEs). */
  uintptr_t end = in.eh_frame;
  for (uint32_t i = 0; i < in.count; i++) {
    uintptr_t fde = hdr + (intptr_t)in.table[2 * i + 1];
    const uint8_t *body, *e;
    if (fde < in.eh_frame || !entry(fde, limit, &body, &e)) continue;
    if ((uintptr_t)e > end) end = (uintptr_t)e;
  }
  uintptr_t lo = hdr < in.eh_frame ? hdr : in.eh_frame;
  uintptr_t hi = hdr + hdr_size > end ? hdr + hdr_size : end;
  if (hi - lo > (64u << 20)) return NULL;
  hs_cfi_index_t *ix = hs__arena_alloc(sizeof *ix + (hi - lo));
  if (!ix) return NULL;
  uintptr_t data = (uintptr_t)(ix + 1);
  memcpy((void *)data, (const void *)lo, hi - lo);
  intptr_t delta = (intptr_t)(lo - data);
  if (!hs__cfi_parse_hdr(hdr - (uintptr_t)delta, hdr_size, data + (hi - lo), delta, ix)) {
    hs__arena_free(ix);
    return NULL;
  }
  return ix;
}
