/* The CPU profiler's own shared state, private to core/profile/cpuprof*.c.
 *
 * SYNCHRONIZATION
 *   control   (cpuprof.c) one start, stop or flush at a time. Normal code
 *             waits for it; code in a signal handler (CPUPROFILESIGNAL, a
 *             fatal signal) only tries, and gives up when it is taken.
 *   reg_lock  (cpuprof_sampler.c) thread registration and slot reuse;
 *             tried, never waited for, from a signal handler.
 *   grow_flag (cpuprof_file.c) extends the live file. Taken with one
 *             compare-and-swap, never waited for by a signal handler: a
 *             handler that cannot take it counts its sample lost.
 *   Slots: a slot's sample buffer fields are written only by the handler
 *   running on that slot's thread (signals of one kind do not nest), and
 *   read by the writers after stop() has waited for in_handler == 0.
 *
 * The signal handler takes no lock, allocates nothing and makes no system
 * call while it walks the stack; the only system calls it ever makes are
 * fallocate/pwrite when its thread needs a new chunk of the file (once per
 * 32 KiB of samples), and the file's mmap at its first growth (a lone
 * thread's first sample). */
#ifndef HEAPSCOPE_CORE_PROFILE_CPUPROF_INTERNAL_H
#define HEAPSCOPE_CORE_PROFILE_CPUPROF_INTERNAL_H

#include "core/profile/cpuprof.h"

#include "core/module/module.h"
#include "core/profile/heapprof.h"

#include <signal.h>
#include <time.h>

#define CP_MAX_DEPTH 254      /* frames per sample (gperftools' kMaxStackDepth) */
#define CP_CHUNK_WORDS 4096   /* one thread's run of records in the file: 32 KiB (readers cap a record at 4096 frames: a filler stays under) */
#define CP_FIRST_CHUNK_WORDS 1024 /* a thread's first run, given at registration */
#define CP_MAX_SLOTS 4096     /* threads sampled at once */
#define CP_CACHE 64           /* a thread's recent stacks, counted in place */
#define CP_HEADER_WORDS 5

/* Words in the live file that are not samples (see cpuprof_file.c). A
 * filler's first pc and a marker's pc are addresses no user code has: both
 * readers see count-0 records there. */
#define CP_FILLER_PC 1ull
#define CP_MARK_BASE 0xfffffe0000000000ull /* | test id: "records below are this test's" */
#define CP_MARK_MASK 0xffffff0000000000ull

enum { CP_OFF, CP_RUNNING, CP_STOPPING };
enum { CP_SLOT_FREE, CP_SLOT_CLAIMED, CP_SLOT_ARMED, CP_SLOT_DEAD };

typedef struct cp_cache_entry {
  uint64_t hash;
  uint32_t pos, depth; /* the record at chunk + pos */
} cp_cache_entry_t;

/* One sampled thread. */
typedef struct cp_slot {
  _Atomic int state;       /* CP_SLOT_*; ARMED: the timer exists */
  _Atomic int in_handler;  /* the handler is using this slot now */
  _Atomic int timer_id;    /* the kernel's timer id, for si_timerid */
  uint32_t gen;            /* the session it was armed for */
  int tid;
  uintptr_t start_fn;      /* its start routine when known (our pthread_create), else 0 */
  /* The thread's stack, [lo, hi): from pthread_getattr_np for threads we
   * start, else learned by the handler at the first sample (0, 0 until). */
  uintptr_t stack_lo, stack_hi;
  uint64_t rand;           /* first expiry */
  /* What this thread's timer should have delivered: periods of its CPU
   * clock since cpu0 (when the timer started), the first at first_ns. */
  uint64_t cpu0_ns, first_ns;
  _Atomic uint64_t delivered; /* periods the handler saw (kept, lost or filtered) */
  uint64_t *last_rec;      /* the record its last sample went to (handler) */
  /* Periods a test boundary credited (hs__cp_settle_test, on this thread,
   * the signal blocked) that the timer has not delivered yet: taken off
   * the next deliveries' weights. */
  uint64_t ahead;
  bool settle_at_stop;     /* armed until stop: settle it then */
  /* ---- written only by this thread's handler ---- */
  uint64_t *chunk;         /* current run of records in the file, or NULL */
  uint32_t chunk_words;    /* its size */
  uint32_t pos;            /* next free word of chunk */
  uint32_t stream_test;    /* test the records after the last marker belong to */
  uint64_t samples, weight, lost;
  cp_cache_entry_t cache[CP_CACHE];
} __attribute__((aligned(64))) cp_slot_t;

/* An address range that was a stack (or could hold one) at start. */
typedef struct cp_range {
  uintptr_t lo, hi;
  bool main_stack;
} cp_range_t;

/* The one profile being collected (gperftools has one per process too). */
typedef struct cp_session {
  _Atomic int state;          /* CP_OFF / CP_RUNNING / CP_STOPPING */
  _Atomic uint32_t gen;       /* bumped by every start */
  /* ---- configuration, fixed while running ---- */
  int signo;
  bool realtime;
  bool proto;
  uint32_t period_us;         /* the header's period: 1e6 / frequency */
  int (*filter)(void *);      /* ProfilerOptions.filter_in_thread */
  void *filter_arg;
  const char *name;           /* as given (ProfilerGetCurrentState): in path */
  time_t start_time;
  uint64_t start_ns;
  /* ---- the live file (cpuprof_file.c) ---- */
  int fd;
  bool file_backed;           /* the samples go to the file (MAP_SHARED): survive SIGKILL */
  bool unmapped;              /* the file holds the empty profile, not mapped yet (grow_flag) */
  uint64_t *base;             /* the file, mapped (a reservation beyond its end) */
  size_t reserved;            /* bytes reserved at base */
  size_t tail;                /* word index of the trailer (grow_flag) */
  size_t maps_in_file;        /* bytes of maps text after the trailer */
  size_t file_bytes;          /* the file's size */
  _Atomic int grow_flag;
  _Atomic int file_error;     /* errno of a failed extension (first one) */
  /* ---- stacks of the threads found at start (cpuprof_sampler.c) ---- */
  cp_range_t *stacks;
  size_t nstacks, stacks_bytes;
  uintptr_t main_stack_hi;
  _Atomic uint64_t lost;      /* samples lost outside any slot */
  _Atomic uint64_t unknown;   /* profiling signals that were not ours */
  /* Absolute: what is written. The only array, and last: a start writes
   * the fields above and the path's first bytes, one page of the session
   * where two arrays in the middle made it three (page faults cost ~24 us
   * each on this VM). */
  char path[4096];
} cp_session_t;

extern cp_session_t hs__cp;
extern cp_slot_t hs__cp_slots[CP_MAX_SLOTS];
extern _Atomic uint32_t hs__cp_nslots;       /* slots ever used (scan bound) */
extern _Atomic uint32_t hs__cp_current_test; /* 0: no test runs */

/* ---- small async-signal-safe helpers (cpuprof_file.c) ---- */
/* One heapscope: line built without allocating (hs__errorf is that). */
const char *hs__cp_strerror(int err);
void *hs__cp_map(size_t bytes);          /* raw anonymous mmap, NULL on failure */
void hs__cp_unmap(void *p, size_t bytes);
int hs__cp_gettid(void);

/* ---- the maps text (cpuprof_file.c): every executable mapping ever seen,
 * as /proc/self/maps lines, in the order first seen. Only grows, so a
 * library that was dlclose'd keeps its line. */
typedef struct cp_maps {
  size_t len;                 /* bytes of text */
  size_t map_bytes;           /* size of this mapping */
  struct cp_maps *retired;    /* the snapshot this one replaced */
  hs_range_t *ranges;         /* the lines' address ranges, sorted */
  size_t nranges;
  char text[];                /* "\n" then one line per mapping */
} cp_maps_t;
/* Adds lines for mappings that appeared since the last call. Async-signal
 * safe (reads /proc/self/maps with raw calls); in a signal handler it
 * gives up when another thread is refreshing. */
void hs__cp_maps_refresh(bool in_signal);
/* The same, also handing every line of /proc/self/maps (NUL-terminated) to
 * also(): one read serves several readers. true when the whole file was
 * read (false: unreadable, or another thread was reading in a handler). */
bool hs__cp_maps_refresh_with(bool in_signal, void (*also)(const char *line, void *ctx),
                              void *ctx);
/* A start that does not read the maps: the first sample's handler does
 * (with the stacks snapshot), or the stop when something was recorded; a
 * process that exits before its first sample never reads them. */
void hs__cp_maps_defer(bool in_signal);
/* A test boundary on the calling thread (the test's): the periods its
 * timer owes up to now go to `test`, the test that ends (0: none), not to
 * whatever sample comes next. */
void hs__cp_settle_test(uint32_t test);
const cp_maps_t *hs__cp_maps_current(void);
/* Outside signal handlers: true when /proc/self/maps may hold executable
 * lines the snapshot lacks (the loader's counters moved since the last
 * read, or the handler sampled code outside every line). */
bool hs__cp_maps_stale(void);
/* Snapshots that were replaced; freed when no handler can read them. */
void hs__cp_maps_free_retired(void);
/* The handler sampled pc: when no mapping line covers it (code loaded
 * since the last refresh), refresh and append the new lines to the file,
 * at most every 200 ms. Async-signal-safe. */
void hs__cp_maps_note_pc(uintptr_t pc);

/* ---- the live file (cpuprof_file.c) ---- */
/* Creates the file (or, for a path that is not a regular file, a buffer in
 * memory) and writes an empty, valid profile to it; the file is mapped by
 * its first growth (a sample's first chunk). Async-signal-safe. false with
 * *err set. */
bool hs__cp_file_open(int *err);
/* Writes maps lines added since the file last got them. */
void hs__cp_file_sync_maps(bool in_signal);
/* The same, handing every line read to also() (hs__cp_maps_refresh_with);
 * its result. */
bool hs__cp_file_sync_maps_with(bool in_signal, void (*also)(const char *line, void *ctx),
                                void *ctx);
/* Some record (sample, marker, filler) is in the live file. */
bool hs__cp_file_has_records(void);
/* The handler's sample: weight w (periods) with pcs[0..n) for test. false:
 * lost (no room). */
bool hs__cp_append(cp_slot_t *s, const uintptr_t *pcs, uint32_t n, uint64_t hash, uint64_t w,
                   uint32_t test);
/* First chunks for newly registered slots (before their timers start),
 * in one growth of the file. Async-signal-safe. */
bool hs__cp_file_first_chunks(cp_slot_t *const *slots, size_t n);
/* The live file holds no record (no chunk was ever given): with its maps
 * complete it is byte for byte the compact profile. */
bool hs__cp_file_is_compact(void);
/* Unmaps and closes the live file (not while a handler may still write). */
void hs__cp_file_close(bool unmap);
/* In a forked child: forget the parent's file (its mapping and descriptor
 * go; the file itself is the parent's). */
void hs__cp_file_postfork_child(void);

/* ---- aggregation and output (cpuprof_file.c) ---- */
typedef struct cp_entry {
  uint64_t hash, count;
  uint64_t off;               /* word index of the first pc in the live file */
  uint32_t depth, test;
} cp_entry_t;
typedef struct cp_table {
  cp_entry_t *e;
  uint32_t *index;            /* open addressing: entry + 1 */
  size_t n, cap, bytes;
  bool by_test;               /* key includes the test */
} cp_table_t;
typedef struct cp_agg {
  cp_table_t by_stack;        /* the main profile */
  cp_table_t by_test;         /* (test, stack): PATH.tests and proto labels */
  uint64_t samples, weight;
  bool tests;                 /* some sample ran in a test */
} cp_agg_t;
/* Sums the live file's records. Async-signal-safe (raw mmap scratch). */
bool hs__cp_aggregate(cp_agg_t *a);
void hs__cp_agg_free(cp_agg_t *a);
/* Write PATH (legacy binary) and PATH.tests. Async-signal-safe; each file
 * is written beside and renamed over, so a reader never sees half of one. */
bool hs__cp_write_legacy(const cp_agg_t *a, const char *path, int *err);
bool hs__cp_write_tests(const cp_agg_t *a, const char *path, int *err);
/* PATH (legacy binary) with the samples of one test only. */
bool hs__cp_write_legacy_test(const cp_agg_t *a, uint32_t test, const char *path, int *err);
/* PATH as self-symbolized profile.proto. Not async-signal-safe. */
bool hs__cp_write_proto(const cp_agg_t *a, const char *path, int *err);

/* ---- tests seen (cpuprof_file.c) ---- */
uint32_t hs__cp_test_id(const char *group, const char *name); /* 0 on failure */
bool hs__cp_test_names(uint32_t id, const char **group, const char **name);

/* libc's sigaction under its other exported name: the runtime's own calls
 * must not go through the sigaction interposer (cpuprof.c). */
int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* ---- the sampler (cpuprof_sampler.c) ---- */
/* Our handler on signo, keeping what was there to emulate it for signals
 * that are not ours. false when the program handles signo itself. */
bool hs__cp_install_handler(int signo);
/* Another handler of ours (fatal signals, CPUPROFILESIGNAL) on signo, when
 * its disposition is the default (or also ignored, unless only_default).
 * The program keeps seeing its own disposition. */
bool hs__cp_take_signal(int signo, void (*fn)(int, siginfo_t *, void *), bool only_default);
/* hs__cp_take_signal(sig, fn, true) for each of sigs[0..n), when the
 * caller is the process's only thread: one system call a signal. */
void hs__cp_take_default_signals_alone(const int *sigs, size_t n,
                                       void (*fn)(int, siginfo_t *, void *));
/* The disposition the program would see (what it set, or had before us). */
void hs__cp_program_action(int signo, struct sigaction *out);
/* The program installs its own action on signo: we step aside. */
void hs__cp_forget_handler(int signo, const struct sigaction *act);
bool hs__cp_owns_signal(int signo);
/* The stacks of existing threads: a line of /proc/self/maps at a time
 * (pass it as also() to hs__cp_maps_refresh_with). Async-signal-safe. */
void hs__cp_snapshot_begin(void);
/* Takes the snapshot now if no handler has yet (a handler: the first
 * sample of a thread that existed at start). Async-signal-safe; false when
 * another thread is reading the maps. */
bool hs__cp_snapshot_take(void);
void hs__cp_snapshot_line(const char *line, void *ctx);
void hs__cp_free_stacks(void);
/* Timers for every thread of the process (/proc/self/task). Returns the
 * number armed (-1: reg_lock busy in a signal handler); *threads: how many
 * threads the process had. Async-signal-safe; in_signal: never waits for
 * reg_lock. */
int hs__cp_arm_all(bool in_signal, int *threads);
/* Deletes every timer of the session (async-signal-safe). */
void hs__cp_disarm_all(void);
/* Periods each thread's timer owed but never delivered (the kernel checks
 * CPU-clock timers at a tick that finds the thread running: a thread that
 * stops running before the next one keeps its last expiries), added to its
 * last sample (or, for a thread never sampled, to a record of its start
 * routine). At stop for the threads still alive; a thread started by our
 * pthread_create settles its own at exit. */
void hs__cp_settle_all(void);
/* Waits until no handler uses a slot; false after timeout_ns. */
bool hs__cp_drain(uint64_t timeout_ns);
/* Forgets every slot (start, child after fork). */
bool hs__cp_reset_slots(bool in_signal);
/* The calling thread: registered if not yet (ProfilerRegisterThread). */
void hs__cp_register_self(void);
/* Totals over the slots. */
void hs__cp_counts(uint64_t *samples, uint64_t *weight, uint64_t *lost);
uint64_t hs__cp_unregistered(void);    /* threads over CP_MAX_SLOTS */
void hs__cp_sampler_init(void);         /* resolves pthread_create etc. */
void hs__cp_sampler_postfork_child(void);

/* ---- lifecycle (cpuprof.c) ---- */
/* The program takes over signo (sigaction interposer). */
void hs__cp_program_takes_signal(int signo);

#endif
