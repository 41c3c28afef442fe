/* heapscope report: reading a profile file and telling its format apart.
 *
 * Any input may be gzipped (magic 1f 8b), as pprof accepts. Then:
 *   legacy CPU profile  binary header 0, 3, 0, period, 0 in 32- or 64-bit
 *                       words of either byte order (read_cpu.c)
 *   legacy heap profile text starting "heap profile:" (read_heap.c)
 *   profile.proto       anything else that decodes as one (read_proto.c)
 * A legacy CPU profile PATH may come with PATH.tests, its per-test samples. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Decompressed profiles larger than this are refused (a gzip bomb would
 * otherwise take all memory before we could say anything). */
#define RP_MAX_INFLATED ((size_t)4 << 30)

bool rp_gunzip(const unsigned char *d, size_t n, rp_buf_t *out, rp_err_t *err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return rp_fail(err, "cannot start zlib");
  size_t cap = n * 4 + 4096, len = 0;
  unsigned char *buf = rp_alloc(cap);
  int rc = Z_OK;
  const unsigned char *in = d;
  size_t left = n;
  while (rc != Z_STREAM_END) {
    if (len == cap) {
      if (cap >= RP_MAX_INFLATED) {
        inflateEnd(&zs);
        free(buf);
        return rp_fail(err, "gzip data decompresses to more than 4 GiB");
      }
      cap *= 2;
      buf = rp_realloc(buf, cap);
    }
    if (zs.avail_in == 0 && left) {
      uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
      zs.next_in = (Bytef *)in;
      zs.avail_in = chunk;
      in += chunk;
      left -= chunk;
    }
    size_t room = cap - len;
    zs.next_out = buf + len;
    zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
    uInt before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    len += before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      /* Concatenated gzip members (gzip -c a b > c) continue the data. */
      if (zs.avail_in || left) {
        if (inflateReset(&zs) != Z_OK) break;
        rc = Z_OK;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && !left) {
      inflateEnd(&zs);
      free(buf);
      return rp_fail(err, "truncated gzip data");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const char *m = zs.msg ? zs.msg : "invalid data";
      char tmp[200];
      snprintf(tmp, sizeof tmp, "%s", m);
      inflateEnd(&zs);
      free(buf);
      return rp_fail(err, "corrupt gzip data (%s)", tmp);
    }
  }
  inflateEnd(&zs);
  out->data = buf;
  out->len = len;
  return true;
}

bool rp_read_file(const char *path, rp_buf_t *out, rp_err_t *err) {
  memset(out, 0, sizeof *out);
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
  /* Pipes and process substitution work too: read until EOF. */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, len = 0;
  unsigned char *buf = rp_alloc(cap);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = rp_realloc(buf, cap);
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      free(buf);
      return rp_fail(err, "read error: %s", strerror(e));
    }
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
    rp_buf_t z;
    bool ok = rp_gunzip(buf, len, &z, err);
    free(buf);
    if (!ok) return false;
    *out = z;
    return true;
  }
  out->data = buf;
  out->len = len;
  return true;
}

bool rp_parse_profile(const unsigned char *d, size_t n, const char *side, size_t side_len,
                      rp_profile_t *p, rp_err_t *err) {
  if (n == 0) return rp_fail(err, "empty file");
  if (rp_is_cpu_binary(d, n)) {
    if (!rp_read_cpu(d, n, p, err)) return false;
    if (side && !rp_read_cpu_tests(side, side_len, p, err)) return false;
  } else if (rp_is_heap_text(d, n)) {
    if (!rp_read_heap(d, n, p, err)) return false;
  } else if (!rp_looks_like_proto(d, n)) {
    return rp_fail(err, "not a profile (neither a legacy heap or CPU profile nor profile.proto)");
  } else {
    rp_err_t perr = {0};
    if (!rp_read_proto(d, n, p, &perr)) {
      /* Text that is neither: say so instead of reporting protobuf errors. */
      size_t printable = 0, k = n < 256 ? n : 256;
      for (size_t i = 0; i < k; i++)
        printable += (d[i] >= 32 && d[i] < 127) || d[i] == '\n' || d[i] == '\t' || d[i] == '\r';
      if (printable == k)
        return rp_fail(err, "not a profile (neither a legacy heap or CPU profile nor profile.proto)");
      if (n >= 8 && (d[0] == 0 || d[0] == 0xff) && (d[1] == 0 || d[1] == 0xff))
        return rp_fail(err, "not a profile (unknown binary format; a legacy CPU profile "
                            "starts with the words 0, 3, 0, period, 0)");
      return rp_fail(err, "not a valid profile.proto: %s", perr.msg);
    }
  }
  return true;
}

bool rp_load_profile(const char *path, rp_profile_t *p, rp_err_t *err) {
  rp_buf_t b;
  if (!rp_read_file(path, &b, err)) return false;
  rp_buf_t side = {0};
  bool have_side = false;
  if (rp_is_cpu_binary(b.data, b.len)) {
    size_t n = strlen(path);
    char *sp = rp_alloc(n + 7);
    memcpy(sp, path, n);
    memcpy(sp + n, ".tests", 7);
    struct stat st;
    if (stat(sp, &st) == 0) {
      rp_err_t serr = {0};
      if (!rp_read_file(sp, &side, &serr)) {
        rp_fail(err, "%s: %s", sp, serr.msg);
        free(sp);
        free(b.data);
        return false;
      }
      have_side = true;
    }
    free(sp);
  }
  bool ok = rp_parse_profile(b.data, b.len, have_side ? (const char *)side.data : NULL,
                             side.len, p, err);
  free(b.data);
  free(side.data);
  return ok;
}
