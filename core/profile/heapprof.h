/* The heap profiler (core/profile/): gperftools' HEAPPROFILE and its API
 * (heapprof.c), profile.proto output (heapprof_proto.c) and mmap region
 * profiling (mmap_profile.c). Reads the records and buckets of
 * core/record/ and core/stack/; nothing below calls into it. */
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
/* Fork: the dump lock is taken before the allocator's locks. */
void hs__heapprof_prefork(void);
void hs__heapprof_postfork(bool child);

/* ---- heapprof_proto.c ---- */
/* Bucket counts as inuse objects, inuse bytes, alloc objects, alloc bytes. */
typedef void (*hs_prof_counts_fn)(const hs_bucket_t *b, int64_t out[4]);
bool hs__heapprof_proto_gzip(void);  /* zlib loadable: .pb.gz, else .pb */
bool hs__heapprof_write_proto(int fd, hs_prof_counts_fn counts, const char *comment);

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
