/* heapscope: debug-file lookup and DWARF naming shared by the in-process and
 * the offline symbolizer (see debuginfo.h). Paths are assembled with
 * memcpy, not a formatter: this file runs inside the runtime too. */
#include "core/symbol/debuginfo.h"

#include <dwarf.h>
#include <string.h>
#include <unistd.h>

typedef struct pathbuf {
  char *s;
  size_t len, size;
  bool overflow;
} pathbuf_t;

static void pb_add(pathbuf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->size) {
    b->overflow = true;
    return;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void pb_str(pathbuf_t *b, const char *s) { pb_add(b, s, strlen(s)); }

static bool pb_readable(pathbuf_t *b) { return !b->overflow && access(b->s, R_OK) == 0; }

bool hs__debuginfo_candidate(const char *search_path, const unsigned char *build_id,
                             int build_id_len, const char *file_name, const char *debuglink) {
  static const char digits[] = "0123456789abcdef";
  char hex[2 * 64 + 1];
  if (build_id_len > 64) build_id_len = 64;
  for (int i = 0; i < build_id_len; i++) {
    hex[2 * i] = digits[build_id[i] >> 4];
    hex[2 * i + 1] = digits[build_id[i] & 15];
  }
  hex[build_id_len > 0 ? 2 * build_id_len : 0] = '\0';

  char dir[4096] = "";
  char linkbuf[512];
  const char *link = debuglink;
  if (file_name) {
    const char *slash = strrchr(file_name, '/');
    if (slash && (size_t)(slash - file_name) < sizeof dir) {
      memcpy(dir, file_name, (size_t)(slash - file_name));
      dir[slash - file_name] = '\0';
    }
    if (!link) {
      pathbuf_t lb = {linkbuf, 0, sizeof linkbuf, false};
      linkbuf[0] = '\0';
      pb_str(&lb, slash ? slash + 1 : file_name);
      pb_str(&lb, ".debug");
      link = lb.overflow ? NULL : linkbuf;
    }
  }

  const char *path = search_path && *search_path ? search_path : HS_DEFAULT_DEBUGINFO_PATH;
  char buf[4096 + 1024];
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    char elem[1024];
    if (len >= sizeof elem) len = sizeof elem - 1;
    memcpy(elem, path, len);
    elem[len] = '\0';
    path += (end ? (size_t)(end - path) + 1 : strlen(path));
    const char *e = elem;
    if (*e == '+' || *e == '-') e++; /* libdwfl's CRC-check flags */
    if (e[0] == '/') {
      if (build_id_len > 1) {
        pathbuf_t b = {buf, 0, sizeof buf, false};
        pb_str(&b, e);
        pb_str(&b, "/.build-id/");
        pb_add(&b, hex, 2);
        pb_str(&b, "/");
        pb_str(&b, hex + 2);
        size_t stem = b.len;
        pb_str(&b, ".debug");
        if (pb_readable(&b)) return true;
        b.len = stem;
        if (!b.overflow) buf[stem] = '\0';
        if (pb_readable(&b)) return true;
      }
      if (link && dir[0] == '/') {
        /* <e>/usr/lib/x/<link>, <e>/lib/x/<link>, ..., then <e>/<link> */
        const char *sub = dir;
        for (;;) {
          pathbuf_t b = {buf, 0, sizeof buf, false};
          pb_str(&b, e);
          pb_str(&b, sub);
          pb_str(&b, "/");
          pb_str(&b, link);
          if (pb_readable(&b)) return true;
          const char *nextsub = strchr(sub + 1, '/');
          if (!nextsub) break;
          sub = nextsub;
        }
        pathbuf_t b = {buf, 0, sizeof buf, false};
        pb_str(&b, e);
        pb_str(&b, "/");
        pb_str(&b, link);
        if (pb_readable(&b)) return true;
      }
    } else if (link && dir[0]) {
      pathbuf_t b = {buf, 0, sizeof buf, false};
      pb_str(&b, dir);
      pb_str(&b, "/");
      if (e[0]) {
        pb_str(&b, e);
        pb_str(&b, "/");
      }
      pb_str(&b, link);
      /* The main file itself is no separate debug file. */
      if (pb_readable(&b) && (!file_name || strcmp(buf, file_name) != 0)) return true;
    }
  }
  return false;
}

const char *hs__dwarf_die_name(Dwarf_Die *die, const hs_dwarf_fns_t *fns) {
  Dwarf_Attribute a;
  const char *link = fns->formstring(fns->attr_integrate(die, DW_AT_linkage_name, &a));
  if (!link) link = fns->formstring(fns->attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
  if (link && link[0] == '_' && link[1] == 'Z') return link;
  const char *name = fns->formstring(fns->attr_integrate(die, DW_AT_name, &a));
  return name ? name : link;
}

const char *hs__dwarf_source_path(const char *file, const char *comp_dir, char *buf,
                                  size_t size) {
  if (!file || file[0] == '/' || !comp_dir || comp_dir[0] != '/') return file;
  pathbuf_t b = {buf, 0, size, false};
  if (size) buf[0] = '\0';
  pb_str(&b, comp_dir);
  pb_str(&b, "/");
  pb_str(&b, file);
  return b.overflow ? file : buf;
}
