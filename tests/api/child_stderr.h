/* Runs code in a forked child whose stderr is captured: the invalid-free
 * tests expect the child to abort with a report, which must neither dump
 * core nor take the test program down. */
#ifndef HS_TESTS_API_CHILD_STDERR_H
#define HS_TESTS_API_CHILD_STDERR_H

#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs in the child with the pipe's write end (also its stderr); should not
 * return (the child _exits 0 if it does). */
typedef void (*child_body_fn)(int out_fd, const void *arg);

/* Forks a child running body(fd, arg), reads what it writes to stderr into
 * out (NUL-terminated, at most size - 1 bytes) and waits for it. Returns
 * its wait status, -1 when the pipe, fork or wait failed. */
static int run_child_capturing_stderr(child_body_fn body, const void *arg, char *out,
                                      size_t size) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    close(pipefd[0]);
    dup2(pipefd[1], 2);
    body(pipefd[1], arg);
    _exit(0);
  }
  close(pipefd[1]);
  size_t len = 0;
  ssize_t r;
  while (len < size - 1 && (r = read(pipefd[0], out + len, size - 1 - len)) > 0)
    len += (size_t)r;
  out[len] = 0;
  close(pipefd[0]);
  int status;
  return waitpid(pid, &status, 0) == pid ? status : -1;
}

#endif
