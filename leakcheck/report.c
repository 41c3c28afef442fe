/* Leak reports in LeakSanitizer's shape, so people, CTest's memcheck parser
 * (`(Direct|Indirect) leak of`) and LSan-aware tooling read them:
 *
 *   Direct leak of 24 byte(s) in 1 object(s) allocated from:
 *       #0 0x55d0c0de1234 in make_node /src/tests/tree.c:42
 *   SUMMARY: heapscope: 24 byte(s) leaked in 1 allocation(s).
 *
 * Frame #0 is the caller of malloc. Inlined frames get their own number at
 * the same address, as in LSan. Symbolization is in-process (libdw) and
 * runs on the internal heap. */
#include "internal.h"
#include "core/symbol/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct frame_ctx {
  hs_strbuf_t *out;
  uintptr_t pc;
  int *num;
} frame_ctx_t;

/* HEAPSCOPE_STRIP_PATH_PREFIX, as LSan's strip_path_prefix. */
const char *lc_strip_prefix(const char *path) {
  const char *prefix = hs__setting_str(HS_SET_HEAPSCOPE_STRIP_PATH_PREFIX);
  if (path && prefix && *prefix) {
    size_t n = strlen(prefix);
    if (!strncmp(path, prefix, n)) return path + n;
  }
  return path;
}

static void emit_frame(const hs_symbol_t *sym, void *ctx_) {
  frame_ctx_t *ctx = ctx_;
  hs__sb_printf(ctx->out, "    #%d 0x%lx", (*ctx->num)++, (unsigned long)ctx->pc);
  if (sym->function) hs__sb_printf(ctx->out, " in %s", sym->function);
  if (sym->file && sym->line > 0)
    hs__sb_printf(ctx->out, " %s:%d\n", lc_strip_prefix(sym->file), sym->line);
  else if (sym->module)
    hs__sb_printf(ctx->out, " (%s+0x%lx)\n", sym->module, (unsigned long)sym->module_offset);
  else
    hs__sb_printf(ctx->out, "\n");
}

/* Frames of a leak stack that belong to the program: a stack that passes
 * back through the runtime (the CMocka adapter calling a test) is cut
 * there, with whatever called the runtime (libcmocka's runner) below it.
 * A runtime linked into the program is recognized by the section of the
 * functions that call the program (HS_CALLS_USER). */
size_t lc_visible_depth(const uintptr_t *pcs, size_t depth) {
  for (size_t i = 1; i < depth; i++)
    if ((pcs[i] >= hs__self_lo && pcs[i] < hs__self_hi) || hs__calls_user(pcs[i])) return i;
  return depth;
}

void lc_format_stack(const uintptr_t *pcs, size_t depth, uint32_t epoch, hs_strbuf_t *out) {
  int num = 0;
  depth = lc_visible_depth(pcs, depth);
  for (size_t i = 0; i < depth; i++) {
    if (!pcs[i]) continue;
    frame_ctx_t ctx = {out, pcs[i], &num};
    hs__symbolize(pcs[i], epoch, emit_frame, &ctx);
  }
  if (num == 0) hs__sb_printf(out, "    <empty stack>\n");
}

/* HEAP_CHECK_IDENTIFY_LEAKS: each leaked object of group g, in gperftools'
 * words ("leaked N byte object 0x..."), at most MAX_IDENTIFIED a group. */
#define MAX_IDENTIFIED 1000
static void format_objects(lc_leaks_t *l, const heapscope_leak_group_t *g, hs_strbuf_t *out) {
  uint32_t bucket = lc_group_origin(&l->pub, g).bucket;
  size_t shown = 0;
  for (size_t i = 0; i < l->nobjects; i++) {
    const lc_object_t *o = &l->objects[i];
    if (o->bucket != bucket || ((o->flags & LC_DIRECT) != 0) != (g->direct != 0)) continue;
    if (shown++ < MAX_IDENTIFIED)
      hs__sb_printf(out, "    leaked %zu byte object 0x%lx\n", o->size, (unsigned long)o->addr);
  }
  if (shown > MAX_IDENTIFIED)
    hs__sb_printf(out, "    (%zu more objects of this stack)\n", shown - MAX_IDENTIFIED);
}

/* capped: HEAP_CHECK_MAX_LEAKS stacks at most, for a console; files that
 * tools read (CTest's memcheck log, CMocka's XML) get every stack. */
void lc_format_report_capped(heapscope_leaks_t *l, hs_strbuf_t *out, bool capped) {
  hs__modules_refresh();
  hs__sb_printf(out, "\n=================================================================\n");
  hs__sb_printf(out, "==%d==ERROR: heapscope: detected memory leaks\n", (int)getpid());
  size_t shown = l->group_count;
  if (capped && lc_config.max_leaks > 0 && (size_t)lc_config.max_leaks < shown)
    shown = (size_t)lc_config.max_leaks;
  for (size_t i = 0; i < shown; i++) {
    const heapscope_leak_group_t *g = &l->groups[i];
    hs__sb_printf(out, "\n%s leak of %zu byte(s) in %zu object(s) allocated from:\n",
                  g->direct ? "Direct" : "Indirect", g->bytes, g->objects);
    lc_format_stack(g->pcs, g->depth, lc_group_origin(l, g).epoch, out);
    if (((lc_leaks_t *)l)->objects) format_objects((lc_leaks_t *)l, g, out);
  }
  if (shown < l->group_count)
    hs__sb_printf(out, "\n(%zu more leak stack(s) not shown; HEAP_CHECK_MAX_LEAKS=0 shows all)\n",
                  l->group_count - shown);
  lc_suppressions_report(out);
  hs__sb_printf(out, "\nSUMMARY: heapscope: %zu byte(s) leaked in %zu allocation(s).\n",
                l->bytes, l->objects);
}

void lc_format_report(heapscope_leaks_t *l, hs_strbuf_t *out) { lc_format_report_capped(l, out, true); }

/* The leaked stacks as a heap profile (one line per stack), so pprof can
 * draw the leaks: `pprof --text prog leaks.heap`. */
void lc_write_leak_profile(heapscope_leaks_t *l, const char *path) {
  hs_strbuf_t sb = {0};
  hs__sb_printf(&sb, "heap profile: %6zu: %8zu [%6zu: %8zu] @ heapprofile\n", l->objects,
                l->bytes, l->objects, l->bytes);
  for (size_t i = 0; i < l->group_count; i++) {
    const heapscope_leak_group_t *g = &l->groups[i];
    hs__sb_printf(&sb, "%6zu: %8zu [%6zu: %8zu] @", g->objects, g->bytes, g->objects, g->bytes);
    size_t depth = g->pcs ? lc_visible_depth(g->pcs, g->depth) : 0;
    for (size_t k = 0; k < depth; k++) hs__sb_printf(&sb, " 0x%016lx", (unsigned long)g->pcs[k]);
    if (!depth) hs__sb_printf(&sb, " 0x0000000000000000");
    hs__sb_printf(&sb, "\n");
  }
  hs__sb_printf(&sb, "\nMAPPED_LIBRARIES:\n");
  int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps >= 0) {
    char tmp[4096];
    ssize_t n;
    while ((n = read(maps, tmp, sizeof tmp)) > 0) hs__sb_append(&sb, tmp, (size_t)n);
    close(maps);
  }
  int err = sb.oom ? ENOMEM : lc_write_file(path, true, sb.data ? sb.data : "", sb.len);
  if (err) hs__errorf("cannot write leak profile %s: %s", path, strerror(err));
  hs__sb_free(&sb);
}
