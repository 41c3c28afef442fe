/* Fixed cost per process: starts a program many times, alternating
 * configurations (A B A B ...: drift of a shared machine hits both alike),
 * and prints the median wall time of one start (fork/exec to exit) per
 * configuration and the median of the paired differences; the same for
 * the child's CPU time (user + system, from wait4), which a loaded machine
 * disturbs far less than wall time (time spent waiting for a core is not
 * counted).
 *
 *   spawnbench RUNS PROGRAM [ARGS...]
 *
 * The configurations come from the environment: SPAWN_A and SPAWN_B are
 * space-separated NAME=VALUE lists added to the environment of each run
 * (e.g. SPAWN_B="LD_PRELOAD=/path/libheapscope.so HEAPCHECK=normal");
 * SPAWN_C, SPAWN_D, ... (up to SPAWN_F) optionally add more, in order. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* environ plus the NAME=VALUE words of spec (a private copy). */
static char **make_env(const char *spec) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 64, sizeof *env);
  size_t k = 0;
  char *copy = strdup(spec ? spec : "");
  for (char *save, *w = strtok_r(copy, " ", &save); w && k < 63; w = strtok_r(NULL, " ", &save))
    env[k++] = w;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    int overridden = 0;
    for (size_t j = 0; j < k && !overridden; j++)
      overridden = !strncmp(env[j], environ[i], len) && env[j][len] == '=';
    if (!overridden) env[k++] = environ[i];
  }
  env[k] = NULL;
  return env;
}

static double tv_ms(struct timeval tv) { return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3; }

/* Wall ms of one start; *cpu_ms: the child's user + system time. */
static double run_once(char **argv, char **env, double *cpu_ms) {
  pid_t pid;
  uint64_t t0 = now_ns();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
  if (posix_spawn(&pid, argv[0], &fa, NULL, argv, env) != 0) {
    perror("posix_spawn");
    exit(2);
  }
  int st;
  struct rusage ru;
  wait4(pid, &st, 0, &ru);
  *cpu_ms = tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
  posix_spawn_file_actions_destroy(&fa);
  return (double)(now_ns() - t0) / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: spawnbench RUNS PROGRAM [ARGS...]\n");
    return 2;
  }
  int runs = atoi(argv[1]);
  enum { MAXCONF = 6 };
  const char *names[MAXCONF] = {"A", "B", "C", "D", "E", "F"};
  const char *specs[MAXCONF];
  int nconf = 0;
  for (int c = 0; c < MAXCONF; c++) {
    char var[] = "SPAWN_A";
    var[6] = names[c][0];
    specs[c] = getenv(var);
    if (specs[c] && nconf == c) nconf = c + 1;
  }
  if (nconf < 2) nconf = 2;
  char **envs[MAXCONF];
  double *t[MAXCONF], *d[MAXCONF], *u[MAXCONF], *du[MAXCONF];
  for (int c = 0; c < nconf; c++) {
    envs[c] = make_env(specs[c]);
    t[c] = calloc((size_t)runs, sizeof(double));
    d[c] = calloc((size_t)runs, sizeof(double));
    u[c] = calloc((size_t)runs, sizeof(double));
    du[c] = calloc((size_t)runs, sizeof(double));
  }
  double ignored;
  for (int c = 0; c < nconf; c++) run_once(argv + 2, envs[c], &ignored); /* warm-up */
  for (int i = 0; i < runs; i++)
    for (int c = 0; c < nconf; c++) t[c][i] = run_once(argv + 2, envs[c], &u[c][i]);
  /* Also paired against B (the runtime preloaded), for C, D, ...: what a
   * setting adds to the preloaded runtime. */
  double *db = calloc((size_t)runs, sizeof(double)), *dub = calloc((size_t)runs, sizeof(double));
  double vs_b[MAXCONF], cpu_vs_b[MAXCONF];
  for (int c = 2; c < nconf; c++) {
    for (int i = 0; i < runs; i++) {
      db[i] = t[c][i] - t[1][i];
      dub[i] = u[c][i] - u[1][i];
    }
    vs_b[c] = median(db, runs);
    cpu_vs_b[c] = median(dub, runs);
  }
  for (int c = 1; c < nconf; c++)
    for (int i = 0; i < runs; i++) {
      d[c][i] = t[c][i] - t[0][i];
      du[c][i] = u[c][i] - u[0][i];
    }
  for (int c = 0; c < nconf; c++) {
    printf("RESULT config=%s median_ms=%.3f cpu_median_ms=%.3f", names[c], median(t[c], runs),
           median(u[c], runs));
    if (c) printf(" extra_ms=%.3f cpu_extra_ms=%.3f", median(d[c], runs), median(du[c], runs));
    if (c >= 2) printf(" vs_b_ms=%.3f cpu_vs_b_ms=%.3f", vs_b[c], cpu_vs_b[c]);
    printf(" env=\"%s\"\n", specs[c] ? specs[c] : "");
  }
  return 0;
}
