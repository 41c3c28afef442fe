/* heapscope report: a small JSON reader for the runtime's JSON documents
 * (per-test statistics, leak reports). RFC 8259: objects, arrays,
 * strings with every escape (\uXXXX surrogate pairs to UTF-8), numbers,
 * true/false/null. Nesting is limited (RP_JSON_MAX_DEPTH) so a hostile file
 * cannot exhaust the stack; errors say what and where (byte offset). */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RP_JSON_MAX_DEPTH 64

typedef struct jp {
  const char *s, *end, *start;
  rp_err_t *err;
} jp_t;

static bool jfail(jp_t *p, const char *what) {
  return rp_fail(p->err, "invalid JSON at byte %zu: %s", (size_t)(p->s - p->start), what);
}

static void skip_ws(jp_t *p) {
  while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_u4(jp_t *p, unsigned *out) {
  if (p->end - p->s < 4) return jfail(p, "truncated \\u escape");
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p->s[i]);
    if (h < 0) return jfail(p, "bad \\u escape");
    v = v * 16 + (unsigned)h;
  }
  p->s += 4;
  *out = v;
  return true;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

static bool parse_string(jp_t *p, rp_json_t *out) {
  p->s++; /* the opening quote */
  const char *q = p->s;
  size_t cap = 0;
  /* Decoded text is never longer than the source. */
  while (q < p->end && *q != '"') q += *q == '\\' && q + 1 < p->end ? 2 : 1;
  if (q >= p->end) return jfail(p, "unterminated string");
  cap = (size_t)(q - p->s) + 1;
  char *o = rp_alloc(cap), *w = o;
  while (*p->s != '"') {
    unsigned char c = (unsigned char)*p->s;
    if (c < 0x20) {
      free(o);
      return jfail(p, "control character in string");
    }
    if (c != '\\') {
      *w++ = (char)c;
      p->s++;
      continue;
    }
    p->s++;
    char e = *p->s++;
    switch (e) {
    case '"': *w++ = '"'; break;
    case '\\': *w++ = '\\'; break;
    case '/': *w++ = '/'; break;
    case 'b': *w++ = '\b'; break;
    case 'f': *w++ = '\f'; break;
    case 'n': *w++ = '\n'; break;
    case 'r': *w++ = '\r'; break;
    case 't': *w++ = '\t'; break;
    case 'u': {
      unsigned cp = 0;
      if (!read_u4(p, &cp)) {
        free(o);
        return false;
      }
      if (cp >= 0xd800 && cp <= 0xdbff && p->end - p->s >= 6 && p->s[0] == '\\' && p->s[1] == 'u') {
        unsigned lo = 0;
        bool hex = true;
        for (int i = 0; i < 4 && hex; i++) {
          int h = hexval(p->s[2 + i]);
          hex = h >= 0;
          lo = lo * 16 + (unsigned)(h >= 0 ? h : 0);
        }
        if (hex && lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p->s += 6;
        } else {
          cp = 0xfffd;
        }
      } else if (cp >= 0xd800 && cp <= 0xdfff) {
        cp = 0xfffd; /* a lone surrogate */
      }
      /* \uXXXX is 6 source bytes, at most 4 decoded; a pair 12 for 4. */
      w += put_utf8(w, cp);
      break;
    }
    default:
      free(o);
      return jfail(p, "bad escape in string");
    }
  }
  p->s++;
  *w = '\0';
  out->type = RP_JSON_STR;
  out->str = o;
  out->len = (size_t)(w - o);
  return true;
}

static bool parse_number(jp_t *p, rp_json_t *out) {
  const char *b = p->s;
  if (p->s < p->end && *p->s == '-') p->s++;
  if (p->s >= p->end || *p->s < '0' || *p->s > '9') return jfail(p, "bad number");
  while (p->s < p->end && ((*p->s >= '0' && *p->s <= '9') || *p->s == '.' || *p->s == 'e' ||
                           *p->s == 'E' || *p->s == '+' || *p->s == '-'))
    p->s++;
  char buf[64];
  size_t n = (size_t)(p->s - b);
  if (n >= sizeof buf) return jfail(p, "number too long");
  memcpy(buf, b, n);
  buf[n] = '\0';
  char *endp;
  errno = 0;
  double d = strtod(buf, &endp);
  if (*endp || !isfinite(d)) return jfail(p, "bad number");
  out->type = RP_JSON_NUM;
  out->num = d;
  /* Integers keep every digit (byte counts beyond 2^53). */
  out->is_int = strpbrk(buf, ".eE") == NULL;
  if (out->is_int) {
    errno = 0;
    long long v = strtoll(buf, &endp, 10);
    if (errno || *endp) out->is_int = false;
    else out->i = v;
  }
  return true;
}

static bool parse_value(jp_t *p, rp_json_t *out, int depth);

static bool parse_container(jp_t *p, rp_json_t *out, int depth, bool object) {
  if (depth >= RP_JSON_MAX_DEPTH) return jfail(p, "nested too deeply");
  p->s++;
  out->type = object ? RP_JSON_OBJ : RP_JSON_ARR;
  size_t cap = 0;
  skip_ws(p);
  if (p->s < p->end && *p->s == (object ? '}' : ']')) {
    p->s++;
    return true;
  }
  for (;;) {
    skip_ws(p);
    char *key = NULL;
    if (object) {
      if (p->s >= p->end || *p->s != '"') return jfail(p, "expected a key");
      rp_json_t k = {0};
      if (!parse_string(p, &k)) return false;
      key = k.str;
      skip_ws(p);
      if (p->s >= p->end || *p->s != ':') {
        free(key);
        return jfail(p, "expected ':'");
      }
      p->s++;
    }
    if (out->n == cap) {
      cap = cap ? cap * 2 : 8;
      out->items = rp_realloc(out->items, cap * sizeof *out->items);
      if (object) out->keys = rp_realloc(out->keys, cap * sizeof *out->keys);
    }
    rp_json_t *item = &out->items[out->n];
    memset(item, 0, sizeof *item);
    if (object) out->keys[out->n] = key;
    out->n++;
    if (!parse_value(p, item, depth + 1)) return false;
    skip_ws(p);
    if (p->s < p->end && *p->s == ',') {
      p->s++;
      continue;
    }
    if (p->s < p->end && *p->s == (object ? '}' : ']')) {
      p->s++;
      return true;
    }
    return jfail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static bool literal(jp_t *p, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0) return jfail(p, "unexpected text");
  p->s += n;
  return true;
}

static bool parse_value(jp_t *p, rp_json_t *out, int depth) {
  skip_ws(p);
  if (p->s >= p->end) return jfail(p, "unexpected end");
  switch (*p->s) {
  case '{': return parse_container(p, out, depth, true);
  case '[': return parse_container(p, out, depth, false);
  case '"': return parse_string(p, out);
  case 't': out->type = RP_JSON_BOOL, out->b = true; return literal(p, "true");
  case 'f': out->type = RP_JSON_BOOL, out->b = false; return literal(p, "false");
  case 'n': out->type = RP_JSON_NULL; return literal(p, "null");
  default: return parse_number(p, out);
  }
}

bool rp_json_parse(const char *text, size_t len, size_t *consumed, rp_json_t *out, rp_err_t *err) {
  memset(out, 0, sizeof *out);
  jp_t p = {text, text + len, text, err};
  bool ok = parse_value(&p, out, 0);
  if (consumed) *consumed = (size_t)(p.s - text);
  if (!ok) {
    rp_json_free(out);
    memset(out, 0, sizeof *out);
  }
  return ok;
}

void rp_json_free(rp_json_t *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    rp_json_free(&j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
}

const rp_json_t *rp_json_get(const rp_json_t *obj, const char *key) {
  if (!obj || obj->type != RP_JSON_OBJ) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (obj->keys[i] && !strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}

const char *rp_json_str(const rp_json_t *obj, const char *key) {
  const rp_json_t *v = rp_json_get(obj, key);
  return v && v->type == RP_JSON_STR ? v->str : NULL;
}

bool rp_json_num(const rp_json_t *obj, const char *key, double *out) {
  const rp_json_t *v = rp_json_get(obj, key);
  if (!v || v->type != RP_JSON_NUM) return false;
  *out = v->num;
  return true;
}

int64_t rp_json_int(const rp_json_t *obj, const char *key, int64_t missing) {
  const rp_json_t *v = rp_json_get(obj, key);
  if (!v || v->type != RP_JSON_NUM) return missing;
  if (v->is_int) return v->i;
  return v->num >= -9.2e18 && v->num <= 9.2e18 ? (int64_t)v->num : missing;
}
