/* heapscope report: the command (option parsing and the pipeline of
 * report.h). Bad input of any kind ends here as one "heapscope: ..." line
 * on stderr and exit status 2: an unknown option, an unreadable, empty,
 * truncated, foreign or corrupt profile (naming the file and what is
 * wrong), an unwritable output. */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_BAD = 2 };

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fflush(stdout);
  fputs("heapscope: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(EXIT_BAD);
}

/* glibc's allocator, tuned for one big batch job: large blocks from the
 * heap rather than fresh mmaps (realloc growth and free/malloc cycles reuse
 * pages instead of faulting new ones in) and transparent huge pages. On
 * the VMs we measure on a page fault costs ~10 us, and the 100,000-stack
 * flame graph went from 1.37 s to 0.84 s of CPU (35,000 faults to 900).
 * Tunables are read at process start only, so the command re-executes
 * itself once with them added to GLIBC_TUNABLES; a GLIBC_TUNABLES that
 * already sets hugetlb (ours, or the user's) is left alone, and any
 * failure just runs untuned. */
void rp_tune_allocator(char **argv) {
  static const char ours[] = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=268435456:"
                             "glibc.malloc.trim_threshold=268435456";
  const char *old = getenv("GLIBC_TUNABLES");
  if (old && strstr(old, "glibc.malloc.hugetlb")) return;
  if (getenv("HEAPSCOPE_REPORT_NO_TUNE")) return;
  size_t n = (old ? strlen(old) + 1 : 0) + sizeof ours;
  char *v = malloc(n);
  if (!v) return;
  snprintf(v, n, "%s%s%s", old ? old : "", old ? ":" : "", ours);
  if (setenv("GLIBC_TUNABLES", v, 1) == 0) {
    fflush(NULL);
    execv("/proc/self/exe", argv);
  }
  /* still here: run as we are, with the environment as it was */
  if (old) setenv("GLIBC_TUNABLES", old, 1);
  else unsetenv("GLIBC_TUNABLES");
  free(v);
}

static void usage(FILE *f) {
  fputs("usage: heapscope report [options] PROFILE... [BINARY...]\n"
        "       heapscope report --tests STATS...\n"
        "       heapscope report --html OUT.html STATS|LEAKS.json|PROFILE...\n"
        "\n"
        "Analyzes heap profiles (heapscope's and gperftools' legacy text dumps, leak\n"
        "profiles), legacy binary CPU profiles (gperftools' CPUPROFILE format, with\n"
        "PROFILE.tests per-test samples when present) and profile.proto (gzipped or\n"
        "not). Several PROFILEs are added together. Frames are named from the\n"
        "profile's own symbols, else from the binaries its mappings name (an ELF\n"
        "BINARY argument replaces the mapping of the same name, the first one also\n"
        "the main program's) and their separate debug files.\n"
        "\n"
        "output (one):\n"
        "  --top, --text         flat, flat%, sum%, cum, cum%, name, by flat (default)\n"
        "  --traces              every distinct stack with its value\n"
        "  --folded, --collapsed one stack a line, root;...;leaf VALUE (flame graph input)\n"
        "  --svg                 interactive flame graph, one self-contained SVG file\n"
        "  --callgrind           callgrind format (kcachegrind, qcachegrind)\n"
        "  --proto               gzipped, self-symbolized profile.proto (needs -o or a pipe)\n"
        "  --list=REGEX          annotated source of the functions matching REGEX\n"
        "  --tests               alone: each test's share of the profile; with --top or\n"
        "                        --traces: one section per test; with --folded or --svg:\n"
        "                        the test as the root frame. Over HEAPSCOPE_TEST_STATS\n"
        "                        files: the slowest and the hungriest tests of them all\n"
        "  --html=OUT.html       one self-contained page: the tests of statistics files,\n"
        "                        the leaks of JSON leak reports, a flame graph per test\n"
        "                        of each profile\n"
        "options:\n"
        "  --cum                 sort --top by cumulative value\n"
        "  --nodecount=N         --top shows N rows (default 80; 0 = all)\n"
        "  --functions, --lines, --files, --addresses   granularity (default functions)\n"
        "  --sample=TYPE         inuse_space (heap default), inuse_objects, alloc_space,\n"
        "                        alloc_objects; cpu (CPU default) or samples; for proto,\n"
        "                        any of its sample types. Also --inuse_space, ...\n"
        "  --focus=REGEX         only stacks with a frame matching REGEX (function or file)\n"
        "  --ignore=REGEX        drop stacks with a frame matching REGEX\n"
        "  --base=FILE           subtract FILE, matched by function, file and line (not by\n"
        "                        address, so runs with different layouts diff correctly)\n"
        "  --test=NAME           only the samples of test NAME (or GROUP/NAME)\n"
        "  --unit=raw            exact integers instead of B/kB/MB and ns/ms/s\n"
        "  --title=TEXT          title of the --svg flame graph\n"
        "  --symbolize=none      do not read binaries (profile's own symbols only)\n"
        "  -o, --output=FILE     write to FILE instead of standard output\n"
        "  -q, --quiet           no warnings\n"
        "  -h, --help            this help\n"
        "\n"
        "Exit status 0, or 2 with one \"heapscope: ...\" line on bad options or input.\n"
        "See docs/report.md.\n",
        f);
}

/* A regular file starting with the ELF magic (never reads from a pipe:
 * that would eat a profile given as /dev/stdin). */
static bool is_elf(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  unsigned char m[4];
  bool elf = read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
  close(fd);
  return elf;
}

static bool opt_value(const char *name, int argc, char **argv, int *i, const char **out) {
  return rp_opt_value("report: ", name, argc, argv, i, out);
}

static void set_output(rp_opts_t *o, rp_output_t out, const char *name) {
  static const char *set_by;
  if (o->output_set && o->output != out)
    die("report: %s and %s are both outputs; choose one", set_by, name);
  o->output = out;
  o->output_set = true;
  set_by = name;
}

static void load(const char *path, rp_symbolizer_t *sym, rp_view_t *v, bool base) {
  rp_profile_t p;
  rp_profile_init(&p, path);
  rp_err_t err = {0};
  if (!rp_load_profile(path, &p, &err)) die("%s: %s", path, err.msg);
  rp_symbolize(sym, &p);
  if (!rp_view_add(v, &p, base, &err)) die("%s: %s", path, err.msg);
  rp_profile_free(&p);
}

/* A regular file whose first bytes are a JSON object: the runtime's test
 * statistics or leak report, not a profile (pipes are taken as profiles:
 * peeking would eat them). */
static bool json_input(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  rp_stream_t *s;
  rp_err_t err = {0};
  if (!rp_stream_file(path, &s, &err)) return false;
  const unsigned char *d;
  size_t n;
  bool json = rp_stream_peek(s, 64, &d, &n) && rp_is_json_doc(d, n);
  rp_stream_close(s);
  return json;
}

static FILE *open_output(const rp_opts_t *o) {
  if (!o->out_path) return stdout;
  FILE *f = fopen(o->out_path, "w");
  if (!f) die("%s: cannot write: %s", o->out_path, strerror(errno));
  return f;
}

static void close_output(FILE *f, const rp_opts_t *o, bool ok) {
  int e = errno;
  if (fflush(f) != 0 || ferror(f)) {
    ok = false;
    e = errno;
  }
  if (f != stdout && fclose(f) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok)
    die("%s: write error: %s", o->out_path ? o->out_path : "standard output", strerror(e ? e : EIO));
}

static void load_suite(const char *path, rp_suite_t *suite) {
  rp_err_t err = {0};
  if (!rp_read_suite(path, suite, &err)) die("%s: %s", path, err.msg);
}

static int tests_main(rp_opts_t *o, const char **inputs, size_t ninputs) {
  rp_suite_t suite;
  rp_suite_init(&suite);
  for (size_t i = 0; i < ninputs; i++) load_suite(inputs[i], &suite);
  FILE *f = open_output(o);
  bool ok = rp_write_test_table(f, &suite, o);
  close_output(f, o, ok);
  rp_suite_free(&suite);
  return 0;
}

/* --html: statistics and leak reports into one suite; each profile into a
 * view of its own (a CPU and a heap profile do not add up). */
static int html_main(rp_opts_t *o, const rp_view_opts_t *vo, const rp_symopts_t *so,
                     const char **inputs, size_t ninputs, const bool *is_json) {
  rp_suite_t suite;
  rp_suite_init(&suite);
  rp_view_t **views = rp_alloc(ninputs * sizeof *views);
  size_t nviews = 0;
  rp_symbolizer_t *sym = NULL;
  for (size_t i = 0; i < ninputs; i++) {
    if (is_json[i]) {
      load_suite(inputs[i], &suite);
      continue;
    }
    if (!sym) sym = rp_symbolizer_new(so);
    rp_view_t *v = rp_alloc(sizeof *v);
    rp_view_init(v, vo);
    rp_err_t err = {0};
    if (!rp_view_set_filters(v, &err)) die("report: %s", err.msg);
    load(inputs[i], sym, v, false);
    views[nviews++] = v;
  }
  if (sym) rp_symbolizer_free(sym);
  o->inputs = inputs;
  o->ninputs = ninputs;
  FILE *f = open_output(o);
  bool ok = rp_write_html(f, &suite, views, nviews, o);
  close_output(f, o, ok);
  for (size_t i = 0; i < nviews; i++) {
    rp_view_free(views[i]);
    free(views[i]);
  }
  free(views);
  rp_suite_free(&suite);
  return 0;
}

static bool run_output(FILE *f, rp_view_t *v, rp_opts_t *o, rp_err_t *err) {
  switch (o->output) {
  case RP_OUT_TOP: return rp_write_top(f, v, o);
  case RP_OUT_TRACES: return rp_write_traces(f, v, o);
  case RP_OUT_FOLDED: return rp_write_folded(f, v, o);
  case RP_OUT_SVG: return rp_write_svg(f, v, o);
  case RP_OUT_CALLGRIND: return rp_write_callgrind(f, v, o);
  case RP_OUT_PROTO: return rp_write_proto(f, v, o, err);
  case RP_OUT_LIST: return rp_write_list(f, v, o, err);
  case RP_OUT_TESTS: return rp_write_tests(f, v, o);
  case RP_OUT_HTML: break; /* html_main */
  }
  return false;
}

int rp_main(int argc, char **argv) {
  rp_opts_t o;
  memset(&o, 0, sizeof o);
  o.nodecount = 80;
  rp_view_opts_t vo;
  memset(&vo, 0, sizeof vo);
  rp_symopts_t so;
  memset(&so, 0, sizeof so);
  const char **inputs = rp_alloc((size_t)argc * sizeof *inputs);
  const char **binaries = rp_alloc((size_t)argc * sizeof *binaries);
  size_t ninputs = 0, nbinaries = 0;
  bool opts_done = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val;
    if (opts_done || a[0] != '-' || !a[1]) {
      if (is_elf(a)) binaries[nbinaries++] = a;
      else inputs[ninputs++] = a;
      continue;
    }
    if (!strcmp(a, "--")) opts_done = true;
    else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) rp_quiet = true;
    else if (!strcmp(a, "--top") || !strcmp(a, "--text")) set_output(&o, RP_OUT_TOP, a);
    else if (!strcmp(a, "--traces")) set_output(&o, RP_OUT_TRACES, a);
    else if (!strcmp(a, "--folded") || !strcmp(a, "--collapsed")) set_output(&o, RP_OUT_FOLDED, a);
    else if (!strcmp(a, "--svg")) set_output(&o, RP_OUT_SVG, a);
    else if (!strcmp(a, "--callgrind")) set_output(&o, RP_OUT_CALLGRIND, a);
    else if (!strcmp(a, "--proto")) set_output(&o, RP_OUT_PROTO, a);
    else if (opt_value("--list", argc, argv, &i, &val)) {
      set_output(&o, RP_OUT_LIST, "--list");
      o.list_re = val;
    } else if (opt_value("--html", argc, argv, &i, &val)) {
      if (!*val) die("report: --html needs the output file");
      set_output(&o, RP_OUT_HTML, "--html");
      o.out_path = val;
    } else if (!strcmp(a, "--tests")) o.tests = true;
    else if (!strcmp(a, "--cum")) o.cum = true;
    else if (!strcmp(a, "--functions")) o.gran = RP_FUNCTIONS;
    else if (!strcmp(a, "--lines")) o.gran = RP_LINES;
    else if (!strcmp(a, "--files")) o.gran = RP_FILES;
    else if (!strcmp(a, "--addresses")) o.gran = RP_ADDRESSES;
    else if (!strcmp(a, "--inuse_space") || !strcmp(a, "--inuse_objects") ||
             !strcmp(a, "--alloc_space") || !strcmp(a, "--alloc_objects"))
      vo.sample = a + 2;
    else if (opt_value("--sample", argc, argv, &i, &val) ||
             opt_value("--sample_index", argc, argv, &i, &val)) {
      if (!*val) die("report: --sample needs a sample type");
      vo.sample = val;
    } else if (opt_value("--nodecount", argc, argv, &i, &val)) {
      char *end;
      errno = 0;
      long n = strtol(val, &end, 10);
      if (errno || end == val || *end || n < 0) die("report: --nodecount=%s: expected a number >= 0", val);
      o.nodecount = n;
      o.nodecount_set = true;
    } else if (opt_value("--focus", argc, argv, &i, &val)) vo.focus = val;
    else if (opt_value("--ignore", argc, argv, &i, &val)) vo.ignore = val;
    else if (opt_value("--base", argc, argv, &i, &val)) {
      if (o.base_path) die("report: --base given twice");
      o.base_path = val;
    } else if (opt_value("--test", argc, argv, &i, &val)) {
      if (!*val) die("report: --test needs a test name");
      vo.test = val;
    } else if (opt_value("--unit", argc, argv, &i, &val)) {
      if (!strcmp(val, "raw")) o.raw_units = true;
      else if (!strcmp(val, "auto")) o.raw_units = false;
      else die("report: --unit=%s: expected raw or auto", val);
    } else if (opt_value("--title", argc, argv, &i, &val)) o.title = val;
    else if (opt_value("--symbolize", argc, argv, &i, &val)) {
      if (!strcmp(val, "none")) so.no_symbolize = true;
      else if (!strcmp(val, "local")) so.no_symbolize = false;
      else die("report: --symbolize=%s: expected none or local", val);
    } else if (!strcmp(a, "-o")) {
      if (i + 1 >= argc) die("report: -o needs a file name");
      o.out_path = argv[++i];
    } else if (opt_value("--output", argc, argv, &i, &val)) o.out_path = val;
    else die("report: unknown option '%s' (see heapscope report --help)", a);
  }
  if (!ninputs) {
    if (nbinaries) die("report: %s is a program, not a profile; give a profile too", binaries[0]);
    die("report: no profile given (usage: heapscope report [options] PROFILE...; see --help)");
  }
  /* The runtime's JSON documents about tests go to --tests or --html. */
  bool *is_json = rp_alloc((ninputs ? ninputs : 1) * sizeof *is_json);
  size_t njson = 0;
  for (size_t i = 0; i < ninputs; i++) njson += is_json[i] = json_input(inputs[i]);
  if (o.output == RP_OUT_HTML && o.output_set) {
    if (o.tests) die("report: --html shows every test already; drop --tests");
    return html_main(&o, &vo, &so, inputs, ninputs, is_json);
  }
  if (njson) {
    size_t first = 0;
    while (!is_json[first]) first++;
    if (!o.tests || o.output_set)
      die("report: %s holds test statistics or a leak report (JSON): use --tests or --html",
          inputs[first]);
    if (njson != ninputs) {
      size_t prof = 0;
      while (is_json[prof]) prof++;
      die("report: --tests takes either statistics files or profiles, not both (%s is a profile, "
          "%s JSON)", inputs[prof], inputs[first]);
    }
    return tests_main(&o, inputs, ninputs);
  }
  free(is_json);
  if (!o.output_set) o.output = o.tests ? RP_OUT_TESTS : RP_OUT_TOP;
  if (o.tests && (o.output == RP_OUT_CALLGRIND || o.output == RP_OUT_PROTO ||
                  o.output == RP_OUT_LIST))
    die("report: --tests combines with --top, --traces, --folded and --svg only (the proto "
        "output keeps the test labels anyway)");
  if (o.tests && vo.test) die("report: --tests and --test=%s exclude each other", vo.test);
  if (o.base_path && o.gran == RP_ADDRESSES)
    die("report: --base matches frames by symbol, not address; --addresses cannot show a diff");
  if (o.output == RP_OUT_PROTO && !o.out_path && isatty(STDOUT_FILENO))
    die("report: --proto writes binary data; give -o FILE or redirect standard output");
  vo.base = o.base_path != NULL;
  o.inputs = inputs;
  o.ninputs = ninputs;
  so.binaries = binaries;
  so.nbinaries = nbinaries;

  rp_view_t v;
  rp_view_init(&v, &vo);
  rp_err_t err = {0};
  if (!rp_view_set_filters(&v, &err)) die("report: %s", err.msg);
  rp_symbolizer_t *sym = rp_symbolizer_new(&so);
  for (size_t i = 0; i < ninputs; i++) load(inputs[i], sym, &v, false);
  if (o.base_path) load(o.base_path, sym, &v, true);
  rp_symbolizer_free(sym);
  if (vo.test && v.stacks.n == 0 && v.seen_tests.n > 0) {
    /* It ran, but left nothing in the profile: say so, not an empty profile. */
    rp_test_t *un;
    size_t n = rp_tests_unsampled(&v, &un);
    char why[128], label[1024];
    rp_unsampled_reason(&v, why, sizeof why);
    rp_write_header(stdout, &v, &o);
    for (size_t i = 0; i < n; i++) {
      rp_test_label(&v, un[i].test, un[i].group, label, sizeof label);
      printf("Test %s: no sample: %s\n", label, why);
    }
    free(un);
    rp_view_free(&v);
    free(inputs);
    free(binaries);
    return 0;
  }
  if (vo.test && v.stacks.n == 0)
    die("report: --test=%s: no sample belongs to this test (heapscope report --tests lists "
        "them)", vo.test);

  FILE *f = stdout;
  if (o.out_path) {
    f = fopen(o.out_path, "w");
    if (!f) die("%s: cannot write: %s", o.out_path, strerror(errno));
  }
  bool ok;
  if (o.tests && (o.output == RP_OUT_TOP || o.output == RP_OUT_TRACES)) {
    rp_test_t *t;
    size_t n = rp_tests_collect(&v, &t);
    ok = true;
    for (size_t i = 0; i < n && ok; i++) {
      v.only = true;
      v.only_test = t[i].test;
      v.only_group = t[i].group;
      if (i) fputc('\n', f);
      ok = run_output(f, &v, &o, &err);
    }
    v.only = false;
    free(t);
  } else {
    ok = run_output(f, &v, &o, &err);
  }
  if (err.set) die("%s", err.msg);
  close_output(f, &o, ok);
  rp_view_free(&v);
  free(inputs);
  free(binaries);
  return 0;
}
