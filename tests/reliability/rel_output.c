/* Lost output (issue 9): reports and profiles that must reach the user
 * whatever the program does with its stderr, and whatever state the disk
 * is in. run.sh sets the environment and checks where everything went.
 *
 *   leak              leaks one 48-byte block (from leak_one) and exits
 *   close_stderr      leaks, then closes fd 2 before exiting (as every
 *                     coreutils program does through close_stdout)
 *   reuse_stderr FILE leaks, closes fd 2 and opens FILE to read it (it gets
 *                     fd 2)
 *   dumps DIR         on a small filesystem: writes a 192 KiB file of its
 *                     own, allocates 64 MiB in 1 MiB steps (HEAPPROFILE
 *                     dumps on intervals fill the disk), deletes its file,
 *                     allocates 64 MiB more, then writes "output done" to
 *                     DIR/out.txt: it fits unless dumps went on
 *   quiet             a few allocations, then exits (the exit dump)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

static __attribute__((noinline)) void leak_one(void) {
  sink = malloc(48);
  memset(sink, 1, 48);
  sink = NULL;
}

int main(int argc, char **argv) {
  const char *c = argc > 1 ? argv[1] : "";
  if (!strcmp(c, "leak")) {
    leak_one();
  } else if (!strcmp(c, "close_stderr")) {
    leak_one();
    close(2);
  } else if (!strcmp(c, "reuse_stderr") && argc > 2) {
    leak_one();
    close(2);
    int fd = open(argv[2], O_RDONLY);
    if (fd != 2) return 3;
    char buf[64];
    if (read(fd, buf, sizeof buf) != 13) return 3;
  } else if (!strcmp(c, "dumps") && argc > 2) {
    char ballast[4096], out[4096];
    snprintf(ballast, sizeof ballast, "%s/ballast", argv[2]);
    snprintf(out, sizeof out, "%s/out.txt", argv[2]);
    static char zeros[192 << 10]; /* leaves room for a few dumps of any size */
    int fd = open(ballast, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros || close(fd) != 0)
      return 4;
    for (int round = 0; round < 2; round++) {
      void *keep[64];
      for (int i = 0; i < 64; i++) {
        keep[i] = malloc(1 << 20);
        memset(keep[i], i, 4096);
      }
      for (int i = 0; i < 64; i++) free(keep[i]);
      if (round == 0) unlink(ballast); /* room for the output, unless dumps take it */
    }
    FILE *f = fopen(out, "w");
    if (!f || fputs("output done\n", f) < 0 || fclose(f) != 0) {
      perror(out);
      return 4;
    }
  } else if (!strcmp(c, "quiet")) {
    for (int i = 0; i < 10; i++) free(malloc(100));
  } else {
    fprintf(stderr, "usage: rel_output leak|close_stderr|reuse_stderr FILE|dumps DIR|quiet\n");
    return 2;
  }
  return 0;
}
