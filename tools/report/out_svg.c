/* heapscope report: --svg, an interactive flame graph in one self-contained
 * SVG file (no external script or style): click a frame to zoom into it,
 * "Reset Zoom" or Escape to go back, "Search" (or Ctrl-F) to highlight
 * frames matching a regular expression with the share they cover, the
 * frame under the mouse described at the bottom. The frames and the
 * interaction follow Brendan Gregg's FlameGraph SVGs; the script is ours.
 *
 * Each frame is <g class="f" data-v="VALUE"> with a <title> (name, value,
 * share), a <rect> whose width is proportional to VALUE, and a <text>.
 * The root frame "all" spans the whole width; children sit on top of their
 * caller, sorted by name; frames narrower than 0.1 pixel are left out (as
 * FlameGraph's --minwidth) with everything they called.
 *
 * With --base: widths show the profile, colours the change against the base
 * (red: grew, blue: shrank, deeper for larger changes; data-b holds the
 * base value), FlameGraph's differential flame graph. With --tests the
 * tests are the first level above "all". */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SVG_WIDTH 1200
#define SVG_PAD 10
#define ROW 16
#define TOP 36
#define BOTTOM 30
#define MIN_WIDTH 0.1
#define FONT_WIDTH 7.2 /* 12px monospace */

typedef struct trie {
  uint32_t *parent;
  const char **label;
  int64_t *val, *base;
  uint32_t *depth;
  uint32_t *child_off, *child_n; /* into kids */
  uint32_t *kids;
  size_t n, cap;
} trie_t;

static uint32_t trie_new(trie_t *t, uint32_t parent, const char *label) {
  uint32_t i = (uint32_t)t->n; /* node 0 is the root */
  size_t c = t->cap;
  RP_RESERVE(t->parent, c, (size_t)i + 1);
  c = t->cap;
  RP_RESERVE(t->label, c, (size_t)i + 1);
  c = t->cap;
  RP_RESERVE(t->val, c, (size_t)i + 1);
  c = t->cap;
  RP_RESERVE(t->base, c, (size_t)i + 1);
  c = t->cap;
  RP_RESERVE(t->depth, c, (size_t)i + 1);
  t->cap = c;
  t->parent[i] = parent;
  t->label[i] = label;
  t->val[i] = t->base[i] = 0;
  t->depth[i] = t->depth[parent] + 1;
  t->n = (size_t)i + 1;
  return i;
}

static int cmp_kids(const void *a, const void *b, void *c) {
  const trie_t *t = c;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int r = strcmp(t->label[x], t->label[y]);
  return r ? r : (x < y ? -1 : x > y);
}

static void build_children(trie_t *t) {
  t->child_off = rp_alloc((t->n + 1) * sizeof *t->child_off);
  t->child_n = rp_alloc((t->n + 1) * sizeof *t->child_n);
  t->kids = rp_alloc((t->n + 1) * sizeof *t->kids);
  for (size_t i = 1; i < t->n; i++) t->child_n[t->parent[i]]++;
  uint32_t off = 0;
  for (size_t i = 0; i < t->n; i++) {
    t->child_off[i] = off;
    off += t->child_n[i];
    t->child_n[i] = 0;
  }
  for (size_t i = 1; i < t->n; i++) {
    uint32_t p = t->parent[i];
    t->kids[t->child_off[p] + t->child_n[p]++] = (uint32_t)i;
  }
  for (size_t i = 0; i < t->n; i++)
    if (t->child_n[i] > 1)
      qsort_r(t->kids + t->child_off[i], t->child_n[i], sizeof *t->kids, cmp_kids, t);
}

static void trie_free(trie_t *t) {
  free(t->parent);
  free(t->label);
  free(t->val);
  free(t->base);
  free(t->depth);
  free(t->child_off);
  free(t->child_n);
  free(t->kids);
}

/* A growable line buffer. */
typedef struct linebuf {
  char *s;
  size_t len, cap;
} linebuf_t;

static void lb_add(linebuf_t *b, const char *d, size_t n) {
  RP_RESERVE(b->s, b->cap, b->len + n + 1);
  memcpy(b->s + b->len, d, n);
  b->len += n;
}
static void lb_str(linebuf_t *b, const char *s) { lb_add(b, s, strlen(s)); }
static void lb_int(linebuf_t *b, int64_t x) {
  char tmp[32];
  lb_add(b, tmp, rp_fmt_int(tmp, x));
}
static void lb_fixed(linebuf_t *b, double x) {
  char tmp[48];
  lb_add(b, tmp, rp_fmt_fixed2(tmp, x, false));
}
static void lb_xml(linebuf_t *b, const char *s, size_t max) {
  for (size_t n = 0; *s && n < max; s++, n++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&': lb_str(b, "&amp;"); break;
    case '<': lb_str(b, "&lt;"); break;
    case '>': lb_str(b, "&gt;"); break;
    case '"': lb_str(b, "&quot;"); break;
    default: {
      char ch = c < 0x20 ? ' ' : (char)c; /* control characters are not XML */
      lb_add(b, &ch, 1);
    }
    }
  }
}

static void xml_text(FILE *f, const char *s, size_t max) {
  size_t n = 0;
  for (; *s && n < max; s++, n++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default:
      if (c < 0x20) putc(' ', f); /* control characters are not XML */
      else putc((int)c, f);
    }
  }
}

/* Stable warm colour per name (FlameGraph's "hot" palette). */
static void hot_color(const char *name, char *buf, size_t size) {
  uint64_t h = rp_hash_bytes(name, strlen(name));
  double a = (double)(h & 0xffff) / 65535.0, b = (double)((h >> 16) & 0xffff) / 65535.0,
         c = (double)((h >> 32) & 0xffff) / 65535.0;
  char *p = buf;
  (void)size; /* callers pass 64 bytes: "rgb(255,255,255)" fits */
  memcpy(p, "rgb(", 4);
  p += 4;
  p += rp_fmt_int(p, 205 + (int)(50 * a));
  *p++ = ',';
  p += rp_fmt_int(p, (int)(230 * b));
  *p++ = ',';
  p += rp_fmt_int(p, (int)(55 * c));
  memcpy(p, ")", 2);
}

static void diff_color(int64_t delta, int64_t maxd, char *buf, size_t size) {
  if (!delta || !maxd) {
    snprintf(buf, size, "rgb(250,250,250)");
    return;
  }
  double r = (double)(delta < 0 ? -delta : delta) / (double)maxd;
  int k = 210 - (int)(170 * r);
  if (delta > 0) snprintf(buf, size, "rgb(255,%d,%d)", k, k);
  else snprintf(buf, size, "rgb(%d,%d,255)", k, k);
}

static const char script[] =
    "var W=" "1200" ",PAD=" "10" ",FW=" "7.2" ",frames=[],det,resetb,searchb,matched,zoomed=null;\n"
    "function fr(g){return g.getElementsByTagName('rect')[0];}\n"
    "function nm(g){var t=g.getElementsByTagName('title')[0].textContent;"
    "var i=t.lastIndexOf(' (');return i>0?t.substring(0,i):t;}\n"
    "function fit(g){var r=fr(g),t=g.getElementsByTagName('text')[0],w=+r.getAttribute('width')-4,"
    "n=Math.floor(w/FW);t.setAttribute('x',+r.getAttribute('x')+3);"
    "t.textContent=n<3?'':(g.nm.length<=n?g.nm:g.nm.substring(0,n-2)+'..');}\n"
    "function show(g,x,w){var r=fr(g);r.setAttribute('x',x);r.setAttribute('width',w);"
    "g.classList.remove('hide');fit(g);}\n"
    "function zoom(z){zoomed=z;resetb.classList.remove('hide');var s=(W-2*PAD)/z.ow;"
    "for(var i=0;i<frames.length;i++){var g=frames[i],e=1e-6;"
    "if(g.oy>z.oy){if(g.ox<=z.ox+e&&g.ox+g.ow>=z.ox+z.ow-e){show(g,PAD,W-2*PAD);"
    "g.classList.add('dim');}else g.classList.add('hide');}"
    "else if(g.ox>=z.ox-e&&g.ox+g.ow<=z.ox+z.ow+e){show(g,PAD+(g.ox-z.ox)*s,g.ow*s);"
    "g.classList.remove('dim');}else g.classList.add('hide');}}\n"
    "function unzoom(){zoomed=null;resetb.classList.add('hide');"
    "for(var i=0;i<frames.length;i++){var g=frames[i];g.classList.remove('dim');"
    "show(g,g.ox,g.ow);}}\n"
    "function clearsearch(){for(var i=0;i<frames.length;i++){var g=frames[i];"
    "fr(g).setAttribute('fill',g.fill);}matched.textContent=' ';"
    "searchb.textContent='Search';searchb.hs=false;}\n"
    "function search(){if(searchb.hs){clearsearch();return;}"
    "var q=prompt('Search frames (regular expression):','');if(!q)return;var rx;"
    "try{rx=new RegExp(q);}catch(e){alert('Bad regular expression: '+e);return;}"
    "var iv=[];for(var i=0;i<frames.length;i++){var g=frames[i];if(rx.test(g.nm)){"
    "fr(g).setAttribute('fill','rgb(230,0,230)');iv.push([g.ox,g.ox+g.ow]);}"
    "else fr(g).setAttribute('fill',g.fill);}"
    "iv.sort(function(a,b){return a[0]-b[0];});var sum=0,end=-1;"
    "for(var i=0;i<iv.length;i++){var a=Math.max(iv[i][0],end);if(iv[i][1]>a)sum+=iv[i][1]-a;"
    "end=Math.max(end,iv[i][1]);}"
    "matched.textContent='Matched: '+(100*sum/(W-2*PAD)).toFixed(1)+'%';"
    "searchb.textContent='Reset Search';searchb.hs=true;}\n"
    "function hs_init(evt){det=document.getElementById('details');"
    "resetb=document.getElementById('reset');searchb=document.getElementById('search');"
    "matched=document.getElementById('matched');"
    "var gs=document.getElementById('frames').getElementsByTagName('g');"
    "for(var i=0;i<gs.length;i++){var g=gs[i],r=fr(g);frames.push(g);"
    "g.ox=+r.getAttribute('x');g.ow=+r.getAttribute('width');g.oy=+r.getAttribute('y');"
    "g.fill=r.getAttribute('fill');g.nm=nm(g);"
    "g.addEventListener('click',function(e){zoom(this);});"
    "g.addEventListener('mouseover',function(e){"
    "det.textContent=this.getElementsByTagName('title')[0].textContent;});"
    "g.addEventListener('mouseout',function(e){det.textContent=' ';});}"
    "resetb.addEventListener('click',unzoom);searchb.addEventListener('click',search);"
    "window.addEventListener('keydown',function(e){"
    "if((e.ctrlKey||e.metaKey)&&e.keyCode===70){e.preventDefault();search();}"
    "else if(e.keyCode===27){unzoom();if(searchb.hs)clearsearch();}});}\n";

bool rp_write_svg(FILE *f, rp_view_t *v, const rp_opts_t *o) {
  rp_nodes_t nd;
  rp_nodes_build(v, o->gran, &nd);

  trie_t t;
  memset(&t, 0, sizeof t);
  RP_RESERVE(t.parent, t.cap, 1024);
  size_t c = 0;
  RP_RESERVE(t.label, c, t.cap);
  c = 0;
  RP_RESERVE(t.val, c, t.cap);
  c = 0;
  RP_RESERVE(t.base, c, t.cap);
  c = 0;
  RP_RESERVE(t.depth, c, t.cap);
  t.n = 1;
  t.parent[0] = 0;
  t.label[0] = "all";
  t.val[0] = t.base[0] = 0;
  t.depth[0] = 0;
  /* The trie from the stacks sorted root first: a stack shares its
   * prefix with the one before it, so each node is made once, with no
   * hashing (the hash table this replaced was most of the run time on
   * 100,000-stack profiles: a cache miss per frame). Levels: the test
   * (with --tests), then the frames. */
  uint32_t count;
  uint32_t *order = rp_sort_stacks(v, &nd, o->tests, false, &count);
  uint32_t maxlen = 0;
  for (uint32_t i = 0; i < count; i++)
    if (rp_stack_depth(v, order[i]) > maxlen) maxlen = rp_stack_depth(v, order[i]);
  uint32_t *path = rp_alloc(((size_t)maxlen + 3) * sizeof *path);
  char **test_labels = NULL;
  size_t ntest_labels = 0, test_cap = 0;
  path[0] = 0;
  for (uint32_t oi = 0; oi < count; oi++) {
    uint32_t s = order[oi];
    int64_t x = v->has_base ? rp_stack_main_value(v, s) : rp_stack_value(v, s);
    int64_t b = rp_stack_base_value(v, s);
    if (x < 0) x = 0;
    uint32_t n = rp_stack_depth(v, s);
    const uint32_t *fr = rp_stack_frames(v, s);
    uint32_t levels = n + (o->tests ? 1 : 0);
    uint32_t matched = oi ? rp_common_levels(v, &nd, o->tests, order[oi - 1], s) : 0;
    for (uint32_t l = matched; l < levels; l++) {
      const char *label;
      if (o->tests && l == 0) {
        char buf[1024];
        rp_test_label(v, rp_stack_test(v, s), rp_stack_group(v, s), buf, sizeof buf);
        RP_RESERVE(test_labels, test_cap, ntest_labels + 1);
        label = test_labels[ntest_labels++] = rp_strndup(buf, strlen(buf));
      } else {
        uint32_t i = l - (o->tests ? 1 : 0); /* frame i from the root */
        label = rp_str_get(&v->st, nd.label[nd.of_frame[fr[n - 1 - i]]]);
      }
      path[l + 1] = trie_new(&t, path[l], label);
    }
    for (uint32_t l = 0; l <= levels; l++) {
      t.val[path[l]] += x;
      t.base[path[l]] += b;
    }
  }
  free(order);
  free(path);
  build_children(&t);

  uint32_t maxdepth = 0;
  int64_t maxdelta = 0;
  double scale = t.val[0] > 0 ? (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)t.val[0] : 0;
  for (size_t i = 0; i < t.n; i++) {
    if ((double)t.val[i] * scale < MIN_WIDTH) continue;
    if (t.depth[i] > maxdepth) maxdepth = t.depth[i];
    int64_t d = t.val[i] - t.base[i];
    if (d < 0) d = -d;
    if (d > maxdelta) maxdelta = d;
  }
  int height = TOP + (int)(maxdepth + 1) * ROW + BOTTOM;

  char title[1024];
  if (o->title) snprintf(title, sizeof title, "%s", o->title);
  else snprintf(title, sizeof title, "%s: %s (%s)",
                v->has_base ? "Differential flame graph" : "Flame graph",
                o->ninputs ? o->inputs[0] : "", rp_view_type_name(v));
  fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
             "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "xmlns=\"http://www.w3.org/2000/svg\" onload=\"hs_init(evt)\">\n",
          SVG_WIDTH, height, SVG_WIDTH, height);
  fputs("<!-- heapscope report flame graph; click to zoom, Ctrl-F to search -->\n", f);
  fputs("<style type=\"text/css\">\n"
        "text { font-family: monospace; font-size: 12px; fill: rgb(0,0,0); }\n"
        "#title { font-size: 17px; text-anchor: middle; }\n"
        "#reset, #search { cursor: pointer; }\n"
        ".f:hover rect { stroke: black; stroke-width: 0.5; cursor: pointer; }\n"
        ".hide { display: none; }\n"
        ".dim rect { opacity: 0.6; }\n"
        "</style>\n<script type=\"text/ecmascript\"><![CDATA[\n",
        f);
  fputs(script, f);
  fputs("]]></script>\n", f);
  fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"rgb(248,248,240)\"/>\n",
          SVG_WIDTH, height);
  fprintf(f, "<text id=\"title\" x=\"%d\" y=\"22\">", SVG_WIDTH / 2);
  xml_text(f, title, 200);
  fputs("</text>\n", f);
  fprintf(f, "<text id=\"reset\" class=\"hide\" x=\"%d\" y=\"22\">Reset Zoom</text>\n", SVG_PAD);
  fprintf(f, "<text id=\"search\" x=\"%d\" y=\"22\">Search</text>\n", SVG_WIDTH - SVG_PAD - 100);
  fprintf(f, "<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n", SVG_WIDTH - SVG_PAD - 130,
          height - 10);
  fprintf(f, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", SVG_PAD, height - 10);
  fputs("<g id=\"frames\">\n", f);

  /* Depth-first layout: x of each node, children left to right. */
  double *x = rp_alloc(t.n * sizeof *x);
  uint32_t *stack = rp_alloc((t.n + 1) * sizeof *stack);
  size_t sp = 0;
  stack[sp++] = 0;
  x[0] = SVG_PAD;
  int64_t total = t.val[0];
  char val[64], pct[64], color[64];
  linebuf_t lb = {0};
  while (sp) {
    uint32_t i = stack[--sp];
    double w = (double)t.val[i] * scale;
    if (w < MIN_WIDTH) continue;
    double y = height - BOTTOM - (double)(t.depth[i] + 1) * ROW;
    rp_format_value(v, t.val[i], o->raw_units, val, sizeof val);
    rp_format_percent(t.val[i], total, pct, sizeof pct);
    if (v->has_base) diff_color(t.val[i] - t.base[i], maxdelta, color, sizeof color);
    else hot_color(t.label[i], color, sizeof color);
    /* One frame: assembled in a buffer without printf (tens of thousands
     * of frames, five numbers each). */
    lb.len = 0;
    lb_str(&lb, "<g class=\"f\" data-v=\"");
    lb_int(&lb, t.val[i]);
    if (v->has_base) {
      lb_str(&lb, "\" data-b=\"");
      lb_int(&lb, t.base[i]);
    }
    lb_str(&lb, "\"><title>");
    lb_xml(&lb, t.label[i], SIZE_MAX);
    lb_str(&lb, " (");
    lb_str(&lb, val);
    lb_str(&lb, ", ");
    lb_str(&lb, pct);
    if (v->has_base) {
      char d[64];
      rp_format_value(v, t.val[i] - t.base[i], o->raw_units, d, sizeof d);
      lb_str(&lb, t.val[i] >= t.base[i] ? ", +" : ", ");
      lb_str(&lb, d);
      lb_str(&lb, " vs base");
    }
    lb_str(&lb, ")</title><rect x=\"");
    lb_fixed(&lb, x[i]);
    lb_str(&lb, "\" y=\"");
    lb_fixed(&lb, y);
    lb_str(&lb, "\" width=\"");
    lb_fixed(&lb, w);
    lb_str(&lb, "\" height=\"15\" fill=\"");
    lb_str(&lb, color);
    lb_str(&lb, "\" rx=\"2\" ry=\"2\"/><text x=\"");
    lb_fixed(&lb, x[i] + 3);
    lb_str(&lb, "\" y=\"");
    lb_fixed(&lb, y + 11.5);
    lb_str(&lb, "\">");
    int chars = (int)((w - 4) / FONT_WIDTH);
    size_t len = strlen(t.label[i]);
    if (chars >= 3) {
      if (len <= (size_t)chars) lb_xml(&lb, t.label[i], len);
      else {
        lb_xml(&lb, t.label[i], (size_t)chars - 2);
        lb_str(&lb, "..");
      }
    }
    lb_str(&lb, "</text></g>\n");
    fwrite(lb.s, 1, lb.len, f);
    /* children: push in reverse so the first is laid out first */
    double cx = x[i];
    for (uint32_t k = 0; k < t.child_n[i]; k++) {
      uint32_t ch = t.kids[t.child_off[i] + k];
      x[ch] = cx;
      cx += (double)(t.val[ch] > 0 ? t.val[ch] : 0) * scale;
    }
    for (uint32_t k = t.child_n[i]; k-- > 0;) stack[sp++] = t.kids[t.child_off[i] + k];
  }
  fputs("</g>\n</svg>\n", f);
  free(lb.s);
  free(x);
  free(stack);
  for (size_t i = 0; i < ntest_labels; i++) free(test_labels[i]);
  free(test_labels);
  trie_free(&t);
  rp_nodes_free(&nd);
  return !ferror(f);
}
