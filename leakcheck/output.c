/* Report files (HEAPSCOPE_LOG_PATH, HEAPSCOPE_REPORT_PATH, the leak
 * profile) written all or nothing: on a full or unwritable filesystem the
 * caller learns why and falls back to stderr, and no truncated report (or
 * empty file) is left behind to be taken for the real one. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int lc_write_file(const char *path, bool truncate, const char *data, size_t len) {
  int saved = errno;
  bool created = true;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = open(path, O_WRONLY | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND));
  }
  if (fd < 0) {
    int err = errno;
    errno = saved;
    return err;
  }
  struct stat st;
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  off_t before = regular && !truncate ? st.st_size : 0;
  int err = 0;
  hs__write_error = 0;
  if (len && !hs__write_all(fd, data, len)) err = hs__write_error ? hs__write_error : EIO;
  if (err && regular) {
    if (ftruncate(fd, before) != 0) { /* nothing better to do */
    }
  }
  if (close(fd) != 0 && !err) err = errno; /* NFS reports ENOSPC here */
  if (err && created && regular && before == 0) unlink(path);
  errno = saved;
  return err;
}
