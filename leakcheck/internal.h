/* Leak checker internals (leakcheck/ over core/).
 *
 * Pipeline: collect candidates (live objects born since a generation) ->
 * stop the other threads -> mark from roots through the live heap ->
 * resume -> unmarked candidates are leaks -> split direct/indirect ->
 * group by stack -> suppress -> symbolize -> report. Only the marking
 * runs with the world stopped, and it neither allocates from a heap nor
 * takes a lock that a stopped thread could hold: its memory comes from
 * mmap (lc_vec_t). */
#ifndef HEAPSCOPE_LEAKCHECK_INTERNAL_H
#define HEAPSCOPE_LEAKCHECK_INTERNAL_H

#include "core/api/runtime.h"
#include "core/base/settings.h"
#include <heapscope/heapscope.h>

/* A growable array backed directly by mmap: safe while the world is
 * stopped, when a suspended thread may hold any allocator lock. */
typedef struct lc_vec {
  char *data;
  size_t len, cap, elem;
  bool oom;       /* a push failed (no memory): the vector is incomplete */
} lc_vec_t;
bool lc_vec_push(lc_vec_t *v, const void *item);
void lc_vec_free(lc_vec_t *v);
#define LC_AT(v, type, i) (((type *)(v)->data)[i])

/* ---- stopping the world (leakcheck/stopworld.c) ---- */
typedef struct lc_thread {
  int tid;
  uintptr_t sp;     /* interrupted stack pointer */
  uintptr_t tp;     /* thread pointer (TCB); its static TLS lies below */
  uintptr_t regs[24];
  int nregs;
  /* Stopped where it was (a signal or a system call): the 128 bytes below
   * sp may be a leaf function's live red zone. Not so for the checking
   * thread: below its captured sp lie only the checker's own frames, whose
   * unwritten slots hold stale copies of pointers. */
  bool interrupted;
} lc_thread_t;
/* Suspends every other thread of the process and appends them to threads
 * (after the caller's own entry, which the caller pushes). Returns false
 * when some thread could not be paused or scanned from /proc: its stack is
 * then missing from the roots, and leaks found may be false. */
bool lc_stop_world(lc_vec_t *threads);
/* Its per-thread slots (~1 MB): never roots. */
extern const hs_range_t lc_stop_slots_range;
void lc_resume_world(void);

/* ---- marking (leakcheck/scan.c) ---- */
typedef struct lc_roots {
  size_t tls_below_tp; /* extent of static TLS below the thread pointer */
  bool globals;        /* writable segments of loaded ELF objects */
  bool system_globals; /* those of system libraries only (draconian) */
  bool threads;        /* stacks, registers and static TLS of live threads */
} lc_roots_t;
/* Marks (HS_REC_MARK) every live object reachable from the roots and from
 * ignored objects. Stops early once all cand_count candidates (live, born
 * at >= cand_gen, not ignored) are marked: then nothing leaked. */
typedef struct lc_range {
  uintptr_t lo, hi;
  bool system;   /* a system library's data (libc's stdio buffers...) */
} lc_range_t;
void lc_gather_segments(lc_vec_t *segments); /* before stopping the world */
/* How far below the thread pointer the static TLS blocks reach (the same
 * for every thread). Before stopping the world. */
size_t lc_static_tls_extent(void);
/* 0, or -errno when a root could not be scanned (no memory for the work
 * list, /proc/self/maps unreadable): the marks are then incomplete. */
int lc_mark(const lc_roots_t *roots, lc_vec_t *threads, lc_vec_t *segments,
            uint32_t cand_gen, size_t cand_count);
void lc_clear_marks(void);
/* Scan [lo, hi) for pointers to live objects in `objs` (sorted by addr);
 * calls fn with the index of each one found. */
typedef struct lc_object {
  uintptr_t addr;
  size_t size;
  hs_rec_t *rec;
  uint32_t bucket;
  uint32_t flags;     /* LC_* below */
} lc_object_t;
#define LC_DIRECT 1u
long lc_find_object(const lc_vec_t *objs, uintptr_t v);
/* Sorts the leaked objects by address and sets LC_DIRECT on one object of
 * each strongly connected component no other leaked object points into
 * (leakcheck/classify.c, which states the rule). */
void lc_classify(lc_vec_t *objs);

typedef struct lc_caller {
  uintptr_t sp;
  uintptr_t regs[6];
} lc_caller_t;

#define LC_CAPTURE_CALLER(c)                                                             \
  do {                                                                                \
    (c).sp = (uintptr_t)__builtin_frame_address(0) + 2 * sizeof(void *);              \
    __asm__ volatile("mov %%rbx, 0(%0)\n\tmov %%rbp, 8(%0)\n\tmov %%r12, 16(%0)\n\t"   \
                     "mov %%r13, 24(%0)\n\tmov %%r14, 32(%0)\n\tmov %%r15, 40(%0)"     \
                     :                                                                \
                     : "r"((c).regs)                                                  \
                     : "memory");                                                     \
  } while (0)

/* heapscope_check_since with the caller captured by the adapter: its own
 * frames (pushed over the test's dead ones) are then not scanned. Same
 * contract: 0 and *out (NULL: no leaks), or -errno and no verdict. */
int lc_check_since_caller(const heapscope_snapshot_t *s, heapscope_mode_t mode,
                          const lc_caller_t *caller, heapscope_leaks_t **out);
/* "heapscope: leak check could not be completed: REASON" on stderr. */
void lc_report_check_error(int err);

/* ---- report (leakcheck/report.c) ---- */
/* What a report belongs to: a CMocka test and its group, or (NULLs) the
 * whole program at exit / heapscope_check_now(). */
typedef struct lc_origin {
  const char *test;
  const char *group;
} lc_origin_t;
/* The text report with HEAP_CHECK_MAX_LEAKS applied (console). */
void lc_format_report(heapscope_leaks_t *l, hs_strbuf_t *out);
/* capped false: every stack (files tools read). */
void lc_format_report_capped(heapscope_leaks_t *l, hs_strbuf_t *out, bool capped);
/* Frames of pcs that are the program's: stacks are cut where they pass
 * back through the runtime (the adapter calling a test). */
size_t lc_visible_depth(const uintptr_t *pcs, size_t depth);
const char *lc_strip_prefix(const char *path);
void lc_write_leak_profile(heapscope_leaks_t *l, const char *path);
/* CI formats (leakcheck/report_ci.c): a one-line JSON document for one
 * report; the process's JSON document accumulated over its reports; and
 * GitHub Actions ::error annotations followed by the text report. */
void lc_format_json(heapscope_leaks_t *l, const lc_origin_t *origin, hs_strbuf_t *out);
void lc_json_add(heapscope_leaks_t *l, const lc_origin_t *origin);
void lc_json_document(hs_strbuf_t *out);
extern hs_lock_t *const lc_json_doc_lock; /* held while it symbolizes */
void lc_format_github(heapscope_leaks_t *l, const lc_origin_t *origin, hs_strbuf_t *out);
/* A JSON string (RFC 8259 escapes, invalid UTF-8 as U+FFFD), or null. */
void lc_json_string(hs_strbuf_t *out, const char *s);
/* Suppressions (leakcheck/suppress.c): true if the stack matches a rule,
 * whose statistics are then charged with bytes/objects. */
bool lc_suppressed_counted(const uintptr_t *pcs, size_t depth, uint32_t epoch, size_t bytes,
                           size_t objects);
/* The value of key in a sanitizer option string (LSAN_OPTIONS syntax:
 * key=value pairs separated by ':' or spaces) into out; false if absent. */
bool lc_sanitizer_option(const char *opts, const char *key, char *out, size_t size);
void lc_format_stack(const uintptr_t *pcs, size_t depth, uint32_t epoch, hs_strbuf_t *out);
/* The exit-time check: like heapscope_check_all, but the exiting thread's
 * stack is a root only from exit_caller up (the frame that called exit());
 * NULL when main returned: then none of it is. When it gives no verdict,
 * the process exits with LC_EXIT_CHECK_ERROR (HEAPSCOPE_EXIT_CODE is for
 * leaks found). */
#define LC_EXIT_CHECK_ERROR 2
int lc_check_at_exit(heapscope_mode_t mode, const lc_caller_t *exit_caller,
                     heapscope_leaks_t **out);
/* The generation whole-program checks start from (the exit check,
 * heapscope_check_all): 0, or set by checker.c in a forked child (the
 * parent's blocks are not the child's leaks) and at main's start in
 * minimal mode (what ran before main is not checked). */
extern uint32_t lc_whole_program_gen;
/* Writes len bytes to path (truncated first, or appended to) and closes it:
 * 0, or the errno of the failed open, write or close. A failed write leaves
 * the file as it was (a file it created is removed). (leakcheck/output.c) */
int lc_write_file(const char *path, bool truncate, const char *data, size_t len);
/* Write the report where the configuration says (stderr or LOG_PATH.PID). */
void lc_emit_report(heapscope_leaks_t *l, const char *title);
/* The same for a named check (HeapLeakChecker, heapscope_leaks_emit): the
 * leak profile of HEAP_CHECK_DUMP_DIRECTORY is named after it. */
void lc_emit_named_report(heapscope_leaks_t *l, const char *title, const char *check_name);
/* The outputs besides the adapter's own (CMocka's message): the log file
 * (every stack), GitHub annotations, JSON, leak profile. */
void lc_emit_extras(heapscope_leaks_t *l, const lc_origin_t *origin);
/* The full report appended to LOG_PATH.PID when a log path is set; the
 * path in path_out. False when no log path is set or it failed (then one
 * line says why, ending with fallback: what the caller does instead). */
bool lc_write_log_report(heapscope_leaks_t *l, char *path_out, size_t size, const char *fallback);
bool lc_has_suppressions(void);
void lc_suppressions_load(void);
void lc_suppressions_report(hs_strbuf_t *out);

/* Keeps checker.c (the exit-time check) in static links. */
void hs__leakcheck_anchor(void);
/* glibc's program start, interposed to mark the start of main (minimal). */
int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                      void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
                      void *stack_end);

/* ---- configuration (leakcheck/checker.c) ---- */
typedef struct lc_config {
  heapscope_mode_t mode;
  int exit_code;
  long max_leaks;           /* HEAP_CHECK_MAX_LEAKS; <= 0 prints all */
  bool ignore_thread_live;  /* as-is knobs */
  bool ignore_global_live;
  char log_path[1024];      /* report file prefix; "" = stderr */
  bool log_from_lsan;       /* log_path came from LSAN_OPTIONS/ASAN_OPTIONS */
  char leak_profile[1024];  /* HEAPSCOPE_LEAK_PROFILE */
  char dump_dir[1024];      /* HEAP_CHECK_DUMP_DIRECTORY */
  bool identify_leaks;      /* HEAP_CHECK_IDENTIFY_LEAKS */
  int report_format;        /* LC_REPORT_* */
} lc_config_t;
enum { LC_REPORT_TEXT = 0, LC_REPORT_JSON = 1, LC_REPORT_GITHUB = 2 };
extern lc_config_t lc_config;

/* Where a group's stack came from: its depot bucket and the module epoch
 * of its capture (symbolize with it: a library unloaded since keeps its
 * names). */
typedef struct lc_group_origin {
  uint32_t bucket, epoch;
} lc_group_origin_t;

/* Internal leak structure behind heapscope_leaks_t. */
typedef struct lc_leaks {
  heapscope_leaks_t pub;
  lc_group_origin_t *origin; /* per group, parallel to pub.groups */
  size_t suppressed_bytes, suppressed_objects;
  uintptr_t *addrs;         /* every leaked block, for heapscope_leaks_ignore */
  size_t naddrs;
  lc_object_t *objects;     /* HEAP_CHECK_IDENTIFY_LEAKS: every leaked block */
  size_t nobjects;
  char *report;             /* lazily formatted */
} lc_leaks_t;

/* The origin of group g of l (a result of this library). */
static inline lc_group_origin_t lc_group_origin(const heapscope_leaks_t *l,
                                                const heapscope_leak_group_t *g) {
  const lc_leaks_t *il = (const lc_leaks_t *)l;
  return il->origin[g - l->groups];
}

#endif
