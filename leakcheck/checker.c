/* HEAPCHECK: configuration, modes and the exit-time whole-program check.
 *
 * Modes keep gperftools' names. minimal/normal/strict/as-is check
 * reachability; draconian reports every live object not ignored; local
 * only enables the explicit API. gperftools forced its check after global
 * destructors in every mode (so strict never differed from normal in its
 * code); ours always runs after them too, from a destructor of priority
 * 101, which runs after the program's own destructors and atexit handlers.
 * A clean exit costs nothing extra: no sleep, no symbolization. */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

lc_config_t lc_config = {
    .mode = HEAPSCOPE_MODE_OFF,
    .exit_code = 1,
    .max_leaks = 20,
    .ignore_thread_live = true,
    .ignore_global_live = true,
};
extern uint32_t lc_whole_program_gen;
bool lc_sanitizer_option(const char *opts, const char *key, char *out, size_t size);
static pid_t main_pid;

static const struct {
  const char *name;
  heapscope_mode_t mode;
} modes[] = {
    {"minimal", HEAPSCOPE_MODE_MINIMAL},   {"normal", HEAPSCOPE_MODE_NORMAL},
    {"strict", HEAPSCOPE_MODE_STRICT},     {"draconian", HEAPSCOPE_MODE_DRACONIAN},
    {"as-is", HEAPSCOPE_MODE_AS_IS},       {"local", HEAPSCOPE_MODE_LOCAL},
};

HS_EXPORT int heapscope_parse_mode(const char *name, heapscope_mode_t *out) {
  if (!name) return -EINVAL;
  /* gperftools' README said HEAPCHECK=1 means normal; people type it. */
  if (!strcmp(name, "1") || !strcmp(name, "true")) {
    if (out) *out = HEAPSCOPE_MODE_NORMAL;
    return 0;
  }
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (!strcmp(name, modes[i].name)) {
      if (out) *out = modes[i].mode;
      return 0;
    }
  return -EINVAL;
}

HS_EXPORT const char *heapscope_mode_name(heapscope_mode_t mode) {
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (modes[i].mode == mode) return modes[i].name;
  return "off";
}

static void read_report_config(void) {
  lc_config.exit_code = (int)hs__setting_int(HS_SET_HEAPSCOPE_EXIT_CODE);
  lc_config.max_leaks = (long)hs__setting_int(HS_SET_HEAP_CHECK_MAX_LEAKS);
  if (lc_config.mode == HEAPSCOPE_MODE_AS_IS) {
    lc_config.ignore_thread_live = hs__setting_bool(HS_SET_HEAP_CHECK_IGNORE_THREAD_LIVE);
    lc_config.ignore_global_live = hs__setting_bool(HS_SET_HEAP_CHECK_IGNORE_GLOBAL_LIVE);
  }
  const char *log = hs__setting_str(HS_SET_HEAPSCOPE_LOG_PATH);
  char lsan_log[1024];
  if (log && *log) {
    hs__snprintf(lc_config.log_path, sizeof lc_config.log_path, "%s", log);
  } else if (lc_sanitizer_option(hs__setting_str(HS_SET_LSAN_OPTIONS), "log_path", lsan_log, sizeof lsan_log) ||
             lc_sanitizer_option(hs__setting_str(HS_SET_ASAN_OPTIONS), "log_path", lsan_log, sizeof lsan_log)) {
    if (strcmp(lsan_log, "stderr") != 0) {
      hs__snprintf(lc_config.log_path, sizeof lc_config.log_path, "%s", lsan_log);
      lc_config.log_from_lsan = true;
    }
  }
  const char *prof = hs__setting_str(HS_SET_HEAPSCOPE_LEAK_PROFILE);
  if (prof && *prof) hs__snprintf(lc_config.leak_profile, sizeof lc_config.leak_profile, "%s", prof);
  const char *fmt = hs__setting_str(HS_SET_HEAPSCOPE_REPORT);
  if (fmt && *fmt) {
    if (!strcmp(fmt, "text")) lc_config.report_format = LC_REPORT_TEXT;
    else if (!strcmp(fmt, "json")) lc_config.report_format = LC_REPORT_JSON;
    else if (!strcmp(fmt, "github")) lc_config.report_format = LC_REPORT_GITHUB;
    else hs__errorf("invalid HEAPSCOPE_REPORT='%s' (expected text, json or github); using text", fmt);
  }
}

/* HEAPSCOPE_REPORT adds a CI format to the text report, never replaces it
 * (see report_ci.c): github puts "::error" annotations on stderr ahead of
 * the text (none under CTest's LSan memcheck, where they would be counted
 * as defects); json writes one JSON line to HEAPSCOPE_REPORT_PATH ("%p" =
 * pid; truncated by a process's first report, appended to by later ones),
 * or to stderr after the text when no path is set.
 *
 * These are the outputs besides the text report (plus the leak profile);
 * the CMocka adapter calls this too, after handing the text to CMocka. */
static void emit_github(heapscope_leaks_t *l) {
  hs_strbuf_t ci = {0};
  if (lc_config.report_format == LC_REPORT_GITHUB && !lc_config.log_from_lsan) {
    hs__runtime_enter();
    lc_format_github(l, &ci);
    hs__runtime_leave();
    /* Annotations are the leading "::" lines; the text report follows. */
    size_t n = 0;
    while (ci.data && !strncmp(ci.data + n, "::", 2)) {
      const char *nl = strchr(ci.data + n, '\n');
      n = nl ? (size_t)(nl - ci.data) + 1 : ci.len;
    }
    if (n) hs__write_all(2, ci.data, n);
    hs__sb_free(&ci);
  }
}

static void emit_json_and_profile(heapscope_leaks_t *l) {
  static int json_pid; /* the process that last wrote HEAPSCOPE_REPORT_PATH */
  hs_strbuf_t ci = {0};
  if (lc_config.report_format == LC_REPORT_JSON) {
    hs__runtime_enter();
    lc_format_json(l, &ci);
    hs__runtime_leave();
    const char *rp = hs__setting_str(HS_SET_HEAPSCOPE_REPORT_PATH);
    int jfd = 2;
    if (rp && *rp) {
      char jpath[1100];
      size_t k = 0;
      for (const char *c = rp; *c && k + 12 < sizeof jpath; c++) {
        if (c[0] == '%' && c[1] == 'p') {
          k += (size_t)hs__snprintf(jpath + k, sizeof jpath - k, "%d", (int)getpid());
          c++;
        } else {
          jpath[k++] = *c;
        }
      }
      jpath[k] = '\0';
      bool first = json_pid != (int)getpid();
      jfd = open(jpath, O_WRONLY | O_CREAT | O_CLOEXEC | (first ? O_TRUNC : O_APPEND), 0644);
      if (jfd < 0) {
        hs__errorf("cannot write JSON leak report to %s: %s; writing it to stderr", jpath,
                   strerror(errno));
        jfd = 2;
      } else {
        json_pid = (int)getpid();
      }
    }
    if (ci.data && !hs__write_all(jfd, ci.data, ci.len))
      hs__errorf("short write of the JSON leak report");
    if (ci.oom) hs__errorf("out of memory formatting the JSON leak report");
    if (jfd != 2) close(jfd);
    hs__sb_free(&ci);
  }
  if (lc_config.leak_profile[0]) lc_write_leak_profile(l, lc_config.leak_profile);
}

void lc_emit_extras(heapscope_leaks_t *l) {
  emit_github(l);
  emit_json_and_profile(l);
}

/* The report goes to stderr, or to LOG_PATH.PID when a log path is set; in
 * that case stderr gets one line that CTest's memcheck parser does not
 * count, so each leak is one defect, not two. */
void lc_emit_report(heapscope_leaks_t *l, const char *title) {
  const char *text = heapscope_leaks_report(l);
  int fd = 2;
  char path[1100];
  if (lc_config.log_path[0]) {
    hs__snprintf(path, sizeof path, "%s.%d", lc_config.log_path, (int)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      hs__errorf("cannot write leak report to %s: %s; writing it to stderr", path, strerror(errno));
      fd = 2;
    }
  }
  emit_github(l); /* annotations lead, the text follows */
  if (title && fd == 2) hs__write_all(2, title, strlen(title));
  hs__write_all(fd, text, strlen(text));
  if (fd != 2) {
    close(fd);
    hs__errorf("%s%zu byte(s) leaked in %zu allocation(s); report in %s", title ? title : "",
               l->bytes, l->objects, path);
  }
  emit_json_and_profile(l);
}

/* After core's constructor (101): the allocator and profiler are up. */
__attribute__((constructor(102))) static void leakcheck_init(void) {
  main_pid = getpid();
  const char *hc = hs__setting_str(HS_SET_HEAPCHECK);
  if (!hc || !*hc) return;
  heapscope_mode_t mode;
  if (heapscope_parse_mode(hc, &mode) != 0) {
    hs__errorf("invalid HEAPCHECK='%s' (valid modes: minimal, normal, strict, draconian, as-is, "
               "local; 1 or true mean normal)", hc);
    _exit(2);
  }
  lc_config.mode = mode;
  read_report_config();
  lc_suppressions_load();
  /* minimal: until main starts (see __libc_start_main below); this covers
   * a statically linked runtime, whose start hook may not be used. */
  if (mode == HEAPSCOPE_MODE_MINIMAL) lc_whole_program_gen = heapscope_snapshot().generation;
}

/* HEAPCHECK=minimal: what the program allocates before main (its
 * constructors included) is never reported (gperftools: "you can leak some
 * memory in your initialization routines (that run before main())"). The
 * runtime's constructor runs before the program's, so the generation is
 * bumped when main starts: glibc's __libc_start_main runs the program's
 * constructors and then calls main, here through a trampoline. Other modes
 * pass main through untouched. */
typedef int (*main_fn)(int, char **, char **);
typedef int (*start_main_fn)(main_fn, int, char **, void (*)(void), void (*)(void),
                             void (*)(void), void *);
static main_fn program_main;

static int minimal_main(int argc, char **argv, char **envp) {
  lc_whole_program_gen = heapscope_snapshot().generation;
  return program_main(argc, argv, envp);
}

HS_EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void),
                                void (*fini)(void), void (*rtld_fini)(void), void *stack_end) {
  start_main_fn real = (start_main_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  if (!real) {
    hs__errorf("cannot find glibc's __libc_start_main");
    _exit(127);
  }
  if (lc_config.mode == HEAPSCOPE_MODE_MINIMAL) {
    program_main = main;
    main = minimal_main;
  }
  return real(main, argc, argv, init, fini, rtld_fini, stack_end);
}

HS_EXPORT long heapscope_check_now(void) {
  if (!atomic_load(&hs__recording)) return -ENOSYS;
  heapscope_mode_t mode = lc_config.mode;
  if (mode == HEAPSCOPE_MODE_OFF || mode == HEAPSCOPE_MODE_LOCAL) mode = HEAPSCOPE_MODE_NORMAL;
  heapscope_leaks_t *l = heapscope_leaks_all(mode);
  if (!l) return 0;
  long n = (long)l->objects;
  lc_emit_report(l, NULL);
  heapscope_leaks_free(l);
  return n;
}

__attribute__((destructor(101))) static void exit_check(void) {
  heapscope_mode_t mode = lc_config.mode;
  if (mode == HEAPSCOPE_MODE_OFF || mode == HEAPSCOPE_MODE_LOCAL) return;
  if (getpid() != main_pid && !hs__setting_bool(HS_SET_HEAPSCOPE_CHECK_CHILDREN)) return;
  heapscope_leaks_t *l = lc_leaks_at_exit(mode);
  if (!l) return;
  lc_emit_report(l, NULL);
  heapscope_leaks_free(l);
  /* Like gperftools, exit with an error instead of crashing; flush stdio
   * first so the program's own output is not lost. */
  fflush(NULL);
  _exit(lc_config.exit_code);
}

/* See hs__runtime_anchor: keeps the exit-time check in static links. */
void hs__leakcheck_anchor(void) {}
