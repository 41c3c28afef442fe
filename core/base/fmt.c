/* A small printf for the runtime: formats into caller buffers and writes with
 * write(2). The runtime cannot use stdio: it may run inside malloc, inside a
 * signal-stopped world, or while stdio's own locks are held. */
#include "core/base/base.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct out {
  char *buf;
  size_t size, pos;
} out_t;

static void put(out_t *o, char c) {
  if (o->pos + 1 < o->size) o->buf[o->pos] = c;
  o->pos++;
}

static void put_padded(out_t *o, const char *s, size_t n, int width, bool left,
                       char pad) {
  size_t fill = width > 0 && (size_t)width > n ? (size_t)width - n : 0;
  if (!left)
    while (fill--) put(o, pad);
  for (size_t i = 0; i < n; i++) put(o, s[i]);
  if (left)
    while (fill--) put(o, ' ');
}

static size_t utoa(unsigned long long v, unsigned base, bool upper, char *tmp) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  size_t n = 0;
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v);
  for (size_t i = 0; i < n / 2; i++) {
    char t = tmp[i];
    tmp[i] = tmp[n - 1 - i];
    tmp[n - 1 - i] = t;
  }
  return n;
}

int hs__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  out_t o = {buf, size, 0};
  for (const char *f = fmt; *f; f++) {
    if (*f != '%') {
      put(&o, *f);
      continue;
    }
    f++;
    bool left = false, zero = false;
    for (;; f++) {
      if (*f == '-') left = true;
      else if (*f == '0') zero = true;
      else if (*f == '+' || *f == ' ' || *f == '#') continue;
      else break;
    }
    int width = 0, prec = -1;
    if (*f == '*') {
      width = va_arg(ap, int);
      if (width < 0) { left = true; width = -width; }
      f++;
    } else {
      while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
      f++;
      prec = 0;
      if (*f == '*') { prec = va_arg(ap, int); f++; }
      else while (*f >= '0' && *f <= '9') prec = prec * 10 + (*f++ - '0');
    }
    int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
    for (;; f++) {
      if (*f == 'l') lng = lng == 1 ? 2 : 1;
      else if (*f == 'z' || *f == 'j' || *f == 't') lng = 3;
      else if (*f == 'h') continue;
      else break;
    }
    char tmp[32];
    char pad = zero && !left ? '0' : ' ';
    switch (*f) {
    case 'd': case 'i': {
      long long v = lng == 0 ? va_arg(ap, int)
                    : lng == 1 ? va_arg(ap, long)
                    : lng == 2 ? va_arg(ap, long long)
                               : (long long)va_arg(ap, ptrdiff_t);
      unsigned long long mag = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
      char num[32];
      size_t n = 0;
      if (v < 0) num[n++] = '-';
      n += utoa(mag, 10, false, num + n);
      if (v < 0 && pad == '0' && width > (int)n) {
        put(&o, '-');
        put_padded(&o, num + 1, n - 1, width - 1, left, pad);
      } else {
        put_padded(&o, num, n, width, left, pad);
      }
      break;
    }
    case 'u': case 'x': case 'X': {
      unsigned long long v = lng == 0 ? va_arg(ap, unsigned)
                             : lng == 1 ? va_arg(ap, unsigned long)
                             : lng == 2 ? va_arg(ap, unsigned long long)
                                        : va_arg(ap, size_t);
      size_t n = utoa(v, *f == 'u' ? 10 : 16, *f == 'X', tmp);
      put_padded(&o, tmp, n, width, left, pad);
      break;
    }
    case 'p': {
      uintptr_t v = (uintptr_t)va_arg(ap, void *);
      tmp[0] = '0';
      tmp[1] = 'x';
      size_t n = 2 + utoa(v, 16, false, tmp + 2);
      put_padded(&o, tmp, n, width, left, ' ');
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      put_padded(&o, s, n, width, left, ' ');
      break;
    }
    case 'c':
      tmp[0] = (char)va_arg(ap, int);
      put_padded(&o, tmp, 1, width, left, ' ');
      break;
    case '%':
      put(&o, '%');
      break;
    case '\0':
      f--;
      break;
    default:
      put(&o, '%');
      put(&o, *f);
    }
  }
  if (size) buf[o.pos < size ? o.pos : size - 1] = '\0';
  return (int)o.pos;
}

int hs__snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = hs__vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

bool hs__write_all(int fd, const char *data, size_t len) {
  int saved = errno;
  bool ok = true;
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { ok = false; break; }
    data += n;
    len -= (size_t)n;
  }
  errno = saved;
  return ok;
}

static void vline(const char *fmt, va_list ap) {
  char line[1024];
  memcpy(line, "heapscope: ", 11);
  int n = hs__vsnprintf(line + 11, sizeof line - 12, fmt, ap);
  size_t len = 11 + (n < (int)sizeof line - 12 ? (size_t)n : sizeof line - 13);
  line[len++] = '\n';
  hs__write_all(2, line, len);
}

void hs__errorf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(fmt, ap);
  va_end(ap);
}

void hs__assert_fail(const char *expr, const char *file, int line) {
  hs__errorf("assertion failed: %s (%s:%d)", expr, file, line);
  abort();
}

/* The linker defines these for a section named like a C identifier; weak, so
 * a runtime without such functions still links. */
extern const char __start_hs_calls_user[] __attribute__((weak, visibility("hidden")));
extern const char __stop_hs_calls_user[] __attribute__((weak, visibility("hidden")));

bool hs__calls_user(uintptr_t pc) {
  return __start_hs_calls_user && pc >= (uintptr_t)__start_hs_calls_user &&
         pc < (uintptr_t)__stop_hs_calls_user;
}
