/* fork: the parent's dump is PREFIX.0001.heap, the child's
 * PREFIX_<childpid>.0001.heap (gperftools' naming). The child inherits the
 * parent's profile. parent_alloc = 3: 3333 [3: 3333]; child_alloc = 5:
 * 11110 [5: 11110] (only in the child's dump). Prints "child=<pid>". */
#include "proftest.h"

#include <sys/wait.h>

static void *keep[8];

NOINLINE void parent_alloc(void) {
  for (int i = 0; i < 3; i++) keep[i] = malloc(1111);
}
NOINLINE void child_alloc(void) {
  for (int i = 0; i < 5; i++) keep[3 + i] = malloc(2222);
}

int main(void) {
  parent_alloc();
  pid_t pid = fork();
  if (pid < 0) die("fork\n");
  if (pid == 0) {
    child_alloc();
    exit(0); /* runs the at-exit dump in the child */
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) die("child failed\n");
  say("child=%d\n", (int)pid);
  return 0;
}
