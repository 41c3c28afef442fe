/* leak.renamed_runtime: the exit-time check must not scan the runtime's
 * own writable segment as a root, whatever the library's file is called.
 * It used to recognise that segment by the path containing "libheapscope":
 * a copy preloaded under another name (a benchmark's private copy) had its
 * ~10 MB of zeroed tables read page by page at exit, which put them in
 * memory (peak RSS 9.6 MB instead of 3.5 MB for a small program).
 *
 *   renamed_runtime LIB COPY   copies LIB to COPY, runs itself as the child
 *                              under each (LD_PRELOAD, HEAPCHECK=normal) and
 *                              compares the children's peak RSS
 *   renamed_runtime --child    allocates, frees, and prints (stdio's buffer: a
 *                              live block only libc's data points to, so the
 *                              check scans the segments before libc's) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(void) {
  for (int i = 0; i < 10000; i++) free(malloc(16 + (size_t)(i % 500)));
  printf("child\n");
  return 0;
}

static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (in < 0 || out < 0) {
    fprintf(stderr, "renamed_runtime: cannot copy %s to %s\n", from, to);
    exit(1);
  }
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) exit(1);
  close(in);
  close(out);
}

/* The child's peak RSS in KiB under the runtime preloaded from lib. */
static long peak_kib(const char *self, const char *lib) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    setenv("LD_PRELOAD", lib, 1);
    setenv("HEAPCHECK", "normal", 1);
    execl(self, self, "--child", (char *)NULL);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "renamed_runtime: the child under %s failed (status %#x)\n", lib, status);
    exit(1);
  }
  return ru.ru_maxrss;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--child")) return child();
  if (argc != 3) {
    fprintf(stderr, "usage: renamed_runtime LIB COPY\n");
    return 2;
  }
  copy_file(argv[1], argv[2]);
  long named = -1, renamed = -1;
  for (int round = 0; round < 2; round++) { /* the lower of two each */
    long a = peak_kib(argv[0], argv[1]), b = peak_kib(argv[0], argv[2]);
    if (named < 0 || a < named) named = a;
    if (renamed < 0 || b < renamed) renamed = b;
  }
  unlink(argv[2]);
  printf("renamed_runtime: peak RSS %ld KiB as %s, %ld KiB as %s\n", named, argv[1], renamed,
         argv[2]);
  if (renamed > named + 2048) {
    fprintf(stderr, "renamed_runtime: the renamed copy costs %ld KiB more at exit: its own tables "
                    "were scanned as roots\n", renamed - named);
    return 1;
  }
  return 0;
}
