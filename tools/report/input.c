/* heapscope report: reading a profile file and telling its format apart.
 *
 * Input goes through a stream (a file or memory, gunzipped on the fly when
 * it starts with the gzip magic 1f 8b, as pprof accepts any input gzipped),
 * so the legacy CPU reader, whose files grow with the number of samples,
 * holds one buffer, never the file: memory stays proportional to the
 * distinct stacks. The text and proto readers take the whole (decompressed)
 * file, whose size already is proportional to what they keep.
 *
 * Formats, told apart by their first bytes:
 *   legacy CPU profile  binary header 0, 3, 0, period, 0 in 32- or 64-bit
 *                       words of either byte order (read_cpu.c)
 *   legacy heap profile text starting "heap profile:" (read_heap.c)
 *   profile.proto       a protobuf whose first field is a Profile field
 *                       (read_proto.c)
 * A legacy CPU or heap profile PATH may come with PATH.tests, its per-test
 * samples. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1u << 20)
/* Decompressed input larger than this is refused: a gzip bomb would take
 * all memory before we could say anything. */
#define RP_MAX_INFLATED ((uint64_t)16 << 30)

struct rp_stream {
  int fd;                          /* -1: memory */
  const unsigned char *mem;
  size_t mem_len, mem_pos;
  bool gz, gz_done;
  z_stream z;
  unsigned char *zin;              /* compressed input buffer (files) */
  uint64_t inflated;
  unsigned char *buf;              /* decoded bytes [pos, len) */
  size_t pos, len, cap;
  bool borrowed;                   /* buf is the caller's memory (not gzipped) */
  char *tail;                      /* a last line without newline, NUL-terminated */
  bool eof;
  rp_err_t *err;
};

/* Raw bytes from the source (before gunzip). */
static ssize_t raw_read(rp_stream_t *s, unsigned char *dst, size_t n) {
  if (s->fd < 0) {
    size_t k = s->mem_len - s->mem_pos < n ? s->mem_len - s->mem_pos : n;
    memcpy(dst, s->mem + s->mem_pos, k);
    s->mem_pos += k;
    return (ssize_t)k;
  }
  for (;;) {
    ssize_t r = read(s->fd, dst, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) rp_fail(s->err, "read error: %s", strerror(errno));
    return r;
  }
}

/* More compressed input for zlib; sets gz_done at the end. */
static bool refill_raw(rp_stream_t *s) {
  if (s->fd < 0) {
    size_t k = s->mem_len - s->mem_pos > (1u << 30) ? (1u << 30) : s->mem_len - s->mem_pos;
    s->z.next_in = (Bytef *)(s->mem + s->mem_pos);
    s->z.avail_in = (uInt)k;
    s->mem_pos += k;
  } else {
    ssize_t r = raw_read(s, s->zin, CHUNK);
    if (r < 0) return false;
    s->z.next_in = s->zin;
    s->z.avail_in = (uInt)r;
  }
  if (s->z.avail_in == 0) s->gz_done = true;
  return true;
}

/* Appends up to `want` decoded bytes to the buffer; false on error. */
static bool fill(rp_stream_t *s, size_t want) {
  if (s->pos > 0 && s->pos == s->len) s->pos = s->len = 0;
  if (s->len + want > s->cap) {
    if (s->pos) { /* keep the unread bytes only */
      memmove(s->buf, s->buf + s->pos, s->len - s->pos);
      s->len -= s->pos;
      s->pos = 0;
    }
    if (s->len + want > s->cap) {
      s->cap = s->len + want;
      s->buf = rp_realloc(s->buf, s->cap);
    }
  }
  if (!s->gz) {
    ssize_t r = raw_read(s, s->buf + s->len, want);
    if (r < 0) return false;
    if (r == 0) s->eof = true;
    s->len += (size_t)r;
    return true;
  }
  size_t got = 0;
  while (got == 0 && !s->eof) {
    if (s->z.avail_in == 0 && !s->gz_done && !refill_raw(s)) return false;
    s->z.next_out = s->buf + s->len;
    s->z.avail_out = (uInt)want;
    int rc = inflate(&s->z, Z_NO_FLUSH);
    got = want - s->z.avail_out;
    s->len += got;
    s->inflated += got;
    if (s->inflated > RP_MAX_INFLATED)
      return rp_fail(s->err, "gzip data decompresses to more than 16 GiB");
    if (rc == Z_STREAM_END) {
      /* Concatenated gzip members (cat a.gz b.gz) continue the data;
       * anything else after a member is ignored, as gzip -d does. */
      if (s->z.avail_in == 0 && !s->gz_done && !refill_raw(s)) return false;
      if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b ||
          inflateReset(&s->z) != Z_OK)
        s->eof = true;
      continue;
    }
    if (rc == Z_BUF_ERROR && s->gz_done && s->z.avail_in == 0)
      return rp_fail(s->err, "truncated gzip data");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return rp_fail(s->err, "corrupt gzip data (%s)", s->z.msg ? s->z.msg : "invalid data");
  }
  return true;
}

static bool stream_start(rp_stream_t *s) {
  unsigned char magic[2];
  size_t have = 0;
  /* Peek at the raw magic without gunzip. */
  while (have < 2) {
    ssize_t r = raw_read(s, magic + have, 2 - have);
    if (r < 0) return false;
    if (r == 0) break;
    have += (size_t)r;
  }
  if (have == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    s->gz = true;
    if (inflateInit2(&s->z, 15 + 32) != Z_OK) return rp_fail(s->err, "cannot start zlib");
    if (s->fd >= 0) s->zin = rp_alloc(CHUNK);
    /* Feed the two magic bytes back in. */
    static unsigned char m[2] = {0x1f, 0x8b};
    s->z.next_in = m;
    s->z.avail_in = 2;
    return true;
  }
  if (s->fd < 0) { /* memory: read it in place */
    s->buf = (unsigned char *)s->mem;
    s->len = s->cap = s->mem_len;
    s->borrowed = s->eof = true;
    return true;
  }
  s->cap = 65536;
  s->buf = rp_alloc(s->cap);
  memcpy(s->buf, magic, have);
  s->len = have;
  return true;
}

bool rp_stream_file(const char *path, rp_stream_t **out, rp_err_t *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return rp_fail(err, "cannot open: %s", strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return rp_fail(err, "cannot stat: %s", strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return rp_fail(err, "is a directory, not a profile");
  }
  /* Pipes and process substitution work too: blocking reads until EOF. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  rp_stream_t *s = rp_alloc(sizeof *s);
  s->fd = fd;
  s->err = err;
  if (!stream_start(s)) {
    rp_stream_close(s);
    return false;
  }
  *out = s;
  return true;
}

rp_stream_t *rp_stream_mem(const unsigned char *d, size_t n, rp_err_t *err) {
  rp_stream_t *s = rp_alloc(sizeof *s);
  s->fd = -1;
  s->mem = d;
  s->mem_len = n;
  s->err = err;
  if (!stream_start(s)) {
    rp_stream_close(s);
    return NULL;
  }
  return s;
}

void rp_stream_close(rp_stream_t *s) {
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  if (s->gz) inflateEnd(&s->z);
  free(s->zin);
  free(s->tail);
  if (!s->borrowed) free(s->buf);
  free(s);
}

bool rp_stream_peek(rp_stream_t *s, size_t n, const unsigned char **d, size_t *avail) {
  while (s->len - s->pos < n && !s->eof) {
    size_t before = s->len - s->pos;
    if (!fill(s, n - before > CHUNK ? n - before : CHUNK)) return false;
  }
  *d = s->buf + s->pos;
  *avail = s->len - s->pos;
  return true;
}

bool rp_stream_read(rp_stream_t *s, void *dst, size_t n, size_t *got) {
  unsigned char *o = dst;
  *got = 0;
  while (*got < n) {
    if (s->pos == s->len) {
      if (s->eof) break;
      if (!fill(s, CHUNK)) return false;
      continue;
    }
    size_t k = s->len - s->pos < n - *got ? s->len - s->pos : n - *got;
    memcpy(o + *got, s->buf + s->pos, k);
    s->pos += k;
    *got += k;
  }
  return true;
}

bool rp_stream_line(rp_stream_t *s, const char **line, size_t *len) {
  size_t scanned = 0;
  for (;;) {
    const unsigned char *start = s->buf + s->pos;
    size_t avail = s->len - s->pos;
    const unsigned char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
    if (nl) {
      *line = (const char *)start;
      *len = (size_t)(nl - start);
      s->pos += *len + 1;
      return true;
    }
    if (s->eof) {
      if (!avail) return false;
      /* A last line without newline: copied, so that a terminator follows
       * it as it follows every other line (readers scan up to it). */
      free(s->tail);
      s->tail = rp_strndup((const char *)start, avail);
      *line = s->tail;
      *len = avail;
      s->pos = s->len;
      return true;
    }
    scanned = avail;
    if (!fill(s, CHUNK)) return false;
  }
}

bool rp_stream_slurp(rp_stream_t *s, rp_buf_t *out) {
  while (!s->eof)
    if (!fill(s, s->cap > 65536 ? s->cap : 65536)) return false; /* doubling */
  size_t n = s->len - s->pos;
  if (s->borrowed) {
    out->data = rp_alloc(n + 1);
    memcpy(out->data, s->buf + s->pos, n);
    s->pos = s->len;
  } else {
    if (s->pos) memmove(s->buf, s->buf + s->pos, n);
    out->data = s->buf ? rp_realloc(s->buf, n + 1) : rp_alloc(1); /* handed over, not copied */
    s->buf = NULL;
    s->pos = s->len = s->cap = 0;
  }
  out->data[n] = '\0';
  out->len = n;
  return true;
}

bool rp_read_file(const char *path, rp_buf_t *out, rp_err_t *err) {
  memset(out, 0, sizeof *out);
  rp_stream_t *s;
  if (!rp_stream_file(path, &s, err)) return false;
  bool ok = rp_stream_slurp(s, out);
  rp_stream_close(s);
  return ok;
}

/* Reads a profile from a stream; side: the PATH.tests text or NULL. */
static bool parse_stream(rp_stream_t *s, const char *side, size_t side_len, rp_profile_t *p,
                         rp_err_t *err) {
  const unsigned char *d;
  size_t n;
  if (!rp_stream_peek(s, 4096, &d, &n)) return false;
  if (n == 0) return rp_fail(err, "empty file");
  if (rp_is_cpu_binary(d, n)) {
    if (!rp_read_cpu(s, p, err)) return false;
    return !side || rp_read_cpu_tests(side, side_len, p, err);
  }
  if (rp_is_heap_text(d, n))
    return rp_read_heap(s, p, err) && (!side || rp_read_heap_tests(side, side_len, p, err));
  rp_buf_t b;
  if (!rp_stream_slurp(s, &b)) return false;
  bool ok;
  if (!rp_looks_like_proto(b.data, b.len)) {
    ok = rp_fail(err, "not a profile (neither a legacy heap or CPU profile nor profile.proto)");
  } else {
    rp_err_t perr = {0};
    ok = rp_read_proto(b.data, b.len, p, &perr);
    if (!ok) {
      /* Text that happens to start like a protobuf field: say what it is. */
      size_t printable = 0, k = b.len < 256 ? b.len : 256;
      for (size_t i = 0; i < k; i++)
        printable += (b.data[i] >= 32 && b.data[i] < 127) || b.data[i] == '\n' ||
                     b.data[i] == '\t' || b.data[i] == '\r';
      if (printable == k)
        rp_fail(err, "not a profile (neither a legacy heap or CPU profile nor profile.proto)");
      else
        rp_fail(err, "not a valid profile.proto: %s", perr.msg);
    }
  }
  free(b.data);
  return ok;
}

bool rp_parse_profile(const unsigned char *d, size_t n, const char *side, size_t side_len,
                      rp_profile_t *p, rp_err_t *err) {
  rp_stream_t *s = rp_stream_mem(d, n, err);
  if (!s) return false;
  bool ok = parse_stream(s, side, side_len, p, err);
  rp_stream_close(s);
  return ok;
}

bool rp_load_profile(const char *path, rp_profile_t *p, rp_err_t *err) {
  rp_stream_t *s;
  if (!rp_stream_file(path, &s, err)) return false;
  const unsigned char *d;
  size_t n;
  rp_buf_t side = {0};
  bool ok = rp_stream_peek(s, 64, &d, &n);
  if (ok && (rp_is_cpu_binary(d, n) || rp_is_heap_text(d, n))) {
    size_t len = strlen(path);
    char *sp = rp_alloc(len + 7);
    memcpy(sp, path, len);
    memcpy(sp + len, ".tests", 7);
    struct stat st;
    if (stat(sp, &st) == 0) {
      rp_err_t serr = {0};
      if (!rp_read_file(sp, &side, &serr)) ok = rp_fail(err, "%s: %s", sp, serr.msg);
    }
    free(sp);
  }
  if (ok) ok = parse_stream(s, side.data ? (const char *)side.data : NULL, side.len, p, err);
  rp_stream_close(s);
  free(side.data);
  return ok;
}
