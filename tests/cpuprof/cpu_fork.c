/* Forks: one child exits with exit(), one with _exit(), one execs this
 * program again ("exec-child"). Each must write its own PATH_<pid> and
 * leave the parent's profile alone. Prints "child1 PID" ... */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cputest.h"

BURNER(f_before)
BURNER(f_child)
BURNER(f_child2)
BURNER(f_after)
BURNER(f_exec)

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "exec-child")) {
    f_exec(0.3);
    return 0;
  }
  f_before(0.1);
  fflush(stdout);
  pid_t c1 = fork();
  if (c1 == 0) {
    f_child(0.15);
    exit(0);
  }
  pid_t c2 = fork();
  if (c2 == 0) {
    f_child2(0.15);
    _exit(0);
  }
  pid_t c3 = fork();
  if (c3 == 0) {
    execl(argv[0], argv[0], "exec-child", (char *)NULL);
    _exit(127);
  }
  f_after(0.15);
  int st, bad = 0;
  pid_t kids[3] = {c1, c2, c3};
  for (int i = 0; i < 3; i++)
    if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
  printf("child1 %d\nchild2 %d\nchild3 %d\n", (int)c1, (int)c2, (int)c3);
  return bad;
}
