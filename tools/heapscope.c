/* heapscope: command-line launcher for the runtime, and profile analyzer.
 *
 *   heapscope run [--mode M] [--log-path P] [--report F] ... -- PROGRAM ARGS
 *   heapscope profile --prefix P [...] -- PROGRAM ARGS          (heap profile)
 *   heapscope profile --cpu [--frequency N] [-o FILE] -- PROGRAM ARGS
 *   heapscope report [options] PROFILE...     (tools/report/, docs/report.md)
 *
 * It only prepares the environment (HEAPCHECK, HEAPPROFILE, CPUPROFILE, HEAPSCOPE_*, and
 * LD_PRELOAD with libheapscope.so) and execs the program, so the program's
 * exit status is the command's exit status: a leak found at exit gives 1
 * (or --exit-code N). Problems of the command itself (bad option, bad mode,
 * missing, non-executable or non-ELF program, runtime not found) are one
 * "heapscope: ..." line on stderr and exit status 2.
 *
 * The runtime is found relative to this executable, in the build tree
 * (build/bin/heapscope -> build/lib/libheapscope.so) and in an install tree
 * (bin/ -> HEAPSCOPE_CLI_LIBDIR, the install libdir relative to the bindir),
 * unless --library or HEAPSCOPE_LIBRARY names it.
 *
 * This is an ordinary program: stdio and malloc are fine here (it execs
 * before the runtime is ever loaded into it). */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "help_env.h"
#include "report/report.h"

#ifndef HEAPSCOPE_VERSION
#define HEAPSCOPE_VERSION "unknown"
#endif
#ifndef HEAPSCOPE_CLI_LIBDIR
#define HEAPSCOPE_CLI_LIBDIR "../lib"
#endif

enum { EXIT_USAGE = 2 };

static const char *const modes[] = {"minimal", "normal", "strict", "draconian", "as-is", "local"};
static const char *const reports[] = {"text", "json", "github"};
static const char *const formats[] = {"text", "legacy", "proto"};

static bool quiet;

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("heapscope: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_USAGE);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
  if (quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("heapscope: note: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: heapscope run [options] [--] PROGRAM [ARGS...]\n"
          "       heapscope profile --prefix PREFIX [options] [--] PROGRAM [ARGS...]\n"
          "       heapscope profile --cpu [options] [--] PROGRAM [ARGS...]\n"
          "       heapscope report [options] PROFILE...   (heapscope report --help)\n"
          "       heapscope --help | --help-env | --version\n"
          "\n"
          "run and profile run PROGRAM with libheapscope preloaded (LD_PRELOAD) and\n"
          "configured through the environment; the exit status is PROGRAM's (leaks found\n"
          "at exit: 1, or --exit-code). report analyzes heap and CPU profiles. Errors of\n"
          "heapscope itself exit with status 2.\n"
          "\n"
          "run: whole-program leak check at exit (HEAPCHECK)\n"
          "  --mode MODE          minimal, normal (default), strict, draconian, as-is, local\n"
          "  --log-path PATH      write leak reports to PATH.PID, not stderr (HEAPSCOPE_LOG_PATH)\n"
          "  --report FORMAT      text (default), json or github (HEAPSCOPE_REPORT); json and\n"
          "                       github come in addition to the text report on stderr\n"
          "  --report-path PATH   file for the json report, %%p = pid (HEAPSCOPE_REPORT_PATH;\n"
          "                       default: stderr, one line after the text report)\n"
          "  --exit-code N        exit status when leaks are found, 0-255 (HEAPSCOPE_EXIT_CODE)\n"
          "  --suppressions FILE  leak suppressions (HEAPSCOPE_SUPPRESSIONS)\n"
          "  --max-leaks N        leak stacks shown in the text report, 0 = all\n"
          "                       (HEAP_CHECK_MAX_LEAKS)\n"
          "\n"
          "profile: gperftools-format heap profiles PREFIX.NNNN.heap (HEAPPROFILE) and/or\n"
          "a CPU profile of every thread (CPUPROFILE)\n"
          "  --prefix PREFIX      heap profile file prefix (required without --cpu)\n"
          "  --interval BYTES     dump every BYTES allocated (HEAP_PROFILE_ALLOCATION_INTERVAL)\n"
          "  --inuse-interval BYTES  dump when in-use memory grows by BYTES\n"
          "                       (HEAP_PROFILE_INUSE_INTERVAL)\n"
          "  --time-interval SECONDS  dump every SECONDS (HEAP_PROFILE_TIME_INTERVAL)\n"
          "  --cpu                a CPU profile, gperftools' legacy format (go tool pprof and\n"
          "                       google-pprof read it); forked children write FILE_PID\n"
          "  -o, --output FILE    the CPU profile (CPUPROFILE; default PROGRAM.prof here)\n"
          "  --frequency N        CPU samples per second of each thread's CPU time, 1-4000\n"
          "                       (CPUPROFILE_FREQUENCY; default 100)\n"
          "  --realtime           sample wall-clock time instead (CPUPROFILE_REALTIME)\n"
          "  --format FORMAT      text (default: gperftools' formats) or proto (self-symbolized\n"
          "                       gzipped profile.proto; HEAPSCOPE_PROFILE_FORMAT)\n"
          "\n"
          "common options:\n"
          "  --library PATH       runtime to preload (default: $HEAPSCOPE_LIBRARY, else\n"
          "                       libheapscope.so found relative to this program)\n"
          "  --no-preload         do not set LD_PRELOAD (PROGRAM links libheapscope itself)\n"
          "  -q, --quiet          no notes on stderr\n"
          "  -h, --help           this help\n"
          "  --help-env           every environment variable the runtime reads\n"
          "  --version            print the version\n"
          "\n"
          "Scripts (#!) are accepted: LD_PRELOAD then applies to the interpreter and to\n"
          "every program it starts, each checked at its own exit.\n");
}

static bool in_list(const char *s, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(s, list[i])) return true;
  return false;
}

static long parse_long(const char *opt, const char *v, long min, long max) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < min || n > max)
    die("%s: invalid value '%s' (expected an integer from %ld to %ld)", opt, v, min, max);
  return n;
}

static void set_env(const char *name, const char *value) {
  if (setenv(name, value, 1) != 0) die("cannot set %s: %s", name, strerror(errno));
}

/* ---- locating the runtime ------------------------------------------------- */

static bool is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *find_runtime(void) {
  const char *env = getenv("HEAPSCOPE_LIBRARY");
  if (env && *env) {
    if (!is_file(env)) die("HEAPSCOPE_LIBRARY=%s: no such file", env);
    return realpath(env, NULL);
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) die("cannot find my own location (/proc/self/exe): %s", strerror(errno));
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash) *slash = '\0';
  const char *rel[] = {"../lib", HEAPSCOPE_CLI_LIBDIR};
  const char *names[] = {"libheapscope.so", "libheapscope.so.0"};
  char cand[PATH_MAX + 64];
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
      snprintf(cand, sizeof cand, "%s/%s/%s", self, rel[i], names[k]);
      if (is_file(cand)) return realpath(cand, NULL);
    }
  die("cannot find libheapscope.so (looked in %s/../lib and %s/%s); use --library PATH or "
      "set HEAPSCOPE_LIBRARY",
      self, self, HEAPSCOPE_CLI_LIBDIR);
}

/* ---- checking the program --------------------------------------------------- */

/* PATH lookup like execvp, so the file we inspect is the file we exec. */
static char *resolve_program(const char *prog) {
  if (strchr(prog, '/')) return strdup(prog);
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  size_t plen = strlen(prog);
  char *found = NULL;
  for (const char *p = path;; ) {
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char *cand = malloc(len + plen + 3);
    if (!cand) die("out of memory");
    snprintf(cand, len + plen + 3, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", prog);
    if (access(cand, X_OK) == 0 && is_file(cand)) return cand;
    if (!found && access(cand, F_OK) == 0) found = cand; /* for the error message */
    else free(cand);
    if (!end) break;
    p = end + 1;
  }
  if (found) return found;
  die("%s: command not found in PATH", prog);
}

static void read_own_ehdr(Elf64_Ehdr *me) {
  memset(me, 0, sizeof *me);
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, me, sizeof *me) != (ssize_t)sizeof *me) memset(me, 0, sizeof *me);
    close(fd);
  }
}

/* Dies unless path is an executable ELF program for this machine or a #!
 * script; notes what LD_PRELOAD will and will not reach. */
static void check_program(const char *shown, const char *path, bool preload) {
  struct stat st;
  if (stat(path, &st) != 0) die("%s: %s", shown, strerror(errno));
  if (S_ISDIR(st.st_mode)) die("%s: is a directory, not a program", shown);
  if (!S_ISREG(st.st_mode)) die("%s: not a regular file", shown);
  if (access(path, X_OK) != 0) die("%s: not executable (%s)", shown, strerror(errno));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("%s: cannot read: %s", shown, strerror(errno));
  unsigned char head[256];
  ssize_t n = read(fd, head, sizeof head - 1);
  if (n < 0) die("%s: cannot read: %s", shown, strerror(errno));
  head[n] = '\0';
  if (n >= 2 && head[0] == '#' && head[1] == '!') {
    close(fd);
    char interp[200];
    size_t i = 2, k = 0;
    while (i < (size_t)n && (head[i] == ' ' || head[i] == '\t')) i++;
    while (i < (size_t)n && head[i] != '\n' && head[i] != ' ' && head[i] != '\t' &&
           k + 1 < sizeof interp)
      interp[k++] = (char)head[i++];
    interp[k] = '\0';
    if (preload)
      note("%s is a script: the runtime is preloaded into its interpreter (%s) and into "
           "every program it starts, each checked at its own exit",
           shown, k ? interp : "?");
    return;
  }
  if (n < (ssize_t)EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) != 0) {
    close(fd);
    die("%s: not an ELF executable or a #! script", shown);
  }
  Elf64_Ehdr me;
  read_own_ehdr(&me);
  if (me.e_ident[EI_CLASS] && head[EI_CLASS] != me.e_ident[EI_CLASS]) {
    close(fd);
    die("%s: is a %s-bit ELF file; libheapscope is %s-bit", shown,
        head[EI_CLASS] == ELFCLASS32 ? "32" : "64", me.e_ident[EI_CLASS] == ELFCLASS32 ? "32" : "64");
  }
  if (n < (ssize_t)sizeof(Elf64_Ehdr) || head[EI_CLASS] != ELFCLASS64) {
    close(fd);
    return; /* nothing more we know how to check */
  }
  Elf64_Ehdr eh;
  memcpy(&eh, head, sizeof eh);
  if (me.e_machine && eh.e_machine != me.e_machine) {
    close(fd);
    die("%s: ELF file for another machine (e_machine %u, expected %u)", shown,
        (unsigned)eh.e_machine, (unsigned)me.e_machine);
  }
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
    close(fd);
    die("%s: ELF file is not an executable", shown);
  }
  /* A program without PT_INTERP is static: the dynamic loader, and so
   * LD_PRELOAD, never runs. */
  bool dynamic = false;
  for (unsigned i = 0; i < eh.e_phnum && eh.e_phentsize == sizeof(Elf64_Phdr); i++) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) != (ssize_t)sizeof ph)
      break;
    if (ph.p_type == PT_INTERP) dynamic = true;
  }
  close(fd);
  if (!dynamic && preload)
    note("%s is statically linked: LD_PRELOAD cannot load the runtime, so only a program "
         "linked with heapscope's static library is checked",
         shown);
}

/* ---- main --------------------------------------------------------------------- */

typedef struct opts {
  const char *mode, *log_path, *report, *report_path, *exit_code, *suppressions, *max_leaks;
  const char *prefix, *interval, *inuse_interval, *time_interval;
  const char *output, *frequency, *format;
  const char *library;
  bool no_preload, cpu, realtime;
} opts_t;

static bool opt_value(const char *name, int argc, char **argv, int *i, const char **out) {
  return rp_opt_value("", name, argc, argv, i, out);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--help-env")) {
    heapscope_help_env(stdout, argc > 2 && !strcmp(argv[2], "--names"));
    return 0;
  }
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("heapscope %s\n", HEAPSCOPE_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "report")) {
    rp_tune_allocator(argv);
    return rp_main(argc - 1, argv + 1);
  }
  bool run = !strcmp(cmd, "run"), profile = !strcmp(cmd, "profile");
  if (!run && !profile)
    die("unknown command '%s' (expected run, profile or report; see heapscope --help)", cmd);

  opts_t o = {0};
  int i = 2;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] == '\0') break; /* the program */
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = true;
    else if (!strcmp(a, "--no-preload")) o.no_preload = true;
    else if (opt_value("--library", argc, argv, &i, &o.library)) {}
    else if (run && opt_value("--mode", argc, argv, &i, &o.mode)) {}
    else if (run && opt_value("--log-path", argc, argv, &i, &o.log_path)) {}
    else if (run && opt_value("--report-path", argc, argv, &i, &o.report_path)) {}
    else if (run && opt_value("--report", argc, argv, &i, &o.report)) {}
    else if (run && opt_value("--exit-code", argc, argv, &i, &o.exit_code)) {}
    else if (run && opt_value("--suppressions", argc, argv, &i, &o.suppressions)) {}
    else if (run && opt_value("--max-leaks", argc, argv, &i, &o.max_leaks)) {}
    else if (profile && opt_value("--prefix", argc, argv, &i, &o.prefix)) {}
    else if (profile && opt_value("--interval", argc, argv, &i, &o.interval)) {}
    else if (profile && opt_value("--inuse-interval", argc, argv, &i, &o.inuse_interval)) {}
    else if (profile && opt_value("--time-interval", argc, argv, &i, &o.time_interval)) {}
    else if (profile && !strcmp(a, "--cpu")) o.cpu = true;
    else if (profile && !strcmp(a, "--realtime")) o.realtime = true;
    else if (profile && opt_value("--output", argc, argv, &i, &o.output)) {}
    else if (profile && opt_value("-o", argc, argv, &i, &o.output)) {}
    else if (profile && opt_value("--frequency", argc, argv, &i, &o.frequency)) {}
    else if (profile && opt_value("--format", argc, argv, &i, &o.format)) {}
    else die("%s: unknown option '%s' (see heapscope --help)", cmd, a);
  }

  /* Validate everything before touching the environment. */
  const char *mode = o.mode ? o.mode : "normal";
  if (run && !in_list(mode, modes, sizeof modes / sizeof modes[0]))
    die("invalid mode '%s' (valid modes: minimal, normal, strict, draconian, as-is, local)", mode);
  if (o.report && !in_list(o.report, reports, sizeof reports / sizeof reports[0]))
    die("invalid report format '%s' (valid: text, json, github)", o.report);
  if (o.exit_code) parse_long("--exit-code", o.exit_code, 0, 255);
  if (o.max_leaks) parse_long("--max-leaks", o.max_leaks, 0, 1000000000);
  if (o.interval) parse_long("--interval", o.interval, 1, LONG_MAX);
  if (o.inuse_interval) parse_long("--inuse-interval", o.inuse_interval, 1, LONG_MAX);
  if (o.time_interval) parse_long("--time-interval", o.time_interval, 1, LONG_MAX);
  if (profile && !o.cpu && (!o.prefix || !*o.prefix))
    die("profile: --prefix PREFIX (a heap profile) or --cpu (a CPU profile) is required");
  if (profile && !o.cpu && (o.output || o.frequency || o.realtime))
    die("profile: --output, --frequency and --realtime need --cpu");
  if (o.frequency) parse_long("--frequency", o.frequency, 1, 4000);
  if (o.format && !in_list(o.format, formats, sizeof formats / sizeof formats[0]))
    die("invalid profile format '%s' (valid: text, proto)", o.format);
  if (o.output && !*o.output) die("--output: empty file name");
  if (o.suppressions && !is_file(o.suppressions))
    die("--suppressions %s: no such file", o.suppressions);
  if (o.library && !is_file(o.library)) die("--library %s: no such file", o.library);
  if (i >= argc) die("%s: no program given (usage: heapscope %s [options] -- PROGRAM [ARGS...])", cmd, cmd);

  const char *prog = argv[i];
  char *path = resolve_program(prog);
  check_program(prog, path, !o.no_preload);

  if (!o.no_preload) {
    char *lib = o.library ? realpath(o.library, NULL) : find_runtime();
    if (!lib) die("cannot resolve the runtime's path: %s", strerror(errno));
    const char *old = getenv("LD_PRELOAD");
    if (old && *old) {
      size_t len = strlen(lib) + strlen(old) + 2;
      char *both = malloc(len);
      if (!both) die("out of memory");
      snprintf(both, len, "%s:%s", lib, old); /* ours first: it must own malloc */
      set_env("LD_PRELOAD", both);
    } else {
      set_env("LD_PRELOAD", lib);
    }
  }
  if (run) {
    set_env("HEAPCHECK", mode);
    if (o.log_path) set_env("HEAPSCOPE_LOG_PATH", o.log_path);
    if (o.report) set_env("HEAPSCOPE_REPORT", o.report);
    if (o.report_path) set_env("HEAPSCOPE_REPORT_PATH", o.report_path);
    if (o.exit_code) set_env("HEAPSCOPE_EXIT_CODE", o.exit_code);
    if (o.suppressions) set_env("HEAPSCOPE_SUPPRESSIONS", o.suppressions);
    if (o.max_leaks) set_env("HEAP_CHECK_MAX_LEAKS", o.max_leaks);
  } else {
    if (o.prefix) {
      set_env("HEAPPROFILE", o.prefix);
      if (o.interval) set_env("HEAP_PROFILE_ALLOCATION_INTERVAL", o.interval);
      if (o.inuse_interval) set_env("HEAP_PROFILE_INUSE_INTERVAL", o.inuse_interval);
      if (o.time_interval) set_env("HEAP_PROFILE_TIME_INTERVAL", o.time_interval);
    }
    if (o.cpu) {
      char *out = NULL;
      if (o.output) {
        out = strdup(o.output);
      } else {
        const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
        size_t n = strlen(base) + 6;
        out = malloc(n);
        if (out) snprintf(out, n, "%s.prof", base);
      }
      if (!out) die("out of memory");
      set_env("CPUPROFILE", out);
      /* The program's own settings would be surprising here. */
      unsetenv("CPUPROFILESIGNAL");
      unsetenv("CPUPROFILE_USE_PID");
      if (o.frequency) set_env("CPUPROFILE_FREQUENCY", o.frequency);
      if (o.realtime) set_env("CPUPROFILE_REALTIME", "1");
      else unsetenv("CPUPROFILE_REALTIME");
      note("CPU profile: %s", out);
    }
    if (o.format) set_env("HEAPSCOPE_PROFILE_FORMAT", o.format);
  }
  fflush(NULL);
  execv(path, argv + i);
  die("%s: cannot execute: %s", prog, strerror(errno));
}
