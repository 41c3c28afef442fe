/* leak.static_roots: linked into the program (heapscope::static), the
 * runtime's data shares the program's writable segment, which the check
 * scans as a root; the runtime's big zeroed tables in it must be cut out.
 * The CPU profiler's thread slots (~5 MB) and the stop-the-world slots
 * (~1 MB) were not: each check that scanned the segment read them into
 * memory (peak RSS 8.4 MB instead of 2.7 MB for this program).
 *
 *   static_roots            runs itself as the child with HEAPCHECK=normal
 *                           and without, and compares their peak RSS
 *   static_roots --child    allocates, frees, and prints (stdio's buffer is
 *                           a live block only libc's data points to, so
 *                           the check scans the program's segment whole) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static long peak_kib(const char *self, const char *heapcheck) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    if (heapcheck) setenv("HEAPCHECK", heapcheck, 1);
    else unsetenv("HEAPCHECK");
    execl(self, self, "--child", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "static_roots: the child (HEAPCHECK=%s) failed (status %#x)\n",
            heapcheck ? heapcheck : "", status);
    exit(1);
  }
  return ru.ru_maxrss;
}

int main(int argc, char **argv) {
  if (argc == 2 && !strcmp(argv[1], "--child")) {
    for (int i = 0; i < 10000; i++) free(malloc(16 + (size_t)(i % 500)));
    printf("child\n");
    return 0;
  }
  long plain = -1, checked = -1;
  for (int round = 0; round < 2; round++) { /* the lower of two each */
    long a = peak_kib(argv[0], NULL), b = peak_kib(argv[0], "normal");
    if (plain < 0 || a < plain) plain = a;
    if (checked < 0 || b < checked) checked = b;
  }
  printf("static_roots: peak RSS %ld KiB without HEAPCHECK, %ld KiB with HEAPCHECK=normal\n",
         plain, checked);
  if (checked > plain + 3072) {
    fprintf(stderr, "static_roots: the exit-time check costs %ld KiB: the runtime's tables in the "
                    "program's segment were scanned as roots\n", checked - plain);
    return 1;
  }
  return 0;
}
