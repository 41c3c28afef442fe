/* Report files (HEAPSCOPE_LOG_PATH, HEAPSCOPE_REPORT_PATH, the leak
 * profile) written all or nothing: on a full or unwritable filesystem the
 * caller learns why and falls back to stderr, and no truncated report (or
 * empty file) is left behind to be taken for the real one. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends (or, with truncate, writes) data to an open fd; on failure cuts
 * the file back to the size it had. 0 or errno. */
static int write_fd(int fd, bool truncate, const char *data, size_t len) {
  struct stat st;
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  off_t before = regular && !truncate ? st.st_size : 0;
  int err = 0;
  hs__write_error = 0;
  if (len && !hs__write_all(fd, data, len)) err = hs__write_error ? hs__write_error : EIO;
  if (err && regular && ftruncate(fd, before) != 0) { /* nothing better to do */
  }
  if (close(fd) != 0 && !err) err = errno; /* NFS reports ENOSPC here */
  return err;
}

int lc_write_file(const char *path, bool truncate, const char *data, size_t len) {
  int saved = errno, err;
  struct stat st;
  bool exists = stat(path, &st) == 0;
  if (truncate && (!exists || S_ISREG(st.st_mode))) {
    /* A new version replaces the old one only once complete: a failed
     * write keeps the previous document. */
    char tmp[4200];
    hs__snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      err = errno;
    } else {
      err = write_fd(fd, true, data, len);
      if (!err && rename(tmp, path) != 0) err = errno;
      if (err) unlink(tmp);
    }
    errno = saved;
    return err;
  }
  bool created = true;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = open(path, O_WRONLY | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND));
  }
  if (fd < 0) {
    err = errno;
    errno = saved;
    return err;
  }
  bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  off_t before = regular ? st.st_size : 0;
  err = write_fd(fd, truncate, data, len);
  if (err && created && regular && before == 0) unlink(path);
  errno = saved;
  return err;
}
