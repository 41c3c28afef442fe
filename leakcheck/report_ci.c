/* Machine-readable leak reports for CI: JSON and GitHub Actions annotations.
 *
 * Selected with HEAPSCOPE_REPORT (read in checker.c, dispatched by
 * lc_emit_report). The LeakSanitizer-shaped text report never goes away:
 * people and CTest (exit code, --output-on-failure, memcheck's
 * "(Direct|Indirect) leak of" parser) read it, so both formats come *in
 * addition* to it:
 *
 *   HEAPSCOPE_REPORT=json    the text report goes where it always goes
 *                            (stderr, or HEAPSCOPE_LOG_PATH.PID). With
 *                            HEAPSCOPE_REPORT_PATH ("%p" = the pid) the file
 *                            holds ONE JSON document for the whole process:
 *                            rewritten after every report (each per-test
 *                            check adds its leaks), so it is valid whenever
 *                            the process stops. Without a path, each report
 *                            is one document on stderr after the text, on a
 *                            line of its own starting with {"tool":"heapscope"
 *                            (so `grep '^{"tool":"heapscope"'` extracts them).
 *   HEAPSCOPE_REPORT=github  "::error file=F,line=L,title=heapscope leak in TEST::..."
 *                            workflow commands, one per leak stack, on stderr
 *                            (the Actions runner reads commands from both
 *                            streams), then the text report ("in TEST" when
 *                            a CMocka test leaked). Under CTest's
 *                            LeakSanitizer memcheck (log_path from
 *                            LSAN_OPTIONS) no annotations are printed: CTest
 *                            counts every "Direct leak of" line of the output
 *                            as a defect, so they would double the count.
 *
 * JSON shape (one line; null where a value is unknown):
 *   {"tool":"heapscope","version":2,"pid":N,"mode":"normal",
 *    "leaks":[{"test":"t","group":"g","kind":"direct","bytes":N,"objects":N,
 *              "frames":[{"pc":"0x..","function":"f","file":"/src/a.c",
 *                         "line":3,"module":"/bin/prog","offset":"0x..",
 *                         "inlined":false}]}],
 *    "summary":{"bytes":N,"objects":N,"direct_bytes":N,"direct_objects":N,
 *               "indirect_bytes":N,"indirect_objects":N},
 *    "suppressed":{"bytes":N,"objects":N}}
 * "test"/"group" name the CMocka test (and cmocka_run_group_tests group)
 * whose check found the leak; null for the exit-time check. The summary
 * adds up every report in the document. Every leak stack is listed
 * (HEAP_CHECK_MAX_LEAKS only shortens the console text), largest first per
 * report; frames stop where the stack re-enters the runtime (the adapter
 * calling the test), as in the text. Strings are escaped per RFC 8259; bytes that are not valid
 * UTF-8 (file names may hold any) become U+FFFD.
 *
 * Annotation location: the first frame whose source file lies under
 * $GITHUB_WORKSPACE, else under the current directory (printed relative to
 * that root), else the first frame whose file exists on disk, else the first
 * frame with any file (HEAPSCOPE_STRIP_PATH_PREFIX applied, as in the text).
 * FUNC is that frame's function.
 *
 * Both formatters run on the internal heap and never call the public malloc;
 * symbolization (hs__symbolize) is cached, so formatting the text and a CI
 * format costs one symbolization. */
#include "internal.h"
#include "core/symbol/symbolize.h"

#include <string.h>
#include <unistd.h>

/* ---- JSON ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s) {
  unsigned c = s[0];
  size_t n;
  unsigned min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000;
  else return 0;
  unsigned cp = c & (0x7f >> n);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

void lc_json_string(hs_strbuf_t *out, const char *s) {
  if (!s) {
    hs__sb_append(out, "null", 4);
    return;
  }
  hs__sb_append(out, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    const unsigned char *run = p;
    /* Copy runs of plain characters in one go. */
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    if (p > run) hs__sb_append(out, (const char *)run, (size_t)(p - run));
    if (!*p) break;
    unsigned c = *p;
    size_t n = 1; /* bytes consumed */
    switch (c) {
    case '"': hs__sb_append(out, "\\\"", 2); break;
    case '\\': hs__sb_append(out, "\\\\", 2); break;
    case '\n': hs__sb_append(out, "\\n", 2); break;
    case '\r': hs__sb_append(out, "\\r", 2); break;
    case '\t': hs__sb_append(out, "\\t", 2); break;
    default:
      if (c < 0x20) {
        hs__sb_printf(out, "\\u%04x", c);
      } else if ((n = utf8_len(p)) != 0) {
        hs__sb_append(out, (const char *)p, n);
      } else {
        hs__sb_append(out, "\\ufffd", 6);
        n = 1;
      }
    }
    p += n;
  }
  hs__sb_append(out, "\"", 1);
}

typedef struct json_frames {
  hs_strbuf_t *out;
  uintptr_t pc;
  bool first;
} json_frames_t;

static void json_frame(const hs_symbol_t *sym, void *ctx_) {
  json_frames_t *ctx = ctx_;
  hs_strbuf_t *out = ctx->out;
  hs__sb_printf(out, "%s{\"pc\":\"0x%lx\",\"function\":", ctx->first ? "" : ",",
                (unsigned long)ctx->pc);
  ctx->first = false;
  lc_json_string(out, sym->function);
  hs__sb_append(out, ",\"file\":", 8);
  lc_json_string(out, sym->file);
  if (sym->line > 0) hs__sb_printf(out, ",\"line\":%d", sym->line);
  else hs__sb_append(out, ",\"line\":null", 12);
  hs__sb_append(out, ",\"module\":", 10);
  lc_json_string(out, sym->module);
  hs__sb_printf(out, ",\"offset\":\"0x%lx\",\"inlined\":%s}", (unsigned long)sym->module_offset,
                sym->inlined ? "true" : "false");
}

/* The leak entries of one report, each naming its test and group. */
static void json_entries(heapscope_leaks_t *l, const lc_origin_t *origin, bool first,
                         hs_strbuf_t *out) {
  for (size_t i = 0; i < l->group_count; i++) {
    const heapscope_leak_group_t *g = &l->groups[i];
    hs__sb_append(out, first && i == 0 ? "{\"test\":" : ",{\"test\":", first && i == 0 ? 8 : 9);
    lc_json_string(out, origin ? origin->test : NULL);
    hs__sb_append(out, ",\"group\":", 9);
    lc_json_string(out, origin ? origin->group : NULL);
    hs__sb_printf(out, ",\"kind\":\"%s\",\"bytes\":%zu,\"objects\":%zu,\"frames\":[",
                  g->direct ? "direct" : "indirect", g->bytes, g->objects);
    json_frames_t ctx = {out, 0, true};
    uint32_t epoch = lc_group_origin(l, g).epoch;
    size_t depth = g->pcs ? lc_visible_depth(g->pcs, g->depth) : 0;
    for (size_t k = 0; k < depth; k++) {
      if (!g->pcs[k]) continue;
      ctx.pc = g->pcs[k];
      hs__symbolize(g->pcs[k], epoch, json_frame, &ctx);
    }
    hs__sb_append(out, "]}", 2);
  }
}

typedef struct json_totals {
  size_t bytes, objects, direct_bytes, direct_objects, indirect_bytes, indirect_objects;
  size_t suppressed_bytes, suppressed_objects;
} json_totals_t;

static void json_count(json_totals_t *t, heapscope_leaks_t *l) {
  const lc_leaks_t *in = (const lc_leaks_t *)l;
  t->bytes += l->bytes;
  t->objects += l->objects;
  t->direct_bytes += l->direct_bytes;
  t->direct_objects += l->direct_objects;
  t->indirect_bytes += l->indirect_bytes;
  t->indirect_objects += l->indirect_objects;
  t->suppressed_bytes += in->suppressed_bytes;
  t->suppressed_objects += in->suppressed_objects;
}

static void json_wrap(const char *entries, size_t len, const json_totals_t *t, hs_strbuf_t *out) {
  hs__sb_printf(out, "{\"tool\":\"heapscope\",\"version\":2,\"pid\":%d,\"mode\":", (int)getpid());
  lc_json_string(out, heapscope_mode_name(lc_config.mode));
  hs__sb_append(out, ",\"leaks\":[", 10);
  if (len) hs__sb_append(out, entries, len);
  hs__sb_printf(out,
                "],\"summary\":{\"bytes\":%zu,\"objects\":%zu,\"direct_bytes\":%zu,"
                "\"direct_objects\":%zu,\"indirect_bytes\":%zu,\"indirect_objects\":%zu},"
                "\"suppressed\":{\"bytes\":%zu,\"objects\":%zu}}\n",
                t->bytes, t->objects, t->direct_bytes, t->direct_objects, t->indirect_bytes,
                t->indirect_objects, t->suppressed_bytes, t->suppressed_objects);
}

void lc_format_json(heapscope_leaks_t *l, const lc_origin_t *origin, hs_strbuf_t *out) {
  hs__modules_refresh();
  hs_strbuf_t entries = {0};
  json_entries(l, origin, true, &entries);
  json_totals_t t = {0};
  json_count(&t, l);
  json_wrap(entries.data, entries.len, &t, out);
  hs__sb_free(&entries);
}

/* The process's document: every report's entries so far. A forked child
 * starts its own. */
static struct {
  int pid;
  hs_strbuf_t entries;
  json_totals_t totals;
} doc;
static hs_lock_t doc_lock;
hs_lock_t *const lc_json_doc_lock = &doc_lock;

void lc_json_add(heapscope_leaks_t *l, const lc_origin_t *origin) {
  hs__modules_refresh();
  hs__lock(&doc_lock);
  if (doc.pid != (int)getpid()) {
    hs__sb_free(&doc.entries);
    memset(&doc, 0, sizeof doc);
    doc.pid = (int)getpid();
  }
  json_entries(l, origin, doc.entries.len == 0, &doc.entries);
  json_count(&doc.totals, l);
  hs__unlock(&doc_lock);
}

void lc_json_document(hs_strbuf_t *out) {
  hs__lock(&doc_lock);
  json_wrap(doc.entries.data, doc.entries.len, &doc.totals, out);
  hs__unlock(&doc_lock);
}

/* ---- GitHub Actions annotations --------------------------------------------- */

enum { PICK_NONE, PICK_ANY, PICK_EXISTS, PICK_CWD, PICK_WORKSPACE };

typedef struct gh_pick {
  const char *workspace, *cwd; /* roots, NULL when unknown */
  int rank;                    /* PICK_* of the best frame so far */
  const char *file, *function;
  int line;
  size_t root_len;             /* prefix of file to drop (root + '/') */
  const char *first_function;  /* frame #0's, for stacks without files */
} gh_pick_t;

static size_t under_root(const char *file, const char *root) {
  if (!root || !*root || file[0] != '/') return 0;
  size_t n = strlen(root);
  while (n > 1 && root[n - 1] == '/') n--;
  if (strncmp(file, root, n) != 0 || file[n] != '/') return 0;
  return n + 1;
}

static void gh_frame(const hs_symbol_t *sym, void *ctx_) {
  gh_pick_t *p = ctx_;
  if (!p->first_function && sym->function) p->first_function = sym->function;
  if (!sym->file || p->rank == PICK_WORKSPACE) return;
  int rank = PICK_ANY;
  size_t cut = 0;
  if ((cut = under_root(sym->file, p->workspace))) rank = PICK_WORKSPACE;
  else if ((cut = under_root(sym->file, p->cwd))) rank = PICK_CWD;
  else if (sym->file[0] == '/' && access(sym->file, F_OK) == 0) rank = PICK_EXISTS;
  if (rank <= p->rank) return; /* an earlier frame of the same rank wins */
  p->rank = rank;
  p->file = sym->file;
  p->root_len = cut;
  p->line = sym->line;
  p->function = sym->function;
}

/* Workflow-command escaping: data escapes % CR LF; property values also
 * ':' and ','. */
static void gh_escape(hs_strbuf_t *out, const char *s, bool property) {
  for (; s && *s; s++) {
    switch (*s) {
    case '%': hs__sb_append(out, "%25", 3); break;
    case '\r': hs__sb_append(out, "%0D", 3); break;
    case '\n': hs__sb_append(out, "%0A", 3); break;
    case ':':
      if (property) hs__sb_append(out, "%3A", 3);
      else hs__sb_append(out, s, 1);
      break;
    case ',':
      if (property) hs__sb_append(out, "%2C", 3);
      else hs__sb_append(out, s, 1);
      break;
    default: hs__sb_append(out, s, 1);
    }
  }
}

void lc_format_github(heapscope_leaks_t *l, const lc_origin_t *origin, hs_strbuf_t *out) {
  hs__modules_refresh();
  char cwd[4096];
  const char *ws = hs__setting_str(HS_SET_GITHUB_WORKSPACE);
  const char *here = getcwd(cwd, sizeof cwd) ? cwd : NULL;
  size_t shown = l->group_count;
  if (lc_config.max_leaks > 0 && (size_t)lc_config.max_leaks < shown)
    shown = (size_t)lc_config.max_leaks;
  for (size_t i = 0; i < shown; i++) {
    const heapscope_leak_group_t *g = &l->groups[i];
    gh_pick_t pick = {.workspace = ws, .cwd = here, .rank = PICK_NONE};
    uint32_t epoch = lc_group_origin(l, g).epoch;
    size_t depth = g->pcs ? lc_visible_depth(g->pcs, g->depth) : 0;
    for (size_t k = 0; k < depth && pick.rank != PICK_WORKSPACE; k++)
      if (g->pcs[k]) hs__symbolize(g->pcs[k], epoch, gh_frame, &pick);
    hs__sb_append(out, "::error ", 8);
    if (pick.file) {
      const char *file = pick.root_len ? pick.file + pick.root_len : lc_strip_prefix(pick.file);
      hs__sb_append(out, "file=", 5);
      gh_escape(out, file, true);
      if (pick.line > 0) hs__sb_printf(out, ",line=%d", pick.line);
      hs__sb_append(out, ",", 1);
    }
    hs__sb_append(out, "title=heapscope leak", 20);
    if (origin && origin->test) {
      hs__sb_append(out, " in ", 4);
      gh_escape(out, origin->test, true);
    }
    hs__sb_printf(out, "::%s leak of %zu byte(s) in %zu object(s) allocated from ",
                  g->direct ? "Direct" : "Indirect", g->bytes, g->objects);
    const char *fn = pick.file ? pick.function : pick.first_function;
    gh_escape(out, fn ? fn : "<unknown>", false);
    hs__sb_append(out, "\n", 1);
  }
  const char *text = heapscope_leaks_report(l);
  hs__sb_append(out, text, strlen(text));
}
