/* Burns CPU on two threads until it is killed (the SIGKILL and fatal-signal
 * cases). With "own-term" it handles SIGTERM itself: prints "own handler"
 * and _exits with status 3, leaving whatever the profiler had written.
 * With "alone" only the main thread burns (spin_a): the live file is then
 * mapped by its first sample's handler. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cputest.h"

__attribute__((noinline)) static void spin_a(void) {
  for (;;) burn_cpu(0.01);
}
__attribute__((noinline)) static void spin_b(void) {
  for (;;) burn_cpu(0.01);
}

static void *thread_b(void *arg) {
  spin_b();
  return NULL;
}

static void own_term(int sig) {
  static const char msg[] = "own handler\n";
  write(1, msg, sizeof msg - 1);
  _exit(3);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "own-term")) signal(SIGTERM, own_term);
  pthread_t b;
  if (argc < 2 || strcmp(argv[1], "alone")) pthread_create(&b, NULL, thread_b, NULL);
  printf("ready\n");
  fflush(stdout);
  spin_a();
  return 0;
}
