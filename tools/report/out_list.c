/* heapscope report: --list=REGEX, annotated source of matching functions
 * (pprof's -list): per source line of each function whose name matches,
 * the flat value (samples whose leaf is that line) and the cumulative one
 * (stacks passing through it, once per stack), printed beside the source
 * text when the file is found, else the annotated lines alone. A function
 * inlined elsewhere is listed with its own lines; the caller's line is the
 * call site. */
#include "report.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

typedef struct lstat {
  uint32_t name, file; /* view strings */
  int32_t line;
  int64_t flat, cum;
} lstat_t;

static int cmp_lstat(const void *a, const void *b, void *c) {
  const rp_view_t *v = c;
  const lstat_t *x = a, *y = b;
  int r = strcmp(rp_str_get(&v->st, x->name), rp_str_get(&v->st, y->name));
  if (!r) r = strcmp(rp_str_get(&v->st, x->file), rp_str_get(&v->st, y->file));
  if (!r) r = x->line < y->line ? -1 : x->line > y->line;
  return r;
}

typedef struct source {
  char *text;
  const char **line; /* 1-based */
  size_t nlines;
} source_t;

static bool load_source(const char *path, source_t *src) {
  memset(src, 0, sizeof *src);
  rp_buf_t b;
  rp_err_t err = {0};
  if (!*path || !rp_read_file(path, &b, &err)) return false;
  src->text = rp_realloc(b.data, b.len + 1);
  src->text[b.len] = '\0';
  size_t cap = 0;
  RP_RESERVE(src->line, cap, 2);
  src->line[0] = NULL;
  char *p = src->text;
  while (*p || p < src->text + b.len) {
    RP_RESERVE(src->line, cap, src->nlines + 2);
    src->line[++src->nlines] = p;
    char *nl = memchr(p, '\n', (size_t)(src->text + b.len - p));
    if (!nl) break;
    *nl = '\0';
    p = nl + 1;
    if (p >= src->text + b.len) break;
  }
  return true;
}

static void print_line(FILE *f, const rp_view_t *v, const rp_opts_t *o, const lstat_t *st,
                       int line, const char *text) {
  char a[64], b[64];
  if (st && st->flat) rp_format_value(v, st->flat, o->raw_units, a, sizeof a);
  else snprintf(a, sizeof a, ".");
  if (st && st->cum) rp_format_value(v, st->cum, o->raw_units, b, sizeof b);
  else snprintf(b, sizeof b, ".");
  fprintf(f, "%10s %10s %6d:", a, b, line);
  if (text) {
    fputc(' ', f);
    for (const char *c = text; *c; c++) putc(*c == '\r' ? ' ' : *c, f);
  }
  fputc('\n', f);
}

bool rp_write_list(FILE *f, rp_view_t *v, const rp_opts_t *o, rp_err_t *err) {
  regex_t re;
  char msg[200];
  int rc = regcomp(&re, o->list_re, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    regerror(rc, &re, msg, sizeof msg);
    return rp_fail(err, "--list=%s: %s", o->list_re, msg);
  }
  uint8_t *match = rp_alloc(v->nframes + 1);
  for (size_t i = 0; i < v->nframes; i++)
    match[i] = regexec(&re, rp_str_get(&v->st, v->frames[i].name), 0, NULL, 0) == 0;
  regfree(&re);

  rp_seqtab_t idx;
  memset(&idx, 0, sizeof idx);
  lstat_t *ls = NULL;
  size_t cap = 0;
  uint32_t *stamp = NULL;
  size_t stamp_cap = 0;
  rp_seqtab_t fidx; /* [name, file] -> function cum */
  memset(&fidx, 0, sizeof fidx);
  int64_t *fcum = NULL;
  uint32_t *fstamp = NULL;
  size_t fcap = 0;
  for (uint32_t s = 0; s < v->stacks.n; s++) {
    if (!rp_stack_in(v, s)) continue;
    int64_t x = rp_stack_value(v, s);
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    for (uint32_t i = 0; i < n; i++) {
      if (!match[fr[i]]) continue;
      const rp_frame_t *fm = &v->frames[fr[i]];
      uint32_t key[3] = {fm->name, fm->file, (uint32_t)fm->line};
      bool added;
      uint32_t e = rp_seq_intern(&idx, key, 3, &added);
      if (added) {
        RP_RESERVE(ls, cap, (size_t)e + 1);
        ls[e] = (lstat_t){fm->name, fm->file, fm->line, 0, 0};
        size_t old = stamp_cap;
        RP_RESERVE(stamp, stamp_cap, (size_t)e + 1);
        memset(stamp + old, 0, (stamp_cap - old) * sizeof *stamp);
      }
      if (i == 0) ls[e].flat += x;
      if (stamp[e] != s + 1) {
        stamp[e] = s + 1;
        ls[e].cum += x;
      }
      uint32_t fe = rp_seq_intern(&fidx, key, 2, &added);
      if (added) {
        size_t c2 = fcap;
        RP_RESERVE(fcum, c2, (size_t)fe + 1);
        RP_RESERVE(fstamp, fcap, (size_t)fe + 1);
        fcum[fe] = 0;
        fstamp[fe] = 0;
      }
      if (fstamp[fe] != s + 1) {
        fstamp[fe] = s + 1;
        fcum[fe] += x;
      }
    }
  }
  size_t n = idx.n;
  rp_seq_free(&idx);
  free(stamp);
  free(match);
  if (!n) {
    free(ls);
    free(fcum);
    free(fstamp);
    rp_seq_free(&fidx);
    return rp_fail(err, "--list=%s: no function in the profile matches", o->list_re);
  }
  qsort_r(ls, n, sizeof *ls, cmp_lstat, v);
  int64_t total = rp_view_total(v);
  rp_write_header(f, v, o);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    int64_t flat = 0;
    while (j < n && ls[j].name == ls[i].name && ls[j].file == ls[i].file) flat += ls[j++].flat;
    const char *name = rp_str_get(&v->st, ls[i].name), *file = rp_str_get(&v->st, ls[i].file);
    uint32_t fkey[2] = {ls[i].name, ls[i].file};
    int64_t cum = fcum[rp_seq_find(&fidx, fkey, 2)];
    char a[64], b[64], c[64];
    rp_format_value(v, flat, o->raw_units, a, sizeof a);
    rp_format_value(v, cum, o->raw_units, b, sizeof b);
    rp_format_percent(cum, total, c, sizeof c);
    fprintf(f, "ROUTINE ======================== %s in %s\n", name, *file ? file : "[unknown file]");
    fprintf(f, "%10s %10s (flat, cum) %s of Total\n", a, b, c);
    source_t src;
    bool have = load_source(file, &src);
    if (!have && *file) fprintf(f, "%10s %10s         (source not found: %s)\n", "", "", file);
    int lo = ls[i].line, hi = ls[j - 1].line;
    if (have && lo > 0) {
      lo = lo - CONTEXT > 1 ? lo - CONTEXT : 1;
      hi = hi + CONTEXT < (int)src.nlines ? hi + CONTEXT : (int)src.nlines;
      size_t k = i;
      for (int line = lo; line <= hi; line++) {
        while (k < j && ls[k].line < line) k++;
        const lstat_t *st = k < j && ls[k].line == line ? &ls[k] : NULL;
        print_line(f, v, o, st, line, line >= 1 && (size_t)line <= src.nlines ? src.line[line] : "");
      }
      /* lines outside the file (a stale source) are still shown */
      for (size_t q = i; q < j; q++)
        if (ls[q].line > hi || ls[q].line < lo) print_line(f, v, o, &ls[q], ls[q].line, NULL);
    } else {
      for (size_t q = i; q < j; q++) print_line(f, v, o, &ls[q], ls[q].line, NULL);
    }
    free(src.text);
    free(src.line);
    i = j;
  }
  free(ls);
  free(fcum);
  free(fstamp);
  rp_seq_free(&fidx);
  return !ferror(f);
}
