/* heapscope report --html OUT.html FILES...: one self-contained page for
 * people (a CI artifact opened in a browser).
 *
 * No network and no other file: the data sit in the page as one JSON
 * document (<script type="application/json">, every '<' escaped so no text
 * in it can close the element), styles and the one script are inline, and
 * a Content-Security-Policy forbids loading anything else. The script reads
 * the data and builds, with DOM calls (textContent, never HTML strings):
 *
 *   a summary line;
 *   the tests in a table sortable by any column (click a header; CPU time
 *     descending first), each row linking to the test's details;
 *   the leaks, each with its symbolized stack and source locations;
 *   the tests over a budget, with their figures and the allocation stacks
 *     live at their peak;
 *   per profile given, a flame graph per test (SVG; click a frame to zoom,
 *     click the root to reset), and, for a CPU profile, the tests too short
 *     to have been sampled, said as such instead of an empty graph.
 *
 * Element ids and classes the tests (and users' scripts) rely on:
 * table#tests (tbody rows tr[data-test]), #leaks .leak, #budgets .budget,
 * #flames svg.flame[data-test] with one rect per frame, .unsampled. */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* A frame narrower than this share of its test's total is left out of the
 * page (with what it called), as flame graphs do below a pixel. */
#define MIN_SHARE 0.0005
#define MAX_NODES_PER_TEST 20000

/* ---- JSON out -------------------------------------------------------------- */

static void jstr(FILE *f, const char *s) {
  if (!s) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    case '<': fputs("\\u003c", f); break; /* never "</script>" inside the element */
    case '>': fputs("\\u003e", f); break;
    case '&': fputs("\\u0026", f); break;
    default:
      if (*p < 0x20) fprintf(f, "\\u%04x", *p);
      else fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void jint(FILE *f, int64_t v) {
  if (v == RP_UNKNOWN) fputs("null", f);
  else fprintf(f, "%" PRId64, v);
}

static void jsecs(FILE *f, double s) {
  if (s < 0) fputs("null", f);
  else fprintf(f, "%.9f", s);
}

static void jframes(FILE *f, const rp_suite_t *s, const rp_sframe_t *fr, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    fputs(i ? ",[" : "[", f);
    jstr(f, fr[i].function ? rp_str_get(&s->st, fr[i].function) : NULL);
    fputc(',', f);
    jstr(f, fr[i].file ? rp_str_get(&s->st, fr[i].file) : NULL);
    fprintf(f, ",%d]", (int)fr[i].line);
  }
  fputc(']', f);
}

static void json_tests(FILE *f, const rp_suite_t *s) {
  fputs("\"tests\":[", f);
  for (size_t i = 0; i < s->ntests; i++) {
    const rp_testrec_t *t = &s->tests[i];
    fputs(i ? ",\n{\"n\":" : "\n{\"n\":", f);
    jstr(f, rp_str_get(&s->st, t->name));
    fputs(",\"g\":", f);
    jstr(f, rp_str_get(&s->st, t->group));
    fputs(",\"st\":", f);
    jstr(f, rp_str_get(&s->st, t->status));
    fputs(",\"cpu\":", f);
    jsecs(f, t->cpu_s);
    fputs(",\"wall\":", f);
    jsecs(f, t->wall_s);
    fputs(",\"pk\":", f);
    jint(f, t->peak_bytes);
    fputs(",\"al\":", f);
    jint(f, t->allocs);
    fputs(",\"ab\":", f);
    jint(f, t->alloc_bytes);
    fputs(",\"lk\":", f);
    jint(f, t->leaked_bytes);
    fputs(",\"lo\":", f);
    jint(f, t->leaked_objects);
    fputs(",\"mp\":", f);
    jint(f, t->max_peak);
    fputs(",\"mc\":", f);
    jsecs(f, t->max_cpu);
    fprintf(f, ",\"op\":%s,\"oc\":%s,\"pid\":%" PRId64 ",\"src\":", t->over_peak ? "true" : "false",
            t->over_cpu ? "true" : "false", t->pid);
    jstr(f, rp_str_get(&s->st, t->source));
    fputs(",\"sites\":[", f);
    for (size_t k = 0; k < t->nsites; k++) {
      fprintf(f, "%s{\"b\":%" PRId64 ",\"o\":%" PRId64 ",\"fr\":", k ? "," : "", t->sites[k].bytes,
              t->sites[k].objects);
      jframes(f, s, t->sites[k].frames, t->sites[k].nframes);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fputs("]", f);
}

static void json_leaks(FILE *f, const rp_suite_t *s) {
  fputs(",\"leaks\":[", f);
  for (size_t i = 0; i < s->nleaks; i++) {
    const rp_leakrec_t *l = &s->leaks[i];
    fputs(i ? ",\n{\"t\":" : "\n{\"t\":", f);
    jstr(f, l->test ? rp_str_get(&s->st, l->test) : NULL);
    fputs(",\"g\":", f);
    jstr(f, l->group ? rp_str_get(&s->st, l->group) : NULL);
    fputs(",\"k\":", f);
    jstr(f, rp_str_get(&s->st, l->kind));
    fprintf(f, ",\"b\":%" PRId64 ",\"o\":%" PRId64 ",\"src\":", l->bytes, l->objects);
    jstr(f, rp_str_get(&s->st, l->source));
    fputs(",\"fr\":", f);
    jframes(f, s, l->frames, l->nframes);
    fputc('}', f);
  }
  fputs("]", f);
}

/* ---- flame trees per test ------------------------------------------------------ */

typedef struct ftree {
  uint32_t *name;    /* node -> index in the profile's names */
  int64_t *val;
  uint32_t *first, *next; /* first child, next sibling (0: none; node 0 is the root) */
  size_t n, cap;
  rp_u64map_t kids;  /* (parent << 32 | rp node) -> child + 1 */
} ftree_t;

static uint32_t ftree_child(ftree_t *t, uint32_t parent, uint32_t node, uint32_t name) {
  bool found;
  uint32_t *slot = rp_u64map_slot(&t->kids, ((uint64_t)parent << 32) | node, &found);
  if (found) return *slot - 1;
  uint32_t i = (uint32_t)t->n;
  *slot = i + 1;
  size_t c = t->cap;
  RP_RESERVE(t->name, c, t->n + 1);
  c = t->cap;
  RP_RESERVE(t->val, c, t->n + 1);
  c = t->cap;
  RP_RESERVE(t->first, c, t->n + 1);
  c = t->cap;
  RP_RESERVE(t->next, c, t->n + 1);
  t->cap = c;
  t->name[i] = name;
  t->val[i] = 0;
  t->first[i] = 0;
  t->next[i] = t->first[parent];
  t->first[parent] = i;
  t->n++;
  return i;
}

static void ftree_free(ftree_t *t) {
  free(t->name);
  free(t->val);
  free(t->first);
  free(t->next);
  rp_u64map_free(&t->kids);
}

/* [name, value, [children...]], children largest first; small ones out. */
static void emit_tree(FILE *f, const ftree_t *t, uint32_t node, int64_t min, size_t *budget) {
  fprintf(f, "[%u,%" PRId64 ",[", t->name[node], t->val[node]);
  /* Children largest first: a selection over the (usually few) siblings. */
  size_t nk = 0;
  for (uint32_t c = t->first[node]; c; c = t->next[c]) nk++;
  uint32_t *kids = nk ? rp_alloc(nk * sizeof *kids) : NULL;
  nk = 0;
  for (uint32_t c = t->first[node]; c; c = t->next[c]) kids[nk++] = c;
  for (size_t i = 1; i < nk; i++)
    for (size_t j = i; j > 0 && t->val[kids[j - 1]] < t->val[kids[j]]; j--) {
      uint32_t x = kids[j];
      kids[j] = kids[j - 1];
      kids[j - 1] = x;
    }
  bool first = true;
  for (size_t i = 0; i < nk; i++) {
    if (t->val[kids[i]] < min || *budget == 0) break;
    (*budget)--;
    if (!first) fputc(',', f);
    first = false;
    emit_tree(f, t, kids[i], min, budget);
  }
  free(kids);
  fputs("]]", f);
}

static void json_profile(FILE *f, rp_view_t *v, const char *path) {
  rp_nodes_t nd;
  rp_nodes_build(v, RP_FUNCTIONS, &nd);
  rp_test_t *tests;
  size_t nt = rp_tests_collect(v, &tests);
  /* Names used by the emitted trees, in first-use order. */
  rp_u64map_t name_index;
  memset(&name_index, 0, sizeof name_index);
  uint32_t *names = NULL;
  size_t nnames = 0, names_cap = 0;
  fputs("{\"path\":", f);
  jstr(f, path);
  fputs(",\"kind\":", f);
  jstr(f, v->kind == RP_KIND_CPU ? "cpu" : v->kind == RP_KIND_HEAP ? "heap" : "other");
  fputs(",\"type\":", f);
  jstr(f, rp_view_type_name(v));
  fputs(",\"unit\":", f);
  jstr(f, rp_view_unit(v));
  fprintf(f, ",\"period\":%" PRId64 ",\"period_unit\":", v->period);
  jstr(f, v->period_unit ? rp_str_get(&v->st, v->period_unit) : NULL);
  fputs(",\"tests\":[", f);
  for (size_t i = 0; i < nt; i++) {
    v->only = true;
    v->only_test = tests[i].test;
    v->only_group = tests[i].group;
    ftree_t t;
    memset(&t, 0, sizeof t);
    ftree_child(&t, 0, UINT32_MAX, 0); /* the root */
    t.first[0] = t.next[0] = 0;
    for (uint32_t s = 0; s < v->stacks.n; s++) {
      if (!rp_stack_in(v, s)) continue;
      int64_t val = rp_stack_value(v, s);
      if (val <= 0) continue;
      t.val[0] += val;
      const uint32_t *fr = rp_stack_frames(v, s);
      uint32_t cur = 0;
      for (uint32_t d = rp_stack_depth(v, s); d-- > 0;) {
        uint32_t node = nd.of_frame[fr[d]];
        bool found;
        uint32_t *slot = rp_u64map_slot(&name_index, nd.label[node], &found);
        if (!found) {
          RP_RESERVE(names, names_cap, nnames + 1);
          names[nnames] = nd.label[node];
          *slot = (uint32_t)++nnames;
        }
        cur = ftree_child(&t, cur, node, *slot - 1);
        t.val[cur] += val;
      }
    }
    char label[1024];
    rp_test_label(v, tests[i].test, tests[i].group, label, sizeof label);
    fputs(i ? ",\n{\"test\":" : "\n{\"test\":", f);
    jstr(f, tests[i].test ? label : NULL);
    fprintf(f, ",\"total\":%" PRId64 ",\"tree\":", t.val[0]);
    size_t budget = MAX_NODES_PER_TEST;
    emit_tree(f, &t, 0, (int64_t)((double)t.val[0] * MIN_SHARE), &budget);
    fputc('}', f);
    ftree_free(&t);
  }
  v->only = false;
  /* Tests that ran without a sample (side files, zero-valued proto
   * samples): said so, not drawn as empty graphs. */
  rp_test_t *un;
  size_t nun = rp_tests_unsampled(v, &un);
  char why[256];
  rp_unsampled_reason(v, why, sizeof why);
  fputs("],\"unsampled\":[", f);
  for (size_t i = 0; i < nun; i++) {
    char label[1024];
    rp_test_label(v, un[i].test, un[i].group, label, sizeof label);
    if (i) fputc(',', f);
    jstr(f, label);
  }
  free(un);
  fputs("],\"why\":", f);
  jstr(f, why);
  fputs(",\"names\":[", f);
  for (size_t i = 0; i < nnames; i++) {
    if (i) fputc(',', f);
    jstr(f, rp_str_get(&v->st, names[i]));
  }
  fputs("]}", f);
  free(names);
  rp_u64map_free(&name_index);
  free(tests);
  rp_nodes_free(&nd);
}

/* ---- the page ---------------------------------------------------------------------- */

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse}th,td{padding:2px 8px;text-align:right;white-space:nowrap}"
    "th{cursor:pointer;background:#eee;user-select:none}th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}td.l,th.l{text-align:left}"
    "tbody tr:nth-child(even){background:#f7f7f7}tr.failed td,tr.error td,tr.incomplete td{color:#b00}"
    "tr.skipped td{color:#777}.over{font-weight:bold;color:#b00}"
    ".stack{font:12px monospace;margin:.3em 0 1em 1.5em;padding:0;list-style:none}"
    ".stack li{white-space:pre}.leak,.budget,.fl{margin:.6em 0}"
    ".fl h3{font-size:1em;margin:.8em 0 .2em}svg.flame{display:block;width:100%;max-width:1200px}"
    "svg.flame rect{stroke:#fff;stroke-width:.5;cursor:pointer}svg.flame text{font:11px monospace;"
    "pointer-events:none}.note{color:#666}.unsampled{color:#666;font-style:italic}";

/* The page's script (plain ES2017, no library). */
static const char SCRIPT[] =
    "'use strict';\n"
    "const D=JSON.parse(document.getElementById('hs-data').textContent);\n"
    "function el(tag,attrs,...kids){const e=document.createElement(tag);"
    "for(const k in attrs||{})e.setAttribute(k,attrs[k]);"
    "for(const c of kids)if(c!=null)e.append(typeof c==='object'?c:String(c));return e;}\n"
    "function B(b){if(b==null)return '-';const a=Math.abs(b);"
    "if(a<1024)return b+' B';if(a<1048576)return (b/1024).toFixed(1)+' KiB';"
    "if(a<1073741824)return (b/1048576).toFixed(1)+' MiB';return (b/1073741824).toFixed(2)+' GiB';}\n"
    "function S(s){if(s==null)return '-';if(s>=1)return s.toFixed(3)+' s';"
    "if(s>=0.001)return (s*1e3).toFixed(2)+' ms';return (s*1e6).toFixed(0)+' \\u00b5s';}\n"
    "function label(t){return t.g?t.g+'/'+t.n:t.n;}\n"
    "function frameText(f){return (f[0]||'(unknown)')+(f[1]?'  '+f[1]+(f[2]>0?':'+f[2]:''):'');}\n"
    "function stack(frames){const ol=el('ol',{class:'stack'});"
    "frames.forEach((f,i)=>ol.append(el('li',{},'#'+i+' '+frameText(f))));return ol;}\n"
    /* summary */
    "const counts={};let cpu=0,wall=0;for(const t of D.tests){counts[t.st]=(counts[t.st]||0)+1;"
    "cpu+=t.cpu||0;wall+=t.wall||0;}\n"
    "document.getElementById('summary').textContent=D.tests.length+' test(s) from '+D.files.length+"
    "' file(s): '+Object.keys(counts).sort().map(k=>counts[k]+' '+k).join(', ')+'; CPU '+S(cpu)+"
    "', wall '+S(wall)+'; '+D.leaks.length+' leak stack(s)';\n"
    /* the table */
    "const COLS=[['label','test',label,null],['st','status',t=>t.st,null],"
    "['cpu','CPU',t=>t.cpu,S],['wall','wall',t=>t.wall,S],['pk','peak',t=>t.pk,B],"
    "['al','allocs',t=>t.al,x=>x==null?'-':String(x)],['ab','allocated',t=>t.ab,B],"
    "['lk','leaked',t=>t.lk,B]];\n"
    "let sortCol=2,sortDir=-1;const table=document.getElementById('tests');\n"
    "const hr=el('tr');COLS.forEach((c,i)=>{const th=el('th',{'data-col':c[0],"
    "class:i<2?'l':''},c[1]);th.addEventListener('click',()=>{sortDir=sortCol===i?-sortDir:"
    "(i<2?1:-1);sortCol=i;render();});hr.append(th);});table.tHead.append(hr);\n"
    "function render(){const c=COLS[sortCol];const rows=D.tests.map((t,i)=>[t,i]);"
    "rows.sort((a,b)=>{let x=c[2](a[0]),y=c[2](b[0]);if(x==null)x=-Infinity;if(y==null)y=-Infinity;"
    "return (x<y?-1:x>y?1:a[1]-b[1])*sortDir;});const tb=table.tBodies[0];tb.replaceChildren();"
    "for(const [t,i] of rows){const tr=el('tr',{class:t.st,'data-test':label(t)});"
    "COLS.forEach((col,k)=>{const v=col[2](t);let txt=k===0?null:(col[3]?col[3](v):v);"
    "const td=el('td',{class:k<2?'l':''});if(k===0){if(D.details[label(t)]){"
    "td.append(el('a',{href:'#'+D.details[label(t)]},label(t)));}else td.append(label(t));}"
    "else td.append(txt);if((k===4&&t.op)||(k===2&&t.oc)||(k===7&&t.lk>0))td.className+=' over';"
    "tr.append(td);});tb.append(tr);}"
    "table.tHead.querySelectorAll('th').forEach((th,i)=>{if(i===sortCol)th.setAttribute('aria-sort',"
    "sortDir>0?'ascending':'descending');else th.removeAttribute('aria-sort');});}\n"
    /* leaks */
    "const leaks=document.getElementById('leaks');if(!D.leaks.length)leaks.append(el('p',{class:'note'},"
    "'No leak reports given.'));\n"
    "D.leaks.forEach((l,i)=>{const who=l.t?(l.g?l.g+'/'+l.t:l.t):'the exit-time check';"
    "const d=el('div',{class:'leak',id:'leak-'+i},el('b',{},(l.k==='indirect'?'Indirect':'Direct')+"
    "' leak of '+l.b+' byte(s) in '+l.o+' object(s)'),' in '+who+' ',el('span',{class:'note'},"
    "'('+l.src+')'),stack(l.fr));leaks.append(d);});\n"
    /* budgets */
    "const budgets=document.getElementById('budgets');const over=D.tests.filter(t=>t.op||t.oc);\n"
    "if(!over.length)budgets.append(el('p',{class:'note'},'No test went over a budget.'));\n"
    "over.forEach(t=>{const d=el('div',{class:'budget',id:D.details[label(t)]||''},el('b',{},label(t)));"
    "if(t.op)d.append(el('p',{},'peak '+B(t.pk)+' over its budget of '+B(t.mp)+'; live at the peak:'));"
    "if(t.oc)d.append(el('p',{},'CPU '+S(t.cpu)+' over its budget of '+S(t.mc)));"
    "for(const s of t.sites){d.append(el('div',{},B(s.b)+' in '+s.o+' object(s) allocated from:'),"
    "stack(s.fr));}budgets.append(d);});\n"
    /* flame graphs */
    "const NS='http://www.w3.org/2000/svg',ROW=17,W=1200;\n"
    "function color(name){let h=0;for(const ch of name)h=(h*31+ch.charCodeAt(0))>>>0;"
    "return 'hsl('+(10+h%40)+','+(60+h%30)+'%,'+(55+h%15)+'%)';}\n"
    "function depthOf(n){let d=0;for(const c of n[2])d=Math.max(d,depthOf(c));return d+1;}\n"
    "function flame(svg,tree,names,unit){const H=(depthOf(tree))*ROW+4;"
    "svg.setAttribute('viewBox','0 0 '+W+' '+H);svg.setAttribute('height',H);let zoom=tree;\n"
    "function draw(){svg.replaceChildren();const path=[];(function find(n,p){p.push(n);"
    "if(n===zoom){path.push(...p);return true;}for(const c of n[2])if(find(c,p))return true;"
    "p.pop();return false;})(tree,[]);\n"
    "function box(n,x,w,d){const y=H-(d+1)*ROW;const g=document.createElementNS(NS,'g');"
    "const r=document.createElementNS(NS,'rect');const nm=d===0?'all':names[n[0]];"
    "r.setAttribute('x',x);r.setAttribute('y',y);r.setAttribute('width',Math.max(w,0.5));"
    "r.setAttribute('height',ROW-1);r.setAttribute('fill',d===0?'#ccc':color(nm));"
    "r.setAttribute('data-name',nm);r.setAttribute('data-value',n[1]);"
    "const tt=document.createElementNS(NS,'title');tt.textContent=nm+' ('+n[1]+' '+unit+', '+"
    "(100*n[1]/tree[1]).toFixed(2)+'%)';g.append(r,tt);"
    "if(w>40){const t=document.createElementNS(NS,'text');t.setAttribute('x',x+3);"
    "t.setAttribute('y',y+ROW-5);t.textContent=nm.slice(0,Math.floor(w/7));g.append(t);}"
    "r.addEventListener('click',()=>{zoom=(n===zoom||d===0)?tree:n;draw();});svg.append(g);}\n"
    "path.forEach((n,d)=>box(n,0,W,d));\n"
    "(function kids(n,x,w,d){let cx=x;for(const c of n[2]){const cw=w*c[1]/n[1];if(cw>=0.1){"
    "box(c,cx,cw,d);kids(c,cx,cw,d+1);}cx+=cw;}})(zoom,0,W,path.length);}\n"
    "draw();}\n"
    "const flames=document.getElementById('flames');if(!D.profiles.length)flames.append(el('p',"
    "{class:'note'},'No profile given.'));\n"
    "D.profiles.forEach((p,pi)=>{const sec=el('div',{class:'profile'},el('h3',{},p.path+' ('+p.type+')'));"
    "flames.append(sec);const seen=new Set();\n"
    "p.tests.forEach((t,ti)=>{const name=t.test||'(outside tests)';seen.add(t.test);"
    "const id='flame-'+pi+'-'+ti;if(t.test&&!D.details[t.test])D.details[t.test]=id;"
    "const svg=document.createElementNS(NS,'svg');svg.setAttribute('class','flame');"
    "svg.setAttribute('data-test',name);const d=el('div',{class:'fl',id:id},el('h3',{},name+': '+"
    "t.total+' '+p.unit));d.append(svg);sec.append(d);flame(svg,t.tree,p.names,p.unit);});\n"
    "if(p.kind==='cpu'){for(const t of D.tests){const l=label(t);if(seen.has(l))continue;seen.add(l);"
    "const per=p.period>0?p.period/1e9:0.01;sec.append(el('p',{class:'unsampled','data-test':l},"
    "l+': too short to be sampled ('+S(t.cpu)+' of CPU; one sample every '+S(per)+')'));}}\n"
    "for(const l of p.unsampled){if(seen.has(l))continue;seen.add(l);"
    "sec.append(el('p',{class:'unsampled','data-test':l},l+': no sample: '+p.why));}});\n"
    "render();\n";

bool rp_write_html(FILE *f, const rp_suite_t *s, rp_view_t *const *views, size_t nviews,
                   const rp_opts_t *o) {
  const char *title = o->title ? o->title : "heapscope: tests";
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n<title>",
        f);
  for (const char *c = title; *c; c++) {
    if (*c == '<') fputs("&lt;", f);
    else if (*c == '&') fputs("&amp;", f);
    else fputc(*c, f);
  }
  fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1 id=\"title\"></h1>\n"
             "<p id=\"summary\"></p>\n<h2>Tests</h2>\n"
             "<table id=\"tests\"><thead></thead><tbody></tbody></table>\n"
             "<h2>Leaks</h2>\n<div id=\"leaks\"></div>\n<h2>Over budget</h2>\n<div id=\"budgets\"></div>\n"
             "<h2>Flame graphs</h2>\n<div id=\"flames\"></div>\n"
             "<script type=\"application/json\" id=\"hs-data\">{",
          STYLE);
  fputs("\"title\":", f);
  jstr(f, title);
  fputs(",\"files\":[", f);
  for (size_t i = 0; i < o->ninputs; i++) {
    if (i) fputc(',', f);
    jstr(f, o->inputs[i]);
  }
  fputs("],", f);
  json_tests(f, s);
  json_leaks(f, s);
  /* Anchors for the details of each test: its over-budget entry. */
  fputs(",\"details\":{", f);
  bool first = true;
  for (size_t i = 0; i < s->ntests; i++) {
    const rp_testrec_t *t = &s->tests[i];
    if (!t->over_peak && !t->over_cpu) continue;
    char label[1024];
    rp_suite_label(s, t, label, sizeof label);
    if (!first) fputc(',', f);
    first = false;
    jstr(f, label);
    fprintf(f, ":\"budget-%zu\"", i);
  }
  fputs("},\"profiles\":[", f);
  for (size_t i = 0; i < nviews; i++) {
    if (i) fputs(",\n", f);
    json_profile(f, views[i], views[i]->first_path);
  }
  fputs("]}</script>\n<script>", f);
  fputs("document.getElementById('title').textContent=JSON.parse(document.getElementById("
        "'hs-data').textContent).title;\n",
        f);
  fputs(SCRIPT, f);
  fputs("</script>\n</body></html>\n", f);
  return !ferror(f);
}
