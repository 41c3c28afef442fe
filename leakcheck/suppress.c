/* Suppressions in LeakSanitizer's format: one `leak:PATTERN` per line, `#`
 * comments. A pattern matches a frame's function, source file or module
 * path; `*` matches any run of characters, a leading `^` or trailing `$`
 * anchors, otherwise it may match anywhere (LSan's TemplateMatch). Loaded
 * from HEAPSCOPE_SUPPRESSIONS and from `suppressions=` in LSAN_OPTIONS. */
#include "internal.h"
#include "core/symbol/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct suppression {
  char *pattern;
  size_t hits, bytes;
} suppression_t;

static suppression_t *rules;
static size_t nrules;
static bool loaded;

static bool match_here(const char *p, const char *s, bool anchored_end) {
  for (; *p; p++, s++) {
    if (*p == '*') {
      while (*p == '*') p++;
      if (!*p) return true;
      for (; *s; s++)
        if (match_here(p, s, anchored_end)) return true;
      return match_here(p, s, anchored_end);
    }
    if (*p == '$' && p[1] == '\0') return *s == '\0';
    if (*s != *p) return false;
  }
  return !anchored_end || *s == '\0';
}

static bool template_match(const char *pat, const char *s) {
  if (!s || !*s) return false;
  if (*pat == '^') return match_here(pat + 1, s, false);
  for (; *s; s++)
    if (match_here(pat, s, false)) return true;
  return false;
}

/* A text file, read whole; anything else gets one line and no rules: a
 * directory (read fails with EISDIR), a binary (a NUL byte would silently
 * end the parse early), a FIFO without a writer (O_NONBLOCK: no hang). */
static void load_file(const char *path, const char *origin) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    hs__errorf("cannot read suppressions file %s (%s): %s; no suppressions from it", path,
               origin, strerror(errno));
    return;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    hs__errorf("suppressions file %s (%s) is a directory; no suppressions from it", path, origin);
    close(fd);
    return;
  }
  hs_strbuf_t sb = {0};
  char tmp[4096];
  ssize_t n;
  while ((n = read(fd, tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) hs__sb_append(&sb, tmp, (size_t)n);
  int read_err = n < 0 && errno != EAGAIN ? errno : 0;
  close(fd);
  const char *nul = sb.data ? memchr(sb.data, 0, sb.len) : NULL;
  if (read_err || sb.oom || nul) {
    if (read_err)
      hs__errorf("cannot read suppressions file %s (%s): %s; no suppressions from it", path,
                 origin, strerror(read_err));
    else if (sb.oom)
      hs__errorf("out of memory reading suppressions file %s (%s); no suppressions from it",
                 path, origin);
    else
      hs__errorf("suppressions file %s (%s) holds a NUL byte at offset %zu: not a text file; "
                 "no suppressions from it", path, origin, (size_t)(nul - sb.data));
    hs__sb_free(&sb);
    return;
  }
  int lineno = 0;
  for (char *line = sb.data; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    lineno++;
    while (*line == ' ' || *line == '\t') line++;
    size_t len = strlen(line);
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
      line[--len] = 0;
    if (len && line[0] != '#') {
      if (strncmp(line, "leak:", 5) != 0 || !line[5]) {
        hs__errorf("%s:%d: unsupported suppression '%s' (expected leak:PATTERN); ignored", path,
                   lineno, line);
      } else {
        suppression_t *grown = hs__arena_realloc(rules, (nrules + 1) * sizeof *rules);
        if (grown) {
          rules = grown;
          size_t plen = strlen(line + 5);
          rules[nrules].pattern = hs__arena_alloc(plen + 1);
          if (rules[nrules].pattern) {
            memcpy(rules[nrules].pattern, line + 5, plen + 1);
            rules[nrules].hits = rules[nrules].bytes = 0;
            nrules++;
          }
        }
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  hs__sb_free(&sb);
}

/* Value of key in a sanitizer options string ("a=1:b='x'"). */
bool lc_sanitizer_option(const char *opts, const char *key, char *out, size_t size) {
  if (!opts) return false;
  size_t klen = strlen(key);
  for (const char *p = opts; *p;) {
    while (*p == ':' || *p == ' ' || *p == ',') p++;
    const char *eq = strchr(p, '=');
    if (!eq) break;
    const char *v = eq + 1;
    const char *end;
    char quote = (*v == '\'' || *v == '"') ? *v : 0;
    if (quote) {
      v++;
      end = strchr(v, quote);
      if (!end) end = v + strlen(v);
    } else {
      end = v + strcspn(v, ": ,");
    }
    if ((size_t)(eq - p) == klen && !strncmp(p, key, klen)) {
      size_t n = (size_t)(end - v);
      if (n >= size) n = size - 1;
      memcpy(out, v, n);
      out[n] = 0;
      return true;
    }
    p = *end ? end + (quote ? 1 : 0) : end;
  }
  return false;
}

void lc_suppressions_load(void) {
  if (loaded) return;
  loaded = true;
  const char *f = hs__setting_str(HS_SET_HEAPSCOPE_SUPPRESSIONS);
  if (f && *f) load_file(f, "HEAPSCOPE_SUPPRESSIONS");
  char path[1024];
  if (lc_sanitizer_option(hs__setting_str(HS_SET_LSAN_OPTIONS), "suppressions", path, sizeof path) && *path)
    load_file(path, "LSAN_OPTIONS");
}

bool lc_has_suppressions(void) { return nrules > 0; }

typedef struct match_ctx {
  bool matched;
  size_t rule;
} match_ctx_t;

static void match_frame(const hs_symbol_t *sym, void *ctx_) {
  match_ctx_t *ctx = ctx_;
  for (size_t r = 0; r < nrules && !ctx->matched; r++) {
    const char *pat = rules[r].pattern;
    if (template_match(pat, sym->function) || template_match(pat, sym->file) ||
        template_match(pat, sym->module)) {
      ctx->matched = true;
      ctx->rule = r;
    }
  }
}

bool lc_suppressed_counted(const uintptr_t *pcs, size_t depth, uint32_t epoch, size_t bytes,
                           size_t objects) {
  match_ctx_t ctx = {false, 0};
  for (size_t i = 0; i < depth && !ctx.matched; i++)
    if (pcs[i]) hs__symbolize(pcs[i], epoch, match_frame, &ctx);
  if (ctx.matched) {
    rules[ctx.rule].hits += objects;
    rules[ctx.rule].bytes += bytes;
  }
  return ctx.matched;
}

void lc_suppressions_report(hs_strbuf_t *out) {
  bool any = false;
  for (size_t r = 0; r < nrules; r++) any |= rules[r].hits > 0;
  if (!any) return;
  hs__sb_printf(out, "\n-----------------------------------------------------\n");
  hs__sb_printf(out, "Suppressions used:\n  count      bytes template\n");
  for (size_t r = 0; r < nrules; r++)
    if (rules[r].hits)
      hs__sb_printf(out, "%7zu %10zu %s\n", rules[r].hits, rules[r].bytes, rules[r].pattern);
  hs__sb_printf(out, "-----------------------------------------------------\n");
}
