/* The heap profiler (core/profile/): gperftools' HEAPPROFILE and its API
 * (heapprof.c), profile.proto output (heapprof_proto.c, also the CPU
 * profiler's) and mmap region profiling (mmap_profile.c). Reads the records
 * and buckets of core/record/ and core/stack/; nothing below calls into it.
 * The CPU profiler's interface is cpuprof.h. */
#ifndef HEAPSCOPE_CORE_PROFILE_HEAPPROF_H
#define HEAPSCOPE_CORE_PROFILE_HEAPPROF_H

#include "core/record/record.h"

/* ---- heapprof.c ---- */
/* Starts the profiler when HEAPPROFILE is set (runtime constructor). */
void hs__heapprof_init(void);
bool hs__heapprof_running(void);
/* Allocation and free volume for the interval triggers (the recorder's
 * listener; mmap regions count here too). */
void hs__heapprof_on_event(size_t bytes, bool alloc);
/* For the fork handlers (core/api/runtime.c): the control lock
 * (HeapProfilerStart/Stop), the dump lock, the mmap region table's lock;
 * and the child's fix-ups (dumps named PREFIX_PID.NNNN.heap from 1). */
extern hs_lock_t *const hs__heapprof_control_lock, *const hs__heapprof_dump_lock,
    *const hs__mmap_region_lock;
void hs__heapprof_postfork_child(void);

/* Per-test labels (the CMocka adapter): a test named (group, name) begins;
 * its blocks are those born from generation gen on. name NULL: it ended.
 * Nothing happens unless the profiler runs and counts buckets. */
void hs__heapprof_set_test(const char *group, const char *name, uint32_t gen);

/* HEAPSCOPE_TEST_PROFILE_DIR: per-test counts wanted without HEAPPROFILE
 * (bucket counters on from now). */
void hs__heapprof_per_test(void);
/* The running test's own heap profile (its blocks only: in use now, and
 * all it allocated) to path, legacy text: 1 written, 0 no test runs, -1
 * with errno on failure (nothing left behind). */
int hs__heapprof_write_test(const char *path);

/* One test's share of one bucket in a dump: inuse objects, inuse bytes,
 * alloc objects, alloc bytes, scaled as the bucket's. */
typedef struct hs_heap_test_sample {
  uint32_t test, bucket; /* test: hs__test_buckets_names' id */
  int64_t c[4];
} hs_heap_test_sample_t;
/* Takes a test's counts c out of what is left of its bucket's (left, the
 * same order), never more: counters read while other threads allocate can
 * disagree by a few events, and a test must not show more than its stack.
 * False when nothing is left to show. */
static inline bool hs__heap_test_take(int64_t left[4], int64_t c[4]) {
  for (int i = 0; i < 4; i++) {
    if (c[i] > left[i]) c[i] = left[i];
    if (c[i] < 0) c[i] = 0;
  }
  if (c[0] == 0) c[1] = 0;
  if (c[2] == 0) c[3] = 0;
  for (int i = 0; i < 4; i++) left[i] -= c[i];
  return c[2] > 0;
}

/* ---- heapprof_proto.c: self-symbolized profile.proto ---- */
/* Bucket counts as inuse objects, inuse bytes, alloc objects, alloc bytes. */
typedef void (*hs_prof_counts_fn)(const hs_bucket_t *b, int64_t out[4]);
bool hs__heapprof_proto_gzip(void);  /* zlib loadable: .pb.gz, else .pb */
/* tests: the per-test split (n of them, grouped by test), each sample
 * labelled `test` and `group` and taken out of its bucket's; NULL: none. */
bool hs__heapprof_write_proto(int fd, hs_prof_counts_fn counts, const char *comment,
                              const hs_heap_test_sample_t *tests, size_t ntests);

/* The builder both profilers write with (the CPU profiler's samples, the
 * heap profiler's buckets). Everything runs inside hs__runtime_enter: the
 * symbolizer and zlib allocate. */
typedef struct hs_proto hs_proto_t;
typedef struct hs_proto_spec {
  const char *types[4][2];   /* sample types: (type, unit), at most 4 */
  int ntypes;
  const char *period_type[2];
  int64_t period;
  const char *default_type;  /* NULL: unset (readers take the last type) */
  const char *comment;       /* NULL: none */
  int64_t time_nanos;        /* 0: now */
  int64_t duration_nanos;    /* 0: unset */
} hs_proto_spec_t;
/* A label: string (str) or numeric (num with num_unit). */
typedef struct hs_proto_label {
  const char *key, *str;
  int64_t num;
  const char *num_unit;
} hs_proto_label_t;
hs_proto_t *hs__proto_begin(const hs_proto_spec_t *spec); /* NULL: out of memory */
/* One sample: pcs leaf first, captured at module epoch; values has ntypes
 * entries. leaf_exact: pcs[0] is the very pc a CPU sample interrupted,
 * not a return address (the others always are). */
void hs__proto_sample(hs_proto_t *p, const uintptr_t *pcs, int depth, uint32_t epoch,
                      bool leaf_exact, const int64_t *values, const hs_proto_label_t *labels,
                      int nlabels);
/* A test that ran with no sample in the profile: one sample with every
 * value zero, no location, and the test's `test` and `group` labels, so
 * profile.proto names it (totals unchanged; readers that drop zero samples
 * lose nothing). */
void hs__proto_unsampled_test(hs_proto_t *p, const char *group, const char *name);
/* Writes the profile to fd (gzipped when zlib is loaded) and frees p. */
bool hs__proto_finish(hs_proto_t *p, int fd);
void hs__proto_discard(hs_proto_t *p);
/* ---- heapprof_signal.c ---- */
/* HEAPPROFILESIGNAL: the handler and the thread that dumps (at start-up),
 * and the child's own after fork. */
void hs__heapprof_signal_init(void);
void hs__heapprof_signal_postfork_child(void);

/* ---- mmap_profile.c ---- */
/* HEAP_PROFILE_MMAP and HEAP_PROFILE_MMAP_LOG: set by the profiler when it
 * starts. */
extern bool hs__mmap_profiling;
extern bool hs__mmap_log;
/* Keeps mmap_profile.c (the exported mmap hooks) in static links. */
void hs__mmap_profile_anchor(void);

#endif
