/* heapscope report: internal interfaces of the profile analyzer.
 *
 * Pipeline (one file per step):
 *
 *   input.c      read a file, gunzip, tell the format apart
 *   read_heap.c  legacy heap text (heapscope, gperftools, leak profiles;
 *                + its PATH.tests side file)
 *   read_cpu.c   legacy binary CPU profile (+ its PATH.tests side file)
 *   read_proto.c profile.proto
 *        |
 *        v  rp_profile_t: what the file says, in the file's terms
 *           (locations by address, samples aggregated by distinct stack)
 *   symbolize.c  fill in the frames of locations the file did not
 *                symbolize, from its mappings and the ELF/DWARF files
 *        |
 *        v
 *   view.c       rp_view_t: the profile to analyze, independent of the
 *                input format: symbolic frames (function, file, line,
 *                address, inlined), stacks of frames aggregated with the
 *                test labels, every sample type kept; merges several
 *                profiles, subtracts --base (matched by symbol), applies
 *                --focus/--ignore/--test and the readers' drop rules
 *        |
 *        v
 *   nodes.c      frames grouped at a granularity (functions, lines, files,
 *                addresses)
 *   out_*.c      writers: top/traces/tests, folded, svg, callgrind, proto,
 *                list; each takes the view (and the options) only
 *
 * Memory is proportional to the distinct stacks (and distinct addresses),
 * never to the number of samples: readers aggregate while they read.
 * Bad input never crashes and never exits from a reader: readers return
 * false with one message in rp_err_t, the driver (report.c) prints it as
 * "heapscope: FILE: what is wrong" and exits with status 2. */
#ifndef HEAPSCOPE_TOOLS_REPORT_H
#define HEAPSCOPE_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- errors and memory (util.c) ------------------------------------------ */

typedef struct rp_err {
  bool set;
  char msg[512];
} rp_err_t;

/* Records the first error only (later ones are consequences); returns false
 * so readers can `return rp_fail(err, ...)`. */
bool rp_fail(rp_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "heapscope: warning: ..." on stderr unless rp_quiet. */
void rp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool rp_quiet;

/* Allocation that cannot fail: on exhaustion the process prints
 * "heapscope: out of memory" and exits 2. Sizes come from validated input,
 * so a corrupt file can not ask for absurd amounts through these. */
void *rp_alloc(size_t n);                 /* zeroed */
void *rp_realloc(void *p, size_t n);
char *rp_strndup(const char *s, size_t n);
/* Command-line option "NAME=VALUE" or "NAME VALUE" at argv[*i]: true with
 * *out set (and *i past a separate value) when argv[*i] is NAME; a NAME
 * without its value prints "heapscope: <cmd>NAME needs a value" and exits
 * 2. cmd prefixes the message ("" or "report: "). */
bool rp_opt_value(const char *cmd, const char *name, int argc, char **argv, int *i,
                  const char **out);
/* Grows *p (an array of elem-size items, capacity *cap) to hold need. */
void rp_reserve(void **p, size_t *cap, size_t need, size_t elem);
#define RP_RESERVE(arr, cap, need)                                                    \
  do {                                                                                \
    if ((size_t)(need) > (cap)) rp_reserve((void **)&(arr), &(cap), (need), sizeof *(arr)); \
  } while (0)

uint64_t rp_hash_bytes(const void *d, size_t n);
uint64_t rp_hash_words(const uint32_t *w, size_t n, uint64_t seed);
static inline uint64_t rp_mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/* ---- string table: interned strings, id 0 is "" --------------------------- */

typedef struct rp_strtab {
  const char **str; /* by id; stable pointers into the pool */
  uint32_t *len;
  uint32_t n;
  size_t cap;
  uint32_t *slots; /* open addressing: id + 1, 0 = empty */
  size_t nslots;
  char *chunk;     /* current pool chunk */
  size_t chunk_used, chunk_size;
  char **chunks;   /* every chunk, for freeing */
  size_t nchunks, chunks_cap;
} rp_strtab_t;

void rp_str_init(rp_strtab_t *t);
void rp_str_free(rp_strtab_t *t);
uint32_t rp_str_n(rp_strtab_t *t, const char *s, size_t n);
static inline uint32_t rp_str(rp_strtab_t *t, const char *s);
static inline const char *rp_str_get(const rp_strtab_t *t, uint32_t id) { return t->str[id]; }

/* ---- word-sequence table: interns arrays of uint32 (stacks, keys) -------- */

typedef struct rp_seqtab {
  uint32_t *pool; /* concatenated keys */
  size_t pool_n, pool_cap;
  uint32_t *off, *len; /* by entry */
  size_t n, cap;
  uint32_t *slots; /* entry + 1 */
  uint64_t *slot_hash;
  size_t nslots;
} rp_seqtab_t;

void rp_seq_free(rp_seqtab_t *t);
/* Entry index of key (added when new; *added tells). */
uint32_t rp_seq_intern(rp_seqtab_t *t, const uint32_t *key, uint32_t len, bool *added);
/* Entry index of key, or UINT32_MAX. */
uint32_t rp_seq_find(const rp_seqtab_t *t, const uint32_t *key, uint32_t len);
static inline const uint32_t *rp_seq_key(const rp_seqtab_t *t, uint32_t i) { return t->pool + t->off[i]; }
static inline uint32_t rp_seq_len(const rp_seqtab_t *t, uint32_t i) { return t->len[i]; }

/* ---- 64-bit key -> uint32 value map ---------------------------------------- */

typedef struct rp_u64slot {
  uint64_t key;
  uint32_t val; /* value + 1, 0 = empty */
} rp_u64slot_t;

typedef struct rp_u64map {
  rp_u64slot_t *slots; /* key and value side by side: one cache line per probe */
  size_t n, nslots;
} rp_u64map_t;

void rp_u64map_free(rp_u64map_t *m);
/* Pointer to the slot of key, which stores value + 1; *found tells whether
 * it existed. A new slot holds 0: the caller must store value + 1 in it
 * before the next insertion. */
uint32_t *rp_u64map_slot(rp_u64map_t *m, uint64_t key, bool *found);
bool rp_u64map_get(const rp_u64map_t *m, uint64_t key, uint32_t *val);

/* ---- the profile as read (profile.c) ------------------------------------- */

#define RP_MAX_TYPES 16
#define RP_MAX_DEPTH 4096 /* frames per stack we accept from a file */

typedef enum rp_kind { RP_KIND_OTHER, RP_KIND_HEAP, RP_KIND_CPU } rp_kind_t;

typedef struct rp_mapping {
  uint64_t start, limit, offset;
  uint32_t file;     /* string id */
  uint32_t build_id; /* string id of the hex build-id, 0 = none */
  bool symbolized;   /* the file resolved its locations (has_functions) */
} rp_mapping_t;

typedef struct rp_function {
  uint32_t name, file; /* string ids */
} rp_function_t;

typedef struct rp_line {
  uint32_t function; /* index into functions */
  int32_t line;      /* 0 = unknown */
} rp_line_t;

typedef struct rp_location {
  uint64_t address;  /* the address to look up (return addresses already - 1) */
  uint32_t mapping;  /* index + 1 into mappings, 0 = none */
  uint32_t lines;    /* first line in p->lines */
  uint32_t nlines;   /* innermost (inlined) first, the real function last */
} rp_location_t;

typedef struct rp_profile {
  const char *path;    /* as given on the command line */
  const char *format;  /* "legacy heap profile", ... (for messages) */
  rp_kind_t kind;
  rp_strtab_t st;
  uint32_t ntypes;
  uint32_t type[RP_MAX_TYPES], unit[RP_MAX_TYPES]; /* string ids */
  int default_type;    /* index, -1 = the last */
  uint32_t period_type, period_unit;
  int64_t period, duration_ns, time_ns;
  uint32_t drop_frames, keep_frames; /* regex string ids, 0 = none */
  bool drop_signal_frames;           /* legacy CPU: drop the profiler's own frames */
  bool drop_alloc_frames;            /* legacy heap: drop allocator frames at the leaf */

  rp_mapping_t *mappings;
  size_t nmappings, mappings_cap;
  rp_function_t *functions;
  size_t nfunctions, functions_cap;
  rp_seqtab_t function_index; /* (name, file) -> function */
  rp_line_t *lines;
  size_t nlines, lines_cap;
  rp_location_t *locations;
  size_t nlocations, locations_cap;
  rp_u64map_t location_by_address; /* legacy readers: address -> location */
  rp_u64slot_t *location_cache;     /* direct-mapped in front of it (val = loc + 1):
                                     * stacks share their root frames */

  /* Samples, one per distinct key [test, group, location indices leaf
   * first...]; values[i * ntypes + t]. */
  rp_seqtab_t samples;
  int64_t *values;
  size_t values_cap;
  uint64_t nrecords;   /* sample records read (before aggregation) */
  /* Every test a per-test side file names, sampled or not: (test, group)
   * string id pairs. A test that ran but has no sample is only here. */
  uint32_t *seen_tests;
  size_t nseen_tests, seen_tests_cap;
} rp_profile_t;

void rp_profile_init(rp_profile_t *p, const char *path);
void rp_profile_free(rp_profile_t *p);
uint32_t rp_profile_type(rp_profile_t *p, const char *type, const char *unit);
uint32_t rp_profile_mapping(rp_profile_t *p, const rp_mapping_t *m);
uint32_t rp_profile_function(rp_profile_t *p, uint32_t name, uint32_t file);
/* The location for a legacy address (created on first use). */
uint32_t rp_profile_location_at(rp_profile_t *p, uint64_t address);
/* Notes that the side file names test (group), sampled or not. */
void rp_profile_seen_test(rp_profile_t *p, uint32_t test, uint32_t group);
/* A per-test side file (PATH.tests), read line by line: its first line
 * must be magic; then 'test GROUP<TAB>NAME' lines (each noted seen) name
 * the test that the sample lines under them belong to. */
typedef struct rp_tests_file {
  rp_profile_t *p;
  const char *next, *end;
  long lineno;                /* of the line last returned */
  uint32_t test, group;       /* of the line last returned */
} rp_tests_file_t;
bool rp_tests_open(rp_tests_file_t *f, rp_profile_t *p, const char *d, size_t n,
                   const char *magic, rp_err_t *err);
/* 1: the next sample line is [*line, *e); 0: the end; -1: a malformed test
 * line or a sample before the first, err set. */
int rp_tests_next(rp_tests_file_t *f, const char **line, const char **e, rp_err_t *err);
/* Adds values to the sample [test, group, locs...]. */
void rp_profile_add(rp_profile_t *p, uint32_t test, uint32_t group, const uint32_t *locs,
                    uint32_t depth, const int64_t *values);
/* Assigns every unmapped location the mapping containing its address. */
void rp_profile_map_locations(rp_profile_t *p);
/* Parses /proc/self/maps text (and pprof's brief "start-end: path" form)
 * into executable mappings; unrecognized lines are skipped, as pprof does. */
void rp_parse_maps(rp_profile_t *p, const char *text, size_t len);
static inline const int64_t *rp_profile_values(const rp_profile_t *p, uint32_t s) {
  return p->values + (size_t)s * p->ntypes;
}

/* ---- input (input.c, read_*.c) ----------------------------------------------- */

typedef struct rp_buf {
  unsigned char *data;
  size_t len;
} rp_buf_t;

/* A file or memory, gunzipped on the fly when it starts with the gzip magic. */
typedef struct rp_stream rp_stream_t;
bool rp_stream_file(const char *path, rp_stream_t **out, rp_err_t *err);
rp_stream_t *rp_stream_mem(const unsigned char *d, size_t n, rp_err_t *err);
void rp_stream_close(rp_stream_t *s);
/* Buffers at least n bytes (fewer at the end) without consuming them. */
bool rp_stream_peek(rp_stream_t *s, size_t n, const unsigned char **d, size_t *avail);
bool rp_stream_read(rp_stream_t *s, void *dst, size_t n, size_t *got);
/* The next line (without its newline), valid until the next call; false at
 * the end or on an error (then the stream's rp_err_t is set). A byte that
 * is neither a hex digit nor a space ('\n' or NUL) always follows the
 * line, so scanners may stop on it instead of checking the length. */
bool rp_stream_line(rp_stream_t *s, const char **line, size_t *len);
/* The rest of the stream, in one malloc'd buffer (NUL-terminated). */
bool rp_stream_slurp(rp_stream_t *s, rp_buf_t *out);

/* Reads a whole file (gunzipped). */
bool rp_read_file(const char *path, rp_buf_t *out, rp_err_t *err);
/* Reads any supported profile into p (rp_profile_init'ed by the caller).
 * On failure err holds "what is wrong" (without the file name). */
bool rp_load_profile(const char *path, rp_profile_t *p, rp_err_t *err);
/* The same from memory (the fuzz harness). side: a PATH.tests text or NULL. */
bool rp_parse_profile(const unsigned char *d, size_t n, const char *side, size_t side_len,
                      rp_profile_t *p, rp_err_t *err);

bool rp_is_heap_text(const unsigned char *d, size_t n);
bool rp_is_cpu_binary(const unsigned char *d, size_t n);
bool rp_read_heap(rp_stream_t *s, rp_profile_t *p, rp_err_t *err);
bool rp_read_cpu(rp_stream_t *s, rp_profile_t *p, rp_err_t *err);
/* The per-test side file of a legacy CPU profile (after rp_read_cpu). */
bool rp_read_cpu_tests(const char *d, size_t n, rp_profile_t *p, rp_err_t *err);
/* The per-test side file of a legacy heap profile (after rp_read_heap). */
bool rp_read_heap_tests(const char *d, size_t n, rp_profile_t *p, rp_err_t *err);
bool rp_read_proto(const unsigned char *d, size_t n, rp_profile_t *p, rp_err_t *err);
/* Whether the first protobuf field is one profile.proto has. */
bool rp_looks_like_proto(const unsigned char *d, size_t n);

/* ---- symbolization (symbolize.c) -------------------------------------------------- */

typedef struct rp_symopts {
  const char **binaries; /* ELF files given on the command line: used for
                          * mappings with the same base name, the first
                          * one also for the main mapping */
  size_t nbinaries;
  bool no_symbolize;     /* --symbolize=none */
} rp_symopts_t;

typedef struct rp_symbolizer rp_symbolizer_t;
rp_symbolizer_t *rp_symbolizer_new(const rp_symopts_t *o);
void rp_symbolizer_free(rp_symbolizer_t *s);
/* Resolves every location of p that has no lines and lies in a mapping the
 * file did not symbolize. Problems (missing binaries, build-id mismatch)
 * are warnings, once per file. */
void rp_symbolize(rp_symbolizer_t *s, rp_profile_t *p);

/* ---- the analysis model (view.c) ------------------------------------------------- */

typedef enum rp_gran { RP_FUNCTIONS, RP_LINES, RP_FILES, RP_ADDRESSES } rp_gran_t;

typedef struct rp_frame {
  uint32_t name, file; /* view string ids (name never 0) */
  int32_t line;
  uint32_t mapping;    /* index + 1 into view mappings, 0 = none */
  uint64_t address;    /* 0 when frames are matched by symbol (--base) */
  uint32_t inlined;    /* 1: inlined into the next (outer) frame */
} rp_frame_t;

typedef struct rp_filter rp_filter_t; /* compiled --focus/--ignore (view.c) */

typedef struct rp_view_opts {
  const char *sample;      /* --sample: type name, NULL = the profile's default */
  const char *focus, *ignore; /* regexes on function names (and files) */
  const char *test;        /* --test=NAME or GROUP/NAME */
  bool base;               /* base profiles will be subtracted (--base): frames
                            * are then matched by symbol, without address */
} rp_view_opts_t;

typedef struct rp_view {
  rp_strtab_t st;
  rp_kind_t kind;
  uint32_t ntypes;
  uint32_t type[RP_MAX_TYPES], unit[RP_MAX_TYPES]; /* view string ids */
  uint32_t sel;            /* selected type index */
  int64_t period;
  uint32_t period_type, period_unit;
  int64_t duration_ns;
  bool has_base;
  const char *first_path;
  size_t nprofiles;

  rp_frame_t *frames;
  size_t nframes, frames_cap;
  rp_seqtab_t frame_index;  /* frame words -> frame */
  rp_mapping_t *mappings;   /* copies, with view string ids */
  size_t nmappings, mappings_cap;
  rp_seqtab_t mapping_index;

  /* Stacks: key [test, group, frames leaf first...]; per stack ntypes
   * values, and ntypes base values after them when has_base. */
  rp_seqtab_t stacks;
  int64_t *vals;
  size_t vals_cap;
  uint32_t stride;         /* ntypes, or 2 * ntypes with a base */

  /* Tests the profiles' side files name (--test applied), [test, group]
   * view string ids: those without a stack ran but were not sampled. */
  rp_seqtab_t seen_tests;

  rp_filter_t *filter;
  rp_view_opts_t opts;
  /* Writers see only the stacks of one (test, group) when set (per-test
   * sections of --tests). */
  bool only;
  uint32_t only_test, only_group;
} rp_view_t;

void rp_view_init(rp_view_t *v, const rp_view_opts_t *o);
void rp_view_free(rp_view_t *v);
/* Adds a profile (base: subtracted). The first profile fixes the sample
 * types and the selection; later ones must have them too. */
bool rp_view_add(rp_view_t *v, rp_profile_t *p, bool base, rp_err_t *err);
/* Compiles the regexes; false with a message on a bad one. */
bool rp_view_set_filters(rp_view_t *v, rp_err_t *err);

static inline uint32_t rp_stack_depth(const rp_view_t *v, uint32_t s) {
  return rp_seq_len(&v->stacks, s) - 2;
}
static inline const uint32_t *rp_stack_frames(const rp_view_t *v, uint32_t s) {
  return rp_seq_key(&v->stacks, s) + 2;
}
static inline uint32_t rp_stack_test(const rp_view_t *v, uint32_t s) {
  return rp_seq_key(&v->stacks, s)[0];
}
static inline uint32_t rp_stack_group(const rp_view_t *v, uint32_t s) {
  return rp_seq_key(&v->stacks, s)[1];
}
/* Whether writers should count stack s (see rp_view_t.only). */
static inline bool rp_stack_in(const rp_view_t *v, uint32_t s) {
  return !v->only || (rp_stack_test(v, s) == v->only_test && rp_stack_group(v, s) == v->only_group);
}
/* Value of type t of stack s: main minus base. */
static inline int64_t rp_stack_value_t(const rp_view_t *v, uint32_t s, uint32_t t) {
  const int64_t *x = v->vals + (size_t)s * v->stride;
  return v->has_base ? x[t] - x[v->ntypes + t] : x[t];
}
static inline int64_t rp_stack_value(const rp_view_t *v, uint32_t s) {
  return rp_stack_value_t(v, s, v->sel);
}
static inline int64_t rp_stack_base_value(const rp_view_t *v, uint32_t s) {
  return v->has_base ? v->vals[(size_t)s * v->stride + v->ntypes + v->sel] : 0;
}
static inline int64_t rp_stack_main_value(const rp_view_t *v, uint32_t s) {
  return v->vals[(size_t)s * v->stride + v->sel];
}
/* Sum of the selected value over the stacks writers see. */
int64_t rp_view_total(const rp_view_t *v);
const char *rp_view_type_name(const rp_view_t *v);
const char *rp_view_unit(const rp_view_t *v);

/* ---- JSON documents (json.c) ------------------------------------------------------ */

typedef enum rp_json_type {
  RP_JSON_NULL, RP_JSON_BOOL, RP_JSON_NUM, RP_JSON_STR, RP_JSON_ARR, RP_JSON_OBJ
} rp_json_type_t;

typedef struct rp_json {
  rp_json_type_t type;
  bool b;
  double num;
  bool is_int;              /* an integer that fits int64: i is exact */
  int64_t i;
  char *str;                /* strings: decoded UTF-8, NUL-terminated */
  size_t len;
  struct rp_json *items;    /* arrays and objects: n values */
  char **keys;              /* objects: n keys */
  size_t n;
} rp_json_t;

/* Parses one JSON value from text; *consumed: bytes used (trailing text is
 * the caller's business). False with a message naming the byte offset. */
bool rp_json_parse(const char *text, size_t len, size_t *consumed, rp_json_t *out, rp_err_t *err);
void rp_json_free(rp_json_t *j);
const rp_json_t *rp_json_get(const rp_json_t *obj, const char *key);
const char *rp_json_str(const rp_json_t *obj, const char *key);
bool rp_json_num(const rp_json_t *obj, const char *key, double *out);
int64_t rp_json_int(const rp_json_t *obj, const char *key, int64_t missing);

/* ---- test statistics and leak reports (stats.c) ----------------------------------- *
 * The runtime's JSON documents about tests: HEAPSCOPE_TEST_STATS files
 * ({"kind":"test-stats","tests":[...]}) and HEAPSCOPE_REPORT=json leak
 * reports ({"tool":"heapscope","leaks":[...]}, one or more documents per
 * file). A suite is many processes, so many files. */

typedef struct rp_sframe {
  uint32_t function, file; /* suite string ids (0: unknown) */
  int32_t line;
} rp_sframe_t;

typedef struct rp_site {
  int64_t bytes, objects;
  rp_sframe_t *frames;
  size_t nframes;
} rp_site_t;

#define RP_UNKNOWN INT64_MIN /* a figure the file did not give (null) */

typedef struct rp_testrec {
  uint32_t name, group, status, source; /* string ids; source: the file */
  int64_t pid;
  double wall_s, cpu_s;   /* < 0: unknown */
  int64_t allocs, alloc_bytes, peak_bytes, live_bytes, leaked_bytes, leaked_objects;
  int64_t max_peak;                     /* RP_UNKNOWN: no budget */
  double max_cpu;                       /* < 0: no budget */
  bool over_peak, over_cpu;
  rp_site_t *sites;                     /* over the peak budget: live at the peak */
  size_t nsites;
} rp_testrec_t;

typedef struct rp_leakrec {
  uint32_t test, group, kind, source;   /* string ids (test 0: the exit-time check) */
  int64_t bytes, objects;
  rp_sframe_t *frames;
  size_t nframes;
} rp_leakrec_t;

typedef struct rp_suite {
  rp_strtab_t st;
  rp_testrec_t *tests;
  size_t ntests, tests_cap;
  rp_leakrec_t *leaks;
  size_t nleaks, leaks_cap;
  size_t nfiles;
} rp_suite_t;

void rp_suite_init(rp_suite_t *s);
void rp_suite_free(rp_suite_t *s);
/* Whether a file's first bytes look like one of the runtime's JSON
 * documents (a '{' after blanks): profiles never start so. */
bool rp_is_json_doc(const unsigned char *d, size_t n);
/* Adds every document of a file (or of text in memory, for the fuzz
 * harness) to the suite. */
bool rp_read_suite(const char *path, rp_suite_t *s, rp_err_t *err);
bool rp_parse_suite(const char *text, size_t n, const char *path, rp_suite_t *s, rp_err_t *err);
/* "GROUP/NAME" (or NAME). */
void rp_suite_label(const rp_suite_t *s, const rp_testrec_t *t, char *buf, size_t size);

/* ---- granularity (nodes.c) ---------------------------------------------------- */

typedef struct rp_nodes {
  uint32_t *of_frame;  /* frame -> node */
  uint32_t n;
  uint32_t *label;     /* node -> view string id of its display name */
  uint32_t *name, *file; /* node -> view string ids (function name, file) */
  int32_t *line;       /* node -> line (lines, addresses) */
  uint64_t *address;   /* node -> address (addresses) */
  rp_gran_t gran;
} rp_nodes_t;

void rp_nodes_build(rp_view_t *v, rp_gran_t gran, rp_nodes_t *out);
void rp_nodes_free(rp_nodes_t *n);

/* ---- output (out_*.c) ------------------------------------------------------------ */

typedef enum rp_output {
  RP_OUT_TOP, RP_OUT_TRACES, RP_OUT_FOLDED, RP_OUT_SVG, RP_OUT_CALLGRIND, RP_OUT_PROTO,
  RP_OUT_LIST, RP_OUT_TESTS, RP_OUT_HTML
} rp_output_t;

typedef struct rp_opts {
  rp_output_t output;
  bool output_set;
  rp_gran_t gran;
  bool cum;
  long nodecount;          /* 0 = all */
  bool nodecount_set;      /* given on the command line */
  bool raw_units;          /* --unit=raw: exact integers */
  bool tests;              /* --tests: split by test */
  const char *list_re;
  const char *title;       /* --title for the SVG */
  const char *out_path;    /* -o, NULL = stdout */
  const char **inputs;     /* the profiles, for headers */
  size_t ninputs;
  const char *base_path;
} rp_opts_t;

/* Number formatting without printf (out_text.c): returns the length. */
size_t rp_fmt_int(char *buf, int64_t x);
size_t rp_fmt_fixed2(char *buf, double x, bool trim);
/* Value formatting for text output: into buf, in the view's unit. */
void rp_format_value(const rp_view_t *v, int64_t x, bool raw, char *buf, size_t size);
void rp_format_percent(int64_t part, int64_t total, char *buf, size_t size);

/* "File: ...", "Base: ...", "Type: ...", "Test: ..." lines of text outputs. */
void rp_write_header(FILE *f, rp_view_t *v, const rp_opts_t *o);
/* flat and cum per node (arrays of nd->n), over the stacks writers see. */
void rp_node_values(rp_view_t *v, const rp_nodes_t *nd, int64_t *flat, int64_t *cum);

/* The tests of a view: (test, group) pairs with their totals, sorted by
 * value, the samples outside tests (test 0) last. */
typedef struct rp_test {
  uint32_t test, group; /* view string ids */
  int64_t value;
  size_t stacks;
} rp_test_t;
size_t rp_tests_collect(rp_view_t *v, rp_test_t **out);
/* The tests that ran (a side file names them) but have no stack in the
 * view: too short to be sampled. */
size_t rp_tests_unsampled(rp_view_t *v, rp_test_t **out);
/* Why a test has no sample, for people: "too short to be sampled (one
 * sample every 10 ms of CPU)", "no allocation recorded". */
void rp_unsampled_reason(const rp_view_t *v, char *buf, size_t size);
/* "GROUP/NAME", "NAME" or "(outside tests)". */
void rp_test_label(const rp_view_t *v, uint32_t test, uint32_t group, char *buf, size_t size);

/* The stacks writers see (nonzero), sorted root first at a granularity:
 * by node IDs (fast) or by node labels (readable output); with by_test the
 * test first, stacks outside tests last. Stacks equal at the granularity
 * end up adjacent. */
uint32_t *rp_sort_stacks(rp_view_t *v, const rp_nodes_t *nd, bool by_test, bool by_label,
                         uint32_t *count);
/* How many leading levels (the test, with by_test, then frames from the
 * root) stacks s and t share. */
uint32_t rp_common_levels(const rp_view_t *v, const rp_nodes_t *nd, bool by_test, uint32_t s,
                          uint32_t t);

/* Each writer returns false only on a write error (errno set). */
bool rp_write_top(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_traces(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_tests(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_folded(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_svg(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_callgrind(FILE *f, rp_view_t *v, const rp_opts_t *o);
bool rp_write_proto(FILE *f, rp_view_t *v, const rp_opts_t *o, rp_err_t *err);
bool rp_write_list(FILE *f, rp_view_t *v, const rp_opts_t *o, rp_err_t *err);

/* Per-test statistics (out_tests.c): the slowest and the hungriest tests
 * of a suite (`--tests` over statistics files). */
bool rp_write_test_table(FILE *f, const rp_suite_t *s, const rp_opts_t *o);

/* One self-contained HTML page (out_html.c): the suite's tests, leaks,
 * over-budget tests and, per profile, a flame graph per test. views: the
 * profiles given, each on its own (a CPU and a heap profile do not add). */
bool rp_write_html(FILE *f, const rp_suite_t *s, rp_view_t *const *views, size_t nviews,
                   const rp_opts_t *o);

/* Entry point of `heapscope report` (report.c). */
int rp_main(int argc, char **argv);
/* Called first with the whole command line: may re-execute the program with
 * glibc malloc tunables for big batch work (report.c). */
void rp_tune_allocator(char **argv);

/* ---- inline definitions -------------------------------------------------------------- */

#include <string.h>
static inline uint32_t rp_str(rp_strtab_t *t, const char *s) {
  return s ? rp_str_n(t, s, strlen(s)) : 0;
}

#endif
